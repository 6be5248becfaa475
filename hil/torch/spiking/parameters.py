"""Neuron parameters: one value for the model and one for the chip, checked and converted.

A parameter is a plain number (it holds for both), a (size,) sequence or tensor (one per
neuron), or a :class:`MixedHXModelParameter` with a model value and a hardware value.
The hardware value is in the chip's units (CADC LSB for potentials, seconds for time
constants and the refractory time) and goes to the chip's CapMem cells through their
nominal transfer curves (:func:`emulator.bss2.capmem.nominal_level`): the chip's own
mismatch then shows, as on a real chip run without calibration.
"""
from dataclasses import dataclass

import numpy as np
import torch

from emulator.bss2 import capmem, geometry as g

from ...contract.errors import InvalidValue

FPGA_CYCLE_S = g.FPGA_CYCLE_S
"""8 ns: the chip's time base (event, spike and refractory times are whole cycles)."""


@dataclass(frozen=True, eq=False)
class MixedHXModelParameter:
    """A parameter whose model value (software, for the mock mode and the gradient) differs
    from its hardware value (the chip's units), as hxtorch's of the same name: e.g.
    ``MixedHXModelParameter(0.0, 80.0)`` for a model leak of 0 on a chip leak of 80 LSB."""

    model_value: object
    """A number, or one per neuron ((size,) sequence or tensor)."""
    hardware_value: object
    """A number, or one per neuron, in the chip's units."""


def split(value) -> tuple[object, object]:
    """(model value, hardware value) of a parameter."""
    if isinstance(value, MixedHXModelParameter):
        return value.model_value, value.hardware_value
    return value, value


def per_neuron(field: str, value, size: int) -> torch.Tensor:
    """``value`` (a number, or (size,) values) as a (size,) float64 tensor of finite numbers."""
    try:
        t = torch.as_tensor(value.detach() if isinstance(value, torch.Tensor) else value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InvalidValue(field, f"{value!r} is not a number or a sequence of numbers ({exc})") from None
    if t.dim() == 0:
        t = t.expand(size)
    if t.shape != (size,):
        raise InvalidValue(field, f"has shape {tuple(t.shape)}; expected a number or ({size},) values, one per neuron")
    bad = torch.nonzero(~torch.isfinite(t))
    if bad.numel():
        k = int(bad[0])
        raise InvalidValue(f"{field}[{k}]", f"{t[k].item()} is not a finite number")
    return t.clone()


def positive(field: str, t: torch.Tensor, unit: str = "s") -> torch.Tensor:
    bad = torch.nonzero(t <= 0)
    if bad.numel():
        k = int(bad[0])
        raise InvalidValue(f"{field}[{k}]", f"{t[k].item():g} {unit} is not positive")
    return t


def capmem_levels(field: str, cell: str, values: torch.Tensor) -> np.ndarray:
    """(size,) int64 CapMem levels of ``cell`` whose nominal values are nearest ``values``; an
    InvalidValue names the first value no level 0..1022 reaches (time constants: levels 1..1022;
    level 0 gives what level 1 does)."""
    v = values.numpy()
    try:
        return np.asarray(capmem.nominal_level(cell, v), np.int64)
    except ValueError:   # name the first value no level reaches, in this frontend's words
        lowest = 1 if cell in capmem.TIMES else 0
        lo, hi = sorted(float(capmem.nominal_value(cell, x)) for x in (lowest, g.CAPMEM_LEVEL_MAX))
        for k, x in enumerate(v):
            try:
                capmem.nominal_level(cell, x)
            except ValueError:
                unit = "s" if cell in capmem.TIMES else "CADC LSB"
                raise InvalidValue(f"{field}[{k}]", f"hardware value {x:g} is outside what the chip's CapMem "
                                                    f"cell sets: {lo:g}..{hi:g} {unit}") from None
        raise


def refractory_cycles(field: str, seconds: torch.Tensor) -> np.ndarray:
    """(size,) int64 FPGA cycles of a refractory time (round(t / 8 ns)), refused outside 0..4095."""
    cycles = torch.round(seconds / FPGA_CYCLE_S).to(torch.int64)
    bad = torch.nonzero((cycles < 0) | (cycles > g.REFRACTORY_MAX))
    if bad.numel():
        k = int(bad[0])
        raise InvalidValue(f"{field}[{k}]", f"hardware value {seconds[k].item():g} s is outside the chip's "
                                            f"refractory counter: 0..{g.REFRACTORY_MAX * FPGA_CYCLE_S:g} s "
                                            f"(0..{g.REFRACTORY_MAX} cycles of 8 ns)")
    return cycles.numpy()


def stable_time_constant(field: str, t: torch.Tensor, dt: float) -> torch.Tensor:
    """``t`` (s), refused where ``dt / t > 1``: the explicit Euler step would overshoot the leak."""
    positive(field, t)
    bad = torch.nonzero(dt / t > 1.0)
    if bad.numel():
        k = int(bad[0])
        raise InvalidValue(f"{field}[{k}]", f"model value {t[k].item():g} s is below the experiment's dt = {dt:g} s; "
                                            f"the explicit Euler model needs dt / {field} <= 1")
    return t


def refractory_steps(t: torch.Tensor, dt: float) -> torch.Tensor:
    """(size,) int64 steps of dt in a model refractory time (round(t / dt))."""
    return torch.round(t / dt).to(torch.int64)
