"""IEEE 488.2 definite-length arbitrary blocks: ``#<n><length><bytes>``.

``n`` is one digit 1..9 giving how many decimal digits ``length`` has. The
rig's protocol puts exactly one block at the end of a command or an answer,
followed by the newline terminator.
"""
from .errors import ProtocolError

MAX_BLOCK_BYTES = 64 * 1024 * 1024
"""Largest block either side accepts by default (64 MiB); both sides enforce it."""


def block_header(length: int) -> bytes:
    """The ``#<n><length>`` prefix of a block of ``length`` bytes."""
    if length < 0:
        raise ProtocolError(-222, f"block length {length} is negative")
    digits = str(length)
    if len(digits) > 9:
        raise ProtocolError(-223, f"block of {length} bytes needs more than 9 length digits")
    return b"#" + str(len(digits)).encode() + digits.encode()


def encode_block(payload: bytes, limit: int = MAX_BLOCK_BYTES) -> bytes:
    """``payload`` framed as a definite-length block; refuses one over ``limit`` bytes."""
    if len(payload) > limit:
        raise ProtocolError(-223, f"block of {len(payload)} bytes exceeds the limit of {limit} bytes")
    return block_header(len(payload)) + payload


def parse_block_header(prefix: bytes, limit: int = MAX_BLOCK_BYTES) -> tuple[int, int]:
    """(header length, payload length) of the block starting ``prefix``.

    ``prefix`` must hold at least the whole header (2 + n bytes). Raises
    :class:`ProtocolError` for a malformed header or a length over ``limit``.
    """
    if len(prefix) < 2 or prefix[:1] != b"#":
        raise ProtocolError(-161, f"a block must start with '#<digit>', got {bytes(prefix[:2])!r}")
    n = prefix[1] - ord("0")
    if not 1 <= n <= 9:
        raise ProtocolError(-161, f"block length digit count must be 1..9, got {chr(prefix[1])!r}"
                                  " (indefinite-length '#0' blocks are not accepted)")
    if len(prefix) < 2 + n:
        raise ProtocolError(-161, f"block header truncated: {bytes(prefix)!r}")
    digits = bytes(prefix[2:2 + n])
    if not digits.isdigit():
        raise ProtocolError(-161, f"block length {digits!r} is not a decimal number")
    length = int(digits)
    if length > limit:
        raise ProtocolError(-223, f"block of {length} bytes exceeds the limit of {limit} bytes")
    return 2 + n, length
