"""The perceptron API: the chip's MAC in PyTorch, with the chip in the loop (docs/torch.md).

>>> import torch
>>> from hil.torch import perceptron
>>> y = perceptron.matmul(torch.full((100,), 15.), torch.full((100, 10), 21.))   # about 55..63
>>> y = perceptron.matmul(x, W, num_sends=20, mock=True)          # the linear model instead
>>> model = torch.nn.Sequential(perceptron.nn.Linear(4, 128), perceptron.nn.ConvertingReLU(shift=1),
...                             perceptron.nn.Linear(128, 3, avg=5))

The forward pass runs on the active backend (:func:`init`; the embedded emulated chip
by default), the backward pass on the host through the linear model of the chip, whose
parameters are :func:`get_mock_parameter`.
"""
from . import nn
from .backend import Session, init, release
from .functional import add, argmax, converting_relu, matmul, relu
from .measure import measure_mock_parameter
from .mock import MockParameter, get_mock_parameter, set_mock_parameter

__all__ = ["MockParameter", "Session", "add", "argmax", "converting_relu", "get_mock_parameter", "init",
           "matmul", "measure_mock_parameter", "nn", "release", "relu", "set_mock_parameter"]
