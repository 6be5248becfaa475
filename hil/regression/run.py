"""The chip-verification regression: block benches and MAC experiments on the RTL models, side by
side with the emulator of the same serial (the golden model) and the analytical model.

Per serial it runs

* every block bench (:mod:`hil.rtl.benches`): the RTL block against the emulator's block and
  the analytical model, digital stages bit-exactly, with functional coverage;
* the MAC experiments on ``rtl:SERIAL`` and on ``emulator:SERIAL:core=...`` (the emulator on the
  RTL core's inputs and neurons) through :func:`hil.fidelity.compare`: the metric table against
  the model, the experiments' own verdicts, and the exact-match check that the RTL equals the
  emulator replayed at the same run counter, value for value.

Every run is stored like any other; :mod:`.summary` writes the summary.
"""
import time
from dataclasses import dataclass

from ..contract.errors import InvalidValue
from ..fidelity import Device, Fidelity, compare
from ..rtl.geometry import RtlGeometry
from ..rtl.benches import BLOCKS, BenchResult, run_bench
from ..results.report import utc_now

MAC_EXPERIMENTS = ("bss2.mac_linearity", "bss2.mac_noise", "bss2.mac_fixed_pattern", "bss2.mac_gain",
                   "bss2.mac_sends_and_wait", "bss2.mac_neuron_profile")
"""The experiments a regression runs by default: every MAC experiment (the RTL runs the MAC mode)."""
DEFAULT_SERIALS = ("EMU-0042",)


@dataclass(frozen=True)
class SerialRegression:
    """The regression of one chip: its block benches and its experiments."""

    serial: str
    benches: tuple[BenchResult, ...]
    fidelity: Fidelity | None
    """RTL against the emulator on the core and the model; None if no experiment was run."""
    seconds: float

    @property
    def passed(self) -> bool:
        return all(b.passed for b in self.benches) and (self.fidelity is None or self.fidelity.passed)


@dataclass(frozen=True)
class Regression:
    simulator: str
    ideal: bool
    core: RtlGeometry
    started: str
    finished: str
    chips: tuple[SerialRegression, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.chips)


def run_regression(serials=DEFAULT_SERIALS, *, simulator: str = "icarus", ideal: bool = False, blocks=BLOCKS,
                   experiments=MAC_EXPERIMENTS, params: dict | None = None, store=None,
                   model_runs: int = 2, progress: bool = False) -> Regression:
    """Runs the regression for each of ``serials`` on ``simulator`` ('icarus' or 'verilator');
    ``ideal``: of the chips without mismatch and noise.

    blocks: the block benches to run (names of :data:`hil.rtl.benches.BLOCKS`); experiments:
    the MAC experiments; params: their parameters by experiment name; store: where every run
    is stored; model_runs: runs of each experiment on the model device (its value and band).
    """
    serials = tuple(dict.fromkeys(serials))
    if not serials:
        raise InvalidValue("serials", "is empty; name at least one chip")
    unknown = sorted(set(blocks) - set(BLOCKS))
    if unknown:
        raise InvalidValue("blocks", f"{unknown} are not benches; the benches are {list(BLOCKS)}")
    core = RtlGeometry()
    started = utc_now()
    chips = []
    for serial in serials:
        t0 = time.monotonic()
        benches = tuple(run_bench(b, simulator=simulator, serial=serial, ideal=ideal) for b in blocks)
        fidelity = None
        if experiments:
            devices = [Device("rtl", serial, ideal=ideal, simulator=simulator),
                       Device("emulator", serial, ideal=ideal, core=core)]
            fidelity = compare(list(experiments), devices, store=store, params=params, model_runs=model_runs,
                               progress=progress)
        chips.append(SerialRegression(serial, benches, fidelity, time.monotonic() - t0))
    return Regression(simulator, bool(ideal), core, started, utc_now(), tuple(chips))


__all__ = ["DEFAULT_SERIALS", "MAC_EXPERIMENTS", "Regression", "SerialRegression", "run_regression"]
