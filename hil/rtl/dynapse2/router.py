"""The router model's files (``rtl_models/dynapse2/router.v`` through its harness
``hil/rtl/benches/router.v``): a configuration as the harness's write commands, a probe as its
sources, and the deliveries and status it writes back.

Word layouts (router.v says the same):

* SRAM row of a neuron, 92 bits: destination d at bits ``23 d``: tag (11), cores (4), dx (4), dy (4),
  the hops in two's complement;
* CAM row of a neuron, 1088 bits: entry e at bits ``17 e``: tag (11), type (2), weights (4).

Rows are addressed ``chip * 1024 + neuron``. Every function takes the arrays of
:class:`hil.dynapse2.Config` (``Config.arrays()``), or raw arrays of the same shapes and dtypes that
no Config would accept (a hop off the mesh), which is how the bench shows what the RTL does with them.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emulator.dynapse2 import geometry as g

CONFIG_FILE, PROBE_FILE = "router_config.hex", "router_probe.hex"
OUT_FILE, STATUS_FILE = "router_out.txt", "router_status.txt"
ENTRY_BITS, DEST_BITS = 17, 23
CAM_ROW_BITS = g.CAM_ENTRIES * ENTRY_BITS             # 1088
SRAM_ROW_BITS = g.SRAM_DESTINATIONS * DEST_BITS       # 92
KIND_MESH, KIND_SRAM, KIND_CAM = 0, 1, 2
"""The harness's write kinds (the router's ``cfg_kind``)."""
_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def _hex_rows(words: np.ndarray, width: int) -> list[str]:
    """(n, k) unsigned words of ``width`` bits -> n hex strings of the rows, word 0 lowest."""
    n, k = words.shape
    bits = np.zeros((n, k, width), np.uint8)
    w = words.astype(np.uint32)
    for b in range(width):                    # bit planes: keeps the memory at one byte a bit
        bits[:, :, b] = (w >> np.uint32(b)) & np.uint32(1)
    bits = bits.reshape(n, k * width)
    pad = (-k * width) % 4
    if pad:
        bits = np.concatenate([bits, np.zeros((n, pad), np.uint8)], axis=1)
    nibbles = bits.reshape(n, -1, 4) @ np.array([1, 2, 4, 8], np.uint8)
    digits = _HEX[nibbles[:, ::-1]]           # most significant digit first
    return [row.tobytes().decode() for row in digits]


def cam_words(arrays: dict) -> np.ndarray:
    """(chips, 1024, 64) uint32: each CAM entry's 17-bit word (tag, type << 11, weights << 13)."""
    return (arrays["cam_tag"].astype(np.uint32) | arrays["cam_type"].astype(np.uint32) << 11
            | arrays["cam_weights"].astype(np.uint32) << 13)


def sram_words(arrays: dict) -> np.ndarray:
    """(chips, 1024, 4) uint32: each SRAM destination's 23-bit word (tag, cores << 11, dx << 15, dy << 19)."""
    return (arrays["sram_tag"].astype(np.uint32) | arrays["sram_cores"].astype(np.uint32) << 11
            | (arrays["sram_dx"].astype(np.int64) & 15).astype(np.uint32) << 15
            | (arrays["sram_dy"].astype(np.int64) & 15).astype(np.uint32) << 19)


def mesh_word(width: int, height: int) -> int:
    """The mesh write's data: width in bits 2:0, height in bits 5:3."""
    return int(width) | int(height) << 3


def config_lines(arrays: dict, mesh: tuple[int, int]) -> list[str]:
    """The harness's write commands for a whole configuration: the mesh, then every chip's SRAM and
    CAM rows (every row: the memories have no reset)."""
    chips = arrays["cam_tag"].shape[0]
    n = chips * g.NEURONS
    sram = _hex_rows(sram_words(arrays).reshape(n, g.SRAM_DESTINATIONS), DEST_BITS)
    cam = _hex_rows(cam_words(arrays).reshape(n, g.CAM_ENTRIES), ENTRY_BITS)
    lines = [f"{KIND_MESH:x} 0 {mesh_word(*mesh):x}"]
    lines += [f"{KIND_SRAM:x} {a:x} {row}" for a, row in enumerate(sram)]
    lines += [f"{KIND_CAM:x} {a:x} {row}" for a, row in enumerate(cam)]
    return lines


