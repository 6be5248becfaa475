"""``hil.fidelity``: model against measurement, devices side by side (``hil fidelity``).

>>> import hil.fidelity as fidelity
>>> f = fidelity.compare(["bss2.mac_gain"], [fidelity.parse_device("emulator:EMU-0042"),
...                                          fidelity.parse_device("emulator:EMU-0042:ideal")])
>>> f.passed, [c.passed for c in f.checks]
>>> fidelity.write(f, "reports/fidelity")          # fidelity.html, fidelity.json, figures/

- :mod:`.devices`: the device names (``emulator:SERIAL[:ideal]``, ``board:NAME|RESOURCE``);
- :mod:`.compare`: runs or stored runs, the metric table against the model, the exact-match checks;
- :mod:`.figures`: overlays on shared axes with the model's noise band, and residuals;
- :mod:`.report`: fidelity.html and fidelity.json.
"""
from .compare import Check, Fidelity, compare
from .devices import Device, parse_device
from .report import write

__all__ = ["Check", "Device", "Fidelity", "compare", "parse_device", "write"]
