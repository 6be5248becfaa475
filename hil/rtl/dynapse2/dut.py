"""``RouterDut``: the router's harness ``router_bench`` (``hil/rtl/benches/router.v``) driven from
inside a cocotb test. Python writes a file into the session directory, pulses a command and awaits
``done``; the harness feeds the router one line a clock, so Python stays out of the per-cycle path.
Used by the router's bench (``hil.rtl.benches.router``) and by the rtl backend's runs
(``hil.rtl.dynapse2.job``).
"""
from pathlib import Path

import numpy as np

from . import router

CLOCK_NS = 10
"""The harness's clock period, ns of simulated time."""
CONFIGURE, ROUTE = 1, 2
"""The harness's commands."""


class RouterFailed(RuntimeError):
    """The router did not finish a command within its bound of clocks."""


class RouterDut:
    """The harness ``dut`` of a cocotb test, with its session directory ``workdir``."""

    def __init__(self, dut, workdir):
        self.dut = dut
        self.workdir = Path(workdir)
        self.used = 0
        """The CAM entries in use in the fullest core of the configuration last written (they bound
        a probe's clocks)."""

    async def _command(self, command: int, timeout_cycles: int, *, gaps: bool = False,
                       stall: bool = False) -> router.Status:
        from cocotb.triggers import RisingEdge, Timer, with_timeout
        d = self.dut
        (self.workdir / router.STATUS_FILE).unlink(missing_ok=True)
        d.command.value = command
        d.gaps.value = int(gaps)
        d.stall.value = int(stall)
        d.start.value = 1
        try:
            await with_timeout(RisingEdge(d.done), CLOCK_NS * int(timeout_cycles), "ns")
        except TimeoutError:
            raise RouterFailed(f"command {command} did not finish in {timeout_cycles} clocks") from None
        d.start.value = 0
        await Timer(2 * CLOCK_NS, "ns")
        return router.read_status(self.workdir / router.STATUS_FILE)

    async def configure(self, arrays: dict, mesh: tuple[int, int]) -> router.Status:
        """Writes the mesh and every row of ``arrays`` (``Config.arrays()`` or raw arrays of their shapes)."""
        router.write_config(self.workdir / router.CONFIG_FILE, arrays, mesh)
        return await self.load(router.used_per_core(arrays))

    async def load(self, used: int) -> router.Status:
        """Runs the write commands already in the session directory's config file, of a configuration
        with at most ``used`` CAM entries in use per core."""
        lines = (self.workdir / router.CONFIG_FILE).read_text().count("\n")
        self.used = int(used)
        return await self._command(CONFIGURE, 64 + 2 * lines)

    async def write(self, lines: list[str]) -> router.Status:
        """Writes raw write commands ("kind addr data" in hex), e.g. ones the router must refuse; the
        bound of the entries in use stays."""
        (self.workdir / router.CONFIG_FILE).write_text("".join(line + "\n" for line in lines))
        return await self._command(CONFIGURE, 64 + 2 * len(lines))

    async def route(self, sources: router.Sources, *, gaps: bool = False,
                    stall: bool = False) -> tuple[np.ndarray, router.Status]:
        """The router's deliveries for ``sources`` as (r, 6) rows in its order, and its status."""
        router.write_probe(self.workdir / router.PROBE_FILE, sources)
        bound = router.cycle_bound(self.used, len(sources), stall=stall) * (2 if gaps else 1)
        status = await self._command(ROUTE, bound, gaps=gaps, stall=stall)
        return router.read_deliveries(self.workdir / router.OUT_FILE), status
