"""The Dynap-SE2-like virtual board: the C core against the numpy definition of a run (bit for bit, noise,
routing and every synapse type included), the router against the routing model, identity and noise."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import emulator.dynapse2.chip as chip_module
from emulator._native import lib
from emulator.dynapse2 import VirtualBoard, reference
from emulator.errors import InvalidInput
from hil.dynapse2 import models, types as T
from hil.dynapse2.experiments.routing import random_probe, random_routing


def _recurrent_config(rng, mesh=(2, 2)) -> T.Config:
    """Every synapse type in use; neurons of every chip send to random chips and cores; external tag 2000
    drives entry 0 of every neuron (AMPA, all four base weights)."""
    cfg = {k: v.copy() for k, v in random_routing(rng, mesh, tags=256, density=0.02).arrays().items()}
    cfg["cam_tag"][:, :, 0], cfg["cam_type"][:, :, 0], cfg["cam_weights"][:, :, 0] = 2000, 0, 15
    return T.Config(**cfg, mesh_width=mesh[0], mesh_height=mesh[1])


def _events(rng, steps, n, chips):
    times = np.sort(rng.integers(0, steps, n))
    return times, np.full(n, 2000), rng.integers(0, chips, n), rng.integers(0, 4, n)


@pytest.mark.parametrize("ideal", [True, False])
def test_the_c_core_computes_the_reference_bit_for_bit(ideal):
    rng = np.random.default_rng(3)
    cfg = _recurrent_config(rng)
    board = VirtualBoard("EMU-D2-0042", ideal=ideal)
    board.configure(cfg.arrays())
    ev = _events(rng, 120, 600, 4)
    record = list(range(0, 4096, 64))
    key = lib.bss2_stream_key(board.seed, board.run_counter, chip_module.NOISE_STREAM)
    out = board.run(*ev, duration=120, dt=1e-3, record=record)
    spikes, traces = reference.run(board.step(1e-3), board._tables, board.weights, *ev, 120, record=record, key=key)
    want = np.array(spikes, np.int64).reshape(-1, 2)
    assert len(want) > 1000                      # the network is active, recurrence included
    np.testing.assert_array_equal(out["times"], want[:, 0])
    np.testing.assert_array_equal(out["neurons"], want[:, 1])
    np.testing.assert_array_equal(out["traces"], traces)
    assert (traces[:, :, 1:5] > models.DEFAULT_LAYOUT.Io).any(axis=(0, 1)).all()   # every synapse type moved


def test_the_c_router_delivers_what_the_model_says():
    rng = np.random.default_rng(5)
    for mesh in ((2, 2), (1, 1), (4, 1)):
        cfg = random_routing(rng, mesh, tags=32, density=0.1)
        board = VirtualBoard("EMU-D2-0042", mesh=mesh)
        board.configure(cfg.arrays())
        probe = random_probe(rng, cfg.chips, 64, 64, 32)
        log = T.RouteLog.of_router(board.route(probe.spike_chips.astype(np.int32) * 1024 + probe.spike_neurons,
                                               probe.input_tags, probe.input_chips, probe.input_cores))
        want = models.route(cfg, probe)
        assert len(want) > 1000
        np.testing.assert_array_equal(log.rows(), want.rows())


def test_same_serial_same_board_and_the_run_counter_keys_the_noise():
    rng = np.random.default_rng(7)
    cfg = _recurrent_config(rng, mesh=(1, 1))
    ev = _events(rng, 200, 300, 1)
    runs = []
    for serial in ("EMU-D2-0001", "EMU-D2-0001", "EMU-D2-0002"):
        b = VirtualBoard(serial, mesh=(1, 1))
        b.configure(cfg.arrays())
        runs.append([b.run(*ev, duration=200, dt=1e-3)["times"] for _ in range(2)])
    same, other = runs[0], runs[2]
    assert all(np.array_equal(a, b) for a, b in zip(same, runs[1]))        # same serial, same runs
    assert not np.array_equal(same[0], same[1]) or not np.array_equal(same[0], other[0])
    ideal = VirtualBoard("EMU-D2-0001", mesh=(1, 1), ideal=True)
    ideal.configure(cfg.arrays())
    first, second = (ideal.run(*ev, duration=200, dt=1e-3)["times"] for _ in range(2))
    np.testing.assert_array_equal(first, second)                            # no temporal noise


def test_a_chip_is_the_same_chip_on_any_mesh():
    small, big = VirtualBoard("EMU-D2-0009", mesh=(1, 1)), VirtualBoard("EMU-D2-0009", mesh=(2, 2))
    np.testing.assert_array_equal(small.currents, big.currents[:, :1024])
    np.testing.assert_array_equal(small.synapse_gains, big.synapse_gains[:1024])


def test_the_core_refuses_inputs_outside_the_board():
    b = VirtualBoard("EMU-D2-0001", mesh=(1, 1))
    with pytest.raises(InvalidInput, match=r"chips\[1\]: 1"):
        b.run([0, 1], [0, 0], [0, 1], [0, 0], duration=10, dt=1e-3)
    with pytest.raises(InvalidInput, match=r"times\[1\]"):
        b.run([5, 2], [0, 0], [0, 0], [0, 0], duration=10, dt=1e-3)
    with pytest.raises(InvalidInput, match=r"spike_neurons\[0\]: 1024"):
        b.route([1024], [], [], [])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(events=st.lists(st.tuples(st.integers(-3, 40), st.integers(0, 2100), st.integers(0, 3), st.integers(0, 5)),
                       max_size=40),
       spikes=st.lists(st.integers(-2, 4200), max_size=20), duration=st.integers(1, 40))
def test_the_core_refuses_or_runs_whatever_it_is_given(events, spikes, duration):
    """The C core's own checks (the one pass that reads each input), without the types in front of it: a
    value outside the board is refused with its field, anything else runs; nothing crashes (and the
    sanitizer build, tox -e sanitize, runs this too)."""
    board = _FUZZ_BOARD
    times, tags, chips, cores = (np.array([e[k] for e in events], np.int64) for k in range(4))
    try:
        out = board.run(times, tags, chips, cores, duration=duration, dt=1e-4, record=[0, 4095])
    except InvalidInput as e:
        assert e.field.split("[")[0] in ("times", "tags", "chips", "cores")
    else:
        assert out["traces"].shape == (duration, 2, 6) and (np.diff(out["times"]) >= 0).all()
    try:
        board.route(np.array(spikes, np.int64), tags[:5], chips[:5], cores[:5])
    except InvalidInput as e:
        assert e.field.split("[")[0] in ("spike_neurons", "tags", "chips", "cores")


_FUZZ_BOARD = VirtualBoard("EMU-D2-FUZZ")
_FUZZ_BOARD.configure(random_routing(np.random.default_rng(0), (2, 2), tags=8, density=0.2).arrays())
