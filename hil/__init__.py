"""The rig: one experiment code for the emulator, RTL simulations and boards.

>>> import hil
>>> with hil.backend.open("emulator") as backend:
...     y = hil.bss2.mac(backend, x, W)
...     result = hil.experiment.run("bss2.mac_gain", backend)

The packages (docs/architecture.md): ``contract`` (the Backend contract, the
experiment registry, results, errors), ``backends``, one package per chip
family (``bss2``, ``dynapse2``), ``results`` (store and reports), ``acceptance``,
``server`` (the board-protocol server, the virtual board) and ``cli``.
"""
import sys

__version__ = "0.1.0"

from .contract import backend, errors, experiment  # noqa: E402
from . import bss2, dynapse2  # noqa: E402

# The documented module names: `import hil.backend`, `from hil.errors import ...`
# keep working where the modules live in hil.contract (as os.path names posixpath).
for _name, _module in (("backend", backend), ("errors", errors), ("experiment", experiment)):
    sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = ["backend", "bss2", "dynapse2", "errors", "experiment", "__version__"]
