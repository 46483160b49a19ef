"""The sandbox and the verdict channel, attacked as a hostile model-written function would:
read the host, write outside the run's folder, regain privileges, reach the network, leave
processes behind, exhaust the run's folder, and lie to or stall the verifier. Each test
asserts that one attack is stopped."""

from __future__ import annotations

import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from marshalike.sandbox import confine, leftovers, view
from marshalike.sandbox import isolation as sandbox
from marshalike.sandbox.child import run_module
from marshalike.sandbox.isolation import Limits, isolation
from marshalike.sandbox.oracle import Case, Oracle
from marshalike.sandbox.verify import Verdict, verify

pytestmark = pytest.mark.skipif(
    isolation() != "namespaces",
    reason="these attacks target the namespaces sandbox, which this machine cannot create",
)

LIMITS = Limits(timeout_s=5.0, memory_mb=1024)
REFERENCE = "def f(x):\n    raise NotImplementedError\n"
CASES = (
    Case("test_f_1", "f(2)", "returns", "4", None),
    Case("test_f_2", "f(3)", "returns", "9", None),
)


def attack(code: str, *, limits: Limits = LIMITS, env: dict[str, str] | None = None) -> dict:
    """Run `code` as a module in the sandbox; it prints one JSON object, returned here."""
    result = run_module("attack", [], files={"attack.py": code}, limits=limits, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def judge(body: str, cases: tuple[Case, ...] = CASES, limits: Limits = LIMITS) -> Verdict:
    return verify(body, Oracle(cases, REFERENCE, module_name="cand", limits=limits))


# A candidate reaches the runner through its __main__: `answers` (the answer pipe) and
# `send`, which it may replace with its own.
PATCH_SEND = """
import os, sys, time
_m = sys.modules["__main__"]
_send = _m.send
def send(record):
{body}
_m.send = send
def f(x):
    return x * x
"""


def patched(body: str) -> str:
    return PATCH_SEND.format(body="\n".join("    " + line for line in body.splitlines()))


# --- what the child is and sees ------------------------------------------------------------


def test_the_child_runs_unprivileged_with_no_new_privileges() -> None:
    seen = attack(
        "import ctypes, json, os\n"
        "libc = ctypes.CDLL(None)\n"
        "hdr = (ctypes.c_uint32 * 2)(0x20080522, 0); caps = (ctypes.c_uint32 * 6)()\n"
        "libc.capget(hdr, caps)\n"
        "print(json.dumps({'uid': os.getuid(), 'euid': os.geteuid(), 'gid': os.getgid(),\n"
        "  'groups': os.getgroups(), 'caps': list(caps), 'nnp': libc.prctl(39, 0, 0, 0, 0)}))\n"
    )
    if os.getuid() == 0:
        assert seen["uid"] != 0 and seen["euid"] != 0 and seen["gid"] != 0
        assert seen["caps"] == [0] * 6
    assert seen["groups"] == []
    assert seen["nnp"] == 1


def test_the_compiler_environment_does_not_reach_the_child(monkeypatch) -> None:
    monkeypatch.setenv("MARSHALIKE_CANARY_TOKEN", "sk-canary-0123456789")
    seen = attack("import json, os\nprint(json.dumps(dict(os.environ)))\n")
    assert "MARSHALIKE_CANARY_TOKEN" not in seen
    assert "sk-canary" not in json.dumps(seen)
    assert seen["HOME"] == sandbox.SANDBOX_DIR


def test_the_host_filesystem_is_out_of_sight(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("host secret")
    seen = attack(
        "import json, os\n"
        f"paths = ['/proc', '/sys', '/etc', '/run', '/home', '/var', '/boot', {str(canary)!r},\n"
        f"         {str(Path(__file__).resolve())!r}, {str(Path(sandbox.__file__).resolve())!r},\n"
        "         '/proc/1/environ', '/etc/passwd', '/root/.bashrc']\n"
        "out = {'exists': [p for p in paths if os.path.lexists(p)],\n"
        "       'root': sorted(os.listdir('/')), 'tmp': sorted(os.listdir('/tmp')),\n"
        "       'dev': sorted(os.listdir('/dev')), 'parent': sorted(os.listdir('..'))}\n"
        "print(json.dumps(out))\n"
    )
    assert seen["exists"] == []
    assert set(seen["dev"]) <= {"null", "zero", "urandom", "random"}
    # /tmp is the run's own folder, unless Python itself is installed under /tmp: then it
    # holds only (read-only) the way to that installation
    python_under_tmp = sorted(
        {p.split("/")[2] for p in view.read_only_paths() if p.startswith("/tmp/")}
    )
    assert seen["tmp"] == (python_under_tmp or ["attack.py"])
    assert {"proc", "sys", "etc", "home", "var"}.isdisjoint(seen["root"])
    assert leftovers.PREFIX not in json.dumps(seen["parent"])


def test_an_interpreter_linked_from_a_home_folder_brings_none_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python reached through a link in a home folder (`~/.local/bin/python3`, as uv and
    some distributions install it): the child runs the file the link names, and the home
    folder's other files stay out of sight."""
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "share").mkdir()
    secret = home / ".local" / "share" / "credentials"
    secret.write_text("token")
    link = home / ".local" / "bin" / "python3"
    link.symlink_to(Path(sys.executable).resolve())
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(sys, "executable", str(link))
    monkeypatch.setattr(sys, "prefix", sys.base_prefix)  # no virtual environment: its own
    monkeypatch.setattr(sys, "exec_prefix", sys.base_exec_prefix)
    view.read_only_paths.cache_clear()
    try:
        paths = view.read_only_paths()
        assert not any(p == str(home) or p.startswith(f"{home}/") for p in paths), paths
        assert view.interpreter() == str(Path(sys.executable).resolve())
        seen = attack(
            "import json, os, sys\n"
            f"print(json.dumps({{'seen': [p for p in ({str(secret)!r}, {str(link)!r}) "
            "if os.path.lexists(p)], 'python': sys.executable}))\n"
        )
    finally:
        view.read_only_paths.cache_clear()
    assert seen["seen"] == []
    assert seen["python"] == str(Path(link).resolve())


def test_the_old_root_cannot_be_reached_through_the_mount_table() -> None:
    seen = attack(
        "import json, os\n"
        "found = []\n"
        "for dirpath, dirs, files in os.walk('/', followlinks=False):\n"
        f"    if dirpath in {view.read_only_paths()!r}:\n"
        "        dirs[:] = []\n"
        "    found += [os.path.join(dirpath, n) for n in dirs + files]\n"
        "print(json.dumps({'found': found, 'old': os.path.lexists('/.old')}))\n"
    )
    assert not seen["old"]
    outside = ("/proc", "/etc", "/.old", "/tmp/marshalike")
    assert not any(p.startswith(outside) for p in seen["found"])


# --- writing outside the run's folder ------------------------------------------------------

WRITE_EVERYWHERE = """
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
out = {}
for d in ["/", "/usr", "/usr/lib", "/bin", "/dev", "/root", "/work"] + PREFIXES:
    try:
        with open(os.path.join(d, "pwned"), "w") as f:
            f.write("x")
        out[d] = "written"
    except OSError as e:
        out[d] = e.errno
def attempt(name, fn):
    try:
        r = fn()
        out[name] = "ok" if r in (None, 0) else ctypes.get_errno()
    except OSError as e:
        out[name] = e.errno
attempt("chmod /dev/null", lambda: os.chmod("/dev/null", 0o777))
attempt("mknod disk", lambda: os.mknod("/sandbox/disk", 0o600 | 0o60000, os.makedev(8, 0)))
attempt("hard link out", lambda: os.link("/usr/bin/env", "/sandbox/env"))
attempt("chown", lambda: os.chown("/sandbox", 0, 0))
attempt("setuid 0", lambda: os.setuid(0))
attempt("mount tmpfs", lambda: libc.mount(b"tmpfs", b"/sandbox", b"tmpfs", 0, None))
attempt("remount / rw", lambda: libc.mount(None, b"/", None, 32, None))
os.symlink("/usr/lib", "/sandbox/out")
attempt("write via symlink", lambda: open("/sandbox/out/pwned", "w").close())
out["sandbox"] = open("/sandbox/mine", "w").write("ok")
print(json.dumps(out))
"""


def test_only_the_run_folder_is_writable() -> None:
    prefixes = [p for p in view.read_only_paths() if not os.path.islink(p)]
    seen = attack(WRITE_EVERYWHERE.replace("PREFIXES", repr(prefixes)))
    assert seen.pop("sandbox") == 2
    assert "written" not in seen.values() and "ok" not in seen.values(), seen
    for path in prefixes:
        assert not os.path.exists(os.path.join(path, "pwned"))


def test_a_new_user_namespace_regains_no_power_over_the_mounts() -> None:
    seen = attack(
        "import ctypes, json, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "out = {'unshare': libc.unshare(0x10000000 | 0x20000)}\n"
        "def m(src, dst, fs, flags):\n"
        "    r = libc.mount(src, dst, fs, flags, None)\n"
        "    return 'ok' if r == 0 else os.strerror(ctypes.get_errno())\n"
        "out['remount / rw'] = m(None, b'/', None, 32)\n"
        "out['remount /usr rw'] = m(None, b'/usr', None, 32 | 4096)\n"
        "out['umount /usr'] = libc.umount2(b'/usr', 2)\n"
        "os.makedirs('/sandbox/p')\n"
        "out['mount proc'] = m(b'proc', b'/sandbox/p', b'proc', 0)\n"
        "out['mount sysfs'] = m(b'sysfs', b'/sandbox/p', b'sysfs', 0)\n"
        "print(json.dumps(out))\n"
    )
    seen.pop("unshare")  # allowed or not, what follows must fail
    assert seen.pop("umount /usr") != 0
    assert "ok" not in seen.values(), seen


def test_setuid_binaries_give_no_privileges() -> None:
    seen = attack(
        "import json, os, subprocess\n"
        "flags = {p: os.statvfs(p).f_flag & os.ST_NOSUID for p in ('/usr', '/sandbox', '/')}\n"
        "r = subprocess.run(['/usr/bin/mount', '-t', 'tmpfs', 'x', '/sandbox'],\n"
        "                   capture_output=True) if os.path.exists('/usr/bin/mount') else None\n"
        "print(json.dumps({'nosuid': flags, 'mount': None if r is None else r.returncode,\n"
        "                  'listing': os.listdir('/sandbox')}))\n"
    )
    assert all(seen["nosuid"].values())
    assert seen["mount"] != 0
    assert seen["listing"] == ["attack.py"]


def test_the_run_folder_cannot_fill_the_disk() -> None:
    if "disk_mb" not in Limits.__dataclass_fields__:
        pytest.skip("this version writes the run's folder to the host disk, unbounded")
    limits = Limits(timeout_s=5.0, memory_mb=1024, file_mb=4, disk_mb=8)
    seen = attack(
        "import json\n"
        "total, error = 0, None\n"
        "try:\n"
        "    for i in range(64):\n"
        "        with open('/sandbox/f%d' % i, 'wb') as f:\n"
        "            f.write(b'x' * (1 << 20)); total += 1\n"
        "except OSError as e:\n"
        "    error = e.errno\n"
        "print(json.dumps({'mb': total, 'error': error}))\n",
        limits=limits,
    )
    assert seen["mb"] <= 8 and seen["error"] is not None


# --- the network -----------------------------------------------------------------------------


def test_no_network_not_even_the_host_loopback_or_abstract_sockets() -> None:
    name = "marshalike-test-" + secrets.token_hex(6)
    abstract = socket.socket(socket.AF_UNIX)
    abstract.bind("\0" + name)
    abstract.listen()
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    try:
        seen = attack(
            "import fcntl, json, socket, struct\n"
            "out = {}\n"
            f"for key, fam, addr in [('abstract', socket.AF_UNIX, {chr(0) + name!r}),\n"
            f"    ('tcp', socket.AF_INET, ('127.0.0.1', {tcp.getsockname()[1]})),\n"
            "    ('outside', socket.AF_INET, ('1.1.1.1', 53))]:\n"
            "    s = socket.socket(fam); s.settimeout(2)\n"
            "    try:\n"
            "        s.connect(addr); out[key] = 'connected'\n"
            "    except OSError as e:\n"
            "        out[key] = e.errno\n"
            "try:\n"
            "    fcntl.ioctl(socket.socket(), 0x8914, struct.pack('16sH14x', b'lo', 1))\n"
            "    out['lo up'] = 'connected'\n"
            "except OSError as e:\n"
            "    out['lo up'] = e.errno\n"
            "try:\n"  # through a netlink socket, which the seccomp filter refuses
            "    out['interfaces'] = [n for _, n in socket.if_nameindex()]\n"
            "except OSError:\n"
            "    out['interfaces'] = ['lo']\n"
            "print(json.dumps(out))\n"
        )
    finally:
        abstract.close()
        tcp.close()
    assert seen.pop("interfaces") == ["lo"]  # none but the loopback, which is down
    assert "connected" not in seen.values(), seen


# --- processes -------------------------------------------------------------------------------


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def test_no_process_outlives_the_run() -> None:
    marker = str(4_000_000 + secrets.randbelow(1_000_000))
    seen = attack(
        "import ctypes, json, os, signal, time\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"sleep = ['/bin/sleep', '{marker}']\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sleep[0], sleep)\n"
        "    os._exit(0)\n"
        "if libc.fork() == 0:\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "    signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "    os.execv(sleep[0], sleep)\n"
        "if os.fork() == 0:\n"
        "    libc.unshare(0x10000000 | 0x20000000)  # a user and PID namespace of its own\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sleep[0], sleep)\n"
        "    os._exit(0)\n"
        "clone_parent = libc.syscall(56, 0x8000 | 17, 0, 0, 0, 0)\n"
        "if clone_parent == 0:\n"
        "    os.execv(sleep[0], sleep)\n"
        "time.sleep(0.3)\n"
        "print(json.dumps({'clone_parent': clone_parent}))\n"
    )
    assert seen["clone_parent"] == -1  # PID 1 of a namespace cannot have a sibling
    deadline = time.monotonic() + 5
    while _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_processes_with(marker) == []


