"""The DPI neuron and synapses of the Dynap-SE2-like chip: the layout constants, the default currents, and
a configuration's currents turned into the factors of one integration step (docs/dynapse2.md#neurons).

The equations are those of rockpool's DynapSim (seed 004), forward Euler at step ``dt``, with the four
synapse types of the chip in place of DynapSim's one: AMPA and NMDA excite (NMDA only while the membrane
current is above ``If_nmda``), GABA subtracts from the drive, SHUNT adds to the leak. AMPA is DynapSim's
synapse, with its charge toward Io at every step (DynapSim clips the charge target at Io), and starts at
Io; the other three start at 0 and rest there, so that a network of AMPA synapses runs as in DynapSim
(a resting shunt of about Io would add to the leak). Per step and neuron,
in this order (``reference.step`` spells it out; the C core computes the same operations in the same
order)::

    isyn_s = fdis_s isyn_s + fchg_s max(gsyn_s W_s, Io)   (AMPA)     W_s: the weight currents of this step's events
    isyn_s = fdis_s isyn_s + fchg_s gsyn_s W_s            (GABA, NMDA, SHUNT)
    iahp   = max(fdis_ahp iahp + fchg_ahp q_ahp [spiked last step], Io)
    ileak  = Itau_mem + iahp + ishunt
    iin    = max(iampa + [imem > If_nmda] inmda - igaba - ileak + Idc + noise, Io), Io while refractory
    imem  += dt imem / (tau_c / ileak (imem + Igain_mem))
                 (gmem (iin - ileak) + Io fb / ileak (imem + Igain_mem) - imem (1 + iahp / Itau_mem))
    imem   = max(imem, Io);  fb = (imem / Io) ** (kappa / (kappa + 1))

(the membrane's update computed with ileak multiplied into the bracket, one division instead of four:
``d = imem / (tau_c g) ((ileak inf + Io fb g) - imem ileak (1 + iahp / Itau_mem))``, ``g = imem + Igain_mem``)
    spike if imem > Ispkthr: imem = Io, refractory for n_ref steps

with ``fdis = exp(-dt / tau)``, ``fchg = 1 - exp(-t_pulse / tau)``, ``tau = C U_T / (kappa I_tau)``,
``gsyn = Igain / Itau``, ``tau_c = C_mem U_T / kappa``, ``n_ref = ceil(t_ref / dt)``.
"""
import math
from dataclasses import dataclass

import numpy as np

from . import biasgen, geometry as g

LAYOUT = {
    "C_mem": 3e-12, "C_ampa": 24.5e-12, "C_gaba": 25e-12, "C_nmda": 25e-12, "C_shunt": 24.5e-12, "C_ahp": 40e-12,
    "C_pulse": 0.5e-12, "C_pulse_ahp": 0.5e-12, "C_ref": 1.5e-12, "Io": 5e-13, "kappa_n": 0.75, "kappa_p": 0.66,
    "U_T": 25e-3, "Vth": 0.7,
}
"""The layout constants (F, A, V; seed 004's names, the values of rockpool's ``default_layout``)."""

KAPPA = (LAYOUT["kappa_n"] + LAYOUT["kappa_p"]) / 2
SYNAPSE_NAMES = ("ampa", "gaba", "nmda", "shunt")
NEURON_MISMATCH_SIGMA = 0.10
"""Relative spread of each neuron's copy of each analog current (and of each CAM entry's weight current)
on a virtual chip: rockpool's default mismatch of a current, 30 % at 3 sigma."""
NOISE_CURRENT = 1e-12
"""A: the standard deviation of the membrane drive's temporal noise per step on a non-ideal chip (a
virtual-chip figure, not a measurement; docs/dynapse2.md#neurons)."""


def _tau_current(tau: float, capacitance: float) -> float:
    return LAYOUT["U_T"] / KAPPA * capacitance / tau


def _default_currents() -> dict:
    """rockpool's ``default_currents``: time constants of 20 ms (membrane), 10 ms (synapses), 50 ms
    (adaptation); gains 4x, 100x and 1x their leaks; pulses of 10 us and 1 us; a refractory period of
    1 ms; the spike threshold 0.1 uA; base weights 1, 2, 4, 8 nA; Idc, If_nmda and Iw_ahp at Io."""
    tau = {"mem": 20e-3, "ampa": 10e-3, "gaba": 10e-3, "nmda": 10e-3, "shunt": 10e-3, "ahp": 50e-3}
    gain = {"mem": 4, "ampa": 100, "gaba": 100, "nmda": 100, "shunt": 100, "ahp": 1}
    io, vth = LAYOUT["Io"], LAYOUT["Vth"]
    amps = {"Idc": io, "If_nmda": io, "Ispkthr": 1e-7, "Iw_ahp": io, "Ipulse": vth * LAYOUT["C_pulse"] / 10e-6,
            "Ipulse_ahp": vth * LAYOUT["C_pulse_ahp"] / 1e-6, "Iref": vth * LAYOUT["C_ref"] / 1e-3,
            "Iw_0": 1e-9, "Iw_1": 2e-9, "Iw_2": 4e-9, "Iw_3": 8e-9}
    for name, t in tau.items():
        amps[f"Itau_{name}"] = _tau_current(t, LAYOUT[f"C_{name}"])
        amps[f"Igain_{name}"] = gain[name] * amps[f"Itau_{name}"]
    return {p: amps[p] for p in biasgen.PARAMETERS}


