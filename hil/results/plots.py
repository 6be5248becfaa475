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
from dataclasses import dataclass, field
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
    data: dict = field(default_factory=dict)
    """What is drawn, JSON-able: ``{'title', 'device', 'series': [{'name', 'x', 'y', ...}], 'units'}``,
    exported beside the figure so that it can be redrawn without the store."""

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI, so the HTML needs no other file."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def device_of(result: ExperimentResult) -> str:
    """'emulator:EMU-0042:ideal' and the like; '' for a result without context."""
    return result.context.device if result.context is not None else ""


def _figure(result: ExperimentResult, title: str, figsize: tuple[float, float]) -> Figure:
    """A figure titled with what it shows and the device (with its serial) it was measured on."""
    fig = Figure(figsize=figsize, layout="constrained")
    device = device_of(result)
    fig.suptitle(f"{title}\n{result.experiment}" + (f" on {device}" if device else ""), fontsize="medium")
    return fig


def _data(result: ExperimentResult, title: str, units: dict, **series) -> dict:
    """A plot's exported data: each series a dict of equal-length lists (NaN as None)."""
    def values(a):
        a = np.asarray(a, np.float64).ravel()
        return [None if not np.isfinite(v) else float(v) for v in a]

    return {"title": title, "experiment": result.experiment, "device": device_of(result), "units": units,
            "series": [{"name": name, **{k: values(v) for k, v in cols.items()}} for name, cols in series.items()]}


def _limits_if_reached(ax, *arrays) -> None:
    """The int8 output limits as dotted lines, only where the data come within 10 LSB of them,
    so that the axes fit the data rather than the whole output range."""
    finite = np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])
    finite = finite[np.isfinite(finite)]
    for limit in OUTPUT_RANGE:
        if finite.size and np.min(np.abs(finite - limit)) <= 10:
            ax.axhline(limit, color="0.5", lw=0.8, ls=":")


def _label_axes(ax, xlabel: str, ylabel: str, loc: str = "best", fontsize: str = "small", **legend) -> None:
    """Axis labels, the grid and the legend, alike on every figure of a report."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(loc=loc, fontsize=fontsize, **legend)


def figure_png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _per_neuron_mean(a: np.ndarray) -> np.ndarray:
    """(repeats, neurons) -> (neurons,) mean over repeats; (neurons,) as it is."""
    a = np.asarray(a, np.float64)
    return a.mean(axis=0) if a.ndim == 2 else a.ravel()


def _mean_and_error(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(repeats, n) -> the (n,) means, their standard errors (std / sqrt(repeats); NaN for one
    repeat) and the number of repeats; (n,) as it is, without error."""
    a = np.asarray(a, np.float64)
    if a.ndim != 2:
        return a.ravel(), np.full(a.size, np.nan), 1
    k = a.shape[0]
    err = a.std(axis=0, ddof=1) / np.sqrt(k) if k > 1 else np.full(a.shape[1], np.nan)
    return a.mean(axis=0), err, k


