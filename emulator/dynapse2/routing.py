"""The router's tables: a configuration's SRAM and CAM turned into the lookups the C core follows
(docs/dynapse2.md#routing).

Every neuron's four destinations become (destination chip, core mask, tag), the chip found by its hops
from the source chip's place on the mesh; the CAM entries in use (weight mask not 0) are grouped by
(chip, core, tag), in order of neuron and entry, so that an event reaching a core finds its receivers in
one lookup. ``hil.dynapse2.models.route`` states the same routing directly, as the reference.
"""
from dataclasses import dataclass

import numpy as np

from . import geometry as g


@dataclass(frozen=True, eq=False)
class Tables:
    """The router's lookups for a board of ``chips`` chips (n = chips x 1024 neurons)."""

    chips: int
    dest_chip: np.ndarray     # (n, 4) int32, -1: off
    dest_cores: np.ndarray    # (n, 4) uint8
    dest_tag: np.ndarray      # (n, 4) uint16
    cam_offsets: np.ndarray   # (chips * 4 * 2048 + 1,) int64
    cam_neuron: np.ndarray    # (entries,) int32 global neuron
    cam_entry: np.ndarray     # (entries,) uint8
    cam_type: np.ndarray      # (entries,) uint8
    cam_mask: np.ndarray      # (entries,) uint8


def tables(cfg: dict, mesh_width: int) -> Tables:
    """The :class:`Tables` of the configuration arrays ``cfg`` (those of ``hil.dynapse2.Config``)."""
    chips = cfg["cam_tag"].shape[0]
    n = chips * g.NEURONS
    src = np.repeat(np.arange(chips), g.NEURONS)[:, None]
    x = src % mesh_width + cfg["sram_dx"].reshape(n, -1).astype(np.int64)
    y = src // mesh_width + cfg["sram_dy"].reshape(n, -1).astype(np.int64)
    cores = cfg["sram_cores"].reshape(n, -1)
    dest = np.where(cores != 0, y * mesh_width + x, -1).astype(np.int32)
    neuron, entry = np.nonzero(cfg["cam_weights"].reshape(n, -1))
    chip, core = neuron // g.NEURONS, neuron % g.NEURONS // g.NEURONS_PER_CORE
    tag = cfg["cam_tag"].reshape(n, -1)[neuron, entry].astype(np.int64)
    key = (chip * g.CORES + core) * g.TAGS + tag
    order = np.argsort(key, kind="stable")       # np.nonzero is in (neuron, entry) order already
    counts = np.bincount(key, minlength=chips * g.CORES * g.TAGS)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    neuron, entry = neuron[order], entry[order]
    flat = lambda name: np.ascontiguousarray(cfg[name].reshape(n, -1)[neuron, entry], np.uint8)  # noqa: E731
    return Tables(chips=chips, dest_chip=np.ascontiguousarray(dest),
                  dest_cores=np.ascontiguousarray(cores, np.uint8),
                  dest_tag=np.ascontiguousarray(cfg["sram_tag"].reshape(n, -1), np.uint16), cam_offsets=offsets,
                  cam_neuron=neuron.astype(np.int32), cam_entry=entry.astype(np.uint8), cam_type=flat("cam_type"),
                  cam_mask=flat("cam_weights"))


def receivers(t: Tables, chip: int, core: int, tag: int) -> slice:
    """The entries of ``t`` an event with ``tag`` reaching (chip, core) is delivered to."""
    k = (chip * g.CORES + core) * g.TAGS + tag
    return slice(int(t.cam_offsets[k]), int(t.cam_offsets[k + 1]))