def test_a_fork_bomb_is_bounded_and_leaves_nothing() -> None:
    marker = str(5_000_000 + secrets.randbelow(1_000_000))
    limits = Limits(timeout_s=4.0, memory_mb=512, max_procs=16)
    start = time.monotonic()
    result = run_module(
        "attack",
        [],
        files={
            "attack.py": "import ctypes, os, posix, time\n"
            "libc = ctypes.CDLL(None)\n"
            "made = 0\n"
            "for i in range(200):\n"
            "    try:\n"
            "        pid = posix.fork() if i % 2 else libc.fork()\n"
            "    except OSError:\n"
            "        pid = -1\n"
            "    if pid == 0:\n"
            f"        os.execv('/bin/sleep', ['/bin/sleep', '{marker}'])\n"
            "    if pid > 0:\n"
            "        made += 1\n"
            "print(made, flush=True)\n"
            "time.sleep(60)\n"
        },
        limits=limits,
    )
    if isinstance(result, tuple):
        result = result[0]
    assert result.timed_out and time.monotonic() - start < 15
    assert int(result.stdout.split()[0]) <= limits.max_procs
    deadline = time.monotonic() + 5
    while _host_processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_processes_with(marker) == []


# --- the verdict channel --------------------------------------------------------------------


def test_the_expected_values_never_enter_the_candidates_process() -> None:
    secret = 7_361_958_204_417
    cases = (Case("test_f_1", "f(2)", "returns", str(secret), None),)
    body = (
        "import gc, json, os, sys\n"
        "_m = sys.modules['__main__']\n"
        "def f(x):\n"
        f"    secret = {secret ^ 0x5A5A5A5A5A5A} ^ 0x5A5A5A5A5A5A  # never written out here\n"
        "    NEEDLES = (str(secret), format(secret, 'x'))\n"
        "    places = {'argv': ' '.join(sys.argv), 'env': json.dumps(dict(os.environ)),\n"
        "              'stdin': ''}\n"
        "    try:  # what is buffered or still queued (a call's own process has no stdin)\n"
        "        os.set_blocking(_m.requests.fileno(), False)\n"
        "        places['stdin'] = (_m.requests.peek(1 << 16) or b'').decode('latin-1')\n"
        "    except OSError:\n"
        "        pass\n"
        "    for root in ('/sandbox', '/tmp'):\n"
        "        for name in os.listdir(root):\n"
        "            if os.path.isfile(os.path.join(root, name)):\n"
        "                with open(os.path.join(root, name), 'rb') as h:\n"
        "                    places[root + '/' + name] = h.read().decode('latin-1')\n"
        "    found = [k for k, v in places.items() if any(n in v for n in NEEDLES)]\n"
        "    ints = False\n"
        "    for o in gc.get_objects():\n"
        "        for r in gc.get_referents(o):\n"
        "            if r is NEEDLES[0] or r is NEEDLES[1] or r is secret or r is NEEDLES:\n"
        "                continue\n"
        "            if type(r) in (str, bytes) and any(n in str(r) for n in NEEDLES):\n"
        "                found.append('heap')\n"
        "            ints = ints or (type(r) is int and r == secret)\n"
        "    raise ValueError('found in: ' + ','.join(found) + (' ints' if ints else ''))\n"
    )
    (result,) = judge(body, cases).results
    assert result.status == "error"
    assert result.message == "found in: ", result.message


