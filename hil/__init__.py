"""The rig: one experiment code for the emulator, RTL simulations and boards.

>>> import hil
>>> with hil.backend.open("emulator") as backend:
...     y = hil.bss2.mac(backend, x, W)
"""
__version__ = "0.1.0"

from . import backend, bss2  # noqa: E402  (public subpackages)

__all__ = ["backend", "bss2", "__version__"]
