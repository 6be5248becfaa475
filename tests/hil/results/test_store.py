"""The results store: round trips, statuses, ids, and what a crash leaves behind."""
import json
import math
import re
import sqlite3
import threading

import numpy as np
import pytest
from hil.errors import InvalidValue, RunExists, StoreError, UnknownRun

import hil.results.store
from hil.contract.result import ExperimentResult, Metric, RunContext
from hil.results.store import ResultStore, RunRecord

RUN_ID = re.compile(r"^\d{8}T\d{6}-[0-9a-f]{8}$")


def context(serial: str = "EMU-0007") -> RunContext:
    return RunContext(backend="emulator", family="bss2", serial=serial, model="bss2-virtual",
                      firmware="emulator 0.1.0", software_version="0.1.0",
                      started="2026-11-23T01:00:00.000+00:00", finished="2026-11-23T01:00:02.500+00:00")


def make_result(name: str = "bss2.mac_noise", *, passed: bool = True, seed: int = 0) -> ExperimentResult:
    rng = np.random.default_rng(seed)
    return ExperimentResult(
        experiment=name,
        params={"repeats": 200, "input_value": 15, "scale": 0.5, "label": "<b>", "shape": (2, 3),
                "np_int": np.int64(7)},
        raw={"samples": rng.integers(-128, 128, (20, 512)).astype(np.int8),
             "sigma": rng.normal(2.0, 0.1, 512),
             "mask": rng.random(512) > 0.5,
             "empty": np.zeros((0, 3))},
        prediction={"mean": np.full(512, 59.0), "label": np.array(["a", "bc"])},
        metrics=(
            Metric("noise_rel_error", 0.01, 0.25, "abs<=", "spec: hil.bss2.MacSpec", interval=0.004,
                   interval_method="chi-square"),
            Metric("noise_max", 2.9 if passed else 4.2, 3.5, "<=", "spec: hil.bss2.MacSpec", "LSB",
                   detail="sigma of the noisiest neuron"),
            Metric("linear_range_min", 90.0, 80.0, ">=", "spec", low=85.5, high=float("inf"),
                   interval_method="one-sided"),
            Metric("r2_min", float("nan"), no_interval="undefined: not finite"),
            Metric("spread", float("inf"), float("inf"), "<=", "reported"),
        ),
        context=context(),
        summary={"noise_rms": np.float64(2.01), "nested": {"a": [1, 2]}, "nan": float("nan")},
    )


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "results")


def assert_same_metric(a: Metric, b: Metric):
    assert (a.name, a.limit, a.comparison, a.source, a.unit, a.detail, a.interval, a.low, a.high,
            a.interval_method, a.no_interval) == \
           (b.name, b.limit, b.comparison, b.source, b.unit, b.detail, b.interval, b.low, b.high,
            b.interval_method, b.no_interval)
    assert a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))
    assert a.passed == b.passed


def test_round_trip_is_exact(store):
    original = make_result()
    run_id = store.save(original)
    loaded = store.load(run_id)

    assert loaded.experiment == original.experiment
    assert loaded.context == original.context
    # JSON has no tuples or numpy ints: those come back as lists and ints.
    assert loaded.params == {"repeats": 200, "input_value": 15, "scale": 0.5, "label": "<b>",
                             "shape": [2, 3], "np_int": 7}
    assert loaded.summary["noise_rms"] == 2.01 and loaded.summary["nested"] == {"a": [1, 2]}
    assert math.isnan(loaded.summary["nan"])
    for group in ("raw", "prediction"):
        a, b = getattr(original, group), getattr(loaded, group)
        assert list(a) == list(b)
        for name in a:
            assert b[name].dtype == a[name].dtype and b[name].shape == a[name].shape, name
            np.testing.assert_array_equal(b[name], a[name])
    assert len(loaded.metrics) == len(original.metrics)
    for a, b in zip(original.metrics, loaded.metrics):
        assert_same_metric(a, b)
    assert loaded.verdict.passed is True


def test_layout_and_result_json(store):
    run_id = store.save(make_result(passed=False))
    folder = store.path(run_id)
    assert folder == store.root / "runs" / run_id
    assert sorted(p.name for p in folder.iterdir()) == ["prediction.npz", "raw.npz", "result.json",
                                                          "stimulus.npz"]
    doc = json.loads((folder / "result.json").read_text())
    assert doc["run_id"] == run_id and doc["status"] == "fail"
    assert doc["verdict"] == {"passed": False, "text": "FAIL (noise_max)", "failed": ["noise_max"]}
    assert doc["metrics"][1] == {"name": "noise_max", "value": 4.2, "limit": 3.5, "comparison": "<=",
                                 "source": "spec: hil.bss2.MacSpec", "unit": "LSB",
                                 "detail": "sigma of the noisiest neuron", "interval": None, "low": None,
                                 "high": None, "interval_method": "", "no_interval": "", "passed": False}
    assert doc["arrays"]["raw"]["samples"] == {"dtype": "int8", "shape": [20, 512]}
    # The arrays are plain npz: readable without pickle.
    with np.load(folder / "raw.npz", allow_pickle=False) as npz:
        assert sorted(npz.files) == ["empty", "mask", "samples", "sigma"]


