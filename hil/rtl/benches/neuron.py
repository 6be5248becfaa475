"""Block bench of the neurons (``rtl_models/bss2/neuron.v``: the integrator, the leak's
scale, the readout with its compression), a cocotb test module run on the harness
``neuron.v`` beside it by ``hil.rtl.benches.run_bench``.

Every neuron of the core (by default the reduced core's 32) integrates, per vector, four
charges of one sign (float32, as the synapse array delivers them) and is read with the
scale the leak module forms from a constrained-random send (1..1024 sends, 1..128 events,
waits 0..4095 cycles) and then reset. The charges are chosen so that the linear
excursion ``gain * S_eff * charge`` sweeps each neuron from 30 LSB below its negative
rail to 30 LSB above its positive rail, densely (+-0.5 LSB) around both knees, plus
zero and random points: 600 vectors.

Checks:
scale (exact): the leak's scale against ``gain * emulator.bss2.neuron.effective_sends``;
    both take ``exp`` and ``pow`` from the C library (``$exp``, ``$pow``; ``math.exp``,
    ``math.pow``) in the same order of operations.
membrane (exact): the membrane against the emulator's readout for the serial
    (float32 ``(acc * f32(scale)) * live`` and ``emulator.bss2.neuron.compress`` beyond the
    knees, as ``emulator/bss2/reference.py``; double on the ideal chip), the integrator
    being float32 accumulation.
reset (digital, exact): the membrane is +0 after reset_read.
linearity (analog): inside the knees, against the analytical ``gain * S_eff * sum(charges)``
    in double; <= 6 * 2^-24 relative: five float32 roundings (three sums, the scale, the product).
compression (analog): beyond the knees, against the docs' compression of the analytical
    excursion in double; <= 2e-4 LSB: the linear tolerance at |v| < 300 LSB (the tanh's
    slope is below 1) and the float32 rounding of the result.
Coverage: neuron x range of the linear excursion (beyond the negative rail, negative
compression, negative linear, zero, positive linear, positive compression, beyond the
positive rail; the linear ranges only on the ideal chip); sends x leak regime.
"""
from __future__ import annotations

import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint

from emulator.bss2 import geometry as g, neuron as emu_neuron
from hil.rtl.benches import common
from hil.rtl.geometry import RtlGeometry

SEED = 0x2E0
CLOCK_NS = 10
VECTORS = 600
LINEAR_TOLERANCE = 6 * 2.0 ** -24
COMPRESSION_TOLERANCE = 2e-4
B = "neuron"
RANGES = ("beyond_neg_rail", "neg_compression", "neg_linear", "zero", "pos_linear", "pos_compression",
          "beyond_pos_rail")
SENDS = ("1", "2..16", "17..256", "257..1024")
DURATIONS = ("<=128", "129..4096", "4097..65536", ">65536")
"""Classes of the send duration, FPGA cycles (events x (wait + 1))."""


def _coverage(neurons: int, ranges: list[int]):
    @CoverPoint(f"{B}.range.neuron", xf=lambda n, r: n, bins=list(range(neurons)))
    @CoverPoint(f"{B}.range.range", xf=lambda n, r: r, bins=ranges, bins_labels=[RANGES[r] for r in ranges])
    @CoverCross(f"{B}.neuron_x_range", items=[f"{B}.range.neuron", f"{B}.range.range"])
    def cover_range(n, r):
        pass

    @CoverPoint(f"{B}.send.sends", xf=lambda s, d: s, bins=list(range(len(SENDS))), bins_labels=list(SENDS))
    @CoverPoint(f"{B}.send.duration", xf=lambda s, d: d, bins=list(range(len(DURATIONS))),
                bins_labels=list(DURATIONS))
    @CoverCross(f"{B}.sends_x_duration", items=[f"{B}.send.sends", f"{B}.send.duration"])
    def cover_send(s, leak):
        pass

    return cover_range, cover_send


def _f32_sum(charges: np.ndarray) -> np.ndarray:
    acc = np.zeros(charges.shape[:-1], np.float32)
    for e in range(charges.shape[-1]):
        acc = (acc + charges[..., e]).astype(np.float32)
    return acc


