"""The spiking mode's C core (emulator/_native/bss2/lif.c, run by VirtualChip.run_spiking)
against its definition, the numpy ``spiking.run_reference``: bit for bit on seeded random
configurations, whatever the thread count, the code path or the batching of trials; and
the refusals of the C bridge.

No timing here: the speed is measured by bench/spiking.py.
"""
import numpy as np
import pytest

from emulator._native import lib
from emulator.bss2 import Faults, StuckBit, VirtualChip, capmem, lif, spiking
from emulator.bss2 import geometry as g
from emulator.errors import InvalidInput
from hil.bss2 import SpikingConfig

ISA_LEVELS = sorted({lib.bss2_set_isa(level) for level in (4, 3, 0)} | {0}, reverse=True)
lib.bss2_set_isa(4)
FIELDS = ("spike_times", "spike_neurons", "spike_trials", "cadc_times", "cadc", "madc", "madc_neuron")

FAULTY = Faults(dead_neurons=(0, 3, 260, 511), noisy_neurons=((1, 2.0), (300, 0.7)),
                missing_codes=(78, 79, 83, 120), stuck_bits=(StuckBit(0, 0, 1, 5, 1), StuckBit(1, 4, 3, 2, 0)))
"""Faults on the neurons and synapses the random networks use."""


def random_config(rng, *, stp=False, adex=False, drive=1.0) -> dict:
    """The arrays of a SpikingConfig: a random network whose neurons fire now and then.

    Few labels and addresses (0..3) and few (bus, row select) values, so that events
    meet many drivers and synapses; neuron cells spread around their defaults."""
    h, r, c, d, n = g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE, g.DRIVERS_PER_HEMISPHERE, g.NEURONS
    weights = (rng.integers(0, 64, (h, r, c)) * (rng.random((h, r, c)) < 0.6 * drive)).astype(np.uint8)
    weights[:, ::7] = 0                 # rows that are on but add nothing (the core skips them)
    levels = lambda name, spread: np.clip(capmem.DEFAULT_LEVELS[name] + rng.integers(-spread, spread + 1, n),  # noqa: E731
                                          0, g.CAPMEM_LEVEL_MAX).astype(np.uint16)
    cfg = dict(
        weights=weights, labels=rng.integers(0, 4, (h, r, c)).astype(np.uint8),
        row_mode=rng.choice(np.array([0, 1, 1, 2], np.uint8), (h, r)),
        driver_bus=rng.integers(0, 2, (h, d)).astype(np.uint8),
        driver_row_select=rng.integers(0, 4, (h, d)).astype(np.uint8),
        driver_mask=rng.choice(np.array([0, 1, 3, 31], np.uint8), (h, d)),
        stp_enable=(rng.random((h, d)) < (0.7 if stp else 0.0)).astype(np.uint8),
        stp_utilization=rng.integers(50, 900, (h, d)).astype(np.uint16),
        stp_recovery=rng.integers(20, 1000, (h, d)).astype(np.uint16),
        leak=levels("leak", 30), reset=levels("reset", 30), threshold=levels("threshold", 40),
        tau_mem=levels("tau_mem", 150), tau_syn_exc=levels("tau_syn_exc", 150),
        tau_syn_inh=levels("tau_syn_inh", 150), i_const=rng.integers(0, 120, n).astype(np.uint16),
        refractory=rng.integers(0, 600, n).astype(np.uint16), cadc_offset=rng.integers(-30, 31, n).astype(np.int8))
    cfg["tau_syn_inh"][:8] = cfg["tau_mem"][:8]        # the equal time constants' branch of the propagator
    if adex:
        cfg.update(enable_adaptation=(rng.random(n) < 0.5).astype(np.uint8),
                   enable_exponential=(rng.random(n) < 0.5).astype(np.uint8),
                   adaptation_a=rng.integers(0, 1023, n).astype(np.uint16),
                   adaptation_b=rng.integers(0, 1023, n).astype(np.uint16),
                   tau_adaptation=levels("tau_adaptation", 150), exp_slope=rng.integers(0, 1023, n).astype(np.uint16),
                   exp_threshold=levels("exp_threshold", 60))
    return SpikingConfig(**cfg).arrays()


def random_events(rng, n_events: int, duration: int, n_trials: int = 1):
    """(times, labels, trials) sorted by (trial, time); labels on buses 0-1, row selects 0-3, addresses 0-3."""
    trials = np.sort(rng.integers(0, n_trials, n_events)).astype(np.uint16)
    times = np.concatenate([np.sort(rng.integers(0, duration, int((trials == t).sum())))
                            for t in range(n_trials)]).astype(np.int64)
    labels = ((rng.integers(0, 2, n_events) << 14) | (rng.integers(0, 8, n_events) << 11)
              | (rng.integers(0, 4, n_events) << 6) | rng.integers(0, 4, n_events)).astype(np.uint16)
    return times, labels, trials


