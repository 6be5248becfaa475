"""The coverage campaign of an acceptance specification: what fraction of modelled defects it
catches, and how often it rejects a good board.

>>> spec = load_spec("specs/bss2-acceptance-v1.toml")
>>> report = run_campaign(spec, CampaignConfig(faults_per_class=20, healthy=200))
>>> paths = write_campaign(report, "campaigns/v1")       # campaign.json, campaign.md
>>> write_coverage(report)                               # specs/bss2-acceptance-v1.coverage.json

Each fault class of the fault model (:data:`FAULT_CLASSES`, one per field of
:class:`emulator.bss2.Faults`, docs/acceptance.md#fault-model-and-coverage-campaign)
draws its faults from a seeded generator: a position anywhere on the chip and a
value over the class's range, which starts at the class's stated noise floor
(the size below which a fault is not expected to be caught). The first two
draws of every class sit on the chip's corners (hemisphere 1 with its last row,
column and driver; then hemisphere 0 with the first), so that even a small
campaign covers the edges. Each board carries one fault; it is a virtual board
served by ``hil serve --fault ...`` in its own process and judged over the wire
(``transport="wire"``), or an in-process emulator (``transport="emulator"``, for
tests). A FAIL verdict is a fault caught. The same spec is run on healthy
serials, whose FAILs are false rejects. Rates carry 95 % Clopper-Pearson
intervals; the false-reject rate is held against the board-level rate the
judged limits' stated false-alarm probabilities add up to.
"""
import concurrent.futures
import datetime as _dt
import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import stats

from emulator.bss2 import Faults, StuckBit, StuckCapmemCell, StuckLabelBit
from emulator.bss2 import geometry as g
from emulator.bss2.capmem import DEFAULT_LEVELS

from .. import __version__
from ..contract.errors import InvalidValue
from ..contract.statistics import CONFIDENCE, FALSE_ALARM
from ..results.atomic import write_text_atomic
from ..server.faults import fault_args
from .runner import link_outcome, run_acceptance
from .spec import AcceptanceSpec

FORMAT = "hil-rig coverage campaign 1"
COVERAGE_FORMAT = "hil-rig spec coverage 1"
"""The format of ``specs/<name>-v<version>.coverage.json``: campaign summaries keyed by the spec's SHA-256."""
TRANSPORTS = ("wire", "emulator")
HEALTHY_SERIAL_BASE = 10000
"""Healthy boards are EMU-10000, EMU-10001, ...; faulty boards EMU-20000, ... (distinct chips, so a
fault is never judged on the same fixed pattern twice)."""
FAULTY_SERIAL_BASE = 20000
EDGE_DRAWS = ("last", "first")
"""The positions of the first draws of every class: the chip's last corner (hemisphere 1, last row,
column, driver, neuron, code), then its first (hemisphere 0, row 0, ...)."""

# The noise floors. Healthy chips (docs/chip_model.md#numbers-and-their-sources): temporal noise
# about 2 LSB per neuron (noise_max limit 3.5 LSB), CADC offset spread 1.5 codes, slope spread 1.5 %,
# CapMem offset about 1 LSB (3 levels per LSB).
NOISY_SIGMA_FLOOR = 4.0
"""LSB: a neuron's total noise sqrt(2**2 + 4**2) = 4.5 LSB exceeds the 3.5 LSB noise_max by 28 %,
about 5 standard errors of a 200-repeat noise estimate (1 / sqrt(2 x 200) = 5 %)."""
NOISY_SIGMA_MAX = 20.0
CADC_OFFSET_FLOOR = 19.0
"""codes: twice ``bss2.cadc_transfer``'s offset bound (9.3 codes: 5.03 x the 1.8-code quadrature of the
CADC offset spread of 1.5 codes and the CapMem offset of 1 LSB), rounded up: beyond it the fault is
caught wherever the channel's own healthy offset lies inside its bound."""
CADC_OFFSET_MAX = 64.0
CADC_SLOPE_FLOOR = 0.19
"""|factor - 1|: twice ``bss2.cadc_transfer``'s slope bound (0.093: 5.03 x the 1.8 % quadrature of the
CADC slope spread of 1.5 % and the CapMem gain of 1 %), rounded up."""
CADC_SLOPE_RANGE = (0.5, 2.0)


