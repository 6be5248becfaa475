"""Faults a virtual board can carry (``hil serve --fault ...``): of its chip
(emulator.bss2.Faults) and of its link (LinkFaults)."""
from dataclasses import dataclass

from emulator.bss2 import Faults, StuckBit, StuckCapmemCell, StuckLabelBit

from ..contract.errors import InvalidValue


@dataclass(frozen=True)
class LinkFaults:
    """Faults of the board's link rather than of its chip."""

    drop_after: int | None = None
    """The board drops a connection when it receives command N + 1 on it."""
    slow_s: float = 0.0
    """Delay before every answer, seconds."""


_LISTS = {"dead-neuron": "dead_neurons", "shorted-columns": "shorted_columns"}
_PAIRS = {"dead-driver": "dead_drivers", "full-pulse-driver": "full_pulse_drivers"}
_VALUES = {"noisy-neuron": "noisy_neurons", "cadc-offset": "cadc_offsets", "cadc-slope": "cadc_slopes"}
_BITS = {"stuck-bit": ("stuck_bits", StuckBit), "stuck-label-bit": ("stuck_label_bits", StuckLabelBit)}
KNOWN = ("dead-neuron", "stuck-bit", "stuck-label-bit", "noisy-neuron", "missing-codes", "dead-driver",
         "full-pulse-driver", "shorted-columns", "cadc-offset", "cadc-slope", "stuck-capmem", "drop-after", "slow")


def parse_faults(specs: list[str]) -> tuple[Faults, LinkFaults]:
    """Chip and link faults from ``--fault`` options (the fault model: docs/acceptance.md).

    dead-neuron=N[,N...]  stuck-bit=H:ROW:COL:BIT:VALUE  stuck-label-bit=H:ROW:COL:BIT:VALUE
    noisy-neuron=N:SIGMA  missing-codes=A-B|A[,..]  dead-driver=H:D[,H:D...]
    full-pulse-driver=H:D[,...]  shorted-columns=N[,N...] (N and N + 1)  cadc-offset=N:CODES
    cadc-slope=N:FACTOR  stuck-capmem=N:PARAMETER:LEVEL  drop-after=N  slow=SECONDS
    """
    chip = {f: [] for f in ("dead_neurons", "missing_codes", "shorted_columns", "stuck_capmem",
                            *_PAIRS.values(), *_VALUES.values(), *(f for f, _ in _BITS.values()))}
    drop, slow = None, 0.0
    for spec in specs:
        name, _, value = spec.partition("=")
        try:
            if name in _LISTS:
                chip[_LISTS[name]] += [int(v) for v in value.split(",")]
            elif name in _BITS:
                field, cls = _BITS[name]
                h, r, c, b, v = (int(p) for p in value.split(":"))
                chip[field].append(cls(h, r, c, b, v))
            elif name in _VALUES:
                n, x = value.split(":")
                chip[_VALUES[name]].append((int(n), float(x)))
            elif name in _PAIRS:
                for part in value.split(","):
                    h, d = part.split(":")
                    chip[_PAIRS[name]].append((int(h), int(d)))
            elif name == "stuck-capmem":
                n, parameter, level = value.split(":")
                chip["stuck_capmem"].append(StuckCapmemCell(int(n), parameter, int(level)))
            elif name == "missing-codes":
                for part in value.split(","):
                    lo, _, hi = part.partition("-")
                    chip["missing_codes"] += list(range(int(lo), int(hi or lo) + 1))
            elif name == "drop-after":
                drop = int(value)
                if drop < 0:
                    raise ValueError
            elif name == "slow":
                slow = float(value)
                if not 0 <= slow <= 60:
                    raise ValueError
            else:
                raise InvalidValue("--fault", f"{spec!r}: unknown fault {name!r}; known: {', '.join(KNOWN)}")
        except ValueError as exc:
            if isinstance(exc, InvalidValue):
                raise
            raise InvalidValue("--fault", f"{spec!r} is malformed; see `hil serve --help`") from None
    chip["missing_codes"] = sorted(set(chip["missing_codes"]))
    try:
        faults = Faults(**{k: tuple(v) for k, v in chip.items()})
    except ValueError as exc:  # emulator.errors.InvalidInput
        raise InvalidValue("--fault", str(exc)) from None
    return faults, LinkFaults(drop_after=drop, slow_s=slow)


def fault_args(faults: Faults) -> list[str]:
    """``--fault`` options that give a chip these faults (the inverse of :func:`parse_faults`)."""
    args = []
    if faults.dead_neurons:
        args.append("dead-neuron=" + ",".join(map(str, faults.dead_neurons)))
    for name, (field, _) in _BITS.items():
        args += [f"{name}={s.hemisphere}:{s.row}:{s.column}:{s.bit}:{s.value}" for s in getattr(faults, field)]
    for name, field in _VALUES.items():
        args += [f"{name}={n}:{x!r}" for n, x in getattr(faults, field)]
    if faults.missing_codes:
        args.append("missing-codes=" + ",".join(map(str, faults.missing_codes)))
    for name, field in _PAIRS.items():
        if getattr(faults, field):
            args.append(f"{name}=" + ",".join(f"{h}:{d}" for h, d in getattr(faults, field)))
    if faults.shorted_columns:
        args.append("shorted-columns=" + ",".join(map(str, faults.shorted_columns)))
    args += [f"stuck-capmem={c.neuron}:{c.parameter}:{c.level}" for c in faults.stuck_capmem]
    return args
