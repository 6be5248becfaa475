"""The chip's Verilog behavioural models (``rtl_models/bss2/``) as seen from Python.

``geometry``: the reduced core (:class:`RtlGeometry`) and its map to the full chip;
``fixed_pattern``: a virtual chip's fixed pattern as the models' ``$readmemh`` files;
``build``: building and running the models with cocotb's runner (Icarus or Verilator);
``dut``: :class:`ChipDut`, the chip inside a cocotb test; ``job``: a cocotb test that
runs a list of MAC runs given in files (and the host side that writes and reads them);
``noise``: the temporal-noise generator's coefficients and the emulator's reference draws;
``session`` and ``process``: a simulation serving the board protocol (the rtl backend).

Imports nothing of ``hil.cli`` or ``hil.backends``; cocotb is imported only by ``dut``
and ``job`` (inside the simulator) and by ``build`` when it builds.
"""
from .geometry import RtlGeometry

__all__ = ["RtlGeometry"]
