"""Structural tests of the synapse array, its drivers and its columns: the experiments that find
the fault model's defects wherever they sit (docs/acceptance.md#tests-that-find-the-faults).

* ``bss2.synapse_memory``: a digital march-style test of every synapse's weight and label word
  through the memory mode's readback (written in the spiking mode, read with ``SynapseRead``).
* ``bss2.synapse_scan``: every synapse alone through the analog MAC path, with a zero pattern and
  single-bit patterns on each excitatory and each inhibitory row, so every bit is seen at both values.
* ``bss2.driver_scan``: every synapse driver alone at activations 1, 8 and 31.
* ``bss2.column_check``: every column driven alone, its neighbours left undriven.

The analog tests isolate one synapse (or driver, or column) per output sample: a MAC run's sample k
activates input k only (a one-hot batch), so column j of sample k reads synapse row 2k or 2k + 1
of column j and nothing else (a zero activation sends no event). One configuration and one run of
128 samples so cover a whole pattern on all 2 x 256 x 256 synapses at once.

Every analog sample is judged against the model's expectation ``gain * sends_eff * x * w`` with
the nominal line loss, and a two-sided limit of ``z * sqrt(noise^2 + 1/12 + (spread * m)^2)`` plus
the bound of the driver's residual offset, z Bonferroni over all the samples of one limit at
:data:`hil.contract.statistics.FALSE_ALARM`. The spreads are those the chip model states
(docs/chip_model.md#numbers-and-their-sources): chip gain 2 %, driver gain 2 % and curvature 3 %,
synapse DAC gain 4 %, neuron gain 2 %, line loss 4 % at the far edge +-20 %; the noise is the
spec's noisiest healthy neuron (``MacSpec.noise_max``, 3.5 LSB).
"""
import math

import numpy as np
from scipy import stats

from emulator.bss2 import geometry as g
from emulator.bss2.neuron import effective_sends

from ...contract import statistics
from ...contract.errors import Unsupported
from ...contract.experiment import experiment
from ...contract.result import ExperimentResult, Metric, with_intervals
from ..models import DEFAULT_SPEC, NOMINAL_GAIN, NOMINAL_TAU_LEAK
from ..types import MacConfig, MacStimulus, SpikingConfig, SynapseRead
from .mac import IDEAL_EXACT, index_list

H, R, C = g.HEMISPHERES, g.ROWS_PER_HEMISPHERE, g.COLUMNS_PER_HEMISPHERE
D = g.DRIVERS_PER_HEMISPHERE
N = g.NEURONS
WAIT = 5
"""FPGA cycles between events (hxtorch's default, as every MAC experiment uses)."""

# The chip model's fixed-pattern spreads (docs/chip_model.md#numbers-and-their-sources), each one
# standard deviation, relative.
CHIP_GAIN_SPREAD = 0.02
DRIVER_GAIN_SPREAD = 0.02
DRIVER_CURVATURE_SPREAD = 0.03
"""Relative pulse deviation at activation 0 of ``1 + c * (a / 31 - 1)``: none at activation 31."""
SYNAPSE_GAIN_SPREAD = 0.04
NEURON_GAIN_SPREAD = 0.02
LINE_LOSS = 0.04
"""Relative loss of a pulse at the far edge of a row (distance 1), nominal."""
LINE_LOSS_SPREAD = 0.2
"""Relative chip-to-chip spread of :data:`LINE_LOSS`."""
TRIM_RESIDUAL = 0.05
"""Largest residual driver offset after calibration, activation units: half a trim step (0.1)."""
NOISE = DEFAULT_SPEC.noise_max
"""Temporal noise of the noisiest healthy neuron, LSB (``MacSpec.noise_max``)."""

TARGET = 50.0
"""LSB a healthy synapse (driver, column) is made to answer with: 25 noise sigmas above 0, and with
6 mismatch sigmas still below the lowest compression knee (75 LSB, docs/chip_model.md)."""
ZERO_SENDS = g.NUM_SENDS_MAX
"""Sends of the zero pattern: the most, so that bit 0 stuck at 1 answers gain x 31 x 1024 = 60 LSB."""
SCAN_ACTIVATION = g.ACTIVATION_MAX
DRIVER_ACTIVATIONS = (1, 8, 31)
DRIVER_WEIGHT = g.WEIGHT_MAX
COLUMN_WEIGHT = 7
"""Weight of every row of a driven column: 128 rows x 31 x 7 x gain = 53 LSB in one send."""
COLUMN_PHASES = 3
"""Columns j = phase (mod 3) are driven together: each neighbour j +- 1 is undriven in that run."""

