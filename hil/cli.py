"""The ``hil`` command line.

    hil run bss2.mac_noise --serial EMU-0007 --set repeats=500   # run, store, judge one experiment
    hil runs --limit 20                                        # stored runs, newest first
    hil demo                                                   # the MAC experiments + an HTML report
    hil report RUN_ID [RUN_ID ...] --out DIR                   # a report from stored runs
    hil experiments                                            # what can be run, with its parameters
    hil serve --port 5025 --serial EMU-0007 [--fault ...]      # a virtual board (docs/protocol.md)
    hil run bss2.mac_gain --backend board --resource TCPIP::127.0.0.1::5025::SOCKET   # or --board NAME
    hil boards [--inventory inventory.toml]                    # probe the inventory's boards
    hil accept --backend board --resource R | --board NAME     # acceptance certificate

Exit codes: 0 every judged metric passed; 1 a metric failed (or, for
``demo``, an experiment failed or raised); 2 a usage or validation error (the
message names what was wrong; no traceback); 3 an unexpected internal error
(with its traceback).
"""
import argparse
import datetime as _dt
import inspect
import json
import os
import sys
import traceback
from pathlib import Path

from . import __version__
from . import backend as backends
from . import experiment as experiments
from .cli_backend import add_backend_arguments, backend_selection, open_selected
from .cli_tables import metrics_table, runs_table
from .errors import InvalidValue, RigError
from .result import ExperimentResult
from .store import ENV_ROOT, ResultStore

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 141   # 128 + SIGPIPE, what a shell reports for a closed pipe
DEMO_PREFIX = "bss2.mac_"
"""``hil demo`` runs every registered experiment whose name starts with this."""


