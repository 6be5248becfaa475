"""``ChipDut``: the RTL top level ``bss2_chip`` driven from inside a cocotb test.

Python loads the configuration and a whole batch of inputs through files in the
session directory, pulses a command and awaits its ``done``; the sequencer in the
HDL does the per-cycle work, and the clock is generated in HDL by the wrapper
``bss2_chip_tb`` (``hil/rtl/chip_tb.v``: no Python per cycle, idle waits skipped).
Independent of the board protocol: a Backend wraps it.
"""
import json
from pathlib import Path

import numpy as np

from emulator._native import lib

from .fixed_pattern import PATTERN_FILE
from .geometry import RtlGeometry
from ..contract.errors import InvalidValue

CLOCK_NS = 8
"""The FPGA clock period, ns (125 MHz)."""
MAX_BATCH = 4096
"""Input vectors per sequencer run (the Verilog parameter MAX_BATCH); ``run`` splits larger batches."""
NUM_SENDS_MAX = 1024
WAIT_MAX = 4095
STREAM_MAC_READOUT = 0
"""The emulator's noise stream of the MAC readout (``emulator.bss2.chip``)."""
RUN_COUNTER_MAX = 2**62


def stream_key(seed: int, run_counter: int) -> int:
    """The temporal-noise stream key of run ``run_counter`` of the chip with seed ``seed``:
    the emulator's ``bss2_stream_key(seed, run, MAC readout)``, from its C core."""
    return int(lib.bss2_stream_key(seed, run_counter, STREAM_MAC_READOUT))


