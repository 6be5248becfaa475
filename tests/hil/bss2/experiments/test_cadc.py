"""The CADC mode through the rig: types, backends, and the code-density experiment's pieces."""

import hil.experiment
import numpy as np
import pytest
from hil.errors import InvalidValue

import hil
from emulator.bss2 import VirtualChip
from hil.bss2 import CadcCodes, CadcRamp
from hil.bss2.experiments.cadc import dnl_limit, histogram, min_repeats
from hil.contract import wire
from hil.contract.result import ExperimentResult, Metric
from hil.server.tcp import VirtualBoard

LEVELS = np.arange(1023, dtype=np.uint16)


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
        CadcCodes(codes=np.zeros((4, 513), np.uint8))   # more channels than the chip has


def test_emulator_backend_runs_the_cadc_mode():
    with hil.backend.open("emulator", serial="EMU-RAMP") as b:
        assert b.info().modes == ("mac", "cadc", "spiking", "memory")
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


def test_a_device_without_the_cadc_mode_fails_the_run_before_it_starts(tmp_path):
    """The reduced core runs only the MAC mode: the code-density run fails with Unsupported,
    naming the mode, and is stored as failed; nothing reaches the device."""
    from hil.results.store import ResultStore
    from hil.rtl.geometry import RtlGeometry

    backend = hil.backend.open("emulator", geometry=RtlGeometry())
    assert hil.experiment.mode("bss2.cadc_code_density") == "cadc"
    assert "cadc" not in backend.info().modes
    store = ResultStore(tmp_path)
    with pytest.raises(hil.errors.Unsupported, match="runs in the 'cadc' mode"):
        hil.experiment.run("bss2.cadc_code_density", backend, store=store)
    assert store.record(store.last_run_id).status == "error"
    assert backend.run_counter == 0
