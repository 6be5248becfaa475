"""The results store: every experiment run is kept, and nothing is overwritten.

>>> store = ResultStore()                 # $HIL_RESULTS, else ./hil_results
>>> run_id = store.save(result)           # '20261123T013512-1a2b3c4d'
>>> store.runs(limit=10)                  # newest first
>>> store.load(run_id)                    # the same ExperimentResult back

Layout under the root::

    index.sqlite                  one row per complete run (SQLite, WAL mode)
    runs/<run_id>/raw.npz         the measured arrays
    runs/<run_id>/prediction.npz  the analytical model's arrays
    runs/<run_id>/stimulus.npz    the stimulus arrays (result format 2)
    runs/<run_id>/result.json     experiment, params, metrics, verdict, context,
                                  summary, model and spec; for a failed run the
                                  error instead

Result format 1 (stores written before the run identity of issue 14) has no
stimulus, model, ideal flag or run counter; such runs still load, with those
left empty or None, and their index gains an ``ideal`` column (NULL: unknown)
the first time a new run is stored beside them.

Crash safety: a run's folder is created fresh (an existing id is refused),
each file is written to a temporary file in that folder and moved into place
with ``os.replace``, and only then is the index row inserted. A crash at any
point leaves the earlier runs untouched; at worst it leaves a folder without
an index row, which :meth:`ResultStore.runs` and :meth:`ResultStore.load`
never see. A killed writer may also leave a temporary file (``.<name>.<hex>.tmp``)
in a run folder; opening the store removes those that no live writer holds
(:func:`~.atomic.remove_leftovers`). Arrays are stored with ``np.savez`` and read with
``allow_pickle=False``: nothing is ever pickled.
"""
import dataclasses
import datetime as _dt
import json
import os
import secrets
import sqlite3
import traceback
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import fsync_dir, remove_leftovers, write_atomic, write_text_atomic
from ..contract.errors import InvalidValue, RunExists, StoreError, UnknownRun
from .jsonable import to_json_value
from ..contract.result import ExperimentResult, Metric, RunContext

ENV_ROOT = "HIL_RESULTS"
"""Environment variable naming the default store root."""
DEFAULT_ROOT = "hil_results"
"""Store root (relative to the working directory) when $HIL_RESULTS is unset."""
INDEX_NAME = "index.sqlite"
RUNS_DIR = "runs"
FORMAT = "hil-rig result 2"
"""Written into every result.json so that later readers can tell versions apart."""
READABLE_FORMATS = ("hil-rig result 1", FORMAT)
"""Formats :meth:`ResultStore.load` reads: 2 adds the stimulus, the model and spec, and the
full device identity (ideal flag, faults, commit, run counter) to 1."""
STATUSES = ("pass", "fail", "error")
# Names np.savez takes as its own keyword arguments; an array called so would
# be swallowed instead of stored.
_RESERVED_ARRAY_NAMES = ("file", "allow_pickle")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL UNIQUE,
    experiment TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
    backend TEXT NOT NULL,
    family TEXT NOT NULL,
    serial TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    software_version TEXT NOT NULL,
    n_metrics INTEGER NOT NULL,
    failed_metrics TEXT NOT NULL,
    error TEXT NOT NULL,
    saved TEXT NOT NULL,
    ideal INTEGER
);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs (experiment, seq);
"""
_ADDED_COLUMNS = (("ideal", "INTEGER"),)
"""Index columns added after format 1, with their SQL types; NULL in rows stored before."""


@dataclass(frozen=True)
class RunRecord:
    """One row of the store's index: what ``hil runs`` lists."""

    run_id: str
    """'<UTC yyyymmddThhmmss>-<8 hex digits>', unique in the store."""
    experiment: str
    status: str
    """'pass', 'fail' (a judged metric missed its limit) or 'error' (the run raised)."""
    backend: str
    """'' where the result carried no context."""
    serial: str
    started: str
    """UTC, ISO 8601 ('' without context)."""
    finished: str
    software_version: str
    n_metrics: int
    """Number of metrics, judged or reported."""
    failed_metrics: tuple[str, ...]
    """Names of the judged metrics that missed their limits (empty unless 'fail')."""
    error: str = ""
    """'<ExceptionType>: <message>' for status 'error', else ''."""
    ideal: bool | None = None
    """The device was ideal; None where the run did not record it (result format 1)."""


