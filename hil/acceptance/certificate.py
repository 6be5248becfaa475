"""The acceptance certificate of one board: HTML, JSON and JUnit XML.

>>> paths = write_certificate(acceptance, "certificates/EMU-0001")
>>> paths.html, paths.json, paths.junit     # certificate.html, certificate.json, junit.xml

``certificate.json`` holds, in strict JSON: the board's identity (vendor,
model, serial, firmware from ``*IDN?``, backend, family), the date (UTC), the
software version, the specification (name, version, family, file, SHA-256),
every judged metric (value, unit, limit, comparison, the limit's source,
passed, status) and the verdict, plus the runs it was measured in and the
metrics the specification does not judge, and the coverage of the spec file
as a campaign measured it (``coverage``: per fault class the fraction caught,
the false-reject rate, the campaign's date and size, from
``specs/<name>-v<version>.coverage.json`` under the file's SHA-256; or
``measured: false`` with "no campaign measured for this spec version"). ``certificate.html`` shows the same,
autoescaped, with the experiments' plots embedded; ``junit.xml`` has one test
case per judged metric (:mod:`hil.acceptance.junit`).
"""
import json
import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from ..results.atomic import write_text_atomic
from ..results.jsonable import to_json_value
from ..results.report import template_environment, metric_row
from ..results.plots import plots_for
from ..contract.result import Metric
from .campaign import read_coverage
from .junit import junit_xml
from .runner import Acceptance, JudgedMetric

FORMAT = "hil-rig acceptance certificate 1"
"""Written into certificate.json so that later readers can tell versions apart."""
HTML_NAME = "certificate.html"
JSON_NAME = "certificate.json"
JUNIT_NAME = "junit.xml"


@dataclass(frozen=True)
class CertificatePaths:
    """Where :func:`write_certificate` put its files."""

    html: Path
    json: Path
    junit: Path


def write_certificate(acceptance: Acceptance, out_dir: str | os.PathLike, *, plots: bool = True) -> CertificatePaths:
    """Writes the three files into ``out_dir`` (created if missing); each atomically.

    plots: embed the experiments' plots in the HTML (a few seconds of matplotlib).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = CertificatePaths(html=out / HTML_NAME, json=out / JSON_NAME, junit=out / JUNIT_NAME)
    document = certificate_document(acceptance)
    write_text_atomic(paths.json, json.dumps(document, indent=2, allow_nan=False) + "\n")
    write_text_atomic(paths.junit, junit_xml(acceptance))
    write_text_atomic(paths.html, render_certificate(acceptance, plots=plots))
    return paths


def _number(x: float | None):
    """A JSON number, or 'nan' / 'inf' / '-inf' as strings (strict JSON), or None."""
    if x is None:
        return None
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    return int(x) if x == int(x) and abs(x) < 2**53 else x


def _interval(m: Metric, measured: bool = True) -> dict:
    """A metric's 95 % interval as certificate.json holds it: its ends and method, or the reason
    for none."""
    return {"low": _number(m.low) if measured else None, "high": _number(m.high) if measured else None,
            "interval_method": m.interval_method if measured else "", "no_interval": m.no_interval if measured else ""}


def judged_document(j: JudgedMetric) -> dict:
    """One judged metric as certificate.json holds it."""
    m = j.metric
    return {
        "id": j.key,
        "experiment": j.spec.experiment,
        "metric": j.spec.metric,
        "value": None if j.error else _number(m.value),
        **_interval(m, not j.error),
        "unit": m.unit,
        "limit": _number(m.limit),
        "comparison": j.spec.comparison,
        "source": m.source,
        "limit_from": "model" if j.spec.from_model else "spec",
        "passed": j.passed,
        "status": j.status,
        "detail": m.detail,
        "experiment_limit": _number(j.experiment_limit),
        "experiment_comparison": j.experiment_comparison,
        "experiment_source": j.experiment_source,
        "error": j.error,
    }


NO_COVERAGE = "no campaign measured for this spec version"


def coverage_document(spec) -> dict:
    """What the certificate states of its spec version's coverage: the campaign summary kept for the
    spec file's SHA-256 (:func:`hil.acceptance.campaign.write_coverage`), or that there is none."""
    summary = read_coverage(spec)
    if summary is None:
        return {"measured": False, "statement": NO_COVERAGE}
    fr, size = summary["false_reject"], summary["size"]
    statement = (f"campaign of {summary['date']}: {size['faults_per_class']} faults per class over "
                 f"{size['classes']} classes and {size['healthy_boards']} healthy boards; false rejects "
                 f"{fr['k']} of {fr['n']} (95 % CI {100 * fr['low']:.1f}..{100 * fr['high']:.1f} %)")
    return {"measured": True, "statement": statement, "date": summary["date"], "size": size,
            "sha256": summary["spec"]["sha256"],
            "classes": [{"name": c["name"], "floor": c["floor"], **c["caught"]} for c in summary["classes"]],
            "false_reject": {k: fr[k] for k in ("k", "n", "rate", "low", "high", "interval", "predicted",
                                                  "consistency")}}


