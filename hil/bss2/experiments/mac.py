"""MAC-mode experiments. Each takes a Backend and returns an ExperimentResult
with the raw data, the analytical model's prediction, metrics and a verdict.

Limits come from two places, and each metric says which:

* ``model``: a statistical bound derived from the analytical model's noise
  (:mod:`hil.statistics`), so a healthy chip fails with probability <= 1e-3;
* ``spec``: a number of :class:`hil.bss2.models.MacSpec` (what a healthy chip
  must meet; each number's source is in docs/chip_model.md#numbers-and-their-sources).
"""
import dataclasses

import numpy as np
from scipy import stats
from tqdm import tqdm

from emulator.bss2 import geometry as g
from emulator.bss2.fixed_pattern import row_distance

from ...contract import statistics
from ...contract.errors import InvalidValue
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from ..models import DEFAULT_SPEC, MacModel, MacSpec
from ..types import MacConfig, MacStimulus, mac_shape, neuron_index

SPEC_SOURCE = "spec: hil.bss2.MacSpec"
NORMALITY_MIN_SAMPLES = 40
"""Fewest repeats ``mac_noise`` takes: below, the chi-square normality test per neuron has too
few cells to keep its false-alarm rate (measured on a healthy chip: 30 samples flag 61 of 512
neurons, 20 flag all; 40 and more flag at most 2 of 512 on 12 chips, within the bound of 4)."""
IDEAL_SOURCE = "model: an ideal chip has no noise and equals the model's noise-free prediction exactly"


def _noise_rel_error(measured: float, model_sigma: float, spec: MacSpec, ideal: bool, detail: str,
                     interval: float | None = None) -> Metric:
    """``measured / model - 1`` against the nominal model's noise, judged with the spec's
    tolerance. An ideal chip has no noise by design: there it is reported, not judged (the
    experiment judges ``prediction_mismatches`` instead), while an acceptance spec, which judges
    a board and not the model, still finds a board without noise wanting."""
    return Metric("noise_rel_error", measured / model_sigma - 1.0, None if ideal else spec.noise_tolerance,
                  "abs<=", "" if ideal else SPEC_SOURCE,
                  detail=detail + (" (ideal chip: no noise by design, not judged)" if ideal else ""),
                  interval=interval)


def chip_model(spec: MacSpec, ideal: bool) -> MacModel:
    """The model a chip's outputs are predicted with: the spec's model, or on an ideal chip
    (no noise, no leak by design) that model's :meth:`~hil.bss2.MacModel.ideal` form, which
    the ideal chip equals bit for bit."""
    return spec.model.ideal() if ideal else spec.model


def _prediction_mismatches(measured: np.ndarray, predicted: np.ndarray, ideal: bool) -> Metric:
    """Outputs that differ from the model's noise-free prediction: judged (none allowed) on an
    ideal chip, reported on a real one, whose noise makes most of them differ."""
    count = int(np.count_nonzero(measured != predicted))
    return Metric("prediction_mismatches", count, 0 if ideal else None, "<=", IDEAL_SOURCE if ideal else "",
                  "outputs", detail=f"of {measured.size} outputs, those unequal to the noise-free prediction")


def _run(backend, weights: np.ndarray, inputs: np.ndarray, num_sends: int, wait: int = 5) -> np.ndarray:
    backend.configure(MacConfig(weights=weights))
    readout = backend.run(MacStimulus(inputs=inputs, num_sends=num_sends, wait_between_events=wait))
    return readout.outputs.astype(np.int64)


def _mean_interval(values: np.ndarray) -> float:
    """95 % half-width of the mean of ``values`` (a normal approximation: 1.96 standard errors)."""
    return float(1.96 * values.std(ddof=1) / np.sqrt(values.size)) if values.size > 1 else float("nan")


def _median_interval(values: np.ndarray) -> float:
    """95 % half-width of the median: sqrt(pi / 2) standard errors of the mean, for a normal spread."""
    return float(np.sqrt(np.pi / 2)) * _mean_interval(values)


def index_list(indices: np.ndarray, most: int = 10) -> str:
    """Indices as short text: the first ``most``, then how many more."""
    shown = ", ".join(str(int(i)) for i in indices[:most])
    return shown + (f" and {indices.size - most} more" if indices.size > most else "")


@dataclasses.dataclass(frozen=True)
class _Device:
    """The size of one MAC run on the device under test (``info().geometry``): 128 inputs x
    512 outputs on the chip, fewer on a reduced RTL core; the experiments scale to it."""

    inputs: int
    outputs: int
    neurons: np.ndarray
    """(outputs,) the chip's neuron behind each output (its position: distance to the drivers)."""

    @classmethod
    def of(cls, backend) -> "_Device":
        geometry = backend.info().geometry
        return cls(*mac_shape(geometry), neuron_index(geometry))

    def rows(self, rows: int | None, default: int) -> int:
        """``rows`` (None: ``default``, or every input of a device with fewer), within the device's inputs."""
        if rows is None:
            return min(default, self.inputs)
        if rows > self.inputs:
            raise InvalidValue("rows", f"{rows} is outside 1..{self.inputs}, the inputs of this device")
        return rows

    def row(self, row: int) -> int:
        if row >= self.inputs:
            raise InvalidValue("row", f"{row} is outside 0..{self.inputs - 1}, the inputs of this device")
        return row

    def weights(self, rows: slice | int, value: int) -> np.ndarray:
        """The same weight on the given rows of every column, zero elsewhere."""
        w = np.zeros((self.inputs, self.outputs), np.int8)
        w[rows] = value
        return w

    def vectors(self, rows: slice | int, value: int, batch: int) -> np.ndarray:
        """``batch`` input vectors with ``value`` on the given rows, zero elsewhere."""
        x = np.zeros((batch, self.inputs), np.uint8)
        x[:, rows] = value
        return x

    def distance(self) -> np.ndarray:
        """(outputs,) each output's distance from the drivers, 0 (next to them) .. 1 (the edge)."""
        return np.tile(row_distance(), g.HEMISPHERES)[self.neurons]