def default_root() -> Path:
    """$HIL_RESULTS if set, else ./hil_results."""
    return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)


def new_run_id(now: _dt.datetime | None = None) -> str:
    """A fresh run id: UTC time to the second plus 32 random bits."""
    now = now or _dt.datetime.now(_dt.timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(4)


class ResultStore:
    """Experiment runs on disk: an SQLite index plus one folder per run."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.last_run_id: str | None = None
        """The id of the run this store object saved last (for callers of hil.experiment.run)."""
        self.removed_leftovers: list[Path] = remove_leftovers((self.root / RUNS_DIR).glob("*/.*.tmp"))
        """Temporary files of runs that never completed, removed when this store was opened."""

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # --- writing -------------------------------------------------------------

    def save(self, result: ExperimentResult, *, run_id: str | None = None) -> str:
        """Stores ``result``; returns its run id. ``run_id``, if given, must be new."""
        if not isinstance(result, ExperimentResult):
            raise InvalidValue("result", f"is a {type(result).__name__}; expected an ExperimentResult")
        # Everything that can be refused is checked before anything touches the
        # disk, so a bad result leaves no folder behind.
        raw = _checked_arrays("raw", result.raw)
        prediction = _checked_arrays("prediction", result.prediction)
        stimulus = _checked_arrays("stimulus", result.stimulus)
        verdict = result.verdict
        status = "pass" if verdict.passed else "fail"
        document = {
            "format": FORMAT,
            "experiment": result.experiment,
            "status": status,
            "params": to_json_value("params", result.params),
            "context": dataclasses.asdict(result.context) if result.context is not None else None,
            "metrics": [m.to_json() for m in result.metrics],
            "verdict": {"passed": verdict.passed, "text": str(verdict),
                        "failed": [m.name for m in verdict.failed]},
            "summary": to_json_value("summary", result.summary),
            "model": to_json_value("model", result.model, finite=True),
            "arrays": {"raw": _array_index(raw), "prediction": _array_index(prediction),
                       "stimulus": _array_index(stimulus)},
        }
        files = [
            ("raw.npz", lambda f: np.savez(f, allow_pickle=False, **raw)),
            ("prediction.npz", lambda f: np.savez(f, allow_pickle=False, **prediction)),
            ("stimulus.npz", lambda f: np.savez(f, allow_pickle=False, **stimulus)),
        ]
        record = dict(experiment=result.experiment, status=status, context=result.context,
                      n_metrics=len(result.metrics), failed_metrics=tuple(m.name for m in verdict.failed),
                      error="")
        return self._store(run_id, document, files, record)

    def record_failure(self, experiment: str, context: RunContext | None, params: dict,
                       exc: BaseException) -> str:
        """Stores a run that raised ``exc`` (status 'error'); returns its run id.

        Never refuses for want of JSON-able params: what cannot be written as
        JSON is written as its repr, because the failure must be kept.
        """
        error = {"type": type(exc).__name__, "message": str(exc),
                 "traceback": "".join(traceback.format_exception(exc))}
        document = {
            "format": FORMAT,
            "experiment": experiment,
            "status": "error",
            "params": to_json_value("params", params, strict=False),
            "context": dataclasses.asdict(context) if context is not None else None,
            "error": error,
        }
        record = dict(experiment=experiment, status="error", context=context, n_metrics=0,
                      failed_metrics=(), error=f"{error['type']}: {error['message']}")
        return self._store(None, document, [], record)

    def _store(self, run_id: str | None, document: dict, files: list, record: dict) -> str:
        run_id, folder = self._new_folder(run_id)
        document = {"run_id": run_id, "saved": _utc_now(), **document}
        text = json.dumps(document, indent=2)
        for name, write in files:
            write_atomic(folder / name, write)
        # result.json last: a folder with it is complete, though only the index
        # row makes the run part of the store.
        write_text_atomic(folder / "result.json", text)
        fsync_dir(folder)
        fsync_dir(folder.parent)
        self._index_run(run_id, saved=document["saved"], **record)
        self.last_run_id = run_id
        return run_id

    def _new_folder(self, run_id: str | None) -> tuple[str, Path]:
        runs = self.root / RUNS_DIR
        runs.mkdir(parents=True, exist_ok=True)
        if run_id is not None:
            _check_run_id(run_id)
            if self._row(run_id) is not None:
                raise RunExists(f"run {run_id!r} is already stored in {self.root}")
            try:
                (runs / run_id).mkdir()
            except FileExistsError:
                raise RunExists(f"run folder {runs / run_id} already exists; runs are never overwritten") from None
            return run_id, runs / run_id
        # 32 random bits per second make a clash next to impossible, but mkdir
        # is the arbiter: a taken folder is never reused.
        for _ in range(16):
            candidate = new_run_id()
            try:
                (runs / candidate).mkdir()
            except FileExistsError:
                continue
            return candidate, runs / candidate
        raise StoreError(f"could not find a free run id in {runs}")

    def _index_run(self, run_id: str, *, experiment: str, status: str, context: RunContext | None,
                   n_metrics: int, failed_metrics: tuple[str, ...], error: str, saved: str) -> None:
        c = context
        ideal = None if c is None or c.ideal is None else int(c.ideal)
        row = (run_id, experiment, status, c.backend if c else "", c.family if c else "",
               c.serial if c else "", c.started if c else "", c.finished if c else "",
               c.software_version if c else "", n_metrics, json.dumps(list(failed_metrics)), error, saved,
               ideal)
        with closing(self._connect(create=True)) as conn:
            try:
                with conn:
                    conn.execute(
                        "INSERT INTO runs (run_id, experiment, status, backend, family, serial, started,"
                        " finished, software_version, n_metrics, failed_metrics, error, saved, ideal)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            except sqlite3.IntegrityError:
                raise RunExists(f"run {run_id!r} is already in the index of {self.root}") from None

    # --- reading -------------------------------------------------------------

    def runs(self, limit: int | None = None, experiment: str | None = None, *, serial: str | None = None,
             backend: str | None = None, ideal: bool | None = None) -> list[RunRecord]:
        """The stored runs, newest (last stored) first; ``limit`` >= 1 or None for all.

        experiment, serial, backend: only runs with this value; ideal: only runs on an ideal
        (True) or a non-ideal (False) device; a run that did not record the flag (format 1)
        matches neither.
        """
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise InvalidValue("limit", f"{limit!r} is not a whole number >= 1 (or None for all runs)")
        if ideal is not None and not isinstance(ideal, bool):
            raise InvalidValue("ideal", f"{ideal!r} is not True, False or None")
        conn = self._connect(create=False)
        if conn is None:
            return []
        where, args = [], []
        for column, value in (("experiment", experiment), ("serial", serial), ("backend", backend)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if ideal is not None:
            if "ideal" not in _columns(conn):
                conn.close()
                return []          # a format-1 index: no run recorded its ideal flag
            where.append("ideal = ?")
            args.append(int(ideal))
        sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with closing(conn):
            return [_record(row) for row in conn.execute(sql, args)]

    def record(self, run_id: str) -> RunRecord:
        """The index row of one run."""
        row = self._row(run_id)
        if row is None:
            raise UnknownRun(f"no run {run_id!r} in {self.root}")
        return _record(row)

    def path(self, run_id: str) -> Path:
        """The folder that holds a stored run's files."""
        self.record(run_id)
        return self.root / RUNS_DIR / run_id

    def document(self, run_id: str) -> dict:
        """The run's result.json as a dict (for an 'error' run, the only record of it)."""
        return json.loads((self.path(run_id) / "result.json").read_text("utf-8"))

    def load(self, run_id: str) -> ExperimentResult:
        """The stored result, as it was saved (tuples in params come back as lists)."""
        doc = self.document(run_id)
        if doc["status"] == "error":
            e = doc["error"]
            raise StoreError(f"run {run_id} of {doc['experiment']} ended in an error "
                             f"({e['type']}: {e['message']}); it holds no result")
        if doc.get("format") not in READABLE_FORMATS:
            raise StoreError(f"run {run_id} is in format {doc.get('format')!r}; this rig reads "
                             f"{list(READABLE_FORMATS)}")
        folder = self.path(run_id)
        context = RunContext(**doc["context"]) if doc["context"] is not None else None
        stimulus = folder / "stimulus.npz"
        return ExperimentResult(
            experiment=doc["experiment"],
            params=doc["params"],
            raw=_load_arrays(folder / "raw.npz"),
            prediction=_load_arrays(folder / "prediction.npz"),
            metrics=tuple(_metric(m) for m in doc["metrics"]),
            context=context,
            summary=doc["summary"],
            stimulus=_load_arrays(stimulus) if stimulus.exists() else {},
            model=doc.get("model", {}),
        )

    # --- the index -------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        path = self.root / INDEX_NAME
        if not create and not path.exists():
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        # A generous timeout: parallel test workers share one store.
        conn = sqlite3.connect(path, timeout=60.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        if create:
            # WAL lets readers go on while a run is being indexed; the mode is
            # kept in the file, so setting it once per writer is enough.
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                conn.executescript(_SCHEMA)
                present = _columns(conn)
                for column, kind in _ADDED_COLUMNS:
                    if column not in present:     # an index written in format 1
                        try:
                            conn.execute(f"ALTER TABLE runs ADD COLUMN {column} {kind}")
                        except sqlite3.OperationalError:
                            # Another writer added it between our look and our change.
                            if column not in _columns(conn):
                                raise
        return conn

    def _row(self, run_id: str) -> sqlite3.Row | None:
        conn = self._connect(create=False)
        if conn is None:
            return None
        with closing(conn):
            return conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {r["name"] for r in conn.execute("PRAGMA table_info(runs)")}


def _record(row: sqlite3.Row) -> RunRecord:
    ideal = row["ideal"] if "ideal" in row.keys() else None
    return RunRecord(run_id=row["run_id"], experiment=row["experiment"], status=row["status"],
                     backend=row["backend"], serial=row["serial"], started=row["started"],
                     finished=row["finished"], software_version=row["software_version"],
                     n_metrics=row["n_metrics"], failed_metrics=tuple(json.loads(row["failed_metrics"])),
                     error=row["error"], ideal=None if ideal is None else bool(ideal))


def _metric(d: dict) -> Metric:
    # Metric.to_json writes non-finite numbers as 'nan'/'inf' strings; Metric
    # turns them back into floats itself.
    # An unjudged metric's comparison is written as null (stores before 0.1.1 wrote "<=").
    names = {f.name for f in dataclasses.fields(Metric)}
    return Metric(**{k: v for k, v in d.items() if k in names and not (k == "comparison" and v is None)})


def _check_run_id(run_id: str) -> None:
    if not isinstance(run_id, str) or not run_id or run_id.startswith(".") or any(
            ch in run_id for ch in "/\\\0") or run_id != run_id.strip():
        raise InvalidValue("run_id", f"{run_id!r} is not usable as a folder name")


def _checked_arrays(field: str, arrays: dict) -> dict[str, np.ndarray]:
    if not isinstance(arrays, dict):
        raise InvalidValue(field, f"is a {type(arrays).__name__}; expected a dict of arrays")
    out = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name or name in _RESERVED_ARRAY_NAMES:
            raise InvalidValue(f"{field}[{name!r}]", "is not a usable array name "
                               f"(a non-empty string other than {list(_RESERVED_ARRAY_NAMES)})")
        a = np.asarray(value)
        if a.dtype.hasobject:
            # Object arrays could only be stored by pickling them.
            raise InvalidValue(f"{field}[{name!r}]", "has dtype object; only numeric, bool and "
                               "string arrays are stored (never pickled)")
        out[name] = a
    return out


def _array_index(arrays: dict[str, np.ndarray]) -> dict:
    return {k: {"dtype": str(a.dtype), "shape": list(a.shape)} for k, a in arrays.items()}


def _load_arrays(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as npz:
        return {name: npz[name] for name in npz.files}


def _utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


__all__ = ["DEFAULT_ROOT", "ENV_ROOT", "ResultStore", "RunRecord", "default_root", "new_run_id"]
