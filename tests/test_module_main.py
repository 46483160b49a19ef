"""The generated module's own CLI, driven as a user would: `python -m shop ...` in a
subprocess, and `--serve` over real HTTP on 127.0.0.1.

The function bodies below are a hand-written TEST DOUBLE standing in for verified model
output; no model wrote them. The module around them is what emit and the main block make.
"""

from __future__ import annotations

import contextlib
import json
import re
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from marshalike.codegen.emit import module_source, spec_hash
from marshalike.codegen.module_main import (
    SUPPORT_FILE,
    append_main,
    main_block,
    name_clash,
    support_source,
)
from marshalike.language.parse import parse
from marshalike.language.spec import Module

SPEC = """\
# type Person
name, age
Alice, 31
Bob, 27

# func sort_by_age(list of Person): list of Person

Return the people sorted by age, youngest first.

* sort_by_age([]) = []

# func oldest(list of Person): optional Person

The oldest person, or None for an empty list.

* oldest([]) = None

# func greet(name: string, punctuation: string = "!"): string

Greets someone by name.

* greet('Bob') = 'Hello, Bob!'

# func divide(a: integer, b: integer): float

* divide(1, 2) = 0.5
* divide(1, 0) = raises ZeroDivisionError

# func letters(text: string): set of strings

The distinct letters of the text.

* letters('aba') = {'a', 'b'}

# func handle(name: string): object

A handle that JSON cannot hold.

* handle('x') = 'x'
"""

# TEST DOUBLE: hand-written bodies in place of model output.
BODIES = {
    "sort_by_age": '''\
def sort_by_age(person_list: list[Person]) -> list[Person]:
    """Return the people sorted by age, youngest first."""
    return sorted(person_list, key=lambda person: person.age)
''',
    "oldest": '''\
def oldest(person_list: list[Person]) -> Person | None:
    """The oldest person, or None for an empty list."""
    return max(person_list, key=lambda person: person.age, default=None)
''',
    "greet": '''\
def greet(name: str, punctuation: str = "!") -> str:
    """Greets someone by name.

    More prose that --help leaves out.
    """
    return f"Hello, {name}{punctuation}"
''',
    "divide": """\
def divide(a: int, b: int) -> float:
    return a / b
""",
    "letters": '''\
def letters(text: str) -> set[str]:
    """The distinct letters of the text."""
    return set(text)
''',
    "handle": '''\
def handle(name: str) -> object:
    """A handle that JSON cannot hold."""
    return object()
''',
}

HELP = """\
usage: python -m shop [--text] FUNC [ARG ...]
       python -m shop --serve PORT

Calls FUNC with the ARGs and prints its result as JSON. Each ARG is JSON (a
string needs its quotes) or, with --text, plain text; an ARG of - is read
from stdin. A JSON object given where a dataclass of the module is expected
becomes that dataclass; dataclass results print as objects.

functions:
  sort_by_age(person_list: list[Person]) -> list[Person]
      Return the people sorted by age, youngest first.
  oldest(person_list: list[Person]) -> Person | None
      The oldest person, or None for an empty list.
  greet(name: str, punctuation: str = '!') -> str
      Greets someone by name.
  divide(a: int, b: int) -> float
  letters(text: str) -> set[str]
      The distinct letters of the text.
  handle(name: str) -> object
      A handle that JSON cannot hold.

options:
  --text        take every ARG as text, not JSON
  --serve PORT  serve http://127.0.0.1:PORT, where POST /FUNC with a JSON array
                of arguments returns the result as JSON (PORT 0: any free port)
  -h, --help    show this message and exit

exit status: 0 done, 1 the function raised, 2 bad usage or input
"""

PEOPLE = '[{"name": "Alice", "age": 31}, {"name": "Bob", "age": 27}]'