@dataclass(frozen=True)
class FaultClass:
    """One class of the fault model: what it does, how it is drawn, and its noise floor."""

    name: str
    """e.g. 'weight-bit-stuck-0'."""
    field: str
    """The :class:`emulator.bss2.Faults` field it fills."""
    physical: str
    """What the defect is on a real chip."""
    parameters: str
    """Its position and value, with their ranges and units."""
    syntax: str
    """The ``hil serve --fault`` form."""
    floor: str
    """The size below which the fault is not expected to be caught ('none: ...' where every
    instance has a digital or full-scale effect)."""
    draw: Callable[[np.random.Generator, str | None, bool], Faults | None] = field(repr=False, compare=False)
    """(generator, edge 'last' / 'first' / None, below the floor) -> one fault, or None for a class
    without a floor asked for a draw below it."""

    @property
    def has_floor(self) -> bool:
        return not self.floor.startswith("none")


def _hemi(rng, edge) -> int:
    return {"last": g.HEMISPHERES - 1, "first": 0}.get(edge, int(rng.integers(g.HEMISPHERES)))


def _index(rng, edge, n: int) -> int:
    return {"last": n - 1, "first": 0}.get(edge, int(rng.integers(n)))


def _bit(value, cls):
    def draw(r, edge, below):
        if below:
            return None
        b = cls(hemisphere=_hemi(r, edge), row=_index(r, edge, g.ROWS_PER_HEMISPHERE),
                column=_index(r, edge, g.COLUMNS_PER_HEMISPHERE),
                bit=_index(r, edge, g.WEIGHT_BITS if cls is StuckBit else g.LABEL_BITS),
                value=int(r.integers(2)) if value is None else value)
        return Faults(**{"stuck_bits" if cls is StuckBit else "stuck_label_bits": (b,)})
    return draw


def _driver(field_name):
    def draw(r, edge, below):
        if below:
            return None
        return Faults(**{field_name: ((_hemi(r, edge), _index(r, edge, g.DRIVERS_PER_HEMISPHERE)),)})
    return draw


def _dead_neuron(r, edge, below):
    return None if below else Faults(dead_neurons=(_index(r, edge, g.NEURONS),))


def _shorted(r, edge, below):
    if below:
        return None
    cols = g.COLUMNS_PER_HEMISPHERE
    # n and n + 1 of one hemisphere: the last pair is columns 254/255 of hemisphere 1.
    n = _hemi(r, edge) * cols + _index(r, edge, cols - 1)
    return Faults(shorted_columns=(n,))


def _signed(r, lo, hi):
    return float(r.choice((-1.0, 1.0)) * r.uniform(lo, hi))


def _noisy(r, edge, below):
    sigma = r.uniform(0.5, NOISY_SIGMA_FLOOR) if below else r.uniform(NOISY_SIGMA_FLOOR, NOISY_SIGMA_MAX)
    return Faults(noisy_neurons=((_index(r, edge, g.NEURONS), round(float(sigma), 3)),))


def _offset(r, edge, below):
    v = _signed(r, 0.5, CADC_OFFSET_FLOOR) if below else _signed(r, CADC_OFFSET_FLOOR, CADC_OFFSET_MAX)
    return Faults(cadc_offsets=((_index(r, edge, g.NEURONS), round(v, 3)),))


def _slope(r, edge, below):
    lo, hi = CADC_SLOPE_RANGE
    if below:
        v = 1.0 + _signed(r, 0.005, CADC_SLOPE_FLOOR)
    else:  # below 1 - floor or above 1 + floor, each side with probability 1/2
        v = r.uniform(lo, 1.0 - CADC_SLOPE_FLOOR) if r.integers(2) else r.uniform(1.0 + CADC_SLOPE_FLOOR, hi)
    return Faults(cadc_slopes=((_index(r, edge, g.NEURONS), round(float(v), 4)),))


def _missing(r, edge, below):
    # Code 0 cannot be missing (the code below is reported instead): codes 1..255.
    return None if below else Faults(missing_codes=(1 + _index(r, edge, g.CADC_CODES - 1),))


CAPMEM_PARAMETERS = tuple(sorted(DEFAULT_LEVELS))


