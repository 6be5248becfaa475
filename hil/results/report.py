"""HTML reports with plots, and the JSON beside them.

>>> paths = write_report([result_a, result_b], "reports/demo", title="Fidelity report")
>>> paths.html, paths.json          # reports/demo/report.html, reports/demo/metrics.json

``report.html`` is one self-contained file: its plots are PNGs embedded as
``data:`` URIs and its style sheet is inline, so it can be mailed or attached
to a ticket as it is. Every value from a result goes through jinja2's
autoescaping. ``metrics.json`` holds the same verdicts in machine-readable
form: per experiment its params, context, metrics (value, its 95 % interval ``low`` ..
``high`` with ``interval_method``, or ``no_interval``, the reason for none; limit, comparison,
source, passed) and verdict, and the overall verdict.

Nothing here knows a chip family: plots are chosen by the arrays a result
holds (:mod:`hil.report_plots`), and any result gets its metrics table.
"""
import dataclasses
import datetime as _dt
import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import jinja2

from .. import __version__
from .atomic import write_atomic, write_text_atomic
from ..contract.errors import InvalidValue
from .jsonable import to_json_value
from .plots import plots_for
from ..contract.result import ExperimentResult, Metric, format_estimate, format_number, interval_note

HTML_NAME = "report.html"
JSON_NAME = "metrics.json"
FIGURES_DIR = "figures"
"""Beside the report: each figure as ``<section>-<plot>.png`` and its data as ``.json``."""
FORMAT = "hil-rig report 1"
"""Written into metrics.json so that later readers can tell versions apart."""


@dataclass(frozen=True)
class ReportPaths:
    """Where :func:`write_report` put its files."""

    html: Path
    json: Path


def write_report(results: Sequence[ExperimentResult], out_dir: str | os.PathLike,
                 title: str = "Fidelity report", *, run_ids: Sequence[str | None] | None = None) -> ReportPaths:
    """Writes ``report.html`` and ``metrics.json`` for ``results`` into ``out_dir`` (created if missing).

    run_ids: the store's run id of each result (same order), shown in the
    report so every number can be traced back to its stored raw data.
    """
    results = list(results)
    if not results:
        raise InvalidValue("results", "is empty; a report needs at least one ExperimentResult")
    for i, r in enumerate(results):
        if not isinstance(r, ExperimentResult):
            raise InvalidValue(f"results[{i}]", f"is a {type(r).__name__}; expected an ExperimentResult")
    run_ids = list(run_ids) if run_ids is not None else [None] * len(results)
    if len(run_ids) != len(results):
        raise InvalidValue("run_ids", f"has {len(run_ids)} entries for {len(results)} results; they must match")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    document = report_document(results, title, run_ids)
    sections = [_section(i, r, run_id) for i, (r, run_id) in enumerate(zip(results, run_ids))]
    html = _render(sections, title, document["generated"])
    paths = ReportPaths(html=out / HTML_NAME, json=out / JSON_NAME)
    for section, entry in zip(sections, document["experiments"]):
        entry["figures"] = write_figures(out / FIGURES_DIR, section["anchor"], section["plots"])
    write_text_atomic(paths.json, json.dumps(document, indent=2, allow_nan=False) + "\n")
    write_text_atomic(paths.html, html)
    return paths


