"""Unit tests of the virtual chip's blocks (numpy side of the emulator)."""
import numpy as np
import pytest

from emulator.bss2 import (
    Faults,
    StuckBit,
    VirtualChip,
    cadc,
    fixed_pattern,
    neuron,
    serial_to_seed,
    synapse_array,
    synapse_driver,
)
from emulator.bss2 import geometry as g
from emulator.bss2.fixed_pattern import TRIM_STEP
from emulator.errors import InvalidInput


def test_serial_hashes_to_a_stable_seed():
    assert serial_to_seed("EMU-0001") == serial_to_seed("EMU-0001")
    assert serial_to_seed("EMU-0001") != serial_to_seed("EMU-0002")
    # Stable across versions: a chip's identity must not change with the software.
    assert serial_to_seed("EMU-0001") == int.from_bytes(
        __import__("hashlib").sha256(b"EMU-0001").digest()[:8], "little")


@pytest.mark.parametrize("serial", ["", "a,b", "x" * 65, "tab\tchar", 7])
def test_bad_serials_are_refused(serial):
    with pytest.raises(InvalidInput, match="serial"):
        VirtualChip(serial)


def test_fixed_pattern_is_drawn_from_the_seed():
    a, b, c = fixed_pattern.draw(1), fixed_pattern.draw(1), fixed_pattern.draw(2)
    np.testing.assert_array_equal(a.synapse_gain, b.synapse_gain)
    assert a.gain == b.gain
    assert not np.array_equal(a.synapse_gain, c.synapse_gain)
    assert not a.synapse_gain.flags.writeable


def test_pulse_table_zero_activation_sends_nothing():
    p = fixed_pattern.draw(3)
    table = synapse_driver.pulse_table(p, synapse_driver.calibrated_trims(p))
    assert table.shape == (2, 128, 32)
    assert (table[..., 0] == 0).all()
    assert (np.diff(table[..., 1:], axis=-1) > 0).all(), "pulse length grows with the activation"


def test_ideal_pulse_table_is_the_activation():
    table = synapse_driver.pulse_table(fixed_pattern.ideal(), np.full((2, 128), 32, np.uint8))
    np.testing.assert_array_equal(table, np.broadcast_to(np.arange(32, dtype=np.float32), (2, 128, 32)))


def test_trim_shifts_the_offset_by_one_step():
    p = fixed_pattern.draw(4)
    t = np.full((2, 128), 32, np.uint8)
    base = synapse_driver.pulse_table(p, t)
    up = synapse_driver.pulse_table(p, t + 1)
    np.testing.assert_allclose(up[..., 10] - base[..., 10], TRIM_STEP, rtol=1e-5)


def test_calibrated_trims_cancel_driver_offsets():
    p = fixed_pattern.draw(5)
    trims = synapse_driver.calibrated_trims(p)
    residual = p.driver_offset + (trims.astype(float) - 32) * TRIM_STEP
    assert np.abs(residual).max() <= TRIM_STEP / 2 + 1e-12
    assert np.abs(residual).max() < np.abs(p.driver_offset).max()


def test_signed_weights_go_to_the_row_of_their_sign():
    w = np.zeros((128, 2), np.int8)
    w[:2] = [[5, -7], [0, 63]]
    rows = synapse_array.signed_to_rows(w)
    np.testing.assert_array_equal(rows[:4], [[5, 0], [0, 7], [0, 63], [0, 0]])
    assert (rows[4:] == 0).all()


def test_stuck_bit_reads_back_stuck():
    rows = np.zeros((256, 256), np.uint8)
    rows[2, 3] = 0b101010
    stuck = (StuckBit(hemisphere=0, row=2, column=3, bit=0, value=1),
             StuckBit(hemisphere=0, row=2, column=3, bit=5, value=0),
             StuckBit(hemisphere=1, row=2, column=3, bit=2, value=1))
    out = synapse_array.apply_stuck_bits(rows, 0, stuck)
    assert out[2, 3] == 0b001011
    assert rows[2, 3] == 0b101010, "the written weights are left alone"


