"""One layer on the chip: its configuration, its input events, and its readout on the dense grid.

A Synapse -> neuron layer pair is one configuration of the chip and one run per chunk of
the batch (docs/torch.md#spiking):

* input i of the synapse layer is synapse driver i of both hemispheres (at most 128),
  listening to bus ``i // 32`` and row select ``i % 32`` under the full compare mask 31,
  so each input has its own (bus, row select); its events carry the address ``i % 64``;
* the driver's rows 2i (excitatory) and 2i + 1 (inhibitory) hold the signed hardware
  weight: ``max(w, 0)`` on row 2i, ``max(-w, 0)`` on row 2i + 1, both labelled ``i % 64``;
* the layer's neurons are chip neurons (columns) ``columns``: neuron n is column n % 256 of
  hemisphere n // 256;
* batch entry b is trial b; an input spike at step t is an event at cycle
  ``round(t * dt / 8 ns)``; a spike count c is c events at that cycle.

The readout comes back on the grid of step dt: spikes to the step ``ceil(stamp / dt)``
(the first grid point at or after the FPGA's time stamp, where the model would see the
crossing), CADC samples interpolated linearly between the two samples around each grid
point's time, MADC samples as they are.
"""
import math

import numpy as np
import torch

from emulator.bss2 import capmem, geometry as g

from ...bss2.types import SpikingConfig, SpikingStimulus
from ...contract.errors import InvalidValue

INPUTS_MAX = g.DRIVERS_PER_HEMISPHERE
"""128: one synapse driver per input, and 4 buses x 32 row selects tell 128 drivers apart."""
ROW_SELECTS = g.ROW_SELECT_MAX + 1
SPIKE_COUNT_MAX = 255
"""Most spikes of one input in one step this frontend sends (each is one event)."""
CYCLE_S = g.FPGA_CYCLE_S
REFRACTORY_DEFAULT = 250
"""The power-on refractory counter, FPGA cycles (2 us), of the neurons a layer does not use."""
MADC_CODES_PER_LSB = 4.0
"""The nominal MADC gain (codes per CADC LSB, docs/spiking.md#readout): MADC traces are
divided by it to be in the CADC's units."""
GRID_EPS = 1e-9
"""Relative slack of the grid arithmetic in floating point (a time on a grid point stays on it)."""


