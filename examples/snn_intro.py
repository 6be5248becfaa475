"""Spiking networks on the chip with hil.torch.spiking (seed 002's tour): one neuron in the loop
and in mock mode, aligning the model to the chip, and training a leaky-integrator readout.

    python examples/snn_intro.py [--backend emulator] [--serial EMU-0001]
    python examples/snn_intro.py --quick            # fewer trials and epochs (about 20 s)

1. A single LIF neuron with the chip's default parameters (leak 80, threshold 125 CADC LSB)
   gets four input spikes through a synapse of weight 63, in the loop; its spikes and CADC
   trace come back on the dense grid (time, batch, neurons) of dt = 1 us.
2. The same in mock mode: the numerical model on the same grid.
3. Alignment: the model takes leak 0, reset 0 and threshold 1, the chip keeps 80/80/125.
   The baseline (no input) and the threshold (strong inputs every step, the largest CADC
   value above the baseline) are measured; the trace scale is 1 / (threshold - baseline). Then the
   weight scale (hardware weight per model weight) that makes one input's PSP on the chip
   match the model's: a least-squares estimate from the PSP at full weight (the PSP is
   linear in the weight), refined over the whole hardware weights around it.
4. Training: 3 leaky-integrator readout neurons, fed by 128 Poisson inputs (3 % per step),
   learn to follow three sums of sines (MSE, Adam), in the loop; the loss before and after
   is printed. The chip is uncalibrated (docs/spiking.md#capmem-cells-and-their-transfer-curves):
   its mismatch is what the alignment and the training absorb.
"""
import argparse
import math
import time
from dataclasses import dataclass
from functools import partial

import torch

import hil
from hil.torch import spiking
from hil.torch.spiking.transforms import linear_saturating

DT = 1e-6
"""The grid step, s (the seed's)."""
STEPS = 50
"""Steps of the single-neuron experiments (50 us)."""
MODEL = dict(leak=0.0, reset=0.0, threshold=1.0)
"""The model's neuron in the alignment and the training (the seed's)."""
CHIP = dict(leak=80.0, reset=80.0, threshold=125.0)
"""The chip's (its power-on values, CADC LSB)."""
LADDER = 8
"""Input strengths of the threshold measurement: 1..8 events per step."""


@dataclass(frozen=True)
class Alignment:
    """What maps the chip's traces onto the model's."""

    baseline: float
    """Mean CADC value at rest, LSB (the trace offset)."""
    threshold: float
    """Largest CADC value above the baseline under strong input, LSB."""
    trace_scale: float
    """Model units per CADC LSB: model threshold / measured threshold."""
    weight_scale: float
    """Hardware weight per model weight at which the PSPs match."""
    psp_error: float
    """RMS difference of the chip's mean PSP and the model's at that scale, model units."""


def single_neuron(device, inputs: torch.Tensor, weight: float, mock: bool = False, **neuron) -> spiking.NeuronHandle:
    """One Synapse(1, 1) -> Neuron(1) experiment on ``inputs`` (time, batch, 1)."""
    exp = spiking.Experiment(dt=DT, mock=mock, backend=device)
    syn = spiking.Synapse(1, 1, exp, transform=partial(linear_saturating, scale=neuron.pop("weight_scale", 1.0)))
    lif = spiking.Neuron(1, exp, **neuron)
    syn.weight.data.fill_(weight)
    z = lif(syn(spiking.NeuronHandle(inputs)))
    spiking.run(exp, inputs.shape[0])
    return z


def tour(device, report=print) -> None:
    """Steps 1 and 2: one neuron in the loop (CADC and MADC) and in mock mode."""
    inputs = torch.zeros(STEPS, 1, 1)
    inputs[[10, 15, 20, 30]] = 1
    z = single_neuron(device, inputs, 63.0, enable_madc_recording=True, record_neuron_id=0)
    report(f"in the loop: spikes {tuple(z.spikes.shape)} at steps {_steps(z.spikes)}, "
           f"CADC {tuple(z.membrane_cadc.shape)} from {z.membrane_cadc.min().item():.1f} "
           f"to {z.membrane_cadc.max().item():.1f} LSB, MADC {tuple(z.membrane_madc.shape)} (one sample per 34 ns)")
    m = single_neuron(device, inputs, 50.0, mock=True)
    report(f"mock mode:   spikes at steps {_steps(m.spikes)}, membrane from {m.membrane_cadc.min().item():.1f} "
           f"to {m.membrane_cadc.max().item():.1f} (the model's units; the chip's synapses are 0.8 LSB per weight)")


def _steps(spikes: torch.Tensor) -> list[int]:
    return torch.nonzero(spikes[:, 0, 0]).flatten().tolist()


def aligned_trace(device, inputs, mock=False, weight_scale=1.0, trace_offset=0.0, trace_scale=1.0,
                  runs: int = 10) -> torch.Tensor:
    """(time,) the mean over ``runs`` trials of the aligned neuron's trace (model weight 1)."""
    batch = inputs.expand(-1, 1 if mock else runs, -1)
    params = {k: spiking.MixedHXModelParameter(MODEL[k], CHIP[k]) for k in MODEL}
    z = single_neuron(device, batch, 1.0, mock=mock, weight_scale=weight_scale, trace_offset=trace_offset,
                      trace_scale=trace_scale, **params)
    return z.membrane_cadc.detach()[:, :, 0].mean(dim=1)


