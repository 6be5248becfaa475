"""Atomic file writes: readers see no file or the whole file, never a part of it."""
import os
import secrets
from contextlib import suppress
from pathlib import Path
from typing import BinaryIO, Callable


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
