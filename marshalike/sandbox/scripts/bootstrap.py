"""Runs inside the child before anything untrusted: the filesystem view (with namespaces),
limits, then the drop of privileges, then exec of the real command. It uses the standard
library only and runs with -S, so no site-packages code runs before it."""

import ctypes
import json
import os
import re
import resource
import sys

cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
RDONLY, NOSUID, NODEV, NOEXEC, REMOUNT, BIND, REC, PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18
NOATIME, NODIRATIME, RELATIME = 1024, 2048, 1 << 21


def fail(what):
    err = ctypes.get_errno()
    sys.stderr.write(f"marshalike sandbox: {what}: {os.strerror(err)}\n")
    os._exit(125)


def enc(s):
    return None if s is None else s.encode()


def mount(src, dst, fstype, flags, data=None):
    if libc.mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        fail("mount " + dst)


def locked(path):
    f = os.statvfs(path).f_flag
    bits = (
        (1, NOSUID),
        (2, NODEV),
        (8, NOEXEC),
        (1024, NOATIME),
        (2048, NODIRATIME),
        (4096, RELATIME),
    )
    return sum(m for s, m in bits if f & s)


def bind(src, dst, writable=False):
    mount(src, dst, None, BIND | REC)
    mount(None, dst, None, BIND | REMOUNT | NOSUID | locked(src) | (0 if writable else RDONLY))
    if not writable:
        read_only_below(dst)


def read_only_below(dst):
    """The mounts a recursive bind brought along below `dst` (a writable folder mounted
    inside `/usr`, say) are read-only too: a remount reaches only the mount it names. One
    that cannot be remounted is taken away; one that cannot be either stops the run."""
    gone = []
    for point in sorted(mounts_below(dst), key=lambda p: p.count("/")):
        if any(point.startswith(g + "/") for g in gone):
            continue
        flags = BIND | REMOUNT | NOSUID | RDONLY | locked(point)
        if libc.mount(None, enc(point), None, flags, None) == 0:
            continue
        if libc.umount2(enc(point), 2) != 0:  # MNT_DETACH
            fail("make " + point + " read-only")
        gone.append(point)


def mounts_below(dst):
    below = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            # The mount point, with space, tab, newline and backslash written in octal.
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
            if point.startswith(dst.rstrip("/") + "/"):
                below.append(point)
    return below


for procs in cfg["cgroups"]:
    with open(procs, "w") as handle:  # "0": the writer itself, from inside a PID namespace
        handle.write("0")
if cfg["namespaces"]:
    # This IPC namespace's System V memory, semaphores and message queues: none.
    for knob, none in (("shmmax", "0"), ("shmall", "0"), ("shmmni", "0"), ("msgmni", "0"),
                       ("sem", "0 0 0 0")):  # fmt: skip
        try:
            with open("/proc/sys/kernel/" + knob, "w") as handle:
                handle.write(none)
        except OSError:
            pass
    mount(None, "/", None, REC | PRIVATE)
    new = cfg["root"]
    mount("tmpfs", new, "tmpfs", NOSUID | NODEV, "size=4m,nr_inodes=4096,mode=755")
    for path in cfg["read_only"]:
        target = new + path
        if os.path.islink(path) and os.path.dirname(path) == "/":
            os.symlink(os.readlink(path), target)
            continue
        if os.path.isdir(path):
            os.makedirs(target, exist_ok=True)
        else:  # the interpreter's file alone
            os.makedirs(os.path.dirname(target), exist_ok=True)
            open(target, "a").close()
        bind(path, target)
    os.makedirs(new + "/dev")
    for node in ("null", "zero", "urandom", "random"):
        open(new + "/dev/" + node, "w").close()
        mount("/dev/" + node, new + "/dev/" + node, None, BIND)
    home = new + cfg["home"]
    os.makedirs(home)
    options = f"size={cfg['disk_bytes']},nr_inodes={cfg['inodes']},mode=700"
    mount("tmpfs", home, "tmpfs", NOSUID | NODEV, options)
    for name in os.listdir(cfg["workdir"]):
        with open(os.path.join(cfg["workdir"], name), "rb") as src:
            with open(os.path.join(home, name), "wb") as dst:
                dst.write(src.read())
    for name in [""] + os.listdir(home):
        if cfg["uid"] is not None:
            os.chown(os.path.join(home, name), cfg["uid"], cfg["uid"])
    if not os.path.lexists(new + "/tmp"):  # a Python installed under /tmp brings its own
        os.symlink(cfg["home"], new + "/tmp")
    os.makedirs(new + "/.old")
    os.chdir(new)
    if libc.syscall(cfg["pivot_root"], b".", b".old") != 0:
        fail("pivot_root")
    os.chdir("/")
    if libc.umount2(b"/.old", 2) != 0:
        fail("umount the old root")
    os.rmdir("/.old")
    mount(None, "/", None, REMOUNT | RDONLY | NOSUID | NODEV)
    libc.sethostname(b"sandbox", 7)  # not the host's name
    if cfg["uid"] is None:
        # Root of a user namespace of its own, with every capability over its mounts: none
        # is kept, none comes back when the program is run as uid 0 (SECBIT_NOROOT, locked).
        for capability in range(64):
            libc.prctl(24, capability, 0, 0, 0)  # PR_CAPBSET_DROP
        libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT, CLEAR_ALL
        if libc.prctl(28, 0x2F, 0, 0, 0) != 0:  # PR_SET_SECUREBITS
            fail("securebits")