def _capmem(r, edge, below):
    # Any level: the scan writes two levels, so a cell stuck even at its power-on level is a fault.
    if below:
        return None
    parameter = CAPMEM_PARAMETERS[int(r.integers(len(CAPMEM_PARAMETERS)))]
    return Faults(stuck_capmem=(StuckCapmemCell(_index(r, edge, g.NEURONS), parameter,
                                                int(r.integers(g.CAPMEM_LEVEL_MAX + 1))),))


_DIGITAL = "none: a weight bit is digital; a readback of the synapse SRAM or a scan with both values of every bit sees it"

FAULT_CLASSES: tuple[FaultClass, ...] = (
    FaultClass("weight-bit-stuck-0", "stuck_bits", "one SRAM cell of a synapse's 6-bit weight reads 0",
               "hemisphere 0..1, row 0..255, column 0..255, bit 0..5; value 0", "stuck-bit=H:ROW:COL:BIT:0",
               _DIGITAL + " (analog only: gain x input x 2**bit x sends above the 2 LSB noise)",
               _bit(0, StuckBit)),
    FaultClass("weight-bit-stuck-1", "stuck_bits", "one SRAM cell of a synapse's 6-bit weight reads 1",
               "hemisphere 0..1, row 0..255, column 0..255, bit 0..5; value 1", "stuck-bit=H:ROW:COL:BIT:1",
               _DIGITAL + " (analog only: gain x input x 2**bit x sends above the 2 LSB noise)",
               _bit(1, StuckBit)),
    FaultClass("label-bit-stuck", "stuck_label_bits", "one bit of a synapse's 6-bit address label is stuck; "
               "the synapse answers the wrong event addresses (in MAC mode a bit stuck at 1 silences it)",
               "hemisphere 0..1, row 0..255, column 0..255, bit 0..5, value 0..1", "stuck-label-bit=H:ROW:COL:BIT:V",
               "none: a label bit is digital; a label readback or a spiking label-match scan sees it",
               _bit(None, StuckLabelBit)),
    FaultClass("dead-driver", "dead_drivers", "a synapse driver puts no pulse on its two rows",
               "hemisphere 0..1, driver 0..127", "dead-driver=H:D",
               "none: the driver's two rows lose their whole input", _driver("dead_drivers")),
    FaultClass("full-pulse-driver", "full_pulse_drivers", "a synapse driver's DAC gives the full pulse (that of "
               "activation 31) for every event", "hemisphere 0..1, driver 0..127", "full-pulse-driver=H:D",
               "none for a test that sends activations below 31 on every driver", _driver("full_pulse_drivers")),
    FaultClass("dead-neuron", "dead_neurons", "a neuron's membrane does not integrate (a dead column)",
               "neuron 0..511", "dead-neuron=N", "none: the neuron's output stays at its baseline", _dead_neuron),
    FaultClass("noisy-neuron", "noisy_neurons", "a neuron's membrane carries extra temporal noise",
               f"neuron 0..511; extra sigma {NOISY_SIGMA_FLOOR:g}..{NOISY_SIGMA_MAX:g} LSB", "noisy-neuron=N:SIGMA",
               f"extra sigma {NOISY_SIGMA_FLOOR:g} LSB (total about 4.5 LSB against the 3.5 LSB noise_max)", _noisy),
    FaultClass("shorted-columns", "shorted_columns", "two neighbouring synapse columns are shorted: both "
               "neurons read the mean of their inputs", "n 0..510 with n % 256 != 255 (n and n + 1)",
               "shorted-columns=N", "none for a test that gives neighbouring columns different inputs", _shorted),
    FaultClass("cadc-offset", "cadc_offsets", "a CADC channel's offset is out of range",
               f"neuron 0..511; offset +-{CADC_OFFSET_FLOOR:g}..{CADC_OFFSET_MAX:g} codes", "cadc-offset=N:CODES",
               f"|offset| {CADC_OFFSET_FLOOR:g} codes (twice the 9.3-code bound of bss2.cadc_transfer; between "
               "the two, caught on a channel whose own offset lies near the centre of its spread)", _offset),
    FaultClass("cadc-slope", "cadc_slopes", "a CADC channel's slope is out of range",
               f"neuron 0..511; factor {CADC_SLOPE_RANGE[0]:g}..{1 - CADC_SLOPE_FLOOR:g} or "
               f"{1 + CADC_SLOPE_FLOOR:g}..{CADC_SLOPE_RANGE[1]:g}", "cadc-slope=N:FACTOR",
               f"|factor - 1| {CADC_SLOPE_FLOOR:g} (twice the 0.093 bound of bss2.cadc_transfer)", _slope),
    FaultClass("missing-code", "missing_codes", "a CADC code is never reported (its comparator step is lost; "
               "the code below is reported instead)", "code 1..255", "missing-codes=C",
               "none for a code-density test whose ramp covers every code", _missing),
    FaultClass("stuck-capmem", "stuck_capmem", "a neuron's CapMem cell holds one level whatever is written",
               f"neuron 0..511, parameter one of {', '.join(CAPMEM_PARAMETERS)}, level 0..{g.CAPMEM_LEVEL_MAX}",
               "stuck-capmem=N:PARAMETER:LEVEL",
               "none for a scan that writes every cell at two levels no single level meets (bss2.capmem_scan; an "
               "exp_threshold cell stuck within the membrane noise of the neuron's own v_inf + dT may escape)",
               _capmem),
)
CLASS_NAMES = tuple(c.name for c in FAULT_CLASSES)