_METHOD_EXACT = ("exact: a digital readback of the synapse memory has no noise; every stuck bit reads "
                 "its stuck value whenever the other is written")


def row_loss(ideal: bool) -> np.ndarray:
    """(256,) the nominal line-loss factor of each column of a hemisphere, normalised to the mean
    (as the chip gain is); 1 on an ideal chip, which has none."""
    if ideal:
        return np.ones(C)
    c = np.arange(C)
    centre = (C - 1) / 2
    distance = np.abs(c - centre) / centre
    return (1.0 - LINE_LOSS * distance) / (1.0 - LINE_LOSS / 2)


def line_spread() -> np.ndarray:
    """(256,) one standard deviation of the line-loss factor from its chip-to-chip spread, relative."""
    c = np.arange(C)
    centre = (C - 1) / 2
    return LINE_LOSS * LINE_LOSS_SPREAD * np.abs(c - centre) / centre


def unit_response(sends: int, events: int, ideal: bool) -> float:
    """LSB per (activation x weight) of a sample with ``events`` events per send, sent ``sends`` times:
    gain x effective sends (the residual leak taken into account; none on an ideal chip)."""
    tau = math.inf if ideal else NOMINAL_TAU_LEAK
    return float(NOMINAL_GAIN * effective_sends(np.array([events]), sends, WAIT, tau)[0])


def expected_read(m: np.ndarray, ideal: bool) -> np.ndarray:
    """The mean read of expectation ``m`` LSB: floor(m) on an ideal chip; m - 1/2 with noise of a few
    LSB (the floor's bias; exact to < 1e-6 LSB for noise >= 1 LSB)."""
    return np.floor(m) if ideal else m - 0.5


def z_limit(n_tests: int) -> float:
    """Two-sided Gaussian quantile at FALSE_ALARM, Bonferroni over ``n_tests``."""
    return float(stats.norm.isf(statistics.FALSE_ALARM / (2 * n_tests)))


def sends_for(per_unit: float, target: float = TARGET) -> int:
    """Sends (1..1024) that make a response of ``per_unit`` LSB per send read about ``target`` LSB."""
    return int(min(max(round(target / per_unit), 1), g.NUM_SENDS_MAX))


def _count(name: str, bad: int, n: int, what: str, source: str, unit: str, detail: str, ideal: bool) -> Metric:
    m = Metric(name, bad, 0, "<=", source, unit, detail=detail)
    return m.with_interval(IDEAL_EXACT if ideal else statistics.count_interval(bad, n, what))


# -- the digital memory test ---------------------------------------------------------------

def memory_patterns() -> list[tuple[str, np.ndarray]]:
    """The march's four (2, 256, 256) uint8 words: all 0, all 1 (63), and the two checkerboards
    0b101010 / 0b010101 alternating by row and column (every bit of a cell differs from the same
    bit of its four neighbours, so a short between neighbouring cells shows too)."""
    shape = (H, R, C)
    r, c = np.arange(R)[:, None], np.arange(C)[None, :]
    even = np.broadcast_to((r + c) % 2 == 0, shape)
    a = np.where(even, 0b101010, 0b010101).astype(np.uint8)
    return [("zeros", np.zeros(shape, np.uint8)), ("ones", np.full(shape, g.WEIGHT_MAX, np.uint8)),
            ("checker", a), ("checker_inverse", (a ^ g.WEIGHT_MAX).astype(np.uint8))]


def _stuck_positions(wrong: np.ndarray, value: np.ndarray) -> list[tuple[int, int, int, int, int]]:
    """(hemisphere, row, column, bit, value) of every bit that ever read wrong (``wrong``, a bit mask per
    cell), with the value it read (``value``)."""
    out = []
    for h, r, c in zip(*np.nonzero(wrong)):
        for bit in range(g.WEIGHT_BITS):
            if wrong[h, r, c] >> bit & 1:
                out.append((int(h), int(r), int(c), bit, int(value[h, r, c] >> bit & 1)))
    return out


