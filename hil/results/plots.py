"""The plots of a report, chosen by the arrays a result holds, not by its name.

Each plot function takes an :class:`~hil.result.ExperimentResult` and returns a
:class:`Plot` (a PNG ready to embed) or None when the result lacks its arrays,
so a new experiment that stores the same arrays gets the same plots, and one
that stores others just gets its metrics table.

Figures are built with the object-oriented matplotlib API on the Agg canvas:
no pyplot, no global backend switch, no windows, safe in worker processes.
"""
import base64
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..contract.result import ExperimentResult

DPI = 100
MODEL_STYLE = dict(color="C3", lw=1.5, label="model")
OUTPUT_RANGE = (-128, 127)
"""int8 output limits, LSB; drawn where an output can reach them."""


@dataclass(frozen=True)
class Plot:
    """One embedded figure."""

    key: str
    """Short id, e.g. 'weight_sweep'."""
    title: str
    caption: str
    """What is shown, in one or two sentences, with units."""
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the HTML needs no other file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _per_neuron_mean(a: np.ndarray) -> np.ndarray:
    """(repeats, neurons) -> (neurons,) mean over repeats; (neurons,) as it is."""
    a = np.asarray(a, np.float64)
    return a.mean(axis=0) if a.ndim == 2 else a.ravel()


