"""Writing an output file safely: the one place that knows how.

Every output vsr makes (a video, an image, weights, a cache entry, a manifest) goes through the
same steps, so that no error, Ctrl-C, ``kill`` or second run can leave a partial or lost file:

1. :func:`check_target` refuses what may not be written (a folder, an existing file without
   ``-y``, a missing or read-only folder, the input itself), before any work;
2. :func:`claim_output` takes an exclusive claim on the target for the whole run, so a second run
   into the same target is refused at once instead of silently replacing the first one's output;
   it also removes the temporary files that runs killed outright (SIGKILL, power loss) left
   behind, when it can prove they are theirs;
3. the output is written to a hidden temporary file beside the target (:func:`create_temp`: same
   filesystem, so the rename is atomic; permissions from the umask, as for any new file), whose
   name records the host and pid of the process that owns it;
4. :func:`commit` renames it over the target only when complete (without ``overwrite``, it refuses
   to replace a file that appeared meanwhile); :func:`atomic_write` does 3 and 4 around a block.

Only the process that wrote a temporary file, or a later run that finds its owner gone, removes it.
"""
from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import OutputError

PART_SUFFIX = ".vsr-part"
LOCK_SUFFIX = ".vsr-lock"

# .NAME.HOST.PID.TOKEN.vsr-part: HOST and PID say whose it is; TOKEN keeps two files of one process apart.
_PART_RE = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9-]+)\.(?P<pid>\d+)\.[0-9a-f]{8}" + re.escape(PART_SUFFIX) + "$")


