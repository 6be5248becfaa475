"""The Dynap-SE2-like family (docs/dynapse2.md): its types (:class:`Config`, :class:`Stimulus`,
:class:`Readout`, :class:`RouteProbe`, :class:`RouteLog`), its models (:mod:`.models`) and experiments, and
the bias generators' transfer:

>>> hil.dynapse2.bias_current("Itau_mem", 3, 100)      # amperes
>>> hil.dynapse2.bias_setting("Itau_mem", 5e-9)        # (coarse, fine)

Bad input is refused with :class:`hil.errors.InvalidValue` naming the field, the value and what is allowed.
"""
import numpy as np

from emulator.dynapse2 import biasgen as _biasgen
from emulator.errors import InvalidInput

from ..contract.errors import InvalidValue
from .types import FAMILY, SYNAPSE_TYPES, Config, Readout, RouteLog, RouteProbe, Stimulus

PARAMETERS = _biasgen.PARAMETERS
"""The core parameters a bias generator sets (``Itau_mem``, ``Igain_ampa``, ``Iw_0``, ...)."""


def bias_current(parameter: str, coarse, fine) -> np.ndarray:
    """The current (A) the generator of ``parameter`` gives at (``coarse`` 0..5, ``fine`` 0..255) on the
    nominal chip: the measured table of its transistor type times its scale factor
    (docs/dynapse2.md#bias-generators). coarse and fine broadcast; a scalar pair gives a 0-d array."""
    try:
        return _biasgen.current(parameter, coarse, fine)
    except InvalidInput as e:
        raise InvalidValue(e.field, e.problem) from None


def bias_setting(parameter: str, current: float) -> tuple[int, int]:
    """The (coarse, fine) of ``parameter`` whose current lies nearest ``current`` (A, finite, >= 0)."""
    try:
        return _biasgen.setting(parameter, current)
    except InvalidInput as e:
        raise InvalidValue(e.field, e.problem) from None


__all__ = ["FAMILY", "PARAMETERS", "SYNAPSE_TYPES", "Config", "Readout", "RouteLog", "RouteProbe", "Stimulus",
           "bias_current", "bias_setting"]
