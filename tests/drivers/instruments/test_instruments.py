"""Lab-instrument drivers: exact SCPI exchanges replayed with pymeasure's
``expected_protocol``, then the same drivers end to end against the pyvisa-sim
definitions shipped in ``drivers/instruments/sim/``."""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import struct
from contextlib import contextmanager

import numpy as np
import pytest
import pyvisa
import pyvisa.util
import yaml
from pymeasure.test import expected_protocol

from drivers.instruments import (
    SIM_RESOURCES,
    CommandError,
    DeviceSpecificError,
    ExecutionError,
    InstrumentError,
    InvalidValueError,
    Oscilloscope,
    QueryError,
    ScopeChannel,
    SCPIError,
    SourceMeasureUnit,
    UnexpectedReplyError,
    Waveform,
    sim_definition,
    sim_library,
    sim_resource_manager,
)
from drivers.instruments.errors import parse_error_reply
from drivers.instruments.scpi import MAX_QUEUED_ERRORS

NO_ERROR = (":SYST:ERR?", '0,"No error"')
"""Every setting is followed by one error-queue read."""


def resolve(instrument, path: str):
    """(object, attribute) for 'source_voltage' or 'ch_2.scale'."""
    *owners, name = path.split(".")
    for owner in owners:
        instrument = getattr(instrument, owner)
    return instrument, name


# ---------------------------------------------------------------- replayed exchanges

# (property, value set, command sent, query, reply, value read)
SMU_CONTROLS = [
    ("source_mode", "current", ":SOUR:FUNC CURR", ":SOUR:FUNC?", "CURR", "current"),
    ("source_mode", "voltage", ":SOUR:FUNC VOLT", ":SOUR:FUNC?", "VOLT", "voltage"),
    ("source_voltage", 1.5, ":SOUR:VOLT:LEV 1.5", ":SOUR:VOLT:LEV?", "+1.500000E+00", 1.5),
    ("source_voltage", -210, ":SOUR:VOLT:LEV -210.0", ":SOUR:VOLT:LEV?", "-2.100000E+02", -210.0),
    ("source_voltage", np.float64(0.123456789), ":SOUR:VOLT:LEV 0.123456789", ":SOUR:VOLT:LEV?",
     "+1.234568E-01", 0.1234568),
    ("source_current", 1e-6, ":SOUR:CURR:LEV 1e-06", ":SOUR:CURR:LEV?", "+1.000000E-06", 1e-6),
    ("source_current", -1.05, ":SOUR:CURR:LEV -1.05", ":SOUR:CURR:LEV?", "-1.050000E+00", -1.05),
    ("compliance_current", 0.01, ":SENS:CURR:PROT 0.01", ":SENS:CURR:PROT?", "+1.000000E-02", 0.01),
    ("compliance_voltage", 21, ":SENS:VOLT:PROT 21.0", ":SENS:VOLT:PROT?", "+2.100000E+01", 21.0),
    ("output_enabled", True, ":OUTP 1", ":OUTP?", "1", True),
    ("output_enabled", False, ":OUTP 0", ":OUTP?", "0", False),
]

SCOPE_CONTROLS = [
    ("timebase_scale", 2e-6, ":TIM:SCAL 2e-06", ":TIM:SCAL?", "+2.000000E-06", 2e-6),
    ("ch_1.scale", 0.5, ":CHAN1:SCAL 0.5", ":CHAN1:SCAL?", "+5.000000E-01", 0.5),
    ("ch_4.scale", 10, ":CHAN4:SCAL 10.0", ":CHAN4:SCAL?", "+1.000000E+01", 10.0),
    ("ch_2.enabled", False, ":CHAN2:DISP 0", ":CHAN2:DISP?", "0", False),
    ("ch_3.enabled", True, ":CHAN3:DISP 1", ":CHAN3:DISP?", "1", True),
    ("trigger_source", 2, ":TRIG:SOUR CHAN2", ":TRIG:SOUR?", "CHAN2", 2),
    ("trigger_source", "external", ":TRIG:SOUR EXT", ":TRIG:SOUR?", "EXT", "external"),
    ("trigger_level", -1.25, ":TRIG:LEV -1.25", ":TRIG:LEV?", "-1.250000E+00", -1.25),
    ("trigger_slope", "rising", ":TRIG:SLOP POS", ":TRIG:SLOP?", "POS", "rising"),
    ("trigger_slope", "falling", ":TRIG:SLOP NEG", ":TRIG:SLOP?", "NEG", "falling"),
    ("trigger_slope", "either", ":TRIG:SLOP EITH", ":TRIG:SLOP?", "EITH", "either"),
    ("waveform_source", 3, ":WAV:SOUR CHAN3", ":WAV:SOUR?", "CHAN3", 3),
    ("waveform_format", "int8", ":WAV:FORM BYTE", ":WAV:FORM?", "BYTE", "int8"),
    ("waveform_format", "int16", ":WAV:FORM WORD", ":WAV:FORM?", "WORD", "int16"),
]