def columns_from_drivers(distance: np.ndarray | None, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns counted from the drivers in each half of a hemisphere: (left, right), each (half,).

    With a result's per-column ``distance`` the side of each half nearer the drivers is
    found from it (the rig's geometry puts them between columns 127 and 128); without it,
    as the seed's figure counts: the first column of each half next to the drivers.
    """
    i = np.arange(half)
    if distance is None:
        return i, i
    left = (half - 1) - i if distance[0] > distance[half - 1] else i
    right = i if distance[half] <= distance[2 * half - 1] else (half - 1) - i
    return left, right


def neuron_output(result: ExperimentResult) -> Plot | None:
    """Seed 000's figure 1, per hemisphere: the mean output of each of its 256 neurons, the
    left half mirrored so that the columns next to the synapse drivers meet in the middle."""
    if "neuron_output" not in result.raw:
        return None
    y, err, repeats = _mean_and_error(result.raw["neuron_output"])
    n = y.size
    model = result.prediction.get("neuron_output")
    if model is not None:
        model = np.asarray(model, np.float64).ravel()
        model = np.broadcast_to(model, (n,)) if model.size in (1, n) else None
    per_hemi = n // 2 if n % 2 == 0 and n >= 4 else n
    half = per_hemi // 2
    distance = result.raw.get("distance")
    distance = np.asarray(distance, np.float64).ravel() if distance is not None and np.size(distance) == n else None
    hemispheres = n // per_hemi
    title = "Output per neuron at a fixed input and weight"
    fig = _figure(result, title, (9, 3.0 * hemispheres + 0.6))
    axes = fig.subplots(hemispheres, 2, sharey=True, squeeze=False)
    series = {}
    for h in range(hemispheres):
        c0 = h * per_hemi
        order = columns_from_drivers(None if distance is None else distance[c0:c0 + per_hemi], half)
        for side, (ax, pos) in enumerate(zip(axes[h], order)):
            cols = c0 + side * half + np.arange(half)
            ax.errorbar(pos, y[cols], yerr=None if repeats == 1 else 1.96 * err[cols], fmt=".", ms=3,
                        color="C0", ecolor="C0", elinewidth=0.5, alpha=0.9,
                        label="measured: mean, 95 % interval" if repeats > 1 else "measured")
            if model is not None:
                o = np.argsort(pos)
                ax.plot(pos[o], model[cols][o], **MODEL_STYLE)
            ax.set_xlim(-0.5, half - 0.5)
            # Ticks name the neurons themselves, every 32 as in the seed, wherever they are drawn.
            marked = (cols % 32 == 0) | (pos == 0) | (pos == half - 1)
            ax.set_xticks(pos[marked], [str(c) for c in cols[marked]], fontsize="small")
            ax.grid(alpha=0.3)
            series[f"hemisphere {h} {'left' if side == 0 else 'right'} half"] = {
                "neuron": cols, "columns_from_drivers": pos, "mean": y[cols], "standard_error": err[cols],
                **({"model": model[cols]} if model is not None else {})}
        # The left half mirrored: its column next to the drivers at its right edge, the figure's middle.
        axes[h][0].invert_xaxis()
        axes[h][0].set_ylabel("output (LSB)" + (f"\nhemisphere {h}" if hemispheres > 1 else ""))
    for ax in axes[-1]:
        ax.set_xlabel("neuron #")
    axes[0][-1].legend(loc="best", fontsize="small")
    where = ("the drivers sit between columns 127 and 128 of a hemisphere (the result's distances)"
             if distance is not None else "as in seed 000, each half's first column next to the drivers")
    caption = (f"Mean over {repeats} repeats of each neuron's output (LSB), "
               + ("with its 95 % interval (1.96 standard errors), " if repeats > 1 else "")
               + "drawn as seed 000's figure 1: each hemisphere's 256 neurons in two halves, the left one "
               f"mirrored, so that the columns next to the synapse drivers meet in the middle ({where}). "
               "The line is the analytical model's mean. Spread between neurons is fixed-pattern "
               "deviation; a trend away from the middle is the distance to the drivers.")
    return Plot("neuron_output", title, caption, figure_png(fig),
                _data(result, title, {"mean": "LSB", "standard_error": "LSB", "model": "LSB"}, **series))


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
    # The median's standard error over neurons (1.2533 sigma / sqrt(n) for a normal spread).
    med_err = 1.2533 * y.std(axis=1, ddof=1) / np.sqrt(y.shape[1]) if y.shape[1] > 1 else np.zeros_like(med)
    fig = _figure(result, title, (7, 4.3))
    ax = fig.subplots()
    ax.fill_between(x, lo, hi, color="C0", alpha=0.25, lw=0, label="5–95 % of neurons")
    ax.errorbar(x, med, yerr=1.96 * med_err, fmt=".-", color="C0", ms=3, lw=1, elinewidth=0.8,
                label="median over neurons, 95 % interval")
    model = result.prediction.get(key)
    model = np.asarray(model, np.float64).ravel() if model is not None and np.size(model) == x.size else None
    if model is not None:
        ax.plot(x, model, **MODEL_STYLE)
    _limits_if_reached(ax, lo, hi)
    ax.set_xlim(x.min() - 0.5, x.max() + 0.5)
    _label_axes(ax, xlabel, "output (LSB)")
    columns = {"x": x, "median": med, "median_standard_error": med_err, "p5": lo, "p95": hi}
    if model is not None:
        columns["model"] = model
    return Plot(key, title,
                f"Output (LSB, mean over repeats per neuron) against {xlabel}: median over {y.shape[1]} "
                "neurons with its 95 % interval, and the 5–95 % band; the line is the analytical model's "
                "mean; dotted lines, where the data reach them, are the int8 output limits.", figure_png(fig),
                _data(result, title, {"x": xlabel, "median": "LSB", "p5": "LSB", "p95": "LSB", "model": "LSB"},
                      **{key: columns}))


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
    fig = _figure(result, "Temporal noise per neuron", (7, 4.0))
    ax = fig.subplots()
    counts, edges, _ = ax.hist(sigma, bins=min(60, max(10, sigma.size // 8)), color="C0", alpha=0.8)
    med = float(np.median(sigma))
    ax.axvline(med, color="k", lw=1, ls="--", label=f"median {med:.2f} LSB")
    model = result.prediction.get("sigma")
    if model is not None and np.size(model) > 0:
        # The model's noise is one number (per neuron arrays hold it repeated).
        m = float(np.median(np.asarray(model, np.float64)))
        ax.axvline(m, **{**MODEL_STYLE, "label": f"model {m:.2f} LSB"})
    _label_axes(ax, "temporal noise σ per neuron (LSB)", "neurons")
    return Plot("noise", "Temporal noise per neuron",
                f"Standard deviation of each of {sigma.size} neurons' outputs over repeated runs "
                "of the same input (LSB).", figure_png(fig),
                _data(result, "Temporal noise per neuron", {"sigma": "LSB", "bin_low": "LSB", "count": "neurons"},
                      sigma={"sigma": sigma}, histogram={"bin_low": edges[:-1], "count": counts}))


def gain(result: ExperimentResult) -> Plot | None:
    """Measured output against the model's noiseless expectation."""
    if "expected" not in result.raw or "measured" not in result.raw:
        return None
    e = np.asarray(result.raw["expected"], np.float64).ravel()
    m = np.asarray(result.raw["measured"], np.float64).ravel()
    if e.size != m.size or e.size == 0:
        return None
    fig = _figure(result, "Measured against expected output", (5.5, 5.3))
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
    _label_axes(ax, "expected: model x·W·gain·sends (LSB)", "measured output (LSB)")
    return Plot("gain", "Measured against expected output",
                f"{e.size} outputs against the analytical model's noiseless expectation (LSB); "
                "a slope other than 1 is a gain error.", figure_png(fig),
                _data(result, "Measured against expected output", {"expected": "LSB", "measured": "LSB"},
                      outputs={"expected": e, "measured": m}))


def row_output(result: ExperimentResult) -> Plot | None:
    """Neuron-averaged output of each input row (synapse driver) driven alone."""
    if "row_output" not in result.raw:
        return None
    raw = np.asarray(result.raw["row_output"], np.float64)
    # (rows, repeats, neurons) as read; results stored before issue 14 hold the (rows,) means.
    if raw.ndim == 3:
        y = raw.mean(axis=(1, 2))
        err = raw.reshape(raw.shape[0], -1).std(axis=1, ddof=1) / np.sqrt(raw[0].size)
    else:
        y, err = raw.ravel(), None
    fig = _figure(result, "Output per input row", (7, 3.8))
    ax = fig.subplots()
    ax.errorbar(np.arange(y.size), y, yerr=None if err is None else 1.96 * err, fmt=".", ms=4, color="C0",
                elinewidth=0.6, label="measured: mean over neurons and repeats" + (", 95 % interval" if err is not None else ""))
    model = result.prediction.get("row_output")
    if model is not None and np.size(model) in (1, y.size):
        ax.plot(np.arange(y.size), np.broadcast_to(np.asarray(model, np.float64).ravel(), y.shape),
                **MODEL_STYLE)
    _label_axes(ax, "input row (synapse driver) #", "output (LSB)")
    return Plot("row_output", "Output per input row",
                f"Output (LSB) of each of {y.size} input rows driven alone, averaged over neurons and "
                "repeats; the spread is the drivers' and rows' fixed-pattern deviation.", figure_png(fig),
                _data(result, "Output per input row", {"row": "", "mean": "LSB", "standard_error": "LSB"},
                      rows={"row": np.arange(y.size), "mean": y,
                            "standard_error": np.full(y.size, np.nan) if err is None else err}))


def distance(result: ExperimentResult) -> Plot | None:
    """Output at a small input against the distance of a neuron's synapses from the drivers."""
    if "distance" not in result.raw or "small_output" not in result.raw:
        return None
    d = np.asarray(result.raw["distance"], np.float64).ravel()
    y = _per_neuron_mean(result.raw["small_output"])
    if d.size != y.size:
        return None
    fig = _figure(result, "Output at a small input against distance to the drivers", (7, 4.0))
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
    _label_axes(ax, "relative distance from the synapse drivers (0: next to them, 1: far edge)", "output (LSB)")
    return Plot("distance", "Output at a small input against distance to the drivers",
                "Each neuron's mean output (LSB) at a small input on every row, against the distance "
                "of its synapses from the drivers; a slope is the spatial correlation seen at small "
                "inputs.", figure_png(fig),
                _data(result, "Output at a small input against distance to the drivers",
                      {"distance": "relative, 0 next to the drivers .. 1 at the far edge", "mean": "LSB"},
                      neurons={"distance": d, "mean": y}))


def code_density(result: ExperimentResult) -> Plot | None:
    """Hits per ADC code over a ramp: the spread over channels, and the model's ideal ramp ADC."""
    if "code_histogram" not in result.raw:
        return None
    h = np.asarray(result.raw["code_histogram"], np.float64)
    if h.ndim != 2 or h.shape[1] == 0:
        return None
    codes = np.arange(h.shape[0])
    lo, med, hi = np.percentile(h, [5, 50, 95], axis=1)
    fig = _figure(result, "Code density over the ramp", (8, 4.2))
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
    _label_axes(ax, "ADC code", "hits", loc="upper center", fontsize="small", ncols=2)
    return Plot("code_histogram", "Code density over the ramp",
                f"Hits per code over the ramp for each of {h.shape[1]} ADC channels (median, 5–95 % band and "
                "the fewest hits of any channel); the line is the ideal ramp ADC. A missing code drops to "
                "zero; the end codes collect the overrange (clipped).", figure_png(fig),
                _data(result, "Code density over the ramp", {"code": "", "hits": "hits per code"},
                      channels={"code": codes, "median": med, "p5": lo, "p95": hi, "fewest": h.min(axis=1)}))


def sends_and_wait(result: ExperimentResult) -> Plot | None:
    """Mean output against the wait between events, one curve per number of sends, with the
    model's mean (and the fitted model's) on the same axes: the residual leak."""
    if not {"sends", "waits", "sends_wait_output"} <= set(result.raw):
        return None
    sends = np.asarray(result.raw["sends"]).ravel()
    waits = np.asarray(result.raw["waits"], np.float64).ravel()
    out = np.asarray(result.raw["sends_wait_output"], np.float64)
    if out.ndim != 4 or out.shape[:2] != (sends.size, waits.size):
        return None
    per_neuron = out.mean(axis=2)
    mean = per_neuron.mean(axis=2)
    err = per_neuron.std(axis=2, ddof=1) / np.sqrt(per_neuron.shape[2]) if per_neuron.shape[2] > 1 else 0 * mean
    model, fit = result.prediction.get("sends_wait_mean"), result.prediction.get("sends_wait_fit")
    title = "Output against the wait between events"
    fig = _figure(result, title, (7.5, 4.6))
    ax = fig.subplots()
    series = {}
    for i, s in enumerate(sends):
        ax.errorbar(waits, mean[i], yerr=1.96 * err[i], fmt="o", ms=4, color=f"C{i}", elinewidth=0.8,
                    label=f"{int(s)} sends: mean over neurons, 95 % interval")
        cols = {"wait": waits, "mean": mean[i], "standard_error": err[i]}
        if model is not None and np.shape(model) == mean.shape:
            ax.plot(waits, np.asarray(model)[i], "-", color=f"C{i}", lw=1.2)
            cols["model"] = np.asarray(model)[i]
        if fit is not None and np.shape(fit) == mean.shape:
            ax.plot(waits, np.asarray(fit)[i], "--", color=f"C{i}", lw=0.9)
            cols["fitted_model"] = np.asarray(fit)[i]
        series[f"{int(s)} sends"] = cols
    ax.plot([], [], "-", color="0.3", label="model (mean of a noisy chip)")
    ax.plot([], [], "--", color="0.3", label="model with the fitted gain and leak")
    ax.set_xscale("symlog", linthresh=5)
    ax.set_xlim(-0.5, waits.max() * 1.3)
    _label_axes(ax, "wait between events (FPGA cycles of 8 ns)", "output (LSB)", loc="best", fontsize="x-small")
    return Plot("sends_and_wait", title,
                "Mean output (LSB) over repeats and neurons, with its 95 % interval, against the wait between "
                "events (symmetric log axis), one colour per number of sends; solid lines are the analytical "
                "model's mean with its leak, dashed ones the model with the gain and leak fitted to these "
                "points. Longer sends leak more of the earlier sends' charge.", figure_png(fig),
                _data(result, title, {"wait": "FPGA cycles (8 ns)", "mean": "LSB", "standard_error": "LSB",
                                      "model": "LSB", "fitted_model": "LSB"}, **series))


PLOTS: tuple[Callable[[ExperimentResult], Plot | None], ...] = (
    neuron_output, weight_sweep, input_sweep, noise, row_output, distance, gain, sends_and_wait, code_density)
"""Every plot a report tries, in display order."""


def plots_for(result: ExperimentResult) -> list[Plot]:
    """The plots this result's arrays allow (possibly none)."""
    return [p for p in (f(result) for f in PLOTS) if p is not None]
