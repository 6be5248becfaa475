"""Faults that can be injected into a virtual chip, so acceptance suites can be
shown to catch bad boards."""
from dataclasses import dataclass

from . import geometry as g
from ..errors import InvalidInput


@dataclass(frozen=True)
class StuckBit:
    """One weight bit of one synapse that always reads ``value``."""

    hemisphere: int
    """0..1"""
    row: int
    """synapse row 0..255 (even rows excitatory, odd rows inhibitory in MAC mode)"""
    column: int
    """synapse column 0..255"""
    bit: int
    """weight bit 0..5"""
    value: int
    """0 or 1"""


@dataclass(frozen=True)
class Faults:
    """A set of injected faults; the default is a healthy chip."""

    dead_neurons: tuple[int, ...] = ()
    """Neurons 0..511 whose membrane does not integrate (a dead neuron column)."""
    stuck_bits: tuple[StuckBit, ...] = ()
    """Synapse weight bits stuck at 0 or 1."""
    noisy_neurons: tuple[tuple[int, float], ...] = ()
    """(neuron 0..511, extra temporal noise in LSB, > 0) pairs."""
    missing_codes: tuple[int, ...] = ()
    """CADC codes 1..255 that are never reported (the code below is reported instead)."""

    def __post_init__(self):
        for i, n in enumerate(self.dead_neurons):
            _check_int(f"dead_neurons[{i}]", n, 0, g.NEURONS - 1)
        for i, s in enumerate(self.stuck_bits):
            for name, lo, hi in (("hemisphere", 0, 1), ("row", 0, g.ROWS_PER_HEMISPHERE - 1),
                                 ("column", 0, g.COLUMNS_PER_HEMISPHERE - 1),
                                 ("bit", 0, g.WEIGHT_BITS - 1), ("value", 0, 1)):
                _check_int(f"stuck_bits[{i}].{name}", getattr(s, name), lo, hi)
        for i, (n, sigma) in enumerate(self.noisy_neurons):
            _check_int(f"noisy_neurons[{i}].neuron", n, 0, g.NEURONS - 1)
            if not (isinstance(sigma, (int, float)) and 0 < sigma <= 100):
                raise InvalidInput(f"noisy_neurons[{i}].sigma", f"{sigma!r} is outside (0, 100] LSB")
        for i, code in enumerate(self.missing_codes):
            _check_int(f"missing_codes[{i}]", code, 1, g.CADC_CODES - 1)

    @property
    def healthy(self) -> bool:
        return self == Faults()


def _check_int(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(field, f"{value!r} is outside the allowed range {lo}..{hi}")