@dataclass(frozen=True)
class LinkClass:
    """A fault of the link to the board, not of the chip: it must end in a link outcome ('BOARD
    UNREACHABLE' or 'LINK UNRELIABLE'), never in a PASS or FAIL verdict."""

    name: str
    physical: str
    syntax: str
    """The ``hil serve --fault`` form."""
    draw: Callable[[np.random.Generator], tuple[tuple[str, ...], float | None]] = field(repr=False, compare=False)
    """generator -> (the ``hil serve`` arguments, the client's time-out in s or None for its default)."""


LINK_DROP_MAX = 40
"""drop-after draws 0..40: fewer commands than any acceptance of a spec sends (a v2 acceptance sends
hundreds), so every draw drops during the acceptance, from the first command on."""
LINK_SLOW_RANGE = (0.2, 1.0)
"""s: the slowness drawn; the client's time-out is half of it."""


def _drop(r):
    return ("--fault", f"drop-after={int(r.integers(LINK_DROP_MAX + 1))}"), None


def _slow(r):
    s = round(float(r.uniform(*LINK_SLOW_RANGE)), 3)
    return ("--fault", f"slow={s:g}"), s / 2


LINK_CLASSES: tuple[LinkClass, ...] = (
    LinkClass("link-drop", "the board drops the connection on command N + 1 (and again N commands after "
              "the driver's reconnect)", "drop-after=N", _drop),
    LinkClass("link-slow", "the board answers every command S seconds late, beyond the client's time-out (S / 2)",
              "slow=SECONDS", _slow),
)
LINK_OUTCOMES = ("BOARD UNREACHABLE", "LINK UNRELIABLE")
VERDICTS = ("PASS", "FAIL")
"""A chip verdict; a chip-fault or healthy board that ends otherwise (an error, a link outcome) is not
counted, only reported among the class's errors."""
LINK_SERIAL_BASE = 30000


def fault_class(name: str) -> FaultClass:
    for c in FAULT_CLASSES:
        if c.name == name:
            return c
    raise InvalidValue("fault class", f"{name!r} is not a fault class; known: {', '.join(CLASS_NAMES)}")


