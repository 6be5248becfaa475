"""Atomic file writes: readers see no file or the whole file, never a part of it."""
import os
import secrets
import time
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Callable

try:
    import fcntl
except ImportError:          # not POSIX: leftovers are not swept
    fcntl = None

LEFTOVER_MIN_AGE_S = 60.0
"""A temporary file is only taken for a leftover once it is this old (seconds): it covers the
instant between a writer creating its file and locking it."""


def write_atomic(path: str | os.PathLike, write: Callable[[BinaryIO], object]) -> None:
    """Calls ``write(f)`` on a temporary file next to ``path``, syncs it, then moves it
    onto ``path`` with ``os.replace``.

    The temporary file is in the same folder (so the move is a rename, atomic on
    POSIX and Windows), is named '.<name>.<random>.tmp', and is removed again if
    ``write`` raises. It is created with the ordinary permissions (umask), unlike
    ``tempfile.mkstemp``'s 0600, so reports and results stay readable by the team.
    """
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "xb") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)     # released when the file is closed
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """:func:`write_atomic` for UTF-8 text."""
    data = text.encode("utf-8")
    write_atomic(path, lambda f: f.write(data))


def fsync_dir(folder: str | os.PathLike) -> None:
    """Makes renames inside ``folder`` durable (POSIX; a no-op elsewhere).

    Without it a power cut could lose the new folder entries even though a
    later step (an index row) was committed.
    """
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_leftovers(candidates: Iterable[Path], *, min_age_s: float = LEFTOVER_MIN_AGE_S) -> list[Path]:
    """Removes the temporary files of :func:`write_atomic` among ``candidates`` that no
    live writer holds: what a killed process left behind. Returns those removed.

    A file is removed only if it is at least ``min_age_s`` seconds old and its lock
    can be taken (its writer is gone); a file being written is never touched.
    """
    if fcntl is None:
        return []
    removed = []
    now = time.time()
    for path in candidates:
        if not (path.name.startswith(".") and path.name.endswith(".tmp")):
            continue
        try:
            if now - path.stat().st_mtime < min_age_s:
                continue
            with open(path, "rb") as f:
                try:
                    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue            # a writer holds it
                path.unlink()
        except FileNotFoundError:       # its writer finished (or another sweep took it) meanwhile
            continue
        removed.append(path)
    return removed
