"""The cell-level acceptance experiments (bss2.cadc_transfer, capmem_scan and label_scan): healthy serials and the
ideal chip pass; faults above the stated floors (docs/acceptance.md#cadc-capmem-labels-and-the-link)
are caught at fixed positions, hemisphere 1 and the last column included. (The link outcome:
tests/hil/acceptance/test_link_outcome.py.)"""
import numpy as np
import pytest

import hil
import hil.bss2.experiments  # noqa: F401  (registers them)
from emulator.bss2 import Faults, StuckCapmemCell, StuckLabelBit, capmem, geometry as g
from hil.bss2.experiments.capmem import CHECKS, LEVELS, linear_adex
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
@pytest.mark.parametrize("cell", sorted(capmem.DEFAULT_LEVELS))
def test_capmem_scan_catches_a_cell_stuck_at_any_level(cell):
    # Every neuron's cell stuck, at every other level 0..1022 over the 512 neurons (seeded order, so
    # that hemisphere 1, the last neuron and both written levels are among them): each is caught.
    levels = np.random.default_rng(5).permutation(np.arange(0, g.CAPMEM_LEVEL_MAX + 1, 2))[:g.NEURONS]
    faults = Faults(stuck_capmem=tuple(StuckCapmemCell(n, cell, int(v)) for n, v in enumerate(levels)))
    r = _run("bss2.capmem_scan", faults=faults)
    outside = _outside_all(r, cell)
    assert outside.size == g.NEURONS, sorted(int(levels[n]) for n in set(range(g.NEURONS)) - set(outside.tolist()))
    assert not r.verdict.passed


@pytest.mark.emulator
def test_capmem_scan_names_the_cell_and_neuron():
    cells = (StuckCapmemCell(3, "reset", 368), StuckCapmemCell(256, "tau_syn_inh", 400),
             StuckCapmemCell(511, "exp_slope", 0))
    r = _run("bss2.capmem_scan", faults=Faults(stuck_capmem=cells))
    assert r.metric("cell_outside_neurons").value == 3
    # dT stuck at 0 also silences the exp_threshold test, which writes dT of about 1 LSB.
    assert {c: o for c, o in r.summary["outside"].items() if o} == {"reset": [3], "tau_syn_inh": [256],
                                                                    "exp_slope": [511], "exp_threshold": [511]}
    assert "reset 3; " in r.metric("cell_outside_neurons").detail


def test_capmem_scan_tests_every_neuron_cell():
    assert set(CHECKS) == set(capmem.DEFAULT_LEVELS) == set(LEVELS)


def test_the_linear_adex_neuron_is_the_ode_solution():
    # Against a fine Euler integration of the same ODE, and its steady state leak + i / (1 + a).
    leak, i, a, tm, tw = 80.0, 90.0, 2.0, 10e-6, 20e-6
    t = np.array([5e-6, 40e-6, 300e-6])
    h, u, w, out = 1e-9, 0.0, 0.0, []
    marks = set(np.rint(t / h).astype(int).tolist())
    for n in range(1, max(marks) + 1):
        u, w = u + h * (-u + i - w) / tm, w + h * (a * u - w) / tw
        if n in marks:
            out.append(leak + u)
    assert np.allclose(linear_adex(leak, i, a, tm, tw, t), out, atol=0.05)
    assert linear_adex(leak, i, a, tm, tw, [1e-2])[0] == pytest.approx(leak + i / (1 + a), abs=1e-9)


def _outside_all(result, cell: str) -> np.ndarray:
    from hil.bss2.experiments.spiking import _outside as outside
    return outside(result.raw[f"scan_{cell}"], result.prediction[f"scan_{cell}_low"],
                   result.prediction[f"scan_{cell}_high"])


# -- bss2.label_scan --------------------------------------------------------------------------------

@pytest.mark.emulator
@pytest.mark.parametrize("serial", HEALTHY + ("ideal",))
def test_label_scan_passes_healthy_chips(serial):
    r = _run("bss2.label_scan", serial="EMU-0042" if serial == "ideal" else serial, ideal=serial == "ideal")
    assert r.verdict.passed, [(m.name, m.value, m.detail) for m in r.verdict.failed]
    assert r.summary["weakest_psp_lsb"] > 2 * r.summary["noise_bound_lsb"]


@pytest.mark.emulator
def test_label_scan_finds_every_stuck_label_bit_and_only_those():
    # The corners (hemisphere 1's last row and column, hemisphere 0's first), every bit, both values,
    # and 60 seeded positions: each synapse is named, no other.
    rng = np.random.default_rng(11)
    bits = [StuckLabelBit(1, 255, 255, 5, 0), StuckLabelBit(1, 255, 255, 0, 1), StuckLabelBit(0, 0, 0, 0, 1),
            StuckLabelBit(0, 0, 1, 5, 0)]
    bits += [StuckLabelBit(int(rng.integers(2)), int(rng.integers(256)), int(rng.integers(256)), int(rng.integers(6)),
                           int(rng.integers(2))) for _ in range(60)]
    r = _run("bss2.label_scan", faults=Faults(stuck_label_bits=tuple(bits)))
    expected = sorted({(b.hemisphere, b.row, b.column) for b in bits})
    failing = sorted(tuple(x) for x in r.summary["failing"])
    assert failing == expected
    assert r.metric("failing_synapses").value == len(expected) and not r.verdict.passed


# -- the link ----------------------------------------------------------------------------------------
