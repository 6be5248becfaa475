"""Each class of the fault model (docs/acceptance.md) does what it says, on the ideal chip where
its effect is exact."""
import numpy as np
import pytest

from emulator.bss2 import Faults, StuckCapmemCell, StuckLabelBit, VirtualChip
from emulator.errors import InvalidInput
from hil.bss2 import SpikingConfig

X = np.full((1, 128), 10, np.uint8)


def _mac(faults: Faults, weights=None) -> np.ndarray:
    chip = VirtualChip("EMU-0042", ideal=True, faults=faults)
    w = np.zeros((128, 512), np.int8) if weights is None else weights
    chip.configure_mac(w)
    return chip.run_mac(X, num_sends=10).astype(np.int64)[0]


def test_a_label_bit_stuck_at_1_silences_its_synapse_in_mac_mode():
    w = np.zeros((128, 512), np.int8)
    w[5, 300] = 40                                  # excitatory row 10 of hemisphere 1, column 44
    healthy = _mac(Faults(), w)
    faulty = _mac(Faults(stuck_label_bits=(StuckLabelBit(1, 10, 44, 2, 1),)), w)
    assert healthy[300] == int(0.0019 * 10 * 40 * 10) and faulty[300] == 0
    assert (np.delete(faulty, 300) == np.delete(healthy, 300)).all()
    assert (_mac(Faults(stuck_label_bits=(StuckLabelBit(1, 10, 44, 2, 0),)), w) == healthy).all()  # labels are 0


def test_dead_and_full_pulse_drivers():
    w = np.zeros((128, 512), np.int8)
    w[7, :] = 30
    healthy = _mac(Faults(), w)
    assert (healthy == int(0.0019 * 10 * 30 * 10)).all()
    assert (_mac(Faults(dead_drivers=((0, 7),)), w)[:256] == 0).all()
    assert (_mac(Faults(dead_drivers=((0, 7),)), w)[256:] == healthy[256:]).all()   # hemisphere 1's driver 7 works
    full = _mac(Faults(full_pulse_drivers=((1, 7),)), w)
    assert (full[256:] == int(0.0019 * 31 * 30 * 10)).all() and (full[:256] == healthy[:256]).all()


def test_shorted_columns_read_their_mean():
    w = np.zeros((128, 512), np.int8)
    w[0, 10], w[0, 11] = 60, 20
    out = _mac(Faults(shorted_columns=(10,)), w)
    assert out[10] == out[11] == int(0.0019 * 10 * 40 * 10)


def test_cadc_channel_offset_and_slope_faults():
    levels = np.array([500], np.uint16)             # the nominal membrane reads floor((500 - 128) / 3) = 124
    codes = VirtualChip("EMU-0042", ideal=True, faults=Faults(cadc_offsets=((9, 20.0),),
                        cadc_slopes=((10, 1.5),))).read_cadc_ramp(levels)[0]
    assert (codes[9], codes[10], codes[11]) == (144, 186, 124)
    w = np.zeros((128, 512), np.int8)
    w[0, :] = 60
    out = _mac(Faults(cadc_slopes=((10, 1.5),), cadc_offsets=((9, 20.0),)), w)
    nominal = int(0.0019 * 10 * 60 * 10)
    assert out[9] == nominal and out[10] == int(1.5 * 0.0019 * 10 * 60 * 10)   # MAC: an offset cancels


def test_a_stuck_capmem_cell_holds_its_level():
    levels = np.array([500], np.uint16)
    codes = VirtualChip("EMU-0042", ideal=True, faults=Faults(stuck_capmem=(StuckCapmemCell(3, "leak", 200),))
                        ).read_cadc_ramp(levels)[0]
    assert codes[3] == 24 and codes[4] == 124        # floor((200 - 128) / 3)
    chip = VirtualChip("EMU-0042", ideal=True, faults=Faults(stuck_capmem=(StuckCapmemCell(3, "threshold", 1022),)))
    chip.configure_spiking(**SpikingConfig(i_const=np.full(512, 400)).arrays())
    out = chip.run_spiking(np.zeros(0, np.int64), np.zeros(0, np.uint16), 12_500, record_cadc=False)
    fired = set(out["spike_neurons"].tolist())
    assert 3 not in fired and fired == set(range(512)) - {3}


def test_spiking_mode_sees_label_and_driver_faults():
    labels = np.zeros((2, 256, 256), np.uint8)
    cfg = SpikingConfig(weights=np.full((2, 256, 256), 63), labels=labels, row_mode=np.ones((2, 256)),
                        driver_mask=np.zeros((2, 128)))
    stim = (np.array([0], np.int64), np.array([0], np.uint16), 2500)
    bit = StuckLabelBit(0, 0, 5, 0, 1)
    for faults, silent in ((Faults(), set()), (Faults(dead_drivers=tuple((0, d) for d in range(128))), set(range(256)))):
        chip = VirtualChip("EMU-0042", ideal=True, faults=faults)
        chip.configure_spiking(**cfg.arrays())
        out = chip.run_spiking(*stim[:2], stim[2], record_cadc=False)
        assert set(range(512)) - set(out["spike_neurons"].tolist()) == silent
    # one label bit stuck on one of column 5's 256 synapses: the column gets 255 of them
    chip = VirtualChip("EMU-0042", ideal=True, faults=Faults(stuck_label_bits=(bit,)))
    chip.configure_spiking(**cfg.arrays())
    net = chip._network
    assert net.labels[0, 0, 5] == 1 and net.labels[0, 1, 5] == 0


@pytest.mark.parametrize("kwargs, field", [
    (dict(shorted_columns=(255,)), "shorted_columns[0]"),
    (dict(dead_drivers=((2, 0),)), "dead_drivers[0].hemisphere"),
    (dict(full_pulse_drivers=((0, 128),)), "full_pulse_drivers[0].driver"),
    (dict(cadc_slopes=((0, 1.0),)), "cadc_slopes[0].value"),
    (dict(cadc_offsets=((0, float("nan")),)), "cadc_offsets[0].value"),
    (dict(stuck_capmem=(StuckCapmemCell(0, "gain", 3),)), "stuck_capmem[0].parameter"),
    (dict(stuck_label_bits=(StuckLabelBit(0, 0, 0, 6, 1),)), "stuck_label_bits[0].bit"),
])
def test_a_bad_fault_is_refused_by_name(kwargs, field):
    with pytest.raises(InvalidInput, match=field.replace("[", r"\[").replace("]", r"\]")):
        Faults(**kwargs)
