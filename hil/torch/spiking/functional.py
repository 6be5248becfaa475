"""The numerical model of the layers: the mock mode's forward pass, and every backward pass.

Explicit Euler on the dense time grid of step ``dt`` (docs/torch.md#spiking), per step
``t -> t + 1``::

    i[t+1] = i[t] * (1 - dt / tau_syn) + input[t]              (one step of synaptic delay)
    v[t+1] = v[t] + dt / tau_mem * (leak - v[t] + i[t+1])
    z[t+1] = SuperSpike(v[t+1] - threshold)                    (LIF only; not while refractory)
    v[t+1] = reset where z[t+1], and held at reset for the refractory steps after a spike

from ``v[0] = leak``, ``i[0] = 0``. ``input[t]`` is the synapse layer's graded input
(spikes times weights), so an input spike at step t lifts the current at t + 1 and the
membrane from t + 1 on, as on the chip, where the current jumps at the event and the
membrane rises from then on. The reset does not pass a gradient (its spike is detached),
as in hxtorch's LIF.

In the loop, the chip's recorded values replace the model's step by step: each step
starts from the chip's membrane and spikes, and its result is ``hw + (model -
model.detach())``: the chip's value forward, the model's derivative at the chip's state
backward (hxtorch calls this "Unterjubeln").
"""
from dataclasses import dataclass

import torch

SUPERSPIKE_ALPHA = 50.0
"""Steepness of the SuperSpike surrogate (Zenke and Ganguli 2018), as hxtorch's default."""


class SuperSpike(torch.autograd.Function):
    """A spike forward, the SuperSpike surrogate backward.

    forward: ``1.0 where x >= 0 else 0.0`` (x = membrane - threshold; the chip fires at
    ``V >= V_threshold``); backward: ``grad / (alpha * |x| + 1) ** 2``.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = float(alpha)
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        return grad / (ctx.alpha * x.abs() + 1.0) ** 2, None


def superspike(x: torch.Tensor, alpha: float = SUPERSPIKE_ALPHA) -> torch.Tensor:
    """:class:`SuperSpike` applied to ``x`` (membrane minus threshold)."""
    return SuperSpike.apply(x, alpha)


def substitute(model: torch.Tensor, hw: torch.Tensor | None) -> torch.Tensor:
    """``hw`` forward with ``model``'s gradient (``hw + (model - model.detach())``); ``model``
    itself where there is no hardware value. The sum is exactly ``hw``: ``m - m`` is 0."""
    return model if hw is None else hw + (model - model.detach())


@dataclass(frozen=True, eq=False)
class ModelParameters:
    """The model's side of a neuron layer, each (size,) float32 (refractory: int64 steps)."""

    leak: torch.Tensor
    reset: torch.Tensor
    threshold: torch.Tensor
    tau_mem: torch.Tensor
    """Seconds, with dt / tau_mem <= 1 (checked by the layer)."""
    tau_syn: torch.Tensor
    """Seconds, with dt / tau_syn <= 1."""
    refractory_steps: torch.Tensor
    """Steps of dt the membrane is held at reset after a spike (round(refractory_time / dt))."""
    alpha: float = SUPERSPIKE_ALPHA


def lif_integration(input: torch.Tensor, p: ModelParameters, dt: float, hw_spikes: torch.Tensor | None = None,
                    hw_membrane: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The LIF model over ``input`` (time, batch, size): (spikes, membrane, current), each of that shape.

    ``hw_spikes`` / ``hw_membrane`` (same shape, optional): the chip's values on the grid;
    each step then starts from them (see the module's docstring). Spikes are counts (the
    chip's may hold two in one step); a step with any spike resets.
    """
    steps, batch, size = input.shape
    decay_syn = 1.0 - dt / p.tau_syn
    gain_mem = dt / p.tau_mem
    v = p.leak.expand(batch, size).clone()
    if hw_membrane is not None:
        v = hw_membrane[0]
    i = input.new_zeros(batch, size)
    z = input.new_zeros(batch, size) if hw_spikes is None else hw_spikes[0]
    held = torch.zeros(batch, size, dtype=torch.int64)
    spikes, membrane, current = [z], [v], [i]
    reset = p.reset.expand(batch, size)
    for t in range(steps - 1):
        i = i * decay_syn + input[t]
        v_free = v + gain_mem * (p.leak - v + i)
        refractory = held > 0
        v = torch.where(refractory, reset, v_free)
        z = superspike(v - p.threshold, p.alpha) * (~refractory).to(v.dtype)
        z = substitute(z, None if hw_spikes is None else hw_spikes[t + 1])
        fired = z.detach() > 0
        v = torch.where(fired, reset, v)
        held = torch.where(fired, p.refractory_steps, torch.where(refractory, held - 1, held))
        v = substitute(v, None if hw_membrane is None else hw_membrane[t + 1])
        spikes.append(z)
        membrane.append(v)
        current.append(i)
    return torch.stack(spikes), torch.stack(membrane), torch.stack(current)


def li_integration(input: torch.Tensor, p: ModelParameters, dt: float,
                   hw_membrane: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The leaky integrator (the LIF without threshold) over ``input`` (time, batch, size):
    (membrane, current); ``hw_membrane`` as in :func:`lif_integration`."""
    steps, batch, size = input.shape
    decay_syn = 1.0 - dt / p.tau_syn
    gain_mem = dt / p.tau_mem
    v = p.leak.expand(batch, size).clone() if hw_membrane is None else hw_membrane[0]
    i = input.new_zeros(batch, size)
    membrane, current = [v], [i]
    for t in range(steps - 1):
        i = i * decay_syn + input[t]
        v = substitute(v + gain_mem * (p.leak - v + i), None if hw_membrane is None else hw_membrane[t + 1])
        membrane.append(v)
        current.append(i)
    return torch.stack(membrane), torch.stack(current)
