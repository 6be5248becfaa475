"""``hil regress``: the chip-verification regression of the RTL models.

    hil regress                                       # EMU-0042 on Icarus: block benches + MAC experiments
    hil regress --simulator verilator --serials EMU-0042 EMU-0007 --out reports/regress
    hil regress --blocks cadc synapse_driver --experiments bss2.mac_gain --set batch=40

Writes regression.html, regression.json and junit.xml into ``--out`` (and per chip its
fidelity report) and stores every experiment run. Exit code 0 when every bench, check and
verdict passed, 1 otherwise.
"""
from pathlib import Path

from ..results.store import ResultStore
from .exit_codes import EXIT_FAIL, EXIT_PASS
from .experiments import settings_by_experiment
from .folders import fresh_dir, timestamp
from .options import SIMULATORS, STORE_HELP, command


def add_parsers(sub) -> None:
    r = command(sub, "regress", cmd_regress, "the chip-verification regression: RTL against emulator and model")
    r.add_argument("--simulator", choices=SIMULATORS, default="icarus", help="the simulator (default icarus)")
    r.add_argument("--serials", nargs="+", metavar="SERIAL", default=None,
                   help="the chips (default EMU-0042): each is exported to the RTL and emulated")
    r.add_argument("--ideal", action="store_true", help="the chips without mismatch and noise")
    r.add_argument("--blocks", nargs="*", metavar="BLOCK", default=None,
                   help="block benches to run (default: all; none: give --blocks alone)")
    r.add_argument("--experiments", nargs="*", metavar="EXPERIMENT", default=None,
                   help="MAC experiments to run (default: all; none: give --experiments alone)")
    r.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set a parameter of every experiment that has it (repeatable)")
    r.add_argument("--model-runs", type=int, default=2, metavar="N",
                   help="runs on the model device per experiment, 0..64 (default 2)")
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--out", help="summary folder (default: ./reports/regress-<UTC timestamp>)")


def cmd_regress(args) -> int:
    # The simulators, matplotlib and jinja2 only when needed.
    from ..regression import MAC_EXPERIMENTS, run_regression, write_summary
    from ..regression.run import DEFAULT_SERIALS
    from ..rtl.benches import BLOCKS

    experiments = list(MAC_EXPERIMENTS if args.experiments is None else args.experiments)
    r = run_regression(args.serials or DEFAULT_SERIALS, simulator=args.simulator, ideal=args.ideal,
                       blocks=BLOCKS if args.blocks is None else args.blocks, experiments=experiments,
                       params=settings_by_experiment(experiments, args.set) if experiments else None,
                       store=ResultStore(args.store), model_runs=args.model_runs)
    out = Path(args.out) if args.out else fresh_dir(Path("reports") / f"regress-{timestamp()}")
    paths = write_summary(r, out)
    for chip in r.chips:
        print(f"{chip.serial} on {r.simulator}: {'PASS' if chip.passed else 'FAIL'} ({chip.seconds:.0f} s)")
        for b in chip.benches:
            unequal = sum(c.mismatches for c in b.checks)
            hit = sum(c.bins_hit for c in b.coverage)
            total = sum(c.bins_total for c in b.coverage)
            print(f"  bench {b.block:<16} {'PASS' if b.passed else 'FAIL'}  {unequal} unequal of "
                  f"{sum(c.compared for c in b.checks)}; coverage {hit}/{total} bins")
        for e in (chip.fidelity.experiments if chip.fidelity is not None else ()):
            checks = ", ".join(f"{c.claim}: {'PASS' if c.passed else 'FAIL'} ({c.mismatches} of {c.compared} unequal)"
                               for c in e.checks)
            print(f"  {e.experiment:<24} {'PASS' if e.passed else 'FAIL'}  {checks}")
    print(f"verdict: {'PASS' if r.passed else 'FAIL'}")
    print(f"summary: {paths.html}")
    print(f"data: {paths.json}")
    print(f"junit: {paths.junit}")
    return EXIT_PASS if r.passed else EXIT_FAIL
