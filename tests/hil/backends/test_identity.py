"""Every stored run carries the device's full identity and the run-counter range it used."""
import numpy as np

import hil
from emulator.bss2 import Faults
from hil.results.store import ResultStore
from hil.server.process import BoardProcess

HEALTHY = {name: [] for name in Faults.__dataclass_fields__}
"""A healthy chip's faults as a run records them: every class, empty."""


def test_emulator_run_records_ideal_faults_commit_and_run_counters(tmp_path):
    store = ResultStore(tmp_path)
    with hil.backend.open("emulator", serial="EMU-0042", ideal=True) as backend:
        first = hil.experiment.run("bss2.mac_gain", backend, store=store, batch=10)
        second = hil.experiment.run("bss2.mac_gain", backend, store=store, batch=10)
    c = store.load(store.last_run_id).context
    assert (c.ideal, c.device, c.run_counter_kind) == (True, "emulator:EMU-0042:ideal", "chip")
    # mac_gain runs the chip twice: the first experiment used runs 0..1, the second 2..3.
    assert (first.context.run_counter_first, first.context.run_counter_stop) == (0, 2)
    assert (c.run_counter_first, c.run_counter_stop) == (2, 4) == (second.context.run_counter_first, 4)
    assert c.faults == HEALTHY
    assert c.software_commit == hil.experiment.software_commit()


def test_the_faults_are_recorded():
    with hil.backend.open("emulator", faults=Faults(dead_neurons=(3, 7))) as backend:
        assert backend.info().faults["dead_neurons"] == [3, 7]
    with BoardProcess(faults=Faults(dead_neurons=(3, 7))) as proc, \
            hil.backend.open("board", resource=proc.resource) as board:     # a virtual board tells its own
        assert board.info().faults == HEALTHY | {"dead_neurons": [3, 7]}


def test_a_stored_run_holds_its_stimulus_and_model(tmp_path):
    store = ResultStore(tmp_path)
    with hil.backend.open("emulator", serial="EMU-0042") as backend:
        r = hil.experiment.run("bss2.mac_gain", backend, store=store, batch=10, seed=5)
    loaded = store.load(store.last_run_id)
    rng = np.random.default_rng(5)      # what mac_gain draws from its seed, in its order
    np.testing.assert_array_equal(loaded.stimulus["inputs"], rng.integers(0, 32, (10, 128)))
    np.testing.assert_array_equal(loaded.stimulus["weights"], rng.integers(-63, 64, (128, 512)))
    assert loaded.model == r.model == hil.bss2.DEFAULT_SPEC.record()
    assert loaded.model["model"]["gain"] == 0.0019 and loaded.model["spec"]["gain_tolerance"] == 0.1


def test_an_emulator_opened_at_a_run_counter_replays_that_run():
    W = np.full((128, 512), 21, np.int8)
    x = np.full((4, 128), 15, np.uint8)
    with hil.backend.open("emulator", serial="EMU-0042") as a, \
            hil.backend.open("emulator", serial="EMU-0042", first_run=1) as b:
        a.configure_and_run(hil.bss2.MacConfig(W), hil.bss2.MacStimulus(x))
        second = a.configure_and_run(hil.bss2.MacConfig(W), hil.bss2.MacStimulus(x)).outputs
        replay = b.configure_and_run(hil.bss2.MacConfig(W), hil.bss2.MacStimulus(x)).outputs
        np.testing.assert_array_equal(second, replay)
        assert (a.run_counter, b.run_counter) == (2, 2)


def test_a_board_reports_its_run_counter_and_equals_the_emulator_at_the_same_counter():
    with BoardProcess(serial="EMU-0042") as proc:
        with hil.backend.open("board", resource=proc.resource) as earlier:    # someone used it before
            hil.bss2.mac(earlier, np.ones((2, 4), np.int64), np.ones((4, 3), np.int64))
            assert earlier.run_counter == 1
        with hil.backend.open("board", resource=proc.resource) as board:
            r = hil.experiment.run("bss2.mac_gain", board, batch=10)
        assert (r.context.run_counter_first, r.context.run_counter_stop, r.context.run_counter_kind) == \
               (1, 3, "board")
        assert (r.context.device, r.context.ideal, r.context.faults["dead_neurons"]) == ("board:EMU-0042", False, [])
    with hil.backend.open("emulator", serial="EMU-0042", first_run=1) as emu:
        e = hil.experiment.run("bss2.mac_gain", emu, batch=10)
    for k in ("run0", "run1"):
        np.testing.assert_array_equal(r.raw[k], e.raw[k])