def write_figures(folder: Path, prefix: str, plots) -> list[dict]:
    """Each plot as ``<prefix>-<key>.png`` with its data as ``<prefix>-<key>.json`` in ``folder``;
    returns their names relative to the report folder."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for p in plots:
        png, data = folder / f"{prefix}-{p.key}.png", folder / f"{prefix}-{p.key}.json"
        write_atomic(png, lambda f, b=p.png: f.write(b))
        doc = {"title": p.title, "caption": p.caption, **p.data}
        write_text_atomic(data, json.dumps(to_json_value("figure", doc, finite=True), indent=1,
                                           allow_nan=False) + "\n")
        written.append({"key": p.key, "png": f"{folder.name}/{png.name}", "data": f"{folder.name}/{data.name}"})
    return written


def report_document(results: Sequence[ExperimentResult], title: str,
                    run_ids: Sequence[str | None] | None = None) -> dict:
    """What metrics.json holds (strict JSON: non-finite numbers are written as strings)."""
    run_ids = list(run_ids) if run_ids is not None else [None] * len(results)
    experiments = [experiment_document(r, run_id) for r, run_id in zip(results, run_ids)]
    passed = all(e["passed"] for e in experiments)
    return {
        "format": FORMAT,
        "title": title,
        "generated": utc_now(),
        "software_version": __version__,
        "verdict": "PASS" if passed else "FAIL",
        "passed": passed,
        "experiments": experiments,
    }


def experiment_document(result: ExperimentResult, run_id: str | None = None) -> dict:
    """One experiment's entry of metrics.json (also what ``hil run --json`` prints)."""
    v = result.verdict
    return {
        "experiment": result.experiment,
        "run_id": run_id,
        "verdict": str(v),
        "passed": v.passed,
        "failed": [m.name for m in v.failed],
        "params": to_json_value("params", result.params, strict=False, finite=True),
        "context": dataclasses.asdict(result.context) if result.context is not None else None,
        "metrics": [m.to_json() for m in result.metrics],
        "summary": to_json_value("summary", result.summary, strict=False, finite=True),
        "model": to_json_value("model", result.model, strict=False, finite=True),
        "stimulus": {k: {"dtype": str(a.dtype), "shape": list(a.shape)} for k, a in result.stimulus.items()},
    }


def render_html(results: Sequence[ExperimentResult], title: str,
                run_ids: Sequence[str | None] | None = None, *, generated: str | None = None) -> str:
    """The report page as one HTML string (plots embedded)."""
    run_ids = list(run_ids) if run_ids is not None else [None] * len(results)
    sections = [_section(i, r, run_id) for i, (r, run_id) in enumerate(zip(results, run_ids))]
    return _render(sections, title, generated or utc_now())


def _render(sections: list[dict], title: str, generated: str) -> str:
    return template_environment().get_template("report.html.j2").render(
        title=title,
        generated=generated,
        software_version=__version__,
        passed=all(s["passed"] for s in sections),
        sections=sections,
    )


def _section(index: int, result: ExperimentResult, run_id: str | None) -> dict:
    """What the template shows of one result: plain strings and rows, no logic left for jinja."""
    v = result.verdict
    context = dataclasses.asdict(result.context) if result.context is not None else {}
    return {
        "anchor": f"exp-{index}",
        "experiment": result.experiment,
        "run_id": run_id,
        "backend": context.get("backend", ""),
        "serial": context.get("serial", ""),
        "device": result.context.device if result.context is not None else "",
        "verdict": str(v),
        "passed": v.passed,
        "context": [(k, _text(val)) for k, val in context.items()],
        "model": [(k, _text(val)) for k, val in result.model.items()],
        "params": [(k, _text(val)) for k, val in result.params.items()],
        "metrics": [metric_row(m) for m in result.metrics],
        "summary": [(k, _text(val)) for k, val in result.summary.items()],
        "plots": plots_for(result),
    }


def metric_row(m: Metric) -> dict:
    status = {True: "pass", False: "fail", None: "info"}[m.passed]
    return {
        "name": m.name,
        "value": format_estimate(m, "—"),
        "interval_note": interval_note(m),
        "limit": format_number(m.limit, "—"),
        "comparison": m.comparison if m.judged else "",
        "unit": m.unit,
        "source": m.source,
        "detail": m.detail,
        "status": status,
        "label": {"pass": "PASS", "fail": "FAIL", "info": "reported"}[status],
    }


def _text(value) -> str:
    """A param or summary value as short text; escaping is the template's job."""
    if isinstance(value, float):
        return format_number(value, "—")
    if isinstance(value, str):
        return value
    v = to_json_value("value", value, strict=False, finite=True)
    return v if isinstance(v, str) else json.dumps(v)


@functools.lru_cache(maxsize=1)
def template_environment() -> jinja2.Environment:
    # autoescape=True for every template: parameters and metric names come from
    # users and experiments, and must never become markup in the report.
    return jinja2.Environment(loader=jinja2.PackageLoader("hil.results", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


__all__ = ["ReportPaths", "experiment_document", "render_html", "report_document", "write_report"]
