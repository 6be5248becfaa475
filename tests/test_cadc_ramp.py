"""The CADC ramp mode: emulator, types, backends, and the code-density experiment's pieces."""
import dataclasses
import hashlib

import numpy as np
import pytest

import hil
import hil.experiment
from emulator.bss2 import Faults, VirtualChip, capmem, fixed_pattern
from emulator.errors import InvalidInput
from hil import wire
from hil.bss2 import CadcCodes, CadcRamp, CadcRampModel
from hil.bss2.cadc_experiments import dnl_limit, histogram, min_repeats
from hil.errors import InvalidValue
from hil.result import ExperimentResult, Metric
from hil.virtual_board import VirtualBoard

LEVELS = np.arange(1023, dtype=np.uint16)


def test_ideal_chip_reads_the_ideal_ramp_adc_exactly():
    codes = VirtualChip("EMU-RAMP", ideal=True).read_cadc_ramp(LEVELS, repeats=2)
    expected = np.clip((np.repeat(LEVELS, 2).astype(np.int64) - 128) // 3, 0, 255)
    np.testing.assert_array_equal(codes, np.broadcast_to(expected[:, None], (2046, 512)))
    np.testing.assert_array_equal(CadcRampModel().codes(LEVELS), expected[::2])
    # Codes 1..254 take 3 levels each; the ends collect the overrange.
    h = CadcRampModel().histogram(LEVELS)
    assert (h[1:255] == 3).all() and h[0] == 131 and h[255] == 130 and h.sum() == 1023


def test_full_ramp_overdrives_both_ends():
    m = capmem.nominal_membrane(np.array([0, 1022]))
    assert m[0] < -40 and m[1] > 255 + 40


def test_ramp_is_reproducible_and_advances_the_run_counter():
    a, b = VirtualChip("EMU-RAMP"), VirtualChip("EMU-RAMP")
    mid = LEVELS[400:450]                  # inside the CADC's range (the first ~130 levels read code 0)
    first = a.read_cadc_ramp(mid, 4)
    np.testing.assert_array_equal(first, b.read_cadc_ramp(mid, 4))
    assert a.run_counter == 1
    assert not np.array_equal(first, a.read_cadc_ramp(mid, 4)), "a new run has new noise"
    # The noise of a sample depends on (run, sample, neuron) only: a shorter run reads the same prefix.
    np.testing.assert_array_equal(first[:8], VirtualChip("EMU-RAMP").read_cadc_ramp(mid[:2], 4))


def test_ramp_noise_is_the_chips_read_noise():
    chip = VirtualChip("EMU-RAMP")
    level = np.full(1, 600, np.uint16)
    codes = chip.read_cadc_ramp(level, 4000).astype(np.float64)
    sigma = codes.std(axis=0) / chip.pattern.cadc_slope
    expected = np.sqrt(chip.pattern.sigma_read**2 + 1 / 12)
    assert np.abs(sigma / expected - 1).max() < 0.15       # 4000 samples: ~1.1 % per neuron, 512 neurons
    mean = codes.mean(axis=0)
    v = capmem.membrane(chip.pattern, level)[0]
    np.testing.assert_allclose(mean + 0.5, chip.pattern.cadc_offset + chip.pattern.cadc_slope * v, atol=0.3)


def test_faults_in_the_ramp():
    faults = Faults(dead_neurons=(7,), missing_codes=(100, 101), noisy_neurons=((9, 5.0),))
    codes = VirtualChip("EMU-RAMP", faults=faults).read_cadc_ramp(LEVELS, 8)
    assert not np.isin(codes, [100, 101]).any()
    dead = codes[:, 7].astype(int)
    assert dead.max() - dead.min() < 20, "a dead neuron stays at its reset level"
    h = histogram(codes)
    assert h[99, 0] > 2 * h[98, 0], "a missing code is read as the code below it"


def test_bad_ramp_requests_are_refused():
    chip = VirtualChip("EMU-RAMP")
    with pytest.raises(InvalidInput, match=r"levels\[3\]: 1023 is outside"):
        chip.read_cadc_ramp(np.array([0, 1, 2, 1023], np.uint16))
    with pytest.raises(InvalidInput, match="levels"):
        chip.read_cadc_ramp(LEVELS.astype(np.int32))
    with pytest.raises(InvalidInput, match="repeats"):
        chip.read_cadc_ramp(LEVELS, 65)
    with pytest.raises(InvalidInput, match="repeats"):
        chip.read_cadc_ramp(LEVELS, 0)
    assert chip.run_counter == 0


def test_capmem_draws_keep_every_chip_drawn_before_them():
    """The CapMem mismatch is drawn after everything else: earlier fields keep their values."""
    p = fixed_pattern.draw(1)
    h = hashlib.sha256()
    for f in dataclasses.fields(p):
        if not f.name.startswith("capmem"):
            h.update(np.asarray(getattr(p, f.name), np.float64).tobytes())
    assert h.hexdigest() == "65d43e0e95defee57fe43fa7f8621ec33b5c703b7f0f2034cfbc2e128f7d787f"
    assert 0.5 < p.capmem_offset.std() < 1.5 and 0.005 < p.capmem_gain.std() < 0.015


# --- types and backends -----------------------------------------------------------

def test_types_validate_and_cross_the_wire():
    ramp = CadcRamp(levels=[0, 5, 1022], repeats=3)
    assert ramp.levels.dtype == np.uint16 and ramp.samples == 9
    header, arrays = wire.encode(ramp)
    assert header == {"type": "bss2.CadcRamp", "fields": {"repeats": 3}}
    back = wire.decode(header, arrays)
    np.testing.assert_array_equal(back.levels, ramp.levels)
    with pytest.raises(InvalidValue, match=r"levels\[1\]: 1023 is outside the allowed range 0..1022"):
        CadcRamp(levels=[0, 1023])
    with pytest.raises(InvalidValue, match="repeats"):
        CadcRamp(levels=LEVELS, repeats=65)
    with pytest.raises(InvalidValue, match="levels"):
        CadcRamp(levels=[[1, 2]])
    with pytest.raises(InvalidValue, match="codes"):
        CadcCodes(codes=np.zeros((4, 511), np.uint8))


def test_emulator_backend_runs_the_cadc_mode():
    with hil.backend.open("emulator", serial="EMU-RAMP") as b:
        assert b.info().modes == ("mac", "cadc")
        out = b.run(CadcRamp(levels=LEVELS[:10], repeats=2))
        assert isinstance(out, CadcCodes) and out.codes.shape == (20, 512)
        np.testing.assert_array_equal(out.codes, VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS[:10], 2))
        assert b.identity() == {"vendor": "hil-rig", "model": "BSS2-EMU", "serial": "EMU-RAMP",
                                "firmware": b.info().firmware}


