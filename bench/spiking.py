"""Benchmark of the spiking mode as users call it, against Brian2 and a plain PyTorch loop.

    .venv/bin/python bench/spiking.py [--repeats 21] [--quick] [--brian2-python PY] [--no-brian2] [--no-torch]

The network is a full chip: 512 neurons with nominal parameters (the chip's own
mismatch and noise), 256 synapse drivers (128 per hemisphere), each fed by one
input with a label of its own (bus and row select unique per driver index, compare
mask 31; the address is the hemisphere, so an input reaches only its own
hemisphere's synapses), a random signed 6-bit weight per (input, neuron) on the
driver's excitatory or inhibitory row, Poisson input at 50 kHz per input (chip
time), 1 ms of chip time at dt = 0.1 us (step_ns=100): 10,000 steps x 512 neurons.

Measured in the same run, one after the other:

* the emulator as a user calls it: ``hil.backend.open("emulator")``, one
  ``backend.configure(SpikingConfig(...))``, then ``backend.run(SpikingStimulus(...))``
  repeatedly (the stimulus made once); best and median of ``--repeats``, and the
  neuron-steps per second. Target: the whole call well under 18 ms;
* Brian2 (its default runtime target) with the same neuron model (current-based
  LIF, exponential synapses, refractory; without noise; exponential Euler, as Brian2's
  "exact" integration divides by the difference of the equal time constants), the
  same input trains as a SpikeGeneratorGroup, the same dt: the ``run(1 * ms)`` call
  after a ``restore()`` of the initial state; its first run (code generation and
  compilation) is printed apart and left out of the best. Target: emulator >= 10 x
  faster. Brian2 2.9.0, the last release for Python 3.11 (the ``bench`` extra), does
  not import with numpy 2.4 (it wraps ``ndarray.ptp``, which numpy 2.4 removed): give
  ``--brian2-python`` an interpreter of a venv with ``brian2==2.9.0`` and ``numpy<2.4``,
  and Brian2 runs there, in a child process, on the same trains;
* a plain PyTorch Euler loop (CPU) as a mock mode would write it: dense (time,
  batch, inputs) inputs times (inputs, neurons) weights, then per step the currents
  and membranes, threshold, reset and refractory counter.

Each prints its ratio to the emulator. ``--quick`` (``tox -e bench``) runs 0.1 ms of chip
time, 3 repeats.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if "--brian2-worker" not in sys.argv:   # the Brian2 child process has numpy and brian2 only
    import hil
    from emulator._native import lib
    from emulator.bss2 import capmem, geometry as g
    from hil.bss2 import SpikingConfig, SpikingStimulus

ISA_NAMES = {4: "x86-64-v4 (AVX-512)", 3: "x86-64-v3 (AVX2)", 0: "baseline x86-64"}
TARGET_MS = 18.0
"""The emulator's call for 1 ms of chip time must stay well under this, ms."""
TARGET_VS_BRIAN2 = 10.0
"""Brian2 / emulator, best of the repeats, at least."""
RATE_HZ = 50e3
"""Poisson rate of each input, chip time."""
STEP_NS = 100
INPUTS = 256
NEURONS = 512

# The nominal neuron (docs/spiking.md: capmem.nominal_value of the default levels) in the
# units Brian2 and torch are given.
V_LEAK = 80.0          # LSB
V_RESET = 80.0
V_TH = 125.0
TAU = 10e-6            # membrane and both synaptic time constants, s
REFRACTORY_S = 2e-6    # 250 FPGA cycles
Q = 0.8                # LSB of synaptic current per weight unit (spiking.Q)


def check_nominal() -> None:
    """The constants above are the chip's nominal neuron."""
    levels = capmem.DEFAULT_LEVELS
    assert (V_LEAK, V_RESET, V_TH) == tuple(float(capmem.nominal_value(p, levels[p]))
                                            for p in ("leak", "reset", "threshold"))
    assert TAU == float(capmem.nominal_value("tau_mem", levels["tau_mem"]))


def flag(ok: bool) -> str:
    return "" if ok else "  ** misses target **"