CONTROLS = [(SourceMeasureUnit, *row) for row in SMU_CONTROLS] + [
    (Oscilloscope, *row) for row in SCOPE_CONTROLS
]


@pytest.mark.parametrize("cls, prop, value, command, query, reply, read", CONTROLS)
def test_setting_sends_command_then_reads_error_queue(cls, prop, value, command, query, reply, read):
    with expected_protocol(cls, [(command, None), NO_ERROR]) as instrument:
        setattr(*resolve(instrument, prop), value)


@pytest.mark.parametrize("cls, prop, value, command, query, reply, read", CONTROLS)
def test_getting_parses_reply(cls, prop, value, command, query, reply, read):
    with expected_protocol(cls, [(query, reply)]) as instrument:
        got = getattr(*resolve(instrument, prop))
    assert got == pytest.approx(read) if isinstance(read, float) else got == read
    assert type(got) is type(read)


# (class, property, query, reply, value read)
MEASUREMENTS = [
    (SourceMeasureUnit, "voltage", ":MEAS:VOLT?", "+1.000000E+00", 1.0),
    (SourceMeasureUnit, "current", ":MEAS:CURR?", "-2.500000E-03", -2.5e-3),
    (SourceMeasureUnit, "id", "*IDN?", "KEITHLEY,MODEL 2400,1234567,C30", "KEITHLEY,MODEL 2400,1234567,C30"),
    (SourceMeasureUnit, "complete", "*OPC?", "1", True),
    (SourceMeasureUnit, "status", "*STB?", "16", 16),
    (SourceMeasureUnit, "options", "*OPT?", "0", "0"),
    (SourceMeasureUnit, "next_error", ":SYST:ERR?", '-222,"Data out of range"', (-222, "Data out of range")),
    (Oscilloscope, "acquisition_state", ":TRIG:STAT?", "STOP", "stopped"),
    (Oscilloscope, "acquisition_state", ":TRIG:STAT?", "ARM", "armed"),
    (Oscilloscope, "acquisition_state", ":TRIG:STAT?", "READY", "ready"),
    (Oscilloscope, "acquisition_state", ":TRIG:STAT?", "TRIG", "triggered"),
    (Oscilloscope, "id", "*IDN?", "KEYSIGHT,DSOX3034T,MY1234,07.50", "KEYSIGHT,DSOX3034T,MY1234,07.50"),
    (Oscilloscope, "next_error", ":SYST:ERR?", '+0,"No error"', (0, "No error")),
]


@pytest.mark.parametrize("cls, prop, query, reply, read", MEASUREMENTS)
def test_measurement_parses_reply(cls, prop, query, reply, read):
    with expected_protocol(cls, [(query, reply)]) as instrument:
        assert getattr(instrument, prop) == read


def test_waveform_preamble_is_parsed():
    with expected_protocol(Oscilloscope, [(":WAV:PRE?", "1,1000,1.0E-09,-5.0E-07,3.0E-04,0.0")]) as scope:
        preamble = scope.waveform_preamble
    assert (preamble.datatype, preamble.points) == ("h", 1000)
    assert (preamble.x_increment, preamble.x_origin) == (1e-9, -5e-7)
    assert (preamble.y_increment, preamble.y_origin) == (3e-4, 0.0)


@pytest.mark.parametrize(
    "reply, value",
    [("+9.910000E+37", math.nan), ("+9.900000E+37", math.inf), ("-9.900000E+37", -math.inf)],
)
def test_scpi_nan_and_infinity_codes_are_decoded(reply, value):
    with expected_protocol(SourceMeasureUnit, [(":MEAS:VOLT?", reply)]) as smu:
        assert smu.voltage == pytest.approx(value, nan_ok=True)


