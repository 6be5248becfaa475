"""``hil fidelity``: experiments across devices against the model, with exact-match checks.

    hil fidelity bss2.mac_gain bss2.mac_sends_and_wait --device emulator:EMU-0042 \\
        --device emulator:EMU-0042:ideal --device board:bench-1 --out reports/fidelity
    hil fidelity bss2.mac_gain --device emulator:EMU-0042 --runs latest
    hil fidelity bss2.mac_gain --runs RUN_ID RUN_ID
"""
import sys
from pathlib import Path

from ..contract.errors import InvalidValue
from ..results.store import ResultStore
from .exit_codes import EXIT_FAIL, EXIT_PASS
from .experiments import settings_by_experiment
from .folders import fresh_dir, timestamp
from .options import STORE_HELP, add_model_arguments, command, spec_from_args


def add_parsers(sub) -> None:
    r = command(sub, "fidelity", cmd_fidelity, "compare experiments across devices and against the model")
    r.add_argument("experiments", nargs="+", metavar="EXPERIMENT", help="registered names, see 'hil experiments'")
    r.add_argument("--device", action="append", default=[], metavar="SPEC",
                   help="emulator:SERIAL, emulator:SERIAL:ideal, board:NAME or board:RESOURCE (repeatable)")
    r.add_argument("--runs", nargs="+", metavar="latest|RUN_ID",
                   help="compare stored runs instead of running: 'latest' of each device, or run ids")
    r.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set a parameter of every compared experiment that has it (repeatable)")
    add_model_arguments(r)
    r.add_argument("--model-runs", type=int, default=4, metavar="N",
                   help="runs on the model device per experiment, 0..64 (default 4): the model's value and band")
    r.add_argument("--inventory", metavar="FILE", help="inventory file for board:NAME (default: $HIL_INVENTORY, "
                                                      "else ./inventory.toml)")
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--out", help="report folder (default: ./reports/fidelity-<UTC timestamp>)")
    r.add_argument("--title", default="Fidelity report", help="report title")


def cmd_fidelity(args) -> int:
    from ..fidelity import compare, parse_device, write     # matplotlib and jinja2 only when needed

    devices = [parse_device(d) for d in args.device]
    runs = args.runs
    if runs is not None and runs != ["latest"] and "latest" in runs:
        raise InvalidValue("--runs", "give 'latest' alone, or run ids")
    if runs is not None and (args.set or args.model is not None or args.spec):
        raise InvalidValue("--runs", "stored runs keep their own parameters, model and spec; --set, --model "
                                     "and --spec are for runs made now")
    store = ResultStore(args.store)
    f = compare(args.experiments, devices, runs="latest" if runs == ["latest"] else runs, store=store,
                params=settings_by_experiment(args.experiments, args.set), spec=spec_from_args(args),
                model_runs=args.model_runs, inventory=args.inventory, progress=sys.stderr.isatty())
    out = Path(args.out) if args.out else fresh_dir(Path("reports") / f"fidelity-{timestamp()}")
    paths = write(f, out, title=args.title)
    for c in f.experiments:
        print(f"{c.experiment}")
        for e in c.entries:
            print(f"  {e.device:<36} {e.result.verdict}" + (f"  (run {e.run_id})" if e.run_id else ""))
        for x in c.checks:
            print(f"  check {x.claim}: {x.device} vs {x.reference}: {'PASS' if x.passed else 'FAIL'} "
                  f"({x.mismatches} of {x.compared} values unequal)")
    print(f"verdict: {'PASS' if f.passed else 'FAIL'}")
    print(f"report: {paths.html}")
    print(f"data: {paths.json}")
    return EXIT_PASS if f.passed else EXIT_FAIL
