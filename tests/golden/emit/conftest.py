# The golden test files import modules that exist only as golden text; they are compared
# byte-for-byte by tests/test_emit.py, never collected as tests themselves.
collect_ignore_glob = ["*/*.py"]
