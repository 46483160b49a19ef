"""Building specs: the plan, the lock, compiling, checking, watching and reporting."""
