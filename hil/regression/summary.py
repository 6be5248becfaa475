"""The regression's summary: ``regression.html`` (with plots), ``regression.json`` and ``junit.xml``,
and per chip the fidelity report of its experiments (``<serial>/fidelity.html``: RTL, emulator on
the core and model side by side, with their figures).

regression.json holds per chip: every bench check (stage, values compared, unequal, tolerance,
largest deviation, reference, and the failing cases with the inputs that reproduce them), the
benches' functional coverage, and the experiments: verdicts, the metric table and the
exact-match checks with their first unequal values. ``disagreements`` lists every one of them
in one place. junit.xml has one test case per bench check, coverage goal, experiment verdict and
exact-match check.
"""
import dataclasses
import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .. import __version__
from ..fidelity import write as write_fidelity
from ..results.atomic import write_text_atomic
from ..results.jsonable import to_json_value
from ..results.junit import Case, suite_element, to_text
from ..results.plots import Plot, figure_png
from ..results.report import FIGURES_DIR, template_environment, write_figures
from .run import Regression, SerialRegression

HTML_NAME, JSON_NAME, JUNIT_NAME = "regression.html", "regression.json", "junit.xml"
FORMAT = "hil-rig regression 1"


@dataclass(frozen=True)
class RegressionPaths:
    html: Path
    json: Path
    junit: Path


def disagreements(chip: SerialRegression) -> list[dict]:
    """Every disagreement of one chip, each with the inputs that reproduce it."""
    out = []
    for b in chip.benches:
        for c in b.checks:
            for f in c.failures:
                out.append({"where": f"bench {b.block}", "what": c.name, "stage": c.stage,
                            "reference": c.reference, "case": f})
        for cov in b.coverage:
            if cov.bins_hit < cov.bins_total:
                out.append({"where": f"bench {b.block}", "what": f"coverage {cov.name}", "stage": "coverage",
                            "reference": f"{cov.bins_total} bins", "case": {"hit": cov.bins_hit}})
    if chip.fidelity is not None:
        for e in chip.fidelity.experiments:
            for entry in e.entries:
                for m in entry.result.verdict.failed:
                    out.append({"where": f"experiment {e.experiment}", "what": m.name, "stage": "verdict",
                                "reference": m.source, "case": {"device": entry.device, "value": m.value,
                                                                "limit": m.limit, "params": e.params}})
            for c in e.checks:
                for x in c.examples:
                    out.append({"where": f"experiment {e.experiment}", "what": c.claim, "stage": "exact",
                                "reference": c.reference, "case": x})
    return out


def _coverage_plot(chip: SerialRegression, simulator: str) -> Plot | None:
    names = [(b.block, c) for b in chip.benches for c in b.coverage]
    if not names:
        return None
    fig = Figure(figsize=(7.0, 0.45 * len(names) + 1.2))
    ax = fig.subplots()
    share = np.array([c.bins_hit / c.bins_total if c.bins_total else 0.0 for _, c in names]) * 100
    labels = [f"{block}: {c.name}" for block, c in names]
    ax.barh(labels, share, color=["#2e7d32" if s >= 100 else "#c62828" for s in share])
    ax.set_xlim(0, 105)
    ax.set_xlabel("bins hit (%)")
    ax.invert_yaxis()
    ax.set_title(f"Functional coverage, {chip.serial} on {simulator}")
    fig.tight_layout()
    return Plot("coverage", f"Functional coverage ({chip.serial})",
                "Bins of each coverpoint hit by the block benches' stimulus, % (green: all).", figure_png(fig),
                data={"axes": {"x": "bins hit (%)", "y": "coverpoint"},
                      "coverpoints": [{"block": b, "name": c.name, "hit": c.bins_hit, "total": c.bins_total}
                                      for b, c in names]})


def _bench_doc(b) -> dict:
    return {**to_json_value("bench", dataclasses.asdict(b), strict=False, finite=True), "passed": b.passed}


