"""Block bench of the synapse driver (``rtl_models/bss2/synapse_driver.v``), a cocotb test
module run on the harness ``synapse_driver.v`` beside it by ``hil.rtl.benches.run_bench``.

decode (digital, exact): ``bss2_synapse_driver_decode`` against ``decode`` below, the
    decode as ``synapse_driver.v``'s header documents it. Exhaustive: every 13-bit event
    label x every 5-bit compare mask (262144 cases), each seen by 16 decoders at once,
    one per row mode: 4194304 decodes. The driver's own bus and row select, the hagen
    mode and the event's valid are constrained-random per case (seeded): the bus is the
    label's in 3 of 4 cases, the row select agrees with the label under the mask in
    half, hagen in half, valid is high in 15 of 16, so hits and misses cover every mask
    and row mode, and every address is seen in both modes.
pulse (digital, exact): ``bss2_synapse_driver`` with the chip's driver parameters
    (drivers.hex of the full chip) against ``emulator.bss2.synapse_driver.pulse_table``
    of the serial, bit for bit: every driver (2 x 128) x every activation 0..31 at the
    calibrated trim, at trims 0 and 63 and at a random trim (32768 cases), every driver
    in non-hagen mode (a full pulse, activation 31) and 1024 events that must not hit
    (wrong bus or row select, or not valid): pulse 0.
pulse_model (analog): the same pulses against the analytical curve of the docs
    (``docs/chip_model.md``, driver step 1) in double: the RTL rounds that double once to
    float32, so it may differ by half a float32 ulp (2^-24 relative); on the ideal chip
    the model is activation = pulse and the pulse must equal it.
Coverage: label row select x mask, mask x row mode x hit, label bus x driver bus x hit,
address x hagen; driver x activation and the trims of the pulse cases.
"""
from __future__ import annotations

import time

import cocotb
import numpy as np
from cocotb_coverage.coverage import CoverCross, CoverPoint

from emulator.bss2 import synapse_driver as emu_driver
from emulator.bss2.fixed_pattern import TRIM_NOMINAL, TRIM_STEP
from hil.rtl.benches import common

SEED = 0x5D0
CLOCK_NS = 10
MODES = 16
B = "synapse_driver"


def decode(valid, label, bus, row_select, mask, hagen, row_mode) -> dict:
    """The documented decode (numpy, broadcasting): hit, activation, row_label, row_exc, row_inh."""
    label = np.asarray(label, np.int64)
    same_row = ((((label >> 6) & 31) ^ row_select) & mask) == 0
    hit = ((np.asarray(valid, np.int64) == 1) & ((label >> 11) == bus) & same_row).astype(np.int64)
    hagen = np.asarray(hagen, np.int64)
    activation = np.where(hagen == 1, label & 31, 31)
    row_label = np.where(hagen == 1, label & 32, label & 63)
    lo, hi = np.asarray(row_mode) & 3, (np.asarray(row_mode) >> 2) & 3
    row_exc = (((hi == 1) << 1) | (lo == 1)) * hit
    row_inh = (((hi == 2) << 1) | (lo == 2)) * hit
    return {"hit": hit, "activation": activation, "row_label": row_label, "row_exc": row_exc,
            "row_inh": row_inh}


def _pack(out: dict) -> np.ndarray:
    return (out["hit"] << 15) | (out["activation"] << 10) | (out["row_label"] << 4) | (out["row_exc"] << 2) \
        | out["row_inh"]


# -- coverage ---------------------------------------------------------------------------------
@CoverPoint(f"{B}.decode.sel.label_row_select", xf=lambda s, m: s, bins=list(range(32)))
@CoverPoint(f"{B}.decode.sel.mask", xf=lambda s, m: m, bins=list(range(32)))
@CoverCross(f"{B}.decode.label_row_select_x_mask", items=[f"{B}.decode.sel.label_row_select",
                                                          f"{B}.decode.sel.mask"])
def _cover_select(sel, mask):
    pass


@CoverPoint(f"{B}.decode.mode.mask", xf=lambda m, r, h: m, bins=list(range(32)))
@CoverPoint(f"{B}.decode.mode.row_mode", xf=lambda m, r, h: r, bins=list(range(MODES)))
@CoverPoint(f"{B}.decode.mode.hit", xf=lambda m, r, h: h, bins=[0, 1])
@CoverCross(f"{B}.decode.mask_x_row_mode_x_hit", items=[f"{B}.decode.mode.mask", f"{B}.decode.mode.row_mode",
                                                        f"{B}.decode.mode.hit"])