def _point_variance(spec: MacSpec, repeats: int) -> float:
    """Variance of a mean of ``repeats`` outputs of a neuron as noisy as the spec allows.

    The floor's quantization (1/12) is not averaged away on a noiseless device,
    so it is not divided by ``repeats``.
    """
    return spec.noise_max**2 / repeats + 1.0 / 12.0


def _piecewise_fit(z: np.ndarray, y: np.ndarray, mask: np.ndarray):
    """Per-neuron fit y = b + a_pos * max(z, 0) + a_neg * min(z, 0) on the masked points.

    Positive and negative weights sit on different synapses (excitatory and
    inhibitory rows), so each sign has its own slope. z: (k,), y: (k, n).
    Returns a_pos, a_neg, b, residuals (k_masked, n).
    """
    zm, ym = z[mask], y[mask]
    A = np.stack([np.ones_like(zm), np.maximum(zm, 0), np.minimum(zm, 0)], axis=1)
    coef, *_ = np.linalg.lstsq(A, ym, rcond=None)
    return coef[1], coef[2], coef[0], ym - A @ coef


def _linear_fit(z: np.ndarray, y: np.ndarray, mask: np.ndarray):
    """Per-neuron fit y = b + a z on the masked points; returns a, b, residuals."""
    zm, ym = z[mask], y[mask]
    A = np.stack([np.ones_like(zm), zm], axis=1)
    coef, *_ = np.linalg.lstsq(A, ym, rcond=None)
    return coef[1], coef[0], ym - A @ coef


