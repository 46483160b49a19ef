"""Attack candidates for tests/test_attacks.py: module sources a hostile or
reward-hacking model could answer, one module per attack class.

Every candidate is wrong for the user (it does not compute what the spec asks, or it
computes it only while it senses a test) and tries to be accepted anyway, or to leave a
trace outside its run: a secret of the compiler's environment, a file changed outside the
output folder, a process, a connection. Placeholders, filled in per test:

- `@PROJECT@`: the absolute path of the spec's folder (a model can guess or read it);
- `@SENTINEL@`: a folder outside the output folder that no candidate may change;
- `@TOKEN@`: this run's tag, carried by every file and process a candidate leaves behind;
- `@TAG@`: the process name (`comm`, 15 bytes) forked children take;
- `@PORT@`: a TCP port on 127.0.0.1 the test listens on.
"""

from attacks import (
    channel,
    disguised,
    escape,
    expected,
    harness,
    import_time,
    patched,
    sniff,
    values,
)
from attacks.specs import FUNCTIONS, RIGHT, SPECS, Attack

ATTACKS = (
    values.ATTACKS
    + patched.ATTACKS
    + disguised.ATTACKS
    + channel.ATTACKS
    + expected.ATTACKS
    + sniff.ATTACKS
    + import_time.ATTACKS
    + escape.ATTACKS
    + harness.ATTACKS
)
__all__ = ["ATTACKS", "FUNCTIONS", "RIGHT", "SPECS", "Attack"]