def test_ideal_effective_weights_are_the_weights():
    w = np.random.default_rng(0).integers(-63, 64, (128, 256)).astype(np.int8)
    eff = synapse_array.effective_weights(synapse_array.signed_to_rows(w), 1, fixed_pattern.ideal())
    np.testing.assert_array_equal(eff, w.astype(np.float32))


def test_line_attenuation_grows_with_distance_from_the_drivers():
    p = fixed_pattern.draw(6)
    rows = synapse_array.signed_to_rows(np.full((128, 256), 10, np.int8))
    eff = synapse_array.effective_weights(rows, 0, p) / p.neuron_gain[:256]
    per_col = eff.mean(axis=0)
    d = fixed_pattern.row_distance()
    assert d[127] < 0.01 and d[0] == 1.0
    assert np.corrcoef(d, per_col)[0, 1] < -0.9


def test_code_map_reports_the_code_below_a_missing_code():
    m = cadc.code_map((10, 11, 200))
    assert m[10] == 9 and m[11] == 9 and m[200] == 199 and m[12] == 12
    assert (np.delete(m, [10, 11, 200]) == np.delete(np.arange(256), [10, 11, 200])).all()


def test_effective_sends_without_leak_is_num_sends():
    s = neuron.effective_sends(np.array([0, 5, 128]), 20, 5, float("inf"))
    np.testing.assert_array_equal(s, [20.0, 20.0, 20.0])


def test_effective_sends_with_leak_is_the_geometric_sum():
    tau = 1e-3
    n_events, sends, wait = 100, 10, 9
    lam = np.exp(-n_events * (wait + 1) * g.FPGA_CYCLE_S / tau)
    expected = sum(lam**k for k in range(sends))
    got = neuron.effective_sends(np.array([n_events, 0]), sends, wait, tau)
    assert got[0] == pytest.approx(expected, rel=1e-12)
    assert got[1] == sends, "no events, no time, no leak"


def test_compression_is_continuous_monotonic_and_bounded():
    v = np.linspace(-400, 400, 8001)
    c = neuron.compress(v, 90.0, -85.0, 130.0, -125.0)
    assert (np.diff(c) > 0).all()
    assert c.max() < 130 and c.min() > -125
    inside = np.abs(v) <= 85
    np.testing.assert_array_equal(c[inside], v[inside])


def test_faults_are_validated():
    with pytest.raises(InvalidInput, match=r"dead_neurons\[0\]: 512 is outside the allowed range 0\.\.511"):
        Faults(dead_neurons=(512,))
    with pytest.raises(InvalidInput, match=r"stuck_bits\[0\]\.bit: 6 is outside the allowed range 0\.\.5"):
        Faults(stuck_bits=(StuckBit(0, 0, 0, 6, 1),))
    with pytest.raises(InvalidInput, match=r"missing_codes\[0\]: 0 is outside"):
        Faults(missing_codes=(0,))


def test_dead_neuron_reads_only_noise():
    chip = VirtualChip("EMU-DEAD", faults=Faults(dead_neurons=(3, 300)))
    chip.configure_mac(np.full((128, 512), 40, np.int8))
    out = chip.run_mac(np.full((50, 128), 2, np.uint8))
    assert np.abs(out[:, [3, 300]].mean(axis=0)).max() < 2
    assert out[:, 4].mean() > 15     # 0.0019 * 2 * 40 * 128 = 19.5 expected


def test_run_needs_a_configuration():
    with pytest.raises(InvalidInput, match="configure_mac"):
        VirtualChip().run_mac(np.zeros((1, 128), np.uint8))


def test_strict_bridge_refuses_other_dtypes():
    chip = VirtualChip()
    with pytest.raises(InvalidInput, match=r"weights: expected a \(128, 512\) int8 array, got int64"):
        chip.configure_mac(np.zeros((128, 512), np.int64))
    with pytest.raises(InvalidInput, match=r"weights\[0, 1\]: 64 is outside the allowed range -63\.\.63"):
        w = np.zeros((128, 512), np.int8)
        w[0, 1] = 64
        chip.configure_mac(w)