@pytest.mark.board
def test_virtual_board_serves_the_cadc_mode():
    with VirtualBoard(hil.backend.open("emulator", serial="EMU-RAMP"), port=0) as board:
        with hil.backend.open("board", resource=board.resource) as b:
            assert "cadc" in b.info().modes
            assert b.identity()["serial"] == "EMU-RAMP"
            out = b.run(CadcRamp(levels=LEVELS, repeats=4))
    np.testing.assert_array_equal(out.codes, VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS, 4))


# --- the code-density experiment's statistics ---------------------------------------------

def test_repeats_are_enough_for_missing_codes_to_mean_something():
    r = min_repeats()
    assert 512 * 254 * np.exp(-3 * r) <= 1e-3 < 512 * 254 * np.exp(-3 * (r - 1))
    with pytest.raises(InvalidValue, match="repeats"):
        hil.experiment.run("bss2.cadc_code_density", hil.backend.open("emulator"), repeats=r - 1)


def test_dnl_limit_is_poisson():
    assert 0.40 < dnl_limit(192.0, 512 * 254) < 0.48
    assert dnl_limit(24.0, 512 * 254) > 1.0        # too few hits to see a missing code by DNL
    assert dnl_limit(192.0, 1) < dnl_limit(192.0, 512 * 254)


def test_histogram_counts_codes_per_channel():
    codes = np.array([[0, 255], [0, 3], [1, 3]], np.uint8)
    h = histogram(codes)
    assert h.shape == (256, 2)
    assert (h[0, 0], h[1, 0], h[3, 1], h[255, 1]) == (2, 1, 2, 1)


def test_code_density_on_the_ideal_chip_is_exact():
    r = hil.experiment.run("bss2.cadc_code_density", hil.backend.open("emulator", ideal=True), repeats=8)
    assert r.verdict.passed
    assert r.metric("dnl_max").value == 0.0 and r.metric("missing_codes").value == 0
    ideal = r.prediction["code_histogram"]
    np.testing.assert_array_equal(r.raw["code_histogram"], np.repeat(ideal[:, None], 512, axis=1))


# --- experiments declare their metrics ------------------------------------------------------

def test_declared_metrics_are_what_experiments_report(monkeypatch):
    monkeypatch.setattr(hil.experiment, "_EXPERIMENTS", dict(hil.experiment._EXPERIMENTS))

    @hil.experiment.experiment("test.declared", metrics=("a", "b"))
    def declared(backend, *, progress=False):
        return ExperimentResult("test.declared", {}, {}, {}, (Metric("a", 1.0), Metric("c", 2.0)))

    assert hil.experiment.metric_names("test.declared") == ("a", "b")
    with pytest.raises(RuntimeError, match="not the ones it declares"):
        hil.experiment.run("test.declared", None)
    for name in hil.experiment.names():
        assert hil.experiment.metric_names(name), f"{name} declares no metrics"


def test_ramp_does_not_depend_on_how_it_is_split(monkeypatch):
    import emulator.bss2.chip as chip_module

    whole = VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS[300:700], 5)
    monkeypatch.setattr(chip_module, "_RAMP_CHUNK_SAMPLES", 7)
    np.testing.assert_array_equal(whole, VirtualChip("EMU-RAMP").read_cadc_ramp(LEVELS[300:700], 5))
