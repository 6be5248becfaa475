"""Routing on the RTL router: one configuration and a list of probes in one simulation, the cocotb
test (simulator side) and its host side. The rtl backend of the family's routing mode runs on it
(``hil.rtl.dynapse2.backend``).

Host side: ``run(build, workdir, config, probes)`` writes the configuration's write commands and the
probes into ``workdir``, starts the simulator once and returns each probe's :class:`RouteResult`:
the deliveries as the router emitted them (a :class:`hil.dynapse2.RouteLog`), its counters, its
simulated clocks and the wall time. Simulator side: the cocotb test ``route_job`` below configures
the router (``RouterDut``) and routes the probes one after the other.
"""
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import router

JOB_ENV = "HIL_RTL_ROUTE_JOB"
JOB_FILE, PROBES_FILE, RESULTS_FILE = "route_job.json", "route_probes.npz", "route_results.npz"


class RouterRefused(RuntimeError):
    """The RTL router refused writes of a configuration that the family's Config accepted, or
    dropped events of a probe that its RouteProbe accepted: the model and the RTL disagree."""


@dataclass(frozen=True)
class RouteResult:
    log: object
    """The :class:`hil.dynapse2.RouteLog` of the deliveries, in the order the router emitted them."""
    dropped: int
    """Destinations (or sources) the router dropped as off the mesh: 0 for a valid Config and probe."""
    cycles: int
    """Simulated clocks of the probe (10 ns each), configuration not included."""
    seconds: float
    """Wall time of the probe inside the simulator, s."""


def run(build, workdir, config, probes: list) -> list[RouteResult]:
    """Configures the router with ``config`` (a :class:`hil.dynapse2.Config`) and routes each of
    ``probes`` (:class:`hil.dynapse2.RouteProbe`), in one simulation of ``build`` (the router's
    harness, ``hil.rtl.dynapse2.build.build("router", ...)``) in ``workdir``."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    router.write_config(workdir / router.CONFIG_FILE, config.arrays(), (config.mesh_width, config.mesh_height))
    arrays = {}
    for k, p in enumerate(probes):
        for name in ("spike_chips", "spike_neurons", "input_tags", "input_chips", "input_cores"):
            arrays[f"{name}{k}"] = getattr(p, name)
    np.savez(workdir / PROBES_FILE, **arrays)
    (workdir / JOB_FILE).write_text(json.dumps({"probes": len(probes), "mesh": [config.mesh_width,
                                                                                 config.mesh_height],
                                                "used": router.used_per_core(config.arrays())}))
    (workdir / RESULTS_FILE).unlink(missing_ok=True)
    build.test("hil.rtl.dynapse2.job", workdir, extra_env={JOB_ENV: str(workdir.resolve())})
    out = []
    with np.load(workdir / RESULTS_FILE) as res:
        if int(res["cfg_refused"]):
            raise RouterRefused(f"the RTL router refused {int(res['cfg_refused'])} writes of a valid configuration "
                                f"(build {build.build_dir})")
        for k in range(len(probes)):
            out.append(RouteResult(router.route_log(res[f"rows{k}"]), int(res["dropped"][k]), int(res["cycles"][k]),
                                   float(res["seconds"][k])))
    return out


try:
    import cocotb
except ImportError:  # pragma: no cover - the host side needs no cocotb
    cocotb = None

if cocotb is not None:
    @cocotb.test()
    async def route_job(dut):
        """The configuration and probes of ``$HIL_RTL_ROUTE_JOB``; results into route_results.npz."""
        from .dut import RouterDut
        workdir = Path(os.environ[JOB_ENV])
        job = json.loads((workdir / JOB_FILE).read_text())
        r = RouterDut(dut, workdir)
        status = await r.load(job["used"])
        # a refused write, or a mesh other than the configuration's, is the RTL refusing a valid Config
        refused = status.cfg_refused or int(tuple(status.mesh) != tuple(job["mesh"]))
        results = {"cfg_refused": np.int64(refused)}
        dropped, cycles, seconds = [], [], []
        with np.load(workdir / PROBES_FILE) as data:
            for k in range(job["probes"]):
                s = router.Sources(*(data[f"{name}{k}"] for name in ("spike_chips", "spike_neurons", "input_tags",
                                                                     "input_chips", "input_cores")))
                t0 = time.perf_counter()
                rows, st = await r.route(s)
                seconds.append(time.perf_counter() - t0)
                results[f"rows{k}"] = rows
                dropped.append(st.dropped)
                cycles.append(st.cycles)
        np.savez(workdir / RESULTS_FILE, dropped=np.array(dropped, np.int64), cycles=np.array(cycles, np.int64),
                 seconds=np.array(seconds), **results)
