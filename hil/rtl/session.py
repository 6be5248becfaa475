"""The RTL simulation as a board: a cocotb test that serves the board protocol.

:class:`hil.rtl.process.RtlProcess` starts the simulator with this module as its cocotb
test module; nobody else needs to. Inside the simulator, :func:`serve` puts a
:class:`SimulatedChip` (the Backend contract on the Verilog models, through
:class:`hil.rtl.dut.ChipDut`) behind the same :class:`hil.server.tcp.VirtualBoard`
that ``hil serve`` uses, on a free loopback port, and announces the port in a file. The
client is the ordinary board driver.

The protocol server runs on its own threads; the simulation runs on the simulator's.
A command that needs the chip hands the simulation a coroutine (:class:`_Simulation`)
and waits for its result; between commands the simulator waits in the queue, so
simulated time stands still while nobody asks for anything.

The session ends (the test returns and the simulator exits) when the process that
started it is gone (its exit or its crash) or writes the stop file (its ``close()``).
"""
import concurrent.futures
import json
import os
import queue
import threading
import time
from pathlib import Path

import cocotb
import numpy as np

from emulator.bss2 import MODEL

from ..bss2.types import FAMILY, MacConfig, MacReadout, MacStimulus
from ..contract.backend import VENDOR, Backend, DeviceInfo
from ..results.atomic import write_text_atomic
from ..server.tcp import VirtualBoard
from .dut import ChipDut
from .geometry import RtlGeometry

SETTINGS_ENV = "HIL_RTL_SESSION"
"""Environment variable naming the session's settings file (JSON, written by RtlProcess)."""
OWNER_POLL_S = 0.1
"""How often the session checks that the process that started it is still there, and for
the stop file of its settings, seconds."""
MAX_BATCH = 4096
"""Input vectors per run on the RTL: bounds the simulated time one command can take
(a larger product is split by :func:`hil.bss2.mac`, as on the chip)."""


class _Simulation:
    """Hands coroutines from the server's threads to the simulator's thread, one at a time."""

    def __init__(self):
        self._jobs: queue.Queue = queue.Queue()

    def call(self, make_coroutine):
        """Runs ``make_coroutine()`` in the simulation and returns its result (any thread)."""
        done: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((make_coroutine, done))
        return done.result()

    def stop(self) -> None:
        self._jobs.put(None)

    async def run(self) -> None:
        """The simulation's loop: executes the handed coroutines until :meth:`stop`."""
        while True:
            job = self._jobs.get()          # blocks the simulator: simulated time stands still
            if job is None:
                return
            make_coroutine, done = job
            try:
                done.set_result(await make_coroutine())
            except Exception as exc:        # the caller gets it as the command's error
                done.set_exception(exc)


class SimulatedChip(Backend):
    """The Backend contract on the Verilog models in this simulation (MAC mode)."""

    name = "rtl"
    MODES = ("mac",)
    run_counter_kind = "chip"

    def __init__(self, dut: ChipDut, simulation: _Simulation, *, serial: str, ideal: bool,
                 geometry: RtlGeometry, simulator: str, version: str):
        super().__init__()
        self._dut, self._simulation = dut, simulation
        self._geometry = geometry
        self._info = DeviceInfo(
            backend="rtl", family=FAMILY, serial=serial, model=f"{MODEL}-RTL",
            firmware=f"rtl {version} ({simulator})", geometry=geometry.as_info(max_batch=MAX_BATCH),
            modes=self.MODES, ideal=ideal, faults={})
        self._configured = False
        self._runs = 0

    def info(self) -> DeviceInfo:
        return self._info

    def identity(self) -> dict:
        i = self._info
        return {"vendor": VENDOR, "model": i.model, "serial": i.serial, "firmware": i.firmware}

    @property
    def run_counter(self) -> int:
        """Runs made since the simulation started, one per run as the emulator counts them:
        with the chip seed it keys the temporal noise of the next run."""
        return self._runs

    def configure(self, config) -> None:
        if not isinstance(config, MacConfig):
            raise self._unsupported(config, self.MODES)
        config.check_shape(self._info.geometry)
        self._simulation.call(lambda: self._dut.configure(config.weights, config.driver_offset_trim))
        self._configured = True

    def run(self, stimulus) -> MacReadout:
        if not isinstance(stimulus, MacStimulus):
            raise self._unsupported(stimulus, self.MODES)
        stimulus.check_shape(self._info.geometry)
        if not self._configured:
            raise ValueError("configuration: the chip has no MAC configuration; configure it first")
        run = self._runs
        self._runs += 1
        out = self._simulation.call(lambda: self._dut.run(
            stimulus.inputs, stimulus.num_sends, stimulus.wait_between_events, run_counter=run))
        return MacReadout(outputs=np.asarray(out, np.int8))

    def reset(self) -> None:
        self._configured = False


def _watch_owner(pid: int, stop_file: Path, simulation: _Simulation, board: VirtualBoard) -> None:
    """Ends the session once process ``pid`` (the client that started it) is gone, or once
    ``stop_file`` exists (its orderly ``close()``)."""
    while not stop_file.exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:         # alive, someone else's: cannot happen for our own parent
            pass
        time.sleep(OWNER_POLL_S)
    board.close(timeout=1.0)
    simulation.stop()


@cocotb.test()
async def serve(dut) -> None:
    """Serves the board protocol on the models until the owner process is gone."""
    settings = json.loads(Path(os.environ[SETTINGS_ENV]).read_text())
    geometry = RtlGeometry(**settings["geometry"])
    chip = ChipDut(dut, Path(settings["workdir"]), geometry)
    await chip.start()
    simulation = _Simulation()
    backend = SimulatedChip(chip, simulation, serial=settings["serial"], ideal=settings["ideal"],
                            geometry=geometry, simulator=settings["simulator"], version=settings["version"])
    board = VirtualBoard(backend, port=0).start()
    threading.Thread(target=_watch_owner, args=(settings["owner_pid"], Path(settings["stop_file"]), simulation, board),
                     name="rtl-owner", daemon=True).start()
    write_text_atomic(Path(settings["resource_file"]), board.resource)
    await simulation.run()
