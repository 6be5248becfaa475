"""``fidelity.html`` and ``fidelity.json``: a :class:`~.compare.Fidelity` written out.

fidelity.json holds, per experiment: its parameters; per device the run id, verdict and
context; the metric table (per device value, 95 % interval ``low`` .. ``high`` with its
``interval_method`` or ``no_interval``, the reason for none; difference from the model and
verdict; the model's value and band; the ideal model's); the exact-match checks; and the
figures written beside it (``figures/<experiment>-<figure>.png`` and ``.json``).
"""
import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..contract.errors import InvalidValue
from ..contract.result import format_estimate, format_number, interval_note
from ..results.atomic import write_text_atomic
from ..results.jsonable import to_json_value
from ..results.report import FIGURES_DIR, template_environment, utc_now, write_figures
from .compare import Fidelity
from .figures import figures

HTML_NAME = "fidelity.html"
JSON_NAME = "fidelity.json"
FORMAT = "hil-rig fidelity 1"


@dataclass(frozen=True)
class FidelityPaths:
    html: Path
    json: Path


def _note(row) -> str:
    """The metric's interval method (the first device's that has one), or its devices' reasons
    for none."""
    notes = [interval_note(v) for v in row.values.values() if v is not None]
    return next((n for n in notes if n and not n.startswith(("exact:", "undefined:"))), "") or \
        "; ".join(dict.fromkeys(n for n in notes if n))


def write(fidelity: Fidelity, out_dir: str | os.PathLike, title: str = "Fidelity report") -> FidelityPaths:
    """Writes fidelity.html, fidelity.json and figures/ into ``out_dir`` (created if missing)."""
    if not isinstance(fidelity, Fidelity) or not fidelity.experiments:
        raise InvalidValue("fidelity", "is not a Fidelity with at least one experiment")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    generated = utc_now()
    devices = list(dict.fromkeys(e.device for c in fidelity.experiments for e in c.entries))
    sections, documents = [], []
    for i, c in enumerate(fidelity.experiments):
        anchor = f"{i}-{c.experiment}"
        plots = figures(c)
        written = write_figures(out / FIGURES_DIR, anchor, plots)
        entries = {e.device: e for e in c.entries}
        rows = []
        for r in c.rows:
            cells = []
            for d in devices:
                v = r.values.get(d)
                status = {True: "pass", False: "fail", None: "info"}[v.passed] if v is not None else "info"
                cells.append({"value": format_estimate(v, "—"), "note": interval_note(v) if v is not None else "",
                              "difference": format_number(r.differences.get(d), "—"),
                              "status": status, "label": {"pass": "PASS", "fail": "FAIL", "info": ""}[status]})
            rows.append({"name": r.name, "unit": r.unit, "cells": cells, "model": format_estimate(r.model, "—"),
                         "ideal_model": format_estimate(r.ideal_model, "—"), "note": _note(r)})
        sections.append({
            "anchor": anchor, "experiment": c.experiment, "checks": c.checks, "rows": rows, "plots": plots,
            "has_ideal": c.ideal_model_run is not None,
            "verdicts": {d: str(e.result.verdict) for d, e in entries.items()},
            "checks_text": ("PASS" if all(x.passed for x in c.checks) else "FAIL") if c.checks else "—",
            "params": [(k, json.dumps(to_json_value(k, v, strict=False, finite=True))) for k, v in c.params.items()],
            "runs": [(e.device, e.run_id or "not stored") for e in c.entries],
        })
        documents.append({
            "experiment": c.experiment,
            "params": to_json_value("params", c.params, strict=False, finite=True),
            "devices": [{"device": e.device, "run_id": e.run_id, "verdict": str(e.result.verdict),
                         "passed": e.result.verdict.passed,
                         "context": dataclasses.asdict(e.result.context)} for e in c.entries],
            "metrics": [{"name": r.name, "unit": r.unit,
                         "values": {d: dataclasses.asdict(v) for d, v in r.values.items()},
                         "model": dataclasses.asdict(r.model),
                         "ideal_model": dataclasses.asdict(r.ideal_model) if r.ideal_model is not None else None,
                         "differences": r.differences} for r in c.rows],
            "model_runs": len(c.model_runs),
            "checks": [{**dataclasses.asdict(x), "passed": x.passed} for x in c.checks],
            "figures": written,
        })
    checks_passed = all(x.passed for x in fidelity.checks)
    verdicts_passed = all(e.result.verdict.passed for c in fidelity.experiments for e in c.entries)
    document = {"format": FORMAT, "title": title, "generated": generated, "software_version": __version__,
                "devices": devices, "checks_passed": checks_passed, "verdicts_passed": verdicts_passed,
                "passed": fidelity.passed, "experiments": documents}
    html = template_environment().get_template("fidelity.html.j2").render(
        title=title, generated=generated, software_version=__version__, devices=devices,
        checks_passed=checks_passed, verdicts_passed=verdicts_passed, experiments=sections)
    paths = FidelityPaths(out / HTML_NAME, out / JSON_NAME)
    write_text_atomic(paths.json, json.dumps(to_json_value("fidelity", document, strict=False, finite=True),
                                             indent=2, allow_nan=False) + "\n")
    write_text_atomic(paths.html, html)
    return paths


__all__ = ["FidelityPaths", "HTML_NAME", "JSON_NAME", "write"]
