"""Lab-instrument drivers (pyvisa + pymeasure): a source-measure unit and an oscilloscope,
with pyvisa-sim definitions of both for tests and demos.

    smu = SourceMeasureUnit("TCPIP::192.168.0.20::5025::SOCKET")             # a real unit
    smu = SourceMeasureUnit(SIM_RESOURCES["smu"], visa_library=sim_library("smu"))  # simulated
"""

from __future__ import annotations

from pathlib import Path

import pyvisa

from .errors import (
    CommandError,
    DeviceSpecificError,
    ExecutionError,
    InstrumentError,
    InvalidValueError,
    QueryError,
    SCPIError,
    UnexpectedReplyError,
)
from .oscilloscope import Oscilloscope, ScopeChannel, Waveform, WaveformPreamble
from .smu import SourceMeasureUnit

__all__ = [
    "SourceMeasureUnit",
    "Oscilloscope",
    "ScopeChannel",
    "Waveform",
    "WaveformPreamble",
    "InstrumentError",
    "InvalidValueError",
    "UnexpectedReplyError",
    "SCPIError",
    "CommandError",
    "ExecutionError",
    "DeviceSpecificError",
    "QueryError",
    "SIM_RESOURCES",
    "sim_definition",
    "sim_library",
    "sim_resource_manager",
]

SIM_RESOURCES = {
    "smu": "TCPIP0::localhost::5025::SOCKET",
    "scope": "TCPIP0::localhost::inst0::INSTR",
}
"""VISA resource of each simulated instrument in its pyvisa-sim definition."""

_SIM_DIR = Path(__file__).parent / "sim"


def sim_definition(instrument: str = "smu") -> Path:
    """Path of the pyvisa-sim YAML definition of ``instrument`` ('smu' or 'scope')."""
    if instrument not in SIM_RESOURCES:
        raise InvalidValueError("instrument", instrument, ", ".join(map(repr, SIM_RESOURCES)))
    return _SIM_DIR / f"{instrument}.yaml"


def sim_library(instrument: str = "smu") -> str:
    """pyvisa library spec ``"<definition>.yaml@sim"``, e.g. for ``SourceMeasureUnit(..., visa_library=...)``."""
    return f"{sim_definition(instrument)}@sim"


def sim_resource_manager(instrument: str = "smu") -> pyvisa.ResourceManager:
    """A pyvisa ResourceManager on the simulated ``instrument`` ('smu' or 'scope'); needs pyvisa-sim.

    pyvisa keeps one simulated library per definition file for the whole process, so
    settings made through one manager are seen by the next. For a pristine instrument,
    copy :func:`sim_definition` to a fresh path and open ``"<copy>@sim"``.
    """
    return pyvisa.ResourceManager(sim_library(instrument))