def main(argv: list[str] | None = None) -> int:
    """Runs the command line with ``argv`` (default: sys.argv[1:]); returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:    # --help, --version and argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not hasattr(args, "command"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.command(args)
    except (RigError, ValueError) as exc:
        print(f"hil {args.command_name}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader went away (``hil runs | head``): not an error of ours. Point
        # stdout at devnull so that the interpreter's final flush stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print("hil: interrupted", file=sys.stderr)
        return 130
    except Exception:
        # A bug, not a verdict: keep the traceback, and an exit code that no
        # pass/fail consumer can mistake for a failed metric.
        traceback.print_exc()
        return EXIT_INTERNAL


# --- hil run -------------------------------------------------------------------

def cmd_run(args) -> int:
    params = parse_settings(args.experiment, args.set)
    store = ResultStore(args.store)
    name, options = backend_selection(args)
    with open_selected(name, options) as backend:
        try:
            result = experiments.run(args.experiment, backend, store=store, progress=True, **params)
        except Exception:
            if store.last_run_id is not None:
                print(f"the failure is stored as run {store.last_run_id} in {store.root}", file=sys.stderr)
            raise
    if args.json:
        from .report import experiment_document   # matplotlib and jinja2 only when needed
        print(json.dumps(experiment_document(result, store.last_run_id), indent=2, allow_nan=False))
    else:
        _print_result(result, store.last_run_id, store.root)
    return EXIT_PASS if result.verdict.passed else EXIT_FAIL


def parse_settings(experiment: str, settings: list[str] | None) -> dict:
    """``--set name=value`` strings as experiment params, checked against its parameters.

    A value is read as int, else float, else kept as a string; it must suit the
    parameter's default (an int parameter takes whole numbers only, a float
    parameter any number, a str parameter the text as written).
    """
    defaults = experiments.parameters(experiment)
    params = {}
    for item in settings or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InvalidValue("--set", f"{item!r} is not of the form name=value")
        if name not in defaults:
            raise InvalidValue("--set", f"{name!r} is not a parameter of {experiment}; "
                                        f"its parameters: {', '.join(defaults) or '(none)'}")
        params[name] = _setting_value(name, text, defaults[name])
    return params


def _setting_value(name: str, text: str, default):
    value = _parse_scalar(text)
    if isinstance(default, str):
        return text
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise InvalidValue(f"--set {name}", f"{text!r} is not a whole number (the default is {default})")
        return value
    if isinstance(default, float):
        if isinstance(value, str):
            raise InvalidValue(f"--set {name}", f"{text!r} is not a number (the default is {default})")
        return float(value)
    return value


def _parse_scalar(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _backend_options(args) -> dict:
    # Only the options given: a backend that has no such option should not be
    # handed a None it must then know to ignore.
    options = {}
    if getattr(args, "serial", None) is not None:
        options["serial"] = args.serial
    if getattr(args, "ideal", False):
        options["ideal"] = True
    return options


def _print_result(result: ExperimentResult, run_id: str | None, root: Path) -> None:
    c = result.context
    where = f" on {c.backend} {c.serial}" if c is not None else ""
    print(f"{result.experiment}{where}")
    print(metrics_table(result.metrics))
    print(f"verdict: {result.verdict}")
    print(f"run id: {run_id}  (store: {root})")


# --- hil runs ------------------------------------------------------------------

def cmd_runs(args) -> int:
    store = ResultStore(args.store)
    records = store.runs(limit=args.limit, experiment=args.experiment)
    if not records:
        print(f"no stored runs in {store.root}")
    else:
        print(runs_table(records))
    return EXIT_PASS


# --- hil demo ------------------------------------------------------------------

def cmd_demo(args) -> int:
    from .report import write_report

    names = [n for n in experiments.names() if n.startswith(DEMO_PREFIX)]
    if not names:
        raise RigError(f"no experiments named {DEMO_PREFIX}*; registered: {experiments.names()}")
    store = ResultStore(args.store)
    results, run_ids, errors = [], [], 0
    with backends.open("emulator", **_backend_options(args)) as backend:
        info = backend.info()
        print(f"demo on {info.backend} {info.serial} ({info.model}); store: {store.root}")
        for name in names:
            try:
                result = experiments.run(name, backend, store=store, progress=True)
            except (RigError, ValueError) as exc:
                errors += 1
                print(f"  {name:<28} ERROR {type(exc).__name__}: {exc}  (run {store.last_run_id})")
                continue
            results.append(result)
            run_ids.append(store.last_run_id)
            print(f"  {name:<28} {result.verdict}  (run {store.last_run_id})")
    if not results:
        print("no experiment produced a result; no report written")
        return EXIT_FAIL
    out = Path(args.out) if args.out else _fresh_dir(Path("reports") / f"demo-{_timestamp()}")
    paths = write_report(results, out, title=f"MAC fidelity report: {info.backend} {info.serial}",
                         run_ids=run_ids)
    passed = errors == 0 and all(r.verdict.passed for r in results)
    print(f"verdict: {'PASS' if passed else 'FAIL'}")
    print(f"report: {paths.html}")
    print(f"metrics: {paths.json}")
    return EXIT_PASS if passed else EXIT_FAIL


def _timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")


def _fresh_dir(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3`` ... if taken: a default never overwrites a report."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


# --- hil report ----------------------------------------------------------------

def cmd_report(args) -> int:
    from .report import write_report

    store = ResultStore(args.store)
    results = [store.load(run_id) for run_id in args.run_ids]
    out = Path(args.out) if args.out else _fresh_dir(Path("reports") / f"report-{_timestamp()}")
    paths = write_report(results, out, title=args.title, run_ids=args.run_ids)
    for run_id, r in zip(args.run_ids, results):
        print(f"  {r.experiment:<28} {r.verdict}  (run {run_id})")
    print(f"report: {paths.html}")
    print(f"metrics: {paths.json}")
    return EXIT_PASS if all(r.verdict.passed for r in results) else EXIT_FAIL


# --- hil experiments -----------------------------------------------------------

def cmd_experiments(args) -> int:
    for name in experiments.names():
        doc = inspect.getdoc(experiments.get(name)) or ""
        print(name)
        # The docstring's first paragraph, as one line.
        print("    " + " ".join(doc.split("\n\n")[0].split()))
        for p, default in experiments.parameters(name).items():
            print(f"    --set {p}={default}  ({type(default).__name__})")
        print()
    return EXIT_PASS


# --- hil serve -------------------------------------------------------------------

def cmd_serve(args) -> int:
    from .board_faults import parse_faults
    from .virtual_board import VirtualBoard

    chip_faults, link_faults = parse_faults(args.fault)
    options = _backend_options(args)
    if not chip_faults.healthy:
        options["faults"] = chip_faults
    board = VirtualBoard(backends.open("emulator", **options), args.host, args.port,
                         link_faults=link_faults, max_block=args.max_block, lease_timeout=args.lease_timeout)
    info = board.backend.info()
    # Fixtures read this line to learn the port; keep its form.
    print(f"hil serve: {info.model} {info.serial} listening on {board.resource}", flush=True)
    try:
        board.serve_forever()
    finally:
        board.close()
    return EXIT_PASS


# --- the parser ----------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hil", description="Hardware-in-the-loop rig: run experiments on "
                                "emulated chips, RTL simulations and boards; store, judge and report them.")
    p.add_argument("--version", action="version", version=f"hil-rig {__version__}")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")
    store_help = f"results store folder (default: ${ENV_ROOT}, else ./hil_results)"

    r = _command(sub, "run", cmd_run, "run one experiment, store it and print its verdict")
    r.add_argument("experiment", metavar="EXPERIMENT", help="registered name, see 'hil experiments'")
    add_backend_arguments(r)
    r.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set an experiment parameter (repeatable)")
    r.add_argument("--store", help=store_help)
    r.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")

    r = _command(sub, "runs", cmd_runs, "list stored runs, newest first")
    r.add_argument("--store", help=store_help)
    r.add_argument("--limit", type=_positive_int, help="show at most N runs")
    r.add_argument("--experiment", help="only runs of this experiment")

    r = _command(sub, "demo", cmd_demo, "run the MAC experiments on the emulator and write a report")
    r.add_argument("--out", help="report folder (default: ./reports/demo-<UTC timestamp>)")
    r.add_argument("--serial", help="serial of the virtual chip (default: the emulator's default)")
    r.add_argument("--store", help=store_help)

    r = _command(sub, "report", cmd_report, "write a report from stored runs")
    r.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    r.add_argument("--store", help=store_help)
    r.add_argument("--out", help="report folder (default: ./reports/report-<UTC timestamp>)")
    r.add_argument("--title", default="Fidelity report", help="report title")

    _command(sub, "experiments", cmd_experiments, "list the registered experiments and their parameters")

    r = _command(sub, "serve", cmd_serve, "serve a virtual chip behind the board protocol (a virtual board)")
    r.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    r.add_argument("--port", type=int, default=5025, help="TCP port (default 5025; 0 picks a free one)")
    r.add_argument("--serial", help="serial of the virtual chip")
    r.add_argument("--ideal", action="store_true", help="no mismatch or noise")
    r.add_argument("--fault", action="append", default=[], metavar="FAULT",
                   help="inject a fault (repeatable): dead-neuron=N[,N..], stuck-bit=H:ROW:COL:BIT:VALUE, "
                        "noisy-neuron=N:SIGMA, missing-codes=A-B[,..], drop-after=N, slow=SECONDS")
    r.add_argument("--lease-timeout", type=float, default=60.0, help="seconds before a quiet lease expires")
    r.add_argument("--max-block", type=_positive_int, default=64 * 1024 * 1024, help="largest block, bytes")

    from .cli_boards import add_parser as add_boards_parser   # hil boards: the inventory's boards
    add_boards_parser(sub, _command)

    from .cli_accept import add_parser as add_accept_parser   # hil accept: acceptance and certificate
    add_accept_parser(sub, _command, store_help)
    return p


def _command(sub, name: str, func, help_text: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(command=func, command_name=name)
    return p


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not >= 1")
    return n


if __name__ == "__main__":
    sys.exit(main())