def test_index_uses_wal(store):
    store.save(make_result())
    with sqlite3.connect(store.root / "index.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_runs_lists_records_newest_first(store):
    a = store.save(make_result("bss2.mac_noise", passed=True))
    b = store.save(make_result("bss2.mac_gain", passed=False))
    c = store.save(make_result("bss2.mac_noise", passed=False))
    records = store.runs()
    assert [r.run_id for r in records] == [c, b, a]
    assert records[1] == RunRecord(run_id=b, experiment="bss2.mac_gain", status="fail", backend="emulator",
                                   serial="EMU-0007", started="2026-11-23T01:00:00.000+00:00",
                                   finished="2026-11-23T01:00:02.500+00:00", software_version="0.1.0",
                                   n_metrics=5, failed_metrics=("noise_max",), error="")
    assert records[2].status == "pass" and records[2].failed_metrics == ()
    assert [r.run_id for r in store.runs(limit=2)] == [c, b]
    assert [r.run_id for r in store.runs(experiment="bss2.mac_noise")] == [c, a]
    assert [r.run_id for r in store.runs(limit=1, experiment="bss2.mac_noise")] == [c]
    assert store.runs(experiment="bss2.none") == []
    assert store.record(a).status == "pass"


def test_run_ids_are_unique_and_well_formed(store):
    ids = [store.save(make_result(seed=i)) for i in range(20)]
    assert len(set(ids)) == 20
    assert all(RUN_ID.match(i) for i in ids)


def test_existing_id_is_refused_and_not_overwritten(store):
    run_id = store.save(make_result(passed=True))
    before = (store.path(run_id) / "result.json").read_bytes()
    with pytest.raises(RunExists, match=run_id):
        store.save(make_result(passed=False), run_id=run_id)
    # A folder that exists without an index row (a crashed save) is not reused either.
    (store.root / "runs" / "20261123T000000-deadbeef").mkdir()
    with pytest.raises(RunExists, match="deadbeef"):
        store.save(make_result(), run_id="20261123T000000-deadbeef")
    assert (store.path(run_id) / "result.json").read_bytes() == before
    assert [r.run_id for r in store.runs()] == [run_id]


def test_explicit_run_id(store):
    assert store.save(make_result(), run_id="imported-0001") == "imported-0001"
    assert store.load("imported-0001").experiment == "bss2.mac_noise"
    with pytest.raises(InvalidValue, match="run_id"):
        store.save(make_result(), run_id="../escape")


def test_record_failure(store):
    ok = store.save(make_result())
    try:
        raise InvalidValue("repeats", "5 is outside the allowed range 20..65536")
    except InvalidValue as exc:
        run_id = store.record_failure("bss2.mac_noise", context(), {"repeats": 5, "odd": object()}, exc)
    record = store.record(run_id)
    assert record.status == "error"
    assert record.error == "InvalidValue: repeats: 5 is outside the allowed range 20..65536"
    assert (record.n_metrics, record.failed_metrics, record.serial) == (0, (), "EMU-0007")
    doc = store.document(run_id)
    assert doc["error"]["type"] == "InvalidValue"
    assert "Traceback" in doc["error"]["traceback"]
    assert doc["params"]["repeats"] == 5 and doc["params"]["odd"].startswith("<object object")
    with pytest.raises(StoreError, match="ended in an error"):
        store.load(run_id)
    assert [r.status for r in store.runs()] == ["error", "pass"]
    assert store.load(ok).verdict.passed


def test_result_without_context(store):
    result = ExperimentResult("toy", {}, {"x": np.arange(3)}, {}, (Metric("m", 1.0),))
    run_id = store.save(result)
    r = store.record(run_id)
    assert (r.status, r.backend, r.serial, r.started) == ("pass", "", "", "")
    assert store.load(run_id).context is None


def test_refused_results_leave_nothing_behind(store):
    store.save(make_result())
    bad_array = ExperimentResult("toy", {}, {"objs": np.array([{}, 1], dtype=object)}, {}, ())
    with pytest.raises(InvalidValue, match=r"raw\['objs'\].*object"):
        store.save(bad_array)
    bad_params = ExperimentResult("toy", {"when": object()}, {}, {}, ())
    with pytest.raises(InvalidValue, match="params"):
        store.save(bad_params)
    reserved = ExperimentResult("toy", {}, {"file": np.zeros(2)}, {}, ())
    with pytest.raises(InvalidValue, match="file"):
        store.save(reserved)
    assert len(list((store.root / "runs").iterdir())) == 1
    assert len(store.runs()) == 1


def test_crash_before_index_insert_keeps_earlier_runs(store, monkeypatch):
    first = store.save(make_result(seed=1))
    second = store.save(make_result("bss2.mac_gain", passed=False, seed=2))

    def crash(self, *args, **kwargs):
        raise OSError("power cut between the array write and the index insert")

    monkeypatch.setattr(ResultStore, "_index_run", crash)
    with pytest.raises(OSError, match="power cut"):
        store.save(make_result(seed=3))
    monkeypatch.undo()

    # The half run's files are on disk, but it is not part of the store.
    folders = sorted(p.name for p in (store.root / "runs").iterdir())
    assert len(folders) == 3
    half = next(f for f in folders if f not in (first, second))
    assert [r.run_id for r in store.runs()] == [second, first]
    with pytest.raises(UnknownRun):
        store.load(half)
    np.testing.assert_array_equal(store.load(first).raw["samples"], make_result(seed=1).raw["samples"])
    assert store.load(second).verdict.passed is False
    # And the store goes on working.
    third = store.save(make_result(seed=4))
    assert [r.run_id for r in store.runs()] == [third, second, first]


def test_crash_while_writing_arrays_leaves_no_partial_file(store, monkeypatch):
    first = store.save(make_result(seed=1))

    def savez_then_crash(file, *args, **kwargs):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(hil.results.store.np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="disk full"):
        store.save(make_result(seed=2))
    monkeypatch.undo()
    half = [p for p in (store.root / "runs").iterdir() if p.name != first]
    assert len(half) == 1
    # The temporary file was removed and nothing was moved into place.
    assert list(half[0].iterdir()) == []
    assert [r.run_id for r in store.runs()] == [first]
    assert store.load(first).experiment == "bss2.mac_noise"


def test_concurrent_saves(store):
    ids, errors = [], []

    def worker(seed):
        try:
            for i in range(5):
                ids.append(store.save(make_result(seed=seed * 10 + i)))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(r.run_id for r in store.runs()) == sorted(ids) and len(set(ids)) == 20


def test_default_root_and_empty_store(tmp_path, monkeypatch):
    monkeypatch.setenv("HIL_RESULTS", str(tmp_path / "from-env"))
    assert ResultStore().root == tmp_path / "from-env"
    monkeypatch.delenv("HIL_RESULTS")
    monkeypatch.chdir(tmp_path)
    assert ResultStore().root.resolve() == (tmp_path / "hil_results").resolve()
    empty = ResultStore(tmp_path / "nothing-here")
    assert empty.runs() == []
    assert not (tmp_path / "nothing-here").exists()     # reading creates nothing
    with pytest.raises(UnknownRun, match="nope"):
        empty.path("nope")


def test_limit_is_validated(store):
    with pytest.raises(InvalidValue, match="limit"):
        store.runs(limit=0)


def test_a_store_written_by_version_0_1_0_still_opens(tmp_path):
    """tests/hil/results/data/store-0.1.0 was written by the rig before hil/ was laid out by
    concern (commit 02b76c8): its runs list and load unchanged."""
    import shutil
    from pathlib import Path

    root = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "store-0.1.0", root)
    store = ResultStore(root)
    failed, saved = store.runs()
    assert (failed.status, failed.error) == ("error", "ValueError: repeats: -5 is outside the allowed range 20..65536")
    assert (saved.experiment, saved.status, saved.serial) == ("bss2.mac_noise", "pass", "EMU-OLD")
    r = store.load(saved.run_id)
    np.testing.assert_array_equal(r.raw["samples"], np.arange(12).reshape(3, 4))
    assert [m.name for m in r.metrics] == ["noise_max", "noise_min"]
    assert r.metrics[0] == Metric("noise_max", 2.1, 3.5, "<=", "spec: hil.bss2.MacSpec", "LSB")
    assert np.isnan(r.metrics[1].value) and r.metrics[1].comparison == "<=" and not r.metrics[1].judged
    assert r.summary == {"noise_rms": 2.0} and r.context.serial == "EMU-OLD"


