"""``hil runs`` and ``hil report``: the stored runs, and reports made from them.

    hil runs --limit 20 --experiment bss2.mac_noise --serial EMU-0042 --backend emulator --no-ideal
    hil report RUN_ID [RUN_ID ...] --out DIR --title "Fidelity report"
"""
import argparse
from pathlib import Path

from ..results.store import ResultStore
from .exit_codes import EXIT_FAIL, EXIT_PASS
from .folders import fresh_dir, timestamp
from .options import STORE_HELP, command, positive_int
from .tables import runs_table


def add_parsers(sub) -> None:
    r = command(sub, "runs", cmd_runs, "list stored runs, newest first")
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--limit", type=positive_int, help="show at most N runs")
    r.add_argument("--experiment", help="only runs of this experiment")
    r.add_argument("--serial", help="only runs on the device with this serial")
    r.add_argument("--backend", help="only runs on this backend (emulator, board, ...)")
    r.add_argument("--ideal", action=argparse.BooleanOptionalAction, default=None,
                   help="only runs on an ideal device (--ideal) or a non-ideal one (--no-ideal)")

    r = command(sub, "report", cmd_report, "write a report from stored runs")
    r.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--out", help="report folder (default: ./reports/report-<UTC timestamp>)")
    r.add_argument("--title", default="Fidelity report", help="report title")


def cmd_runs(args) -> int:
    store = ResultStore(args.store)
    records = store.runs(limit=args.limit, experiment=args.experiment, serial=args.serial,
                         backend=args.backend, ideal=args.ideal)
    if not records:
        print(f"no stored runs in {store.root}")
    else:
        print(runs_table(records))
    return EXIT_PASS


def cmd_report(args) -> int:
    from ..results.report import write_report

    store = ResultStore(args.store)
    results = [store.load(run_id) for run_id in args.run_ids]
    out = Path(args.out) if args.out else fresh_dir(Path("reports") / f"report-{timestamp()}")
    paths = write_report(results, out, title=args.title, run_ids=args.run_ids)
    for run_id, r in zip(args.run_ids, results):
        print(f"  {r.experiment:<28} {r.verdict}  (run {run_id})")
    print(f"report: {paths.html}")
    print(f"metrics: {paths.json}")
    return EXIT_PASS if all(r.verdict.passed for r in results) else EXIT_FAIL
