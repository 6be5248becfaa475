"""The PyTorch frontend: training with the chip in the loop (docs/torch.md).

``hil.torch.perceptron`` is the perceptron ("hagen mode") API users of such chips
know: ``matmul`` with the forward pass on any backend and the backward pass through
the linear model of the chip, its mock mode, int8 functional operations and layers.
``hil.torch.spiking`` is the spiking API (hxtorch.snn's shape): LIF layers on the chip's
spiking mode, with a numerical model for the mock mode and the backward pass.
``hil.torch.crossbar`` is the analog crossbar API (aihwkit's shape): ``AnalogLinear`` layers on a
crossbar tile, trained by the tile's pulsed update through ``AnalogSGD``.
``hil.torch.yin_yang`` is the Yin-Yang data set the examples train on.

This package imports torch; ``import hil`` does not import it.
"""
from . import crossbar, perceptron, spiking, yin_yang

__all__ = ["crossbar", "perceptron", "spiking", "yin_yang"]