def _positions_text(stuck: list, most: int = 10) -> str:
    shown = "; ".join(f"hemisphere {h} row {r} column {c} bit {b} stuck at {v}" for h, r, c, b, v in stuck[:most])
    return shown + (f" and {len(stuck) - most} more" if len(stuck) > most else "")


@experiment("bss2.synapse_memory", mode="memory", metrics=("stuck_weight_bits", "stuck_label_bits"))
def synapse_memory(backend, *, progress: bool = False) -> ExperimentResult:
    """March-style test of the synapse SRAM (weights and labels, 2 x 256 x 256 words of 6 bits each).

    Writes each of :func:`memory_patterns` to the weights and the labels with a spiking
    configuration and reads both back with ``SynapseRead``. A bit stuck at v reads v where the other
    value was written: all-0 and all-1 write both values to every bit, so every stuck bit is found,
    exactly, with its position and value. Needs the spiking mode (to write) and the memory mode.
    """
    if "spiking" not in backend.info().modes:
        raise Unsupported(f"bss2.synapse_memory writes the synapse memory in the spiking mode; this device's "
                          f"modes are {backend.info().modes}")
    shape = (H, R, C)
    wrong = {"weights": np.zeros(shape, np.uint8), "labels": np.zeros(shape, np.uint8)}
    value = {"weights": np.zeros(shape, np.uint8), "labels": np.zeros(shape, np.uint8)}
    names = []
    for name, word in memory_patterns():
        names.append(name)
        backend.configure(SpikingConfig(weights=word, labels=word))
        read = backend.run(SynapseRead())
        for field in ("weights", "labels"):
            got = getattr(read, field)
            if got.shape != shape:
                raise ValueError(f"the synapse readback returned {field} of shape {got.shape}; expected {shape}")
            diff = got ^ word
            wrong[field] |= diff
            value[field] = np.where(diff != 0, got, value[field])
    stuck = {f: _stuck_positions(wrong[f], value[f]) for f in wrong}
    bits = H * R * C * g.WEIGHT_BITS
    source = ("exact: the memory returns the word written; every bit of every cell is written 0 and 1 "
              "(all-0, all-1) and opposite to its neighbours (two checkerboards)")
    metrics = tuple(
        Metric(f"stuck_{f[:-1]}_bits", len(stuck[f]), 0, "<=", source, "bits",
               detail=f"{f[:-1]} bits (of {bits}) that read other than written"
                      + (f": {_positions_text(stuck[f])}" if stuck[f] else ""),
               no_interval=_METHOD_EXACT)
        for f in ("weights", "labels"))
    return ExperimentResult(
        experiment="bss2.synapse_memory", params={},
        raw={"weight_wrong_bits": wrong["weights"], "weight_read_value": value["weights"],
             "label_wrong_bits": wrong["labels"], "label_read_value": value["labels"]},
        prediction={"wrong_bits": np.zeros(shape, np.uint8)},
        metrics=metrics,
        stimulus={f"pattern_{name}": word[0, :2, :2].copy() for name, word in memory_patterns()},
        model={"model": {"class": "exact", "note": "the memory returns what was written"}},
        summary={"patterns": names,
                 "stuck_weight_bits": [list(s) for s in stuck["weights"][:64]],
                 "stuck_label_bits": [list(s) for s in stuck["labels"][:64]]},
    )


# -- the analog per-synapse scan -----------------------------------------------------------

def scan_patterns(ideal: bool) -> list[tuple[str, int, int, int]]:
    """(name, signed weight on every synapse, sends, row parity 0 exc / 1 inh / -1 both) of the scan:
    the zero pattern at 1024 sends, then 2^b on every excitatory and on every inhibitory row, b = 0..5,
    at the sends that make a healthy synapse read about :data:`TARGET` LSB."""
    out = [("zero", 0, ZERO_SENDS, -1)]
    for b in range(g.WEIGHT_BITS):
        w = 1 << b
        per_send = unit_response(1, 1, ideal) * SCAN_ACTIVATION * w
        sends = sends_for(per_send)
        out.append((f"exc_bit{b}", w, sends, 0))
        out.append((f"inh_bit{b}", -w, sends, 1))
    return out


