"""The bias generators' DAC code (``rtl_models/dynapse2/biasgen.v``) and the Python expectation of the
model, written from the conventions of ``emulator/dynapse2/biasgen.py``: the parameters in the order of
``PARAMETERS``, coarse 0..``COARSE_MAX``, fine 0..``FINE_MAX``, the output transistor's type the last
letter of the generator's name (``DEVICE_NAMES``).

The code of generator ``core * 23 + parameter`` (15 bits): bit 14 the type (1: P), bits 13..8 the
coarse range one-hot (bit 8 + coarse), bits 7..0 the fine code. Its current is
``table()[type][coarse, fine] * SCALE[DEVICE_NAMES[parameter]]``, which is ``biasgen.current``.
"""
import numpy as np

from emulator.dynapse2 import biasgen, geometry as g

PARAMETERS = biasgen.PARAMETERS
GENERATORS = g.CORES * len(PARAMETERS)
CODE_BITS = 15
COARSE_VALUES = 1 << 3
"""The register's coarse field is 3 bits: 6 and 7 are written to it and refused."""
PARAMETER_ADDRESSES = 1 << 5
"""The write port's parameter field is 5 bits: 23..31 name no generator and are refused."""
TYPE_BIT, COARSE_SHIFT = 14, 8
P_TYPE = np.array([biasgen.DEVICE_NAMES[p][-1] == "P" for p in PARAMETERS])
"""(23,) bool: the generator of parameter p has a P-type output transistor."""


def generator(core, parameter) -> np.ndarray:
    """The generator's index ``core * 23 + parameter`` (its slice of the ``dac`` bus)."""
    return np.asarray(core, np.int64) * len(PARAMETERS) + np.asarray(parameter, np.int64)


def accepted(parameter, coarse) -> np.ndarray:
    """A write is taken iff it names a generator (parameter 0..22) and a coarse range 0..5."""
    return (np.asarray(parameter) < len(PARAMETERS)) & (np.asarray(coarse) <= biasgen.COARSE_MAX)


def dac_code(parameter, coarse, fine) -> np.ndarray:
    """int64 codes of valid settings (parameter 0..22, coarse 0..5, fine 0..255; broadcast)."""
    p, c, f = (np.asarray(v, np.int64) for v in (parameter, coarse, fine))
    return (P_TYPE[p].astype(np.int64) << TYPE_BIT) | (np.int64(1) << (COARSE_SHIFT + c)) | f


def decode(code) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(type 0 N / 1 P, coarse, fine, valid) of codes: valid iff exactly one coarse bit is set and
    it selects a range 0..5 (the code has 6 coarse bits, so that always holds when one is set)."""
    c = np.asarray(code, np.int64)
    onehot = (c >> COARSE_SHIFT) & 0x3F
    valid = (onehot != 0) & ((onehot & (onehot - 1)) == 0)
    coarse = np.where(valid, np.log2(np.maximum(onehot, 1)).astype(np.int64), -1)
    return (c >> TYPE_BIT) & 1, coarse, c & 0xFF, valid


def current_of_code(parameter: int, code: int) -> float:
    """A: the current the generator of ``parameter`` (0..22) gives for ``code``: the measured table of
    the type the code names, at its coarse and fine, times the parameter's scale factor."""
    kind, coarse, fine, valid = (int(v) for v in decode(code))
    if not valid:
        return float("nan")
    return float(biasgen.table()[kind, coarse, fine] * biasgen.SCALE[biasgen.DEVICE_NAMES[PARAMETERS[parameter]]])


class Bank:
    """The expected registers: (coarse, fine) of every generator, (0, 0) at reset."""

    def __init__(self):
        self.coarse = np.zeros(GENERATORS, np.int64)
        self.fine = np.zeros(GENERATORS, np.int64)

    def write(self, core: int, parameter: int, coarse: int, fine: int) -> bool:
        """The write's outcome (taken or refused), applied if taken."""
        if not accepted(parameter, coarse):
            return False
        k = int(generator(core, parameter))
        self.coarse[k], self.fine[k] = coarse, fine
        return True

    def codes(self) -> np.ndarray:
        """(92,) every generator's code now."""
        k = np.arange(GENERATORS)
        return dac_code(k % len(PARAMETERS), self.coarse, self.fine)


def bus_codes(dump_line: str) -> np.ndarray:
    """(92,) the generators' codes of one dump of the ``dac`` bus (a hex line, generator 0 lowest)."""
    value = int(dump_line, 16)
    return np.array([(value >> (CODE_BITS * k)) & ((1 << CODE_BITS) - 1) for k in range(GENERATORS)], np.int64)
