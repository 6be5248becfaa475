"""The CADC's bench (hil.rtl.benches.cadc) on Icarus."""
import pytest

from tests.rtl.benches.support import assert_caught, assert_clean, result

pytestmark = pytest.mark.rtl


def test_every_channel_reads_the_emulators_codes_with_the_analytical_transfer():
    r = result("cadc")
    assert_clean(r, complete=("cadc.code", "cadc.channel_x_region"))
    codes = r.check("cadc.codes")
    assert codes.stage == "digital" and codes.tolerance == "exact"
    assert codes.compared == r.figures["channels"] * r.figures["points_per_channel"]
    assert r.check("cadc.missing_codes").compared == 256 * r.figures["channels"]
    assert r.check("cadc.transitions").compared == 255 * r.figures["channels"]
    assert r.figures["missing_codes"] == 0
    # figures against the ideal ramp: about 1.5 % slope and a few LSB offset, nothing else
    assert 0 < r.figures["dnl_max_lsb"] < 0.1
    assert r.figures["inl_endpoint_max_lsb"] < 1e-3
    assert len(r.figures["per_channel"]) == r.figures["channels"]


def _offset_of_channel_3_up(workdir):
    lines = (workdir / "cadc_offset.hex").read_text().split()
    lines[3] = f"{int(lines[3], 16) + 1:03x}"
    (workdir / "cadc_offset.hex").write_text("\n".join(lines) + "\n")


def test_bench_catches_a_channel_that_is_not_the_emulators(tmp_path):
    r = result("cadc", workdir=tmp_path, tamper=_offset_of_channel_3_up)
    assert_caught(r, "cadc.codes", inputs=("channel", "neuron", "v", "v_bits"))
    assert {f["channel"] for f in r.check("cadc.codes").failures} == {3}
    assert_caught(r, "cadc.transitions", inputs=("channel", "code"))