DEFAULT_CURRENTS = _default_currents()
DEFAULT_BIASES = {p: biasgen.setting(p, a) for p, a in DEFAULT_CURRENTS.items()}
"""{parameter: (coarse, fine)}: the nearest setting of each default current (a fresh Config's biases)."""

_P = {p: i for i, p in enumerate(biasgen.PARAMETERS)}
WEIGHT_PARAMETERS = tuple(f"Iw_{k}" for k in range(g.WEIGHT_CURRENTS))


def core_currents(biases: np.ndarray, gains: np.ndarray | None) -> np.ndarray:
    """(chips, cores, parameters) A: each core's currents from its (coarse, fine) settings
    (``biases``: (chips, cores, parameters, 2)) times its generators' gains (None: the nominal chip)."""
    out = np.empty(biases.shape[:3])
    for p, name in enumerate(biasgen.PARAMETERS):
        out[:, :, p] = biasgen.current(name, biases[:, :, p, 0], biases[:, :, p, 1])
    return out if gains is None else out * gains[: out.shape[0]]


@dataclass(frozen=True, eq=False)
class Step:
    """The factors of one step for every neuron of a board (n = chips x 1024), float64 unless stated."""

    fdis: np.ndarray        # (4, n) exp(-dt / tau_s), synapse types in SYNAPSE_TYPES order
    fchg: np.ndarray        # (4, n) 1 - exp(-t_pulse / tau_s)
    gsyn: np.ndarray        # (4, n) Igain_s / Itau_s
    fdis_ahp: np.ndarray
    fchg_ahp: np.ndarray
    q_ahp: np.ndarray       # Igain_ahp / Itau_ahp * Iw_ahp: the AHP's charge target after a spike
    itau_mem: np.ndarray
    inv_itau: np.ndarray    # 1 / itau_mem
    igain_mem: np.ndarray
    gmem: np.ndarray        # Igain_mem / Itau_mem
    idc: np.ndarray
    if_nmda: np.ndarray
    ispkthr: np.ndarray
    n_ref: np.ndarray       # int32 refractory steps
    tau_c: float            # C_mem U_T / kappa
    io: float
    inv_io: float           # 1 / io
    fb_exp: float           # kappa / (kappa + 1)
    dt: float
    noise: float            # A per step; 0 on the ideal chip


def step_factors(neuron_currents: np.ndarray, dt: float, noisy: bool) -> Step:
    """The :class:`Step` of neurons whose currents are ``neuron_currents`` (parameters, n) A, at ``dt`` s.
    Every leak and gain current is taken at least Io (as DynapSim clips them)."""
    io = LAYOUT["Io"]
    cur = {p: neuron_currents[i] for p, i in _P.items()}
    at_least = {p: np.maximum(cur[p], io) for p in cur}
    t_pulse = LAYOUT["Vth"] * LAYOUT["C_pulse"] / cur["Ipulse"]
    fdis, fchg, gsyn = [], [], []
    for s in SYNAPSE_NAMES:
        itau = at_least[f"Itau_{s}"]
        tau = LAYOUT["U_T"] / KAPPA * LAYOUT[f"C_{s}"] / itau
        fdis.append(_exp(-dt / tau))
        fchg.append(1.0 - _exp(-t_pulse / tau))
        gsyn.append(at_least[f"Igain_{s}"] / itau)
    tau_ahp = LAYOUT["U_T"] / KAPPA * LAYOUT["C_ahp"] / at_least["Itau_ahp"]
    t_pulse_ahp = LAYOUT["Vth"] * LAYOUT["C_pulse_ahp"] / cur["Ipulse_ahp"]
    t_ref = LAYOUT["Vth"] * LAYOUT["C_ref"] / cur["Iref"]
    # ceil(t_ref / dt), read so that a period that is a whole number of steps up to rounding takes that number.
    n_ref = np.ceil(t_ref / dt * (1 - 1e-12)).clip(0, 2**31 - 1).astype(np.int32)
    return Step(fdis=np.ascontiguousarray(fdis), fchg=np.ascontiguousarray(fchg), gsyn=np.ascontiguousarray(gsyn),
                fdis_ahp=_exp(-dt / tau_ahp), fchg_ahp=1.0 - _exp(-t_pulse_ahp / tau_ahp),
                q_ahp=at_least["Igain_ahp"] / at_least["Itau_ahp"] * cur["Iw_ahp"],
                itau_mem=at_least["Itau_mem"], inv_itau=1.0 / at_least["Itau_mem"], igain_mem=at_least["Igain_mem"],
                gmem=at_least["Igain_mem"] / at_least["Itau_mem"], idc=cur["Idc"].copy(), if_nmda=cur["If_nmda"].copy(),
                ispkthr=cur["Ispkthr"].copy(), n_ref=n_ref, tau_c=LAYOUT["C_mem"] * LAYOUT["U_T"] / KAPPA, io=io, inv_io=1.0 / io,
                fb_exp=KAPPA / (KAPPA + 1.0), dt=float(dt), noise=NOISE_CURRENT if noisy else 0.0)


def _exp(x: np.ndarray) -> np.ndarray:
    """exp elementwise by libm (math.exp): numpy's SIMD exp differs between CPUs, and a serial must give the
    same chip on every machine."""
    return np.fromiter((math.exp(v) for v in np.ravel(x)), float, np.size(x)).reshape(np.shape(x))
