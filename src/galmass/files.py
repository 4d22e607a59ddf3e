"""Safe files: atomic writes, directory locks, checksums and one-line OS errors.

Every artefact galmass writes (suite and dataset shards, indices, manifests, models,
checkpoints, predictions, metrics, a user's ``--out`` file) goes through
:func:`atomic_path`: it is written under a per-writer temporary name in the same directory
(``.<name>.<pid>-<random>.partial``) and renamed into place only when complete, so a reader
never sees half a file, an interrupted or failed write leaves the previous file untouched,
and two writers never share a temporary file. A full disk, a read-only file system or a
missing permission becomes one :class:`~galmass.errors.GalmassError` line naming the file.

A directory that a build fills (a suite, the dataset, a model) is guarded by
:func:`directory_lock`: an advisory ``flock`` on ``.<name>.lock`` beside it, so a second
concurrent build waits for the first (and then finds its work done) instead of racing it.

Shards carry a SHA-256 checksum in a sidecar ``<shard>.sha256`` (:func:`write_checksum`,
:func:`verify_checksum`); a shard only counts as done when its checksum matches.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from galmass.errors import GalmassError, GalmassWarning, one_line

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "write_problem", "directory_lock", "remove_partials", "file_sha256", "write_checksum",
           "verify_checksum", "stored_checksum", "checksum_path", "move_aside", "refuse_input_as_output", "same_file",
           "read_json"]

#: errno -> the words of the one-line message.
_ERRNO_WORDS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied",
                errno.EPERM: "operation not permitted", errno.EFBIG: "file too large"}
_TEXT_WORDS = (("no space left", errno.ENOSPC), ("quota", errno.EDQUOT),
               ("read-only file system", errno.EROFS), ("permission denied", errno.EACCES))


def write_problem(exc: BaseException, directory: str | Path | None = None) -> str | None:
    """Why a write failed, in a few words, or None when it was not the file system's doing.

    Looks at the ``errno`` and then the text of the exception and of those it arose from
    (h5py and torch often lose the errno, and a failed write makes the file's close fail
    too), then at ``directory`` itself (no free blocks, mounted read-only, not writable).
    """
    seen: list[BaseException] = []
    e: BaseException | None = exc
    while e is not None and e not in seen and len(seen) < 20:
        seen.append(e)
        e = e.__cause__ or e.__context__
    for e in seen:
        code = getattr(e, "errno", None)
        if code in _ERRNO_WORDS:
            return _ERRNO_WORDS[code]
        text = str(e).lower()
        for words, code in _TEXT_WORDS:
            if words in text:
                return _ERRNO_WORDS[code]
    if directory is not None and isinstance(exc, (OSError, RuntimeError)):
        try:
            st = os.statvfs(directory)
        except OSError:
            return None
        if st.f_flag & os.ST_RDONLY:
            return _ERRNO_WORDS[errno.EROFS]
        if st.f_bavail == 0:
            return _ERRNO_WORDS[errno.ENOSPC]
        if not os.access(directory, os.W_OK):
            return _ERRNO_WORDS[errno.EACCES]
    return None


def _cannot_write(path: Path, exc: BaseException) -> GalmassError | None:
    problem = write_problem(exc, path.parent if path.parent.exists() else None)
    if problem is None:
        return None
    return GalmassError(f"cannot write {path}: {problem}")


def _mkdir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise GalmassError(f"cannot create the directory {directory}: "
                           f"{write_problem(exc) or one_line(exc)}") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path to write ``path`` to; renamed into place when the block succeeds.

    The temporary file (``.<name>.<pid>-<random>.partial`` in the same directory) is
    removed when the block fails. A full disk, a read-only file system or a missing
    permission raises one :class:`GalmassError` line naming ``path``.

    Examples
    --------
    >>> with atomic_path("out.h5") as tmp:            # doctest: +SKIP
    ...     with h5py.File(tmp, "w") as f: ...
    """
    path = Path(path)
    _mkdir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.partial")
    # a writer that fails (h5py on a full disk) also fails in its objects' destructors, which
    # print through sys.excepthook and sys.unraisablehook; those echoes are held back and
    # dropped with the failed write, which is reported once, below
    held: list[tuple[Callable[..., Any], tuple]] = []
    hooks = sys.unraisablehook, sys.excepthook
    sys.unraisablehook = lambda *a: held.append((hooks[0], a))
    sys.excepthook = lambda *a: held.append((hooks[1], a))
    try:
        yield tmp
        if not tmp.exists():
            raise GalmassError(f"internal error: nothing was written to {tmp}")
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        held.clear()
        err = None  # diagnosed before the temporary file is removed (which frees space)
        if isinstance(exc, (OSError, RuntimeError)) and not isinstance(exc, GalmassError):
            err = _cannot_write(path, exc)
        with contextlib.suppress(OSError):
            tmp.unlink()
        if err is not None:
            raise err from None
        raise
    finally:
        sys.unraisablehook, sys.excepthook = hooks
        for hook, args in held:  # a successful write's destructor problems are still shown
            hook(*args)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def read_json(path: str | Path, what: str, fix: str = "rebuild the model") -> Any:
    """The JSON of a file; an unreadable, non-UTF-8 or invalid file raises one line naming it
    (and ``fix``, what the user should do about a corrupt file)."""
    path = Path(path)
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise GalmassError(f"{what}: cannot read {path}: {one_line(exc)}") from None
    except UnicodeDecodeError:
        raise GalmassError(f"{path} is corrupt: not UTF-8 text; {fix}") from None
    except json.JSONDecodeError as exc:
        raise GalmassError(f"{path} is corrupt: not valid JSON ({exc}); {fix}") from None


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 1) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (:func:`atomic_path`)."""
    return atomic_write_text(path, json.dumps(obj, indent=indent))


# --------------------------------------------------------------------------- locks
def _lock_file(directory: Path) -> Path:
    return directory.parent / f".{directory.name}.lock"


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096).decode() or "{}")
        return (f"pid {info.get('pid', '?')} on {info.get('host', '?')} "
                f"({info.get('command', '?')}, since {info.get('since', '?')})")
    except (OSError, ValueError):
        return "another process"


@contextlib.contextmanager
def directory_lock(directory: str | Path, what: str, *, wait: bool = True,
                   say: Callable[[str], None] | None = None) -> Iterator[bool]:
    """Hold an exclusive advisory lock on ``directory`` (its ``.<name>.lock`` beside it).

    A second holder waits (saying once, on stderr, who holds it) or, with ``wait=False``,
    raises one :class:`GalmassError` line naming the holder. Where the lock file cannot be
    created because the file system is read-only, nobody can write there either: the
    block runs without a lock (yields False) and any write in it fails with a clear line.
    Also removes the ``*.partial`` files that dead writers left in ``directory``.
    """
    import fcntl

    directory = Path(directory)
    lock = _lock_file(directory)
    fd = None
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        problem = write_problem(exc, lock.parent if lock.parent.exists() else None)
        if problem is None or not directory.is_dir():
            raise GalmassError(f"cannot lock {directory} ({lock}): {problem or one_line(exc)}") from None
    if fd is None:  # read-only: nobody can build here
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise GalmassError(f"{what} in {directory} is being built by {holder}; wait for it "
                                   f"to finish or stop it") from None
            (say or (lambda m: print(m, file=sys.stderr, flush=True)))(
                f"galmass: waiting for {holder}, which is building {what} in {directory}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "command": " ".join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))[:200],
                "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        remove_partials(directory)
        yield True
    finally:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def remove_partials(directory: str | Path) -> int:
    """Remove the temporary ``*.partial`` files below ``directory``; returns how many.

    Only safe while holding :func:`directory_lock` on it (then every such file is a dead
    writer's).
    """
    directory = Path(directory)
    n = 0
    if directory.is_dir():
        for p in directory.rglob("*.partial"):
            with contextlib.suppress(OSError):
                if p.is_dir():
                    continue
                p.unlink()
                n += 1
    return n


# --------------------------------------------------------------------------- checksums
def file_sha256(path: str | Path, chunk: int = 1 << 22) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def checksum_path(path: str | Path) -> Path:
    """The checksum sidecar of ``path``: ``<path>.sha256``."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def write_checksum(path: str | Path, digest: str | None = None) -> str:
    """Store the SHA-256 of ``path`` (or ``digest``) in its sidecar, atomically; returns it."""
    digest = digest or file_sha256(path)
    atomic_write_text(checksum_path(path), f"{digest}  {Path(path).name}\n")
    return digest


def stored_checksum(path: str | Path) -> str | None:
    """The SHA-256 stored beside ``path`` (its sidecar), or None when there is none or it
    cannot be read."""
    try:
        return checksum_path(path).read_text().split()[0]
    except (OSError, IndexError, UnicodeDecodeError):
        return None


def verify_checksum(path: str | Path) -> bool | None:
    """True: ``path`` matches its stored checksum; False: it does not, or is unreadable;
    None: ``path`` exists but has no checksum stored (a legacy file)."""
    path = Path(path)
    if not path.is_file():
        return False
    if not checksum_path(path).is_file():
        return None
    stored = stored_checksum(path)
    try:
        return stored is not None and stored == file_sha256(path)
    except OSError:
        return False


def move_aside(path: str | Path, tag: str = "stale") -> Path:
    """Rename ``path`` (file or directory) to ``<name>.<tag>-<k>`` (first free k); return it.

    Nothing is ever deleted: a stale or corrupt artefact is kept for inspection.
    """
    path = Path(path)
    k = 1
    while (dest := path.with_name(f"{path.name}.{tag}-{k}")).exists():
        k += 1
    os.replace(path, dest)
    return dest


# --------------------------------------------------------------------------- inputs vs outputs
def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file (the same inode, or the same resolved path)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def refuse_input_as_output(outputs: dict[str, str | Path | None], inputs: list[str | Path]) -> None:
    """Raise one :class:`GalmassError` line if an output would overwrite an input or another output.

    ``outputs`` maps an option name (e.g. ``"--out"``) to its path (None: not asked for).
    """
    given = [(opt, Path(p)) for opt, p in outputs.items() if p is not None]
    for opt, p in given:
        for src in inputs:
            if isinstance(src, (str, Path)) and same_file(p, src):
                raise GalmassError(f"{opt} {p} is the input catalogue {src}; galmass never overwrites "
                                   f"an input: choose another output file")
    for i, (opt, p) in enumerate(given):
        for opt2, p2 in given[:i]:
            if same_file(p, p2):
                raise GalmassError(f"{opt} and {opt2} name the same file {p}; give them different names")


# --------------------------------------------------------------------------- torch files
def save_torch(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically (:func:`atomic_path`)."""
    import torch

    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return path


def load_torch(path: str | Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)``; any failure raises one line naming ``what``.

    Only tensors and plain containers load: a pickle carrying code is refused, never run.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise GalmassError(f"{what}: {path} is missing" if not path.exists() else f"{what}: {path} is not a file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise GalmassError(f"{what}: {path} is not plain weights (refused to unpickle it: "
                           f"{one_line(exc)[:120]})") from None
    except Exception as exc:  # EOFError, RuntimeError, OSError...: truncated or foreign
        raise GalmassError(f"{what}: {path} is unreadable or truncated ({type(exc).__name__}: "
                           f"{one_line(exc)[:120]})") from None


def load_checkpoint(path: str | Path, what: str, keys: tuple[str, ...] = ()) -> dict | None:
    """A training checkpoint (:func:`load_torch`), or None when there is none to resume.

    A corrupt, truncated, foreign or incomplete checkpoint (lacking any of ``keys``) is
    moved aside to ``<name>.corrupt-<k>`` with one :class:`~galmass.errors.GalmassWarning`
    line, and training starts again from scratch.
    """
    import warnings

    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_torch(path, what)
        if not isinstance(state, dict) or not set(keys) <= set(state):
            raise GalmassError(f"{what}: {path} is not a complete checkpoint")
    except GalmassError as exc:
        moved = move_aside(path, "corrupt")
        warnings.warn(f"{exc}; moved aside to {moved.name}, training starts again", GalmassWarning,
                      stacklevel=2)
        return None
    return state


# --------------------------------------------------------------------------- HDF5
def h5_dataset(f: Any, name: str, **kwargs: Any) -> None:
    """``f.create_dataset(name, **kwargs)``, flushed at once.

    HDF5 allocates a chunked dataset's space when its chunks leave the cache, i.e. when
    Python happens to free the dataset handle (or at file close); flushing here fixes that
    moment, so the same contents always give the same bytes (a rebuilt shard is
    byte-identical, whatever the garbage collector did meanwhile).
    """
    f.create_dataset(name, **kwargs)
    f.flush()