def _module(text: str = SPEC) -> Module:
    result = parse(text, "shop.mrsh")
    assert result.module is not None, result.diagnostics
    return result.module


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    module = _module()
    source = module_source(module, BODIES, spec_name="shop.mrsh", spec_hash=spec_hash(SPEC))
    (folder / "shop.py").write_text(append_main(source, module), encoding="utf-8")
    (folder / SUPPORT_FILE).write_text(support_source(), encoding="utf-8")
    return folder


def run(
    folder: Path, *args: str, stdin: str = "", name: str = "shop"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", name, *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_help_lists_functions_with_signatures_and_first_doc_line(shop: Path) -> None:
    done = run(shop, "--help")
    assert (done.returncode, done.stdout, done.stderr) == (0, HELP, "")


@pytest.mark.parametrize(
    ("args", "stdout"),
    [
        (["sort_by_age", PEOPLE], '[{"name": "Bob", "age": 27}, {"name": "Alice", "age": 31}]'),
        (["oldest", PEOPLE], '{"name": "Alice", "age": 31}'),
        (["oldest", "[]"], "null"),
        (["greet", '"Ann"'], '"Hello, Ann!"'),
        (["greet", '"Ann"', '"?"'], '"Hello, Ann?"'),
        (["--text", "greet", "Ann", "."], '"Hello, Ann."'),
        (["divide", "7", "-2"], "-3.5"),
        (["letters", '"abca"'], '["a", "b", "c"]'),
        (["--", "greet", '"Zoë"'], '"Hello, Zoë!"'),
    ],
)
def test_calls_a_function_and_prints_json(shop: Path, args: list[str], stdout: str) -> None:
    done = run(shop, *args)
    assert (done.returncode, done.stdout, done.stderr) == (0, stdout + "\n", "")


def test_reads_one_argument_from_stdin(shop: Path) -> None:
    done = run(shop, "oldest", "-", stdin=PEOPLE)
    assert (done.returncode, done.stdout) == (0, '{"name": "Alice", "age": 31}\n')
    text = run(shop, "--text", "greet", "-", "!!", stdin="Bob\n")
    assert (text.returncode, text.stdout) == (0, '"Hello, Bob\\n!!"\n')


@pytest.mark.parametrize(
    ("args", "status", "stderr"),
    [
        (
            ["nope"],
            2,
            "unknown function 'nope'; functions: sort_by_age, oldest, greet, "
            "divide, letters, handle",
        ),
        (
            [],
            2,
            "no function given; functions: sort_by_age, oldest, greet, divide, letters, "
            "handle (see --help)",
        ),
        (["--verbose", "greet"], 2, "unknown option '--verbose' (see --help)"),
        (
            ["greet", "Ann"],
            2,
            "argument 1 is not JSON: Expecting value: line 1 column 1 "
            "(char 0); pass --text to give text",
        ),
        (["greet"], 2, "greet: missing a required argument: 'name'"),
        (["divide", "1", "2", "3"], 2, "divide: too many positional arguments"),
        (["oldest", '[{"name": "Al", "height": 2}]'], 2, "Person has no field 'height'"),
        (
            ["oldest", '[{"name": "Al"}]'],
            2,
            "Person.__init__() missing 1 required positional argument: 'age'",
        ),
        (["greet", "-", "-"], 2, "only one argument can be read from stdin ('-')"),
        (["--serve", "http"], 2, "--serve needs a port number from 0 to 65535, not 'http'"),
        (["--serve", "0", "greet"], 2, "--serve takes no --text, function or arguments"),
        (["divide", "1", "0"], 1, "divide raised ZeroDivisionError: division by zero"),
        (["oldest", "[1]"], 2, "oldest: argument 1 must be list[Person], not list"),
        (["divide", '"1"', "2"], 2, "divide: argument 1 must be int, not str"),
        (["greet", "null"], 2, "greet: argument 1 must be str, not null"),
        (["oldest", '[{"name": 1, "age": 2}]'], 2, "Person.name must be str"),
        (["handle", '"x"'], 1, "handle returned what JSON cannot hold: a value of type object"),
    ],
)
def test_errors_are_one_line_without_traceback(
    shop: Path, args: list[str], status: int, stderr: str
) -> None:
    done = run(shop, *args)
    assert (done.returncode, done.stdout, done.stderr) == (status, "", f"shop: error: {stderr}\n")


def test_bad_json_on_stdin_names_stdin(shop: Path) -> None:
    done = run(shop, "oldest", "-", stdin="[{")
    expected = (
        "shop: error: argument 1 (stdin) is not JSON: Expecting property name enclosed in "
        "double quotes: line 1 column 3 (char 2); pass --text to give text\n"
    )
    assert (done.returncode, done.stderr) == (2, expected)


def test_json_nested_too_deep_is_bad_input(shop: Path) -> None:
    done = run(shop, "oldest", "-", stdin="[" * 100_000)
    expected = (
        "shop: error: argument 1 (stdin) is not JSON: maximum recursion depth exceeded while "
        "decoding a JSON array from a unicode string; pass --text to give text\n"
    )
    assert (done.returncode, done.stderr) == (2, expected)


def test_runs_as_a_script_too(shop: Path) -> None:
    done = subprocess.run(
        [sys.executable, "shop.py", "greet", "Ann"],
        cwd=shop,
        capture_output=True,
        text=True,
        timeout=30,
    )
    expected = (
        "shop.py: error: argument 1 is not JSON: Expecting value: line 1 column 1 (char 0); "
        "pass --text to give text\n"
    )
    assert (done.returncode, done.stderr) == (2, expected)


def test_importing_the_module_runs_nothing_and_binds_nothing(shop: Path) -> None:
    probe = "import shop, sys; print([n for n in (*vars(shop), *sys.modules) if 'marshalike' in n])"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=shop, capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "[]\n", "")