@cocotb.test()
async def neuron(dut):
    """The integrator, scale and readout of every neuron, then the result file."""
    s = common.settings()
    report = common.Report(s)
    geo = RtlGeometry(**s["geometry"])
    N = geo.neurons
    idx = geo.neuron_index()
    chip = common.chip(s)
    p = chip.pattern
    live = np.ones(g.NEURONS)
    live[list(chip.faults.dead_neurons)] = 0.0
    live = live[idx]
    kp, kn, rp, rn = (np.asarray(a, np.float32)[idx].astype(np.float64)
                      for a in (p.knee_pos, p.knee_neg, p.rail_pos, p.rail_neg))
    compress = not chip.ideal
    f32 = compress or bool(np.any(p.sigma_read) or np.any(p.sigma_base))
    ranges = list(range(len(RANGES))) if compress else [2, 3, 4]
    cover_range, cover_send = _coverage(N, ranges)
    report.coverage = [f"{B}.neuron_x_range", f"{B}.sends_x_duration"]
    rng = np.random.default_rng(SEED)

    # the sends: classes of num_sends, events 1..128, waits
    sends = np.concatenate([np.ones(VECTORS // 4, np.int64), rng.integers(2, 17, VECTORS // 4),
                            rng.integers(17, 257, VECTORS // 4), rng.integers(257, 1025, VECTORS - 3 * (VECTORS // 4))])
    rng.shuffle(sends)
    events = rng.integers(1, g.MAC_INPUTS + 1, VECTORS)
    wait = np.where(rng.random(VECTORS) < 0.5, 5, rng.integers(0, 4096, VECTORS))
    cycles = events * (wait + 1)
    s_eff = np.array([emu_neuron.effective_sends(np.array([ev]), int(sn), int(w), p.tau_leak)[0]
                      for ev, sn, w in zip(events, sends, wait)])
    scale = p.gain * s_eff
    scale32 = scale.astype(np.float32)

    # the excursion targets of each neuron
    lo = np.where(np.isfinite(rn), rn - 30.0, -250.0)
    hi = np.where(np.isfinite(rp), rp + 30.0, 250.0)
    sweep = np.linspace(0.0, 1.0, 400)[:, None] * (hi - lo)[None, :] + lo[None, :]
    knee_pos = np.where(np.isfinite(kp), kp, 80.0)
    knee_neg = np.where(np.isfinite(kn), kn, -80.0)
    near = np.concatenate([knee_pos[None, :] + np.linspace(-0.5, 0.5, 40)[:, None],
                           knee_neg[None, :] + np.linspace(-0.5, 0.5, 40)[:, None]])
    rand = lo[None, :] + (hi - lo)[None, :] * rng.random((VECTORS - 400 - 80 - 1, N))
    target = np.concatenate([sweep, near, np.zeros((1, N)), rand])
    for n in range(N):
        rng.shuffle(target[:, n])
    acc_target = target / scale32.astype(np.float64)[:, None]
    w = rng.random((VECTORS, N, 4)) + 0.05
    w /= w.sum(axis=-1, keepdims=True)
    charges = (acc_target[..., None] * w).astype(np.float32)          # one sign per vector
    acc = _f32_sum(charges)

    head = (sends << 32) | cycles
    words = np.zeros((VECTORS, 1 + 4 * N), np.uint64)
    words[:, 0] = head.astype(np.uint64)
    words[:, 1:] = charges.astype(np.float64).view(np.uint64).reshape(VECTORS, 4 * N)
    workdir = Path(s["workdir"])
    common.write_hex(workdir / "neuron_stim.hex", words.ravel(), 64)
    from cocotb.triggers import Timer
    dut.start.value = 0
    dut.count.value = 0
    await Timer(30, "ns")
    t0 = time.perf_counter()
    await common.run_batch(dut, VECTORS, timeout_ns=CLOCK_NS * (12 * VECTORS + 64))
    report.figures["simulation_seconds"] = round(time.perf_counter() - t0, 3)
    text = (workdir / "neuron_resp.hex").read_text().split()
    assert len(text) == VECTORS, f"{len(text)} responses for {VECTORS} vectors"
    ints = [int(t, 16) for t in text]
    v_bits = np.array([[(x >> (64 * n)) & ((1 << 64) - 1) for n in range(N)] for x in ints], np.uint64)
    scale_bits = np.array([(x >> (64 * N)) & ((1 << 64) - 1) for x in ints], np.uint64)
    zero = np.array([[(x >> (64 * N + 64 + n)) & 1 for n in range(N)] for x in ints], np.int64)
    got = v_bits.view(np.float64)

    # the emulator's readout
    if f32:
        want = ((acc * scale32[:, None]).astype(np.float32) * live.astype(np.float32)).astype(np.float32)
        if compress:
            K = np.broadcast_to
            beyond = (want > K(kp, want.shape)) | (want < K(kn, want.shape))
            comp = emu_neuron.compress(want.astype(np.float64), K(kp, want.shape), K(kn, want.shape),
                                       K(rp, want.shape), K(rn, want.shape)).astype(np.float32)
            want = np.where(beyond, comp, want)
        want = want.astype(np.float64)
    else:
        want = (acc.astype(np.float64) * scale[:, None]) * live[None, :]

    def case(j):
        b, n = divmod(j, N)
        return {"neuron": int(idx[n]), "column": n, "num_sends": int(sends[b]), "events": int(events[b]),
                "wait": int(wait[b]), "send_cycles": int(cycles[b]),
                "charges": [float(c) for c in charges[b, n]],
                "charge_bits": [f"0x{int(c):016x}" for c in charges[b, n].astype(np.float64).view(np.uint64)],
                "rtl_v": float(got[b, n]), "reference_v": float(want[b, n]),
                "rtl_bits": f"0x{int(v_bits[b, n]):016x}",
                "reference_bits": f"0x{int(np.float64(want[b, n]).view(np.uint64)):016x}"}

    rtl_scale = scale_bits.view(np.float64)
    tol = ("exact: exp and pow of the C library on both sides" if np.isfinite(p.tau_leak)
           else "exact: no leak, scale = gain * num_sends")
    report.check("neuron.scale", "analog", tol, "emulator.bss2.neuron.effective_sends x chip gain").add(
        rtl_scale != scale, np.abs(rtl_scale - scale) / scale,
        lambda b: {"num_sends": int(sends[b]), "events": int(events[b]), "wait": int(wait[b]),
                   "send_cycles": int(cycles[b]), "rtl_scale": float(scale_bits.view(np.float64)[b]),
                   "reference_scale": float(scale[b])})
    report.check("neuron.membrane", "analog", "exact: the RTL computes the emulator's readout",
                 "emulator.bss2.neuron (compress) with the C core's float32 readout, as emulator/bss2/reference.py"
                 ).add(got.view(np.uint64) != np.asarray(want, np.float64).view(np.uint64),
                       np.abs(got - want), case)
    report.check("neuron.reset", "digital", "exact: +0 after reset_read", "the reset level (+0 LSB)").add(
        zero != 1, None, lambda j: {**case(j), "rtl_zero_after_reset": int(zero.ravel()[j])})

    lin = charges.astype(np.float64).sum(axis=-1) * scale[:, None] * live[None, :]
    inside = (lin <= kp[None, :]) & (lin >= kn[None, :])
    rel = np.abs(got - lin) / np.maximum(np.abs(lin), 1e-30)
    rel = np.where(inside, np.where(lin == 0, np.abs(got), rel), 0.0)
    report.check("neuron.linearity", "analog",
                 "<= 6 * 2^-24 relative inside the knees: five float32 roundings (three sums, the scale, "
                 "the product)", "analytical: v = gain * S_eff * sum(charges), docs/chip_model.md neuron step 4").add(
        inside & (rel > LINEAR_TOLERANCE), rel, lambda j: {**case(j), "model_v": float(lin.ravel()[j])})
    if compress:
        K = np.broadcast_to
        model_c = emu_neuron.compress(lin, K(kp, lin.shape), K(kn, lin.shape), K(rp, lin.shape), K(rn, lin.shape))
        dev = np.where(~inside, np.abs(got - model_c), 0.0)
        report.check("neuron.compression", "analog",
                     f"<= {COMPRESSION_TOLERANCE:g} LSB beyond the knees: the linear tolerance at |v| < 300 LSB "
                     "(the tanh's slope is below 1) and the float32 rounding of the result",
                     "analytical: docs/chip_model.md compression of the linear excursion, double").add(
            dev > COMPRESSION_TOLERANCE, dev, lambda j: {**case(j), "model_v": float(model_c.ravel()[j])})
        report.figures["compressed_cases"] = int((~inside).sum())
        report.figures["max_beyond_rail_lsb"] = float(np.max(np.maximum(got - rp[None, :], rn[None, :] - got)))
    report.figures.update({"vectors": VECTORS, "neurons": N, "cases": VECTORS * N,
                           "linear_cases": int(inside.sum()),
                           "linear_max_rel_deviation": float(rel.max())})

    region = np.select([lin < rn, lin < kn, lin < 0, lin == 0, lin <= kp, lin <= rp], [0, 1, 2, 3, 4, 5], 6)
    common.sample_unique(cover_range, np.broadcast_to(np.arange(N), region.shape), region)
    sclass = np.select([sends == 1, sends <= 16, sends <= 256], [0, 1, 2], 3)
    dclass = np.select([cycles <= 128, cycles <= 4096, cycles <= 65536], [0, 1, 2], 3)
    common.sample_unique(cover_send, sclass, dclass)
    report.write(dut._log.info)
