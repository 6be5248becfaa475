"""Analog resistive crossbar tile family (docs/crossbar.md): the converters (:mod:`.converters`), the pulse
trains (:mod:`.pulses`), the constant-step devices (:mod:`.device`) and the virtual tile
(:class:`VirtualTile`) whose runs the C core computes (:mod:`.reference` defines them in numpy).
"""
from . import converters, device, geometry, pulses
from .tile import DEFAULT_SERIAL, MODEL, VirtualTile

__all__ = ["DEFAULT_SERIAL", "MODEL", "VirtualTile", "converters", "device", "geometry", "pulses"]