def _cover_mode(mask, row_mode, hit):
    pass


@CoverPoint(f"{B}.decode.bus.label_bus", xf=lambda a, b, h: a, bins=list(range(4)))
@CoverPoint(f"{B}.decode.bus.cfg_bus", xf=lambda a, b, h: b, bins=list(range(4)))
@CoverPoint(f"{B}.decode.bus.hit", xf=lambda a, b, h: h, bins=[0, 1])
@CoverCross(f"{B}.decode.label_bus_x_cfg_bus_x_hit", items=[f"{B}.decode.bus.label_bus", f"{B}.decode.bus.cfg_bus",
                                                            f"{B}.decode.bus.hit"],
            ign_bins=[(a, b, 1) for a in range(4) for b in range(4) if a != b])   # a hit needs equal buses
def _cover_bus(label_bus, cfg_bus, hit):
    pass


@CoverPoint(f"{B}.decode.addr.address", xf=lambda a, h: a, bins=list(range(64)))
@CoverPoint(f"{B}.decode.addr.hagen", xf=lambda a, h: h, bins=[0, 1])
@CoverCross(f"{B}.decode.address_x_hagen", items=[f"{B}.decode.addr.address", f"{B}.decode.addr.hagen"])
def _cover_address(address, hagen):
    pass


@CoverPoint(f"{B}.pulse.drv.driver", xf=lambda d, a: d, bins=list(range(256)))
@CoverPoint(f"{B}.pulse.drv.activation", xf=lambda d, a: a, bins=list(range(32)))
@CoverCross(f"{B}.pulse.driver_x_activation", items=[f"{B}.pulse.drv.driver", f"{B}.pulse.drv.activation"])
def _cover_pulse(driver, activation):
    pass


@CoverPoint(f"{B}.pulse.trim", bins=list(range(64)))
def _cover_trim(trim):
    pass


COVERAGE = (f"{B}.decode.label_row_select_x_mask", f"{B}.decode.mask_x_row_mode_x_hit",
            f"{B}.decode.label_bus_x_cfg_bus_x_hit", f"{B}.decode.address_x_hagen",
            f"{B}.pulse.driver_x_activation", f"{B}.pulse.trim")


# -- the decode ---------------------------------------------------------------------------------
def decode_cases(rng: np.random.Generator) -> dict:
    """Every label x every mask, with constrained-random bus, row select and valid."""
    label, mask = (a.ravel() for a in np.meshgrid(np.arange(8192), np.arange(32), indexing="ij"))
    n = label.size
    lbus, lsel = label >> 11, (label >> 6) & 31
    bus = np.where(rng.random(n) < 0.75, lbus, rng.integers(0, 4, n))
    agree = lsel ^ (rng.integers(0, 32, n) & ~mask & 31)          # equal to the label under the mask
    row_select = np.where(rng.random(n) < 0.5, agree, rng.integers(0, 32, n))
    valid = (rng.random(n) < 15 / 16).astype(np.int64)
    hagen = rng.integers(0, 2, n)
    return {"valid": valid, "hagen": hagen, "bus": bus, "row_select": row_select, "mask": mask, "label": label}