def test_block_lists_only_the_spec_functions() -> None:
    block = main_block(_module())
    assert block.startswith('if __name__ == "__main__":\n    import _marshalike_main\n\n')
    assert "    _marshalike_main.main(\n        globals(),\n        {\n" in block
    assert '            "sort_by_age": ("list[Person]",),\n' in block
    assert '            "greet": ("str", "str"),\n' in block
    assert block.count(": (") == 6
    compile(block, "<main block>", "exec")


def test_a_short_block_is_four_lines() -> None:
    module = _module("# func add(a: integer, b: integer): integer\n\nAdds.\n\n* add(1, 2) = 3\n")
    assert main_block(module) == (
        'if __name__ == "__main__":\n'
        "    import _marshalike_main\n\n"
        '    _marshalike_main.main(globals(), {"add": ("int", "int")})\n'
    )


def test_a_module_without_functions_gets_no_block() -> None:
    module = _module("# type Person\nname, age\nAl, 3\n")
    assert main_block(module) == ""
    assert append_main("x = 1\n", module) == "x = 1\n"


def test_append_main_leaves_two_blank_lines(shop: Path) -> None:
    source = (shop / "shop.py").read_text(encoding="utf-8")
    assert '    raise NotImplementedError\n\n\nif __name__ == "__main__":\n' not in source
    assert '    return object()\n# fmt: on\n\n\nif __name__ == "__main__":\n' in source


# --serve: a real server on a free port, real HTTP requests.


@pytest.fixture(scope="module")
def server(shop: Path) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "shop", "--serve", "0"],
        cwd=shop,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A background job starts with SIGINT ignored, and the child would inherit that;
        # the test stops the server with SIGINT as a user's Ctrl-C does.
        preexec_fn=_default_sigint,
    )
    try:
        line = _first_line(proc)
        assert line.startswith("serving on http://127.0.0.1:"), line
        yield line.split()[2]
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "Traceback" not in stderr


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _first_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stderr, selectors.EVENT_READ)
        assert selector.select(timeout=30), "the server did not announce itself"
    return proc.stderr.readline()


