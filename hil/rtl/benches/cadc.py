"""Block bench of the column ADC (``rtl_models/bss2/cadc.v``), a cocotb test module run on
the harness ``cadc.v`` beside it by ``hil.rtl.benches.run_bench``.

Every channel of the core (by default the reduced core's 32, channel n being the chip's
neuron ``geometry.neuron_index()[n]``) with the serial's fixed pattern converts, in one
full ramp each:

* the two float32 inputs on either side of each of its 255 code transitions (the
  smallest input the emulator reads as raw code k or above, and the float32 below it),
  found on the emulator's model, so the RTL's transitions are located to one float32
  step;
* constrained-random inputs over the whole range and 20 codes beyond both ends
  (overrange), and the edge inputs 0, -0, +-300 LSB.

Checks:
codes (digital, exact): every code against the emulator's CADC for the serial
    (``emulator.bss2.cadc``: ``baseline_code_split``, ``code_map``; the C core's readout
    ``code_map[clamp(int + floor(f32(frac + f32(slope * v))), 0, 255)]``, double on the
    ideal chip, as ``emulator/bss2/reference.py``).
missing_codes (digital, exact): the codes a channel never produced over its sweep against
    the emulator's missing codes (``Faults.missing_codes``: none on a healthy chip).
transitions (analog): the RTL's transition levels against the analytical channel
    ``code = floor(cadc_offset + cadc_slope * (baseline + v))`` in double
    (``docs/chip_model.md``, CADC step 7); tolerance 1e-4 LSB, from the float32 readout.
dnl (analog): each code's width against the analytical 1 / slope; tolerance 2e-4 LSB.
Figures: DNL and INL against the ideal ramp (1 LSB per code, code = 128 + floor(v)),
the endpoint INL (offset and gain removed), the offset and gain errors, missing codes,
per channel and their worst.
Coverage: the reported code 0..255; channel x input region (below code 0, in range,
above code 255).
"""
from __future__ import annotations

import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint

from emulator.bss2 import cadc as emu_cadc
from hil.rtl.benches import common
from hil.rtl.geometry import RtlGeometry

SEED = 0xCADC
CLOCK_NS = 10
RANDOM_POINTS = 64
OVERRANGE = 20.0
TRANSITION_TOLERANCE = 1e-4
"""LSB: the float32 readout moves a transition by at most some 5e-5 LSB (frac and slope
rounded to float32, then f32(slope * v) and the f32 sum at |x| < 512, half an ulp each,
and the float32 spacing of the input itself)."""
B = "cadc"
REGIONS = ("below", "in_range", "above")


def _coverage(channels: int):
    @CoverPoint(f"{B}.code", bins=list(range(256)))
    def code(c):
        pass

    @CoverPoint(f"{B}.region.channel", xf=lambda n, r: n, bins=list(range(channels)))
    @CoverPoint(f"{B}.region.region", xf=lambda n, r: r, bins=list(range(len(REGIONS))),
                bins_labels=list(REGIONS))
    @CoverCross(f"{B}.channel_x_region", items=[f"{B}.region.channel", f"{B}.region.region"])
    def region(n, r):
        pass

    return code, region


class Channels:
    """The emulator's CADC of the bench's channels (float32 readout, or double when ideal)."""

    def __init__(self, chip, neurons: np.ndarray):
        p = chip.pattern
        whole, frac = emu_cadc.baseline_code_split(p)
        self.ai = whole[neurons].astype(np.int64)
        self.fr32 = np.asarray(frac, np.float32)[neurons]
        self.sl32 = np.asarray(p.cadc_slope, np.float32)[neurons]
        self.f32 = not (chip.ideal and not np.any(p.sigma_read) and not np.any(p.sigma_base))
        self.cmap = emu_cadc.code_map(chip.faults.missing_codes).astype(np.int64)
        self.offset = p.cadc_offset[neurons]
        self.slope = p.cadc_slope[neurons]
        self.baseline = p.baseline[neurons]

    def x(self, v32: np.ndarray) -> np.ndarray:
        """The comparator input (codes above the digital offset) for float32 inputs (points, channels)."""
        if self.f32:
            return (self.fr32 + self.sl32 * v32.astype(np.float32)).astype(np.float64)
        return self.fr32.astype(np.float64) + self.sl32.astype(np.float64) * v32.astype(np.float64)

    def raw(self, v32: np.ndarray) -> np.ndarray:
        return np.clip(self.ai + np.floor(self.x(v32)).astype(np.int64), 0, 255)

    def codes(self, v32: np.ndarray) -> np.ndarray:
        return self.cmap[self.raw(v32)]

    def model_transition(self, k: np.ndarray) -> np.ndarray:
        """(len(k), channels): the analytical transition to raw code k, LSB above the baseline."""
        return (k[:, None] - self.offset[None, :]) / self.slope[None, :] - self.baseline[None, :]

    def transitions(self) -> np.ndarray:
        """(255, channels) float32: the smallest float32 input read as raw code >= k, k = 1..255."""
        k = np.arange(1, 256)
        t = self.model_transition(k).astype(np.float32)
        for _ in range(64):                    # walk to the exact float32 boundary
            up = self.raw(t) >= k[:, None]
            below = np.nextafter(t, np.float32(-np.inf))
            down = self.raw(below) >= k[:, None]
            if not (~up).any() and not down.any():
                break
            t = np.where(~up, np.nextafter(t, np.float32(np.inf)), np.where(down, below, t))
        return t


