"""``hil run``, ``hil experiments`` and ``hil demo``: run experiments, and say what can run.

    hil run bss2.mac_noise --serial EMU-0007 --set repeats=500
    hil experiments
    hil demo --out reports/today
"""
import inspect
import json
import re
import sys
from pathlib import Path

from ..contract import backend as backends
from ..contract import experiment as experiments
from ..contract.errors import InvalidValue, RigError
from ..contract.result import ExperimentResult
from ..results.store import ResultStore
from .exit_codes import EXIT_FAIL, EXIT_PASS
from .folders import fresh_dir, timestamp
from .options import (STORE_HELP, add_backend_arguments, add_family_arguments, add_model_arguments, backend_selection,
                      command, emulator_options, open_selected, spec_from_args)
from .tables import metrics_table

DEMO_PREFIX = {"bss2": "bss2.mac_", "dynapse2": "dynapse2.", "crossbar": "crossbar."}
"""``hil demo --family F`` runs every registered experiment whose name starts with ``DEMO_PREFIX[F]``."""


def add_parsers(sub) -> None:
    r = command(sub, "run", cmd_run, "run one experiment, store it and print its verdict")
    r.add_argument("experiment", metavar="EXPERIMENT", help="registered name, see 'hil experiments'")
    add_backend_arguments(r)
    r.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="set an experiment parameter (repeatable)")
    add_model_arguments(r)
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")

    command(sub, "experiments", cmd_experiments, "list the registered experiments and their parameters")

    r = command(sub, "demo", cmd_demo, "run a family's demo experiments on the emulator and write a report "
                                       "(bss2: the MAC experiments; dynapse2: all of its experiments)")
    r.add_argument("--out", help="report folder (default: ./reports/demo-<UTC timestamp>)")
    add_family_arguments(r)
    r.add_argument("--serial", help="serial of the virtual chip (default: the emulator's default)")
    r.add_argument("--store", help=STORE_HELP)


def cmd_run(args) -> int:
    params = parse_settings(args.experiment, args.set)
    spec = spec_from_args(args)
    if spec is not None:
        if "spec" not in experiments.signature_parameters(args.experiment):
            raise InvalidValue("--model", f"{args.experiment} takes no model or spec")
        params["spec"] = spec
    store = ResultStore(args.store)
    name, options = backend_selection(args, family=experiments.family(args.experiment))
    with open_selected(name, options) as backend:
        try:
            result = experiments.run(args.experiment, backend, store=store, progress=sys.stderr.isatty(), **params)
        except Exception:
            if store.last_run_id is not None:
                print(f"the failure is stored as run {store.last_run_id} in {store.root}", file=sys.stderr)
            raise
    if args.json:
        from ..results.report import experiment_document   # matplotlib and jinja2 only when needed
        print(json.dumps(experiment_document(result, store.last_run_id), indent=2, allow_nan=False))
    else:
        print_result(result, store.last_run_id, store.root)
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
        default = defaults[name]
        if default is None:   # the device's default; the declared range says int or float
            default = type(experiments.parameter_ranges(experiment)[name][0])()
        params[name] = _setting_value(name, text, default)
    return params


def settings_by_experiment(names: list[str], settings: list[str] | None) -> dict:
    """``--set`` for each experiment that has the parameter; one that none has is refused."""
    params = {n: {} for n in names}
    for item in settings or []:
        name = item.partition("=")[0].strip()
        takers = [n for n in names if name in experiments.parameters(n)]
        if not takers:
            raise InvalidValue("--set", f"{name!r} is not a parameter of any of {names}")
        for n in takers:
            params[n].update(parse_settings(n, [item]))
    return {n: p for n, p in params.items() if p}


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


def print_result(result: ExperimentResult, run_id: str | None, root: Path) -> None:
    c = result.context
    where = f" on {c.device}" if c is not None else ""
    print(f"{result.experiment}{where}")
    print(metrics_table(result.metrics))
    print(f"verdict: {result.verdict}")
    print(f"run id: {run_id}  (store: {root})")


def cmd_demo(args) -> int:
    from ..results.report import write_report

    family = args.family or backends.DEFAULT_FAMILY
    prefix = DEMO_PREFIX[family]
    names = [n for n in experiments.names() if n.startswith(prefix)]
    if not names:
        raise RigError(f"no experiments named {prefix}*; registered: {experiments.names()}")
    store = ResultStore(args.store)
    results, run_ids, errors = [], [], 0
    with backends.open("emulator", **emulator_options(args, family)) as backend:
        info = backend.info()
        print(f"demo on {info.backend} {info.serial} ({info.model}); store: {store.root}")
        for name in names:
            try:
                result = experiments.run(name, backend, store=store, progress=sys.stderr.isatty())
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
    out = Path(args.out) if args.out else fresh_dir(Path("reports") / f"demo-{timestamp()}")
    title = {"bss2": "MAC fidelity report"}.get(family, f"{family} fidelity report")
    paths = write_report(results, out, title=f"{title}: {info.backend} {info.serial}",
                         run_ids=run_ids)
    passed = errors == 0 and all(r.verdict.passed for r in results)
    print(f"verdict: {'PASS' if passed else 'FAIL'}")
    print(f"report: {paths.html}")
    print(f"metrics: {paths.json}")
    return EXIT_PASS if passed else EXIT_FAIL


def cmd_experiments(args) -> int:
    for name in experiments.names():
        doc = inspect.getdoc(experiments.get(name)) or ""
        print(name)
        # The docstring's first paragraph, as one line of plain text.
        print("    " + plain_text(" ".join(doc.split("\n\n")[0].split())))
        ranges = experiments.parameter_ranges(name)
        for p, default in experiments.parameters(name).items():
            allowed = f", {ranges[p][0]}..{ranges[p][1]}" if p in ranges else ""
            print(f"    --set {p}={default}  ({type(default).__name__}{allowed})")
        print()
    return EXIT_PASS


def plain_text(rst: str) -> str:
    """reStructuredText inline markup as plain text: ``x`` and :role:`x` become x."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", rst)
    return re.sub(r"``([^`]+)``", r"\1", text)
