"""Judging code that already passes its examples: the probe gate and its oracles."""