def post(url: str, body: bytes) -> tuple[int, object]:
    request = urllib.request.Request(url, data=body, method="POST")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    ("path", "body", "status", "answer"),
    [
        (
            "/sort_by_age",
            f"[{PEOPLE}]",
            200,
            [{"name": "Bob", "age": 27}, {"name": "Alice", "age": 31}],
        ),
        ("/greet", '["Ann", "?"]', 200, "Hello, Ann?"),
        ("/oldest", "[[]]", 200, None),
        ("/nope", "[]", 404, {"error": "unknown function 'nope'"}),
        ("/greet", '"Ann"', 400, {"error": "request body must be a JSON array of arguments"}),
        (
            "/greet",
            "[",
            400,
            {"error": "request body is not JSON: Expecting value: line 1 column 2 (char 1)"},
        ),
        ("/greet", "[]", 400, {"error": "greet: missing a required argument: 'name'"}),
        ("/oldest", '[[{"age": 1, "x": 2}]]', 400, {"error": "Person has no field 'x'"}),
        ("/greet", '["Ann", "?", "!"]', 400, {"error": "greet: too many positional arguments"}),
        ("/greet", "[1]", 400, {"error": "greet: argument 1 must be str, not int"}),
        ("/divide", '[1, "2"]', 400, {"error": "divide: argument 2 must be int, not str"}),
        (
            "/divide",
            "[1, 0]",
            500,
            {
                "error": "divide raised ZeroDivisionError: division by zero",
                "type": "ZeroDivisionError",
                "message": "division by zero",
            },
        ),
        (
            "/handle",
            '["x"]',
            500,
            {"error": "handle returned what JSON cannot hold: a value of type object"},
        ),
    ],
)
def test_serve_answers_post(server: str, path: str, body: str, status: int, answer: object) -> None:
    assert post(server + path, body.encode()) == (status, answer)


def test_serve_answers_a_too_deep_body_with_400(server: str) -> None:
    error = "request body is not JSON: maximum recursion depth exceeded while decoding a JSON "
    error += "array from a unicode string"
    assert post(server + "/greet", b"[" * 100_000) == (400, {"error": error})


