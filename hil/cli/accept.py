"""``hil accept``: the acceptance suite on one board, and its certificate.

    hil accept --backend board --resource TCPIP::10.0.0.5::5025::SOCKET
    hil accept --board bench-1                       # a board of the inventory (docs/boards.md)
    hil accept --backend emulator --serial EMU-0007  # a virtual chip in this process
    hil accept ... --spec specs/bss2-acceptance-v1.toml --out DIR --store DIR
    hil accept --campaign 20 [--healthy 200] [--link 0] [--seed 0] [--workers 2] --out DIR

Runs every experiment the specification names (each run stored), judges each
metric against the specification, prints the verdict and the failing metrics,
and writes certificate.html, certificate.json and junit.xml into ``--out``.
A board is leased for the whole run. Exit code 0: the board passed; 1: it
failed (a metric missed its limit, or an experiment could not run on it);
2: a usage error (bad option, bad specification file); 4: the link failed (board unreachable, or
link unreliable: too slow, or dropping the connection): no chip verdict, no certificate.

``--campaign N`` judges no given board: it runs the specification's coverage
campaign (:mod:`hil.acceptance.campaign`) on virtual boards over the wire, N
per fault class and ``--healthy`` healthy serials, writes campaign.json and
campaign.md into ``--out`` and the summary into the spec's coverage file,
which its certificates then state. Exit code 0 once it ran.
"""
import sys
from pathlib import Path

from ..contract.result import format_number as number
from ..results.store import ResultStore
from .exit_codes import EXIT_FAIL, EXIT_LINK, EXIT_PASS
from .folders import fresh_dir, timestamp
from .options import STORE_HELP, add_backend_arguments, backend_selection, command, open_selected
from .tables import format_table
CERTIFICATES_DIR = "certificates"
"""Default parent folder of the certificate folders, in the working directory."""


def add_parsers(sub) -> None:
    r = command(sub, "accept", cmd_accept,
                "run the acceptance suite on one board against a specification and write its certificate")
    add_backend_arguments(r, ideal=False)
    r.add_argument("--spec", metavar="FILE",
                   help="specification file (default: the family's newest, specs/bss2-acceptance-v2.toml or "
                        "specs/dynapse2-acceptance-v1.toml of this installation)")
    r.add_argument("--out", metavar="DIR",
                   help=f"certificate folder (default: ./{CERTIFICATES_DIR}/<serial>-<UTC timestamp>)")
    r.add_argument("--store", help=STORE_HELP)
    r.add_argument("--no-plots", action="store_true", help="leave the plots out of certificate.html")
    r.add_argument("--campaign", type=int, metavar="N",
                   help="run the spec's coverage campaign instead: N virtual boards per fault class")
    r.add_argument("--healthy", type=int, default=200, metavar="M",
                   help="with --campaign: healthy serials judged for the false-reject rate (default 200)")
    r.add_argument("--link", type=int, default=0, metavar="K",
                   help="with --campaign: K boards per link-fault class (drops, slowness), each of which must end "
                        "in a link outcome (default 0)")
    r.add_argument("--seed", type=int, default=0, help="with --campaign: seed of the fault draws (default 0)")
    r.add_argument("--workers", type=int, default=2, help="with --campaign: boards judged at once (default 2)")


def cmd_accept(args) -> int:
    from drivers.errors import DriverError

    from ..acceptance import default_spec_path, load_spec, run_acceptance, write_certificate
    from ..acceptance.runner import link_outcome

    given = load_spec(args.spec) if args.spec is not None else None
    if args.campaign is not None:
        return _campaign(args, given or load_spec(default_spec_path(args.family or "bss2")))
    # Without --spec and --family, a board says its family, and its family's newest spec judges it.
    family = given.family if given is not None else args.family
    name, options = backend_selection(args, family=family, token_prefix="hil-accept")
    store = ResultStore(args.store)
    try:
        with open_selected(name, options) as backend:
            i = backend.info()
            spec = given or load_spec(default_spec_path(i.family))
            print(f"specification: {spec.label} ({spec.path}, sha256 {spec.sha256[:16]}...)")
            where = f" at {options['resource']}" if "resource" in options else ""
            print(f"board: {i.model} {i.serial} ({i.firmware}) on the {i.backend} backend{where}")
            print(f"store: {store.root}")
            acceptance = run_acceptance(backend, spec, store=store, progress=sys.stderr.isatty(),
                                        on_run=_print_run)
    except (DriverError, OSError) as exc:
        # The link failed outside an experiment (opening, leasing, closing): a link outcome, no verdict.
        outcome = link_outcome(exc)
        if not outcome:
            raise
        print(f"outcome: {outcome.upper()} (no chip verdict: {type(exc).__name__}: {exc})")
        return EXIT_LINK
    print(format_table(["metric", "value", "limit", "result", "limit from"], [
        [j.key, "-" if j.error else number(j.metric.value) + (f" {j.metric.unit}" if j.metric.unit else ""),
         f"{j.metric.comparison} {number(j.metric.limit)}", j.status.upper(),
         "model" if j.spec.from_model else "spec"] for j in acceptance.judged], right=(1, 2)))
    out = Path(args.out) if args.out else fresh_dir(Path(CERTIFICATES_DIR) /
                                                      f"{acceptance.identity.serial}-{timestamp()}")
    paths = write_certificate(acceptance, out, plots=not args.no_plots)
    failed = ", ".join(j.key for j in acceptance.failed)
    if acceptance.link:
        print(f"outcome: {acceptance.outcome} (no chip verdict: "
              + "; ".join(f"{r.experiment}: {r.error}" for r in acceptance.runs if r.link) + ")")
    else:
        print(f"verdict: {acceptance.verdict}" + (f" (failed: {failed})" if failed else ""))
    print(f"certificate: {paths.html}")
    print(f"json: {paths.json}")
    print(f"junit: {paths.junit}")
    if acceptance.link:
        return EXIT_LINK
    return EXIT_PASS if acceptance.passed else EXIT_FAIL


def _campaign(args, spec) -> int:
    from ..acceptance.campaign import CampaignConfig, campaign_markdown, run_campaign, write_campaign, write_coverage

    config = CampaignConfig(faults_per_class=args.campaign, healthy=args.healthy, link_per_class=args.link,
                            seed=args.seed, workers=args.workers)
    print(f"specification: {spec.label} ({spec.path}, sha256 {spec.sha256[:16]}...)")
    report = run_campaign(spec, config)
    print(campaign_markdown(report))
    out = Path(args.out) if args.out else fresh_dir(Path(CERTIFICATES_DIR) / f"campaign-{timestamp()}")
    paths = write_campaign(report, out)
    print(f"campaign: {paths.json} ({report.seconds:.0f} s, {len(report.boards)} boards)")
    print(f"coverage file: {write_coverage(report)}")
    return EXIT_PASS


def _print_run(run) -> None:
    if run.error:
        status = f"ERROR {run.error}"
    else:
        status = str(run.result.verdict)
    print(f"  {run.experiment:<28} {status}  ({run.seconds:.1f} s, run {run.run_id})", flush=True)


