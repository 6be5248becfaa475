"""The fidelity report's figures: the devices and the model on shared axes, and the residuals.

Built from the data each report figure exports (:attr:`hil.results.plots.Plot.data`): a
series' first column is its x, its 'mean' (or 'median') its y with 'standard_error' (or
'median_standard_error'). The model's line is the mean of the same series over the runs on the
model device, its band 1.96 of their standard deviations: a chip as noisy as the model falls
inside it 95 % of the time.
"""
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from ..results.plots import DPI, MODEL_STYLE, Plot, figure_png, plots_for

Y_COLUMNS = (("mean", "standard_error"), ("median", "median_standard_error"))


@dataclass(frozen=True)
class Curve:
    """One device's (or the model's) points of one series."""

    x: np.ndarray
    y: np.ndarray
    err: np.ndarray | None
    x_label: str = ""


def curves(plot: Plot) -> dict[str, Curve]:
    """series name -> Curve, for the series of ``plot`` that have a y column."""
    out = {}
    for s in plot.data.get("series", []):
        cols = [k for k in s if k != "name"]
        for y_col, err_col in Y_COLUMNS:
            if y_col in s and cols:
                f = lambda k: np.array([np.nan if v is None else v for v in s[k]], np.float64)  # noqa: E731
                unit = plot.data.get("units", {}).get(cols[0], "")
                label = cols[0].replace("_", " ") + (f" ({unit})" if unit and unit != cols[0] else "")
                out[s["name"]] = Curve(f(cols[0]), f(y_col), f(err_col) if err_col in s else None, label)
                break
    return out


def _plots_by_key(result) -> dict[str, Plot]:
    return {p.key: p for p in plots_for(result)}


def _pairs(comparison) -> list[tuple[str, str, str]]:
    """(label, device a, device b) of the differences a residual figure draws besides the model's:
    chip A - chip B (non-ideal devices of different serials) and board - emulator of one serial."""
    entries = [e for e in comparison.entries if not e.result.context.ideal]
    pairs = []
    for i, a in enumerate(entries):
        for b in entries[i + 1:]:
            ca, cb = a.result.context, b.result.context
            if ca.serial != cb.serial and ca.backend == cb.backend:
                pairs.append((f"{a.device} − {b.device}", a.device, b.device))
            if ca.serial == cb.serial and {ca.backend, cb.backend} == {"board", "emulator"}:
                board, emu = (a, b) if ca.backend == "board" else (b, a)
                pairs.append((f"{board.device} − {emu.device}", board.device, emu.device))
    return pairs


def figures(comparison) -> list[Plot]:
    """Per figure of the experiment's report: an overlay of every device and the model, and a
    residual figure (device − model, chip A − chip B, board − emulator of one serial)."""
    per_device = {e.device: _plots_by_key(e.result) for e in comparison.entries}
    model_plots = [_plots_by_key(r) for r in comparison.model_runs]
    ideal_plots = _plots_by_key(comparison.ideal_model_run) if comparison.ideal_model_run is not None else {}
    ideal = {e.device for e in comparison.entries if e.result.context.ideal}
    keys = [k for k in per_device[comparison.entries[0].device] if all(k in p for p in per_device.values())]
    out = []
    for key in keys:
        dev_curves = {d: curves(p[key]) for d, p in per_device.items()}
        if not any(dev_curves.values()):
            continue                       # nothing with a y to draw (a histogram, a scatter)
        model = _model_curves([curves(p[key]) for p in model_plots if key in p])
        ideal_model = curves(ideal_plots[key]) if key in ideal_plots else {}
        title = per_device[comparison.entries[0].device][key].title
        out.append(_overlay(comparison, key, title, dev_curves, model))
        out.append(_residuals(comparison, key, title, dev_curves, model, ideal_model, ideal))
    return out


def _model_curves(runs: list[dict[str, Curve]]) -> dict[str, tuple[Curve, np.ndarray]]:
    """series -> (mean curve over the model runs, 1.96 standard deviations between them)."""
    out = {}
    for name in runs[0] if runs else {}:
        ys = np.stack([r[name].y for r in runs if name in r])
        band = 1.96 * ys.std(axis=0, ddof=1) if ys.shape[0] > 1 else np.zeros(ys.shape[1])
        out[name] = (Curve(runs[0][name].x, ys.mean(axis=0), None), band)
    return out


def _x_label(dev_curves: dict) -> str:
    return next((c.x_label for cs in dev_curves.values() for c in cs.values()), "")


def _finish(ax, ylabel: str, dev_curves: dict) -> None:
    ax.set_ylabel(ylabel)
    ax.set_xlabel(_x_label(dev_curves))
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:        # no empty legend when nothing is labelled
        ax.legend(loc="best", fontsize="x-small")