def align(device, runs: int, report=print) -> Alignment:
    """Step 3: baseline, threshold, trace scale and weight scale, measured on ``device``."""
    baseline = aligned_trace(device, torch.zeros(STEPS, 1, 1), weight_scale=63.0, runs=runs).mean().item()
    report(f"CADC baseline: {baseline:.2f} LSB (the chip's leak is set to 80)")
    # Strong input, every step: a ladder of strengths (1..8 events of hardware weight 2 per step)
    # whose steady states lie below and above the threshold. The CADC never reads the crossing
    # itself (the neuron resets at once); the largest value it reads comes from the strengths
    # that approach the threshold slowly, and lies within about 1 LSB below it.
    exp = spiking.Experiment(dt=DT, backend=device)
    syn = spiking.Synapse(1, 1, exp, transform=partial(linear_saturating, scale=2.0))
    lif = spiking.Neuron(1, exp, **{k: spiking.MixedHXModelParameter(MODEL[k], CHIP[k]) for k in MODEL},
                         trace_offset=baseline)
    syn.weight.data.fill_(1.0)
    ladder = torch.arange(1.0, LADDER + 1).repeat(runs)[None, :, None].expand(STEPS, -1, -1)
    z = lif(syn(spiking.NeuronHandle(ladder)))
    spiking.run(exp, STEPS)
    highest = z.membrane_cadc.detach()[:, :, 0].unflatten(1, (runs, LADDER)).amax(dim=(0, 2))
    threshold = highest.mean().item()
    trace_scale = MODEL["threshold"] / threshold
    report(f"threshold above the baseline: {threshold:.2f} LSB (set: 125 - 80 = 45); trace scale {trace_scale:.4f}")

    psp = torch.zeros(STEPS, 1, 1)
    psp[10] = 1
    model = aligned_trace(device, psp, mock=True)
    trace = partial(aligned_trace, device, psp, trace_offset=baseline, trace_scale=trace_scale, runs=runs)
    full = trace(weight_scale=63.0)
    estimate = 63.0 * float(model @ full / (full @ full))     # least squares: the PSP is linear in the weight
    errors = {}
    for scale in range(max(1, round(estimate) - 2), min(63, round(estimate) + 2) + 1):
        errors[scale] = float((trace(weight_scale=float(scale)) - model).pow(2).mean().sqrt())
    best = min(errors, key=errors.get)
    report(f"weight scale: {estimate:.1f} estimated, {best} best (PSP RMS error {errors[best]:.4f} model units; "
           f"the model's PSP peaks at {model.max().item():.3f})")
    return Alignment(baseline, threshold, trace_scale, float(best), errors[best])


def sine_targets(outputs: int, steps: int, gen: torch.Generator) -> torch.Tensor:
    """(steps, 1, outputs): per output a sum of three sines of random sign and period (0.5 to
    3.3 times the run), scaled to a largest magnitude of 1."""
    targets = torch.zeros(steps, 1, outputs)
    for n in range(outputs):
        for _ in range(3):
            sign = 1.0 if torch.rand(1, generator=gen).item() < 0.5 else -1.0
            cycles = 0.3 + 1.7 * torch.rand(1, generator=gen).item()
            targets[:, 0, n] += sign * torch.sin(torch.linspace(0, 2 * math.pi * cycles, steps))
    return targets / targets.abs().amax(dim=0, keepdim=True)


def train(device, alignment: Alignment, epochs: int, lr: float, steps: int = 100, seed: int = 0,
          report=print) -> list[float]:
    """Step 4: the readout in the loop; returns the loss of every epoch."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    targets = sine_targets(3, steps, gen)
    inputs = (torch.rand(steps, 1, 128, generator=gen) < 0.03).float()
    exp = spiking.Experiment(dt=DT, backend=device)
    synapse = spiking.Synapse(128, 3, exp, transform=partial(linear_saturating, scale=alignment.weight_scale))
    readout = spiking.ReadoutNeuron(3, exp, leak=spiking.MixedHXModelParameter(0.0, 80.0), shift_cadc_to_first=True,
                                    trace_scale=alignment.trace_scale)
    optimizer = torch.optim.Adam(synapse.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        y = readout(synapse(spiking.NeuronHandle(inputs)))
        spiking.run(exp, steps)
        loss = torch.nn.functional.mse_loss(y.membrane_cadc, targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1:
            report(f"epoch {epoch:4d}: loss {loss.item():.4f}")
    return losses


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", default="emulator", help="the device (default: the emulated chip)")
    ap.add_argument("--serial", default=None, help="serial of the emulated chip")
    ap.add_argument("--resource", default=None, help="a board's VISA resource (with --backend board)")
    ap.add_argument("--runs", type=int, default=10, help="trials averaged per alignment measurement")
    ap.add_argument("--epochs", type=int, default=200, help="training epochs (one run each)")
    ap.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (the seed's)")
    ap.add_argument("--quick", action="store_true", help="5 runs per measurement, 40 epochs at lr 1e-2")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.runs, args.epochs, args.lr = 5, 40, 1e-2
    torch.manual_seed(args.seed)
    options = {k: v for k, v in (("serial", args.serial), ("resource", args.resource)) if v}
    t0 = time.perf_counter()
    with hil.backend.open(args.backend, **options) as device:
        print(f"device: {device!r}")
        tour(device)
        alignment = align(device, args.runs)
        losses = train(device, alignment, args.epochs, args.lr, seed=args.seed)
    print(f"loss: {losses[0]:.4f} at the first epoch, {losses[-1]:.4f} at the last "
          f"({losses[-1] / losses[0]:.1%} of the first); {time.perf_counter() - t0:.0f} s in all")
    return {"alignment": alignment, "losses": losses}


if __name__ == "__main__":
    main()