def stimulus(ch: Channels, rng: np.random.Generator, channels: int) -> np.ndarray:
    """(points, channels) float32 inputs (see the module docstring)."""
    t = ch.transitions()
    below = np.nextafter(t, np.float32(-np.inf))
    lo = ch.model_transition(np.array([-OVERRANGE]))[0]
    hi = ch.model_transition(np.array([256 + OVERRANGE]))[0]
    rand = (lo + (hi - lo) * rng.random((RANDOM_POINTS, channels))).astype(np.float32)
    edges = np.repeat(np.array([[0.0], [-0.0], [300.0], [-300.0]], np.float32), channels, axis=1)
    return np.concatenate([below, t, rand, edges]).astype(np.float32)


def measured_transitions(v: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """(255, channels): per channel the smallest tested input whose code is >= k (nan if none)."""
    out = np.full((255, v.shape[1]), np.nan)
    for n in range(v.shape[1]):
        order = np.argsort(v[:, n], kind="stable")
        vs, cs = v[order, n].astype(np.float64), np.maximum.accumulate(codes[order, n])
        idx = np.searchsorted(cs, np.arange(1, 256), side="left")
        ok = idx < vs.size
        out[ok, n] = vs[idx[ok]]
    return out


@cocotb.test()
async def cadc(dut):
    """The transfer of every channel, then the result file."""
    s = common.settings()
    report = common.Report(s)
    geo = RtlGeometry(**s["geometry"])
    channels = geo.neurons
    cover_code, cover_region = _coverage(channels)
    report.coverage = [f"{B}.code", f"{B}.channel_x_region"]
    workdir = Path(s["workdir"])
    chip = common.chip(s)
    ch = Channels(chip, geo.neuron_index())
    v = stimulus(ch, np.random.default_rng(SEED), channels)
    points = v.shape[0]
    common.write_hex(workdir / "cadc_stim.hex", v.astype(np.float64).view(np.uint64).ravel(), 64)
    from cocotb.triggers import Timer
    dut.start.value = 0
    dut.count.value = 0
    await Timer(100, "ns")
    t0 = time.perf_counter()
    ramp = common.read_hex(workdir / "ramp.hex")
    span = ((ramp[1] - (ramp[0] - 1024 if ramp[0] >= 512 else ramp[0])) + 8) * points
    await common.run_batch(dut, points, timeout_ns=CLOCK_NS * (span + 64))
    report.figures["simulation_seconds"] = round(time.perf_counter() - t0, 3)
    text = (workdir / "cadc_resp.hex").read_text().split()
    assert len(text) == points, f"{len(text)} responses for {points} points"
    raw = np.frombuffer(bytes.fromhex("".join(text)), np.uint8).reshape(points, channels)
    got = raw[:, ::-1].astype(np.int64)            # channel 0 in the low byte
    want = ch.codes(v)
    neurons = geo.neuron_index()

    def case(j):
        p, n = divmod(j, channels)
        return {"channel": n, "neuron": int(neurons[n]), "v": float(v[p, n]),
                "v_bits": f"0x{int(v[p, n].astype(np.float64).view(np.uint64)):016x}",
                "rtl_code": got[p, n], "reference_code": want[p, n]}

    report.check("cadc.codes", "digital", "exact",
                 "emulator.bss2.cadc of the serial (baseline_code_split, code_map) with the C core's "
                 "float32 readout, as emulator/bss2/reference.py").add(
        got != want, np.abs(got - want), case)

    # missing codes: never produced over the sweep, against the emulator's
    seen = np.zeros((channels, 256), bool)
    for n in range(channels):
        seen[n, np.unique(got[:, n])] = True
    expected_missing = np.zeros(256, bool)
    expected_missing[list(chip.faults.missing_codes)] = True
    missing = ~seen
    report.check("cadc.missing_codes", "digital", "exact",
                 "emulator.bss2.Faults.missing_codes of the serial (none on a healthy chip)").add(
        missing != expected_missing[None, :], None,
        lambda j: {"channel": j // 256, "neuron": int(neurons[j // 256]), "code": j % 256,
                   "rtl_missing": bool(missing.ravel()[j]), "reference_missing": bool(expected_missing[j % 256])})

    # the transfer: transitions against the analytical channel
    tm = measured_transitions(v, got)                      # (255, channels), raw-code transitions of k
    k = np.arange(1, 256)
    model = ch.model_transition(k)
    present = ~expected_missing[1:]                        # a missing code has no transition of its own
    dev = np.where(present[:, None], np.abs(tm - model), 0.0)
    dev = np.where(np.isnan(dev), np.inf, dev)
    report.check("cadc.transitions", "analog",
                 f"<= {TRANSITION_TOLERANCE:g} LSB: the float32 readout (frac and slope as float32, two "
                 "roundings at |x| < 512) and the float32 spacing of the input",
                 "analytical: code = floor(cadc_offset + cadc_slope * (baseline + v)), double").add(
        dev > TRANSITION_TOLERANCE, dev,
        lambda j: {"code": int(k[j // channels]), "channel": j % channels, "neuron": int(neurons[j % channels]),
                   "rtl_transition": float(tm.ravel()[j]), "model_transition": float(model.ravel()[j])})
    width = np.diff(tm, axis=0)                             # codes 1..254
    dnl_model = 1.0 / ch.slope[None, :] - 1.0
    inner = present[:-1] & present[1:]
    dnl = width - 1.0
    ddev = np.where(inner[:, None], np.abs(dnl - dnl_model), 0.0)
    ddev = np.where(np.isnan(ddev), np.inf, ddev)
    report.check("cadc.dnl", "analog", f"<= {2 * TRANSITION_TOLERANCE:g} LSB: two transitions' tolerance",
                 "analytical: every code 1 / cadc_slope LSB wide").add(
        ddev > 2 * TRANSITION_TOLERANCE, ddev,
        lambda j: {"code": int(j // channels + 1), "channel": j % channels, "neuron": int(neurons[j % channels]),
                   "rtl_dnl": float(dnl.ravel()[j]), "model_dnl": float(np.broadcast_to(dnl_model, dnl.shape).ravel()[j])})

    # figures against the ideal ramp: transition of code k at k - 128 LSB, 1 LSB per code
    ideal = (k - 128.0)[:, None]
    inl = tm - ideal
    gain = (tm[-1] - tm[0]) / 254.0
    line = tm[0][None, :] + (k - 1)[:, None] * gain[None, :]
    inl_end = (tm - line) / gain[None, :]
    per = []
    for n in range(channels):
        per.append({"channel": n, "neuron": int(neurons[n]), "offset_error_lsb": float(inl[0, n]),
                    "gain_error": float(gain[n] - 1.0), "dnl_max_lsb": float(np.nanmax(np.abs(dnl[:, n]))),
                    "inl_max_lsb": float(np.nanmax(np.abs(inl[:, n]))),
                    "inl_endpoint_max_lsb": float(np.nanmax(np.abs(inl_end[:, n]))),
                    "missing_codes": [int(c) for c in np.flatnonzero(missing[n])]})
    report.figures.update({
        "points_per_channel": points, "channels": channels, "conversions": points * channels,
        "dnl_max_lsb": max(c["dnl_max_lsb"] for c in per),
        "inl_max_lsb": max(c["inl_max_lsb"] for c in per),
        "inl_endpoint_max_lsb": max(c["inl_endpoint_max_lsb"] for c in per),
        "offset_error_max_lsb": max(abs(c["offset_error_lsb"]) for c in per),
        "gain_error_max": max(abs(c["gain_error"]) for c in per),
        "missing_codes": int(missing.sum()), "per_channel": per})

    # coverage
    for c in np.unique(got).tolist():
        cover_code(c)
    raw_codes = ch.ai[None, :] + np.floor(ch.x(v))
    reg = np.where(raw_codes < 0, 0, np.where(raw_codes > 255, 2, 1))
    common.sample_unique(cover_region, np.broadcast_to(np.arange(channels), reg.shape), reg)
    report.write(dut._log.info)
