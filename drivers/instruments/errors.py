"""Errors of the lab-instrument drivers.

One root, three kinds:

- :class:`InvalidValueError` -- the driver refused a value (a ``ValueError`` too).
  Settings are checked before any I/O, so nothing reached the instrument.
- :class:`UnexpectedReplyError` -- the instrument answered something the driver
  cannot interpret; the reply is kept verbatim.
- :class:`SCPIError` and its subclasses -- the instrument's own error queue
  reported an error. The code and the text are the instrument's, never rewritten;
  the subclass is chosen from the SCPI code class in :data:`SCPI_ERROR_CLASSES`.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import DriverError


class InstrumentError(DriverError):
    """Root of the lab-instrument drivers' errors (under the drivers' root, DriverError)."""


class InvalidValueError(InstrumentError, ValueError):
    """A value the driver refuses: names the field, the value and what is allowed."""

    def __init__(self, name: str, value: Any, allowed: str, reason: str = "not allowed"):
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{name} = {value!r}: {reason}; allowed: {allowed}")


class UnexpectedReplyError(InstrumentError):
    """The instrument answered something the driver cannot interpret."""

    def __init__(self, what: str, reply: Any, expected: str):
        self.what = what
        self.reply = reply
        self.expected = expected
        super().__init__(f"{what}: the instrument replied {reply!r}; expected {expected}")


class SCPIError(InstrumentError):
    """An error the instrument put in its error queue (``SYST:ERR?``).

    ``code`` is the SCPI error number, ``message`` the instrument's own text and
    ``source`` says which instrument reported it (name and VISA resource).
    """

    def __init__(self, code: int, message: str, source: str | None = None):
        self.code = code
        self.message = message
        self.source = source
        where = f"{source} reported " if source else ""
        super().__init__(f'{where}{code},"{message}"')


class CommandError(SCPIError):
    """SCPI -100..-199: the command was not understood (syntax, header, parameter type)."""


class ExecutionError(SCPIError):
    """SCPI -200..-299: understood but not executed (out of range, settings conflict)."""


class DeviceSpecificError(SCPIError):
    """SCPI -300..-399 and positive codes: a fault or condition of the instrument itself."""


class QueryError(SCPIError):
    """SCPI -400..-499: the output queue was read wrongly (unterminated, interrupted)."""


SCPI_ERROR_CLASSES: tuple[tuple[range, type[SCPIError]], ...] = (
    (range(-199, -99), CommandError),
    (range(-299, -199), ExecutionError),
    (range(-399, -299), DeviceSpecificError),
    (range(-499, -399), QueryError),
)
"""The one table from SCPI error-code class (SCPI-99 vol. 2, ch. 21) to error type.
Codes outside it (-500..-899 are events such as power-on) stay plain :class:`SCPIError`;
positive codes are instrument-specific and become :class:`DeviceSpecificError`."""


def scpi_error(code: int, message: str, source: str | None = None) -> SCPIError:
    """Build the typed error for an SCPI ``code``, keeping the instrument's ``message``."""
    if code > 0:
        return DeviceSpecificError(code, message, source)
    for codes, cls in SCPI_ERROR_CLASSES:
        if code in codes:
            return cls(code, message, source)
    return SCPIError(code, message, source)


# `-222,"Data out of range"`, `+0,"No error"`, or unquoted `0,No error`; the text
# may itself contain commas and semicolons (some instruments append the command).
_ERROR_REPLY = re.compile(r'\s*([+-]?\d+)\s*,\s*(.*?)\s*', re.DOTALL)


def parse_error_reply(reply: str) -> tuple[int, str]:
    """Split a ``SYST:ERR?`` reply into (code, message); code 0 means the queue is empty."""
    match = _ERROR_REPLY.fullmatch(reply) if isinstance(reply, str) else None
    if match is None:
        raise UnexpectedReplyError(
            "error queue (SYST:ERR?)", reply, '<code>,"<message>", e.g. 0,"No error"'
        )
    code, message = match.groups()
    if len(message) >= 2 and message[0] == message[-1] == '"':
        message = message[1:-1]
    return int(code), message