def driver_config(trims: np.ndarray) -> np.ndarray:
    """(hemispheres, rows) trims -> the 23-bit MAC-mode configuration word of each driver:
    bus i % 4, row select i // 4 under the full mask, row 2i excitatory, row 2i+1
    inhibitory, hagen mode, the trim (``synapse_driver.v``)."""
    t = np.asarray(trims, np.int64)
    i = np.arange(t.shape[1], dtype=np.int64)[None, :]
    return (i % 4) | ((i // 4) << 2) | (0x1F << 7) | (0b1001 << 12) | (1 << 16) | (t << 17)


def _check(a, field: str, dtype, shape: tuple, lo: int, hi: int) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != dtype or a.ndim != len(shape) \
            or any(s is not None and s != n for s, n in zip(shape, a.shape)) or 0 in a.shape:
        raise InvalidValue(field, f"expected a {shape} {np.dtype(dtype).name} array, got "
                           f"{getattr(a, 'dtype', type(a).__name__)} {getattr(a, 'shape', '')}")
    bad = np.argwhere((a < lo) | (a > hi))
    if bad.size:
        idx = tuple(int(k) for k in bad[0])
        raise InvalidValue(f"{field}[{', '.join(map(str, idx))}]", f"{a[idx]} is outside {lo}..{hi}")
    return a


class ChipDut:
    """The chip ``bss2_chip`` of a cocotb test, for a reduced core ``geometry``.

    ``workdir`` is the session directory (the simulator's +BSS2_DIR), holding the fixed
    pattern written by ``hil.rtl.fixed_pattern.export`` for the same geometry.

    >>> chip = ChipDut(dut, workdir, RtlGeometry())
    >>> await chip.start()
    >>> await chip.configure(weights)                  # (rows, neurons) int8 -63..63
    >>> y = await chip.run(inputs, num_sends=1, wait_between_events=5)   # (batch, neurons) int8
    """

    def __init__(self, dut, workdir, geometry: RtlGeometry):
        self.dut = dut
        self.workdir = Path(workdir)
        self.geometry = geometry
        meta = json.loads((self.workdir / PATTERN_FILE).read_text())
        if RtlGeometry(**meta["geometry"]) != geometry:
            raise InvalidValue("geometry", f"the session's pattern is for {meta['geometry']}, not {geometry}")
        self.pattern = meta
        self.seed = int(meta["seed"])
        """The chip seed (``emulator.identity.serial_to_seed`` of its serial): keys the noise."""
        self.calibrated_trims = np.array(meta["calibrated_trims"], np.uint8)
        """(hemispheres, rows) uint8: the chip's calibrated driver offset trims."""
        self.cycles = 0
        """Clock cycles the last ``run`` took in the simulation (8 ns each)."""

    async def start(self) -> None:
        """Resets the chip (its 125 MHz clock runs in HDL, ``bss2_chip_tb``) and loads the fixed pattern."""
        from cocotb.triggers import RisingEdge
        d = self.dut
        for name in ("load", "configure", "start"):
            getattr(d, name).value = 0
        d.batch.value = 1
        d.num_sends.value = 1
        d.wait_cycles.value = 0
        d.noise_key.value = 0
        d.sample0.value = 0
        d.rst_n.value = 0
        for _ in range(2):
            await RisingEdge(d.clk)
        d.rst_n.value = 1
        await RisingEdge(d.clk)
        await self._command("load")

    async def _command(self, name: str) -> None:
        from cocotb.triggers import ReadOnly, RisingEdge
        d = self.dut
        signal = getattr(d, name)
        signal.value = 1
        await RisingEdge(d.clk)
        signal.value = 0
        await ReadOnly()
        if int(d.done.value) != 1:
            await RisingEdge(d.done)
        await RisingEdge(d.clk)

    async def configure(self, weights: np.ndarray, driver_offset_trim: np.ndarray | None = None) -> None:
        """Writes the synapse array and the drivers for MAC mode.

        weights: (rows, neurons) int8, -63..63; column j is output j (geometry.neuron_index()
        gives its full-chip neuron). driver_offset_trim: (hemispheres, rows) uint8, 0..63, or
        None for the chip's calibrated trims. Takes 2 * rows + 2 clock cycles.
        """
        geo = self.geometry
        w = _check(weights, "weights", np.int8, (geo.rows, geo.neurons), -63, 63).astype(np.int64)
        trims = self.calibrated_trims if driver_offset_trim is None else _check(
            driver_offset_trim, "driver_offset_trim", np.uint8, (geo.hemispheres, geo.rows), 0, 63)
        lines = []
        for h in range(geo.hemispheres):
            block = w[:, h * geo.columns:(h + 1) * geo.columns]
            rows = np.zeros((2 * geo.rows, geo.columns), np.int64)
            rows[0::2] = np.maximum(block, 0)
            rows[1::2] = np.maximum(-block, 0)
            for r in rows:  # {label 0, weight} per column, column 0 in the low bits
                lines.append(f"{sum(int(v) << (12 * c) for c, v in enumerate(r)):0{3 * geo.columns}x}\n")
        (self.workdir / "weights.hex").write_text("".join(lines))
        cfg = driver_config(trims).ravel()
        (self.workdir / "driver_config.hex").write_text("".join(f"{int(v):06x}\n" for v in cfg))
        await self._command("configure")

    async def run(self, inputs: np.ndarray, num_sends: int = 1, wait_between_events: int = 5,
                  run_counter: int = 0) -> np.ndarray:
        """One MAC run: (batch, rows) uint8 activations 0..31 -> (batch, neurons) int8.

        Every vector is sent ``num_sends`` times (1..1024), one event every
        ``wait_between_events`` + 1 cycles of 8 ns (0..4095). ``run_counter`` is the chip's
        run counter for this run (0..2**62; the emulator's, one per run): with the chip
        seed it gives the temporal noise's stream key. Batches above MAX_BATCH are run in
        pieces whose sample indices continue (vector b draws the noise of sample b), so
        pieces do not change a result. ``self.cycles`` is set to the simulated clock
        cycles the run took.
        """
        geo = self.geometry
        x = _check(inputs, "inputs", np.uint8, (None, geo.rows), 0, 31)
        for name, value, hi in (("num_sends", num_sends, NUM_SENDS_MAX), ("wait_between_events",
                                                                          wait_between_events, WAIT_MAX)):
            lo = 1 if name == "num_sends" else 0
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                raise InvalidValue(name, f"{value!r} is outside {lo}..{hi}")
        if isinstance(run_counter, bool) or not isinstance(run_counter, (int, np.integer)) \
                or not 0 <= run_counter <= RUN_COUNTER_MAX:
            raise InvalidValue("run_counter", f"{run_counter!r} is outside 0..{RUN_COUNTER_MAX}")
        key = stream_key(self.seed, int(run_counter))
        d = self.dut
        out = np.empty((x.shape[0], geo.neurons), np.int8)
        c0 = int(d.cycles.value)
        for b0 in range(0, x.shape[0], MAX_BATCH):
            piece = x[b0:b0 + MAX_BATCH]
            (self.workdir / "inputs.hex").write_text(
                "".join(bytes(row[::-1]).hex() + "\n" for row in piece))
            d.batch.value = piece.shape[0]
            d.num_sends.value = int(num_sends)
            d.wait_cycles.value = int(wait_between_events)
            d.noise_key.value = key
            d.sample0.value = b0
            await self._command("start")
            text = (self.workdir / "outputs.hex").read_text().split()
            raw = np.array([np.frombuffer(bytes.fromhex(t), np.uint8)[::-1] for t in text])
            out[b0:b0 + piece.shape[0]] = raw.view(np.int8)
        self.cycles = int(d.cycles.value) - c0
        return out
