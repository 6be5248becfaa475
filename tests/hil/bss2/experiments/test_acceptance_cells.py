"""The cell-level acceptance experiments (hil/bss2/experiments/cells.py): healthy serials and the
ideal chip pass; faults above the stated floors (docs/acceptance.md#cadc-capmem-labels-and-the-link)
are caught at fixed positions, hemisphere 1 and the last column included. (The link outcome:
tests/hil/acceptance/test_link_outcome.py.)"""
import pytest

import hil
import hil.bss2.experiments  # noqa: F401  (registers them)
from emulator.bss2 import Faults, StuckCapmemCell
from hil.contract import experiment as experiments

HEALTHY = ("EMU-0042", "EMU-0007", "EMU-1234")


def _run(name: str, *, serial: str = "EMU-0042", ideal: bool = False, faults: Faults = Faults(), **params):
    options = dict(serial=serial, faults=faults) | (dict(ideal=True) if ideal else {})
    with hil.backend.open("emulator", **options) as b:
        return experiments.run(name, b, **params)


def _outside(result, metric: str) -> list[int]:
    m = result.metric(metric)
    return [int(x) for x in m.detail.split(": ", 1)[1].split(", ")] if m.value else []


# -- bss2.cadc_transfer -----------------------------------------------------------------------------

@pytest.mark.emulator
@pytest.mark.parametrize("serial", HEALTHY + ("ideal",))
def test_cadc_transfer_passes_healthy_chips(serial):
    r = _run("bss2.cadc_transfer", serial="EMU-0042" if serial == "ideal" else serial, ideal=serial == "ideal")
    assert r.verdict.passed, [(m.name, m.value, m.detail) for m in r.verdict.failed]


@pytest.mark.emulator
def test_cadc_transfer_catches_offset_and_slope_faults_beyond_the_floor():
    # Beyond the guaranteed floors (twice each limit, so also on a healthy channel at its box's edge).
    r0 = _run("bss2.cadc_transfer")
    off_floor, slope_floor = 2 * r0.summary["offset_limit_codes"], 2 * r0.summary["slope_limit"]
    assert off_floor < 20 and slope_floor < 0.2
    faults = Faults(cadc_offsets=((3, 20.0), (300, -20.0), (511, 20.0)),
                    cadc_slopes=((7, 1.2), (256, 0.8), (510, 1.2)))
    r = _run("bss2.cadc_transfer", faults=faults)
    assert _outside(r, "offset_outside_channels") == [3, 300, 511]
    assert _outside(r, "slope_outside_channels") == [7, 256, 510]
    assert not r.verdict.passed


@pytest.mark.emulator
def test_cadc_transfer_sees_a_stuck_leak_cell_as_a_flat_channel():
    r = _run("bss2.cadc_transfer", faults=Faults(stuck_capmem=(StuckCapmemCell(400, "leak", 500),)))
    assert _outside(r, "slope_outside_channels") == [400]


# -- bss2.capmem_scan -------------------------------------------------------------------------------

@pytest.mark.emulator
@pytest.mark.parametrize("serial", HEALTHY + ("ideal",))
def test_capmem_scan_passes_healthy_chips(serial):
    r = _run("bss2.capmem_scan", serial="EMU-0042" if serial == "ideal" else serial, ideal=serial == "ideal")
    assert r.verdict.passed, [(m.name, m.value, m.detail) for m in r.verdict.failed]


@pytest.mark.emulator
def test_capmem_scan_catches_stuck_leak_and_threshold_cells():
    # Stuck at one of the written levels (invisible there, seen at the other), between them, and
    # a threshold out of the drive's reach (the neuron never spikes; its largest code is v_inf's).
    cells = (StuckCapmemCell(3, "leak", 368), StuckCapmemCell(256, "leak", 470), StuckCapmemCell(511, "leak", 578),
             StuckCapmemCell(300, "threshold", 560), StuckCapmemCell(511, "threshold", 1000),
             StuckCapmemCell(0, "threshold", 530))
    r = _run("bss2.capmem_scan", faults=Faults(stuck_capmem=cells))
    assert _outside(r, "leak_outside_neurons") == [3, 256, 511]
    # A stuck leak also moves the threshold scan's drive (v_inf = leak + i_const): it may show there too.
    assert {0, 300, 511} <= set(_outside(r, "threshold_outside_neurons")) <= {0, 3, 256, 300, 511}
    assert not r.verdict.passed


# -- the link ----------------------------------------------------------------------------------------