def write_config(path, arrays: dict, mesh: tuple[int, int]) -> Path:
    path = Path(path)
    path.write_text("\n".join(config_lines(arrays, mesh)) + "\n")
    return path


@dataclass(frozen=True, eq=False)
class Sources:
    """A probe's sources as the router takes them: spikes (chip, neuron 0..1023), then input events
    (tag, chip, core); the raw arrays of :class:`hil.dynapse2.RouteProbe`, or values no probe would
    accept (a chip off the mesh)."""

    spike_chips: np.ndarray
    spike_neurons: np.ndarray
    input_tags: np.ndarray
    input_chips: np.ndarray
    input_cores: np.ndarray

    @classmethod
    def of(cls, probe) -> "Sources":
        return cls(probe.spike_chips, probe.spike_neurons, probe.input_tags, probe.input_chips, probe.input_cores)

    def __len__(self) -> int:
        return len(self.spike_chips) + len(self.input_tags)


def probe_lines(s: Sources) -> list[str]:
    """One line a source, "input chip neuron core tag" in hex: the spikes, then the input events."""
    lines = [f"0 {int(c):x} {int(n):x} 0 0" for c, n in zip(s.spike_chips.tolist(), s.spike_neurons.tolist())]
    lines += [f"1 {int(c):x} 0 {int(k):x} {int(t):x}"
              for t, c, k in zip(s.input_tags.tolist(), s.input_chips.tolist(), s.input_cores.tolist())]
    return lines


def write_probe(path, s: Sources) -> Path:
    path = Path(path)
    lines = probe_lines(s)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def read_deliveries(path) -> np.ndarray:
    """(r, 6) int64 rows (source, chip, neuron, entry, type, weights) in the order the router emitted them."""
    text = Path(path).read_text()
    if not text.strip():
        return np.zeros((0, 6), np.int64)
    return np.array(text.split(), np.int64).reshape(-1, 6)


@dataclass(frozen=True)
class Status:
    """What the harness reports after a command."""

    cycles: int
    """Clocks (10 ns of simulated time each) from the command's start until it was done."""
    sources: int
    """Sources the router took."""
    dropped: int
    """Destinations (or whole sources) dropped because their chip lies off the mesh."""
    cfg_refused: int
    """Configuration writes the router refused."""
    mesh: tuple[int, int]
    """The router's mesh (width, height) after the command."""


def read_status(path) -> Status:
    c, s, d, r, w, h = (int(v) for v in Path(path).read_text().split())
    return Status(c, s, d, r, (w, h))


def route_log(rows: np.ndarray):
    """The :class:`hil.dynapse2.RouteLog` of the router's rows, in the order it emitted them."""
    from ...dynapse2.types import RouteLog
    return RouteLog(sources=rows[:, 0], chips=rows[:, 1], neurons=rows[:, 2], entries=rows[:, 3],
                    types=rows[:, 4], weights=rows[:, 5])


def used_per_core(arrays: dict) -> int:
    """The CAM entries in use (weights != 0) of the fullest core of a configuration."""
    used = (arrays["cam_weights"] != 0).reshape(-1, g.NEURONS_PER_CORE * g.CAM_ENTRIES).sum(axis=1)
    return int(used.max() if used.size else 0)


def cycle_bound(used: int, sources: int, *, stall: bool = False) -> int:
    """An upper bound of the clocks a probe of ``sources`` sources takes when no core holds more than
    ``used`` entries in use: each source reaching all 16 (chip, core) pairs its four destinations can
    reach and each of them delivering ``used`` entries four times; twice that with ``stall``."""
    per_visit = 257 + g.SRAM_DESTINATIONS * int(used)
    bound = 64 + sources * (3 + g.CORES * g.SRAM_DESTINATIONS * per_visit)
    return bound * (2 if stall else 1)
