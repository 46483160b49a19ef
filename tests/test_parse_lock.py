"""`ast.parse` in many threads at once, as the compiler parses: never a SystemError."""

from __future__ import annotations

import ast
import subprocess
import sys

import marshalike  # noqa: F401  (installs the lock)

# Threads that parse a large module while the collector runs finalizers between them: in
# CPython 3.11 an unlocked `ast.parse` raises "AST constructor recursion depth mismatch" in
# about half of these runs (a race: not in every one); with the lock, in none.
RACE = """\
import ast, sys, threading, time
import marshalike

SOURCE = "def f(x):\\n" + "".join(
    f"    y{i} = [{{'a': (x, [1, 2, {{3: (4, 5)}}])}} for _ in range(3)]\\n" for i in range(300)
)
errors = []


class Junk:
    def __del__(self):
        time.sleep(0)


def work():
    for _ in range(100):
        try:
            for _ in range(30):
                a, b = Junk(), Junk()
                a.b, b.a = b, a
            ast.parse(SOURCE)
        except SystemError as exc:
            errors.append(str(exc))
            return


sys.setswitchinterval(1e-6)
import gc
gc.set_threshold(100, 2, 2)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), errors[:1])
"""


def test_parsing_in_many_threads_at_once_never_raises() -> None:
    done = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "0", done.stdout


def test_the_locked_parse_is_the_same_parse() -> None:
    assert getattr(ast.parse, "__wrapped_by_marshalike__", False)
    text = "def f(x: int = 1) -> int:\n    return {'a': [x, (1, 2)]}['a'][0]\n"
    assert ast.dump(ast.parse(text)) == ast.dump(
        compile(text, "<unknown>", "exec", ast.PyCF_ONLY_AST)
    )
    assert ast.literal_eval("{'a': (1, 2.5, None)}") == {"a": (1, 2.5, None)}
