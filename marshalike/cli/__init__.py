"""The command line: one thin module per command, loaded only when it is run."""
