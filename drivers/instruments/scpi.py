"""What both lab-instrument drivers share: the IEEE 488.2 common commands, the
error queue (read after every setting, so a refusal is raised where it happened),
and the validators and reply checks used by their declarative properties.

Validators run inside pymeasure's property setter before the command is formatted,
so a refused value never reaches the instrument. They wrap pymeasure's
``strict_range`` / ``strict_discrete_set`` only to name the property and the unit
in the message; nothing is ever clipped (no ``truncated_range``).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
from pymeasure.instruments import Instrument
from pymeasure.instruments.validators import strict_discrete_set, strict_range

from .errors import InvalidValueError, SCPIError, UnexpectedReplyError, parse_error_reply, scpi_error

MAX_QUEUED_ERRORS = 100
"""Most ``SYST:ERR?`` reads in one :meth:`SCPIInstrument.check_errors`. Real queues hold
10-30 entries; a queue that never reports 0 means a broken link, not more errors."""

# SCPI-99 vol. 1, 7.2.1.5: instruments send these numbers for NaN and +/-infinity.
_SCPI_NAN = 9.91e37
_SCPI_INF = 9.9e37


def _is_real(value: Any) -> bool:
    # bool is an int to Python, but True volts is a bug in the caller, not 1 V.
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _number(value: float) -> str:
    return f"{value:g}"


def in_range(name: str, unit: str) -> Callable[[Any, Collection[float]], float]:
    """Validator for a real number within ``values`` = (min, max), both inclusive."""

    def validate(value: Any, values: Collection[float]) -> float:
        lo, hi = min(values), max(values)
        allowed = f"{_number(lo)} {unit} to {_number(hi)} {unit}"
        if not _is_real(value):
            raise InvalidValueError(name, value, allowed, "not a real number, nothing sent")
        try:
            strict_range(value, values)
        except ValueError as exc:  # also NaN: every comparison with it is False
            raise InvalidValueError(name, value, allowed, "out of range, nothing sent") from exc
        return float(value)

    return validate


def one_of(name: str) -> Callable[[Any, Collection[Any]], Any]:
    """Validator for a member of ``values`` (the keys when ``values`` is a value map)."""

    def validate(value: Any, values: Collection[Any]) -> Any:
        allowed = ", ".join(repr(v) for v in values)
        if isinstance(value, np.bool_):
            value = bool(value)
        # True == 1 and 1 == True in Python; keep booleans and numbers apart.
        if isinstance(value, bool) != all(isinstance(v, bool) for v in values):
            raise InvalidValueError(name, value, allowed, "wrong type, nothing sent")
        try:
            strict_discrete_set(value, values)
        except (ValueError, TypeError) as exc:  # TypeError: unhashable value
            raise InvalidValueError(name, value, allowed, "not allowed, nothing sent") from exc
        return next(v for v in values if v == value)  # the canonical key, e.g. 1 for np.int64(1)

    return validate


def scpi_number(value: float) -> str:
    """Format a validated number for a command without losing digits (``repr`` round-trips)."""
    return repr(float(value))


def reading(name: str) -> Callable[[Any], float]:
    """Reply check for a number; decodes the SCPI NaN / infinity codes."""

    def process(reply: Any) -> float:
        if not _is_real(reply):
            raise UnexpectedReplyError(name, reply, "a number")
        value = float(reply)
        if value == _SCPI_NAN:
            return math.nan
        if abs(value) == _SCPI_INF:
            return math.copysign(math.inf, value)
        return value

    return process


def reply_in(name: str, replies: Mapping[Any, Any] | Collection[Any]) -> Callable[[Any], Any]:
    """Reply check for an enumerated reply (the values of a value map)."""
    expected = tuple(replies.values()) if isinstance(replies, Mapping) else tuple(replies)

    def process(reply: Any) -> Any:
        if reply not in expected:
            raise UnexpectedReplyError(name, reply, "one of " + ", ".join(map(repr, expected)))
        return reply

    return process


def _status_byte(reply: Any) -> int:
    if not (_is_real(reply) and float(reply).is_integer() and 0 <= reply <= 255):
        raise UnexpectedReplyError("status", reply, "an integer 0 to 255")
    return int(reply)


class SCPIInstrument(Instrument):
    """An SCPI instrument reached through pyvisa (any backend: ``@py``, ``@sim``, ``@ivi``).

    Every setting is followed by a ``SYST:ERR?`` read, and the first queued error
    is raised as a typed :class:`~drivers.instruments.errors.SCPIError` carrying
    the instrument's text: a setting the instrument refused is never swallowed.
    """

    def __init__(self, adapter: Any, name: str, **kwargs: Any):
        # SCPI over LAN and USB ends every message with LF; pyvisa's binary-block
        # reader also needs the read termination to consume the block's last byte.
        kwargs.setdefault("read_termination", "\n")
        kwargs.setdefault("write_termination", "\n")
        super().__init__(adapter, name, includeSCPI=False, **kwargs)

    id = Instrument.measurement(
        "*IDN?",
        """Get the identification (str).

        Allowed: the instrument's text 'vendor,model,serial,firmware'.""",
        cast=str,
        maxsplit=0,
    )

    complete = Instrument.measurement(
        "*OPC?",
        """Get True once every pending operation has finished (bool; the query blocks until then).

        Allowed: True.""",
        values={True: 1},
        map_values=True,
        cast=int,
        get_process=reply_in("complete", (1,)),
    )

    status = Instrument.measurement(
        "*STB?",
        """Get the IEEE 488.2 status byte (int, bit field).

        Allowed: 0 to 255.""",
        cast=int,
        get_process=_status_byte,
    )

    options = Instrument.measurement(
        "*OPT?",
        """Get the installed options (str).

        Allowed: the instrument's comma-separated option codes, '0' when none.""",
        cast=str,
        maxsplit=0,
    )

    next_error = Instrument.measurement(
        ":SYST:ERR?",
        """Get the oldest entry of the error queue as (code, message); removes it.

        Allowed: code 0 with 'No error' when the queue is empty, otherwise an SCPI
        error number (negative: standard, positive: instrument-specific) and the
        instrument's own text. Use :meth:`check_errors` to read them all.""",
        cast=str,
        maxsplit=0,
        get_process=parse_error_reply,
    )

    @property
    def _source(self) -> str:
        # Which instrument reported an error: a rig drives several of each kind.
        resource = getattr(self.adapter, "resource_name", None)
        return f"{self.name} at {resource}" if resource else self.name

    def check_errors(self) -> list[SCPIError]:
        """Read the whole error queue and return its entries as typed errors, oldest first.

        Nothing is raised for the instrument's errors; an empty list means the queue was empty.
        """
        errors: list[SCPIError] = []
        for _ in range(MAX_QUEUED_ERRORS):
            code, message = self.next_error
            if code == 0:
                return errors
            errors.append(scpi_error(code, message, self._source))
        raise UnexpectedReplyError(
            "error queue (SYST:ERR?)",
            f"{MAX_QUEUED_ERRORS} errors without an empty queue; last {errors[-1]}",
            '0,"No error" within that many reads',
        )

    def check_set_errors(self) -> list[SCPIError]:
        """Raise the first queued error after a setting (the others are attached as notes)."""
        errors = self.check_errors()
        if errors:
            first = errors[0]
            for later in errors[1:]:
                first.add_note(f"also queued: {later}")
            raise first
        return errors

    def clear(self) -> None:
        """Clear the status registers and the error queue (``*CLS``)."""
        self.write("*CLS")

    def reset(self) -> None:
        """Return to the power-on defaults (``*RST``) and clear the error queue (``*CLS``).

        ``*RST`` alone keeps old errors, which would then be raised by the next setting.
        """
        self.write("*RST")
        self.write("*CLS")

    def close(self) -> None:
        """Close the VISA connection."""
        self.adapter.close()

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        try:
            self.shutdown()
        finally:
            self.close()


def number_control(control: Callable[..., Any], get_command: str, set_command: str, docs: str, *,
                   name: str, unit: str, limits: tuple[float, float], **extra: Any) -> property:
    """A real-number control: strict range (nothing clipped), full-precision set, checked
    reading, and the error queue read after every setting. ``control`` is
    ``Instrument.control`` or ``Channel.control``."""
    return control(get_command, set_command, docs, validator=in_range(name, unit), values=limits,
                   set_process=scpi_number, get_process=reading(name), check_set_errors=True, **extra)


def choice_control(control: Callable[..., Any], get_command: str, set_command: str, docs: str, *,
                   name: str, choices: Mapping[Any, Any], cast: type = str) -> property:
    """An enumerated control through a value map: the key is set, the instrument's reply must
    be one of the map's values, and the error queue is read after every setting."""
    return control(get_command, set_command, docs, validator=one_of(name), values=choices,
                   map_values=True, cast=cast, get_process=reply_in(name, choices), check_set_errors=True)
