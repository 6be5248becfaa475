"""Source-measure unit: a Keithley 2400-class SCPI SMU, declared property by property.

Each property names its SCPI command, its validator with the allowed range and,
where the instrument speaks in keywords, a value map. Ranges are the 2400's
full-scale limits; the instrument may refuse a value inside them for its own
reasons (a compliance beyond what the present source range allows), and that
refusal is read back from its error queue and raised after the setting.

Measurements use ``:MEAS:<function>?`` and expect exactly one reading; configure
a 2400 with ``:FORM:ELEM VOLT`` / ``CURR`` elements accordingly, or the reply is
refused with :class:`~drivers.instruments.errors.UnexpectedReplyError` rather
than guessed at.
"""

from __future__ import annotations

from typing import Any

from pymeasure.instruments import Instrument

from .errors import UnexpectedReplyError
from .scpi import SCPIInstrument, choice_control, number_control, reading

SOURCE_MODES = {"voltage": "VOLT", "current": "CURR"}
"""``source_mode`` values and the keywords the instrument uses for them."""

_ON_OFF = {True: 1, False: 0}


def _single_reading(name: str):
    def refuse(replies: list[Any]) -> Any:
        raise UnexpectedReplyError(name, ",".join(map(str, replies)), "exactly one reading")

    return refuse


class SourceMeasureUnit(SCPIInstrument):
    """A source-measure unit: sources a voltage or a current, limits the other, measures both.

    :param adapter: a VISA resource name (e.g. ``"TCPIP::192.168.0.20::5025::SOCKET"``)
        or a pymeasure adapter.
    :param kwargs: passed to pymeasure's ``VISAAdapter``, e.g. ``visa_library="smu.yaml@sim"``.
    """

    def __init__(self, adapter: Any, name: str = "Source-measure unit", **kwargs: Any):
        super().__init__(adapter, name, **kwargs)

    source_mode = choice_control(
        Instrument.control, ":SOUR:FUNC?", ":SOUR:FUNC %s",
        """Control what is sourced (str): 'voltage' (then ``compliance_current`` limits the
        current) or 'current' (then ``compliance_voltage`` limits the voltage).

        Allowed: 'voltage', 'current'.""",
        name="source_mode", choices=SOURCE_MODES,
    )

    source_voltage = number_control(
        Instrument.control, ":SOUR:VOLT:LEV?", ":SOUR:VOLT:LEV %s",
        """Control the source voltage level (float), applied while ``source_mode`` is 'voltage'
        and the output is enabled.

        Unit: V. Range: -210 V to 210 V.""",
        name="source_voltage", unit="V", limits=(-210.0, 210.0),
        get_process_list=_single_reading("source_voltage"),
    )

    source_current = number_control(
        Instrument.control, ":SOUR:CURR:LEV?", ":SOUR:CURR:LEV %s",
        """Control the source current level (float), applied while ``source_mode`` is 'current'
        and the output is enabled.

        Unit: A. Range: -1.05 A to 1.05 A.""",
        name="source_current", unit="A", limits=(-1.05, 1.05),
        get_process_list=_single_reading("source_current"),
    )

    compliance_current = number_control(
        Instrument.control, ":SENS:CURR:PROT?", ":SENS:CURR:PROT %s",
        """Control the current compliance (float): the largest current magnitude the unit
        lets flow while sourcing a voltage; it holds the current there and reports compliance.

        Unit: A. Range: 1e-09 A to 1.05 A.""",
        name="compliance_current", unit="A", limits=(1e-9, 1.05),
        get_process_list=_single_reading("compliance_current"),
    )

    compliance_voltage = number_control(
        Instrument.control, ":SENS:VOLT:PROT?", ":SENS:VOLT:PROT %s",
        """Control the voltage compliance (float): the largest voltage magnitude the unit
        lets appear while sourcing a current.

        Unit: V. Range: 0.0002 V to 210 V.""",
        name="compliance_voltage", unit="V", limits=(2e-4, 210.0),
        get_process_list=_single_reading("compliance_voltage"),
    )

    output_enabled = choice_control(
        Instrument.control, ":OUTP?", ":OUTP %d",
        """Control whether the output terminals are connected to the source (bool).

        Allowed: True, False.""",
        name="output_enabled", choices=_ON_OFF, cast=int,
    )

    voltage = Instrument.measurement(
        ":MEAS:VOLT?",
        """Measure the voltage at the output terminals (float); NaN when the instrument
        reports an invalid reading (SCPI 9.91e37).

        Unit: V.""",
        get_process=reading("voltage"),
        get_process_list=_single_reading("voltage"),
    )

    current = Instrument.measurement(
        ":MEAS:CURR?",
        """Measure the current through the output terminals (float); NaN when the instrument
        reports an invalid reading (SCPI 9.91e37).

        Unit: A.""",
        get_process=reading("current"),
        get_process_list=_single_reading("current"),
    )

    def shutdown(self) -> None:
        """Disconnect the output, the safe state to leave a device under test in."""
        self.output_enabled = False
        super().shutdown()
