"""Synthesis: prompts, the model's answers, and the repair loop for one function."""