def neuron_output(result: ExperimentResult) -> Plot | None:
    """Mean output of each neuron at one fixed input and weight, per hemisphere."""
    if "neuron_output" not in result.raw:
        return None
    y = _per_neuron_mean(result.raw["neuron_output"])
    n = y.size
    model = result.prediction.get("neuron_output")
    if model is not None:
        model = np.asarray(model, np.float64).ravel()
        model = np.broadcast_to(model, (n,)) if model.size in (1, n) else None
    halves = [slice(0, n // 2), slice(n // 2, n)] if n % 2 == 0 and n >= 2 else [slice(0, n)]
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    axes = fig.subplots(1, len(halves), sharey=True, squeeze=False)[0]
    idx = np.arange(n)
    for h, (ax, s) in enumerate(zip(axes, halves)):
        ax.plot(idx[s], y[s], ".", ms=3, color="C0", label="measured (mean over repeats)")
        if model is not None:
            ax.plot(idx[s], model[s], **MODEL_STYLE)
        ax.set_xlim(s.start - 0.5, s.stop - 0.5)
        ax.set_xlabel("neuron #")
        if len(halves) == 2:
            ax.set_title(f"hemisphere {h}", fontsize="medium")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("output (LSB)")
    if len(halves) == 2:
        # The first hemisphere is drawn mirrored, so that the first column of each
        # (neurons 0 and n/2) meet in the middle; the caption says so.
        axes[0].invert_xaxis()
    axes[-1].legend(loc="best", fontsize="small")
    shape = np.shape(result.raw["neuron_output"])
    repeats = shape[0] if len(shape) == 2 else 1
    mirrored = (f" Hemisphere 0 is drawn mirrored: its axis runs from neuron {n // 2 - 1} down to 0, "
                f"so that neurons 0 and {n // 2} meet in the middle."
                if len(halves) == 2 else "")
    return Plot("neuron_output", "Output per neuron at a fixed input and weight",
                f"Mean over {repeats} repeats of each neuron's output (LSB) against its index; "
                "the line is the analytical model's value. Spread between neurons is fixed-pattern "
                "deviation; a trend along the index is spatial correlation." + mirrored, _png(fig))


def _sweep(result: ExperimentResult, key: str, axis_key: str, xlabel: str, title: str) -> Plot | None:
    if key not in result.raw or axis_key not in result.raw:
        return None
    x = np.asarray(result.raw[axis_key], np.float64).ravel()
    y = np.asarray(result.raw[key], np.float64)
    if y.ndim == 3:             # (points, repeats, neurons): average the repeats per neuron
        y = y.mean(axis=1)
    if y.ndim != 2 or y.shape[0] != x.size:
        return None
    lo, med, hi = np.percentile(y, [5, 50, 95], axis=1)
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    ax.fill_between(x, lo, hi, color="C0", alpha=0.25, lw=0, label="5–95 % of neurons")
    ax.plot(x, med, ".-", color="C0", ms=3, lw=1, label="median over neurons")
    model = result.prediction.get(key)
    if model is not None and np.size(model) == x.size:
        ax.plot(x, np.asarray(model, np.float64).ravel(), **MODEL_STYLE)
    for limit in OUTPUT_RANGE:
        ax.axhline(limit, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("output (LSB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return Plot(key, title,
                f"Output (LSB, mean over repeats per neuron) against {xlabel}: median and 5–95 % band "
                f"over {y.shape[1]} neurons; the line is the analytical model; dotted lines are the "
                "int8 output limits.", _png(fig))


def weight_sweep(result: ExperimentResult) -> Plot | None:
    """Output against the weight at a fixed input."""
    return _sweep(result, "weight_sweep", "weights", "weight", "Output against weight")


def input_sweep(result: ExperimentResult) -> Plot | None:
    """Output against the input at a fixed weight."""
    return _sweep(result, "input_sweep", "inputs", "input (activation)", "Output against input")


def noise(result: ExperimentResult) -> Plot | None:
    """Histogram of the per-neuron temporal noise."""
    if "sigma" in result.raw:
        sigma = np.asarray(result.raw["sigma"], np.float64).ravel()
    elif "samples" in result.raw and np.ndim(result.raw["samples"]) == 2:
        sigma = np.asarray(result.raw["samples"], np.float64).std(axis=0, ddof=1)
    else:
        return None
    sigma = sigma[np.isfinite(sigma)]
    if sigma.size == 0:
        return None
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    ax.hist(sigma, bins=min(60, max(10, sigma.size // 8)), color="C0", alpha=0.8)
    med = float(np.median(sigma))
    ax.axvline(med, color="k", lw=1, ls="--", label=f"median {med:.2f} LSB")
    model = result.prediction.get("sigma")
    if model is not None and np.size(model) > 0:
        # The model's noise is one number (per neuron arrays hold it repeated).
        m = float(np.median(np.asarray(model, np.float64)))
        ax.axvline(m, **{**MODEL_STYLE, "label": f"model {m:.2f} LSB"})
    ax.set_xlabel("temporal noise σ per neuron (LSB)")
    ax.set_ylabel("neurons")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return Plot("noise", "Temporal noise per neuron",
                f"Standard deviation of each of {sigma.size} neurons' outputs over repeated runs "
                "of the same input (LSB).", _png(fig))


def gain(result: ExperimentResult) -> Plot | None:
    """Measured output against the model's noiseless expectation."""
    if "expected" not in result.raw or "measured" not in result.raw:
        return None
    e = np.asarray(result.raw["expected"], np.float64).ravel()
    m = np.asarray(result.raw["measured"], np.float64).ravel()
    if e.size != m.size or e.size == 0:
        return None
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    ax.plot(e, m, ".", ms=2, alpha=0.4, color="C0", label="outputs")
    span = np.array([min(e.min(), m.min()), max(e.max(), m.max())])
    ax.plot(span, span, **{**MODEL_STYLE, "label": "model (measured = expected)"})
    denom = float(e @ e)
    if denom > 0:
        # Least squares through the origin: the relative gain of this chip
        # against the model's nominal gain.
        k = float(e @ m) / denom
        ax.plot(span, k * span, color="k", lw=1, ls="--", label=f"fit: measured = {k:.3f} × expected")
    ax.set_xlabel("expected: model x·W·gain·sends (LSB)")
    ax.set_ylabel("measured output (LSB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return Plot("gain", "Measured against expected output",
                f"{e.size} outputs against the analytical model's noiseless expectation (LSB); "
                "a slope other than 1 is a gain error.", _png(fig))


def row_output(result: ExperimentResult) -> Plot | None:
    """Neuron-averaged output of each input row (synapse driver) driven alone."""
    if "row_output" not in result.raw:
        return None
    y = np.asarray(result.raw["row_output"], np.float64).ravel()
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    ax.plot(np.arange(y.size), y, ".", ms=4, color="C0", label="measured (mean over neurons and repeats)")
    model = result.prediction.get("row_output")
    if model is not None and np.size(model) in (1, y.size):
        ax.plot(np.arange(y.size), np.broadcast_to(np.asarray(model, np.float64).ravel(), y.shape),
                **MODEL_STYLE)
    ax.set_xlabel("input row (synapse driver) #")
    ax.set_ylabel("output (LSB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return Plot("row_output", "Output per input row",
                f"Output (LSB) of each of {y.size} input rows driven alone, averaged over neurons and "
                "repeats; the spread is the drivers' and rows' fixed-pattern deviation.", _png(fig))


def distance(result: ExperimentResult) -> Plot | None:
    """Output at a small input against the distance of a neuron's synapses from the drivers."""
    if "distance" not in result.raw or "small_output" not in result.raw:
        return None
    d = np.asarray(result.raw["distance"], np.float64).ravel()
    y = np.asarray(result.raw["small_output"], np.float64).ravel()
    if d.size != y.size:
        return None
    fig = Figure(figsize=(7, 3.6), layout="constrained")
    ax = fig.subplots()
    halves = [slice(0, y.size // 2), slice(y.size // 2, y.size)] if y.size % 2 == 0 else [slice(0, y.size)]
    for h, s in enumerate(halves):
        ax.plot(d[s], y[s], ".", ms=3, color=f"C{h}", alpha=0.7,
                label=f"hemisphere {h}" if len(halves) == 2 else "measured")
    model = result.prediction.get("small_output")
    if model is not None and np.size(model) in (1, y.size):
        m = np.broadcast_to(np.asarray(model, np.float64).ravel(), y.shape)
        order = np.argsort(d)
        ax.plot(d[order], m[order], **MODEL_STYLE)
    ax.set_xlabel("relative distance from the synapse drivers (0: next to them, 1: far edge)")
    ax.set_ylabel("output (LSB)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return Plot("distance", "Output at a small input against distance to the drivers",
                "Each neuron's mean output (LSB) at a small input on every row, against the distance "
                "of its synapses from the drivers; a slope is the spatial correlation seen at small "
                "inputs.", _png(fig))


def code_density(result: ExperimentResult) -> Plot | None:
    """Hits per ADC code over a ramp: the spread over channels, and the model's ideal ramp ADC."""
    if "code_histogram" not in result.raw:
        return None
    h = np.asarray(result.raw["code_histogram"], np.float64)
    if h.ndim != 2 or h.shape[1] == 0:
        return None
    codes = np.arange(h.shape[0])
    lo, med, hi = np.percentile(h, [5, 50, 95], axis=1)
    fig = Figure(figsize=(8, 3.8), layout="constrained")
    ax = fig.subplots()
    ax.fill_between(codes, lo, hi, step="mid", color="C0", alpha=0.25, lw=0, label="5–95 % of channels")
    ax.step(codes, med, where="mid", color="C0", lw=1, label="median over channels")
    ax.step(codes, h.min(axis=1), where="mid", color="C1", lw=0.8, label="fewest hits of any channel")
    model = result.prediction.get("code_histogram")
    if model is not None and np.size(model) == codes.size:
        ax.step(codes, np.asarray(model, np.float64).ravel(), where="mid", **MODEL_STYLE)
    # The end codes collect the overrange and dwarf the rest: scale to the inner codes.
    inner = hi[1:-1] if codes.size > 2 else hi
    ax.set_ylim(0, 1.5 * max(float(inner.max()), 1.0))
    ax.set_xlim(-0.5, codes.size - 0.5)
    ax.set_xlabel("ADC code")
    ax.set_ylabel("hits")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", fontsize="small", ncols=2)
    return Plot("code_histogram", "Code density over the ramp",
                f"Hits per code over the ramp for each of {h.shape[1]} ADC channels (median, 5–95 % band and "
                "the fewest hits of any channel); the line is the ideal ramp ADC. A missing code drops to "
                "zero; the end codes collect the overrange (clipped).", _png(fig))


PLOTS: tuple[Callable[[ExperimentResult], Plot | None], ...] = (
    neuron_output, weight_sweep, input_sweep, noise, row_output, distance, gain, code_density)
"""Every plot a report tries, in display order."""


def plots_for(result: ExperimentResult) -> list[Plot]:
    """The plots this result's arrays allow (possibly none)."""
    return [p for p in (f(result) for f in PLOTS) if p is not None]
