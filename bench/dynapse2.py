"""Benchmark of the Dynap-SE2-like virtual board as users call it, against the numpy definition of the same
run and, where the ``peers`` extra is installed, rockpool's DynapSim.

    .venv/bin/python bench/dynapse2.py [--repeats 5] [--quick] [--no-reference]

The network: one chip (mesh 1 x 1), 1024 DPI neurons (4 cores x 256) at the default biases; 256 Poisson input
channels at 20 Hz, channel j entering every core with tag j, which neuron j of each core hears through one
AMPA CAM entry (base weight Iw_0); 10,000 steps at rockpool's default dt of 1 ms (the network and input of
``hil.dynapse2.rockpool``'s DynapSim bridge). Measured in the same run, one after the other:

* the emulator as a user calls it: ``hil.backend.open("emulator", family="dynapse2", mesh=(1, 1))``, one
  ``configure(Config)``, then ``run(Stimulus)`` (the stimulus made once); best and median of ``--repeats``,
  and the neuron-steps per second;
* the numpy definition of the run (``emulator.dynapse2.reference.run``, the same equations vectorised over
  the neurons; bit for bit the same spikes) on the same network, over ``--reference-steps`` steps (its time
  scaled to 10,000 steps: it is linear in the steps);
* rockpool's DynapSim (jax, CPU) on the same network and the same input raster, if rockpool imports: its
  first call (jit compilation) apart, then the best of ``--repeats`` (``hil.dynapse2.rockpool``). Target:
  the emulator at least 100 x faster.

Then the router's throughput: a 4-chip board (2 x 2) on which every neuron sends to 4 destinations, each
reaching all 4 cores of a random chip, where 16 neurons of each core listen to each tag; ``run(RouteProbe)``
of 4096 spikes, deliveries per second. ``--quick`` (``tox -e bench``) runs 1000 steps and 2 repeats.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hil  # noqa: E402
from emulator._native import lib  # noqa: E402
from emulator.dynapse2 import geometry as g, reference  # noqa: E402
from hil.dynapse2 import Config, RouteProbe, Stimulus  # noqa: E402

ISA_NAMES = {4: "x86-64-v4 (AVX-512)", 3: "x86-64-v3 (AVX2)", 0: "baseline x86-64"}
TARGET_VS_DYNAPSIM = 100.0
RATE_HZ = 20.0
DT = 1e-3


def network(seed: int = 0) -> Config:
    """Every neuron of a 1-chip board hears its own tag (its index in its core) through CAM entry 0."""
    c = Config.default(mesh=(1, 1))
    a = {k: v.copy() for k, v in c.arrays().items()}
    a["cam_tag"][0, :, 0] = np.arange(g.NEURONS) % g.NEURONS_PER_CORE
    a["cam_type"][0, :, 0] = 0
    a["cam_weights"][0, :, 0] = 0b0001
    return Config(**a, mesh_width=1, mesh_height=1)


CHANNELS = g.NEURONS_PER_CORE


def poisson(steps: int, seed: int = 0) -> np.ndarray:
    """(steps, 256) event counts: each channel's Poisson train at RATE_HZ."""
    return np.random.default_rng(seed).poisson(RATE_HZ * DT, (steps, CHANNELS))


def stimulus(raster: np.ndarray) -> Stimulus:
    """Channel j's events with tag j into every core of chip 0, core by core (``rockpool.raster_stimulus``'s
    order, so that the rockpool bridge and this give the board the same run)."""
    t, j = np.nonzero(raster)
    t, j = np.repeat(t, raster[t, j]), np.repeat(j, raster[t, j])
    times, tags = np.repeat(t, g.CORES), np.repeat(j, g.CORES)
    cores = np.tile(np.arange(g.CORES), len(t))
    return Stimulus(times=times, tags=tags, chips=np.zeros_like(times), cores=cores, duration=raster.shape[0], dt=DT)


