"""The spiking-mode types: validation at construction, the wire, the emulator and a board."""
import numpy as np
import pytest

import hil
from emulator.bss2 import capmem
from hil.bss2 import SpikingConfig, SpikingReadout, SpikingStimulus
from hil.contract import wire
from hil.contract.errors import InvalidValue
from hil.server.process import BoardProcess


def test_the_default_config_is_the_power_on_chip():
    c = SpikingConfig()
    nominal = {p: float(capmem.nominal_value(p, getattr(c, p)[0])) for p in ("leak", "reset", "threshold", "tau_mem")}
    assert nominal == {"leak": 80.0, "reset": 80.0, "threshold": 125.0, "tau_mem": 10e-6}
    assert (c.refractory == 250).all() and (c.row_mode == 0).all() and (c.driver_mask == 31).all()
    assert c.weights.dtype == np.uint8 and not c.weights.flags.writeable


@pytest.mark.parametrize("field, value, message", [
    ("leak", np.full(512, 1023), "leak[0]: 1023 is outside the allowed range 0..1022"),
    ("threshold", np.r_[np.full(7, 500.0), np.nan, np.zeros(504)], "threshold[7]: nan is not a number"),
    ("weights", np.full((2, 256, 256), 64), "weights[0, 0, 0]: 64 is outside the allowed range 0..63"),
    ("row_mode", np.full((2, 256), 3), "row_mode[0, 0]: 3 is outside the allowed range 0..2"),
    ("driver_bus", np.zeros((2, 127)), "driver_bus: has shape (2, 127); expected (2, 128)"),
    ("refractory", np.full(512, 4096), "refractory[0]: 4096 is outside the allowed range 0..4095"),
    ("cadc_offset", np.full(512, 128), "cadc_offset[0]: 128 is outside the allowed range -128..127"),
])
def test_a_bad_config_value_is_refused_by_name(field, value, message):
    with pytest.raises(InvalidValue, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        SpikingConfig(**{field: value})


@pytest.mark.parametrize("kwargs, message", [
    (dict(times=[0, 5, 3], labels=[1, 2, 3], duration=100), r"times\[2\]: 3 comes before times\[1\] = 5"),
    (dict(times=[0, 100], labels=[1, 2], duration=100), r"times\[1\]: 100 is outside the allowed range 0..99"),
    (dict(times=[0, -1], labels=[1, 2], duration=100), r"times\[1\]: -1 is outside"),
    (dict(times=[0, 1.5], labels=[1, 2], duration=100), r"times\[1\]: 1.5 is not an integer"),
    (dict(times=[0, 1], labels=[1, 65536], duration=100), r"labels\[1\]: 65536 is outside the allowed range 0..65535"),
    (dict(times=[0, 1], labels=[1], duration=100), r"labels: has 1 events; times has 2"),
    (dict(times=[5, 1], labels=[1, 2], trials=[0, 1], n_trials=2, duration=100), None),
    (dict(times=[5, 1], labels=[1, 2], trials=[1, 0], n_trials=2, duration=100),
     r"times\[1\]: 1 comes before .* sorted by \(trial, time\)"),
    (dict(times=[0], labels=[1], trials=[2], n_trials=2, duration=100), r"trials\[0\]: 2 is outside .* 0..1"),
    (dict(times=[], labels=[], duration=1_250_001), r"duration: 1250001 is outside the allowed range 1..1250000"),
    (dict(times=[], labels=[], duration=100, step_ns=0), r"step_ns: 0 is outside"),
    (dict(times=[], labels=[], duration=100, cadc_period=212), r"cadc_period: 212 is outside .* 213..65535"),
    (dict(times=[], labels=[], duration=100, madc_neuron=512), r"madc_neuron: 512 is outside .* -1..511"),
    (dict(times=[], labels=[], duration=1_250_000, n_trials=2, step_ns=4), r"step_ns: .* at most 4194304"),
    (dict(times=[], labels=[], duration=1_250_000, n_trials=8, step_ns=1000, cadc_period=213), None),  # 23 MiB
    (dict(times=[], labels=[], duration=1_250_000, n_trials=16, step_ns=1000, cadc_period=213),
     r"cadc_period: 16 trials x 5869 samples x 512 neurons = 48078848 bytes; at most 33554432"),
])
def test_a_bad_stimulus_is_refused_by_name(kwargs, message):
    if message is None:
        SpikingStimulus(**kwargs)          # the boundary case is allowed
        return
    with pytest.raises(InvalidValue, match=message):
        SpikingStimulus(**kwargs)


def test_the_sizes_of_a_run():
    s = SpikingStimulus(times=[], labels=[], duration=6250, step_ns=100, madc_neuron=0)
    assert (s.steps, s.cadc_samples, s.madc_samples) == (500, 28, 1471)   # 50 us: 27.2 CADC periods of 230
    assert SpikingStimulus(times=[], labels=[], duration=6250, record_cadc=False).cadc_samples == 0


def test_the_types_survive_the_wire():
    c = SpikingConfig(weights=np.full((2, 256, 256), 7), row_mode=np.ones((2, 256)))
    s = SpikingStimulus(times=[1, 2], labels=[3, 4], trials=[0, 1], n_trials=2, duration=10, madc_neuron=5)
    for obj in (c, s):
        back = wire.decode(*wire.encode(obj))
        for name in obj.__dataclass_fields__:
            a, b = getattr(obj, name), getattr(back, name)
            assert np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b, name
    with pytest.raises(InvalidValue, match="record_cadc"):
        wire.decode({"type": "bss2.SpikingStimulus", "fields": {"duration": 10, "record_cadc": 1}},
                    {"times": np.zeros(0, np.int64), "labels": np.zeros(0, np.uint16)})


def _network() -> tuple[SpikingConfig, SpikingStimulus]:
    """Driver 0 of each hemisphere takes address-5 events of bus 1, row select 2; its rows
    excite columns 0..9 through label-5 synapses of weight 63."""
    labels = np.zeros((2, 256, 256), np.uint8)
    labels[:, :2, :10] = 5
    weights = np.zeros((2, 256, 256), np.uint8)
    weights[:, :2, :] = 63
    row_mode = np.zeros((2, 256), np.uint8)
    row_mode[:, 0] = 1
    bus = np.zeros((2, 128), np.uint8)
    bus[:, 0] = 1
    select = np.zeros((2, 128), np.uint8)
    select[:, 0] = 2
    cfg = SpikingConfig(weights=weights, labels=labels, row_mode=row_mode, driver_bus=bus, driver_row_select=select)
    label = (1 << 14) | (2 << 6) | 5
    stim = SpikingStimulus(times=np.arange(10) * 125, labels=np.full(10, label), duration=2500, madc_neuron=3)
    return cfg, stim


def test_events_reach_only_the_synapses_of_their_label():
    cfg, stim = _network()
    with hil.backend.open("emulator", ideal=True) as chip:
        r = chip.configure_and_run(cfg, stim)
    fired = np.unique(r.spike_neurons)
    np.testing.assert_array_equal(fired, np.r_[0:10, 256:266])
    assert r.madc.shape == (1, stim.madc_samples) and r.cadc.shape == (1, stim.cadc_samples, 512)
    quiet = np.setdiff1d(np.arange(512), fired)
    assert (r.cadc[0][:, quiet] == 80).all()        # the ideal resting neuron reads floor(80)


def test_a_board_runs_the_spiking_mode_bit_for_bit_as_the_emulator():
    cfg, stim = _network()
    with BoardProcess(serial="EMU-0042") as proc, hil.backend.open("board", resource=proc.resource) as board, \
            hil.backend.open("emulator", serial="EMU-0042") as emu:
        assert "spiking" in board.info().modes
        got, want = board.configure_and_run(cfg, stim), emu.configure_and_run(cfg, stim)
        for name in ("spike_times", "spike_neurons", "spike_trials", "cadc_times", "cadc", "madc"):
            np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)
        quiet = board.run(SpikingStimulus(times=[], labels=[], duration=500))   # no events, no spikes
        assert quiet.spike_times.size == 0 and isinstance(quiet, SpikingReadout)


def test_the_rtl_core_and_the_model_refuse_the_spiking_mode():
    from hil.rtl.geometry import RtlGeometry

    with hil.backend.open("emulator", geometry=RtlGeometry()) as core:
        assert "spiking" not in core.info().modes
        with pytest.raises(hil.errors.Unsupported, match="SpikingConfig"):
            core.configure(SpikingConfig())