@pytest.mark.parametrize(
    "cls, prop, query, reply",
    [
        (SourceMeasureUnit, "source_mode", ":SOUR:FUNC?", "FRES"),
        (SourceMeasureUnit, "voltage", ":MEAS:VOLT?", "+1.0E+00,+2.0E-03"),  # :FORM:ELEM VOLT,CURR
        (SourceMeasureUnit, "voltage", ":MEAS:VOLT?", "OVERFLOW"),
        (SourceMeasureUnit, "output_enabled", ":OUTP?", "2"),
        (SourceMeasureUnit, "status", "*STB?", "256"),
        (SourceMeasureUnit, "next_error", ":SYST:ERR?", "no error"),
        (Oscilloscope, "acquisition_state", ":TRIG:STAT?", "AUTO"),
        (Oscilloscope, "trigger_source", ":TRIG:SOUR?", "LINE"),
        (Oscilloscope, "waveform_preamble", ":WAV:PRE?", "0,32,1e-6,0"),
        (Oscilloscope, "waveform_preamble", ":WAV:PRE?", "2,32,1e-6,0,0.01,0"),  # format 2: ASCII
        (Oscilloscope, "waveform_preamble", ":WAV:PRE?", "0,32,0,0,0.01,0"),  # x_increment 0
        (Oscilloscope, "waveform_preamble", ":WAV:PRE?", "0,32.5,1e-6,0,0.01,0"),
    ],
)
def test_unreadable_reply_raises_typed_error(cls, prop, query, reply):
    with expected_protocol(cls, [(query, reply)]) as instrument:
        with pytest.raises(UnexpectedReplyError) as info:
            getattr(instrument, prop)
    assert info.value.what in (prop, "error queue (SYST:ERR?)")
    assert "expected" in str(info.value)


# (class, property, refused value, allowed text that the message must carry)
REFUSED = [
    (SourceMeasureUnit, "source_voltage", 210.5, "-210 V to 210 V"),
    (SourceMeasureUnit, "source_voltage", -1e3, "-210 V to 210 V"),
    (SourceMeasureUnit, "source_voltage", math.nan, "-210 V to 210 V"),
    (SourceMeasureUnit, "source_voltage", math.inf, "-210 V to 210 V"),
    (SourceMeasureUnit, "source_voltage", True, "-210 V to 210 V"),
    (SourceMeasureUnit, "source_voltage", "1.5", "-210 V to 210 V"),
    (SourceMeasureUnit, "source_current", 1.06, "-1.05 A to 1.05 A"),
    (SourceMeasureUnit, "compliance_current", 0.0, "1e-09 A to 1.05 A"),
    (SourceMeasureUnit, "compliance_current", 2.0, "1e-09 A to 1.05 A"),
    (SourceMeasureUnit, "compliance_voltage", 1e-5, "0.0002 V to 210 V"),
    (SourceMeasureUnit, "compliance_voltage", 211, "0.0002 V to 210 V"),
    (SourceMeasureUnit, "source_mode", "VOLT", "'voltage', 'current'"),
    (SourceMeasureUnit, "source_mode", "resistance", "'voltage', 'current'"),
    (SourceMeasureUnit, "output_enabled", 1, "True, False"),
    (SourceMeasureUnit, "output_enabled", "on", "True, False"),
    (Oscilloscope, "timebase_scale", 100.0, "1e-09 s/div to 50 s/div"),
    (Oscilloscope, "timebase_scale", 0.0, "1e-09 s/div to 50 s/div"),
    (Oscilloscope, "ch_2.scale", 20.0, "0.001 V/div to 10 V/div"),
    (Oscilloscope, "ch_2.scale", 1e-4, "0.001 V/div to 10 V/div"),
    (Oscilloscope, "ch_1.enabled", 0, "True, False"),
    (Oscilloscope, "trigger_source", 5, "1, 2, 3, 4, 'external'"),
    (Oscilloscope, "trigger_source", True, "1, 2, 3, 4, 'external'"),
    (Oscilloscope, "trigger_source", "CHAN1", "1, 2, 3, 4, 'external'"),
    (Oscilloscope, "trigger_level", 50.1, "-50 V to 50 V"),
    (Oscilloscope, "trigger_slope", "up", "'rising', 'falling', 'either'"),
    (Oscilloscope, "waveform_source", 0, "1, 2, 3, 4"),
    (Oscilloscope, "waveform_format", "float32", "'int8', 'int16'"),
]


