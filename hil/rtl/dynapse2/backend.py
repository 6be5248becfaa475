"""The rtl backend of the Dynap-SE2-like family: the board's router as Verilog in a simulator.

``hil.backend.open("rtl", family="dynapse2", serial=..., simulator="icarus" | "verilator", mesh=(2, 2))``
builds (or reuses) the router's harness for the board's chips (``hil.rtl.dynapse2.build``) and runs the
routing mode on it: ``configure(Config)`` then ``run(RouteProbe)`` gives the :class:`hil.dynapse2.RouteLog`
of the deliveries ``rtl_models/dynapse2/router.v`` makes, in the order it emits them. Each ``run`` is one
simulation (``hil.rtl.dynapse2.job``): the configuration is written to the router's memories through
its write port, then the probe's sources are routed; a simulator session starts in about a second.

The router is digital and has no fixed pattern: ``serial`` only names the device, ``ideal`` (the board
without mismatch, or not) changes nothing in it, and every serial gives the same log, which is
``hil.dynapse2.models.route`` of the same configuration and probe. The spiking mode (neurons, synapses, bias generators' currents) is not modelled in RTL: a
``Stimulus`` is refused with :class:`hil.errors.Unsupported`.
"""
import shutil
import tempfile
from pathlib import Path

from emulator.dynapse2 import DEFAULT_SERIAL
from emulator.dynapse2 import geometry as g

from . import build as d2_build
from . import job
from .. import build as rtl_build
from ... import __version__
from ...contract import validation
from ...contract.backend import DeviceInfo, Backend, register
from ...contract.errors import InvalidValue
from ...dynapse2 import types

MODEL = "Dynap-SE2-like router RTL"


@register("rtl", family=types.FAMILY)
class RtlRouterBackend(Backend):
    """The router of a board of ``mesh`` (width, height; 1..4 each) chips, on ``simulator``.

    workdir: where each run's files and simulator log go (default: a temporary folder, removed on
    ``close()``); ``build_root``: the builds' root (default ``hil.rtl.build``'s). Before the first
    ``configure`` the router holds ``Config.default(mesh)``: no destinations, every entry unused.
    """

    MODES = ("routing",)
    """'routing': Config + RouteProbe -> RouteLog (the router alone; not a run: no run counter)."""

    def __init__(self, serial: str = DEFAULT_SERIAL, simulator: str = "icarus", mesh=g.MESH_DEFAULT,
                 ideal: bool = True, workdir=None, build_root=None):
        super().__init__()
        if simulator not in rtl_build.SIMULATORS:
            raise InvalidValue("simulator", f"{simulator!r} is not one of {rtl_build.SIMULATORS}")
        if not (isinstance(mesh, (tuple, list)) and len(mesh) == 2):
            raise InvalidValue("mesh", f"{mesh!r} is not a (width, height) pair")
        mesh = tuple(validation.integer(f"mesh[{i}]", m, lo=1, hi=g.MESH_MAX) for i, m in enumerate(mesh))
        if not isinstance(ideal, bool):
            raise InvalidValue("ideal", f"{ideal!r} is not a bool")
        if not isinstance(serial, str) or not serial:
            raise InvalidValue("serial", f"{serial!r} is not a serial (a non-empty string)")
        self._mesh = mesh
        self._simulator = simulator
        self._build = d2_build.build("router", simulator, max_chips=mesh[0] * mesh[1], root=build_root)
        self._own_workdir = workdir is None
        self._workdir = Path(tempfile.mkdtemp(prefix="hil-rtl-dynapse2-") if workdir is None else workdir)
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._config = types.Config.default(mesh)
        self._runs = 0
        self._info = DeviceInfo(backend="rtl", family=types.FAMILY, serial=serial, model=MODEL,
                                firmware=f"rtl {__version__} ({simulator})", geometry=types.geometry(mesh),
                                modes=self.MODES, ideal=ideal, faults={})

    def info(self) -> DeviceInfo:
        return self._info

    @property
    def build_dir(self) -> Path:
        """The simulation's build directory (failure reports name it)."""
        return self._build.build_dir

    def configure(self, config) -> None:
        self._check_open()
        if not isinstance(config, types.Config):
            raise self._unsupported(config, self.MODES)
        self._config = config.check_shape(self._info.geometry)

    def run(self, stimulus):
        """The RouteLog of the probe ``stimulus`` on the configured router."""
        return self.run_probes([stimulus])[0]

    def run_probes(self, probes) -> list:
        """The RouteLog of each probe, all routed in one simulation (one start-up for many probes)."""
        self._check_open()
        for p in probes:
            if not isinstance(p, types.RouteProbe):
                raise self._unsupported(p, self.MODES)
            p.check_shape(self._info.geometry)
        workdir = self._workdir / f"run-{self._runs}"
        self._runs += 1
        results = job.run(self._build, workdir, self._config, list(probes))
        for k, r in enumerate(results):
            if r.dropped:
                raise job.RouterRefused(f"the RTL router dropped {r.dropped} events of probe {k}, which the "
                                        f"probe and configuration allow (build {self._build.build_dir}, "
                                        f"files {workdir})")
        return [r.log for r in results]

    def close(self) -> None:
        if not self.closed and self._own_workdir:
            shutil.rmtree(self._workdir, ignore_errors=True)
        super().close()
