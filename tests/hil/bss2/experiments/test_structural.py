"""The structural tests (hil/bss2/experiments/structural.py): healthy chips pass, and every fault of
the model is caught at fixed positions, hemisphere 1 and the last row and column among them."""
import numpy as np
import pytest

import hil
from emulator.bss2 import Faults
from emulator.bss2.faults import StuckBit, StuckLabelBit
from hil.bss2 import MacConfig, SpikingConfig, SynapseMemory, SynapseRead
from hil.bss2.experiments import structural
from hil.server.tcp import VirtualBoard

ANALOG = (structural.synapse_scan, structural.driver_scan, structural.column_check)
ALL = ANALOG + (structural.synapse_memory,)


@pytest.mark.parametrize("serial,ideal", [("EMU-0042", False), ("EMU-0007", False), ("EMU-1234", False),
                                          ("EMU-0042", True)])
def test_healthy_chips_pass_every_structural_test(serial, ideal):
    with hil.backend.open("emulator", serial=serial, ideal=ideal) as b:
        for run in ALL:
            r = run(b)
            assert r.verdict.passed, (run.experiment_name, [m for m in r.metrics if m.passed is False])


STUCK = [StuckBit(h, row, col, bit, value)
         for (h, row, col) in ((0, 0, 0), (0, 10, 100), (1, 200, 255), (1, 255, 100), (0, 255, 255))
         for bit in (0, 5) for value in (0, 1)]


@pytest.fixture(scope="module")
def chips():
    """One healthy serial's backend per fault (opened lazily, kept for the module)."""
    opened = {}

    def get(faults: Faults):
        if faults not in opened:
            opened[faults] = hil.backend.open("emulator", serial="EMU-0042", faults=faults)
        return opened[faults]
    yield get
    for b in opened.values():
        b.close()


@pytest.mark.parametrize("stuck", STUCK, ids=lambda s: f"h{s.hemisphere}r{s.row}c{s.column}b{s.bit}v{s.value}")
def test_a_stuck_weight_bit_is_found_digitally_and_through_the_analog_path(chips, stuck):
    b = chips(Faults(stuck_bits=(stuck,)))
    mem = structural.synapse_memory(b)
    assert not mem.verdict.passed
    assert mem.metric("stuck_weight_bits").value == 1 and mem.metric("stuck_label_bits").value == 0
    assert mem.summary["stuck_weight_bits"] == [[stuck.hemisphere, stuck.row, stuck.column, stuck.bit, stuck.value]]
    scan = structural.synapse_scan(b)
    assert not scan.verdict.passed
    assert scan.summary["failing_synapses"] == [[stuck.hemisphere, stuck.row, stuck.column]]


@pytest.mark.parametrize("value", (0, 1))
def test_a_stuck_label_bit_is_found_by_the_memory_test_and_at_1_by_the_scan(chips, value):
    stuck = StuckLabelBit(1, 255, 255, 3, value)
    b = chips(Faults(stuck_label_bits=(stuck,)))
    mem = structural.synapse_memory(b)
    assert mem.metric("stuck_label_bits").value == 1 and mem.metric("stuck_weight_bits").value == 0
    assert mem.summary["stuck_label_bits"] == [[1, 255, 255, 3, value]]
    scan = structural.synapse_scan(b)
    # stuck at 1 the label differs from the MAC mode's 0: the synapse is silent; stuck at 0 it is not seen there
    assert scan.summary["failing_synapses"] == ([[1, 255, 255]] if value else [])


@pytest.mark.parametrize("driver", [(0, 0), (1, 127), (1, 64)])
@pytest.mark.parametrize("kind", ["dead_drivers", "full_pulse_drivers"])
def test_a_dead_or_full_pulse_driver_is_found(chips, driver, kind):
    b = chips(Faults(**{kind: (driver,)}))
    r = structural.driver_scan(b)
    assert not r.verdict.passed
    assert r.summary["failing_drivers"] == [list(driver)]


@pytest.mark.parametrize("n", [0, 100, 254, 256, 510])
def test_shorted_columns_are_found(chips, n):
    b = chips(Faults(shorted_columns=(n,)))
    r = structural.column_check(b)
    assert not r.verdict.passed
    assert r.summary["isolation_failures"] == [n, n + 1]
    assert set(r.summary["gain_failures"]) == {n, n + 1}


@pytest.mark.parametrize("n", [0, 255, 511])
def test_a_dead_neuron_fails_the_column_gain(chips, n):
    r = structural.column_check(chips(Faults(dead_neurons=(n,))))
    assert r.summary["gain_failures"] == [n]


def test_the_memory_mode_reads_what_was_written_over_the_wire():
    faults = Faults(stuck_bits=(StuckBit(1, 255, 255, 5, 1),), stuck_label_bits=(StuckLabelBit(0, 3, 4, 0, 1),))
    with VirtualBoard(hil.backend.open("emulator", serial="EMU-0042", faults=faults), port=0) as board:
        with hil.backend.open("board", resource=board.resource) as b:
            assert "memory" in b.info().modes
            first = b.run_counter
            m = b.run(SynapseRead())
            assert isinstance(m, SynapseMemory)
            expected = np.zeros((2, 256, 256), np.uint8)
            expected[1, 255, 255] = 32
            labels = np.zeros((2, 256, 256), np.uint8)
            labels[0, 3, 4] = 1
            np.testing.assert_array_equal(m.weights, expected)   # power-on: 0, with the stuck bits
            np.testing.assert_array_equal(m.labels, labels)
            W = np.zeros((128, 512), np.int8)
            W[3, 7], W[0, 300] = -5, 9
            b.configure(MacConfig(weights=W))
            m = b.run(SynapseRead())
            expected[0, 7, 7], expected[1, 0, 44] = 5, 9      # |w| on row 2i (w > 0) or 2i + 1 (w < 0)
            np.testing.assert_array_equal(m.weights, expected)
            np.testing.assert_array_equal(m.labels, labels)
            w = np.random.default_rng(1).integers(0, 64, (2, 256, 256), dtype=np.uint8)
            lab = np.random.default_rng(2).integers(0, 64, (2, 256, 256), dtype=np.uint8)
            b.configure(SpikingConfig(weights=w, labels=lab))
            m = b.run(SynapseRead())
            w, lab = w.copy(), lab.copy()
            w[1, 255, 255] |= 32
            lab[0, 3, 4] |= 1
            np.testing.assert_array_equal(m.weights, w)
            np.testing.assert_array_equal(m.labels, lab)
            assert b.run_counter == first, "a readback is not a run"


def test_the_mac_product_leaves_its_last_block_in_memory():
    with hil.backend.open("emulator", serial="EMU-0042") as b:
        W = np.zeros((130, 600), np.int8)
        W[129, 599] = -7     # the last block: rows 128.., columns 512..
        b.mac_product(np.ones((1, 130), np.uint8), W)
        m = b.run(SynapseRead())
        assert m.weights.sum() == 7 and m.weights[0, 3, 87] == 7