async def _decode(dut, report: common.Report, workdir) -> None:
    c = decode_cases(np.random.default_rng(SEED))
    n = c["label"].size
    common.write_hex(workdir / "decode_stim.hex", (c["hagen"] << 26) | (c["valid"] << 25) | (c["bus"] << 23) | (c["row_select"] << 18)
                     | (c["mask"] << 13) | c["label"], 27)
    t0 = time.perf_counter()
    await common.run_batch(dut, n, phase=0, timeout_ns=CLOCK_NS * (n + 64))
    report.figures["decode_simulation_seconds"] = round(time.perf_counter() - t0, 3)
    text = (workdir / "decode_resp.hex").read_text().split()
    assert len(text) == n, f"{len(text)} responses for {n} decode cases"
    raw = np.frombuffer(bytes.fromhex("".join(text)), np.uint8).reshape(n, 32)      # 256 bits, big-endian
    words = raw.view(">u2")[:, ::-1].astype(np.int64)                                  # (n, 16): decoder d
    mode = np.arange(MODES)
    want = _pack(decode(c["valid"][:, None], c["label"][:, None], c["bus"][:, None], c["row_select"][:, None],
                        c["mask"][:, None], c["hagen"][:, None], mode[None, :]))
    bad = words != want
    fields = ("hit", "activation", "row_label", "row_exc", "row_inh")

    def unpack(w):
        w = int(w)
        return dict(zip(fields, (w >> 15, (w >> 10) & 31, (w >> 4) & 63, (w >> 2) & 3, w & 3)))

    def case(j):
        k, dd = divmod(j, MODES)
        return {"event_valid": c["valid"][k], "event_label": f"0x{int(c['label'][k]):04x}",
                "cfg_bus": c["bus"][k], "cfg_row_select": c["row_select"][k], "cfg_mask": c["mask"][k],
                "cfg_hagen": c["hagen"][k], "cfg_row_mode": int(mode[dd]),
                "rtl": unpack(words[k, dd]), "reference": unpack(want[k, dd])}

    report.check("synapse_driver.decode", "digital", "exact",
                 "the decode documented in rtl_models/bss2/synapse_driver.v (hil.rtl.benches.synapse_driver.decode)"
                 ).add(bad, bad.astype(float), case)
    hit = (want >> 15) & 1
    common.sample_unique(_cover_select, (c["label"] >> 6) & 31, c["mask"])
    common.sample_unique(_cover_mode, np.repeat(c["mask"], MODES), np.tile(mode, n), hit.ravel())
    common.sample_unique(_cover_bus, c["label"] >> 11, c["bus"], hit[:, 0])
    common.sample_unique(_cover_address, c["label"] & 63, c["hagen"])
    report.figures["decode_cases"] = n
    report.figures["decodes"] = int(bad.size)
    report.figures["decode_hits"] = int(hit.sum())


