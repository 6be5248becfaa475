"""RtlBackend: the chip's Verilog behavioural models in a simulator, reached as a board.

``hil.backend.open("rtl", serial=..., ideal=False, simulator="icarus" | "verilator")``
starts one simulation (:class:`hil.rtl.process.RtlProcess`) that serves the board
protocol from inside the simulator, and talks to it with the board driver: one protocol
server, one client. The simulated core is reduced (``info().geometry``: 32 inputs x 32
outputs by default); :func:`hil.bss2.mac` splits larger products into its blocks, as on
the chip, and a configuration or stimulus of another shape is refused with an error
naming the shape the core takes.
"""
import dataclasses

from emulator.bss2 import DEFAULT_SERIAL

from ..contract.backend import DeviceInfo, register
from ..rtl.geometry import RtlGeometry
from ..rtl.process import RtlProcess
from .board import BoardBackend

RUN_TIMEOUT_S = 600.0
"""How long the driver waits for one answer: a full batch (hil.rtl.session.MAX_BATCH vectors)
of long sends takes minutes of simulation."""

DEATH_WAIT_S = 10.0
"""After a lost connection, how long to wait for a dying simulation to end (and so be reported
with its log) before the loss is reported as it is, seconds."""


@register("rtl")
class RtlBackend(BoardBackend):
    """One RTL simulation of chip ``serial`` (``ideal``: without mismatch), on ``simulator``.

    Same ``serial`` and ``ideal`` as the emulator backend: the simulation loads the
    emulated chip's fixed pattern, so it is the same chip (docs/chip_model.md, "The RTL
    models"), its temporal noise included: the run counter (one per run, ``run_counter``)
    and the chip seed key the emulator's generator in the RTL. It takes no faults.
    """

    run_counter_kind = "chip"

    def __init__(self, serial: str = DEFAULT_SERIAL, ideal: bool = False, simulator: str = "icarus",
                 geometry: RtlGeometry = RtlGeometry()):
        self.process = RtlProcess(serial=serial, ideal=ideal, simulator=simulator, geometry=geometry)
        try:
            super().__init__(self.process.resource, timeout_s=RUN_TIMEOUT_S)
        except BaseException:
            self.process.close()
            raise
        self._info = dataclasses.replace(self._info, backend="rtl")

    def info(self) -> DeviceInfo:
        return self._info

    def _checked(self, method, *args):
        """``method(*args)``; a lost connection is reported as the simulator's death, with
        the tail of its log, where that is what happened."""
        try:
            return method(*args)
        except (ConnectionError, TimeoutError):
            self.process.check_alive(wait_s=DEATH_WAIT_S)
            raise

    def configure(self, config) -> None:
        self._checked(super().configure, config)

    def run(self, stimulus):
        return self._checked(super().run, stimulus)

    def configure_and_run(self, config, stimulus):
        return self._checked(super().configure_and_run, config, stimulus)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.process.close()
