"""The tile's analytical models (docs/crossbar.md#models).

* :func:`forward`: the forward (or backward) pass of a noise-free tile: the DAC, the product, the ADC, the
  noise management's scale and the iterative bound management's rounds, exactly (float32, the product
  summed in input order as the tile sums it); with ``perfect`` the exact product ``out_scale W x``.
* :func:`output_moments`: the mean and variance of every output under the stated noises: before the ADC
  a normal of mean ``W x_DAC`` and variance ``out_noise^2 + w_noise^2 |x_DAC|^2 + inp_noise^2 |W_i|^2``;
  after it the exact distribution over the ADC's levels (normal probabilities of each step, the tails in
  the end codes).
* :func:`coincidences` and :func:`update_moments`: the pulsed update's expected number of coincidences
  ``BL p_x p_d`` per device (independent trains: a binomial count) and the mean and variance of the weight
  change it gives a device of step ``dw``: ``E n dw`` and ``dw^2 (E n dw_min_std^2 + Var n)``.
* :func:`step_spread`: the spread of devices' steps the device config states.
"""
from dataclasses import dataclass

import numpy as np
from scipy import stats

from emulator.crossbar import converters as cv, pulses
from emulator.crossbar.arithmetic import fma

from .configs import DeviceConfig, IOConfig, UpdateConfig

F32 = np.float32


def _product(m: np.ndarray, x: np.ndarray) -> np.ndarray:
    """x (batch, k) times m (k, n), each output summed in k's order by float32 fused multiply-adds (as the
    tile sums)."""
    acc = np.zeros((x.shape[0], m.shape[1]), F32)
    for k in range(m.shape[0]):
        acc = fma(x[:, k:k + 1], m[k][None, :], acc)
    return acc


def nm_scale(x: np.ndarray, io: IOConfig) -> tuple[np.ndarray, np.ndarray]:
    """(scaling (batch,) bool, alpha (batch,) float32): the noise management's scale of each vector."""
    x = np.asarray(x, F32)
    b = x.shape[0]
    if io.noise_management == "none":
        return np.zeros(b, bool), np.ones(b, F32)
    thres = F32(io.nm_thres)
    if io.noise_management == "constant":
        return np.ones(b, bool), np.full(b, thres if thres > 0 else F32(1.0), F32)
    a = np.max(np.abs(x), axis=1) if io.noise_management == "abs_max" else np.max(x, axis=1)
    return np.ones(b, bool), (np.minimum(a, thres) if thres > 0 else a).astype(F32)


@dataclass(frozen=True)
class Forward:
    """The noise-free forward of a batch: ``outputs`` (batch, n) float32, ``rounds`` (batch,) the bound
    management's last round, ``codes`` (batch, n) the ADC codes, ``pre_adc`` (batch, n) the products before
    the ADC in the last round, ``dac`` (batch, k) the DAC's values in the last round, ``scale`` (batch,) the
    factor from ADC values to outputs (``out_scale alpha 2^rounds``)."""

    outputs: np.ndarray
    rounds: np.ndarray
    codes: np.ndarray
    pre_adc: np.ndarray
    dac: np.ndarray
    scale: np.ndarray
    saturated: np.ndarray
    """(batch,) the last round still saturated the ADC."""