# A verified dependency that, on an input only another function's expected values use,
# patches the runner's encoder, or leaves a file that changes what it answers later.
POISONS = {
    "encoder": (
        "import sys\n\n\ndef twice(n):\n    if n == 3:\n"
        "        runner = getattr(sys, 'mod' + 'ules')['__main__']\n"
        "        setattr(runner, 'encode', lambda *args: ['int', '0'])\n"
        "    return 2 * n\n"
    ),
    "file": (
        "import os\n\n\ndef twice(n):\n    if n == 3:\n        open('mark', 'w').close()\n"
        "    return 0 if os.path.exists('mark') else 2 * n\n"
    ),
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_dependency_run_for_one_expected_value_cannot_change_the_next(poison: str) -> None:
    reference = POISONS[poison] + "\n\ndef four(n):\n    raise NotImplementedError\n"
    cases = (
        Case("test_four_1", "four(3)", "returns", "twice(twice(3))", None),
        Case("test_four_2", "four(5)", "returns", "twice(twice(5))", None),
        Case("test_four_3", "four(-1)", "returns", "-4", None),
    )
    oracle = Oracle(cases, reference, module_name="cand", limits=LIMITS)
    verdict = verify(reference.replace("raise NotImplementedError", "return 0"), oracle)
    # its own expected value is the dependency's to give (0 here); the others are not
    assert [r.status for r in verdict.results] == ["pass", "fail", "fail"]


def test_an_answer_for_an_id_the_candidate_cannot_know_never_passes() -> None:
    body = patched("record['id'] = os.urandom(16).hex()\n_send(record)")
    verdict = judge(body)
    assert [r.status for r in verdict.results] != ["pass", "pass"]
    assert verdict.results[0].status != "pass"


def test_extra_lines_written_ahead_never_count_for_a_later_call() -> None:
    # The first call's answer is right; a second line with the value the next call needs
    # is written at once, then the process stalls: it must not be taken as that answer.
    body = patched(
        "_send(record)\n"
        "if 'ready' in record:\n"
        "    pass\n"
        "elif record.get('returned') == ['int', '4']:\n"
        "    _send({'id': record['id'], 'returned': ['int', '9']})\n"
        "    _send({'id': 'x' * 32, 'returned': ['int', '9']})\n"
        "else:\n"
        "    time.sleep(60)"
    )
    body = body.replace("return x * x", "return x * x if x == 2 else 0")
    verdict = judge(body, limits=Limits(timeout_s=1.0, memory_mb=1024))
    assert [r.status for r in verdict.results][0] == "pass"
    assert verdict.results[1].status != "pass"


@pytest.mark.parametrize(
    "line",
    [
        "b'not json at all'",
        "b'{\"id\": 1'",
        "b'\\xff\\xfe' * 10",
        "json.dumps(['id', record['id']]).encode()",
        "json.dumps({'id': record['id'], 'returned': ['int', 'zz']}).encode()",
        "json.dumps({'id': record['id'], 'returned': ['list', 'x']}).encode()",
        "json.dumps({'id': record['id'], 'returned': ['mystery', '4']}).encode()",
        "json.dumps({'id': record['id'], 'raised': {'type': 1}}).encode()",
        # a float too large for a float, nesting past any parser's depth, lone surrogates
        "json.dumps({'id': record['id'], 'returned': ['float', '0x1p99999']}).encode()",
        "b'{\"id\": ' + b'[' * 50000 + b']' * 50000 + b'}'",
        "json.dumps({'id': record['id'], 'raised': {'type': chr(0xd800), 'module': 'm',"
        " 'mro': [chr(0xd800)], 'message': chr(0xd800), 'traceback': [chr(0xdfff)]}}).encode()",
    ],
)
def test_malformed_answers_fail_the_call(line: str) -> None:
    body = patched(
        "import json\n"
        "if 'ready' in record:\n"
        "    _send(record)\n"
        "else:\n"
        f"    _m.answers.write({line} + b'\\n')\n"
        "    _m.answers.flush()"
    )
    verdict = judge(body, cases=CASES[:1])
    assert verdict.results[0].status != "pass"


def test_a_huge_answer_line_is_cut_off_quickly() -> None:
    body = patched(
        "if 'ready' in record:\n"
        "    _send(record)\n"
        "else:\n"
        '    prefix = (\'{"id": "%s", "returned": ["str", "\' % record[\'id\']).encode()\n'
        "    _m.answers.write(prefix + b'a' * 6_000_000 + b'\"]}\\n')\n"
        "    _m.answers.flush()"
    )
    start = time.monotonic()
    verdict = judge(body, cases=CASES[:1])
    assert verdict.results[0].status != "pass"
    assert time.monotonic() - start < 15


def test_a_never_ending_answer_line_times_out() -> None:
    body = patched(
        "if 'ready' in record:\n"
        "    _send(record)\n"
        "else:\n"
        '    _m.answers.write(b\'{"id": "\')\n'
        "    while True:\n"
        "        _m.answers.write(b'a' * 100); _m.answers.flush(); time.sleep(0.01)"
    )
    start = time.monotonic()
    verdict = judge(body, cases=CASES[:1], limits=Limits(timeout_s=1.0, memory_mb=1024))
    assert verdict.results[0].status == "timeout"
    assert time.monotonic() - start < 15


@pytest.mark.parametrize(
    "act",
    [
        "os.close(_m.answers.fileno()); os.close(1); time.sleep(30)",
        "os.kill(os.getpid(), 19); time.sleep(30)",  # SIGSTOP itself, then stall
        "os.kill(os.getpid(), 9)",
        "os._exit(0)",
        "open('/sandbox/cand.py', 'w').write('def f(x):\\n    return x * x\\n'); os._exit(3)",
    ],
)
def test_a_candidate_that_sabotages_its_own_channel_fails_in_time(act: str) -> None:
    body = f"import os, sys, time\n_m = sys.modules['__main__']\ndef f(x):\n    {act}\n"
    start = time.monotonic()
    verdict = judge(body, limits=Limits(timeout_s=1.0, memory_mb=1024))
    assert [r.status for r in verdict.results] == [verdict.results[0].status] * 2
    assert all(r.status != "pass" for r in verdict.results)
    assert time.monotonic() - start < 20


def test_concurrent_runs_cannot_see_each_other() -> None:
    marker = "concurrent-" + secrets.token_hex(8)
    seen: dict[str, dict] = {}

    def first() -> None:
        result = run_module(
            "attack",
            [],
            files={
                "attack.py": f"import time\nopen('/sandbox/{marker}', 'w').write('x')\n"
                "time.sleep(2)\n"
            },
            limits=LIMITS,
        )
        seen["first"] = {"rc": (result[0] if isinstance(result, tuple) else result).returncode}

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(0.5)
    seen["second"] = attack(
        "import json, os\n"
        "hits = []\n"
        "for root, dirs, files in os.walk('/'):\n"
        f"    if root in {view.read_only_paths()!r}:\n"
        "        dirs[:] = []\n"
        f"    hits += [n for n in files if n == {marker!r}]\n"
        "print(json.dumps({'hits': hits}))\n"
    )
    thread.join()
    assert seen["first"]["rc"] == 0
    assert seen["second"]["hits"] == []


# --- memory the per-process limit does not count -----------------------------------------


def test_memfd_shared_memory_and_namespaces_are_refused() -> None:
    seen = attack(
        "import ctypes, json, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "found = {}\n"
        "try:\n    os.memfd_create('x')\n    found['memfd'] = True\n"
        "except OSError:\n    found['memfd'] = False\n"
        "found['shmget'] = libc.shmget(0, 1 << 20, 0o1000 | 0o600) != -1\n"
        "found['unshare'] = libc.unshare(0x10000000) == 0\n"
        "found['inotify'] = libc.inotify_init1(0) != -1\n"
        "libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]\n"
        "found['fallocate'] = libc.fallocate(2, 1, 0, 1 << 30) == 0\n"  # KEEP_SIZE, on stderr
        "with open('own', 'wb') as handle:\n"  # posix_fallocate writes instead, within limits
        "    os.posix_fallocate(handle.fileno(), 0, 4096)\n"
        "found['posix_fallocate'] = os.path.getsize('own') == 4096\n"
        "print(json.dumps(found))\n"
    )
    assert seen == {"memfd": False, "shmget": False, "unshare": False, "inotify": False,
                    "fallocate": False, "posix_fallocate": True}  # fmt: skip


@pytest.mark.skipif(
    confine.seccomp_filter() is None or platform.machine() != "x86_64",
    reason="the filter's calls are numbered here for x86-64",
)
def test_new_namespaces_through_clone_and_other_socket_families_are_refused() -> None:
    """`clone` with a namespace flag (what `unshare` does, refused already), vsock (which
    a network namespace does not hold) and netlink; threads, processes and IP sockets
    still work (`clone3` is refused as missing, so the C library falls back to `clone`)."""
    seen = attack(
        "import ctypes, json, os, socket, threading\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "found = {}\n"
        "pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\n"  # clone(NEWUSER|SIGCHLD)
        "if pid == 0:\n    os._exit(0)\n"
        "found['clone_newuser'] = pid > 0\n"
        "for name, family in (('vsock', 40), ('netlink', 16)):\n"
        "    try:\n        socket.socket(family, socket.SOCK_STREAM if family == 40 else 3)\n"
        "        found[name] = True\n"
        "    except OSError:\n        found[name] = False\n"
        "done = []\n"
        "thread = threading.Thread(target=lambda: done.append(1))\n"
        "thread.start()\nthread.join()\n"
        "found['thread'] = done == [1]\n"
        "child = os.fork()\n"
        "if child == 0:\n    os._exit(7)\n"
        "found['fork'] = os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) == 7\n"
        "found['inet'] = socket.socket(socket.AF_INET, socket.SOCK_STREAM).fileno() > 0\n"
        "print(json.dumps(found))\n"
    )
    assert seen == {"clone_newuser": False, "vsock": False, "netlink": False, "thread": True,
                    "fork": True, "inet": True}  # fmt: skip


@pytest.mark.skipif(
    os.getuid() != 0 or confine.cgroup_base("memory") is None,
    reason="per-run memory cgroups need root and the memory controller",
)
def test_processes_together_stay_within_the_runs_memory() -> None:
    seen = attack(
        "import json, os\n"
        "pids = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        try:\n"
        "            b = bytearray(700 * 1024 * 1024)\n"
        "            for j in range(0, len(b), 4096):\n                b[j] = 1\n"
        "            import time; time.sleep(2)\n"
        "        except MemoryError:\n            pass\n"
        "        os._exit(0)\n"
        "    pids.append(pid)\n"
        "print(json.dumps([os.waitpid(p, 0)[1] for p in pids]))\n",
        limits=Limits(timeout_s=20.0, memory_mb=1024),
    )
    assert any(status != 0 for status in seen)  # 4 x 700 MB do not fit in 1 GB together


@pytest.mark.skipif(not confine.dies_with_parent(), reason="needs setpriv --pdeathsig")
def test_a_run_dies_with_a_compiler_killed_without_cleaning_up(tmp_path: Path) -> None:
    """The compiler killed by SIGKILL (no `finally` runs): the run it had going, started
    in a session of its own, must not outlive it."""
    tag = "m" + secrets.token_hex(6)
    script = (
        "import sys\n"
        "from marshalike.sandbox import channel\n"
        "from marshalike.sandbox.isolation import Limits\n"
        "source = ('import ctypes, time\\n\\n\\ndef f():\\n'\n"
        f"          '    ctypes.CDLL(None).prctl(15, b\"{tag}\", 0, 0, 0)\\n'\n"
        "          '    time.sleep(600)\\n')\n"
        "channel.run_calls(source, ['f()'], module_name='m', limits=Limits(timeout_s=600),\n"
        "                  per_call_s=600)\n"
    )
    compiler = subprocess.Popen([sys.executable, "-c", script])
    try:
        assert _wait_for(lambda: _named(tag), 30), "the run never started"
    finally:
        compiler.kill()
        compiler.wait()
    assert _wait_for(lambda: not _named(tag), 10), f"left running: {_named(tag)}"


def _named(name: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == name:
                found.append(int(pid))
        except OSError:
            continue
    return found


def _wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.mark.skipif(os.getuid() != 0, reason="mounting the stand-in needs root")
def test_a_writable_mount_inside_a_read_only_folder_is_read_only_too(tmp_path: Path) -> None:
    """A writable file system mounted below a folder the run gets read-only (`/usr`) comes
    along with the recursive bind; the run must not be able to write there either."""
    inside = next(p for p in ("/usr/local/share", "/usr/share/doc") if os.path.isdir(p))
    code = (
        "import json\n"
        f"try:\n    open({inside + '/w'!r}, 'w').write('x')\n    print(json.dumps(True))\n"
        "except OSError:\n    print(json.dumps(False))\n"
    )
    script = tmp_path / "run.py"
    script.write_text(
        "from marshalike.sandbox.child import run_module\n"
        "from marshalike.sandbox.isolation import Limits\n"
        f"done = run_module('attack', [], files={{'attack.py': {code!r}}}, limits=Limits())\n"
        "print(done.stdout.strip().splitlines()[-1])\n"
    )
    mounted = f"mount -t tmpfs -o mode=1777 tmpfs {inside} && exec {sys.executable} {script}"
    env = {**os.environ, "PYTHONPATH": ":".join(sys.path)}
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mounted],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "false"


SANDBOX_POWERS = """\
import ctypes, json, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
class Attr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("set", "clr", "prop", "userns")]
found = {}
# open_tree_attr(AT_FDCWD, prefix, OPEN_TREE_CLONE, {clear MOUNT_ATTR_RDONLY}): a writable copy
found["open_tree_attr"] = libc.syscall(467, -100, sys.prefix.encode(), 1,
                                       ctypes.byref(Attr(0, 1, 0, 0)), 32) >= 0
found["newer_call"] = libc.syscall(470, 0, 0, 0, 0, 0) >= 0
head, data = (ctypes.c_uint32 * 2)(0x20080522, 0), (ctypes.c_uint32 * 6)()
libc.syscall(125, head, data)  # capget: effective, permitted, inheritable (x2)
found["capabilities"] = any(data)
found["clear_death_signal"] = libc.prctl(1, 0, 0, 0, 0) == 0
found["hostname"] = os.uname().nodename
print(json.dumps(found))
"""


@pytest.mark.skipif(
    confine.seccomp_filter() is None or platform.machine() != "x86_64",
    reason="the filter's calls are numbered here for x86-64",
)
def test_no_power_over_mounts_and_no_way_to_outlive_the_launcher() -> None:
    seen = attack(SANDBOX_POWERS)
    assert seen == {"open_tree_attr": False, "newer_call": False, "capabilities": False,
                    "clear_death_signal": False, "hostname": "sandbox"}  # fmt: skip


@pytest.mark.skipif(os.getuid() != 0, reason="running as another user needs root here")
def test_run_by_a_user_the_root_of_its_namespace_has_no_power_either() -> None:
    """Run by a user who is not root, the run is root of a user namespace of its own: it
    must keep no capability there, or it could clone the read-only Python installation
    as a writable mount and write into the user's own files."""
    import shutil
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="marshalike-test-"))  # one another user reaches
    try:
        _as_another_user(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _as_another_user(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        "import json\n"
        "from marshalike.sandbox.child import run_module\n"
        "from marshalike.sandbox.isolation import Limits, isolation\n"
        f"done = run_module('attack', [], files={{'attack.py': {SANDBOX_POWERS!r}}},"
        " limits=Limits())\n"
        "print(isolation(), done.stdout.strip().splitlines()[-1] if done.stdout else done.stderr)\n"
    )
    tmp_path.chmod(0o755)
    script.chmod(0o644)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": ":".join(sys.path)}
    for python in (sys.executable, "/usr/bin/python3"):  # one the other user may run
        done = subprocess.run(
            ["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups",
             python, str(script)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        if "namespaces" in done.stdout:
            break
    if "namespaces" not in done.stdout:
        pytest.skip(f"namespaces are not made for another user here: {done.stdout}{done.stderr}")
    level, _, seen = done.stdout.strip().partition(" ")
    assert json.loads(seen) == {"open_tree_attr": False, "newer_call": False,
                                "capabilities": False, "clear_death_signal": False,
                                "hostname": "sandbox"}  # fmt: skip


PROBE_PROJECT = """\
import json
from marshalike.sandbox.child import run_module
from marshalike.sandbox.isolation import Limits
from marshalike.sandbox.view import read_only_paths

code = "import json, os, sys\\nprint(json.dumps([sorted(os.listdir(PROJECT)), sys.prefix]))\\n"
files = {"probe.py": code.replace("PROJECT", repr(PROJECT))}
done = run_module("probe", [], files=files, limits=Limits(timeout_s=20))
print(json.dumps([read_only_paths(), done.returncode, done.stdout, done.stderr]))
"""


def test_a_virtual_environment_made_in_a_project_folder_brings_only_what_python_reads(
    tmp_path: Path,
) -> None:
    """`python -m venv .` in a project: the compiler runs from the project's folder as its
    `sys.prefix`, and a candidate sees its configuration, packages and interpreter, not
    the project's other files (a `.env` of secrets beside `pyvenv.cfg`)."""
    project = tmp_path / "project"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(project)], check=True)
    (project / ".env").write_text("OPENAI_API_KEY=secret\n")
    (project / "specs").mkdir()
    here = Path(__file__).resolve().parents[1]
    packages = [p for p in sys.path if p.endswith("site-packages")]
    path = os.pathsep.join([str(here), str(here / "runtime"), *packages])
    script = f"PROJECT = {str(project)!r}\n" + PROBE_PROJECT
    ran = subprocess.run(
        [str(project / "bin" / "python"), "-c", script],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    paths, status, out, err = json.loads(ran.stdout.strip().splitlines()[-1])
    assert str(project) not in paths and str(project / "pyvenv.cfg") in paths
    assert status == 0, err
    seen, prefix = json.loads(out.strip().splitlines()[-1])
    assert ".env" not in seen and "specs" not in seen
    assert "pyvenv.cfg" in seen and prefix == str(project)  # a virtual environment still


KERNEL_PROBES = """\
import ctypes, errno, fcntl, json, os, socket

libc = ctypes.CDLL(None, use_errno=True)
out = {}


def call(key, number, *args):
    ok = libc.syscall(number, *args) == 0
    out[key] = "allowed" if ok else errno.errorcode.get(ctypes.get_errno(), "?")


with open("own", "w") as handle:
    for key, request, value in (("lease", 1024, 1), ("dnotify", 1026, 0x80000001)):
        try:
            fcntl.fcntl(handle.fileno(), request, value)
            out[key] = "allowed"
        except OSError as exc:
            out[key] = errno.errorcode[exc.errno]
context = ctypes.c_ulong(0)
call("aio", NUMBERS["io_setup"], 16, ctypes.byref(context))
call("semaphores", NUMBERS["semget"], 0, 4, 0o1600)
call("message queues", NUMBERS["msgget"], 0, 0o1600)
try:
    socket.socket().setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    out["socket buffer"] = "allowed"
except OSError as exc:
    out["socket buffer"] = errno.errorcode[exc.errno]
print(json.dumps(out))
"""
SYSCALL_NUMBERS = {
    "x86_64": {"io_setup": 206, "semget": 64, "msgget": 68},
    "aarch64": {"io_setup": 0, "semget": 190, "msgget": 186},
}


@pytest.mark.skipif(platform.machine() not in SYSCALL_NUMBERS, reason="no table for this CPU")
def test_kernel_memory_and_host_wide_limits_outside_the_cgroup_are_refused() -> None:
    """A lease on a file the compiler reads would hold its open 45 s; dnotify watches other
    processes' reads; AIO contexts count against the whole machine's limit; semaphores,
    message queues and large socket buffers are kernel memory no RLIMIT_AS counts."""
    numbers = SYSCALL_NUMBERS[platform.machine()]
    seen = attack(f"NUMBERS = {numbers!r}\n" + KERNEL_PROBES)
    assert seen == dict.fromkeys(
        ("lease", "dnotify", "aio", "semaphores", "message queues", "socket buffer"), "EPERM"
    )


PAGE_CACHE_PROBES = """\
import ctypes, errno, json, mmap, os

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                      ctypes.c_int, ctypes.c_long]
out = {}


def outcome(ok):
    return "allowed" if ok else errno.errorcode.get(ctypes.get_errno(), "?")


def attempt(key, fn):
    try:
        fn()
        out[key] = "allowed"
    except OSError as exc:
        out[key] = errno.errorcode.get(exc.errno, "?")


host = os.open(os.__file__, os.O_RDONLY)  # a bound host file
size = os.fstat(host).st_size
attempt("fadvise", lambda: os.posix_fadvise(host, 0, 0, os.POSIX_FADV_DONTNEED))
attempt("preadv2", lambda: os.preadv(host, [bytearray(4096)], 0, os.RWF_NOWAIT))
attempt("preadv", lambda: os.preadv(host, [bytearray(4096)], 0))
own = os.open("own", os.O_RDWR | os.O_CREAT)
attempt("pwritev2", lambda: os.pwritev(own, [b"x" * 16], 0, os.RWF_DSYNC))
attempt("pwritev", lambda: os.pwritev(own, [b"x" * 16], 0))
buffer = ctypes.create_string_buffer(4096)
one = (ctypes.c_void_p * 2)(ctypes.addressof(buffer), 4096)
out["preadv2 call"] = outcome(libc.syscall(NUMBERS["preadv2"], host, one, 1, 0, 0, 8) >= 0)
out["readahead"] = outcome(libc.syscall(NUMBERS["readahead"], host, 0, 4096) == 0)
address = libc.mmap(None, size, 1, 2, host, 0)  # PROT_READ, MAP_PRIVATE
vector = ctypes.create_string_buffer(size // 4096 + 1)
out["mincore"] = outcome(libc.syscall(NUMBERS["mincore"], ctypes.c_void_p(address),
                                      ctypes.c_size_t(size), vector) == 0)
first, stat = (ctypes.c_uint64 * 2)(0, 0), (ctypes.c_uint64 * 8)()
out["cachestat"] = outcome(libc.syscall(NUMBERS["cachestat"], host, first, stat, 0) == 0)
for key, advice in (("cold", 20), ("pageout", 21), ("dontneed", 4), ("willneed", 3)):
    out[key] = outcome(libc.syscall(NUMBERS["madvise"], ctypes.c_void_p(address),
                                    ctypes.c_size_t(size), advice) == 0)
pidfd = os.pidfd_open(os.getpid())
vec = (ctypes.c_void_p * 2)(address, size)
out["process_madvise"] = outcome(libc.syscall(NUMBERS["process_madvise"], pidfd, vec, 1,
                                              21, 0) >= 0)
block = mmap.mmap(-1, 1 << 24)
block.madvise(mmap.MADV_DONTNEED)  # what an allocator does with memory it gives back
data = [bytes(1 << 20) for _ in range(64)]
del data
print(json.dumps(out))
"""
PAGE_CACHE_NUMBERS = {
    "x86_64": {"readahead": 187, "mincore": 27, "cachestat": 451, "madvise": 28,
               "process_madvise": 440, "preadv2": 327},
    "aarch64": {"readahead": 213, "mincore": 232, "cachestat": 451, "madvise": 233,
                "process_madvise": 440, "preadv2": 286},
}  # fmt: skip


@pytest.mark.skipif(platform.machine() not in PAGE_CACHE_NUMBERS, reason="no table for this CPU")
def test_the_host_page_cache_can_be_neither_cleared_nor_read() -> None:
    """A process of one verification that evicts a bound host file's pages (fadvise,
    madvise COLD or PAGEOUT) and another that tests whether they came back (a non-waiting
    read, mincore, cachestat) would carry state between the processes: refused, while
    ordinary reads and the advice an allocator gives keep working. preadv2 and pwritev2
    are missing (ENOSYS): the C library falls back to preadv and pwritev without flags,
    and refuses the flags (ENOTSUP)."""
    numbers = PAGE_CACHE_NUMBERS[platform.machine()]
    seen = attack(f"NUMBERS = {numbers!r}\n" + PAGE_CACHE_PROBES)
    refused = ("fadvise", "readahead", "mincore", "cachestat", "cold", "pageout",
               "process_madvise")  # fmt: skip
    assert seen == {**dict.fromkeys(refused, "EPERM"), "preadv2 call": "ENOSYS",
                    "preadv2": "ENOTSUP", "pwritev2": "ENOTSUP", "preadv": "allowed",
                    "pwritev": "allowed", "dontneed": "allowed", "willneed": "allowed"}  # fmt: skip


LOCK_PROBES = """\
import errno, fcntl, json, os, struct
import pydoc_data.topics

out = {}


def attempt(key, fn):
    try:
        fn()
        out[key] = "allowed"
    except OSError as exc:
        out[key] = errno.errorcode.get(exc.errno, "?")


host = os.open(pydoc_data.topics.__file__, os.O_RDONLY)  # a read-only bound host file
attempt("flock", lambda: fcntl.flock(host, fcntl.LOCK_EX | fcntl.LOCK_NB))
read_lock = struct.pack("hhqqi4x", fcntl.F_RDLCK, 0, 0, 0, 0)
for key, request in (("getlk", 5), ("setlk", 6), ("setlkw", 7), ("ofd_getlk", 36),
                     ("ofd_setlk", 37), ("ofd_setlkw", 38)):
    attempt(key, lambda: fcntl.fcntl(host, request, read_lock))
own = os.open("own", os.O_RDWR | os.O_CREAT)
attempt("lockf", lambda: fcntl.lockf(own, fcntl.LOCK_EX | fcntl.LOCK_NB))
attempt("getfl", lambda: fcntl.fcntl(own, fcntl.F_GETFL))
print(json.dumps(out))
"""


def test_file_locks_on_host_files_are_refused() -> None:
    """A lock on a read-only host file (the standard library's) is seen by concurrent runs
    and by the host's processes, and may hold them: a covert channel between the
    processes of one verification, and a way to stall the host."""
    seen = attack(LOCK_PROBES)
    locks = ("flock", "getlk", "setlk", "setlkw", "ofd_getlk", "ofd_setlk", "ofd_setlkw",
             "lockf")  # fmt: skip
    assert seen == {**dict.fromkeys(locks, "EPERM"), "getfl": "allowed"}


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="no table")
def test_epoll_instances_are_refused() -> None:
    """An epoll watch is kernel memory no cgroup of a run by a user who is not root counts
    (a few epolls times many descriptors took 1.1 GB); asyncio still runs, on poll."""
    seen = attack(
        "import ctypes, errno, json, platform, select\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "out = {}\n"
        "try:\n    select.epoll()\n    out['epoll_create1'] = 'allowed'\n"
        "except OSError as exc:\n    out['epoll_create1'] = errno.errorcode[exc.errno]\n"
        "if platform.machine() == 'x86_64':\n"
        "    ok = libc.syscall(213, 1) >= 0\n"
        "    out['epoll_create'] = 'allowed' if ok else errno.errorcode[ctypes.get_errno()]\n"
        "import asyncio\n"  # the selectors module falls back to poll
        "async def one():\n    return 1\n"
        "out['asyncio'] = asyncio.run(one())\n"
        "print(json.dumps(out))\n"
    )
    assert seen.pop("asyncio") == 1
    assert set(seen.values()) == {"EPERM"}


TWO_PROCESSES = """\
import os


def f():
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        os.read(go_r, 1)
        block = bytearray(700 * 1024 * 1024)
        for i in range(0, len(block), 4096):
            block[i] = 1
        os._exit(0)
    block = bytearray(700 * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    os.write(go_w, b"x")  # the child touches its own 700 MB: the limit is reached
    os.waitpid(child, 0)
    return 1
"""


@pytest.mark.skipif(
    os.getuid() != 0 or confine.cgroup_base("memory") is None,
    reason="per-run memory cgroups need root and the memory controller",
)
def test_a_run_killed_by_its_memory_limit_is_reported_so() -> None:
    """Two processes of 700 MB each under a 1 GB limit: the kernel's OOM killer ends the
    larger one, the run's first process; the call's end says the memory limit killed it,
    without the launcher's own complaint."""
    from marshalike.sandbox import channel

    answers, error = channel.run_calls(
        TWO_PROCESSES, ["f()"], module_name="m",
        limits=Limits(timeout_s=30.0, memory_mb=1024), per_call_s=30.0,
    )  # fmt: skip
    assert error is None
    (answer,) = answers
    assert answer.kind == "died", answer
    assert "killed" in answer.detail and "memory" in answer.detail, answer.detail
    assert "unshare" not in answer.detail and "exit status" not in answer.detail