def _figure(title: str, comparison) -> Figure:
    fig = Figure(figsize=(8, 4.6), layout="constrained")
    fig.suptitle(f"{title}\n{comparison.experiment}: " + ", ".join(e.device for e in comparison.entries),
                 fontsize="medium")
    return fig


def _series_data(curve: Curve, **extra) -> dict:
    def vals(a):
        return [None if not np.isfinite(v) else float(v) for v in np.asarray(a, np.float64)]

    d = {"x": vals(curve.x), "y": vals(curve.y)}
    if curve.err is not None:
        d["standard_error"] = vals(curve.err)
    return {**d, **{k: vals(v) for k, v in extra.items()}}


def _overlay(comparison, key, title, dev_curves, model) -> Plot:
    fig = _figure(f"{title}: devices and model", comparison)
    ax = fig.subplots()
    data = []
    for i, (device, cs) in enumerate(dev_curves.items()):
        for j, (name, c) in enumerate(cs.items()):
            ax.errorbar(c.x, c.y, yerr=None if c.err is None else 1.96 * c.err, fmt=".", ms=3, color=f"C{i}",
                        elinewidth=0.5, alpha=0.8, label=device if j == 0 else None)
            data.append({"name": f"{device} {name}", "device": device, **_series_data(c)})
    for j, (name, (c, band)) in enumerate(model.items()):
        o = np.argsort(c.x, kind="stable")
        ax.fill_between(c.x[o], (c.y - band)[o], (c.y + band)[o], color="C3", alpha=0.2, lw=0,
                        label="model: 95 % band of its runs" if j == 0 else None)
        ax.plot(c.x[o], c.y[o], **{**MODEL_STYLE, "label": "model (mean of its runs)" if j == 0 else None})
        data.append({"name": f"model {name}", "device": "model", **_series_data(c, band=band)})
    _finish(ax, "output (LSB)", dev_curves)
    caption = ("Each device's points (95 % intervals) and the model on shared axes; the band holds a chip "
               f"as noisy as the model 95 % of the time ({len(comparison.model_runs)} runs on the model device).")
    return Plot(f"{key}-overlay", f"{title}: devices and model", caption, figure_png(fig),
                {"title": title, "experiment": comparison.experiment, "series": data,
                 "units": {"y": "LSB", "band": "LSB (95 % half-width)"}})


def _residuals(comparison, key, title, dev_curves, model, ideal_model, ideal) -> Plot:
    fig = _figure(f"{title}: residuals", comparison)
    ax = fig.subplots()
    data = []
    for i, (device, cs) in enumerate(dev_curves.items()):
        ref = ({n: (c, None) for n, c in ideal_model.items()} if device in ideal else model)
        for j, (name, c) in enumerate(cs.items()):
            if name not in ref or ref[name][0].y.shape != c.y.shape:
                continue
            r = c.y - ref[name][0].y
            ax.plot(c.x, r, ".", ms=3, color=f"C{i}",
                    label=f"{device} − {'ideal model' if device in ideal else 'model'}" if j == 0 else None)
            data.append({"name": f"{device} - model {name}", **_series_data(Curve(c.x, r, None))})
    for k, (label, a, b) in enumerate(_pairs(comparison)):
        for j, name in enumerate(dev_curves[a]):
            ca, cb = dev_curves[a][name], dev_curves[b].get(name)
            if cb is None or ca.y.shape != cb.y.shape:
                continue
            r = ca.y - cb.y
            ax.plot(ca.x, r, "x", ms=3, color=f"C{len(dev_curves) + k}", label=label if j == 0 else None)
            data.append({"name": f"{label} {name}", **_series_data(Curve(ca.x, r, None))})
    for j, (name, (c, band)) in enumerate(model.items()):
        o = np.argsort(c.x, kind="stable")
        ax.fill_between(c.x[o], -band[o], band[o], color="C3", alpha=0.15, lw=0,
                        label="model: 95 % band of its runs" if j == 0 else None)
    ax.axhline(0, color="k", lw=0.8)
    _finish(ax, "difference (LSB)", dev_curves)
    caption = ("Device − model (an ideal device against the ideal model), chip − chip of different serials, "
               "and board − emulator of one serial, on the axes of the figure above; the band is the model's "
               "95 % band around zero. A board and the emulator of its serial at the same run counter differ "
               "by exactly zero.")
    return Plot(f"{key}-residuals", f"{title}: residuals", caption, figure_png(fig),
                {"title": title, "experiment": comparison.experiment, "series": data, "units": {"y": "LSB"}})


__all__ = ["Curve", "DPI", "curves", "figures"]