def write_summary(regression: Regression, out_dir: str | os.PathLike) -> RegressionPaths:
    """Writes the summary into ``out_dir`` (created if missing); returns the three paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r = regression
    chips, docs, suites = [], [], []
    for i, chip in enumerate(r.chips):
        fidelity_html = None
        if chip.fidelity is not None:
            paths = write_fidelity(chip.fidelity, out / chip.serial,
                                   title=f"RTL against emulator and model, {chip.serial} ({r.simulator})")
            fidelity_html = f"{chip.serial}/{paths.html.name}"
        plot = _coverage_plot(chip, r.simulator)
        plots = [plot] if plot is not None else []
        written = write_figures(out / FIGURES_DIR, f"{i}-{chip.serial}", plots)
        found = disagreements(chip)
        chips.append({"serial": chip.serial, "passed": chip.passed, "benches": chip.benches,
                      "experiments": chip.fidelity.experiments if chip.fidelity is not None else (),
                      "fidelity_html": fidelity_html, "plots": list(zip(plots, written)),
                      "disagreements": found, "seconds": chip.seconds})
        docs.append({"serial": chip.serial, "passed": chip.passed, "seconds": chip.seconds,
                     "benches": [_bench_doc(b) for b in chip.benches],
                     "fidelity": fidelity_html and f"{chip.serial}/fidelity.json",
                     "experiments": [{"experiment": e.experiment, "passed": e.passed,
                                      "verdicts": {x.device: str(x.result.verdict) for x in e.entries},
                                      "checks": [{**dataclasses.asdict(c), "passed": c.passed} for c in e.checks]}
                                     for e in (chip.fidelity.experiments if chip.fidelity is not None else ())],
                     "figures": written,
                     "disagreements": found})
        suites.append(_junit_suite(chip, r))
    document = {"format": FORMAT, "software_version": __version__, "simulator": r.simulator, "ideal": r.ideal,
                "core": dataclasses.asdict(r.core), "started": r.started, "finished": r.finished,
                "verdict": "PASS" if r.passed else "FAIL", "passed": r.passed, "chips": docs}
    paths = RegressionPaths(out / HTML_NAME, out / JSON_NAME, out / JUNIT_NAME)
    write_text_atomic(paths.json, json.dumps(to_json_value("regression", document, strict=False, finite=True),
                                             indent=1, allow_nan=False) + "\n")
    root = ET.Element("testsuites", {"name": f"hil regress ({r.simulator})"})
    root.extend(suites)
    write_text_atomic(paths.junit, to_text(root))
    html = template_environment().get_template("regression.html.j2").render(
        regression=r, chips=chips, version=__version__)
    write_text_atomic(paths.html, html)
    return paths


def _junit_suite(chip: SerialRegression, r: Regression):
    cases = []
    for b in chip.benches:
        for c in b.checks:
            failure = None if c.mismatches == 0 and c.compared > 0 else (
                "Disagreement", f"{c.mismatches} of {c.compared} values unequal ({c.tolerance})",
                "\n".join(json.dumps(to_json_value("case", f, strict=False)) for f in c.failures))
            cases.append(Case(f"bench.{b.block}", c.name, failure=failure,
                              output=f"{c.stage}; compared {c.compared}; unequal {c.mismatches}; tolerance "
                                     f"{c.tolerance}; largest deviation {c.max_deviation:g}; against {c.reference}"))
        for cov in b.coverage:
            short = cov.bins_hit < cov.bins_total
            cases.append(Case(f"coverage.{b.block}", cov.name,
                              failure=("CoverageHole", f"{cov.bins_hit} of {cov.bins_total} bins hit", "")
                              if short else None, output=f"{cov.bins_hit} of {cov.bins_total} bins hit"))
    if chip.fidelity is not None:
        for e in chip.fidelity.experiments:
            for x in e.entries:
                failed = "; ".join(f"{m.name}={m.value:g} (limit {m.comparison} {m.limit:g})" for m in x.result.verdict.failed)
                cases.append(Case(f"experiment.{e.experiment}", x.device,
                                  failure=("LimitViolation", failed, "") if failed else None,
                                  output=f"verdict {x.result.verdict}"))
            for c in e.checks:
                cases.append(Case(f"exact.{e.experiment}", f"{c.claim} ({c.device})",
                                  failure=None if c.passed else (
                                      "Disagreement", f"{c.mismatches} of {c.compared} values unequal",
                                      "\n".join(json.dumps(to_json_value("case", x, strict=False)) for x in c.examples)),
                                  output=f"{c.compared} values compared against {c.reference}"))
    return suite_element(f"{chip.serial} on {r.simulator}", cases, started=r.started, properties=[
        ("serial", chip.serial), ("simulator", r.simulator), ("core", f"{r.core.rows}x{r.core.columns}x"
                                                                       f"{r.core.hemispheres}"),
        ("software_version", __version__), ("verdict", "PASS" if chip.passed else "FAIL")])


__all__ = ["HTML_NAME", "JSON_NAME", "JUNIT_NAME", "RegressionPaths", "disagreements", "write_summary"]
