"""Weight transforms: a layer's model weight to the weight the chip gets (before rounding).

A :class:`hil.torch.spiking.Synapse` computes its model with its ``weight`` as it is; the
chip gets ``round(transform(weight))``, which must lie in -63..63 (one 6-bit synapse on the
driver's excitatory row for a positive weight, one on its inhibitory row for a negative one).
"""
import torch

from emulator.bss2 import geometry as g

HARDWARE_WEIGHT_MAX = g.SIGNED_WEIGHT_MAX
"""63: the largest magnitude of a signed hardware weight (6 bits on one of two rows)."""


def linear_saturating(weight: torch.Tensor, scale: float = 1.0, min_weight: float = -HARDWARE_WEIGHT_MAX,
                      max_weight: float = HARDWARE_WEIGHT_MAX) -> torch.Tensor:
    """``clamp(scale * weight, min_weight, max_weight)``: the hardware weight of a model weight.

    The clamp is this transform's documented saturation, not a silent clip of an invalid
    value: a model weight beyond ``max_weight / scale`` gets the strongest synapse the
    chip has. Its gradient is the clamp's (``scale`` inside the range, 0 where it
    saturates). ``scale`` is hardware weight units per model weight unit: with the
    default 1 a model weight is a hardware weight; 1 / Q = 1.25 makes a model weight of
    1 a current jump of 1 CADC LSB on the nominal chip (``emulator.bss2.spiking.Q``).
    The chip then gets ``round(...)`` (half to even, as ``torch.round``).
    """
    return torch.clamp(scale * weight, min_weight, max_weight)
