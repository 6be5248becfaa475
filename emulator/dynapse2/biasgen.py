"""The Dynap-SE2-like chip's bias generators: a (coarse 0..5, fine 0..255) setting of a core parameter
turned into a current, and back (docs/dynapse2.md#bias-generators).

Each parameter is driven by one generator per core: a DAC whose output transistor is of type N or P.
The current of a setting is the measured table of that transistor type (``biasgen_table.csv``: 6 x 256
values per type) times the parameter's scale factor (:data:`SCALE`)::

    I(parameter, coarse, fine) = TABLE[type(parameter)][coarse, fine] * SCALE[parameter]

The table is not monotonic in fine everywhere: at 7 carries of each coarse range (fine 32, 64, ...
in the measurement) the current steps back by up to 3 %. A virtual chip multiplies each of its
generators (chip, core, parameter) by a frozen gain of its own (:func:`generator_gains`); the ideal
chip and :func:`current` use the table as it is.
"""
import csv
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InvalidInput
from ..identity import serial_to_seed

COARSE_MAX = 5
FINE_MAX = 255
TYPES = ("N", "P")
TABLE_FILE = Path(__file__).with_name("biasgen_table.csv")

DEVICE_NAMES = {
    "Idc": "SOIF_DC_P", "If_nmda": "DENM_NMREV_N", "Igain_ahp": "SOAD_GAIN_P", "Igain_ampa": "DEAM_EGAIN_P",
    "Igain_gaba": "DEGA_IGAIN_P", "Igain_nmda": "DENM_EGAIN_P", "Igain_shunt": "DESC_IGAIN_P",
    "Igain_mem": "SOIF_GAIN_N", "Ipulse_ahp": "SOAD_PWTAU_N", "Ipulse": "SYPD_EXT_N", "Iref": "SOIF_REFR_N",
    "Ispkthr": "SOIF_SPKTHR_P", "Itau_ahp": "SOAD_TAU_P", "Itau_ampa": "DEAM_ETAU_P", "Itau_gaba": "DEGA_ITAU_P",
    "Itau_nmda": "DENM_ETAU_P", "Itau_shunt": "DESC_ITAU_P", "Itau_mem": "SOIF_LEAK_N", "Iw_0": "SYAM_W0_P",
    "Iw_1": "SYAM_W1_P", "Iw_2": "SYAM_W2_P", "Iw_3": "SYAM_W3_P", "Iw_ahp": "SOAD_W_N",
}
"""The core parameters (the currents of the DPI neuron and synapses) and the names of their bias generators
on the device; the generator's last letter is its output transistor's type."""

SCALE = {
    "SOIF_DC_P": 0.38, "DENM_NMREV_N": 1.05, "SOAD_GAIN_P": 0.68, "DEAM_EGAIN_P": 0.68, "DEGA_IGAIN_P": 0.68,
    "DENM_EGAIN_P": 0.68, "DESC_IGAIN_P": 0.68, "SOIF_GAIN_N": 1.05, "SOAD_PWTAU_N": 0.92, "SYPD_EXT_N": 0.92,
    "SOIF_REFR_N": 1.05, "SOIF_SPKTHR_P": 0.38, "SOAD_TAU_P": 0.2, "DEAM_ETAU_P": 0.2, "DEGA_ITAU_P": 0.2,
    "DENM_ETAU_P": 0.2, "DESC_ITAU_P": 0.2, "SOIF_LEAK_N": 0.61, "SYAM_W0_P": 0.22, "SYAM_W1_P": 0.22,
    "SYAM_W2_P": 0.22, "SYAM_W3_P": 0.22, "SOAD_W_N": 0.92,
}
"""Each generator's scale factor on its transistor type's table (SynSense's Dynap-SE2 documentation, as
rockpool's ``scale_factor_se2`` carries it; docs/dynapse2.md#bias-generators)."""

PARAMETERS = tuple(DEVICE_NAMES)
GENERATOR_GAIN_SIGMA = 0.10
"""Relative spread of a virtual chip's generator gain: rockpool's default mismatch of a current, 30 % at
3 sigma (``rockpool.transform.mismatch``), applied to each generator (docs/dynapse2.md#bias-generators)."""


@lru_cache(maxsize=1)
def table() -> np.ndarray:
    """(2, 6, 256) float64: the measured current (A) of type N (index 0) and P (1) at (coarse, fine),
    before the scale factor; read-only."""
    out = np.full((len(TYPES), COARSE_MAX + 1, FINE_MAX + 1), np.nan)
    with TABLE_FILE.open(newline="") as f:
        for row in csv.DictReader(line for line in f if not line.startswith("#")):
            out[TYPES.index(row["type"]), int(row["coarse"]), int(row["fine"])] = float(row["current_A"])
    if not np.isfinite(out).all():
        raise RuntimeError(f"{TABLE_FILE} does not hold every (type, coarse, fine)")
    out.setflags(write=False)
    return out


def _parameter(parameter: str) -> tuple[int, float]:
    if parameter not in DEVICE_NAMES:
        raise InvalidInput("parameter", f"{parameter!r} is not a core parameter; known: {', '.join(PARAMETERS)}")
    device = DEVICE_NAMES[parameter]
    return TYPES.index(device[-1]), SCALE[device]


def _setting(name: str, value, hi: int) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == bool or not np.issubdtype(a.dtype, np.integer):
        raise InvalidInput(name, f"{value!r} is not an integer 0..{hi}")
    bad = np.flatnonzero((a < 0) | (a > hi))
    if bad.size:
        raise InvalidInput(name if a.ndim == 0 else f"{name}[{int(bad[0])}]",
                           f"{int(a.reshape(-1)[bad[0]])} is outside the allowed range 0..{hi}")
    return a.astype(np.int64)


def current(parameter: str, coarse, fine) -> np.ndarray:
    """The nominal current (A, float64) of ``parameter``'s generator at (``coarse`` 0..5, ``fine``
    0..255); coarse and fine broadcast (any shape, integers)."""
    kind, scale = _parameter(parameter)
    c, f = np.broadcast_arrays(_setting("coarse", coarse, COARSE_MAX), _setting("fine", fine, FINE_MAX))
    return table()[kind][c, f] * scale


def setting(parameter: str, amperes: float) -> tuple[int, int]:
    """The (coarse, fine) whose nominal current lies nearest ``amperes`` (finite, >= 0); of equal ones
    the lowest coarse, then the lowest fine."""
    kind, scale = _parameter(parameter)
    if isinstance(amperes, bool) or not isinstance(amperes, (int, float, np.floating, np.integer)):
        raise InvalidInput("current", f"{amperes!r} is not a number of amperes")
    if not (np.isfinite(amperes) and amperes >= 0):
        raise InvalidInput("current", f"{amperes!r} is outside the allowed range: finite and >= 0 A")
    flat = int(np.argmin(np.abs(table()[kind] * scale - float(amperes)).reshape(-1)))
    return flat // (FINE_MAX + 1), flat % (FINE_MAX + 1)


def generator_gains(serial: str, chips: int, cores: int) -> np.ndarray:
    """(chips, cores, parameters) float64: a virtual board's frozen gain of each generator,
    ``max(1 + GENERATOR_GAIN_SIGMA N(0, 1), 0.5)``, drawn once from its serial (its own stream)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([serial_to_seed(serial), 0x42494153])))
    return np.maximum(1.0 + GENERATOR_GAIN_SIGMA * rng.standard_normal((chips, cores, len(PARAMETERS))), 0.5)