def _r_squared(y: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    total = ((y - y.mean(axis=0)) ** 2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 1.0 - (residuals**2).sum(axis=0) / total, np.nan)


def _linear_range(fit_value: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
    """Per neuron, the output (LSB) up to which y stays within ``threshold`` of its fit.

    Walks outward from zero on each side and stops at the first point that
    deviates; the range is the smaller of the two sides' last good |fit value|.
    fit_value, y: (k, n) sorted by the swept quantity.
    """
    ok = np.abs(y - fit_value) <= threshold
    ranges = np.empty(y.shape[1])
    centre = np.argmin(np.abs(fit_value), axis=0)
    for n in range(y.shape[1]):
        c = centre[n]
        hi = c
        while hi + 1 < y.shape[0] and ok[hi + 1, n]:
            hi += 1
        lo = c
        while lo - 1 >= 0 and ok[lo - 1, n]:
            lo -= 1
        ranges[n] = min(abs(fit_value[hi, n]), abs(fit_value[lo, n]))
    return ranges


@experiment("bss2.mac_linearity", metrics=(
    "gain_median_rel_error", "weight_residual_rms_max", "input_residual_rms_max", "linear_range_min",
    "input_inl", "r2_min", "gain_spread", "sign_asymmetry_median"),
    params={
        "input_value": (1, g.ACTIVATION_MAX), "weight_value": (1, g.SIGNED_WEIGHT_MAX),
        "row": (0, g.MAC_INPUTS - 1), "num_sends": (1, g.NUM_SENDS_MAX), "repeats": (2, 1024)})
def mac_linearity(backend, *, input_value: int = 12, weight_value: int = 21, row: int = 0,
                  num_sends: int = 100, repeats: int = 8, spec: MacSpec = DEFAULT_SPEC,
                  progress: bool = False) -> ExperimentResult:
    """Weight sweep -63..63 at a fixed input, and input sweep 0..31 at a fixed weight.

    One input row (``row``) drives every neuron, as in the seed's linearity
    plot. Per neuron: gain (output LSB per activation x weight x send), offset,
    linear range (LSB) and R^2 over the linear part of the weight sweep.
    """
    model = spec.model
    expected = chip_model(spec, backend.info().ideal)
    device = _Device.of(backend)
    N, row = device.outputs, device.row(row)

    weights = np.arange(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1)
    x = device.vectors(row, input_value, repeats)
    sweep_w = np.stack([
        _run(backend, device.weights(row, int(w)), x, num_sends)
        for w in tqdm(weights, desc="weight sweep", unit="weight", disable=not progress, leave=False)
    ])                                                                   # (127, repeats, outputs)
    inputs = np.arange(g.ACTIVATION_MAX + 1)
    x_in = device.vectors(row, 0, inputs.size * repeats)
    x_in[:, row] = np.repeat(inputs, repeats)
    sweep_x = _run(backend, device.weights(row, weight_value), x_in, num_sends)
    sweep_x = sweep_x.reshape(inputs.size, repeats, N)                   # (32, repeats, outputs)

    # The model's view: z = activation x weight x sends, expected output = gain * z.
    z_w = (input_value * weights * num_sends).astype(np.float64)
    z_x = (inputs * weight_value * num_sends).astype(np.float64)
    # The model's mean output at each point (a noisy chip's mean, floor included).
    pred_w = expected.expected_mean([[input_value]], weights[None, :], num_sends)[0]
    pred_x = expected.expected_mean(inputs[:, None], [[weight_value]], num_sends)[:, 0]

    var_point = _point_variance(spec, repeats)
    # Weight sweep: per-neuron fit on the points the model puts inside the linear range.
    y_w = sweep_w.mean(axis=1)
    in_range = np.abs(model.gain * z_w) <= spec.linear_range
    a_pos, a_neg, offset, res_w = _piecewise_fit(z_w, y_w, in_range)
    gain = (a_pos + a_neg) / 2
    r2 = _r_squared(y_w[in_range], res_w)
    rms_w = np.sqrt((res_w**2).mean(axis=0))
    dof_w = int(in_range.sum()) - 3
    fit_all = offset + np.outer(np.maximum(z_w, 0), a_pos) + np.outer(np.minimum(z_w, 0), a_neg)
    threshold = statistics.deviation_limit(np.sqrt(var_point), n_tests=N * weights.size)
    lin_range = _linear_range(fit_all, y_w, threshold)

    # Input sweep: per-neuron linearity, and the drivers' INL on the neuron median.
    y_x = sweep_x.mean(axis=1)
    in_range_x = np.abs(model.gain * z_x) <= spec.linear_range
    _, _, res_x = _linear_fit(z_x, y_x, in_range_x)
    rms_x = np.sqrt((res_x**2).mean(axis=0))
    dof_x = int(in_range_x.sum()) - 2
    _, _, res_med = _linear_fit(z_x, np.median(y_x, axis=1)[:, None], in_range_x)
    inl = float(np.abs(res_med).max()) / g.OUTPUT_MAX

    rel_gain = float(np.median(gain) / model.gain - 1.0)
    noise_src = f"model: noise <= {spec.noise_max} LSB, chi2 {1 - statistics.FALSE_ALARM:.1%} over {N} neurons"
    metrics = (
        Metric("gain_median_rel_error", rel_gain, spec.gain_tolerance, "abs<=", SPEC_SOURCE,
               detail=f"median neuron gain {np.median(gain):.5f} vs model {model.gain:.5f} LSB/(x*w*send)",
               interval=_median_interval(gain) / model.gain),
        Metric("weight_residual_rms_max", float(rms_w.max()),
               statistics.rms_limit(var_point, dof_w, n_tests=N), "<=", noise_src, "LSB",
               detail="largest per-neuron RMS deviation from a line, weight sweep inside the linear range"),
        Metric("input_residual_rms_max", float(rms_x.max()),
               statistics.rms_limit(var_point, dof_x, n_tests=N), "<=", noise_src, "LSB",
               detail="largest per-neuron RMS deviation from a line, input sweep inside the linear range"),
        Metric("linear_range_min", float(lin_range.min()), spec.linear_range, ">=", SPEC_SOURCE, "LSB",
               detail=f"smallest output up to which a neuron stays within {threshold:.2f} LSB of its line"),
        Metric("input_inl", inl, spec.input_inl_max, "<=", SPEC_SOURCE,
               detail="largest deviation of the neuron-median input sweep from a line, / 127 LSB"),
        Metric("r2_min", float(np.nanmin(r2)), unit="",
               detail="smallest per-neuron R^2 of the weight sweep inside the linear range"),
        Metric("gain_spread", float(gain.std() / abs(gain.mean())),
               detail="std / mean of the per-neuron gains"),
        Metric("sign_asymmetry_median", float(np.median((a_pos - a_neg) / gain)),
               detail="median of (excitatory - inhibitory slope) / gain"),
    )
    params = dict(input_value=input_value, weight_value=weight_value, row=row, num_sends=num_sends,
                  repeats=repeats)
    return ExperimentResult(
        experiment="bss2.mac_linearity", params=params,
        raw={"weights": weights, "weight_sweep": sweep_w, "inputs": inputs, "input_sweep": sweep_x,
             "gain": gain, "offset": offset, "r2": r2, "linear_range": lin_range},
        prediction={"weight_sweep": pred_w, "input_sweep": pred_x},
        metrics=metrics,
        stimulus={"weight_values": weights.astype(np.int8), "input_values": inputs.astype(np.uint8)},
        model=spec.record(),
        summary={"gain_median": float(np.median(gain)), "linear_range_median": float(np.median(lin_range))},
    )


@experiment("bss2.mac_noise", metrics=("noise_rel_error", "noise_max", "non_normal_neurons", "noise_min",
                                       "prediction_mismatches"),
    params={
        "input_value": (0, g.ACTIVATION_MAX), "weight_value": (-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX),
        "rows": (1, g.MAC_INPUTS), "num_sends": (1, g.NUM_SENDS_MAX), "repeats": (NORMALITY_MIN_SAMPLES, g.MAX_BATCH)})
def mac_noise(backend, *, input_value: int = 15, weight_value: int = 21, rows: int | None = None,
              num_sends: int = 1, repeats: int = 200, spec: MacSpec = DEFAULT_SPEC,
              progress: bool = False) -> ExperimentResult:
    """The same input vector ``repeats`` times in one run: per-neuron sigma and normality.

    ``rows``: the rows driven; None: the seed's 100 (every row of a device with fewer).

    On an ideal chip (``info().ideal``) the model has no noise: every sample must
    equal its noise-free prediction, and there is no spread to test for normality.
    """
    model = spec.model
    ideal = backend.info().ideal
    expected = chip_model(spec, ideal)
    device = _Device.of(backend)
    N, rows = device.outputs, device.rows(rows, 100)

    w, x = device.weights(slice(0, rows), weight_value), device.vectors(slice(0, rows), input_value, repeats)
    samples = _run(backend, w, x, num_sends)                                   # (repeats, outputs)
    sigma = samples.std(axis=0, ddof=1)
    p = np.array([statistics.discretized_normal_gof(samples[:, n])
                  for n in tqdm(range(N), desc="normality", disable=not progress, leave=False)])
    non_normal = int(np.sum(~(p >= statistics.FALSE_ALARM)))   # NaN (no spread) counts as non-normal
    model_sigma = float(np.sqrt(model.output_variance()))
    mean_sigma = float(np.sqrt(np.mean(sigma**2)))
    prediction = expected.predict(x[:1], w[:, :1], num_sends)[0]
    mean = float(expected.expected_mean(x[:1], w[:, :1], num_sends)[0, 0])
    normality_source = (f"model: Gaussian noise; chi2 test at {statistics.FALSE_ALARM} per neuron, "
                        f"binomial {1 - statistics.FALSE_ALARM:.1%} bound over {N} neurons")
    metrics = (
        _noise_rel_error(mean_sigma, model_sigma, spec, ideal,
                         f"RMS of per-neuron sigma {mean_sigma:.3f} LSB vs model {model_sigma:.3f} LSB "
                         f"(noise_std {model.noise_std} + quantization)",
                         # The RMS of N sample sigmas has (repeats - 1) N degrees of freedom.
                         interval=1.96 * mean_sigma / np.sqrt(2 * (repeats - 1) * N) / model_sigma),
        Metric("noise_max", float(sigma.max()), spec.noise_max, "<=", SPEC_SOURCE, "LSB",
               detail="sigma of the noisiest neuron"),
        Metric("non_normal_neurons", non_normal,
               None if ideal else statistics.binomial_limit(N, statistics.FALSE_ALARM), "<=",
               "" if ideal else normality_source,
               detail="neurons whose samples fail a chi-square test against a discretized normal"
                      + (" (ideal chip: no noise to test, not judged)" if ideal else "")),
        Metric("noise_min", float(sigma.min()), unit="LSB", detail="sigma of the quietest neuron"),
        _prediction_mismatches(samples, np.full_like(samples, prediction[0]), ideal),
    )
    params = dict(input_value=input_value, weight_value=weight_value, rows=rows, num_sends=num_sends,
                  repeats=repeats)
    return ExperimentResult(
        experiment="bss2.mac_noise", params=params,
        raw={"samples": samples, "sigma": sigma, "normality_p": p},
        # An ideal chip has no noise: its samples do not spread at all.
        prediction={"mean": np.full(N, mean), "sigma": np.full(N, 0.0 if ideal else model_sigma)},
        metrics=metrics, summary={"noise_rms": mean_sigma},
        stimulus={"inputs": x[:1], "weights": w},
        model=spec.record(),
    )


@experiment("bss2.mac_fixed_pattern", metrics=(
    "neuron_spread", "row_spread", "distance_slope", "dead_neurons", "distance_correlation",
    "neuron_output_mean"),
    params={
        "input_value": (1, g.ACTIVATION_MAX), "weight_value": (1, g.SIGNED_WEIGHT_MAX),
        "rows": (1, g.MAC_INPUTS), "repeats": (2, 1024), "row_input": (1, g.ACTIVATION_MAX),
        "row_weight": (1, g.SIGNED_WEIGHT_MAX), "row_sends": (1, g.NUM_SENDS_MAX),
        "small_input": (1, g.ACTIVATION_MAX), "small_sends": (1, g.NUM_SENDS_MAX)})
def mac_fixed_pattern(backend, *, input_value: int = 15, weight_value: int = 21, rows: int | None = None,
                      repeats: int = 20, row_input: int = 31, row_weight: int = 63, row_sends: int = 20,
                      small_input: int = 2, small_sends: int = 1, spec: MacSpec = DEFAULT_SPEC,
                      progress: bool = False) -> ExperimentResult:
    """Spread across neurons (the seed's fixed input and weight), spread across rows
    (one row at a time), and the correlation of the output with the distance of a
    neuron's synapses from the drivers at a small input.

    Dead neurons: a neuron that does not integrate reads only noise at the
    seed's input, a mean of 0 +- sqrt(noise_max^2 / repeats + 1/12) LSB. A neuron
    whose mean stays below that bound (two-sided, Bonferroni over 512 neurons at
    1e-3) is counted dead; the bound must be under half the model's output, or
    the input is too small to tell dead from live neurons. ``rows``: the rows of the
    neuron spread; None: the seed's 100 (every row of a device with fewer).
    """
    model = chip_model(spec, backend.info().ideal)
    device = _Device.of(backend)
    n_in, N, rows = device.inputs, device.outputs, device.rows(rows, 100)
    pred_neuron = float(model.expected_mean(np.full(rows, input_value), np.full((rows, 1), weight_value), 1)[0])
    dead_threshold = statistics.deviation_limit(np.sqrt(_point_variance(spec, repeats)), n_tests=N)
    if dead_threshold >= pred_neuron / 2:
        raise InvalidValue("input_value", f"the model's output at input {input_value} on {rows} rows, weight "
                           f"{weight_value} is {pred_neuron:.2f} LSB, too small to tell a dead neuron (mean "
                           f"below {dead_threshold:.2f} LSB) from a live one; raise the input, rows or weight")
    steps = tqdm(total=3, desc="fixed pattern", disable=not progress, leave=False)

    # Across neurons: the seed's example.
    neuron_output = _run(backend, device.weights(slice(0, rows), weight_value),
                         device.vectors(slice(0, rows), input_value, repeats), 1)
    steps.update()
    per_neuron = neuron_output.mean(axis=0)
    neuron_spread = float(per_neuron.std() / abs(per_neuron.mean()))
    dead = np.flatnonzero(per_neuron < dead_threshold)

    # Across rows: one-hot inputs, each row (driver) alone on every neuron.
    x_rows = device.vectors(slice(0, 0), 0, n_in * repeats)
    x_rows[np.arange(x_rows.shape[0]), np.repeat(np.arange(n_in), repeats)] = row_input
    row_out = _run(backend, device.weights(slice(None), row_weight), x_rows, row_sends)
    steps.update()
    row_out = row_out.reshape(n_in, repeats, N)                           # (rows, repeats, outputs)
    per_row = row_out.mean(axis=(1, 2))
    row_spread = float(per_row.std() / abs(per_row.mean()))

    # Distance to the drivers, at a small input on every row.
    small = _run(backend, device.weights(slice(None), g.SIGNED_WEIGHT_MAX),
                 device.vectors(slice(None), small_input, repeats), small_sends)
    steps.update()
    steps.close()
    per_neuron_small = small.mean(axis=0)
    distance = device.distance()
    rel = per_neuron_small / per_neuron_small.mean()
    if rel.std() > 0:
        corr = float(stats.pearsonr(distance, rel).statistic)
        slope = float(np.polyfit(distance, rel, 1)[0])
    else:            # a device without mismatch has no pattern to correlate
        corr, slope = 0.0, 0.0

    pred_row = model.expected_mean([row_input], [[row_weight]], row_sends)[0]
    pred_small = model.expected_mean(np.full(n_in, small_input),
                                     np.full((n_in, 1), g.SIGNED_WEIGHT_MAX), small_sends)[0]
    metrics = (
        Metric("neuron_spread", neuron_spread, spec.neuron_spread_max, "<=", SPEC_SOURCE,
               detail=f"std / mean over neurons of the mean output at input {input_value} on "
                      f"{rows} rows, weight {weight_value}"),
        Metric("row_spread", row_spread, spec.row_spread_max, "<=", SPEC_SOURCE,
               detail=f"std / mean over rows of the neuron-averaged output of one row at input "
                      f"{row_input}, weight {row_weight}, {row_sends} sends"),
        Metric("distance_slope", slope, spec.distance_slope_max, "abs<=", SPEC_SOURCE,
               detail="relative change of the output from next to the drivers to the far edge, small input"),
        Metric("dead_neurons", dead.size, spec.dead_neurons_max, "<=", SPEC_SOURCE, "neurons",
               detail=f"neurons whose mean output at the seed's input stays below {dead_threshold:.2f} LSB "
                      f"({dead_threshold / pred_neuron:.1%} of the model's {pred_neuron:.2f} LSB), the bound of "
                      f"a neuron that reads only noise" + (f": {index_list(dead)}" if dead.size else "")),
        Metric("distance_correlation", corr,
               detail="Pearson r between a neuron's relative output at small input and its distance"),
        Metric("neuron_output_mean", float(per_neuron.mean()), unit="LSB",
               detail=f"model: {pred_neuron:.2f} (mean of a noisy chip)", interval=_mean_interval(per_neuron)),
    )
    params = dict(input_value=input_value, weight_value=weight_value, rows=rows, repeats=repeats,
                  row_input=row_input, row_weight=row_weight, row_sends=row_sends,
                  small_input=small_input, small_sends=small_sends)
    return ExperimentResult(
        experiment="bss2.mac_fixed_pattern", params=params,
        # Outputs as read, before any mean: int8 is what the chip reads, and keeps the file small.
        raw={"neuron_output": neuron_output.astype(np.int8), "row_output": row_out.astype(np.int8),
             "small_output": small.astype(np.int8), "distance": distance},
        prediction={"neuron_output": np.full(N, float(pred_neuron)),
                    "row_output": np.full(n_in, float(pred_row)),
                    "small_output": np.full(N, float(pred_small))},
        metrics=metrics,
        summary={"neuron_spread": neuron_spread, "row_spread": row_spread, "distance_correlation": corr,
                 "dead_neurons": [int(n) for n in dead], "dead_threshold": dead_threshold},
        # Every vector of a stimulus repeats ``repeats`` times and every column has the same
        # weights: one vector and one column of each rebuild them exactly.
        stimulus={"neuron_input": device.vectors(slice(0, rows), input_value, 1)[0],
                  "neuron_weights": device.weights(slice(0, rows), weight_value)[:, 0],
                  "row_inputs": np.diag(np.full(n_in, row_input, np.uint8)),
                  "row_weights": device.weights(slice(None), row_weight)[:, 0],
                  "small_input": device.vectors(slice(None), small_input, 1)[0],
                  "small_weights": device.weights(slice(None), g.SIGNED_WEIGHT_MAX)[:, 0]},
        model=spec.record(),
    )


@experiment("bss2.mac_gain", metrics=("gain_rel_error", "noise_rel_error", "fit_residual_rms",
                                      "prediction_mismatches"),
    params={
        "num_sends": (1, g.NUM_SENDS_MAX), "batch": (10, g.MAX_BATCH), "seed": (0, 2**63 - 1)})
def mac_gain(backend, *, num_sends: int = 1, batch: int = 100, seed: int = 1234,
             spec: MacSpec = DEFAULT_SPEC, progress: bool = False) -> ExperimentResult:
    """Gain and noise the way hxtorch's ``measure_mock_parameter`` does it.

    Random inputs and weights (fixed seed), run twice: the gain is the
    least-squares slope of the output on x.W.num_sends over the outputs the
    model puts inside the linear range; the noise is the std of the difference
    of the two runs over sqrt(2). On an ideal chip the model has no noise: both runs
    must equal the model's noise-free prediction.
    """
    model = spec.model
    ideal = backend.info().ideal
    expected = chip_model(spec, ideal)
    device = _Device.of(backend)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, g.ACTIVATION_MAX + 1, (batch, device.inputs))
    W = rng.integers(-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX + 1, (device.inputs, device.outputs))
    runs = [_run(backend, W.astype(np.int8), x.astype(np.uint8), num_sends)
            for _ in tqdm(range(2), desc="gain", disable=not progress, leave=False)]
    z = (x @ W * num_sends).astype(np.float64)
    inside = np.abs(model.gain * z) <= spec.linear_range
    y = (runs[0] + runs[1]) / 2.0
    gain = float((y[inside] * z[inside]).sum() / (z[inside] ** 2).sum())
    # floor() biases every output by -1/2 on average; take it out before the fit's residual.
    noise = float(np.std(runs[0] - runs[1]) / np.sqrt(2))
    model_sigma = float(np.sqrt(model.output_variance()))
    residual = y[inside] + 0.5 - gain * z[inside]
    # Standard error of a least-squares slope through the origin.
    gain_se = float(np.sqrt((residual**2).sum() / max(residual.size - 1, 1) / (z[inside] ** 2).sum()))
    predicted = expected.predict(x, W, num_sends)
    metrics = (
        Metric("gain_rel_error", gain / model.gain - 1.0, spec.gain_tolerance, "abs<=", SPEC_SOURCE,
               detail=f"measured gain {gain:.6f} vs model {model.gain:.6f} LSB/(x*w*send)",
               interval=1.96 * gain_se / model.gain),
        _noise_rel_error(noise, model_sigma, spec, ideal,
                         f"measured noise {noise:.3f} LSB vs model {model_sigma:.3f} LSB"),
        Metric("fit_residual_rms", float(np.sqrt(np.mean(residual**2))), unit="LSB",
               detail="RMS deviation from the fitted linear model (noise plus fixed pattern)"),
        _prediction_mismatches(np.stack(runs), np.stack([predicted, predicted]), ideal),
    )
    return ExperimentResult(
        experiment="bss2.mac_gain", params=dict(num_sends=num_sends, batch=batch, seed=seed),
        raw={"expected": (model.gain * z)[inside], "measured": y[inside],
             "run0": runs[0], "run1": runs[1]},
        prediction={"outputs": predicted, "mean": expected.expected_mean(x, W, num_sends)},
        metrics=metrics,
        stimulus={"inputs": x.astype(np.uint8), "weights": W.astype(np.int8)},
        model=spec.record(),
        summary={"gain": gain, "noise_std": noise},
    )


SENDS_SWEEP = (1, 10, 30, 100)
"""``num_sends`` of ``mac_sends_and_wait``: from one send to the seed's 100."""
WAIT_SWEEP = (0, 5, 50, 200, 1000, 4095)
"""``wait_between_events`` of ``mac_sends_and_wait``, FPGA cycles: 0, the default 5, up to the
longest (4095); at 128 events a send then lasts 1 us .. 4.2 ms, so the leak spans nothing to most."""


def _fit_gain_and_leak(model: MacModel, x: np.ndarray, w: np.ndarray, measured: np.ndarray,
                       mask: np.ndarray, fit_leak: bool) -> tuple[MacModel, np.ndarray]:
    """The model whose noisy mean (``expected_mean``) fits ``measured`` (sends x waits, LSB) best
    in least squares on the masked points: gain and tau_leak free (tau_leak fixed at the model's
    when ``fit_leak`` is False), noise as the model's. Also returns the 95 % half-widths of
    the fitted parameters, relative (they are fitted as logarithms), from the fit's Jacobian."""
    from scipy.optimize import least_squares   # only this experiment needs it

    def mean_of(m: MacModel) -> np.ndarray:
        return np.array([[m.expected_mean(x, w, s, wait_between_events=wt)[0, 0] for wt in WAIT_SWEEP]
                         for s in SENDS_SWEEP])

    def build(p) -> MacModel:
        tau = float(np.exp(p[1])) if fit_leak else model.tau_leak
        return dataclasses.replace(model, gain=float(np.exp(p[0])), tau_leak=tau)

    start = [np.log(model.gain)] + ([np.log(model.tau_leak)] if fit_leak else [])
    # Bounds keep the search inside MacModel's own ranges (gain 1e-9..1, tau 1e-9..1e3 s).
    lo = [np.log(1e-6)] + ([np.log(1e-6)] if fit_leak else [])
    hi = [np.log(1e-1)] + ([np.log(1e2)] if fit_leak else [])
    fit = least_squares(lambda p: (mean_of(build(p)) - measured)[mask], start, bounds=(lo, hi),
                        x_scale=1.0, diff_step=1e-4)
    dof = max(int(mask.sum()) - len(start), 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        try:
            cov = np.linalg.inv(fit.jac.T @ fit.jac) * (fit.fun @ fit.fun) / dof
            half = 1.96 * np.sqrt(np.diag(cov))
        except np.linalg.LinAlgError:
            half = np.full(len(start), np.nan)
    return build(fit.x), half


@experiment("bss2.mac_sends_and_wait", metrics=(
    "gain_rel_error", "tau_leak_rel_error", "fit_residual_max", "nominal_rel_error_max", "prediction_mismatches"),
    params={"input_value": (1, g.ACTIVATION_MAX), "weight_value": (1, g.SIGNED_WEIGHT_MAX),
            "rows": (1, g.MAC_INPUTS), "repeats": (2, 1024)})
def mac_sends_and_wait(backend, *, input_value: int = 1, weight_value: int = 3, rows: int | None = None,
                       repeats: int = 10, spec: MacSpec = DEFAULT_SPEC, progress: bool = False) -> ExperimentResult:
    """Sweeps ``num_sends`` (1..100) and ``wait_between_events`` (0..4095 cycles) at a fixed input on
    ``rows`` rows (None: every row): the residual leak, against the model's effective number of sends.

    Fits the model's gain and leak time constant to the mean output (over repeats and
    neurons) at every point inside the linear range, and judges them against the spec's
    model: the gain within ``gain_tolerance``, the leak within ``leak_tolerance``. An
    ideal chip has no leak by design: there the leak is not fitted and every output must
    equal the ideal model's prediction.
    """
    model = spec.model
    ideal = backend.info().ideal
    expected = chip_model(spec, ideal)
    device = _Device.of(backend)
    N, rows = device.outputs, device.rows(rows, device.inputs)
    w = device.weights(slice(0, rows), weight_value)
    x = device.vectors(slice(0, rows), input_value, repeats)
    points = [(s, wt) for s in SENDS_SWEEP for wt in WAIT_SWEEP]
    out = np.stack([_run(backend, w, x, s, wt) for s, wt in tqdm(
        points, desc="sends and wait", disable=not progress, leave=False)])
    out = out.reshape(len(SENDS_SWEEP), len(WAIT_SWEEP), repeats, N)
    per_neuron = out.mean(axis=2)                                       # (sends, waits, 512)
    measured = per_neuron.mean(axis=2)
    # Standard error of the mean over neurons: their spread (fixed pattern and noise) / sqrt(512).
    sem = per_neuron.std(axis=2, ddof=1) / np.sqrt(N)

    x1, w1 = x[:1], w[:, :1]
    nominal = np.array([[float(model.expected_mean(x1, w1, s, wait_between_events=wt)[0, 0])
                         for wt in WAIT_SWEEP] for s in SENDS_SWEEP])
    exact = np.array([[int(expected.predict(x1, w1, s, wait_between_events=wt)[0, 0])
                       for wt in WAIT_SWEEP] for s in SENDS_SWEEP])
    inside = np.abs(nominal) <= spec.linear_range
    # The fit starts from the spec's model; on an ideal chip without its leak, which is not fitted.
    fitted, half = _fit_gain_and_leak(dataclasses.replace(model, tau_leak=expected.tau_leak), x1, w1, measured,
                                      inside, fit_leak=not ideal)
    fit_mean = np.array([[float(fitted.expected_mean(x1, w1, s, wait_between_events=wt)[0, 0])
                          for wt in WAIT_SWEEP] for s in SENDS_SWEEP])
    judged = inside & (nominal >= SENDS_WAIT_RELATIVE_MIN)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(measured / nominal - 1.0)
    metrics = (
        Metric("gain_rel_error", fitted.gain / model.gain - 1.0, spec.gain_tolerance, "abs<=", SPEC_SOURCE,
               detail=f"fitted gain {fitted.gain:.6f} vs model {model.gain:.6f} LSB/(x*w*send)",
               interval=float(half[0]) * fitted.gain / model.gain),
        Metric("tau_leak_rel_error", 0.0 if ideal else fitted.tau_leak / model.tau_leak - 1.0,
               None if ideal else spec.leak_tolerance, "abs<=", "" if ideal else SPEC_SOURCE,
               detail=(f"fitted leak time constant {fitted.tau_leak * 1e3:.3f} ms vs model "
                       f"{model.tau_leak * 1e3:.3f} ms") if not ideal else
                      "ideal chip: no leak by design, not fitted or judged",
               interval=None if ideal else float(half[1]) * fitted.tau_leak / model.tau_leak),
        Metric("fit_residual_max", float(np.abs(measured - fit_mean)[inside].max()), unit="LSB",
               detail=f"largest |mean output - fitted model's mean| over the {int(inside.sum())} points "
                      f"inside +-{spec.linear_range:g} LSB"),
        Metric("nominal_rel_error_max", float(rel[judged].max()) if judged.any() else 0.0,
               detail=f"largest |mean output / the nominal model's mean - 1| where that mean is "
                      f">= {SENDS_WAIT_RELATIVE_MIN:g} LSB"),
        _prediction_mismatches(out, np.broadcast_to(exact[:, :, None, None], out.shape), ideal),
    )
    return ExperimentResult(
        experiment="bss2.mac_sends_and_wait",
        params=dict(input_value=input_value, weight_value=weight_value, rows=rows, repeats=repeats),
        raw={"sends": np.array(SENDS_SWEEP), "waits": np.array(WAIT_SWEEP), "sends_wait_output": out.astype(np.int8)},
        prediction={"sends_wait_mean": nominal, "sends_wait_fit": fit_mean, "sends_wait_exact": exact},
        metrics=metrics,
        summary={"gain_fit": fitted.gain, "tau_leak_fit_s": fitted.tau_leak,
                 "mean_output": measured.tolist(), "mean_output_sem": sem.tolist()},
        stimulus={"inputs": x1[0], "weights": w1[:, 0]},
        model=spec.record(),
    )


SENDS_WAIT_RELATIVE_MIN = 10.0
"""LSB: ``nominal_rel_error_max`` looks only at points the model puts at 10 LSB or more, where the
floor's half-LSB bias and the noise are a few per cent at most."""


@experiment("bss2.mac_neuron_profile", metrics=("profile_rel_error", "profile_spread", "prediction_mismatches"),
    params={"input_value": (1, g.ACTIVATION_MAX), "weight_value": (-g.SIGNED_WEIGHT_MAX, g.SIGNED_WEIGHT_MAX),
            "row": (0, g.MAC_INPUTS - 1), "num_sends": (1, g.NUM_SENDS_MAX), "repeats": (1, 1024)})
def mac_neuron_profile(backend, *, input_value: int = 12, weight_value: int = 21, row: int = 0,
                       num_sends: int = 100, repeats: int = 20, spec: MacSpec = DEFAULT_SPEC,
                       progress: bool = False) -> ExperimentResult:
    """Seed 000's figure 1: one row at input 12, weight 21 on every neuron, 100 sends; the output
    of each neuron, whose spread is the fixed pattern and whose trend is the distance from the drivers.

    The mean over neurons is judged against the model's mean (``gain_tolerance``); the spread
    across neurons is reported; an ideal chip must equal the ideal model.
    """
    ideal = backend.info().ideal
    expected = chip_model(spec, ideal)
    device = _Device.of(backend)
    N, row = device.outputs, device.row(row)
    w = device.weights(row, weight_value)
    x = device.vectors(row, input_value, repeats)
    out = _run(backend, w, x, num_sends)                                     # (repeats, outputs)
    per_neuron = out.mean(axis=0)
    mean = float(expected.expected_mean(x[:1], w[:, :1], num_sends)[0, 0])
    exact = int(expected.predict(x[:1], w[:, :1], num_sends)[0, 0])
    spread = float(per_neuron.std() / abs(per_neuron.mean())) if per_neuron.mean() != 0 else float("inf")
    metrics = (
        Metric("profile_rel_error", float(per_neuron.mean() / mean - 1.0), spec.gain_tolerance, "abs<=",
               SPEC_SOURCE, detail=f"mean output {per_neuron.mean():.3f} LSB vs the model's {mean:.3f} LSB",
               interval=_mean_interval(per_neuron) / mean),
        # Reported, not judged: one row carries its synapses' own mismatch, which the spec's
        # neuron spread (over 100 rows) averages away; mac_linearity's gain_spread judges it.
        Metric("profile_spread", spread, detail="std / mean over neurons of the mean output (one row)"),
        _prediction_mismatches(out, np.full_like(out, exact), ideal),
    )
    return ExperimentResult(
        experiment="bss2.mac_neuron_profile",
        params=dict(input_value=input_value, weight_value=weight_value, row=row, num_sends=num_sends,
                    repeats=repeats),
        raw={"neuron_output": out.astype(np.int8), "distance": device.distance()},
        prediction={"neuron_output": np.full(N, mean)},
        metrics=metrics,
        summary={"output_mean": float(per_neuron.mean())},
        stimulus={"inputs": x[0], "weights": w[:, 0]},
        model=spec.record(),
    )
