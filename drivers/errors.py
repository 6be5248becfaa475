"""Errors of the board protocol. Each carries a SCPI-style code and message from one table."""

ERROR_CODES = {
    0: "No error",
    -100: "Command error",
    -102: "Syntax error",
    -108: "Parameter not allowed",
    -109: "Missing parameter",
    -113: "Undefined header",
    -161: "Invalid block data",
    -200: "Execution error",
    -221: "Settings conflict",
    -222: "Data out of range",
    -223: "Too much data",
    -224: "Illegal parameter value",
    -225: "Out of memory",
    -230: "Data corrupt or stale",
    -350: "Queue overflow",
    -363: "Input buffer overrun",
    100: "Board leased by another owner",
    101: "Lease token mismatch",
    102: "Not configured",
    103: "Configuration replaced",
    104: "Too many connections",
}
"""SCPI standard codes (negative) and the rig's own (positive)."""


class DriverError(Exception):
    """Root of the drivers' errors."""


class ProtocolError(DriverError, ValueError):
    """A malformed or refused message; ``code`` is from :data:`ERROR_CODES`."""

    def __init__(self, code: int, message: str, header: str | None = None):
        self.code = code
        self.message = message
        self.header = header
        """The refused command's header, where known (a server answers a refused query)."""
        super().__init__(f"{code}, {ERROR_CODES.get(code, 'Error')}: {message}")
