"""The synapse driver's bench (hil.rtl.benches.synapse_driver) on Icarus."""
import struct

import pytest

from tests.rtl.benches.support import assert_caught, assert_clean, result

pytestmark = [pytest.mark.rtl, pytest.mark.slow]


def test_decode_is_exhaustive_and_exact_and_every_pulse_is_the_emulators():
    r = result("synapse_driver")
    assert_clean(r, complete=[c.name for c in r.coverage])   # exhaustive stimulus: all coverage complete
    decode = r.check("synapse_driver.decode")
    assert decode.stage == "digital" and decode.tolerance == "exact"
    assert decode.compared == 8192 * 32 * 16                  # every label x mask x row mode
    pulse = r.check("synapse_driver.pulse")
    assert pulse.compared >= 256 * 32 * 4 and pulse.tolerance == "exact"
    assert r.check("synapse_driver.pulse_model").max_deviation <= 2.0 ** -24


def _offset_of_driver_5_moved(workdir):
    lines = (workdir / "drivers.hex").read_text().split()
    off = struct.unpack(">d", bytes.fromhex(lines[5 * 3 + 2]))[0] + 0.25
    lines[5 * 3 + 2] = struct.pack(">d", off).hex()
    (workdir / "drivers.hex").write_text("\n".join(lines) + "\n")


def test_bench_catches_a_wrong_mask_and_a_driver_that_is_not_the_emulators(tmp_path):
    r = result("synapse_driver", workdir=tmp_path, tamper=_offset_of_driver_5_moved, plusargs=("+BENCH_MUTATE=1",))
    f = assert_caught(r, "synapse_driver.decode", inputs=("event_label", "cfg_mask", "cfg_row_mode", "cfg_bus",
                                                         "cfg_row_select", "event_valid", "cfg_hagen"))
    assert f["rtl"] != f["reference"]
    f = assert_caught(r, "synapse_driver.pulse", inputs=("hemisphere", "driver", "activation", "trim"))
    assert {(x["hemisphere"], x["driver"]) for x in r.check("synapse_driver.pulse").failures} == {(0, 5)}