def assert_same(got: dict, want: dict):
    for name in FIELDS:
        a, b = got[name], want[name]
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype or name.startswith("spike"), name
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            assert a == b, name


CASES = {
    # name: (chip kwargs, config kwargs, events, trials, duration, run kwargs)
    "noisy": (dict(), dict(), 300, 1, 2000, dict(madc_neuron=5)),
    "ideal": (dict(ideal=True), dict(), 300, 1, 2000, dict(madc_neuron=300)),
    "stp": (dict(), dict(stp=True), 400, 1, 2000, dict(madc_neuron=7)),
    "trials": (dict(), dict(stp=True), 500, 3, 1500, dict(madc_neuron=258)),
    "faults": (dict(faults=FAULTY), dict(), 300, 2, 1500, dict(madc_neuron=3)),
    "faults-ideal": (dict(faults=FAULTY, ideal=True), dict(), 300, 1, 1500, dict(madc_neuron=0)),
    "adex": (dict(), dict(adex=True), 300, 2, 1500, dict(madc_neuron=11)),
    "no-madc": (dict(), dict(), 200, 1, 1500, dict()),
    "no-cadc": (dict(), dict(), 200, 1, 1500, dict(record_cadc=False, madc_neuron=400)),
    "no-events": (dict(), dict(), 0, 2, 1500, dict(madc_neuron=100)),
    "cadc-period": (dict(), dict(), 300, 1, 3000, dict(cadc_period=213)),
    "step-37": (dict(), dict(stp=True), 200, 1, 1500, dict(step_ns=37, madc_neuron=9)),
    "step-3": (dict(), dict(), 60, 1, 250, dict(step_ns=3, madc_neuron=1)),      # steps share FPGA cycles
    "step-1000": (dict(), dict(adex=True), 300, 2, 5000, dict(step_ns=1000, madc_neuron=2)),
    "busy": (dict(), dict(drive=1.5), 2000, 1, 1200, dict(madc_neuron=0)),        # many spikes: buffers grow
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_c_core_equals_the_reference_bit_for_bit(case):
    chip_kw, cfg_kw, n_events, n_trials, duration, run_kw = CASES[case]
    rng = np.random.default_rng(list(case.encode()))
    cfg = random_config(rng, **cfg_kw)
    if case == "busy":
        cfg["i_const"] = np.full(g.NEURONS, 600, np.uint16)
        cfg["refractory"] = np.zeros(g.NEURONS, np.uint16)
    times, labels, trials = random_events(rng, n_events, duration, n_trials)
    chip = VirtualChip("EMU-0042", **chip_kw)
    chip.configure_spiking(**cfg)
    chip.run_counter = int(rng.integers(0, 1000))
    kw = dict(trials=trials, n_trials=n_trials, **run_kw)
    want = chip.run_spiking_reference(times, labels, duration, **kw)
    run = chip.run_counter
    got = chip.run_spiking(times, labels, duration, **kw)
    assert chip.run_counter == run + 1
    assert_same(got, want)
    # not trivial: neurons fire (without events only those with a strong constant current,
    # if any), the CADC and MADC see a moving membrane (unless the MADC's neuron is dead)
    assert got["spike_times"].size > {"busy": 10_000, "no-events": -1}.get(case, 20)
    if got["cadc"].size:
        assert np.unique(got["cadc"]).size > 10
    if got["madc"].size and run_kw["madc_neuron"] not in chip.faults.dead_neurons:
        assert np.unique(got["madc"]).size > 2


def test_results_do_not_depend_on_threads_or_code_path():
    rng = np.random.default_rng(77)
    cfg = random_config(rng, stp=True, adex=True)
    times, labels, trials = random_events(rng, 600, 2500, 3)
    runs = []
    for isa in ISA_LEVELS:
        for threads in (1, 2, 3):
            lib.bss2_set_isa(isa)
            lib.bss2_set_threads(threads)
            chip = VirtualChip("EMU-0007", faults=FAULTY)
            chip.configure_spiking(**cfg)
            runs.append(chip.run_spiking(times, labels, 2500, trials=trials, n_trials=3, madc_neuron=260))
    for r in runs[1:]:
        assert_same(r, runs[0])
    assert runs[0]["spike_times"].size > 50


def test_trials_batched_give_the_whole_run():
    rng = np.random.default_rng(5)
    chip = VirtualChip("EMU-0003")
    chip.configure_spiking(**random_config(rng, stp=True))
    times, labels, trials = random_events(rng, 500, 1500, 5)
    core = chip._spiking_core(100)
    keys = dict(key_membrane=123456789, key_madc=987654321)
    kw = dict(duration=1500, record_cadc=True, cadc_period=230, madc_neuron=6, **keys)
    whole = lif.run(core, times, labels, trials, n_trials=5, **kw)
    parts = []
    for first, count in ((0, 2), (2, 1), (3, 2)):
        sel = (trials >= first) & (trials < first + count)
        parts.append(lif.run(core, times[sel], labels[sel], (trials[sel] - first).astype(np.uint16), n_trials=count,
                             trial0=first, **kw))
    for name in ("spike_times", "spike_neurons", "spike_trials"):
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name], err_msg=name)
    for name in ("cadc", "madc"):
        np.testing.assert_array_equal(np.concatenate([p[name] for p in parts]), whole[name], err_msg=name)
    assert np.unique(whole["spike_trials"]).size == 5