@pytest.mark.parametrize("cls, prop, value, allowed", REFUSED)
def test_refused_setting_raises_before_any_io(cls, prop, value, allowed):
    with expected_protocol(cls, []) as instrument:  # any write would fail the replay
        with pytest.raises(InvalidValueError) as info:
            setattr(*resolve(instrument, prop), value)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert prop.split(".")[-1] in message
    assert repr(value) in message
    assert allowed in message


def test_setting_refused_by_the_instrument_raises_its_own_error():
    pairs = [
        (":SENS:CURR:PROT 1.0", None),
        (":SYST:ERR?", '-221,"Settings conflict;compliance above range"'),
        (":SYST:ERR?", '+801,"Compliance trip"'),
        NO_ERROR,
    ]
    with expected_protocol(SourceMeasureUnit, pairs) as smu:
        with pytest.raises(ExecutionError) as info:
            smu.compliance_current = 1.0
    error = info.value
    assert (error.code, error.message) == (-221, "Settings conflict;compliance above range")
    assert "Source-measure unit" in str(error)
    assert any("+801" in note or "801" in note for note in error.__notes__)


def test_check_errors_returns_every_queued_error_typed():
    pairs = [
        (":SYST:ERR?", '-113,"Undefined header"'),
        (":SYST:ERR?", '-222,"Data out of range"'),
        (":SYST:ERR?", '-350,"Queue overflow"'),
        (":SYST:ERR?", '-410,"Query INTERRUPTED"'),
        (":SYST:ERR?", '+5,"Vendor specific, with a comma"'),
        (":SYST:ERR?", '-500,"Power on"'),
        NO_ERROR,
    ]
    with expected_protocol(SourceMeasureUnit, pairs) as smu:
        errors = smu.check_errors()
    assert [type(e) for e in errors] == [
        CommandError, ExecutionError, DeviceSpecificError, QueryError, DeviceSpecificError, SCPIError,
    ]
    assert [e.code for e in errors] == [-113, -222, -350, -410, 5, -500]
    assert errors[4].message == "Vendor specific, with a comma"
    assert all(isinstance(e, InstrumentError) for e in errors)


def test_check_errors_gives_up_on_a_queue_that_never_empties():
    pairs = [(":SYST:ERR?", '-300,"Device-specific error"')] * MAX_QUEUED_ERRORS
    with expected_protocol(Oscilloscope, pairs) as scope:
        with pytest.raises(UnexpectedReplyError, match="error queue"):
            scope.check_errors()


@pytest.mark.parametrize(
    "reply, parsed",
    [
        ('0,"No error"', (0, "No error")),
        ('+0,"No error"', (0, "No error")),
        ("0,No error", (0, "No error")),
        ('-222,"Data out of range;:SOUR:VOLT:LEV 500"', (-222, "Data out of range;:SOUR:VOLT:LEV 500")),
        (' -113 , "Undefined header" ', (-113, "Undefined header")),
    ],
)
def test_error_reply_parsing(reply, parsed):
    assert parse_error_reply(reply) == parsed


@pytest.mark.parametrize(
    "cls, call, pairs",
    [
        (SourceMeasureUnit, "reset", [("*RST", None), ("*CLS", None)]),
        (SourceMeasureUnit, "clear", [("*CLS", None)]),
        (SourceMeasureUnit, "shutdown", [(":OUTP 0", None), NO_ERROR]),
        (Oscilloscope, "arm", [(":SING", None), NO_ERROR]),
        (Oscilloscope, "force_trigger", [(":TRIG:FORC", None), NO_ERROR]),
        (Oscilloscope, "reset", [("*RST", None), ("*CLS", None)]),
    ],
)
def test_methods_send_exact_commands(cls, call, pairs):
    with expected_protocol(cls, pairs) as instrument:
        getattr(instrument, call)()


def test_arm_raises_when_the_instrument_refuses():
    pairs = [(":SING", None), (":SYST:ERR?", '-221,"Settings conflict"'), NO_ERROR]
    with expected_protocol(Oscilloscope, pairs) as scope:
        with pytest.raises(ExecutionError, match="Settings conflict"):
            scope.arm()


# ------------------------------------------------------------ replayed waveform fetch