def draw_faults(cls: FaultClass, n: int, seed: int, *, below_floor: bool = False) -> tuple[Faults, ...]:
    """``n`` single faults of ``cls`` from a generator seeded by (seed, the class's name): the
    same seed gives the same faults, whatever other classes are drawn. The first draws are
    the :data:`EDGE_DRAWS` corners. ``below_floor``: draws below the class's floor instead
    (none for a class without one)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise InvalidValue("n", f"{n!r} is not a count >= 0 of faults to draw")
    key = int.from_bytes(hashlib.sha256(cls.name.encode()).digest()[:8], "little")
    rng = np.random.default_rng([seed, key, int(below_floor)])
    out = []
    for i in range(n):
        f = cls.draw(rng, EDGE_DRAWS[i] if i < len(EDGE_DRAWS) else None, below_floor)
        if f is None:
            return ()
        out.append(f)
    return tuple(out)


@dataclass(frozen=True)
class CampaignConfig:
    """The size and seeds of a campaign."""

    faults_per_class: int = 20
    """Boards per fault class, one fault each (N of ``hil accept --campaign N``)."""
    healthy: int = 200
    """Healthy serials judged for the false-reject rate."""
    seed: int = 0
    """Seed of the fault draws."""
    below_floor_per_class: int = 0
    """Extra boards per class with a fault below its floor (counted apart; classes with a floor only)."""
    classes: tuple[str, ...] = CLASS_NAMES
    link_per_class: int = 0
    """Boards per link class (``LINK_CLASSES``; over the wire only): each must end in a link outcome."""
    workers: int = 2
    """Boards judged at once (each a ``hil serve`` child on the wire)."""
    transport: str = "wire"
    """'wire': every board a ``hil serve`` child judged over TCP; 'emulator': in-process emulators."""

    def __post_init__(self):
        for name, lo in (("faults_per_class", 0), ("healthy", 0), ("below_floor_per_class", 0), ("link_per_class", 0),
                         ("workers", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise InvalidValue(name, f"{v!r} is not an integer >= {lo}")
        if self.transport not in TRANSPORTS:
            raise InvalidValue("transport", f"{self.transport!r} is not one of {', '.join(TRANSPORTS)}")
        for c in self.classes:
            fault_class(c)
        if self.link_per_class and self.transport != "wire":
            raise InvalidValue("link_per_class", f"{self.link_per_class}: link faults need transport 'wire' "
                                                 f"(a board served by hil serve), not {self.transport!r}")


@dataclass(frozen=True)
class BoardOutcome:
    """One board of the campaign, judged."""

    fault_class: str
    """'' for a healthy board."""
    serial: str
    fault: tuple[str, ...]
    """Its ``--fault`` options (() for a healthy board)."""
    below_floor: bool
    verdict: str
    """'PASS', 'FAIL', a link outcome ('BOARD UNREACHABLE', 'LINK UNRELIABLE'), or 'ERROR' (the acceptance
    could not run at all: not counted for a chip fault, a miss for a link fault)."""
    failed: tuple[str, ...]
    """The judged metrics that failed ('<experiment>.<metric>')."""
    error: str
    seconds: float

    @property
    def caught(self) -> bool:
        return self.verdict == "FAIL"


@dataclass(frozen=True)
class Rate:
    """k of n, with its 95 % Clopper-Pearson interval (fractions 0..1)."""

    k: int
    n: int
    low: float
    high: float

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else float("nan")


def clopper_pearson(k: int, n: int, confidence: float = CONFIDENCE) -> Rate:
    """The exact binomial interval of a rate k / n (scipy beta quantiles); (0, 1) for n == 0."""
    if n == 0:
        return Rate(0, 0, 0.0, 1.0)
    if not 0 <= k <= n:
        raise InvalidValue("k", f"{k} is not a count of {n} trials")
    a = (1.0 - confidence) / 2
    low = float(stats.beta.ppf(a, k, n - k + 1)) if k > 0 else 0.0
    high = float(stats.beta.isf(a, k + 1, n - k)) if k < n else 1.0
    return Rate(k, n, low, high)


@dataclass(frozen=True)
class LimitAlarm:
    """One judged limit and the false-alarm probability it states."""

    key: str
    limit_from: str
    """'model': the experiment's statistical limit at FALSE_ALARM; 'spec': a number of the spec."""
    alpha: float | None
    """The stated probability that a healthy board fails it; None: the spec states none."""


def limit_alarms(spec: AcceptanceSpec) -> tuple[LimitAlarm, ...]:
    """Every judged limit of ``spec`` with its stated false-alarm probability. A ``"model"`` limit is
    set at :data:`FALSE_ALARM` (1e-3) by construction; a spec number states its rate only where its
    entry does (a ``false_alarm`` attribute of a later spec format), else None."""
    return tuple(LimitAlarm(m.key, "model" if m.from_model else "spec",
                            FALSE_ALARM if m.from_model else getattr(m, "false_alarm", None))
                 for m in spec.metrics)


def board_false_alarm(alarms: tuple[LimitAlarm, ...]) -> float:
    """1 - prod(1 - alpha_i) over the limits that state a rate: the board-level false-reject rate
    they add up to (independent limits; a union bound for dependent ones would be their sum)."""
    return 1.0 - math.prod(1.0 - a.alpha for a in alarms if a.alpha is not None)