def best_and_median(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def network(seed: int, duration: int):
    """(config, stimulus, signed weights (256 inputs, 512 neurons) in weight units, input trains
    as (input, step) with at most one event per input and step)."""
    rng = np.random.default_rng(seed)
    d = np.arange(g.DRIVERS_PER_HEMISPHERE)
    bus = np.tile((d >> 5).astype(np.uint8), (g.HEMISPHERES, 1))
    select = np.tile((d & 31).astype(np.uint8), (g.HEMISPHERES, 1))
    # Input i = h * 128 + d drives driver (h, d): excitatory row 2d, inhibitory row 2d + 1, and
    # its weights onto the 256 neurons of hemisphere h. 80 % of the inputs are excitatory
    # (weights 0..15), 20 % inhibitory (0..63, about four times stronger: balanced), each
    # synapse present with probability 1/2; the neurons then fire irregularly, about 7 kHz
    # (biologically 7 Hz).
    signed = np.zeros((INPUTS, NEURONS), np.int64)
    weights = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE), np.uint8)
    n = g.COLUMNS_PER_HEMISPHERE
    for h in range(g.HEMISPHERES):
        for dd in range(g.DRIVERS_PER_HEMISPHERE):
            excitatory = rng.random() < 0.8
            w = rng.integers(0, (15 if excitatory else g.WEIGHT_MAX) + 1, n) * (rng.random(n) < 0.5)
            weights[h, 2 * dd + (0 if excitatory else 1)] = w
            signed[h * g.DRIVERS_PER_HEMISPHERE + dd, h * n:(h + 1) * n] = w if excitatory else -w
    row_mode = np.tile(np.array([1, 2], np.uint8), (g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE))
    labels = np.zeros((g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE), np.uint8)
    labels[1] = 1                                   # the address of hemisphere 1's inputs
    cfg = SpikingConfig(weights=weights, labels=labels, row_mode=row_mode, driver_bus=bus, driver_row_select=select,
                        driver_mask=np.full((g.HEMISPHERES, g.DRIVERS_PER_HEMISPHERE), 31, np.uint8))
    # Poisson trains on the grid: an event in step k with probability rate * dt; its time is
    # the cycle floor(k * step_ns / 8), which the emulator applies at grid point k.
    steps = -(-8 * duration // STEP_NS)
    hit = rng.random((steps, INPUTS)) < RATE_HZ * STEP_NS * 1e-9
    k, inp = np.nonzero(hit)                        # sorted by step, then input
    times = (k * STEP_NS) // 8
    h, dd = inp // g.DRIVERS_PER_HEMISPHERE, inp % g.DRIVERS_PER_HEMISPHERE
    label = ((dd >> 5) << 14) | ((dd & 31) << 6) | h
    stim = SpikingStimulus(times=times.astype(np.int64), labels=label.astype(np.uint16), duration=duration,
                           step_ns=STEP_NS)
    return cfg, stim, signed, (inp, k)


def time_emulator(cfg, stim, repeats: int, serial: str) -> tuple[list[float], float, object]:
    with hil.backend.open("emulator", serial=serial) as backend:
        t = time.perf_counter()
        backend.configure(cfg)
        configure = time.perf_counter() - t
        backend.run(stim)                           # the first run makes the step's tables
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            out = backend.run(stim)
            times.append(time.perf_counter() - t)
    return times, configure, out


def time_brian2(signed, trains, duration_s: float, repeats: int, python: str | None):
    """Brian2's times of run(duration) after restore(), its first run's, the target it used and its
    spike count: here, or (``python``) in a child process of that interpreter."""
    if python is None:
        return brian2_run(signed, trains, duration_s, repeats)
    with tempfile.TemporaryDirectory() as tmp:
        inputs, result = Path(tmp) / "net.npz", Path(tmp) / "result.json"
        np.savez(inputs, signed=signed, inp=trains[0], k=trains[1], duration_s=duration_s, repeats=repeats)
        subprocess.run([python, __file__, "--brian2-worker", str(inputs), str(result)], check=True)
        r = json.loads(result.read_text())
    return r["times"], r["first"], r["target"], r["spikes"]


def brian2_worker(inputs: str, result: str) -> None:
    a = np.load(inputs)
    times, first, target, spikes = brian2_run(a["signed"], (a["inp"], a["k"]), float(a["duration_s"]),
                                              int(a["repeats"]))
    Path(result).write_text(json.dumps(dict(times=times, first=first, target=target, spikes=spikes)))


def brian2_run(signed, trains, duration_s: float, repeats: int):
    import brian2 as b2

    b2.prefs.logging.console_log_level = "WARNING"
    b2.start_scope()
    b2.defaultclock.dt = STEP_NS * 1e-9 * b2.second
    inp, k = trains
    source = b2.SpikeGeneratorGroup(INPUTS, inp, k * STEP_NS * 1e-9 * b2.second)
    eqs = """
    dv/dt = (v_leak - v + ie - ii) / tau : 1 (unless refractory)
    die/dt = -ie / tau : 1
    dii/dt = -ii / tau : 1
    """
    neurons = b2.NeuronGroup(NEURONS, eqs, threshold="v >= v_th", reset="v = v_reset",
                             refractory=REFRACTORY_S * b2.second, method="exponential_euler",
                             namespace=dict(v_leak=V_LEAK, v_th=V_TH, v_reset=V_RESET, tau=TAU * b2.second))
    neurons.v = V_LEAK
    groups = [source, neurons]
    for sign, target in ((1, "ie"), (-1, "ii")):
        i, j = np.nonzero(signed * sign > 0)
        syn = b2.Synapses(source, neurons, "w : 1", on_pre=f"{target} += w")
        syn.connect(i=i, j=j)
        syn.w = Q * np.abs(signed[i, j])
        groups.append(syn)
    monitor = b2.SpikeMonitor(neurons)
    net = b2.Network(*groups, monitor)
    net.store()
    t = time.perf_counter()
    net.run(duration_s * b2.second)
    first = time.perf_counter() - t
    times = []
    for _ in range(repeats):
        net.restore()
        t = time.perf_counter()
        net.run(duration_s * b2.second)
        times.append(time.perf_counter() - t)
    return times, first, b2.prefs.codegen.target, int(monitor.num_spikes)


def time_torch(signed, trains, steps: int, repeats: int):
    """Times of a plain Euler loop in torch (CPU, float32, batch 1), and its spike count."""
    import torch

    inp, k = trains
    x = torch.zeros((steps, 1, INPUTS), dtype=torch.float32)
    x[torch.as_tensor(k), 0, torch.as_tensor(inp)] = 1.0
    w = torch.as_tensor(Q * signed, dtype=torch.float32)
    w_exc, w_inh = w.clamp(min=0), (-w).clamp(min=0)
    dt = STEP_NS * 1e-9
    decay, gain = float(np.exp(-dt / TAU)), dt / TAU
    hold_steps = round(REFRACTORY_S / dt)

    def run() -> int:
        with torch.no_grad():
            drive_e, drive_i = x @ w_exc, x @ w_inh      # (steps, 1, neurons)
            v = torch.full((1, NEURONS), V_LEAK)
            ie, ii = torch.zeros_like(v), torch.zeros_like(v)
            hold = torch.zeros_like(v, dtype=torch.int32)
            count = torch.zeros((), dtype=torch.int64)
            for t in range(steps):
                ie = ie * decay + drive_e[t]
                ii = ii * decay + drive_i[t]
                free = hold == 0
                v = torch.where(free, v + gain * (V_LEAK - v + ie - ii), torch.full_like(v, V_RESET))
                hold = torch.where(free, hold, hold - 1)
                spike = v >= V_TH
                v = torch.where(spike, torch.full_like(v, V_RESET), v)
                hold = torch.where(spike, torch.full_like(hold, hold_steps), hold)
                count += spike.sum()
            return int(count)

    spikes = run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return times, spikes, torch.get_num_threads()


def time_frontend(signed, trains, duration: int, repeats: int, serial: str) -> tuple[list[float], int]:
    """``hil.torch.spiking.run`` as a user calls it in the loop: one Synapse(128 -> 512) and a
    Neuron(512) layer (the frontend maps at most 128 inputs, so hemisphere 0's inputs only,
    onto all 512 neurons), on a grid of dt = 1 us (the inputs binned to it), integrated by
    the chip at step_ns = 100; each call builds the graph, runs the chip, maps the readout
    to the grid and computes the model for the gradient (no backward)."""
    import torch

    from hil.torch import spiking

    steps = -(-duration // 125)            # 1 us = 125 FPGA cycles
    inp, k = trains
    mine = inp < INPUTS // 2
    binned = np.zeros((steps, 1, INPUTS // 2), np.float32)
    np.add.at(binned, (k[mine] * STEP_NS // 1000, 0, inp[mine]), 1.0)   # spikes per input and 1-us step
    inputs = torch.from_numpy(binned)
    weight = torch.as_tensor(signed[: INPUTS // 2].T, dtype=torch.float32)   # (neurons, inputs), -63..63
    device = hil.backend.open("emulator", serial=serial)

    def run():
        exp = spiking.Experiment(dt=1e-6, backend=device, step_ns=STEP_NS)
        syn = spiking.Synapse(INPUTS // 2, NEURONS, exp)
        lif = spiking.Neuron(NEURONS, exp)
        with torch.no_grad():
            syn.weight.copy_(weight)
        z = lif(syn(spiking.NeuronHandle(inputs)))
        spiking.run(exp, steps)
        return z

    run()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    device.close()
    return times, steps


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=21, help="timed calls of the emulator (default 21)")
    ap.add_argument("--slow-repeats", type=int, default=5, help="timed calls of Brian2 and torch (default 5)")
    ap.add_argument("--serial", default="EMU-0001", help="serial of the virtual chip (default EMU-0001)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the weights and input trains")
    ap.add_argument("--quick", action="store_true", help="0.1 ms of chip time and 3 repeats (CI)")
    ap.add_argument("--brian2-python", help="run Brian2 with this interpreter (a venv with brian2 and numpy < 2.4)")
    ap.add_argument("--no-brian2", action="store_true", help="leave Brian2 out")
    ap.add_argument("--no-torch", action="store_true", help="leave the torch loop out")
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else args.repeats
    slow = min(repeats, args.slow_repeats)
    if repeats < 1 or slow < 1:
        ap.error("--repeats and --slow-repeats must be >= 1")
    check_nominal()
    duration = 12_500 if args.quick else 125_000     # FPGA cycles: 0.1 ms or 1 ms
    duration_s = duration * g.FPGA_CYCLE_S
    steps = -(-8 * duration // STEP_NS)
    neuron_steps = steps * NEURONS

    cfg, stim, signed, trains = network(args.seed, duration)
    print(f"spiking mode, full chip: {NEURONS} neurons, {INPUTS} inputs at {RATE_HZ / 1e3:.0f} kHz "
          f"({stim.times.size} events), {np.count_nonzero(signed)} synapses, {duration_s * 1e3:g} ms of chip "
          f"time at dt = {STEP_NS} ns ({steps} steps)")
    print(f"code path {ISA_NAMES.get(lib.bss2_isa(), lib.bss2_isa())}, {lib.bss2_threads()} threads "
          f"({os.cpu_count()} CPUs), OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    print(f"best of {repeats} calls (Brian2 and torch: {slow}) [median in brackets]:")

    t_emu, t_cfg, out = time_emulator(cfg, stim, repeats, args.serial)
    emu, emu_med = best_and_median(t_emu)
    ok = emu * 1e3 < TARGET_MS * duration_s / 1e-3
    print(f"emulator  backend.run(SpikingStimulus)  {emu * 1e3:8.2f} ms [{emu_med * 1e3:.2f}]  "
          f"{neuron_steps / emu / 1e6:7.0f} M neuron-steps/s  ({out.spike_times.size} spikes; configure "
          f"{t_cfg * 1e3:.1f} ms once; target < {TARGET_MS * duration_s / 1e-3:g} ms){flag(ok)}")

    t_hx, steps_hx = time_frontend(signed, trains, duration, slow, args.serial)
    hx, hx_med = best_and_median(t_hx)
    print(f"frontend  hil.torch.spiking.run (in the loop, {steps_hx} steps of 1 us)  {hx * 1e3:8.2f} ms "
          f"[{hx_med * 1e3:.2f}]  hil.torch.spiking.run / backend.run {hx / emu:6.1f}")

    if not args.no_brian2:
        try:
            t_b2, first, target, spikes = time_brian2(signed, trains, duration_s, slow, args.brian2_python)
        except (ImportError, AttributeError) as exc:   # not installed, or (2.9.0) not for numpy 2.4
            print(f"brian2    does not import here ({type(exc).__name__}: {exc}); pip install '.[bench]' "
                  f"into a venv with numpy < 2.4 and pass its python as --brian2-python")
        else:
            b2, b2_med = best_and_median(t_b2)
            ratio = b2 / emu
            print(f"brian2    run({duration_s * 1e3:g} ms), target {target!r}  {b2 * 1e3:8.2f} ms [{b2_med * 1e3:.2f}]  "
                  f"{neuron_steps / b2 / 1e6:7.0f} M neuron-steps/s  ({spikes} spikes; first run with code "
                  f"generation {first:.2f} s)  brian2 / emulator {ratio:6.1f} [{b2_med / emu_med:.1f}]  "
                  f"(target >= {TARGET_VS_BRIAN2:g}){flag(ratio >= TARGET_VS_BRIAN2)}")
    if not args.no_torch:
        t_torch, spikes, threads = time_torch(signed, trains, steps, slow)
        tt, tt_med = best_and_median(t_torch)
        print(f"torch     Euler loop (CPU, {threads} threads)  {tt * 1e3:8.2f} ms [{tt_med * 1e3:.2f}]  "
              f"{neuron_steps / tt / 1e6:7.0f} M neuron-steps/s  ({spikes} spikes)  torch / emulator "
              f"{tt / emu:6.1f} [{tt_med / emu_med:.1f}]")
    print(f"load average after: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--brian2-worker"]:
        brian2_worker(*sys.argv[2:4])
        sys.exit(0)
    sys.exit(main())