def synapse_spread(m: np.ndarray, activation: int) -> np.ndarray:
    """One standard deviation of a single synapse's response of expectation ``m`` (..., 512) LSB from
    the fixed-pattern spreads (chip, driver, curvature, synapse, neuron, line loss)."""
    curvature = DRIVER_CURVATURE_SPREAD * (1 - activation / g.ACTIVATION_MAX)
    line = np.tile(line_spread(), H)
    rel2 = (CHIP_GAIN_SPREAD**2 + DRIVER_GAIN_SPREAD**2 + curvature**2 + SYNAPSE_GAIN_SPREAD**2
            + NEURON_GAIN_SPREAD**2 + line**2)
    return np.sqrt(rel2) * np.abs(m)


@experiment("bss2.synapse_scan", mode="mac", metrics=(
    "failing_synapses", "zero_pattern_failures", "bit_pattern_failures"))
def synapse_scan(backend, *, progress: bool = False) -> ExperimentResult:
    """Every synapse alone through the analog path, at both values of every weight bit.

    13 runs of 128 one-hot samples (input k at activation 31): the zero pattern (every weight 0,
    1024 sends: a bit stuck at 1 reads >= 60 LSB), and 2^b on every excitatory row, then on every
    inhibitory one, b = 0..5 (a bit stuck at 0, or a synapse silenced by a label bit, reads 0 where
    a healthy one reads about 50 LSB). Sample k, column j reads synapse (j // 256, 2k or 2k + 1,
    j % 256). Each is judged against the model (see the module).
    """
    info = backend.info()
    if (info.geometry["mac_inputs"], info.geometry["mac_outputs"]) != (g.MAC_INPUTS, g.MAC_OUTPUTS):
        raise Unsupported("bss2.synapse_scan scans the whole chip's array; this device's MAC runs are "
                          f"{info.geometry['mac_inputs']} x {info.geometry['mac_outputs']}")
    ideal = info.ideal
    patterns = scan_patterns(ideal)
    loss = np.tile(row_loss(ideal), H)                                          # (512,)
    inputs = (np.eye(g.MAC_INPUTS, dtype=np.uint8) * SCAN_ACTIVATION)
    n_tests = len(patterns) * g.MAC_INPUTS * g.MAC_OUTPUTS
    z = z_limit(n_tests)
    outputs = np.empty((len(patterns), g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
    expected = np.empty(outputs.shape, np.float32)
    limit = np.empty(outputs.shape, np.float32)
    for p, (name, w, sends, _) in enumerate(patterns):
        weights = np.full((g.MAC_INPUTS, g.MAC_OUTPUTS), w, np.int8)
        out = backend.configure_and_run(MacConfig(weights=weights),
                                        MacStimulus(inputs=inputs, num_sends=sends, wait_between_events=WAIT))
        outputs[p] = out.outputs
        m = unit_response(sends, 1, ideal) * SCAN_ACTIVATION * w * loss          # (512,)
        expected[p] = expected_read(m, ideal)[None, :]
        limit[p] = (z * np.sqrt(NOISE**2 + 1 / 12 + synapse_spread(m, SCAN_ACTIVATION)**2)
                    + unit_response(sends, 1, ideal) * TRIM_RESIDUAL * abs(w) * loss)[None, :]
    deviation = outputs.astype(np.float32) - expected
    bad = np.abs(deviation) > limit
    # The failing synapse of each bad sample. The zero pattern drives both rows of driver k; the sign
    # of its answer names the row (a bit stuck at 1 pulls positive on the excitatory row, negative on
    # the inhibitory). A bit stuck at 1 also shifts the single-bit patterns of the other polarity on
    # the same driver and column, so a bit-pattern failure there is the zero pattern's synapse.
    failing = set()
    for k, j in zip(*np.nonzero(bad[0])):
        failing.add((int(j) // C, 2 * int(k) + (0 if deviation[0, k, j] > 0 else 1), int(j) % C))
    for p, k, j in zip(*np.nonzero(bad[1:] & ~bad[0][None])):
        failing.add((int(j) // C, 2 * int(k) + patterns[p + 1][3], int(j) % C))
    failing = sorted(failing)
    zero_bad = int(bad[0].sum())
    bit_bad = int(bad[1:].sum())
    worst = float(np.max(np.abs(deviation) / limit))
    synapses = H * R * C
    source = (f"model: gain x sends_eff x 31 x w with the nominal line loss; |read - expected| <= z sqrt(noise^2 + "
              f"1/12 + (spread m)^2) + residual trim offset, z = {z:.2f} (Bonferroni over {n_tests} samples at "
              f"{statistics.FALSE_ALARM:g}); noise {NOISE:g} LSB (MacSpec.noise_max), spreads of "
              "docs/chip_model.md")
    where = "; ".join(f"hemisphere {h} row {r} column {c}" for h, r, c in failing[:10])
    metrics = (
        _count("failing_synapses", len(failing), synapses, "synapses", source, "synapses",
               "synapses with a sample outside its limit in some pattern"
               + (f": {where}" + (f" and {len(failing) - 10} more" if len(failing) > 10 else "") if failing else ""),
               ideal),
        Metric("zero_pattern_failures", zero_bad, unit="samples",
               detail="samples of the zero pattern outside their limit (a weight bit stuck at 1)"),
        Metric("bit_pattern_failures", bit_bad, unit="samples",
               detail="samples of the single-bit patterns outside their limit (a bit stuck at 0, a silenced "
                      "synapse, or a bit stuck at 1 above the pattern's)"),
    )
    samples = g.MAC_INPUTS * g.MAC_OUTPUTS
    metrics = with_intervals(metrics, {} if ideal else {
        "zero_pattern_failures": statistics.count_interval(zero_bad, samples, "samples"),
        "bit_pattern_failures": statistics.count_interval(bit_bad, n_tests - samples, "samples")},
        exact=IDEAL_EXACT if ideal else "")
    return ExperimentResult(
        experiment="bss2.synapse_scan", params={},
        raw={"outputs": outputs, "failed": bad},
        prediction={"expected": expected, "limit": limit},
        metrics=metrics,
        stimulus={"inputs": inputs, "weights": np.array([p[1] for p in patterns], np.int8),
                  "num_sends": np.array([p[2] for p in patterns], np.int32)},
        model={"model": {"class": "hil.bss2.MacModel", "gain": NOMINAL_GAIN, "tau_leak": NOMINAL_TAU_LEAK,
                         "noise": NOISE, "line_loss": LINE_LOSS}},
        summary={"patterns": [p[0] for p in patterns], "sends": [p[2] for p in patterns], "z": z,
                 "worst_deviation_limits": worst,
                 "failing_synapses": [list(s) for s in failing[:64]],
                 "noise_floor_lsb": {p[0]: float(unit_response(p[2], 1, ideal) * SCAN_ACTIVATION * max(abs(p[1]), 1))
                                     for p in patterns}},
    )


# -- drivers ---------------------------------------------------------------------------------

@experiment("bss2.driver_scan", mode="mac", metrics=("failing_drivers",))
def driver_scan(backend, *, progress: bool = False) -> ExperimentResult:
    """Every synapse driver alone at activations 1, 8 and 31, weight 63 on every excitatory row.

    Sample k of a run activates input k only, which is driver k of both hemispheres; its 256 columns
    in each hemisphere read one synapse each. The driver's response is their sum over the model's
    (``ratio``), at sends that make each column read about 50 LSB: a dead driver reads 0, a driver
    stuck at full pulse reads 31 / a times too much (clamped at 127 LSB: 2.5 times).
    """
    info = backend.info()
    if (info.geometry["mac_inputs"], info.geometry["mac_outputs"]) != (g.MAC_INPUTS, g.MAC_OUTPUTS):
        raise Unsupported("bss2.driver_scan needs the whole chip's MAC runs")
    ideal = info.ideal
    loss = np.tile(row_loss(ideal), H)
    weights = np.full((g.MAC_INPUTS, g.MAC_OUTPUTS), DRIVER_WEIGHT, np.int8)
    n_tests = len(DRIVER_ACTIVATIONS) * H * D
    z = z_limit(n_tests)
    ratio = np.empty((len(DRIVER_ACTIVATIONS), H, D))
    limit = np.empty(len(DRIVER_ACTIVATIONS))
    outputs = np.empty((len(DRIVER_ACTIVATIONS), g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
    sends_used = []
    for i, a in enumerate(DRIVER_ACTIVATIONS):
        sends = sends_for(unit_response(1, 1, ideal) * a * DRIVER_WEIGHT)
        sends_used.append(sends)
        inputs = np.eye(g.MAC_INPUTS, dtype=np.uint8) * a
        out = backend.configure_and_run(MacConfig(weights=weights),
                                        MacStimulus(inputs=inputs, num_sends=sends, wait_between_events=WAIT))
        outputs[i] = out.outputs
        m = unit_response(sends, 1, ideal) * a * DRIVER_WEIGHT * loss              # (512,)
        e = expected_read(m, ideal)
        per_h = out.outputs.astype(np.float64).reshape(g.MAC_INPUTS, H, C).sum(axis=2)
        ratio[i] = (per_h / e.reshape(H, C).sum(axis=1)[None, :]).T
        # a driver's mean over its 256 columns: its own (and the chip's) gain and curvature in full, the
        # synapses', neurons' and noise averaged; the trim residual as a bound
        curvature = DRIVER_CURVATURE_SPREAD * (1 - a / g.ACTIVATION_MAX)
        rel = math.sqrt(CHIP_GAIN_SPREAD**2 + DRIVER_GAIN_SPREAD**2 + curvature**2
                        + (SYNAPSE_GAIN_SPREAD**2 + NEURON_GAIN_SPREAD**2) / C
                        + (NOISE**2 + 1 / 12) / C / float(np.mean(m))**2 + float(np.mean(line_spread()))**2)
        limit[i] = z * rel + TRIM_RESIDUAL / a
    bad = np.abs(ratio - 1.0) > limit[:, None, None]
    failing = sorted({(int(h), int(d)) for _, h, d in zip(*np.nonzero(bad))})
    worst = float(np.max(np.abs(ratio - 1.0) / limit[:, None, None]))
    source = (f"model: each driver's column sum over gain x sends_eff x a x 63 with the nominal line loss; "
              f"|ratio - 1| <= z x spread + trim residual / a, z = {z:.2f} (Bonferroni over {n_tests} "
              f"driver-activations at {statistics.FALSE_ALARM:g}); spreads of docs/chip_model.md")
    where = ", ".join(f"({h}, {d})" for h, d in failing[:10])
    metrics = (
        _count("failing_drivers", len(failing), H * D, "drivers", source, "drivers",
               "(hemisphere, driver) whose response at some activation is outside its limit"
               + (f": {where}" + (f" and {len(failing) - 10} more" if len(failing) > 10 else "") if failing else ""),
               ideal),
    )
    return ExperimentResult(
        experiment="bss2.driver_scan", params={},
        raw={"outputs": outputs, "ratio": ratio.astype(np.float32)},
        prediction={"ratio": np.ones_like(ratio, dtype=np.float32), "limit": limit},
        metrics=metrics,
        stimulus={"activations": np.array(DRIVER_ACTIVATIONS, np.uint8), "num_sends": np.array(sends_used, np.int32)},
        model={"model": {"class": "hil.bss2.MacModel", "gain": NOMINAL_GAIN, "tau_leak": NOMINAL_TAU_LEAK,
                         "noise": NOISE, "line_loss": LINE_LOSS}},
        summary={"activations": list(DRIVER_ACTIVATIONS), "sends": sends_used, "limit": limit.tolist(),
                 "worst_deviation_limits": worst,
                 "failing_drivers": [list(f) for f in failing]},
    )


# -- columns ---------------------------------------------------------------------------------

@experiment("bss2.column_check", mode="mac", metrics=(
    "gain_failures", "isolation_failures"), params={"repeats": (1, 1024)})
def column_check(backend, *, repeats: int = 8, progress: bool = False) -> ExperimentResult:
    """Every column driven alone, its neighbours undriven: each neuron's gain and its isolation.

    Three runs: in run p the columns j = p (mod 3) hold weight 7 on every excitatory row, the others 0;
    ``repeats`` samples of all 128 inputs at 31. A driven column must read the model's 53 LSB within
    the spreads of one neuron (its synapses averaged over 128 rows); an undriven one must read 0
    within the noise. A column shorted to its neighbour reads their mean: half when driven, half of
    the neighbour's when not; a dead neuron reads 0.
    """
    info = backend.info()
    if (info.geometry["mac_inputs"], info.geometry["mac_outputs"]) != (g.MAC_INPUTS, g.MAC_OUTPUTS):
        raise Unsupported("bss2.column_check needs the whole chip's MAC runs")
    ideal = info.ideal
    loss = np.tile(row_loss(ideal), H)
    inputs = np.full((repeats, g.MAC_INPUTS), SCAN_ACTIVATION, np.uint8)
    column = np.arange(g.MAC_OUTPUTS)
    m = unit_response(1, g.MAC_INPUTS, ideal) * SCAN_ACTIVATION * COLUMN_WEIGHT * g.MAC_INPUTS * loss   # (512,)
    mean_read = np.empty((COLUMN_PHASES, g.MAC_OUTPUTS))
    outputs = np.empty((COLUMN_PHASES, repeats, g.MAC_OUTPUTS), np.int8)
    for p in range(COLUMN_PHASES):
        weights = np.zeros((g.MAC_INPUTS, g.MAC_OUTPUTS), np.int8)
        weights[:, column % COLUMN_PHASES == p] = COLUMN_WEIGHT
        out = backend.configure_and_run(MacConfig(weights=weights),
                                        MacStimulus(inputs=inputs, num_sends=1, wait_between_events=WAIT))
        outputs[p] = out.outputs
        mean_read[p] = out.outputs.astype(np.float64).mean(axis=0)
    driven = column[None, :] % COLUMN_PHASES == np.arange(COLUMN_PHASES)[:, None]   # (3, 512)
    gain = mean_read[driven.argmax(axis=0), column] / expected_read(m, ideal)        # (512,)
    z_gain = z_limit(N)
    noise_mean2 = (NOISE**2 + 1 / 12) / repeats
    rel = np.sqrt(CHIP_GAIN_SPREAD**2 + NEURON_GAIN_SPREAD**2
                  + (DRIVER_GAIN_SPREAD**2 + SYNAPSE_GAIN_SPREAD**2) / g.MAC_INPUTS
                  + np.tile(line_spread(), H)**2 + noise_mean2 / m**2)
    gain_limit = z_gain * rel + TRIM_RESIDUAL / SCAN_ACTIVATION
    gain_bad = np.flatnonzero(np.abs(gain - 1.0) > gain_limit)
    n_iso = (COLUMN_PHASES - 1) * N
    z_iso = z_limit(n_iso)
    iso_limit = z_iso * math.sqrt(noise_mean2)
    rest = expected_read(np.zeros(1), ideal)[0]
    leak = np.abs(mean_read - rest) > iso_limit
    leak &= ~driven
    iso_bad = sorted({int(j) for _, j in zip(*np.nonzero(leak))})
    source_gain = (f"model: gain x 31 x 7 x 128 rows with the nominal line loss; |gain - 1| <= z x spread + trim "
                   f"residual, z = {z_gain:.2f} (Bonferroni over {N} neurons at {statistics.FALSE_ALARM:g}); "
                   "spreads of docs/chip_model.md")
    source_iso = (f"model: an undriven column reads 0; |mean of {repeats} - rest| <= {iso_limit:.2f} LSB, z = "
                  f"{z_iso:.2f} (Bonferroni over {n_iso} undriven columns) x noise {NOISE:g} LSB / sqrt({repeats})")
    metrics = (
        _count("gain_failures", gain_bad.size, N, "neurons", source_gain, "neurons",
               "neurons whose driven gain lies outside the model's spread"
               + (f": {index_list(gain_bad)}" if gain_bad.size else ""), ideal),
        _count("isolation_failures", len(iso_bad), N, "neurons", source_iso, "neurons",
               "neurons that respond while only their neighbours (or other columns) are driven (a short)"
               + (f": {index_list(np.array(iso_bad))}" if iso_bad else ""), ideal),
    )
    return ExperimentResult(
        experiment="bss2.column_check", params={"repeats": repeats},
        raw={"outputs": outputs, "gain": gain.astype(np.float32)},
        prediction={"expected": expected_read(m, ideal).astype(np.float32), "gain_limit": gain_limit},
        metrics=metrics,
        stimulus={"weight": np.array([COLUMN_WEIGHT], np.int8), "activation": np.array([SCAN_ACTIVATION], np.uint8)},
        model={"model": {"class": "hil.bss2.MacModel", "gain": NOMINAL_GAIN, "tau_leak": NOMINAL_TAU_LEAK,
                         "noise": NOISE, "line_loss": LINE_LOSS}},
        summary={"isolation_limit_lsb": iso_limit, "column_gain_spread": float(np.std(gain) / np.mean(gain)), "gain_failures": gain_bad.tolist(), "isolation_failures": iso_bad},
    )