@dataclass(frozen=True)
class ClassResult:
    name: str
    floor: str
    caught: Rate
    below_floor: Rate
    metrics: tuple[tuple[str, int], ...]
    """(judged metric, boards of this class it failed on), most first."""
    missed: tuple[tuple[str, ...], ...]
    """The ``--fault`` options of the faults not caught."""
    errors: int


@dataclass(frozen=True)
class CampaignReport:
    spec: AcceptanceSpec
    config: CampaignConfig
    started: str
    """UTC, ISO 8601."""
    seconds: float
    """Wall-clock time of the whole campaign."""
    boards: tuple[BoardOutcome, ...]
    classes: tuple[ClassResult, ...]
    false_reject: Rate
    healthy_metrics: tuple[tuple[str, int], ...]
    alarms: tuple[LimitAlarm, ...]
    predicted_false_reject: float

    @property
    def consistency(self) -> str:
        """'consistent', 'above' or 'below': where the predicted board-level rate lies against the
        measured rate's interval."""
        p, r = self.predicted_false_reject, self.false_reject
        if r.n == 0 or r.low <= p <= r.high:
            return "consistent"
        return "above" if r.low > p else "below"


def _judge(cls_name: str, serial: str, faults: Faults, below: bool, spec: AcceptanceSpec, transport: str,
           link: tuple[tuple[str, ...], float | None] = ((), None)):
    t0 = time.monotonic()
    server_args, timeout_s = link
    args = tuple(fault_args(faults)) + tuple(a for a in server_args if a != "--fault")
    try:
        if transport == "emulator":
            from ..backends.emulator import EmulatorBackend

            a = run_acceptance(EmulatorBackend(serial=serial, faults=faults), spec)
        else:
            import hil.backend

            from ..server.process import BoardProcess

            with BoardProcess(serial=serial, faults=faults, extra_args=server_args) as proc:
                options = {} if timeout_s is None else {"timeout_s": timeout_s}
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")       # the driver's reconnect warnings of a link fault
                    with hil.backend.open("board", resource=proc.resource, **options) as board:
                        a = run_acceptance(board, spec)
    except Exception as exc:  # noqa: BLE001 - a board that cannot be judged is recorded, not fatal
        # A link that fails while the board is opened or leased is a link outcome too.
        outcome = link_outcome(exc).upper() or "ERROR"
        return BoardOutcome(cls_name, serial, args, below, outcome, (), f"{type(exc).__name__}: {exc}",
                            time.monotonic() - t0)
    errors = "; ".join(sorted({j.error for j in a.failed if j.error}))
    return BoardOutcome(cls_name, serial, args, below, a.outcome, tuple(j.key for j in a.failed), errors,
                        time.monotonic() - t0)


