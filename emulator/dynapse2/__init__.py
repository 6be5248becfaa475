"""Dynap-SE2-like chip family (docs/dynapse2.md). So far: its geometry and the bias generators
(:mod:`.biasgen`); the DPI neurons and synapses and the CAM/SRAM routing come next (docs/ROADMAP.md).

>>> from emulator.dynapse2 import biasgen
>>> biasgen.current("Itau_mem", 3, 100)         # amperes
"""
from . import biasgen, geometry

__all__ = ["biasgen", "geometry"]
