"""A virtual chip's fixed pattern (and its cheap faults) as the RTL models' ``$readmemh`` files.

``export(chip, geometry, directory)`` writes, for the reduced core's positions, every
number the models read at their ``load`` command (the file list is in the header of
``rtl_models/bss2/chip.v``). Floating-point values are written as the 64-bit IEEE
double bit patterns of the values the emulator computes with: float64 parameters as
they are, float32 ones (synapse gains, knees and rails, CADC fraction and slope) as
the doubles of those float32 values, so ``$bitstoreal`` reads them exactly; integers
as hex. The RTL of serial S is then the same chip as the emulator of serial S.

Faults: dead neurons (``live``), stuck weight bits (``stuck_<h>.hex``), missing
codes (``code_map.hex``) and noisy neurons (in ``sigma_read``, ``noise.hex``) are
exported. The temporal noise: ``noise.hex`` (sigma_read with the noisy-neuron faults
added in quadrature, sigma_base, as the float32 values the C core takes), the
generator's coefficients (``noise_coefficients.hex``, read by ``bss2_noise``) and the
chip seed in ``pattern.json``, from which ``ChipDut.run`` computes a run's stream key.
"""
import json
from pathlib import Path

import numpy as np

from emulator.bss2 import cadc, synapse_driver
from . import noise
from .geometry import RtlGeometry
from ..contract.errors import InvalidValue

PATTERN_FILE = "pattern.json"
"""What ``export`` wrote: serial, ideal, geometry, the calibrated trims, the readout path."""


def _doubles(path: Path, values) -> None:
    bits = np.ascontiguousarray(np.asarray(values, dtype=np.float64).ravel()).view(np.uint64)
    path.write_text("".join(f"{int(b):016x}\n" for b in bits))


def _ints(path: Path, values, bits: int) -> None:
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    path.write_text("".join(f"{int(v) & mask:0{digits}x}\n" for v in np.asarray(values).ravel()))


def readout_path(chip) -> dict:
    """The readout the emulator's C core takes for this chip: ``f32_readout`` (the float32
    path of a chip that compresses or has noise; else the exact double path of the ideal
    chip), ``compress``, ``leak_on`` (a finite leak time constant)."""
    p = chip.pattern
    compress = not chip.ideal
    noisy = compress or bool(np.any(chip._sigma_read() != 0) or np.any(p.sigma_base != 0))
    return {"f32_readout": int(noisy), "compress": int(compress), "leak_on": int(np.isfinite(p.tau_leak))}


def export(chip, geometry: RtlGeometry, directory) -> Path:
    """Writes the fixed pattern of ``chip`` (an ``emulator.bss2.VirtualChip``) for the
    reduced core ``geometry`` into ``directory`` (created if missing); returns it.

    Also writes ``pattern.json`` (serial, chip seed, ideal, geometry, the chip's
    calibrated driver trims as a (hemispheres, rows) list, the readout path) and the
    noise generator's coefficients. Raises ``InvalidValue`` if a
    channel's digital CADC offset lies outside 0..255 (the ramp could not reach all
    codes then; never on a drawn chip).
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    p, f = chip.pattern, chip.faults
    H, R, C = geometry.hemispheres, geometry.rows, geometry.columns
    neurons = geometry.neuron_index()

    _doubles(d / "drivers.hex", np.stack([p.driver_gain[:H, :R], p.driver_curvature[:H, :R],
                                          p.driver_offset[:H, :R]], axis=-1))
    for h in range(H):
        _doubles(d / f"synapse_gain_{h}.hex", np.asarray(p.synapse_gain[h, :2 * R, :C], np.float32))
        stuck = np.zeros((2 * R, C), np.int64)
        for s in f.stuck_bits:
            if s.hemisphere == h and s.row < 2 * R and s.column < C:
                stuck[s.row, s.column] |= (1 << (6 + s.bit)) | ((1 << s.bit) if s.value else 0)
                if not s.value:
                    stuck[s.row, s.column] &= ~(1 << s.bit)
        _ints(d / f"stuck_{h}.hex", stuck, 12)
        _doubles(d / f"column_{h}.hex", np.concatenate([[p.line_attenuation[h]],
                                                        p.neuron_gain[h * 256:h * 256 + C]]))
    f32 = lambda a: np.asarray(a, np.float32)[neurons]  # noqa: E731
    _doubles(d / "neurons.hex", np.stack([f32(p.knee_pos), f32(p.knee_neg), f32(p.rail_pos),
                                          f32(p.rail_neg)], axis=-1))
    live = np.ones(512, np.int64)
    live[list(f.dead_neurons)] = 0
    _ints(d / "live.hex", live[neurons], 1)
    whole, frac = cadc.baseline_code_split(p)
    whole = whole[neurons].astype(np.int64)
    if whole.min() < 0 or whole.max() > 255:
        raise InvalidValue("cadc offset", f"digital offsets {whole.min()}..{whole.max()} outside 0..255")
    _doubles(d / "cadc.hex", np.stack([f32(frac), f32(p.cadc_slope)], axis=-1))
    _ints(d / "cadc_offset.hex", whole, 10)
    _doubles(d / "noise.hex", np.stack([f32(chip._sigma_read()), f32(p.sigma_base)], axis=-1))
    noise.write_coefficients(d / noise.COEFFICIENT_FILE)
    tau = p.tau_leak if np.isfinite(p.tau_leak) else 1.0
    _doubles(d / "chip.hex", [p.gain, tau])
    path = readout_path(chip)
    _ints(d / "flags.hex", [path["f32_readout"] | path["compress"] << 1 | path["leak_on"] << 2], 3)
    _ints(d / "ramp.hex", [-int(whole.max()), 255 - int(whole.min())], 10)
    _ints(d / "code_map.hex", cadc.code_map(f.missing_codes), 8)
    trims = synapse_driver.calibrated_trims(p)[:H, :R]
    (d / PATTERN_FILE).write_text(json.dumps({
        "serial": chip.serial, "seed": int(chip.seed), "ideal": chip.ideal,
        "geometry": {"rows": R, "columns": C, "hemispheres": H},
        "calibrated_trims": trims.astype(int).tolist(), **path}, indent=1))
    return d


def noise_free(chip):
    """The emulator's noise-free twin of ``chip``: the same serial, ideal flag and faults
    (noisy neurons dropped), with ``sigma_read`` and ``sigma_base`` zeroed, on the C core.
    It takes the same readout path as ``chip`` (float32 when the chip compresses): the
    chip without its temporal noise, for comparisons that leave the noise out."""
    import dataclasses

    from emulator.bss2 import VirtualChip
    quiet = VirtualChip(chip.serial, ideal=chip.ideal,
                        faults=dataclasses.replace(chip.faults, noisy_neurons=()))
    zeros = np.zeros_like(quiet.pattern.sigma_read)
    quiet.pattern = dataclasses.replace(quiet.pattern, sigma_read=zeros, sigma_base=zeros)
    quiet._readout = quiet._make_readout()  # the emulator's readout of the changed pattern
    return quiet
