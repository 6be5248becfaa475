"""Oscilloscope: a four-channel SCPI scope, declared property by property, with a
waveform fetch that reads an IEEE 488.2 definite-length binary block.

The command set is modelled on the Keysight InfiniiVision ``:WAVeform`` subsystem,
with a shorter preamble (see :class:`WaveformPreamble`). A waveform is fetched in
three steps: select the source (``:WAV:SOUR``, error queue checked), read the
preamble (``:WAV:PRE?``) that says how the samples are encoded and scaled, then
read the samples (``:WAV:DATA?``) with pyvisa's own binary-block reader.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pyvisa
from pymeasure.instruments import Channel, Instrument

from .errors import InvalidValueError, UnexpectedReplyError
from .scpi import SCPIInstrument, choice_control, number_control, one_of, reply_in

CHANNELS = (1, 2, 3, 4)
"""Analog input channels, numbered as on the front panel."""

MAX_WAVEFORM_POINTS = 1 << 24
"""Largest record fetched (samples). Checked against the preamble before the data is
requested, so a garbled preamble cannot make the driver wait for gigabytes."""

SAMPLE_FORMATS = {"int8": "BYTE", "int16": "WORD"}
"""``waveform_format`` values and the keywords the instrument uses for them."""

_PREAMBLE_FORMATS = {0: "b", 1: "h"}  # preamble format code -> struct datatype (int8, int16)

_ON_OFF = {True: 1, False: 0}
_CHANNEL_SOURCES = {ch: f"CHAN{ch}" for ch in CHANNELS}
TRIGGER_SOURCES = {**_CHANNEL_SOURCES, "external": "EXT"}
"""``trigger_source`` values: a channel number or 'external'."""
TRIGGER_SLOPES = {"rising": "POS", "falling": "NEG", "either": "EITH"}
"""``trigger_slope`` values."""
ACQUISITION_STATES = {"armed": "ARM", "ready": "READY", "triggered": "TRIG", "stopped": "STOP"}
"""``acquisition_state`` values: filling the pre-trigger record, waiting for the trigger,
filling the post-trigger record, finished (the record can be fetched)."""


@dataclasses.dataclass(frozen=True)
class Waveform:
    """One acquired record of one channel, in physical units. Arrays are read-only."""

    time: np.ndarray
    """Sample times (s), relative to the trigger; 1-D, finite."""
    voltage: np.ndarray
    """Sample voltages (V); 1-D, finite, same length as ``time``."""
    channel: int
    """Channel the record came from; one of :data:`CHANNELS`."""
    x_increment: float
    """Time between samples (s); > 0."""
    y_increment: float
    """Voltage of one ADC code (V); > 0: the resolution of ``voltage``."""

    def __post_init__(self) -> None:
        for name in ("time", "voltage"):
            array = np.array(getattr(self, name), dtype=np.float64)  # a copy the caller cannot alias
            if array.ndim != 1:
                raise InvalidValueError(name, f"array of shape {array.shape}", "a 1-D array")
            if not np.all(np.isfinite(array)):
                raise InvalidValueError(name, "array with NaN or infinity", "finite values")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        if self.time.shape != self.voltage.shape:
            raise InvalidValueError(
                "voltage", f"{self.voltage.size} samples", f"as many as time ({self.time.size})"
            )
        if self.channel not in CHANNELS:
            raise InvalidValueError("channel", self.channel, ", ".join(map(str, CHANNELS)))
        for name in ("x_increment", "y_increment"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise InvalidValueError(name, value, "a finite number > 0")


@dataclasses.dataclass(frozen=True)
class WaveformPreamble:
    """How the instrument encodes the record it will send (reply of ``:WAV:PRE?``).

    Reply: ``<format>,<points>,<x_increment>,<x_origin>,<y_increment>,<y_origin>``;
    sample ``i`` with code ``c`` is at ``x_origin + i * x_increment`` seconds and
    ``y_origin + c * y_increment`` volts.
    """

    datatype: str
    """struct datatype of one sample: 'b' (format 0, int8) or 'h' (format 1, int16 little-endian)."""
    points: int
    """Samples in the record; 0 to :data:`MAX_WAVEFORM_POINTS`."""
    x_increment: float
    """Time between samples (s); > 0."""
    x_origin: float
    """Time of the first sample relative to the trigger (s)."""
    y_increment: float
    """Voltage of one code (V); > 0."""
    y_origin: float
    """Voltage of code 0 (V)."""

    @classmethod
    def from_reply(cls, reply: str) -> WaveformPreamble:
        """Parse and check a ``:WAV:PRE?`` reply."""
        expected = "6 numbers: format (0 or 1), points, x_increment > 0, x_origin, y_increment > 0, y_origin"
        try:
            fmt, points, x_inc, x_org, y_inc, y_org = (float(field) for field in reply.split(","))
        except ValueError as exc:
            raise UnexpectedReplyError("waveform_preamble", reply, expected) from exc
        numbers_ok = all(math.isfinite(v) for v in (x_inc, x_org, y_inc, y_org)) and x_inc > 0 and y_inc > 0
        if fmt not in _PREAMBLE_FORMATS or not points.is_integer() or points < 0 or not numbers_ok:
            raise UnexpectedReplyError("waveform_preamble", reply, expected)
        if points > MAX_WAVEFORM_POINTS:
            raise UnexpectedReplyError(
                "waveform_preamble", reply, f"at most {MAX_WAVEFORM_POINTS} points"
            )
        return cls(_PREAMBLE_FORMATS[int(fmt)], int(points), x_inc, x_org, y_inc, y_org)

    def waveform(self, channel: int, codes: np.ndarray) -> Waveform:
        """Scale raw sample codes of ``channel`` to a :class:`Waveform` in seconds and volts."""
        if codes.size != self.points:
            raise UnexpectedReplyError(
                "waveform data", f"{codes.size} samples", f"{self.points} as the preamble announced"
            )
        index = np.arange(codes.size, dtype=np.float64)
        return Waveform(
            time=self.x_origin + index * self.x_increment,
            voltage=self.y_origin + codes.astype(np.float64) * self.y_increment,
            channel=channel,
            x_increment=self.x_increment,
            y_increment=self.y_increment,
        )


class ScopeChannel(Channel):
    """One analog input of the :class:`Oscilloscope` (``scope.channels[2]`` or ``scope.ch_2``)."""

    scale = number_control(
        Channel.control, ":CHAN{ch}:SCAL?", ":CHAN{ch}:SCAL %s",
        """Control the vertical scale (float): volts per division of the screen's 8 divisions.

        Unit: V/div. Range: 0.001 V/div to 10 V/div.""",
        name="channel scale", unit="V/div", limits=(1e-3, 10.0),
    )

    enabled = choice_control(
        Channel.control, ":CHAN{ch}:DISP?", ":CHAN{ch}:DISP %d",
        """Control whether the channel is acquired and displayed (bool).

        Allowed: True, False.""",
        name="channel enabled", choices=_ON_OFF, cast=int,
    )


class Oscilloscope(SCPIInstrument):
    """A four-channel oscilloscope: timebase, per-channel scale, edge trigger, single
    acquisitions and binary waveform transfer.

    :param adapter: a VISA resource name (e.g. ``"TCPIP::192.168.0.30::INSTR"``)
        or a pymeasure adapter.
    :param kwargs: passed to pymeasure's ``VISAAdapter``, e.g. ``visa_library="scope.yaml@sim"``.
    """

    channels = Instrument.MultiChannelCreator(ScopeChannel, CHANNELS)

    def __init__(self, adapter: Any, name: str = "Oscilloscope", **kwargs: Any):
        super().__init__(adapter, name, **kwargs)

    timebase_scale = number_control(
        Instrument.control, ":TIM:SCAL?", ":TIM:SCAL %s",
        """Control the horizontal scale (float): seconds per division of the screen's 10 divisions.

        Unit: s/div. Range: 1e-09 s/div to 50 s/div.""",
        name="timebase_scale", unit="s/div", limits=(1e-9, 50.0),
    )

    trigger_source = choice_control(
        Instrument.control, ":TRIG:SOUR?", ":TRIG:SOUR %s",
        """Control the edge trigger's source (int or str): a channel number or the rear input.

        Allowed: 1, 2, 3, 4, 'external'.""",
        name="trigger_source", choices=TRIGGER_SOURCES,
    )

    trigger_level = number_control(
        Instrument.control, ":TRIG:LEV?", ":TRIG:LEV %s",
        """Control the edge trigger's threshold (float), in the source's input voltage.

        Unit: V. Range: -50 V to 50 V (the instrument may refuse a level off its screen).""",
        name="trigger_level", unit="V", limits=(-50.0, 50.0),
    )

    trigger_slope = choice_control(
        Instrument.control, ":TRIG:SLOP?", ":TRIG:SLOP %s",
        """Control which crossing of the level triggers (str).

        Allowed: 'rising', 'falling', 'either'.""",
        name="trigger_slope", choices=TRIGGER_SLOPES,
    )

    acquisition_state = Instrument.measurement(
        ":TRIG:STAT?",
        """Get where the acquisition is (str); fetch a record once it is 'stopped'.

        Allowed: 'armed', 'ready', 'triggered', 'stopped'.""",
        values=ACQUISITION_STATES,
        map_values=True,
        cast=str,
        get_process=reply_in("acquisition_state", ACQUISITION_STATES),
    )

    waveform_source = choice_control(
        Instrument.control, ":WAV:SOUR?", ":WAV:SOUR %s",
        """Control which channel ``:WAV:PRE?`` and ``:WAV:DATA?`` describe (int).

        Allowed: 1, 2, 3, 4.""",
        name="waveform_source", choices=_CHANNEL_SOURCES,
    )

    waveform_format = choice_control(
        Instrument.control, ":WAV:FORM?", ":WAV:FORM %s",
        """Control the sample encoding of ``:WAV:DATA?`` (str): one signed byte or one signed
        little-endian 16-bit word per sample. The fetch decodes whatever the preamble announces.

        Allowed: 'int8', 'int16'.""",
        name="waveform_format", choices=SAMPLE_FORMATS,
    )

    waveform_preamble = Instrument.measurement(
        ":WAV:PRE?",
        """Get the encoding and scaling of the selected channel's record (WaveformPreamble).

        Unit: x_increment and x_origin in s, y_increment and y_origin in V.""",
        cast=str,
        maxsplit=0,
        get_process=WaveformPreamble.from_reply,
    )

    def arm(self) -> None:
        """Start one acquisition (``:SING``): the scope fills one record on the next trigger, then stops."""
        self.write(":SING")
        self.check_set_errors()

    def force_trigger(self) -> None:
        """Trigger now (``:TRIG:FORC``), whatever the trigger condition, to finish an armed acquisition."""
        self.write(":TRIG:FORC")
        self.check_set_errors()

    def fetch_waveform(self, channel: int) -> Waveform:
        """Read the last record of ``channel`` (one of :data:`CHANNELS`), in seconds and volts.

        The channel is checked before any I/O; a malformed preamble or block, or a block
        whose sample count differs from the preamble's, raises
        :class:`~drivers.instruments.errors.UnexpectedReplyError`.
        """
        channel = one_of("channel")(channel, CHANNELS)
        self.waveform_source = channel
        preamble = self.waveform_preamble
        self.write(":WAV:DATA?")
        return preamble.waveform(channel, self._read_block(preamble.datatype))

    def _read_block(self, datatype: str) -> np.ndarray:
        # pyvisa's reader parses #<n><len>, then reads exactly <len> bytes and the
        # termination, in chunks, so a data byte equal to LF does not end the read.
        try:
            return self.adapter.connection.read_binary_values(
                datatype=datatype,
                is_big_endian=False,
                header_fmt="ieee",
                container=np.array,
                expect_termination=True,
            )
        except (pyvisa.errors.InvalidBinaryFormat, ValueError) as exc:
            raise UnexpectedReplyError(
                "waveform data", str(exc), "an IEEE 488.2 definite-length block #<n><length><bytes>"
            ) from exc