def forward(weights: np.ndarray, x: np.ndarray, io: IOConfig, *, perfect: bool = False,
            bound_management: bool = True) -> Forward:
    """The forward pass ``y = W x`` of a noise-free tile (``weights`` (rows, columns), ``x`` (batch,
    columns)); the backward pass is ``forward(W.T, d, io, bound_management=False)``. Exact: the tile
    without noise gives these bits."""
    w, x = np.asarray(weights, F32), np.asarray(x, F32)
    m = np.ascontiguousarray(w.T)
    batch = x.shape[0]
    if perfect or io.is_perfect:
        acc = _product(m, x)
        out = acc if io.out_scale == 1 else acc * F32(io.out_scale)
        z = np.zeros(batch, np.int8)
        return Forward(out, z, np.zeros(out.shape, np.int64), acc, x, np.full(batch, io.out_scale, F32),
                       np.zeros(batch, bool))
    bm = bound_management and io.bound_management == "iterative"
    n_in, n_out = io.inp_levels, io.out_levels
    last = cv.bm_last_round(io.max_bm_factor, io.max_bm_res, io.inp_step) if bm else 0
    scaling, alpha = nm_scale(x, io)
    zero = scaling & (alpha <= 0) & (io.inp_noise <= 0)
    s = np.where(scaling & (alpha > 0), F32(1.0) / np.where(alpha > 0, alpha, F32(1.0)), F32(1.0)).astype(F32)
    out = np.zeros((batch, w.shape[0]), F32)
    codes = np.zeros(out.shape, np.int64)
    pre = np.zeros(out.shape, F32)
    dac = np.zeros(x.shape, F32)
    rounds = np.zeros(batch, np.int8)
    saturated = np.zeros(batch, bool)
    todo = ~zero
    scale_now = s.copy()
    for r in range(last + 1):
        idx = np.flatnonzero(todo)
        if not idx.size:
            break
        sr = (s[idx] / F32(2.0 ** r)).astype(F32) if bm else s[idx]
        q, _, _ = cv.quantise(x[idx] * sr[:, None], io.inp_bound, n_in)
        acc = _product(m, q)
        yq, above, below = cv.quantise(acc, io.out_bound, n_out)
        sat = above.any(axis=1) | (io.bm_test_negative_bound & below.any(axis=1))
        out_codes = cv.codes(acc, cv.inverse(io.out_bound, n_out), n_out)[0] if n_out else np.zeros(acc.shape)
        for arr, v in ((pre, acc), (dac, q), (codes, out_codes)):
            arr[idx] = v
        out[idx] = yq
        rounds[idx] = r
        scale_now[idx] = sr
        saturated[idx] = sat
        todo = np.zeros(batch, bool)
        if bm:
            todo[idx[sat]] = True
    gain = (F32(io.out_scale) / scale_now).astype(F32)
    out = np.where((gain != 1)[:, None], out * gain[:, None], out).astype(F32)
    out[zero] = 0
    return Forward(out, rounds, codes, pre, dac, gain, saturated)


@dataclass(frozen=True)
class Moments:
    """Per output: ``mean`` and ``variance`` of the tile's output; ``pre_mean`` and ``pre_std`` of the
    product before the ADC (in ADC units); ``fourth`` the fourth central moment of the output (for the
    sampling error of a variance)."""

    mean: np.ndarray
    variance: np.ndarray
    pre_mean: np.ndarray
    pre_std: np.ndarray
    fourth: np.ndarray


def output_moments(weights: np.ndarray, x: np.ndarray, io: IOConfig) -> Moments:
    """The exact mean and variance of each output of a tile with the noises of ``io`` (inputs that do not
    saturate the ADC: the bound management's first round; deterministic rounding; ``inp_noise`` and
    ``w_noise`` not both on, so that the product before the ADC is normal). The product's float32 rounding
    is neglected (1e-7 relative)."""
    if io.inp_sto_round or io.out_sto_round:
        raise ValueError("output_moments: stochastic rounding is not modelled")
    if io.inp_noise > 0 and io.w_noise > 0:
        raise ValueError("output_moments: inp_noise and w_noise together make the product non-normal")
    w = np.asarray(weights, np.float64)
    f = forward(weights, x, io, bound_management=False)
    mu = f.pre_adc.astype(np.float64)
    var = np.full(mu.shape, float(io.out_noise) ** 2)
    var = var + float(io.w_noise) ** 2 * np.sum(f.dac.astype(np.float64) ** 2, axis=1)[:, None]
    var = var + float(io.inp_noise) ** 2 * np.sum(w ** 2, axis=1)[None, :]
    sd = np.sqrt(var)
    n, step = io.out_levels, float(cv.step(io.out_bound, io.out_levels)) if io.out_levels else 0.0
    gain = f.scale.astype(np.float64)[:, None]
    if n == 0:   # no quantisation: a clipped normal; only unclipped inputs are modelled
        return Moments(mu * gain, var * gain ** 2, mu, sd, 3 * var ** 2 * gain ** 4)
    codes = np.arange(-n, n + 1, dtype=np.float64)
    edges = (codes[:-1] + 0.5) * step                                   # between code c and c + 1
    with np.errstate(divide="ignore", invalid="ignore"):
        cdf = stats.norm.cdf((edges[None, None, :] - mu[..., None]) / np.where(sd > 0, sd, 1.0)[..., None])
    if (sd == 0).any():
        cdf = np.where((sd == 0)[..., None], (edges[None, None, :] >= mu[..., None]).astype(float), cdf)
    p = np.diff(np.concatenate([np.zeros(cdf.shape[:2] + (1,)), cdf, np.ones(cdf.shape[:2] + (1,))], axis=2), axis=2)
    values = codes * step
    mean = np.sum(p * values, axis=2)
    central = values[None, None, :] - mean[..., None]
    variance = np.sum(p * central ** 2, axis=2)
    fourth = np.sum(p * central ** 4, axis=2)
    return Moments(mean * gain, variance * gain ** 2, mu, sd, fourth * gain ** 4)


def coincidences(lr: float, x: np.ndarray, d: np.ndarray, dw_min: float, up: UpdateConfig) -> tuple[int, np.ndarray]:
    """(BL, the expected coincidences (rows, columns)) of one update with vectors x (columns,), d (rows,):
    ``BL min(A |d_i|, 1) min(B |x_j|, 1)`` (pulses.scales; no probability resolution)."""
    x, d = np.asarray(x, F32), np.asarray(d, F32)
    bl, a, b = pulses.scales(lr, np.max(np.abs(x)), np.max(np.abs(d)), dw_min, up)
    pd = np.minimum(np.abs(d) * a, 1.0).astype(np.float64)
    px = np.minimum(np.abs(x) * b, 1.0).astype(np.float64)
    return bl, bl * pd[:, None] * px[None, :]


def update_moments(mean_count: np.ndarray, bl: int, step: float | np.ndarray, device: DeviceConfig):
    """(mean, variance) of the weight change of a device of step ``step`` from one update with expected
    coincidences ``mean_count`` out of ``bl`` slots: the count is binomial (bl, q = mean / bl); each step is
    ``(1 + dw_min_std xi) step``. Signs: the change's magnitude (down for sign(d) sign(x) > 0)."""
    q = np.asarray(mean_count, float) / max(bl, 1)
    var_n = bl * q * (1 - q)
    step = np.asarray(step, float)
    return mean_count * step, step ** 2 * (mean_count * device.dw_min_std ** 2 + var_n)


def step_spread(device: DeviceConfig) -> float:
    """The relative spread of one direction's device steps across devices: ``sqrt(dw_min_dtod^2 +
    up_down_dtod^2)`` (gain and asymmetry are independent normals)."""
    return float(np.hypot(device.dw_min_dtod, device.up_down_dtod))


def probabilities(lr: float, x: np.ndarray, d: np.ndarray, dw_min: float, up: UpdateConfig):
    """(BL, p_rows (rows,), p_columns (columns,)): one update's train length and firing probabilities."""
    x, d = np.asarray(x, F32), np.asarray(d, F32)
    bl, a, b = pulses.scales(lr, np.max(np.abs(x)), np.max(np.abs(d)), dw_min, up)
    return bl, np.minimum(np.abs(d) * a, 1.0).astype(np.float64), np.minimum(np.abs(x) * b, 1.0).astype(np.float64)


def weighted_coincidence_variance(g: np.ndarray, p: np.ndarray, q: np.ndarray) -> float:
    """The variance of ``S = sum_ij g_ij r_i c_j`` over one slot of the trains, rows firing ``r_i ~ B(p_i)``
    and columns ``c_j ~ B(q_j)``, all independent: a row's or column's pulse is shared by its devices, so
    ``Var S = sum_i p_i (1 - p_i) (sum_j g_ij q_j)^2 + sum_j q_j (1 - q_j) (sum_i g_ij p_i)^2 +
    sum_ij g_ij^2 p_i (1 - p_i) q_j (1 - q_j)``. Slots are independent: a total over n slots has n Var S."""
    g = np.asarray(g, float)
    vp, vq = p * (1 - p), q * (1 - q)
    return float(np.sum(vp * (g @ q) ** 2) + np.sum(vq * (p @ g) ** 2) + np.sum(g ** 2 * np.outer(vp, vq)))
