"""ModelBackend: the analytical model behind the Backend contract, so that an experiment run on it
gives each metric's model value, computed exactly as on a chip (``hil fidelity``'s model column).

>>> with hil.backend.open("model", seed=3) as m:
...     result = hil.experiment.run("bss2.mac_gain", m)
"""
import numpy as np

from ..bss2.models import MacModel
from ..bss2.types import FAMILY, MacConfig, MacReadout, MacStimulus
from ..contract import validation
from ..contract.backend import Backend, DeviceInfo, register
from ..contract.errors import InvalidValue
from ..rtl.geometry import RtlGeometry
from .emulator import bss2_geometry

SERIAL = "MODEL"


@register("model")
class ModelBackend(Backend):
    """:class:`hil.bss2.MacModel` as a device: MAC mode only, Gaussian noise from ``seed``.

    model: the model to run (default: the nominal one); seed: its noise, 0..2**63 - 1 (the
    same seed, the same outputs); ideal: run ``model.ideal()`` (no noise, no leak) instead;
    geometry: None for the chip's runs, or an RTL core's (:class:`hil.rtl.geometry.RtlGeometry`),
    for model values of experiments run on that core.
    """

    MODES = ("mac",)
    run_counter_kind = "chip"

    def __init__(self, model: MacModel = MacModel(), seed: int = 0, ideal: bool = False,
                 geometry: RtlGeometry | None = None):
        super().__init__()
        if geometry is not None and not isinstance(geometry, RtlGeometry):
            raise InvalidValue("geometry", f"{geometry!r} is not an hil.rtl.geometry.RtlGeometry (or None)")
        self._geometry = bss2_geometry() if geometry is None else geometry.as_info(max_batch=bss2_geometry()["max_batch"])
        if not isinstance(model, MacModel):
            raise InvalidValue("model", f"{model!r} is not a hil.bss2.MacModel")
        self.model = model.ideal() if ideal else model
        self.seed = validation.integer("seed", seed, lo=0, hi=2**63 - 1)
        self._ideal = bool(ideal)
        self._config: MacConfig | None = None
        self._runs = 0

    @property
    def run_counter(self) -> int:
        return self._runs

    def info(self) -> DeviceInfo:
        m = self.model
        return DeviceInfo(backend="model", family=FAMILY, serial=SERIAL, model="hil.bss2.MacModel",
                          firmware=f"gain={m.gain:g} noise_std={m.noise_std:g} tau_leak={m.tau_leak:g} "
                                   f"seed={self.seed}",
                          geometry=self._geometry, modes=self.MODES, ideal=self._ideal, faults={})

    def configure(self, config) -> None:
        self._check_open()
        if not isinstance(config, MacConfig):
            raise self._unsupported(config, self.MODES)
        self._config = config.check_shape(self._geometry)

    def run(self, stimulus) -> MacReadout:
        self._check_open()
        if not isinstance(stimulus, MacStimulus):
            raise self._unsupported(stimulus, self.MODES)
        stimulus.check_shape(self._geometry)
        if self._config is None:
            raise InvalidValue("configuration", "the model has no MAC configuration; configure it first")
        # One generator per run, keyed by (seed, run): a run's noise does not depend on the runs before.
        rng = np.random.default_rng([self.seed, self._runs])
        self._runs += 1
        return MacReadout(outputs=self.model.predict(self._config, stimulus, rng=rng).astype(np.int8))
