"""Running untrusted code in isolation, and the verdict channel that judges it."""
