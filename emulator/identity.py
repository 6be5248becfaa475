"""A virtual chip's identity, for every family: its serial string, hashed to a 64-bit seed."""
import hashlib

from .errors import InvalidInput

DEFAULT_SERIAL = "EMU-0001"
SERIAL_MAX_LENGTH = 64


def check_serial(serial: str) -> str:
    """Serials are printable ASCII without commas (they travel in ``*IDN?``)."""
    if not isinstance(serial, str) or not serial:
        raise InvalidInput("serial", f"{serial!r} is not a non-empty string")
    if len(serial) > SERIAL_MAX_LENGTH:
        raise InvalidInput("serial", f"{serial!r} is longer than {SERIAL_MAX_LENGTH} characters")
    bad = [c for c in serial if not (c.isascii() and c.isprintable()) or c in ",;"]
    if bad:
        raise InvalidInput(
            "serial", f"{serial!r} contains {bad[0]!r}; allowed: printable ASCII without ',' or ';'"
        )
    return serial


def serial_to_seed(serial: str) -> int:
    """The chip seed: the first 8 bytes of SHA-256 of the serial (stable across versions)."""
    digest = hashlib.sha256(check_serial(serial).encode("ascii")).digest()
    return int.from_bytes(digest[:8], "little")
