"""The spiking API: LIF networks on the chip's spiking mode in PyTorch (docs/torch.md#spiking).

>>> import torch
>>> from hil.torch import spiking
>>> exp = spiking.Experiment(dt=1e-6)                   # in the loop on the embedded emulated chip
>>> syn = spiking.Synapse(1, 1, exp)
>>> lif = spiking.Neuron(1, exp)                        # the chip's defaults: leak 80, threshold 125
>>> syn.weight.data.fill_(63)                           # hardware weights -63..63 (scale 1)
>>> z = lif(syn(spiking.NeuronHandle(torch.zeros(50, 1, 1))))
>>> spiking.run(exp, 50)                                # z.spikes, z.membrane_cadc: (50, 1, 1)

The forward pass runs on the chip (or the model, ``Experiment(mock=True)``), the backward
pass through the model (:mod:`hil.torch.spiking.functional`) at the chip's values. The
API follows hxtorch.snn's: ``Experiment``, ``Synapse``, ``Neuron``, ``ReadoutNeuron``,
``NeuronHandle``, ``MixedHXModelParameter``, ``run``, ``transforms.linear_saturating``.
"""
from . import functional, transforms
from .backend import Session, init, release
from .experiment import Experiment, run
from .handles import NeuronHandle, SynapseHandle
from .modules import Neuron, ReadoutNeuron, Synapse
from .parameters import MixedHXModelParameter

__all__ = ["Experiment", "MixedHXModelParameter", "Neuron", "NeuronHandle", "ReadoutNeuron", "Session", "Synapse",
           "SynapseHandle", "functional", "init", "release", "run", "transforms"]