@contextmanager
def replayed_scope(pairs):
    """An Oscilloscope on a replay whose binary reads go through pyvisa's block decoder.

    pymeasure's replay has no pyvisa resource behind it, so the driver's call to
    ``connection.read_binary_values`` is answered here: the replayed reply bytes
    are decoded with ``pyvisa.util.from_ieee_block``. The real reader (chunking,
    termination) is exercised against pyvisa-sim below.
    """
    with expected_protocol(Oscilloscope, pairs) as scope:
        adapter = scope.adapter

        def read_binary_values(*, datatype, is_big_endian, header_fmt, container, expect_termination):
            assert header_fmt == "ieee" and is_big_endian is False and expect_termination is True
            return pyvisa.util.from_ieee_block(adapter.read_bytes(-1), datatype, is_big_endian, container)

        adapter.connection.read_binary_values.side_effect = read_binary_values
        yield scope


def fetch_exchange(channel: int, preamble: str, block: bytes):
    return [(f":WAV:SOUR CHAN{channel}", None), NO_ERROR, (":WAV:PRE?", preamble), (":WAV:DATA?", block)]


def test_fetch_waveform_int8_block():
    codes = [-128, -1, 0, 10, 127]  # 0x80, 0xFF, 0x00, LF and 0x7F: every awkward byte
    block = b"#15" + struct.pack("<5b", *codes)
    pairs = fetch_exchange(3, "0,5,2.0E-09,-4.0E-09,1.0E-02,0.0", block)
    with replayed_scope(pairs) as scope:
        waveform = scope.fetch_waveform(3)
    assert waveform.channel == 3
    np.testing.assert_allclose(waveform.voltage, np.array(codes) * 0.01)
    np.testing.assert_allclose(waveform.time, -4e-9 + np.arange(5) * 2e-9)
    assert (waveform.x_increment, waveform.y_increment) == (2e-9, 0.01)


def test_fetch_waveform_int16_little_endian_block():
    codes = [-32768, -1, 0, 2560, 32767]
    data = struct.pack("<5h", *codes)
    assert data[6:8] == b"\x00\x0a"  # little-endian on the wire: 2560 is 00 0A
    pairs = fetch_exchange(1, "1,5,1.0E-06,0.0,3.0E-04,-1.0", b"#210" + data)
    with replayed_scope(pairs) as scope:
        waveform = scope.fetch_waveform(1)
    np.testing.assert_allclose(waveform.voltage, -1.0 + np.array(codes) * 3e-4)
    np.testing.assert_allclose(waveform.time, np.arange(5) * 1e-6)


def test_fetch_waveform_refuses_a_block_shorter_than_the_preamble():
    pairs = fetch_exchange(2, "0,6,1.0E-06,0.0,1.0E-02,0.0", b"#15" + bytes(5))
    with replayed_scope(pairs) as scope:
        with pytest.raises(UnexpectedReplyError, match="6 as the preamble announced"):
            scope.fetch_waveform(2)


def test_fetch_waveform_stops_before_the_data_when_the_preamble_is_too_large():
    pairs = fetch_exchange(2, "0,99999999,1.0E-06,0.0,1.0E-02,0.0", b"")[:-1]
    with replayed_scope(pairs) as scope:
        with pytest.raises(UnexpectedReplyError, match="at most"):
            scope.fetch_waveform(2)


@pytest.mark.parametrize("channel", [0, 5, True, "1", 1.5, None])
def test_fetch_waveform_refuses_a_channel_before_any_io(channel):
    with expected_protocol(Oscilloscope, []) as scope:
        with pytest.raises(InvalidValueError, match="channel"):
            scope.fetch_waveform(channel)


