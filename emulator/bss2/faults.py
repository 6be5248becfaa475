"""Faults that can be injected into a virtual chip, so acceptance suites can be
shown to catch bad boards."""
from dataclasses import dataclass

from . import geometry as g
from .capmem import DEFAULT_LEVELS
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
class StuckLabelBit:
    """One label bit of one synapse that always reads ``value``: the synapse answers the
    addresses of its faulty label only (in MAC mode, where every label is 0, a bit stuck at 1
    silences the synapse)."""

    hemisphere: int
    """0..1"""
    row: int
    """synapse row 0..255"""
    column: int
    """synapse column 0..255"""
    bit: int
    """label bit 0..5"""
    value: int
    """0 or 1"""


@dataclass(frozen=True)
class StuckCapmemCell:
    """One neuron's CapMem cell of ``parameter`` that holds ``level`` whatever is written."""

    neuron: int
    """0..511"""
    parameter: str
    """one of the neuron cells of docs/spiking.md (``capmem.DEFAULT_LEVELS``): leak, reset, ..."""
    level: int
    """0..1022"""


@dataclass(frozen=True)
class Faults:
    """A set of injected faults; the default is a healthy chip (the fault model: docs/acceptance.md)."""

    dead_neurons: tuple[int, ...] = ()
    """Neurons 0..511 whose membrane does not integrate (a dead neuron column)."""
    stuck_bits: tuple[StuckBit, ...] = ()
    """Synapse weight bits stuck at 0 or 1."""
    noisy_neurons: tuple[tuple[int, float], ...] = ()
    """(neuron 0..511, extra temporal noise in LSB, > 0) pairs."""
    missing_codes: tuple[int, ...] = ()
    """CADC codes 1..255 that are never reported (the code below is reported instead)."""
    stuck_label_bits: tuple[StuckLabelBit, ...] = ()
    """Synapse label bits stuck at 0 or 1."""
    dead_drivers: tuple[tuple[int, int], ...] = ()
    """(hemisphere 0..1, driver 0..127) synapse drivers that put no pulse on their rows."""
    full_pulse_drivers: tuple[tuple[int, int], ...] = ()
    """(hemisphere, driver) synapse drivers whose DAC gives the full pulse (activation 31's) for
    every event they take (spiking mode sends full pulses anyway)."""
    shorted_columns: tuple[int, ...] = ()
    """Neurons n (0..510, n % 256 != 255) whose column is shorted to column n + 1 of the same
    hemisphere: the two share their synaptic input, and read their mean."""
    cadc_offsets: tuple[tuple[int, float], ...] = ()
    """(neuron 0..511, extra offset of its CADC channel in codes, finite, 0 < |offset| <= 128)."""
    cadc_slopes: tuple[tuple[int, float], ...] = ()
    """(neuron 0..511, factor on its CADC channel's slope, 0 < factor <= 4, != 1)."""
    stuck_capmem: tuple[StuckCapmemCell, ...] = ()
    """CapMem cells stuck at one level (spiking mode; the leak cell also in the CADC ramp mode)."""

    def __post_init__(self):
        for i, n in enumerate(self.dead_neurons):
            _check_int(f"dead_neurons[{i}]", n, 0, g.NEURONS - 1)
        for name, cells, bits in (("stuck_bits", self.stuck_bits, g.WEIGHT_BITS),
                                  ("stuck_label_bits", self.stuck_label_bits, g.LABEL_BITS)):
            for i, s in enumerate(cells):
                for f, lo, hi in (("hemisphere", 0, 1), ("row", 0, g.ROWS_PER_HEMISPHERE - 1),
                                  ("column", 0, g.COLUMNS_PER_HEMISPHERE - 1), ("bit", 0, bits - 1),
                                  ("value", 0, 1)):
                    _check_int(f"{name}[{i}].{f}", getattr(s, f), lo, hi)
        for i, (n, sigma) in enumerate(self.noisy_neurons):
            _check_int(f"noisy_neurons[{i}].neuron", n, 0, g.NEURONS - 1)
            if not (isinstance(sigma, (int, float)) and 0 < sigma <= 100):
                raise InvalidInput(f"noisy_neurons[{i}].sigma", f"{sigma!r} is outside (0, 100] LSB")
        for i, code in enumerate(self.missing_codes):
            _check_int(f"missing_codes[{i}]", code, 1, g.CADC_CODES - 1)
        for name in ("dead_drivers", "full_pulse_drivers"):
            for i, pair in enumerate(getattr(self, name)):
                if not isinstance(pair, tuple) or len(pair) != 2:
                    raise InvalidInput(f"{name}[{i}]", f"{pair!r} is not a (hemisphere, driver) pair")
                _check_int(f"{name}[{i}].hemisphere", pair[0], 0, g.HEMISPHERES - 1)
                _check_int(f"{name}[{i}].driver", pair[1], 0, g.DRIVERS_PER_HEMISPHERE - 1)
        for i, n in enumerate(self.shorted_columns):
            _check_int(f"shorted_columns[{i}]", n, 0, g.NEURONS - 2)
            if n % g.COLUMNS_PER_HEMISPHERE == g.COLUMNS_PER_HEMISPHERE - 1:
                raise InvalidInput(f"shorted_columns[{i}]", f"{n} is the last column of its hemisphere; it has no "
                                   "neighbour n + 1 there")
        for name, ok, allowed in (("cadc_offsets", lambda v: 0 < abs(v) <= 128, "0 < |offset| <= 128 codes"),
                                  ("cadc_slopes", lambda v: 0 < v <= 4 and v != 1, "0 < factor <= 4, not 1")):
            for i, pair in enumerate(getattr(self, name)):
                if not isinstance(pair, tuple) or len(pair) != 2:
                    raise InvalidInput(f"{name}[{i}]", f"{pair!r} is not a (neuron, value) pair")
                _check_int(f"{name}[{i}].neuron", pair[0], 0, g.NEURONS - 1)
                v = pair[1]
                if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or not ok(v):
                    raise InvalidInput(f"{name}[{i}].value", f"{v!r} is outside {allowed}")
        for i, c in enumerate(self.stuck_capmem):
            _check_int(f"stuck_capmem[{i}].neuron", c.neuron, 0, g.NEURONS - 1)
            if c.parameter not in DEFAULT_LEVELS:
                raise InvalidInput(f"stuck_capmem[{i}].parameter", f"{c.parameter!r} is not a neuron cell; "
                                   f"known: {sorted(DEFAULT_LEVELS)}")
            _check_int(f"stuck_capmem[{i}].level", c.level, 0, g.CAPMEM_LEVEL_MAX)

    @property
    def healthy(self) -> bool:
        return self == Faults()

    def touches_synapses(self, hemisphere: int) -> bool:
        """Whether a fault changes the effective synapses of ``hemisphere`` anywhere (stuck weight or
        label bits, shorted columns), so its whole array must be computed, padding included."""
        cols = g.COLUMNS_PER_HEMISPHERE
        return (any(s.hemisphere == hemisphere for s in self.stuck_bits + self.stuck_label_bits)
                or any(n // cols == hemisphere for n in self.shorted_columns))


def _check_int(field: str, value, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidInput(field, f"{value!r} is outside the allowed range {lo}..{hi}")
