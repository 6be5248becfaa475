"""The emulator restricted to an RTL core: the same chip's runs, on that core's inputs and neurons."""
import numpy as np
import pytest

import hil
from hil.bss2 import MacConfig, MacStimulus
from hil.errors import InvalidValue, Unsupported
from hil.rtl.geometry import RtlGeometry
from hil.bss2.types import CadcRamp

CORES = [RtlGeometry(), RtlGeometry(rows=5, columns=7, hemispheres=2)]


@pytest.mark.parametrize("core", CORES, ids=lambda c: f"{c.rows}x{c.columns}x{c.hemispheres}")
def test_a_core_run_is_the_whole_chips_run_on_its_neurons(core):
    rng = np.random.default_rng(core.neurons)
    w = rng.integers(-63, 64, (core.rows, core.neurons))
    x = rng.integers(0, 32, (40, core.rows))
    trims = rng.integers(0, 64, (core.hemispheres, core.rows))
    with hil.backend.open("emulator", serial="EMU-0042", geometry=core) as small, \
            hil.backend.open("emulator", serial="EMU-0042") as whole:
        info = small.info()
        assert (info.geometry["mac_inputs"], info.geometry["mac_outputs"]) == (core.rows, core.neurons)
        assert info.modes == ("mac",)
        for config in (MacConfig(weights=w), MacConfig(weights=w, driver_offset_trim=trims)):
            got = small.configure_and_run(config, MacStimulus(inputs=x, num_sends=3)).outputs
            full = MacConfig(weights=core.full_weights(config.weights), driver_offset_trim=None
                             if config.driver_offset_trim is None else core.full_trims(config.driver_offset_trim))
            want = whole.configure_and_run(full, MacStimulus(inputs=core.full_inputs(x), num_sends=3)).outputs
            np.testing.assert_array_equal(got, want[:, core.neuron_index()])
        assert small.run_counter == whole.run_counter == 2


def test_hil_mac_on_a_core_runs_blocks_of_its_size():
    core = RtlGeometry(rows=8, columns=4)
    rng = np.random.default_rng(3)
    x, W = rng.integers(0, 32, (6, 20)), rng.integers(-63, 64, (20, 10))
    with hil.backend.open("emulator", serial="EMU-0001", geometry=core, ideal=True) as b:
        got = hil.bss2.mac(b, x, W)
        assert b.run_counter == 3 * 3           # 3 row blocks x 3 column blocks
    # The ideal chip: each 8-row block floored and clamped, the blocks summed and clamped.
    blocks = [np.clip(np.floor(0.0019 * (x[:, r:r + 8] @ W[r:r + 8])), -128, 127) for r in range(0, 20, 8)]
    np.testing.assert_array_equal(got, np.clip(sum(blocks), -128, 127))


def test_a_core_refuses_other_shapes_and_modes():
    with hil.backend.open("emulator", geometry=RtlGeometry()) as b:
        with pytest.raises(InvalidValue, match=r"weights: has shape \(128, 512\); this device takes \(32, 32\)"):
            b.configure(MacConfig(weights=np.zeros((128, 512))))
        b.configure(MacConfig(weights=np.zeros((32, 32))))
        with pytest.raises(InvalidValue, match=r"inputs: has shape \(1, 128\); this device takes \(any, 32\)"):
            b.run(MacStimulus(inputs=np.zeros((1, 128))))
        with pytest.raises(Unsupported, match=r"supports the modes \['mac'\]"):
            b.run(CadcRamp(levels=np.arange(4)))
    with pytest.raises(InvalidValue, match="geometry"):
        hil.backend.open("emulator", geometry=(32, 32))