def certificate_document(acceptance: Acceptance) -> dict:
    """What certificate.json holds."""
    a, spec = acceptance, acceptance.spec
    return {
        "format": FORMAT,
        "verdict": a.verdict,
        "passed": a.passed,
        "failed": [j.key for j in a.failed],
        "board": asdict(a.identity),
        "date": a.started,
        "finished": a.finished,
        "software": {"name": "hil-rig", "version": a.software_version},
        "spec": {"name": spec.name, "version": spec.version, "family": spec.family,
                 "description": spec.description, "file": spec.file_name, "path": spec.path,
                 "sha256": spec.sha256},
        "metrics": [judged_document(j) for j in a.judged],
        "runs": [{"experiment": r.experiment, "run_id": r.run_id,
                  "params": to_json_value("params", r.params, strict=False, finite=True),
                  "measured_params": (to_json_value("params", r.result.params, strict=False, finite=True)
                                      if r.result is not None else None),
                  "seconds": round(r.seconds, 3), "error": r.error} for r in a.runs],
        "reported": [{"id": f"{e}.{m.name}", "experiment": e, **_reported(m)} for e, m in a.reported],
        "coverage": coverage_document(spec),
    }


def _reported(m: Metric) -> dict:
    return {"metric": m.name, "value": _number(m.value), **_interval(m), "unit": m.unit,
            "experiment_limit": _number(m.limit),
            "experiment_comparison": m.comparison if m.judged else "", "experiment_source": m.source,
            "detail": m.detail}


def render_certificate(acceptance: Acceptance, *, plots: bool = True) -> str:
    """certificate.html as one string (autoescaped; plots embedded as data: URIs)."""
    a, spec = acceptance, acceptance.spec
    rows = []
    for j in a.judged:
        row = metric_row(j.metric)
        row["name"] = j.key
        if j.error:
            row.update(status="fail", label="ERROR", value="—", detail=f"not measured: {j.error}")
        rows.append(row)
    reported = []
    for experiment, m in a.reported:
        row = metric_row(replace(m, limit=None, source=""))
        row["name"] = f"{experiment}.{m.name}"
        if m.judged:
            row["source"] = (f"not in {spec.label}; the experiment's own limit {m.comparison} {m.limit:.4g}: "
                             f"{m.source}")
        reported.append(row)
    sections = []
    for r in a.runs:
        sections.append({
            "experiment": r.experiment, "run_id": r.run_id, "error": r.error,
            "params": [(k, str(v)) for k, v in (r.result.params if r.result is not None else r.params).items()],
            "plots": plots_for(r.result) if plots and r.result is not None else [],
        })
    i = a.identity
    return template_environment().get_template("certificate.html.j2").render(
        title=f"Acceptance certificate: {i.model} {i.serial}",
        verdict=a.verdict, passed=a.passed, failed=[j.key for j in a.failed],
        board=[("vendor", i.vendor), ("model", i.model), ("serial", i.serial), ("firmware", i.firmware),
               ("backend", i.backend), ("family", i.family)],
        date=a.started, finished=a.finished, software_version=a.software_version,
        spec=[("name", spec.name), ("version", spec.version), ("family", spec.family),
              ("description", spec.description), ("file", spec.file_name), ("SHA-256", spec.sha256)],
        metrics=rows, reported=reported, sections=sections, coverage=_coverage_rows(coverage_document(spec)),
    )


def _coverage_rows(doc: dict) -> dict:
    """The coverage section of certificate.html: its statement and one row per fault class."""
    if not doc["measured"]:
        return {"statement": doc["statement"], "rows": []}

    def pct(x):
        return "-" if x is None else f"{100 * x:.1f} %"
    rows = [(c["name"], f"{c['k']} of {c['n']}", pct(c["rate"]), f"{pct(c['low'])} .. {pct(c['high'])}", c["floor"])
            for c in doc["classes"]]
    fr = doc["false_reject"]
    rows.append(("healthy boards rejected", f"{fr['k']} of {fr['n']}", pct(fr["rate"]),
                 f"{pct(fr['low'])} .. {pct(fr['high'])}", f"stated limits add up to {pct(fr['predicted'])}"))
    return {"statement": doc["statement"], "rows": rows}


__all__ = ["CertificatePaths", "NO_COVERAGE", "certificate_document", "coverage_document", "judged_document", "render_certificate",
           "write_certificate"]