os.chdir(cfg["home"])
LINUX = sys.platform.startswith("linux")


def cap(kind, value):
    soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        if LINUX:  # elsewhere some limits do not exist (RLIMIT_AS on macOS)
            raise


cap(resource.RLIMIT_AS, cfg["memory_bytes"])
cap(resource.RLIMIT_CPU, cfg["cpu_seconds"])
cap(resource.RLIMIT_FSIZE, cfg["file_bytes"])
cap(resource.RLIMIT_CORE, 0)
cap(resource.RLIMIT_NOFILE, 256)
uid = cfg["uid"]
if uid is not None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        os._exit(125)
if cfg["nproc"] is not None:
    cap(resource.RLIMIT_NPROC, cfg["nproc"])
if LINUX and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    fail("no_new_privs")
if cfg["namespaces"]:
    libc.prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG: SIGKILL when the launcher dies
if cfg["seccomp"]:
    # A filter that refuses (EPERM) the calls confine.py lists and every call of another
    # ABI: memory that RLIMIT_AS does not count (memfd, System V shared memory), kernel
    # interfaces a function has no use for, new namespaces, sockets of other families,
    # the host's page cache and file locks; and some requests of the calls it looks into.
    rules = cfg["seccomp"]
    denied = rules["denied"]
    LD, JEQ, JSET, RET = 0x20, 0x15, 0x45, 0x06
    ALLOW, KILL = 0x7FFF0000, 0x80000000
    EPERM, ENOSYS, EAFNOSUPPORT = 0x00050000 | 1, 0x00050000 | 38, 0x00050000 | 97
    EOPNOTSUPP = 0x00050000 | 95
    NEW_NAMESPACES = 0x7E020000  # CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
    FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
    ARG0 = 16  # seccomp_data.args[0], its low 32 bits (little-endian machines only)
    prog = [
        (LD, 0, 0, 4),
        (JEQ, 1, 0, rules["arch"]),
        (RET, 0, 0, KILL),
        (LD, 0, 0, 0),
        (0x35, 0, 1, 0x40000000),  # JGE: the x32 ABI
        (RET, 0, 0, EPERM),
        (0x35, 0, 1, rules["newest"]),  # JGE: calls newer than the table
        (RET, 0, 0, ENOSYS),
        (JEQ, 0, 4, rules["prctl"]),
        (LD, 0, 0, ARG0),
        (JEQ, 0, 1, 1),  # PR_SET_PDEATHSIG: the run dies with its launcher, always
        (RET, 0, 0, EPERM),
        (RET, 0, 0, ALLOW),
        (LD, 0, 0, 0),
        (JEQ, 0, 1, rules["clone3"]),
        (RET, 0, 0, ENOSYS),
        (JEQ, 0, 4, rules["clone"]),
        (LD, 0, 0, ARG0),
        (JSET, 0, 1, NEW_NAMESPACES),
        (RET, 0, 0, EPERM),
        (RET, 0, 0, ALLOW),
    ]
    for nr, argument, refused in rules["requests"]:  # seccomp_data.args[argument]
        prog += [(JEQ, 0, len(refused) + 3, nr), (LD, 0, 0, ARG0 + 8 * argument)]
        prog += [(JEQ, len(refused) - n, 0, k) for n, k in enumerate(refused)]
        prog += [(RET, 0, 0, ALLOW), (RET, 0, 0, EPERM)]
    for nr in rules["missing"]:
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, ENOSYS)]
    for nr in rules["unsupported"]:
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, EOPNOTSUPP)]
    for nr in rules["sockets"]:
        prog += [(JEQ, 0, len(FAMILIES) + 3, nr), (LD, 0, 0, ARG0)]
        prog += [(JEQ, len(FAMILIES) - n, 0, f) for n, f in enumerate(FAMILIES)]
        prog += [(RET, 0, 0, EAFNOSUPPORT), (RET, 0, 0, ALLOW)]
    prog += [(JEQ, len(denied) - n, 0, nr) for n, nr in enumerate(denied)]
    prog += [(RET, 0, 0, ALLOW), (RET, 0, 0, EPERM)]

    class Filter(ctypes.Structure):
        _fields_ = [
            ("code", ctypes.c_ushort),
            ("jt", ctypes.c_ubyte),
            ("jf", ctypes.c_ubyte),
            ("k", ctypes.c_uint),
        ]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    table = (Filter * len(prog))(*[Filter(*p) for p in prog])
    program = Program(len(prog), table)
    if libc.prctl(22, 2, ctypes.byref(program), 0, 0) != 0:  # PR_SET_SECCOMP, FILTER
        fail("seccomp")
python = cfg["python"]
argv = [python, "-I", "-B"] + cfg["argv"]
if cfg["refuse_processes"]:
    argv = [python, "-I", "-B", "-c", cfg["refuser"]] + cfg["argv"]
os.execve(python, argv, cfg["env"])
