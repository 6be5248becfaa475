"""Plain-text tables for the ``hil`` command line (metrics, stored runs, experiments)."""
from typing import Iterable, Sequence

from ..contract.result import Metric, format_estimate, format_number as number
from ..results.store import RunRecord


def format_table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; columns whose index is in ``right`` align right."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def metrics_table(metrics: Sequence[Metric]) -> str:
    """name, value (with its 95 % interval and unit), limit (with comparison), PASS/FAIL ('-' if
    only reported), source.

    The source comes last because it is the longest cell: the verdict stays in view.
    """
    rows = []
    for m in metrics:
        value = format_estimate(m) + (f" {m.unit}" if m.unit else "")
        limit = f"{m.comparison} {number(m.limit)}" if m.judged else "-"
        result = {True: "PASS", False: "FAIL", None: "-"}[m.passed]
        rows.append([m.name, value, limit, result, m.source])
    return format_table(["metric", "value", "limit", "result", "source of the limit"], rows, right=(1, 2))


def runs_table(records: Sequence[RunRecord]) -> str:
    """Stored runs, one a line, in the order given (the store gives newest first)."""
    rows = []
    for r in records:
        if r.status == "fail":
            note = "failed: " + ", ".join(r.failed_metrics)
        elif r.status == "error":
            note = r.error if len(r.error) <= 60 else r.error[:57] + "..."
        else:
            note = ""
        ideal = {True: "yes", False: "no", None: "?"}[r.ideal]
        rows.append([r.run_id, r.experiment, r.status.upper(), r.backend, r.serial, ideal, r.started, note])
    return format_table(["run id", "experiment", "status", "backend", "serial", "ideal", "started (UTC)",
                         "failed metrics or error"], rows)