def _count_metrics(outcomes) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for o in outcomes:
        for k in o.failed:
            counts[k] = counts.get(k, 0) + 1
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def run_campaign(spec: AcceptanceSpec, config: CampaignConfig = CampaignConfig(), *,
                 progress: bool | None = None) -> CampaignReport:
    """Judges every board of the campaign with ``spec`` and summarises it.

    progress: a tqdm bar on stderr (None: only when stdout is a terminal).
    """
    jobs = []
    serial = FAULTY_SERIAL_BASE
    for name in config.classes:
        cls = fault_class(name)
        for below, n in ((False, config.faults_per_class), (True, config.below_floor_per_class)):
            for f in draw_faults(cls, n, config.seed, below_floor=below) if (n and (not below or cls.has_floor)) else ():
                jobs.append((name, f"EMU-{serial:05d}", f, below, ((), None)))
                serial += 1
    jobs += [("", f"EMU-{HEALTHY_SERIAL_BASE + i:05d}", Faults(), False, ((), None)) for i in range(config.healthy)]
    serial = LINK_SERIAL_BASE
    for key, cls in enumerate(LINK_CLASSES):
        rng = np.random.default_rng([config.seed, 0x4C494E4B, key])
        for _ in range(config.link_per_class):
            jobs.append((cls.name, f"EMU-{serial:05d}", Faults(), False, cls.draw(rng)))
            serial += 1
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    show = sys.stdout.isatty() if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="campaign", unit="board", file=sys.stderr)
    outcomes: list[BoardOutcome | None] = [None] * len(jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=config.workers) as pool:
        futures = {pool.submit(_judge, *job[:4], spec, config.transport, job[4]): i for i, job in enumerate(jobs)}
        for fut in concurrent.futures.as_completed(futures):
            outcomes[futures[fut]] = fut.result()
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    boards = tuple(outcomes)
    classes = []
    for name in config.classes:
        mine = [o for o in boards if o.fault_class == name and o.verdict in VERDICTS]
        above = [o for o in mine if not o.below_floor]
        below = [o for o in mine if o.below_floor]
        classes.append(ClassResult(
            name=name, floor=fault_class(name).floor,
            caught=clopper_pearson(sum(o.caught for o in above), len(above)),
            below_floor=clopper_pearson(sum(o.caught for o in below), len(below)),
            metrics=_count_metrics(above), missed=tuple(o.fault for o in above if not o.caught),
            errors=sum(o.fault_class == name and o.verdict not in VERDICTS for o in boards)))
    for cls in LINK_CLASSES if config.link_per_class else ():
        mine = [o for o in boards if o.fault_class == cls.name]
        ended = [o for o in mine if o.verdict in LINK_OUTCOMES]
        counts = {v: sum(o.verdict == v for o in mine) for v in LINK_OUTCOMES}
        classes.append(ClassResult(
            name=cls.name, floor="none: every link fault must end in a link outcome, never in a chip verdict",
            caught=clopper_pearson(len(ended), len(mine)), below_floor=clopper_pearson(0, 0),
            metrics=tuple((k, n) for k, n in counts.items() if n),
            missed=tuple(o.fault + (o.verdict,) for o in mine if o.verdict not in LINK_OUTCOMES),
            errors=sum(o.verdict == "ERROR" for o in mine)))
    healthy = [o for o in boards if not o.fault_class and o.verdict in VERDICTS]
    alarms = limit_alarms(spec)
    return CampaignReport(spec=spec, config=config, started=started, seconds=time.monotonic() - t0,
                          boards=boards, classes=tuple(classes),
                          false_reject=clopper_pearson(sum(o.caught for o in healthy), len(healthy)),
                          healthy_metrics=_count_metrics(healthy), alarms=alarms,
                          predicted_false_reject=board_false_alarm(alarms))


def _rate_doc(r: Rate) -> dict:
    return {"k": r.k, "n": r.n, "rate": None if r.n == 0 else r.value, "low": r.low, "high": r.high,
            "interval": f"{CONFIDENCE:.0%} Clopper-Pearson"}


def summary_document(report: CampaignReport) -> dict:
    """The campaign's figures, without the per-board list: what the coverage file keeps."""
    s, c = report.spec, report.config
    return {
        "spec": {"name": s.name, "version": s.version, "file": s.file_name, "sha256": s.sha256},
        "date": report.started,
        "seconds": round(report.seconds, 1),
        "software_version": __version__,
        "size": {"faults_per_class": c.faults_per_class, "classes": len(c.classes),
                 "link_per_class": c.link_per_class,
                 "faulty_boards": sum(1 for b in report.boards if b.fault_class and not b.below_floor),
                 "below_floor_boards": sum(1 for b in report.boards if b.below_floor),
                 "healthy_boards": c.healthy, "seed": c.seed, "transport": c.transport, "workers": c.workers},
        "classes": [{"name": r.name, "floor": r.floor, "caught": _rate_doc(r.caught),
                     "below_floor": _rate_doc(r.below_floor), "errors": r.errors,
                     "metrics": dict(r.metrics), "missed": [list(m) for m in r.missed]} for r in report.classes],
        "false_reject": {**_rate_doc(report.false_reject), "metrics": dict(report.healthy_metrics),
                         "predicted": report.predicted_false_reject,
                         "predicted_from": {
                             "model": [a.key for a in report.alarms if a.limit_from == "model"],
                             "model_alpha": FALSE_ALARM,
                             "spec_with_rate": {a.key: a.alpha for a in report.alarms
                                                if a.limit_from == "spec" and a.alpha is not None},
                             "spec_without_rate": [a.key for a in report.alarms
                                                   if a.limit_from == "spec" and a.alpha is None]},
                         "consistency": report.consistency},
    }