def timed(fn, repeats: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--reference-steps", type=int, default=300)
    p.add_argument("--quick", action="store_true", help="1000 steps, 2 repeats")
    p.add_argument("--no-reference", action="store_true", help="leave the numpy definition out")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.repeats, args.reference_steps = 1000, 2, 100
    print(f"code path: {ISA_NAMES.get(lib.bss2_isa(), lib.bss2_isa())}")
    config, raster = network(), poisson(args.steps)
    stim = stimulus(raster)
    board = hil.backend.open("emulator", family="dynapse2", mesh=(1, 1), serial="EMU-D2-BENCH")
    board.configure(config)
    times, out = timed(lambda: board.run(stim), args.repeats)
    best, median = min(times), statistics.median(times)
    neuron_steps = g.NEURONS * args.steps
    print(f"emulator run(): {len(stim.times)} input events, {len(out.times)} output spikes; best {best * 1e3:.1f} ms, "
          f"median {median * 1e3:.1f} ms of {args.repeats}; {neuron_steps / best / 1e6:.1f} M neuron-steps/s")
    scaled = best * 10_000 / args.steps
    if not args.no_reference:
        vb = board.board
        ref_stim = stimulus(poisson(args.reference_steps))
        t0 = time.perf_counter()
        reference.run(vb.step(DT), vb._tables, vb.weights, ref_stim.times, ref_stim.tags, ref_stim.chips, ref_stim.cores,
                      args.reference_steps, key=0)
        t_ref = (time.perf_counter() - t0) * args.steps / args.reference_steps
        print(f"numpy definition: {t_ref:.2f} s for {args.steps} steps (measured over {args.reference_steps}); "
              f"ratio {t_ref / best:.0f} x the emulator")
    try:
        import rockpool  # noqa: F401  (the peers extra)
        from hil.dynapse2 import rockpool as peer
    except ImportError as exc:
        print(f"DynapSim: not measured ({exc}); install the peers extra (tox -e peers)")
    else:
        module = peer.dynapsim_network(config, n_in=CHANNELS, dt=DT)
        t0 = time.perf_counter()
        peer.dynapsim_run(module, raster)
        first = time.perf_counter() - t0
        rp_times, _ = timed(lambda: peer.dynapsim_run(module, raster), args.repeats)
        rp = min(rp_times)
        print(f"DynapSim: first call {first:.2f} s (compilation), best {rp:.2f} s; ratio {rp / best:.0f} x the emulator "
              f"(target >= {TARGET_VS_DYNAPSIM:.0f} x)")
    print(f"(the emulator scaled to 10,000 steps: {scaled * 1e3:.1f} ms)")

    # The router: 4 chips, every neuron to 4 destinations, each all 4 cores of a random chip.
    rng = np.random.default_rng(1)
    c = Config.default()
    a = {k: v.copy() for k, v in c.arrays().items()}
    chips = c.chips
    src = np.arange(chips)[:, None, None]
    dest = rng.integers(0, chips, a["sram_tag"].shape)
    a["sram_tag"][:] = rng.integers(0, 256, a["sram_tag"].shape)
    a["sram_cores"][:] = 0b1111
    a["sram_dx"][:], a["sram_dy"][:] = dest % 2 - src % 2, dest // 2 - src // 2
    local = np.arange(g.NEURONS) % g.NEURONS_PER_CORE
    # 16 neurons of each core listen to each of the 256 tags: entry e of neuron j holds tag (j // 16) * 16 + e
    for e in range(16):
        a["cam_tag"][:, :, e] = (local // 16) * 16 + e
        a["cam_weights"][:, :, e] = 1
    routed = Config(**a)
    board4 = hil.backend.open("emulator", family="dynapse2", serial="EMU-D2-BENCH")
    board4.configure(routed)
    probe = RouteProbe(spike_chips=np.repeat(np.arange(chips), g.NEURONS), spike_neurons=np.tile(np.arange(g.NEURONS), chips),
                       input_tags=np.zeros(0, int), input_chips=np.zeros(0, int), input_cores=np.zeros(0, int))
    r_times, log = timed(lambda: board4.run(probe), args.repeats)
    rb = min(r_times)
    print(f"router run(): {probe.sources} spikes x 4 destinations x 4 cores -> {len(log)} deliveries; best "
          f"{rb * 1e3:.1f} ms: {len(log) / rb / 1e6:.2f} M deliveries/s, {probe.sources / rb / 1e3:.0f} k spikes/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
