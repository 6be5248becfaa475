"""The neurons' bench (hil.rtl.benches.neuron) on Icarus."""
import struct

import pytest

from tests.rtl.benches.support import assert_caught, assert_clean, result

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("ideal", [False, True])
def test_integrator_is_the_emulators_and_linear_inside_the_knees(ideal):
    r = result("neuron", ideal=ideal)
    assert_clean(r, complete=("neuron.neuron_x_range", "neuron.sends_x_duration"))
    assert r.check("neuron.membrane").compared == r.figures["cases"]
    assert r.check("neuron.reset").tolerance.startswith("exact")
    names = {c.name for c in r.checks}
    assert ("neuron.compression" in names) == (not ideal)
    if not ideal:
        assert r.figures["compressed_cases"] > 0 and r.figures["max_beyond_rail_lsb"] < 0


def _knee_of_neuron_2_down(workdir):
    lines = (workdir / "neurons.hex").read_text().split()
    knee = struct.unpack(">d", bytes.fromhex(lines[2 * 4]))[0] - 10.0
    lines[2 * 4] = struct.pack(">d", knee).hex()
    (workdir / "neurons.hex").write_text("\n".join(lines) + "\n")


def test_bench_catches_a_knee_that_is_not_the_emulators(tmp_path):
    r = result("neuron", workdir=tmp_path, tamper=_knee_of_neuron_2_down)
    assert_caught(r, "neuron.membrane", inputs=("neuron", "charges", "charge_bits", "num_sends", "events", "wait"))
    assert {f["column"] for f in r.check("neuron.membrane").failures} == {2}


def test_bench_catches_a_lost_charge(tmp_path):
    r = result("neuron", workdir=tmp_path, plusargs=("+BENCH_MUTATE=1",))
    assert_caught(r, "neuron.membrane", inputs=("neuron", "charges"))
    assert r.check("neuron.linearity").mismatches > 0