def test_waveform_is_frozen_and_validated():
    waveform = Waveform(time=[0.0, 1e-6], voltage=[0.1, 0.2], channel=1, x_increment=1e-6, y_increment=0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        waveform.channel = 2
    with pytest.raises(ValueError):
        waveform.voltage[0] = 5.0  # read-only array
    with pytest.raises(InvalidValueError, match="as many as time"):
        Waveform(time=[0.0, 1.0], voltage=[0.0], channel=1, x_increment=1.0, y_increment=1.0)
    with pytest.raises(InvalidValueError, match="finite"):
        Waveform(time=[0.0], voltage=[math.nan], channel=1, x_increment=1.0, y_increment=1.0)
    with pytest.raises(InvalidValueError, match="x_increment"):
        Waveform(time=[0.0], voltage=[0.0], channel=1, x_increment=0.0, y_increment=1.0)


# ------------------------------------------------------------------ against pyvisa-sim


def fresh_definition(tmp_path, instrument: str, edit=None) -> str:
    """A private copy of a shipped definition, as a pyvisa library spec.

    pyvisa keeps one simulated library per file path for the whole process, so a
    copy per test gives each test an instrument in its power-on state.
    """
    text = sim_definition(instrument).read_text(encoding="utf-8")
    if edit is not None:
        data = yaml.safe_load(text)
        edit(data["devices"])
        text = yaml.safe_dump(data)
    path = tmp_path / f"{instrument}.yaml"
    path.write_text(text, encoding="utf-8")
    return f"{path}@sim"


@pytest.fixture
def smu(tmp_path):
    with SourceMeasureUnit(SIM_RESOURCES["smu"], visa_library=fresh_definition(tmp_path, "smu")) as unit:
        yield unit


@pytest.fixture
def scope(tmp_path):
    with Oscilloscope(SIM_RESOURCES["scope"], visa_library=fresh_definition(tmp_path, "scope")) as instrument:
        yield instrument


def test_sim_resource_manager_serves_both_definitions():
    for instrument, resource in SIM_RESOURCES.items():
        rm = sim_resource_manager(instrument)
        try:
            assert resource in rm.list_resources("?*")
            raw = rm.open_resource(resource, read_termination="\n", write_termination="\n")
            assert raw.query("*IDN?").startswith("HIL-RIG,SIM-")
        finally:
            rm.close()
    assert sim_library("scope").endswith("scope.yaml@sim")
    with pytest.raises(InvalidValueError, match="'smu', 'scope'"):
        sim_resource_manager("dmm")


def test_sim_smu_identifies_itself_with_an_empty_error_queue(smu):
    assert smu.id == "HIL-RIG,SIM-SMU-2400,SIM0001,pyvisa-sim"
    assert smu.complete is True
    assert smu.status == 0
    assert smu.check_errors() == []


def test_sim_smu_sources_a_voltage_within_compliance_and_measures(smu):
    smu.source_mode = "voltage"
    smu.source_voltage = 1.5
    smu.compliance_current = 0.01
    smu.output_enabled = True
    assert smu.source_mode == "voltage"
    assert smu.source_voltage == pytest.approx(1.5)
    assert smu.compliance_current == pytest.approx(0.01)
    assert smu.output_enabled is True
    # Fixed replies of the simulation (pyvisa-sim cannot tie them to the source).
    assert smu.voltage == pytest.approx(1.0)
    assert smu.current == pytest.approx(1e-3)
    assert smu.check_errors() == []


def test_sim_smu_sources_a_current(smu):
    smu.source_mode = "current"
    smu.source_current = -0.5e-3
    smu.compliance_voltage = 10
    assert (smu.source_mode, smu.source_current, smu.compliance_voltage) == ("current", -0.5e-3, 10.0)


def test_sim_smu_out_of_range_command_is_surfaced_with_the_instruments_text(smu):
    smu.source_voltage = 2.0
    smu.write(":SOUR:VOLT:LEV 500")  # bypasses the driver's range check, as another client might
    errors = smu.check_errors()
    assert len(errors) == 1
    error = errors[0]
    assert isinstance(error, ExecutionError)
    assert (error.code, error.message) == (-222, "Data out of range")
    assert SIM_RESOURCES["smu"] in str(error)
    assert smu.source_voltage == pytest.approx(2.0)  # the refused value was not applied
    assert smu.check_errors() == []


def test_sim_smu_driver_refusal_sends_nothing(smu):
    with pytest.raises(InvalidValueError, match="source_voltage"):
        smu.source_voltage = 500
    assert smu.check_errors() == []
    assert smu.source_voltage == 0.0


def test_sim_smu_setting_refused_by_a_lower_spec_unit_raises(tmp_path):
    # A +/-20 V member of the family: the driver allows 100 V, the unit refuses it.
    def narrow(devices):
        devices["smu"]["properties"]["source_voltage"]["specs"].update(min="-21", max="21")

    library = fresh_definition(tmp_path, "smu", edit=narrow)
    with SourceMeasureUnit(SIM_RESOURCES["smu"], visa_library=library) as smu:
        with pytest.raises(ExecutionError, match="Data out of range") as info:
            smu.source_voltage = 100
        assert info.value.code == -222
        assert smu.source_voltage == 0.0


def test_sim_scope_settings_round_trip(scope):
    assert scope.id == "HIL-RIG,SIM-SCOPE-4CH,SIM0002,pyvisa-sim"
    scope.timebase_scale = 2e-6
    scope.ch_3.scale = 0.2
    scope.channels[2].enabled = False
    scope.trigger_source = "external"
    scope.trigger_level = -1.25
    scope.trigger_slope = "falling"
    assert scope.timebase_scale == pytest.approx(2e-6)
    assert scope.ch_3.scale == pytest.approx(0.2)
    assert scope.ch_1.scale == pytest.approx(1.0)  # channels are independent
    assert scope.ch_2.enabled is False and scope.ch_1.enabled is True
    assert (scope.trigger_source, scope.trigger_slope) == ("external", "falling")
    assert scope.trigger_level == pytest.approx(-1.25)
    assert scope.check_errors() == []


SIM_CODES = [40] * 9 + [51, 60, 66, 72, 76, 79, 81, 83, 85, 86, 87, 88, 88, 88] + [89] * 4 + [90] * 5
"""The simulated record (sim/scope.yaml): a step from 0 V to 0.5 V."""


def test_sim_scope_single_acquisition_and_binary_fetch(scope):
    scope.trigger_source = 1
    scope.arm()
    scope.force_trigger()
    assert scope.acquisition_state == "stopped"
    waveform = scope.fetch_waveform(1)
    assert waveform.channel == 1
    np.testing.assert_allclose(waveform.voltage, -0.4 + np.array(SIM_CODES) * 0.01, atol=1e-12)
    np.testing.assert_allclose(waveform.time, -8e-6 + np.arange(32) * 1e-6)
    assert waveform.voltage[0] == pytest.approx(0.0) and waveform.voltage[-1] == pytest.approx(0.5)
    assert scope.waveform_source == 1
    assert scope.id.startswith("HIL-RIG")  # the block and its termination were read completely


def test_sim_scope_out_of_range_command_is_surfaced(scope):
    scope.write(":CHAN2:SCAL 50")
    [error] = scope.check_errors()
    assert isinstance(error, ExecutionError) and error.message == "Data out of range"
    assert scope.ch_2.scale == pytest.approx(1.0)


@pytest.mark.parametrize(
    "data",
    [
        "(((((((((3<BHLOQSUVWXXXYYYYZZZZZ",  # no header at all
        "#0(((((((((3<BHLOQSUVWXXXYYYYZZZZZ",  # indefinite length: not allowed
    ],
)
def test_sim_scope_malformed_block_raises_typed_error(tmp_path, data):
    def corrupt(devices):
        for dialogue in devices["scope"]["dialogues"]:
            if dialogue["q"] == ":WAV:DATA?":
                dialogue["r"] = data

    library = fresh_definition(tmp_path, "scope", edit=corrupt)
    with Oscilloscope(SIM_RESOURCES["scope"], visa_library=library) as scope:
        with pytest.raises(UnexpectedReplyError, match="definite-length block"):
            scope.fetch_waveform(1)
        assert scope.id.startswith("HIL-RIG")  # the connection is still usable


# ------------------------------------------------------------------------ meta-test

DOC_FACT = re.compile(r"^\s*(Unit: \S|Allowed: \S)", re.MULTILINE)
"""A property's docstring states its unit ('Unit: V') or its allowed values ('Allowed: ...')."""

DRIVER_CLASSES = (SourceMeasureUnit, Oscilloscope, ScopeChannel)


def public_properties(cls):
    return sorted(
        name
        for name in dir(cls)
        if not name.startswith("_") and isinstance(inspect.getattr_static(cls, name), property)
    )


@pytest.mark.parametrize(
    "cls, name", [(cls, name) for cls in DRIVER_CLASSES for name in public_properties(cls)]
)
def test_every_public_property_documents_its_unit_or_allowed_values(cls, name):
    doc = inspect.getattr_static(cls, name).__doc__ or ""
    assert DOC_FACT.search(doc), f"{cls.__name__}.{name}: docstring lacks 'Unit:' or 'Allowed:': {doc!r}"


@pytest.mark.parametrize("cls", DRIVER_CLASSES)
def test_every_public_method_has_a_docstring(cls):
    undocumented = [
        name
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") and not inspect.getdoc(member)
    ]
    assert undocumented == []


def test_meta_test_sees_the_inherited_properties_too():
    assert {"id", "complete", "status", "options", "next_error"} <= set(public_properties(SourceMeasureUnit))
    assert {"scale", "enabled"} == set(public_properties(ScopeChannel))