def test_a_run_stored_with_half_widths_only_loads_its_interval_ends(store):
    """Runs stored before intervals had ends carry only ``interval``, the half-width."""
    run_id = store.save(make_result())
    path = store.path(run_id) / "result.json"
    doc = json.loads(path.read_text())
    for m in doc["metrics"]:
        for k in ("low", "high", "interval_method", "no_interval"):
            del m[k]
    path.write_text(json.dumps(doc))
    m = store.load(run_id).metric("noise_rel_error")
    assert (m.interval, m.low, m.high, m.interval_method) == (0.004, 0.006, 0.014, "")
    assert store.load(run_id).metric("noise_max").low is None


# --- leftovers of killed writers ------------------------------------------------------------

def _leftover(folder, name: str, age_s: float = 3600.0):
    """A temporary file as a killed writer leaves it: '.<name>.<hex>.tmp', last written age_s ago."""
    import os
    import time

    path = folder / f".{name}.0123456789ab.tmp"
    path.write_bytes(b"\0" * 4096)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_opening_the_store_removes_what_a_killed_run_left(tmp_path):
    store = ResultStore(tmp_path)
    run_id = store.save(make_result())
    folder = store.path(run_id)
    complete = _leftover(folder, "raw.npz")
    killed = tmp_path / "runs" / "20261123T013512-1a2b3c4d"       # a run killed before it was indexed
    killed.mkdir()
    orphan = _leftover(killed, "raw.npz")
    fresh = _leftover(killed, "prediction.npz", age_s=0)          # a writer may just have created it
    reopened = ResultStore(tmp_path)
    assert sorted(reopened.removed_leftovers) == sorted([complete, orphan])
    assert not complete.exists() and not orphan.exists() and fresh.exists()
    assert reopened.load(run_id).experiment == "bss2.mac_noise", "the stored run is untouched"
    assert [r.run_id for r in reopened.runs()] == [run_id]