def input_label(i: np.ndarray) -> np.ndarray:
    """The 16-bit event label of input ``i``: bus i // 32 (bits 14-15), row select i % 32
    (bits 6-10), address i % 64 (bits 0-5)."""
    i = np.asarray(i, np.int64)
    return ((i // ROW_SELECTS) << 14) | ((i % ROW_SELECTS) << 6) | (i % 64)


def layer_config(weights: np.ndarray, columns: np.ndarray, cells: dict[str, np.ndarray],
                 refractory: np.ndarray) -> SpikingConfig:
    """The chip configured for one layer: ``weights`` (out, in) signed integers -63..63,
    ``columns`` (out,) chip neurons, ``cells`` CapMem levels (out,) per neuron cell
    (``leak``, ``reset``, ``threshold``, ``tau_mem``, ``tau_syn_exc``, ``tau_syn_inh``),
    ``refractory`` (out,) FPGA cycles. Every other neuron keeps its power-on values."""
    n_in = weights.shape[1]
    H, R, C, D = g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE, g.DRIVERS_PER_HEMISPHERE
    inputs = np.arange(n_in)
    bus = np.zeros((H, D), np.uint8)
    select = np.zeros((H, D), np.uint8)
    bus[:, :n_in] = inputs // ROW_SELECTS
    select[:, :n_in] = inputs % ROW_SELECTS
    row_mode = np.zeros((H, R), np.uint8)
    row_mode[:, 0:2 * n_in:2] = 1
    row_mode[:, 1:2 * n_in:2] = 2
    labels = np.zeros((H, R, C), np.uint8)
    labels[:, 0:2 * n_in:2, :] = (inputs % 64)[None, :, None]
    labels[:, 1:2 * n_in:2, :] = (inputs % 64)[None, :, None]
    w = np.zeros((H, R, C), np.uint8)
    hemi, col = (columns // C)[:, None], (columns % C)[:, None]
    w[hemi, 2 * inputs[None, :], col] = np.maximum(weights, 0)
    w[hemi, 2 * inputs[None, :] + 1, col] = np.maximum(-weights, 0)
    neuron = {}
    for name, default in capmem.DEFAULT_LEVELS.items():
        level = np.full(g.NEURONS, default, np.uint16)
        if name in cells:
            level[columns] = cells[name]
        neuron[name] = level
    ref = np.full(g.NEURONS, REFRACTORY_DEFAULT, np.uint16)
    ref[columns] = refractory
    return SpikingConfig(weights=w, labels=labels, row_mode=row_mode, driver_bus=bus, driver_row_select=select,
                         driver_mask=np.full((H, D), g.ROW_SELECT_MAX, np.uint8), refractory=ref, **neuron)


def spike_counts(field: str, spikes: torch.Tensor) -> np.ndarray:
    """(time, batch, n) spike counts as int64, refused unless whole numbers 0..255."""
    t = spikes.detach()
    if t.is_complex():
        raise InvalidValue(field, f"has dtype {t.dtype}; expected spike counts 0..{SPIKE_COUNT_MAX}")
    t = t.to(torch.float64)
    # NaN fails every comparison, so it is caught as not a count.
    good = (t >= 0) & (t <= SPIKE_COUNT_MAX) & (t == torch.round(t))
    if not bool(good.all()):
        idx = tuple(int(k) for k in torch.nonzero(~good)[0])
        raise InvalidValue(f"{field}[{', '.join(map(str, idx))}]",
                           f"{t[idx].item():g} is not a spike count; allowed: whole numbers 0..{SPIKE_COUNT_MAX}")
    return t.to(torch.int64).numpy()


def duration_cycles(steps: int, dt: float, cadc_period: int, record_cadc: bool, time_shift: int) -> int:
    """FPGA cycles a layer's run lasts: the grid's window ``steps * dt``, and, with the CADC, up to
    a sample after the last grid point read (``(steps - 1 + time_shift) * dt``) to interpolate to."""
    window = math.ceil(steps * dt / CYCLE_S * (1 - GRID_EPS))
    if not record_cadc:
        return max(window, 1)
    last = max(steps - 1 + time_shift, 0) * dt
    j = math.floor(last / (cadc_period * CYCLE_S) * (1 + GRID_EPS))
    return max(window, (j + 1) * cadc_period + 1)


def stimuli(counts: np.ndarray, dt: float, duration: int, step_ns: int, cadc_period: int, record_cadc: bool,
            madc_neuron: int) -> list[tuple[int, SpikingStimulus]]:
    """The runs of one layer: (first batch entry, stimulus) per chunk of the batch, each chunk
    as many trials as one run holds (1024, and the steps, CADC and MADC bytes of a run)."""
    steps, batch, _ = counts.shape
    probe = SpikingStimulus(times=np.zeros(0, np.int64), labels=np.zeros(0, np.uint16), duration=duration,
                            step_ns=step_ns, record_cadc=record_cadc, cadc_period=cadc_period, madc_neuron=madc_neuron)
    per_run = min(g.TRIALS_MAX, g.STEPS_TIMES_TRIALS_MAX // probe.steps,
                  g.READOUT_BYTES_MAX // max(1, probe.cadc_samples * g.NEURONS),
                  g.READOUT_BYTES_MAX // max(1, 2 * probe.madc_samples))
    if per_run < 1:
        raise InvalidValue("runtime", f"{probe.steps} integration steps of {step_ns} ns do not fit one run "
                                      f"(at most {g.STEPS_TIMES_TRIALS_MAX}); a larger step_ns or a shorter runtime")
    t, b, i = np.nonzero(counts)
    c = counts[t, b, i]
    t, b, i = np.repeat(t, c), np.repeat(b, c), np.repeat(i, c)
    cycles = np.rint(t * (dt / CYCLE_S)).astype(np.int64)
    order = np.lexsort((cycles, b))
    cycles, b, labels = cycles[order], b[order], input_label(i[order]).astype(np.uint16)
    out = []
    for b0 in range(0, batch, per_run):
        b1 = min(batch, b0 + per_run)
        lo, hi = np.searchsorted(b, [b0, b1])
        out.append((b0, SpikingStimulus(times=cycles[lo:hi], labels=labels[lo:hi],
                                        trials=(b[lo:hi] - b0).astype(np.uint16), n_trials=b1 - b0,
                                        duration=duration, step_ns=step_ns, record_cadc=record_cadc,
                                        cadc_period=cadc_period, madc_neuron=madc_neuron)))
    return out


def spikes_to_grid(out: torch.Tensor, readout, columns: np.ndarray, b0: int, dt: float) -> None:
    """Adds the readout's spikes of ``columns`` to ``out`` (time, batch, len(columns)) at step
    ``ceil(stamp * 8 ns / dt)``; spikes past the last step (the run's tail) are left out."""
    position = np.full(g.NEURONS, -1, np.int64)
    position[columns] = np.arange(columns.size)
    k = position[readout.spike_neurons.astype(np.int64)]
    step = np.ceil(readout.spike_times * (CYCLE_S / dt) * (1 - GRID_EPS)).astype(np.int64)
    keep = (k >= 0) & (step < out.shape[0])
    index = (torch.from_numpy(step[keep]), torch.from_numpy(readout.spike_trials[keep].astype(np.int64) + b0),
             torch.from_numpy(k[keep]))
    out.index_put_(index, torch.ones(int(keep.sum())), accumulate=True)


def cadc_to_grid(readout, columns: np.ndarray, query_s: np.ndarray) -> torch.Tensor:
    """(len(query_s), trials, len(columns)) float32: the CADC codes of ``columns`` at the times
    ``query_s`` (s), interpolated linearly between the samples before and after each."""
    times = readout.cadc_times * CYCLE_S
    j = np.clip(np.searchsorted(times, query_s * (1 + GRID_EPS), side="right") - 1, 0, times.size - 2)
    frac = np.clip((query_s - times[j]) / (times[j + 1] - times[j]), 0.0, 1.0)
    codes = torch.from_numpy(readout.cadc[:, :, columns].astype(np.float32))       # (trials, samples, n)
    before, after = codes[:, j], codes[:, j + 1]
    f = torch.from_numpy(frac.astype(np.float32))[None, :, None]
    return (before + f * (after - before)).permute(1, 0, 2).contiguous()


def run_layer(device, weights: np.ndarray, counts: np.ndarray, columns: np.ndarray, cells: dict, refractory: np.ndarray,
              dt: float, step_ns: int, cadc_period: int, record_cadc: bool, madc_neuron: int,
              time_shift: int) -> dict:
    """One layer in the loop: the chip configured, its runs, and their readout on the grid.

    Returns ``spikes`` (time, batch, n) float32 counts; ``cadc`` (time, batch, n) float32
    raw codes at the grid times shifted by ``time_shift`` steps (None without the CADC);
    ``madc`` (samples, batch) float32 raw codes and ``madc_times`` (samples,) s (None without).
    """
    steps, batch, _ = counts.shape
    duration = duration_cycles(steps, dt, cadc_period, record_cadc, time_shift)
    runs = stimuli(counts, dt, duration, step_ns, cadc_period, record_cadc, madc_neuron)
    device.configure(layer_config(weights, columns, cells, refractory))
    spikes = torch.zeros(steps, batch, columns.size)
    query = np.maximum(np.arange(steps) + time_shift, 0) * dt
    cadc, madc = [], []
    madc_keep = None
    for b0, stimulus in runs:
        readout = device.run(stimulus)
        spikes_to_grid(spikes, readout, columns, b0, dt)
        if record_cadc:
            cadc.append(cadc_to_grid(readout, columns, query))
        if madc_neuron >= 0:
            if madc_keep is None:
                madc_keep = readout.madc_times_ns * 1e-9 < steps * dt * (1 - GRID_EPS)
            madc.append(torch.from_numpy(readout.madc[:, madc_keep].astype(np.float32)).t())
    madc_times = None
    if madc_keep is not None:
        madc_times = torch.arange(int(madc_keep.sum()), dtype=torch.float64) * (g.MADC_PERIOD_NS * 1e-9)
    return dict(spikes=spikes, cadc=torch.cat(cadc, dim=1) if cadc else None,
                madc=torch.cat(madc, dim=1) if madc else None, madc_times=madc_times)
