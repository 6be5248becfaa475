"""What the analog experiments share: configurations that let chosen neurons listen to one tag, the
decay ratio and event jump read from a synapse's trace, and the limits of the chip's stated mismatch."""
import math

import numpy as np
from scipy import stats

from emulator.dynapse2 import geometry as g

from ...contract.statistics import FALSE_ALARM
from .. import models
from ..types import PARAMETERS, Config

EXACT_IDEAL = "exact: the ideal chip has no mismatch and no noise; the model is its own equations"
FLOAT_REL = 1e-9
"""Relative agreement of a quantity read from an ideal chip's traces with its closed form: float64
rounding of the differences the readings use (about 1e-13 here) with a wide margin."""


def listening(config: Config, neurons, *, entry: int, tag: int, synapse: int, weights: int = 0b1111) -> Config:
    """``config`` in which each global neuron of ``neurons`` hears ``tag`` through CAM entry ``entry`` with a
    synapse of type ``synapse`` and the base-weight mask ``weights``."""
    a = {k: v.copy() for k, v in config.arrays().items()}
    neurons = np.asarray(neurons)
    chip, local = neurons // g.NEURONS, neurons % g.NEURONS
    a["cam_tag"][chip, local, entry] = tag
    a["cam_type"][chip, local, entry] = synapse
    a["cam_weights"][chip, local, entry] = weights
    return Config(**a, mesh_width=config.mesh_width, mesh_height=config.mesh_height)


def with_core_biases(config: Config, settings: dict) -> Config:
    """``config`` with {(chip, core): {parameter: (coarse, fine)}} set."""
    b = config.biases.copy()
    for (chip, core), values in settings.items():
        for name, setting in values.items():
            b[chip, core, PARAMETERS.index(name)] = setting
    a = {k: v for k, v in config.arrays().items() if k != "biases"}
    return Config(biases=b, **a, mesh_width=config.mesh_width, mesh_height=config.mesh_height)


def core_neuron(config: Config, chip: int, core: int, changes: dict | None = None) -> models.Neuron:
    """The nominal :class:`hil.dynapse2.models.Neuron` of a core of ``config`` (with ``changes`` of settings)."""
    settings = {p: tuple(int(v) for v in config.biases[chip, core, i]) for i, p in enumerate(PARAMETERS)}
    return models.Neuron.of({**settings, **(changes or {})})


def decay_ratio(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """exp(-dt / tau) of each trace column of ``x`` (steps, k) from its steps start .. start + length, by
    least squares on consecutive differences, which a DPI synapse's decay makes exactly geometric
    whatever its resting level: d[k+1] = r d[k]."""
    d = np.diff(x[start:start + length + 1], axis=0)
    return (d[1:] * d[:-1]).sum(axis=0) / (d[:-1] ** 2).sum(axis=0)


def jump(x: np.ndarray, step: int, r: np.ndarray) -> np.ndarray:
    """What an event at ``step`` added to each trace column of ``x`` beyond the step's charge without one:
    ``(x[k] - r x[k-1]) - (x[k-1] - r x[k-2])`` (the charge without events is the same every step)."""
    return (x[step] - r * x[step - 1]) - (x[step - 1] - r * x[step - 2])


def bonferroni_z(n: int, alpha: float = FALSE_ALARM) -> float:
    """The two-sided normal deviate that ``n`` independent draws all stay within with probability 1 - alpha."""
    return float(stats.norm.isf(alpha / (2 * max(n, 1))))


def band(ideal: bool, exponents: dict, n_gains: int) -> tuple[float, float, str]:
    """(lo, hi, source) of a measured / nominal ratio: within float rounding on the ideal chip; on a
    mismatched one, the product of the gains ``exponents`` names with every deviate of the ``n_gains``
    drawn within the Bonferroni z at the false alarm rate (:func:`hil.dynapse2.models.gain_box`)."""
    if ideal:
        return 1 - FLOAT_REL, 1 + FLOAT_REL, f"model: exact on the ideal chip (relative {FLOAT_REL:g})"
    z = bonferroni_z(n_gains)
    lo, hi = models.gain_box(exponents, z)
    return lo, hi, (f"model x the stated mismatch: gains max(1 + {models.MISMATCH_SIGMA:g} N, 0.5) of "
                    f"{', '.join(exponents)} within z = {z:.2f} (Bonferroni over {n_gains} gains at {FALSE_ALARM:g})")


def outside(ratio: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Where a ratio is not finite or leaves [lo, hi]."""
    ratio = np.asarray(ratio, float)
    return ~np.isfinite(ratio) | (ratio < lo) | (ratio > hi)


def log_spread_limit(sigma: float, n: int, alpha: float = FALSE_ALARM) -> float:
    """The largest |s - sigma| of the sample standard deviation s of n normal values of spread sigma, at
    the two-sided chi-square bounds with false alarm ``alpha``."""
    lo = sigma * math.sqrt(stats.chi2.ppf(alpha / 2, n - 1) / (n - 1))
    hi = sigma * math.sqrt(stats.chi2.ppf(1 - alpha / 2, n - 1) / (n - 1))
    return max(sigma - lo, hi - sigma)
