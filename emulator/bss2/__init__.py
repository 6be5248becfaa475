"""BrainScaleS-2-like chip: MAC ("hagen") mode on a C core.

>>> from emulator.bss2 import VirtualChip
>>> chip = VirtualChip("EMU-0007")          # same serial, same chip
"""
from . import geometry
from .chip import MODEL, VirtualChip
from .faults import Faults, StuckBit, StuckCapmemCell, StuckLabelBit
from ..identity import DEFAULT_SERIAL, serial_to_seed

__all__ = ["DEFAULT_SERIAL", "Faults", "MODEL", "StuckBit", "StuckCapmemCell", "StuckLabelBit", "VirtualChip",
           "geometry", "serial_to_seed"]