def test_the_route_table_is_the_reference_routing():
    rng = np.random.default_rng(9)
    chip = VirtualChip("EMU-0001")
    cfg = random_config(rng)
    cfg["driver_bus"] = rng.integers(0, 4, (2, 128)).astype(np.uint8)
    cfg["driver_row_select"] = rng.integers(0, 32, (2, 128)).astype(np.uint8)
    cfg["driver_mask"] = rng.integers(0, 32, (2, 128)).astype(np.uint8)
    chip.configure_spiking(**cfg)
    net = chip._network
    table = lif.route_table(net)
    labels = np.arange(0, 1 << 16, 7, dtype=np.uint16)
    for label, (hs, ds) in spiking.routing(net, labels).items():
        route = (label >> 14) * 32 + ((label >> 6) & 31)
        bits = np.zeros((2, 128), bool)
        for h in range(2):
            for d in range(128):
                bits[h, d] = (int(table[h, route, d // 64]) >> (d % 64)) & 1
        want = np.zeros((2, 128), bool)
        want[hs, ds] = True
        np.testing.assert_array_equal(bits, want, err_msg=f"label {label}")


def test_exp_f32_is_within_one_ulp():
    x = np.linspace(spiking.EXPONENT_MIN, spiking.EXPONENT_MAX, 200_001, dtype=np.float32)
    got = spiking.exp_f32(x).astype(np.float64)
    want = np.exp(x.astype(np.float64))
    assert got.dtype == np.float64 and (np.abs(got - want) <= np.spacing(want.astype(np.float32))).all()


# -- the bridge refuses what it must not run -----------------------------------------------------

def _chip_and_core():
    chip = VirtualChip("EMU-0001")
    chip.configure_spiking(**SpikingConfig().arrays())
    return chip, chip._spiking_core(100)


BASE = dict(n_trials=2, duration=1000, record_cadc=True, cadc_period=230, madc_neuron=-1, key_membrane=1, key_madc=2)


@pytest.mark.parametrize("times, trials, changes, field, message", [
    ([0, 5, 1000], [0, 0, 0], {}, r"times\[2\]", "1000 is outside the allowed range 0..999"),
    ([0, -3, 7], [0, 0, 0], {}, r"times\[1\]", "-3 is outside the allowed range 0..999"),
    ([0, 5, 7], [0, 0, 2], {}, r"trials\[2\]", "2 is outside the allowed range 0..1"),
    ([0, 5, 3], [0, 0, 0], {}, r"times\[2\]", r"3 comes before .* sorted by \(trial, time\)"),
    ([0, 5, 3], [0, 1, 0], {}, r"times\[2\]", r"3 comes before"),
    ([], [], dict(duration=0), "duration", "0 is outside the allowed range 1..1250000"),
    ([], [], dict(duration=1_250_001), "duration", "1250001 is outside"),
    ([], [], dict(n_trials=0), "n_trials", "0 is outside the allowed range 1..1024"),
    ([], [], dict(n_trials=1025), "n_trials", "1025 is outside"),
    ([], [], dict(trial0=1023), "trial0", "1023 is outside the allowed range 0..1022"),
    ([], [], dict(cadc_period=212), "cadc_period", "212 is outside the allowed range 213..65535"),
    ([], [], dict(madc_neuron=512), "madc_neuron", "512 is outside the allowed range -1..511"),
    ([], [], dict(madc_neuron=-2), "madc_neuron", "-2 is outside"),
    ([], [], dict(duration=1_250_000, n_trials=50), "step_ns", "100000 steps x 50 trials = 5000000; at most 4194304"),
])
def test_the_bridge_refuses_bad_input_by_name_and_value(times, trials, changes, field, message):
    _, core = _chip_and_core()
    kw = {**BASE, **changes}
    with pytest.raises(InvalidInput, match=f"^{field}: {message}"):
        lif.run(core, np.array(times, np.int64), np.zeros(len(times), np.uint16), np.array(trials, np.uint16), **kw)


@pytest.mark.parametrize("arrays, field", [
    ((np.zeros(3, np.int32), np.zeros(3, np.uint16), None), "times"),
    ((np.zeros(3, np.int64), np.zeros(2, np.uint16), None), "labels"),
    ((np.zeros(3, np.int64), np.zeros(3, np.int16), None), "labels"),
    ((np.zeros(3, np.int64), np.zeros(3, np.uint16), np.zeros(3, np.int64)), "trials"),
    ((np.zeros((3, 1), np.int64), np.zeros(3, np.uint16), None), "times"),
    ((np.zeros(6, np.int64)[::2], np.zeros(3, np.uint16), None), "times"),
])
def test_the_bridge_refuses_arrays_of_the_wrong_kind(arrays, field):
    _, core = _chip_and_core()
    with pytest.raises(InvalidInput, match=f"^{field}: expected a contiguous"):
        lif.run(core, *arrays, **BASE)


def test_a_refused_run_does_not_use_up_a_run():
    chip, _ = _chip_and_core()
    with pytest.raises(InvalidInput, match=r"^times\[1\]: 5 is outside the allowed range 0..4"):
        chip.run_spiking(np.array([0, 5], np.int64), np.zeros(2, np.uint16), 5)
    with pytest.raises(InvalidInput, match=r"^times\[1\]: 1 comes before"):
        chip.run_spiking(np.array([3, 1], np.int64), np.zeros(2, np.uint16), 5)
    with pytest.raises(InvalidInput, match="^labels: expected"):
        chip.run_spiking(np.array([3, 4], np.int64), np.zeros(2, np.int64), 5)
    assert chip.run_counter == 0
    chip.run_spiking(np.array([1, 2], np.int64), np.zeros(2, np.uint16), 5)
    assert chip.run_counter == 1


def test_the_tables_of_a_step_are_made_once_and_dropped_with_the_configuration():
    chip, core = _chip_and_core()
    assert chip._spiking_core(100) is core
    assert chip._spiking_core(50) is not core
    chip.configure_spiking(**SpikingConfig().arrays())
    assert chip._spiking_core(100) is not core
    assert not core.arrays["efficacy"].flags.writeable


def test_a_run_with_more_spikes_than_the_recorder_holds_is_refused():
    """Strong constant input (255 LSB), a threshold 1 LSB above reset, the shortest time
    constant and no refractory time make all 512 neurons fire on every 100-ns step (each
    step climbs about 13 LSB): 10 us x 512 ~ 51,000 spikes per trial, so 41 trials exceed the
    2**21 the recorder holds, which bounds the memory a run's spikes take (24 MiB)."""
    chip = VirtualChip("EMU-0042", ideal=True)
    cells = SpikingConfig(i_const=np.full(512, 1022), refractory=np.zeros(512), threshold=np.full(512, 371),
                          tau_mem=np.full(512, 1022)).arrays()
    chip.configure_spiking(**cells)
    one = chip.run_spiking(np.zeros(0, np.int64), np.zeros(0, np.uint16), 1250, step_ns=100, record_cadc=False)
    per_trial = one["spike_times"].size
    assert per_trial > 50_000
    trials = lib.BSS2_LIF_SPIKES_MAX // per_trial + 1
    runs = chip.run_counter
    with pytest.raises(InvalidInput, match=r"spikes: the run recorded more than 2097152 spikes"):
        chip.run_spiking(np.zeros(0, np.int64), np.zeros(0, np.uint16), 1250, n_trials=trials, step_ns=100,
                         record_cadc=False)
    assert chip.run_counter == runs               # a refused run uses up no run, as a bad input
    fits = chip.run_spiking(np.zeros(0, np.int64), np.zeros(0, np.uint16), 1250, n_trials=trials - 1, step_ns=100,
                            record_cadc=False)
    assert fits["spike_times"].size == (trials - 1) * per_trial <= lib.BSS2_LIF_SPIKES_MAX