def campaign_document(report: CampaignReport) -> dict:
    return {"format": FORMAT, **summary_document(report), "boards": [asdict(b) for b in report.boards]}


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def campaign_markdown(report: CampaignReport) -> str:
    s = report.spec
    lines = [f"# Coverage campaign of {s.label}", "",
             f"{s.file_name}, sha256 {s.sha256}; {report.started}; {report.seconds:.0f} s; "
             f"seed {report.config.seed}, {report.config.transport}, {report.config.workers} workers", "",
             "| fault class | caught | 95 % CI | below floor caught | floor | metrics that caught it |",
             "|---|---|---|---|---|---|"]
    for r in report.classes:
        c, b = r.caught, r.below_floor
        below = f"{b.k}/{b.n}" if b.n else "-"
        metrics = ", ".join(f"{k} ({n})" for k, n in r.metrics[:4]) or "-"
        lines.append(f"| {r.name} | {c.k}/{c.n} | {_pct(c.low)}..{_pct(c.high)} | {below} | {r.floor} | {metrics} |")
    f = report.false_reject
    lines += ["", f"False rejects: {f.k} of {f.n} healthy boards, 95 % CI {_pct(f.low)}..{_pct(f.high)}; "
                  f"the stated per-limit false alarms add up to {_pct(report.predicted_false_reject)} per board "
                  f"({sum(a.limit_from == 'model' for a in report.alarms)} model limits at {FALSE_ALARM:g}; "
                  f"{sum(a.alpha is None for a in report.alarms)} spec limits state no rate): "
                  f"{report.consistency}."]
    if report.healthy_metrics:
        lines.append("Healthy boards failed: " + ", ".join(f"{k} ({n})" for k, n in report.healthy_metrics) + ".")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class CampaignPaths:
    json: Path
    markdown: Path


def write_campaign(report: CampaignReport, out_dir: str | os.PathLike) -> CampaignPaths:
    """campaign.json (every board) and campaign.md (the table) into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = CampaignPaths(out / "campaign.json", out / "campaign.md")
    write_text_atomic(paths.json, json.dumps(campaign_document(report), indent=2, allow_nan=False) + "\n")
    write_text_atomic(paths.markdown, campaign_markdown(report))
    return paths


def coverage_path(spec: AcceptanceSpec) -> Path | None:
    """``<name>-v<version>.coverage.json`` beside the spec file (None for a spec not read from a file)."""
    if spec.path.startswith("<"):
        return None
    return Path(spec.path).with_name(f"{spec.name}-v{spec.version}.coverage.json")


def write_coverage(report: CampaignReport, path: str | os.PathLike | None = None) -> Path:
    """Adds the campaign's summary to the spec's coverage file, under the spec's SHA-256 (a later
    campaign of the same file replaces the earlier one; other SHA-256s are kept)."""
    p = Path(path) if path is not None else coverage_path(report.spec)
    if p is None:
        raise InvalidValue("path", f"{report.spec.label} was not read from a file; give the coverage file's path")
    doc = {"format": COVERAGE_FORMAT, "by_sha256": {}}
    if p.exists():
        doc = json.loads(p.read_text("utf-8"))
    doc["by_sha256"][report.spec.sha256] = summary_document(report)
    write_text_atomic(p, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return p


def read_coverage(spec: AcceptanceSpec, path: str | os.PathLike | None = None) -> dict | None:
    """The campaign summary measured for exactly this spec file (its SHA-256), or None."""
    p = Path(path) if path is not None else coverage_path(spec)
    if p is None or not p.exists():
        return None
    doc = json.loads(p.read_text("utf-8"))
    if doc.get("format") != COVERAGE_FORMAT:
        raise InvalidValue(str(p), f"format {doc.get('format')!r} is not {COVERAGE_FORMAT!r}")
    return doc.get("by_sha256", {}).get(spec.sha256)


__all__ = ["BoardOutcome", "CLASS_NAMES", "CampaignConfig", "CampaignPaths", "CampaignReport", "ClassResult",
           "FAULT_CLASSES", "FaultClass", "LINK_CLASSES", "LinkClass", "LimitAlarm", "Rate", "board_false_alarm",
           "campaign_document",
           "campaign_markdown", "clopper_pearson", "coverage_path", "draw_faults", "fault_class", "limit_alarms",
           "read_coverage", "run_campaign", "summary_document", "write_campaign", "write_coverage"]