def test_a_file_being_written_is_never_swept(tmp_path):
    import fcntl

    store = ResultStore(tmp_path)
    run_id = store.save(make_result())
    live = _leftover(store.path(run_id), "raw.npz")
    with open(live, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)                    # as write_atomic holds its file
        assert ResultStore(tmp_path).removed_leftovers == []
        assert live.exists()
    assert ResultStore(tmp_path).removed_leftovers == [live]


def test_runs_select_by_serial_backend_and_ideal(store):
    import dataclasses

    ids = {}
    for serial, backend, ideal in (("EMU-1", "emulator", True), ("EMU-1", "emulator", False),
                                   ("EMU-2", "board", False)):
        r = dataclasses.replace(make_result(), context=dataclasses.replace(
            context(serial), backend=backend, ideal=ideal))
        ids[serial, backend, ideal] = store.save(r)
    assert [r.run_id for r in store.runs(ideal=True)] == [ids["EMU-1", "emulator", True]]
    assert [r.run_id for r in store.runs(serial="EMU-1", ideal=False)] == [ids["EMU-1", "emulator", False]]
    assert [r.run_id for r in store.runs(backend="board")] == [ids["EMU-2", "board", False]]
    assert store.runs(serial="EMU-1", backend="board") == []
    assert store.record(ids["EMU-1", "emulator", True]).ideal is True
    with pytest.raises(InvalidValue, match="ideal"):
        store.runs(ideal="yes")


def test_an_old_store_takes_new_runs_and_keeps_the_old_ones_unknown(tmp_path):
    """A format-1 store gains the ideal column when a run is stored; its old runs stay 'unknown'."""
    import shutil
    from pathlib import Path

    root = tmp_path / "old"
    shutil.copytree(Path(__file__).parent / "data" / "store-0.1.0", root)
    store = ResultStore(root)
    assert store.runs(ideal=False) == [] and len(store.runs()) == 2      # before the index is migrated
    old = store.runs()[1]
    loaded = store.load(old.run_id)
    assert (loaded.stimulus, loaded.model, loaded.context.ideal, loaded.context.run_counter_first) == \
           ({}, {}, None, None)
    new_id = store.save(make_result())
    assert [r.run_id for r in store.runs(ideal=False)] == []    # make_result's context has no flag
    assert store.record(old.run_id).ideal is None and len(store.runs()) == 3
    assert store.document(new_id)["format"] == "hil-rig result 2"


def test_an_unknown_format_is_refused(store):
    run_id = store.save(make_result())
    path = store.path(run_id) / "result.json"
    doc = json.loads(path.read_text())
    path.write_text(json.dumps({**doc, "format": "hil-rig result 99"}))
    with pytest.raises(StoreError, match="result 99"):
        store.load(run_id)