def test_serve_refuses_get(server: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(server + "/greet", timeout=30)
    assert caught.value.code == 405
    assert caught.value.headers["Allow"] == "POST"
    assert json.loads(caught.value.read()) == {"error": "use POST /FUNC"}


def test_serve_reports_a_taken_port(shop: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run(shop, "--serve", str(port))
    assert done.returncode == 1
    assert done.stderr == f"shop: error: cannot serve on 127.0.0.1:{port}: Address already in use\n"


# --serve under hostile or careless clients, and arguments shaped by the spec's types. The
# limits are lowered in the generated text so the tests take a second, not ten.

CLUB_SPEC = """\
# type Person
name, age
Alice, 31

# func eldest(list of Person): string

The name of the oldest person.

* eldest([Person('Alice', 31)]) = 'Alice'
"""

# TEST DOUBLE: a body with no annotations at all; the spec's types must still apply.
CLUB_BODIES = {
    "eldest": """\
def eldest(people):
    return max(people, key=lambda person: person.age).name
""",
}
LIMITS = {
    "\nBODY_TIMEOUT_S = 10\n": "\nBODY_TIMEOUT_S = 1\n",
    "\nMAX_CONNECTIONS = 32\n": "\nMAX_CONNECTIONS = 3\n",
}


@pytest.fixture(scope="module")
def club(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("club")
    module = _module(CLUB_SPEC)
    source = module_source(module, CLUB_BODIES, spec_name="club.mrsh", spec_hash="0")
    (folder / "club.py").write_text(append_main(source, module), encoding="utf-8")
    text = support_source()
    for old, new in LIMITS.items():
        assert old in text
        text = text.replace(old, new)
    (folder / SUPPORT_FILE).write_text(text, encoding="utf-8")
    return folder


@contextlib.contextmanager
def serving(folder: Path, name: str) -> Iterator[tuple[str, list[str]]]:
    """The server's URL, and its stderr lines once the block is left (filled on exit)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", name, "--serve", "0"],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    log: list[str] = []
    try:
        yield _first_line(proc).split()[2], log
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
        log.extend(stderr.splitlines())
    assert proc.returncode == 0
    assert "Traceback" not in stderr


@pytest.fixture
def club_server(club: Path) -> Iterator[str]:
    with serving(club, "club") as (url, _):
        yield url


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _raw(url: str, request: bytes) -> tuple[int, object]:
    with _connect(url) as conn:
        conn.sendall(request)
        return _response(conn)


def _response(conn: socket.socket) -> tuple[int, object]:
    data = b""
    while chunk := conn.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_json_objects_become_the_declared_dataclass_without_annotations(club: Path) -> None:
    people = '[{"name": "Ann", "age": 3}, {"name": "Bob", "age": 70}]'
    done = run(club, "eldest", people, name="club")
    assert (done.returncode, done.stdout, done.stderr) == (0, '"Bob"\n', "")


def test_serve_converts_by_the_spec_too(club_server: str) -> None:
    url = club_server
    body = b'[[{"name": "Ann", "age": 3}, {"name": "Bob", "age": 70}]]'
    assert post(url + "/eldest", body) == (200, "Bob")


def test_a_body_shorter_than_its_length_times_out_with_408(
    club_server: str,
) -> None:
    url = club_server
    request = b"POST /eldest HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[]"
    assert _raw(url, request) == (408, {"error": "request body did not arrive within 1 s"})


def test_a_body_over_the_limit_is_refused_with_413_unread(
    club_server: str,
) -> None:
    url = club_server
    request = b"POST /eldest HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n"
    assert _raw(url, request) == (413, {"error": "request body is over 1048576 bytes"})


def test_a_client_that_leaves_is_one_line_in_the_log(club: Path) -> None:
    with serving(club, "club") as (url, log):
        with _connect(url) as conn:
            conn.sendall(b"POST /eldest HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[")
            conn.shutdown(socket.SHUT_WR)
            assert conn.recv(1) == b""  # the server closes without an answer
        with _connect(url) as conn:
            # Reset, not closed: the server sees ECONNRESET while it reads the body.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.sendall(b"POST /eldest HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n[[")
        assert post(url + "/eldest", b"[[]]")[0] == 422  # and it goes on serving
    # One line each, in the order the server's threads got to them.
    left = r"client 127\.0\.0\.1:\d+ disconnected "
    left += r"(before sending its whole body|\(ConnectionResetError\))"
    assert sorted(bool(re.fullmatch(left, line)) for line in log) == [False, True, True], log
    assert [line for line in log if not re.fullmatch(left, line)][0].startswith(
        'POST /eldest "POST /eldest HTTP/1.1" 422 '
    )


def test_connections_past_the_bound_get_503_and_the_server_recovers(
    club_server: str,
) -> None:
    url = club_server
    idle = [_connect(url) for _ in range(3)]  # each holds a worker until it times out
    try:
        status, answer = 0, None
        for _ in range(50):  # the server may not have taken all three yet
            status, answer = _raw(url, b"POST /eldest HTTP/1.0\r\nContent-Length: 4\r\n\r\n[[]]")
            if status == 503:
                break
            time.sleep(0.01)
        assert (status, answer) == (503, {"error": "busy: 3 connections at once"})
    finally:
        for conn in idle:
            conn.close()
    for _ in range(100):  # the closed connections free their workers
        if post(url + "/eldest", b"[[]]")[0] == 422:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server never recovered from its busy state")


def test_a_value_error_the_function_raises_is_422_with_its_type(club_server: str) -> None:
    # max() of no people raises ValueError: a well-typed input the function refuses.
    error = "eldest raised ValueError: max() arg is an empty sequence"
    answer = {"error": error, "type": "ValueError", "message": "max() arg is an empty sequence"}
    assert post(club_server + "/eldest", b"[[]]") == (422, answer)


def test_a_missing_support_module_is_named(tmp_path: Path) -> None:
    module = _module()
    source = module_source(module, BODIES, spec_name="shop.mrsh", spec_hash="0")
    (tmp_path / "shop.py").write_text(append_main(source, module), encoding="utf-8")
    done = run(tmp_path, "greet", '"Ann"')
    assert done.returncode == 1
    assert "No module named '_marshalike_main'" in done.stderr


def test_a_spec_cannot_take_the_support_module_name() -> None:
    assert name_clash("shop") is None
    assert name_clash("_marshalike_main") == (
        "_marshalike_main.py is the support module of the generated modules: rename the spec"
    )


@pytest.mark.parametrize(
    ("name", "said"),
    [("os", "standard library"), ("json", "standard library"), ("sys", "standard library"),
     ("a.b", "package"), ("shop", None)],
)  # fmt: skip
def test_a_spec_cannot_take_a_name_import_would_not_find(name: str, said: str | None) -> None:
    """`os.mrsh` would be verified against the standard library's `os`, which every run
    has imported before (every correct candidate fails); `a.b.mrsh`, against a package `a`
    that is not there. (Any other name of the standard library's, `statistics.mrsh`, is
    refused as the spec's name: its module would hide the standard library's.)"""
    from marshalike.sandbox.channel import preloaded

    problem = name_clash(name) or preloaded(name)
    assert (problem is None) if said is None else (problem is not None and said in problem)


TOTAL = """\
# func total(numbers: list of integers): an integer

Add the numbers up.

* total([1, 1, 2]) = 4
"""


def test_a_name_of_the_module_s_own_does_not_change_how_arguments_are_read(
    tmp_path: Path,
) -> None:
    """`list = set` in the module's code: the spec's list of integers stays a list (a set
    would drop the repeated 1), as the verified examples had it."""
    module = _module(TOTAL)
    body = {"total": "list = set\n\n\ndef total(numbers):\n    return sum(numbers)\n"}
    source = module_source(module, body, spec_name="total.mrsh", spec_hash=spec_hash(TOTAL))
    (tmp_path / "total.py").write_text(append_main(source, module), encoding="utf-8")
    (tmp_path / SUPPORT_FILE).write_text(support_source(), encoding="utf-8")
    done = run(tmp_path, "total", "[1, 1, 2]", name="total")
    assert (done.returncode, done.stdout) == (0, "4\n"), done.stderr


GREET = """\
# func grüße(name: str): str

A greeting for `name`.

* grüße("Zoë") = "Grüße, Zoë!"
"""


def test_the_command_line_reads_utf_8_and_shows_what_the_terminal_cannot_escaped(
    tmp_path: Path,
) -> None:
    """Standard input is JSON, which is UTF-8 whatever the locale; help and errors in an
    encoding that cannot show a name escape it rather than fail."""
    module = _module(GREET)
    body = {"grüße": 'def grüße(name):\n    return f"Grüße, {name}!"\n'}
    source = module_source(module, body, spec_name="hallo.mrsh", spec_hash=spec_hash(GREET))
    (tmp_path / "hallo.py").write_text(append_main(source, module), encoding="utf-8")
    (tmp_path / SUPPORT_FILE).write_text(support_source(), encoding="utf-8")
    latin = subprocess.run(
        [sys.executable, "-m", "hallo", "grüße", "-"], cwd=tmp_path, capture_output=True,
        input='"Zoë"'.encode(), env={"PYTHONIOENCODING": "latin-1", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert latin.returncode == 0, latin.stderr
    assert latin.stdout.decode("latin-1") == '"Grüße, Zoë!"\n'
    ascii_help = subprocess.run(
        [sys.executable, "-m", "hallo", "--help"], cwd=tmp_path, capture_output=True,
        env={"PYTHONIOENCODING": "ascii", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert ascii_help.returncode == 0, ascii_help.stderr
    assert b"gr\\xfc\\xdfe" in ascii_help.stdout and b"internal error" not in ascii_help.stderr
