"""Dynap-SE2-like chip family (docs/dynapse2.md): the geometry, the bias generators (:mod:`.biasgen`), the
DPI circuits (:mod:`.circuit`), the router's tables (:mod:`.routing`) and the virtual board
(:class:`VirtualBoard`) whose runs the C core computes (:mod:`.reference` defines them in numpy).

>>> from emulator.dynapse2 import VirtualBoard, biasgen
>>> biasgen.current("Itau_mem", 3, 100)         # amperes
"""
from . import biasgen, circuit, geometry
from .chip import DEFAULT_SERIAL, MODEL, VirtualBoard

__all__ = ["DEFAULT_SERIAL", "MODEL", "VirtualBoard", "biasgen", "circuit", "geometry"]
