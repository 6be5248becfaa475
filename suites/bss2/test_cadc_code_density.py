"""The CADC code-density test on the device under test, and the faults it must catch.

Missing codes are invisible in MAC mode (the baseline's spread fills them);
the raw CADC ramp finds them.
"""
import pytest

import hil.experiment
from emulator.bss2 import Faults


@pytest.fixture(scope="module", autouse=True)
def _runs_the_cadc_mode(require_mode):
    require_mode("cadc")


@pytest.fixture(scope="module")
def density(backend, results_store):
    return hil.experiment.run("bss2.cadc_code_density", backend, store=results_store)


def test_code_density_passes(density, backend):
    failed = "; ".join(f"{m.name}={m.value:.4g} (limit {m.comparison} {m.limit:.4g}, {m.source})"
                       for m in density.verdict.failed)
    assert density.verdict.passed, f"bss2.cadc_code_density on {backend!r}: {failed}"
    assert density.metric("missing_code_channels").value == 0


def test_ideal_chip_has_an_ideal_adc(ideal_backend):
    r = hil.experiment.run("bss2.cadc_code_density", ideal_backend, repeats=8)
    assert r.metric("dnl_max").value == 0.0
    assert r.metric("code_width_spread").value == 0.0


@pytest.mark.parametrize("missing", [(100, 101), (1,), (254,)], ids=["100-101", "lowest", "highest"])
def test_missing_codes_are_caught(open_backend, missing):
    r = hil.experiment.run("bss2.cadc_code_density", open_backend(serial="EMU-FAULT",
                                                                  faults=Faults(missing_codes=missing)))
    assert not r.metric("missing_codes").passed
    assert r.metric("missing_codes").value == len(missing)
    assert r.summary["missing_codes"] == list(missing)