def _host() -> str:
    """This machine's short name, as it may appear in a file name (a part on shared storage is
    judged only by the machine that made it: a pid means nothing on another one)."""
    name = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname().split(".")[0])[:32]
    return name or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def check_target(target: str | os.PathLike, overwrite: bool, source: str | os.PathLike | None = None) -> None:
    """OutputError unless ``target`` can be written: not a folder, not there (or ``overwrite``), in
    an existing writable folder, and not the input ``source`` itself (even with ``overwrite``: the
    input would be gone before it is read)."""
    target = Path(target)
    if target.is_dir():
        raise OutputError(f"{target}: is a directory")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists (use -y to overwrite)")
    parent = target.parent
    if not parent.is_dir():
        raise OutputError(f"{parent}: output directory does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"{parent}: output directory is not writable")
    if source is not None and str(source) != "-" and same_file(source, target):
        raise OutputError(f"{target}: is the input; write the output elsewhere")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether both paths exist and are the same file (links and other spellings included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def create_temp(target: str | os.PathLike) -> Path:
    """An empty hidden file beside ``target``, owned (by name) by this process."""
    target = Path(target)
    for _ in range(10):
        temp = target.parent / f".{target.name}.{_host()}.{os.getpid()}.{secrets.token_hex(4)}{PART_SUFFIX}"
        try:
            fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)  # 0o666: the umask applies, as for any new file
        except FileExistsError:
            continue
        except OSError as exc:
            raise OutputError(f"{target.parent}: output directory is not writable ({exc.strerror})") from None
        os.close(fd)
        return temp
    raise OutputError(f"{target.parent}: cannot create a temporary file")


def remove_temp(temp: str | os.PathLike | None) -> None:
    """Remove a temporary file if it is still there."""
    if temp is not None:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(temp: str | os.PathLike, target: str | os.PathLike, overwrite: bool = True, fsync: bool = False) -> None:
    """Rename the complete ``temp`` to ``target``. Without ``overwrite``, a ``target`` that appeared
    since the checks (another program) is kept and OutputError raised; ``fsync`` makes the content
    and the rename durable before returning (for files a crash must not lose, such as manifests)."""
    temp, target = Path(temp), Path(target)
    if fsync:
        _fsync(temp)
    if overwrite:
        os.replace(temp, target)
    else:
        try:
            os.link(temp, target)  # fails if target exists: the no-clobber rename POSIX offers
        except FileExistsError:
            remove_temp(temp)
            raise OutputError(f"{target}: already exists (use -y to overwrite); another program wrote it during this run") from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            if target.exists():  # a filesystem without hard links: check, then rename
                remove_temp(temp)
                raise OutputError(f"{target}: already exists (use -y to overwrite)") from None
            os.replace(temp, target)
        else:
            os.unlink(temp)
    if fsync:
        _fsync(target.parent)


@contextmanager
def atomic_write(target: str | os.PathLike, overwrite: bool = True, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``target`` to write; on success it becomes ``target``
    (see :func:`commit`), on any error or interruption it is removed and ``target`` is untouched."""
    target = Path(target)
    temp = create_temp(target)
    try:
        yield temp
        commit(temp, target, overwrite, fsync)
    except BaseException:
        remove_temp(temp)
        raise


def write_atomically(path: str | os.PathLike, data: bytes, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` whole: another process (or a crash) never leaves a half-written file."""
    with atomic_write(path, fsync=fsync) as temp:
        temp.write_bytes(data)


def write_json_atomically(path: str | os.PathLike, document, indent: int | None = 2, fsync: bool = False,
                          default=None) -> None:
    """Write ``document`` as JSON, one closing newline, to ``path`` whole (:func:`write_atomically`).
    It is serialised before the file is made, so a document that is not JSON leaves nothing behind.
    ``default`` is :func:`json.dumps`'s: how to write what JSON lacks (``float`` for numpy's scalars)."""
    write_atomically(path, (json.dumps(document, indent=indent, default=default) + "\n").encode(), fsync=fsync)


def _parts_of(target: Path) -> list[tuple[Path, str, int]]:
    """Every temporary file of ``target`` in its folder, with the host and pid its name records."""
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    found = []
    for path in entries:
        m = _PART_RE.match(path.name)
        if m and m["name"] == target.name:
            found.append((path, m["host"], int(m["pid"])))
    return found


def own_parts(target: str | os.PathLike) -> list[Path]:
    """Temporary files of ``target`` made by this process. A job that holds the claim on
    ``target`` removes them all when it fails: an interrupt that lands between
    :func:`create_temp` making the file and the caller keeping its name would otherwise leave it."""
    host, pid = _host(), os.getpid()
    return sorted(path for path, h, p in _parts_of(Path(target)) if h == host and p == pid)


def stale_parts(target: str | os.PathLike) -> list[Path]:
    """Temporary files of ``target`` whose owner is provably gone: made on this machine by a
    process that no longer runs. (A reused pid makes a part look alive: then it is kept.)"""
    host = _host()
    return sorted(path for path, h, p in _parts_of(Path(target)) if h == host and p != os.getpid() and not _pid_alive(p))


def remove_stale_parts(target: str | os.PathLike) -> list[Path]:
    """Remove :func:`stale_parts` of ``target``; returns those removed."""
    removed = []
    for path in stale_parts(target):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            continue  # not ours to force: it stays, and nothing else depends on it
        removed.append(path)
    return removed


def lock_path(target: str | os.PathLike) -> Path:
    """The hidden file beside ``target`` that a run holds while it writes ``target``."""
    target = Path(target)
    return target.parent / f".{target.name}{LOCK_SUFFIX}"


@dataclass
class OutputClaim:
    """An exclusive claim on one output path, held from the start of a run to its end.

    It is an advisory lock (``flock``) on a hidden file beside the target: the kernel drops it when
    its process dies however it dies, so a killed run never blocks the next one. ``removed`` lists
    the stale temporary files of the target that taking the claim removed.
    """

    target: Path
    removed: list[Path] = field(default_factory=list)
    _fd: int | None = None

    def acquire(self) -> "OutputClaim":
        path = lock_path(self.target)
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputError(f"{self.target.parent}: output directory is not writable ({exc.strerror})") from None
            if not _try_lock(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise OutputError(f"{self.target}: another vsr run{owner} is writing it; wait for it to end or choose another output")
            # The file may have been removed (by its holder, ending) between open and lock: then
            # this lock is on a file nobody else sees, so start again with the new one.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {_host()}\n".encode())
        self._fd = fd
        self.removed = remove_stale_parts(self.target)
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(lock_path(self.target))  # while still locked: no one can hold a lock on it now
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> "OutputClaim":
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc) -> None:
        self.release()


def claim_output(target: str | os.PathLike) -> OutputClaim:
    """Take the exclusive claim on ``target`` (use as a context manager); OutputError when another
    run holds it."""
    return OutputClaim(Path(target)).acquire()


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # no flock (Windows): the claim is not exclusive there
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):  # a filesystem without locks
            return True
        raise
    return True


def _read_owner(fd: int) -> str:
    try:
        fields = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        return ""
    return f" (pid {fields[0]})" if fields and fields[0].isdigit() else ""


def digest_of(fields: dict, length: int = 16) -> str:
    """A short, stable hash of a dict (canonical JSON: sorted keys, no spaces; values that JSON
    cannot hold, such as paths, as their text): the key of a cache entry, the fingerprint of a
    run's settings."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The SHA-256 of a file's bytes, as hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