# -- the pulse ---------------------------------------------------------------------------------
def pulse_cases(chip, rng: np.random.Generator) -> dict:
    """Cases of the pulse driver (see the module docstring), with the expected pulses."""
    p = chip.pattern
    calibrated = emu_driver.calibrated_trims(p).astype(np.int64).ravel()        # (256,)
    drivers, act = (a.ravel() for a in np.meshgrid(np.arange(256), np.arange(32), indexing="ij"))
    parts = []
    for trim in (calibrated[drivers], np.zeros_like(drivers), np.full_like(drivers, 63),
                 rng.integers(0, 64, drivers.size)):
        parts.append((drivers, act, trim, np.ones_like(drivers), np.ones_like(drivers), np.ones_like(drivers)))
    # non-hagen mode: a full pulse whatever the address
    d = np.arange(256)
    parts.append((d, rng.integers(0, 64, 256), calibrated, np.ones(256, np.int64), np.zeros(256, np.int64),
                  np.ones(256, np.int64)))
    # events that must not hit: not valid, another bus, another row select
    m = 1024
    d = rng.integers(0, 256, m)
    parts.append((d, rng.integers(0, 32, m), calibrated[d], np.zeros(m, np.int64), np.ones(m, np.int64),
                  np.zeros(m, np.int64)))
    drv, a, trim, valid, hagen, target = (np.concatenate(x) for x in zip(*parts))
    i = drv % 128
    cfg = (i % 4) | ((i // 4) << 2) | (0x1F << 7) | (0b1001 << 12) | (hagen << 16) | (trim << 17)
    bus, sel = i % 4, i // 4
    # a miss: the event of another driver (another bus or row select) when valid
    other = (i + 1 + rng.integers(0, 127, i.size)) % 128
    lbus = np.where(target == 1, bus, other % 4)
    lsel = np.where(target == 1, sel, other // 4)
    lsel = np.where((target == 0) & (lbus == bus) & (lsel == sel), (sel + 1) % 32, lsel)
    label = (lbus << 11) | (lsel << 6) | a
    valid = np.where(target == 1, valid, rng.integers(0, 2, i.size))
    hit = valid & target
    # the emulator's pulse tables for every trim: table[t] = pulse_table(pattern, all trims t)
    tables = np.stack([emu_driver.pulse_table(p, np.full((2, 128), t, np.uint8)) for t in range(64)])
    eff = np.where(hagen == 1, a & 31, 31)
    want = np.where(hit == 1, tables[trim, drv // 128, i, eff], np.float32(0)).astype(np.float32)
    # the analytical curve (docs/chip_model.md, driver step 1) in double
    x = eff.astype(np.float64)
    g, cu, off = (q.ravel()[drv] for q in (p.driver_gain, p.driver_curvature, p.driver_offset))
    model = np.maximum(x * g * (1.0 + cu * (x / 31.0 - 1.0)) + off + (trim - TRIM_NOMINAL) * TRIM_STEP, 0.0)
    model = np.where((hit == 1) & (eff > 0), model, 0.0)
    if chip.ideal:
        model = np.where(hit == 1, x, 0.0)
    return {"driver": drv, "activation": eff, "address": a, "trim": trim, "valid": valid, "hagen": hagen,
            "label": label, "cfg": cfg, "hit": hit, "want": want, "model": model}


async def _pulse(dut, report: common.Report, chip, workdir) -> None:
    c = pulse_cases(chip, np.random.default_rng(SEED + 1))
    n = c["driver"].size
    common.write_hex(workdir / "pulse_stim.hex", [(int(d) << 37) | (int(v) << 36) | (int(lb) << 23) | int(cf)
                                                  for d, v, lb, cf in zip(c["driver"], c["valid"], c["label"],
                                                                          c["cfg"])], 46)
    t0 = time.perf_counter()
    await common.run_batch(dut, n, phase=1, timeout_ns=CLOCK_NS * (n + 64))
    report.figures["pulse_simulation_seconds"] = round(time.perf_counter() - t0, 3)
    words = common.read_hex(workdir / "pulse_resp.hex")
    assert len(words) == n, f"{len(words)} responses for {n} pulse cases"
    hit = np.array([w >> 64 for w in words], np.int64)
    bits = np.array([w & ((1 << 64) - 1) for w in words], np.uint64)
    got = bits.view(np.float64)
    want_bits = c["want"].astype(np.float64).view(np.uint64)
    bad = (bits != want_bits) | (hit != c["hit"])

    def case(j):
        return {"hemisphere": int(c["driver"][j] // 128), "driver": int(c["driver"][j] % 128),
                "activation": c["activation"][j], "trim": c["trim"][j], "hagen": c["hagen"][j],
                "event_valid": c["valid"][j], "event_label": f"0x{int(c['label'][j]):04x}",
                "cfg": f"0x{int(c['cfg'][j]):06x}", "rtl_hit": hit[j], "reference_hit": c["hit"][j],
                "rtl_pulse": float(got[j]), "reference_pulse": float(c["want"][j]),
                "rtl_bits": f"0x{int(bits[j]):016x}", "reference_bits": f"0x{int(want_bits[j]):016x}"}

    report.check("synapse_driver.pulse", "digital", "exact",
                 "emulator.bss2.synapse_driver.pulse_table of the serial").add(
        bad, np.abs(got - c["want"].astype(np.float64)), case)
    # analytical model: one float32 rounding of the double curve
    scale = np.maximum(np.abs(c["model"]), np.finfo(np.float32).tiny)
    rel = np.abs(got - c["model"]) / scale
    limit = 0.0 if chip.ideal else 2.0 ** -24
    tol = ("exact: the ideal driver's pulse is its activation" if chip.ideal else
           "<= 2^-24 relative: the RTL rounds the model's double curve once to float32 (half an ulp)")
    model = "analytical: pulse = activation" if chip.ideal else \
        "analytical: docs/chip_model.md driver curve a*gain*(1+curv*(a/31-1))+offset+(trim-32)*0.1, floored at 0"
    report.check("synapse_driver.pulse_model", "analog", tol, model).add(
        rel > limit, rel, lambda j: {**case(j), "model_pulse": float(c["model"][j])})
    on = (c["hit"] == 1) & (c["trim"] == emu_driver.calibrated_trims(chip.pattern).astype(np.int64).ravel()[c["driver"]])
    report.figures["pulse_cases"] = n
    report.figures["pulse_max_abs_deviation_from_activation"] = float(
        np.max(np.abs(got[on] - np.where(c["activation"][on] > 0, c["activation"][on], 0))))
    sel = c["hit"] == 1
    common.sample_unique(_cover_pulse, c["driver"][sel], c["activation"][sel])
    for t in np.unique(c["trim"][sel]).tolist():
        _cover_trim(t)


@cocotb.test()
async def synapse_driver(dut):
    """The decode (exhaustive) and the pulse of every driver, then the result file."""
    s = common.settings()
    report = common.Report(s)
    report.coverage = list(COVERAGE)
    from pathlib import Path
    workdir = Path(s["workdir"])
    dut.start.value = 0
    dut.phase.value = 0
    dut.count.value = 0
    from cocotb.triggers import Timer
    await Timer(30, "ns")
    await _decode(dut, report, workdir)
    await _pulse(dut, report, common.chip(s), workdir)
    report.write(dut._log.info)
