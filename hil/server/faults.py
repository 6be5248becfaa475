"""Faults a virtual board can carry (``hil serve --fault ...``): of its chip
(emulator.bss2.Faults) and of its link (LinkFaults)."""
from dataclasses import dataclass

from emulator.bss2 import Faults, StuckBit

from ..contract.errors import InvalidValue


@dataclass(frozen=True)
class LinkFaults:
    """Faults of the board's link rather than of its chip."""

    drop_after: int | None = None
    """The board drops a connection when it receives command N + 1 on it."""
    slow_s: float = 0.0
    """Delay before every answer, seconds."""


def parse_faults(specs: list[str]) -> tuple[Faults, LinkFaults]:
    """Chip and link faults from ``--fault`` options.

    dead-neuron=N[,N...]  stuck-bit=H:ROW:COL:BIT:VALUE  noisy-neuron=N:SIGMA
    missing-codes=A-B|A[,..]  drop-after=N  slow=SECONDS
    """
    dead, stuck, noisy, missing = [], [], [], []
    drop, slow = None, 0.0
    for spec in specs:
        name, _, value = spec.partition("=")
        try:
            if name == "dead-neuron":
                dead += [int(v) for v in value.split(",")]
            elif name == "stuck-bit":
                h, r, c, b, v = (int(p) for p in value.split(":"))
                stuck.append(StuckBit(h, r, c, b, v))
            elif name == "noisy-neuron":
                n, sigma = value.split(":")
                noisy.append((int(n), float(sigma)))
            elif name == "missing-codes":
                for part in value.split(","):
                    lo, _, hi = part.partition("-")
                    missing += list(range(int(lo), int(hi or lo) + 1))
            elif name == "drop-after":
                drop = int(value)
                if drop < 0:
                    raise ValueError
            elif name == "slow":
                slow = float(value)
                if not 0 <= slow <= 60:
                    raise ValueError
            else:
                raise InvalidValue("--fault", f"{spec!r}: unknown fault {name!r}; known: dead-neuron, "
                                   "stuck-bit, noisy-neuron, missing-codes, drop-after, slow")
        except ValueError as exc:
            if isinstance(exc, InvalidValue):
                raise
            raise InvalidValue("--fault", f"{spec!r} is malformed; see `hil serve --help`") from None
    try:
        chip = Faults(dead_neurons=tuple(dead), stuck_bits=tuple(stuck), noisy_neurons=tuple(noisy),
                      missing_codes=tuple(sorted(set(missing))))
    except ValueError as exc:  # emulator.errors.InvalidInput
        raise InvalidValue("--fault", str(exc)) from None
    return chip, LinkFaults(drop_after=drop, slow_s=slow)


def fault_args(faults: Faults) -> list[str]:
    """``--fault`` options that give a chip these faults (the inverse of :func:`parse_faults`)."""
    args = []
    if faults.dead_neurons:
        args.append("dead-neuron=" + ",".join(map(str, faults.dead_neurons)))
    args += [f"stuck-bit={s.hemisphere}:{s.row}:{s.column}:{s.bit}:{s.value}" for s in faults.stuck_bits]
    args += [f"noisy-neuron={n}:{sigma!r}" for n, sigma in faults.noisy_neurons]
    if faults.missing_codes:
        args.append("missing-codes=" + ",".join(map(str, faults.missing_codes)))
    return args
