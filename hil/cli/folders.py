"""Default output folders of the commands: never one that exists already."""
import datetime as _dt
from pathlib import Path


def timestamp() -> str:
    """Now, UTC, as the default folder names carry it: ``20261201T091500``."""
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


def fresh_dir(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3`` ... if taken: a default never overwrites a report."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate
