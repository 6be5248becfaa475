"""Cell-level acceptance experiments: the CADC's transfer per channel, the neurons' CapMem cells, and
the label match of every synapse (docs/acceptance.md#cadc-capmem-labels-and-the-link).

Each is judged like the others: against the model (``CadcRampModel``, ``LifModel``) with limits
from the stated spreads (mismatch boxes, Bonferroni over what is judged at half of the false-alarm
budget) plus the stated temporal noise (the other half); on an ideal chip against the model exactly.
"""
import math

import numpy as np

from emulator.bss2 import geometry as g

from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric
from ..models import DEFAULT_SPIKING_SPEC, CadcRampModel, SpikingSpec
from ..types import CadcRamp
from .spiking import _count_metric, _finish, _spec, _z

N = g.NEURONS
MODEL = "model: hil.bss2.LifModel"

# -- the CADC transfer ----------------------------------------------------------------------------------

RAMP_SIGMA_READ = 1.75
"""LSB: the CADC ramp mode's temporal read noise per sample, +-8 % per neuron (docs/chip_model.md,
temporal noise: read 1.75 LSB; the ramp mode reads no baseline)."""
RAMP_SIGMA_SPREAD = 0.08
TRANSFER_LEVELS = np.arange(g.CAPMEM_LEVEL_MAX + 1, dtype=np.uint16)
TRANSFER_MARGIN = 12.0
"""Codes: a level is fitted on a channel only where its mean code over the repeats lies this far
inside 0..255, so that neither end clips its noise (over 6 sigma of the ramp's read noise)."""
IDEAL_FIT = 1e-9
"""On an ideal chip the fit equals the model's fit of the ideal codes up to float64 rounding."""


NAME_TRANSFER = "bss2.cadc_transfer"
UNESTIMATED = {NAME_TRANSFER: ("offset_abs_max", "slope_error_abs_max", "fit_residual_rms_max")}
"""The reported (unjudged) extremes over channels or neurons whose interval is not estimated yet."""
NO_EXTREME_INTERVAL = ("undefined: not estimated yet, an extreme over the channels or neurons of one run (a bootstrap "
                       "over the repeats is to come; docs/ROADMAP.md); the judged counts have theirs")


def _line_fit(x: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Least squares y = a + b x per channel with 0/1 weights ``w`` ((levels, channels)); x (levels,).
    Returns intercept a (at x = 0), slope b, the residual RMS and the map's variance factors
    (var(a), var(b) per unit sample variance) per channel."""
    sw = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = (w * x[:, None]).sum(axis=0) / sw
        ym = (w * y).sum(axis=0) / sw
        dx = x[:, None] - xm
        sxx = (w * dx * dx).sum(axis=0)
        b = (w * dx * (y - ym)).sum(axis=0) / sxx
        a = ym - b * xm
        res = np.where(w > 0, y - a - b * x[:, None], 0.0)
        rms = np.sqrt((res**2).sum(axis=0) / np.maximum(sw - 2, 1))
        return a, b, rms, 1.0 / sw + xm**2 / sxx, 1.0 / sxx


@experiment("bss2.cadc_transfer", mode="cadc", metrics=(
    "offset_outside_channels", "slope_outside_channels", "offset_abs_max", "slope_error_abs_max",
    "fit_residual_rms_max"),
    params={"repeats": (4, 64)})
def cadc_transfer(backend, *, repeats: int = 16, spiking_spec: SpikingSpec = DEFAULT_SPIKING_SPEC,
                  progress: bool = False) -> ExperimentResult:
    """Each CADC channel's transfer from a full CapMem ramp 0..1022, ``repeats`` reads per level.

    Per channel, the mean code of each level is fitted (least squares) against the nominal
    membrane x = (level - 128) / 3 LSB over the levels whose mean lies ``TRANSFER_MARGIN`` codes
    inside 0..255: the intercept at x = 0 is the channel's offset (codes; the model's
    ``floor(offset + slope V)`` read through noise is offset - 1/2 on average), the slope its
    gain (codes per LSB). Judged per channel: the offset within -1/2 -+ z x (CADC offset
    1.5 codes, CapMem offset 1 LSB in quadrature) and the slope within 1 -+ z x (CADC slope
    1.5 %, CapMem gain 1 % in quadrature), z Bonferroni over 512 channels x 2 at half the
    false-alarm budget, plus the fit's noise at the other half. On an ideal chip both equal the
    model's fit of ``CadcRampModel.codes`` within float64 rounding.
    """
    spec = _spec(spiking_spec)
    ideal = bool(backend.info().ideal)
    levels = TRANSFER_LEVELS
    codes = backend.run(CadcRamp(levels=levels, repeats=repeats)).codes
    if codes.shape != (levels.size * repeats, N):
        raise ValueError(f"the CADC ramp returned codes of shape {codes.shape}; expected "
                         f"{(levels.size * repeats, N)}")
    mean = codes.reshape(levels.size, repeats, N).mean(axis=1, dtype=np.float64)          # (levels, 512)
    x = (levels.astype(np.float64) - g.CADC_RAMP_LEVEL_AT_ZERO) / g.CADC_RAMP_LEVELS_PER_CODE
    inside = (mean >= TRANSFER_MARGIN) & (mean <= g.CADC_CODES - 1 - TRANSFER_MARGIN)
    offset, slope, rms, var_a, var_b = _line_fit(x, mean, inside.astype(np.float64))
    used = inside.sum(axis=0)

    model_codes = CadcRampModel().codes(levels).astype(np.float64)
    m_in = (model_codes >= TRANSFER_MARGIN) & (model_codes <= g.CADC_CODES - 1 - TRANSFER_MARGIN)
    m_off, m_slope, *_ = (float(v[0]) for v in _line_fit(x, model_codes[:, None], m_in[:, None].astype(float)))
    if ideal:
        off_lo = off_hi = np.full(N, m_off)
        sl_lo = sl_hi = np.full(N, m_slope)
        off_lo, off_hi = off_lo - IDEAL_FIT, off_hi + IDEAL_FIT
        sl_lo, sl_hi = sl_lo - IDEAL_FIT, sl_hi + IDEAL_FIT
        note = (f"ideal chip: the model's fit of its ideal codes (offset {m_off:.6f} codes, slope {m_slope:.6f}) "
                f"within {IDEAL_FIT:g}")
        off_center, sl_center = m_off, m_slope
    else:
        z_mis = _z(spec.false_alarm / 2, N * 2)
        z_noise = _z(spec.false_alarm / 2, N * 2)
        sigma_off = math.hypot(spec.cadc_offset, spec.leak_offset)
        sigma_slope = math.hypot(spec.cadc_slope, spec.leak_gain)
        # A level's mean of `repeats` reads: the read noise (the neuron's, at most z sigma above
        # nominal) and the floor dithered by it (1/12 code^2), over the repeats.
        sigma_read = RAMP_SIGMA_READ * (1.0 + z_mis * RAMP_SIGMA_SPREAD)
        var_mean = (sigma_read**2 + 1.0 / 12.0) / repeats
        off_center, sl_center = -0.5, 1.0
        half_off = z_mis * sigma_off + z_noise * np.sqrt(var_mean * var_a)
        half_sl = z_mis * sigma_slope + z_noise * np.sqrt(var_mean * var_b)
        off_lo, off_hi = off_center - half_off, off_center + half_off
        sl_lo, sl_hi = sl_center - half_sl, sl_center + half_sl
        note = (f"offset -1/2 (the floor) -+ {z_mis:.2f} x {sigma_off:.2f} codes (CADC offset {spec.cadc_offset}, "
                f"CapMem offset {spec.leak_offset} LSB), slope 1 -+ {z_mis:.2f} x {sigma_slope:.4f} (CADC slope "
                f"{spec.cadc_slope:.1%}, CapMem gain {spec.leak_gain:.0%}), each -+ {z_noise:.2f} sigma of the fit "
                f"(read noise {sigma_read:.2f} LSB, floor, {repeats} repeats)")
    few = used < 3        # a channel with (nearly) nothing inside the range has no transfer: outside
    off_out = np.flatnonzero(few | ~((offset >= off_lo) & (offset <= off_hi)))
    sl_out = np.flatnonzero(few | ~((slope >= sl_lo) & (slope <= sl_hi)))
    src = "model: hil.bss2.CadcRampModel: " + note
    off_err = np.where(np.isfinite(offset), offset - off_center, np.inf)
    sl_err = np.where(np.isfinite(slope), slope - sl_center, np.inf)
    worst_o, worst_s = int(np.argmax(np.abs(off_err))), int(np.argmax(np.abs(sl_err)))
    metrics = (
        _count_metric("offset_outside_channels", off_out, src, "channels whose fitted offset (codes) lies outside "
                      "its bounds", units="channels"),
        _count_metric("slope_outside_channels", sl_out, src, "channels whose fitted slope lies outside its bounds",
                      units="channels"),
        Metric("offset_abs_max", float(np.abs(off_err[worst_o])), unit="codes",
               detail=f"largest |fitted offset - {off_center:.4g}| (channel {worst_o}: {offset[worst_o]:.3f})"),
        Metric("slope_error_abs_max", float(np.abs(sl_err[worst_s])),
               detail=f"largest |fitted slope - {sl_center:.4g}| (channel {worst_s}: {slope[worst_s]:.5f})"),
        Metric("fit_residual_rms_max", float(np.nanmax(rms)) if np.isfinite(rms).any() else float("inf"),
               unit="codes", detail="largest RMS residual of a channel's level means about its line"),
    )
    return ExperimentResult(
        experiment="bss2.cadc_transfer", params=dict(repeats=repeats),
        raw={"transfer_offset": offset, "transfer_slope": slope, "transfer_levels_used": used.astype(np.int32),
             "transfer_residual_rms": rms},
        prediction={"transfer_offset_low": np.broadcast_to(off_lo, (N,)).copy(),
                    "transfer_offset_high": np.broadcast_to(off_hi, (N,)).copy(),
                    "transfer_slope_low": np.broadcast_to(sl_lo, (N,)).copy(),
                    "transfer_slope_high": np.broadcast_to(sl_hi, (N,)).copy()},
        metrics=_finish(metrics, ideal, intervals=dict.fromkeys(UNESTIMATED[NAME_TRANSFER], NO_EXTREME_INTERVAL)),
        stimulus={"levels": levels},
        model={"model": {"class": "hil.bss2.CadcRampModel"}, "spec": spec.record()},
        summary={"offset_outside": [int(i) for i in off_out[:64]], "slope_outside": [int(i) for i in sl_out[:64]],
                 "offset_limit_codes": float(np.max(off_hi - off_center)),
                 "slope_limit": float(np.max(sl_hi - sl_center)),
                 "offset_median": float(np.nanmedian(offset)), "slope_median": float(np.nanmedian(slope))},
    )
