"""A virtual analog crossbar tile: its devices drawn from its serial, the C core's runs (docs/crossbar.md).

>>> tile = VirtualTile("EMU-XB-0001", shape=(512, 128))
>>> tile.configure(weights, device)                 # device: the fields of hil.crossbar.DeviceConfig
>>> y, rounds = tile.forward(x, io)                  # io: the fields of hil.crossbar.IOConfig
>>> d_x, _ = tile.backward(d, io_backward)
>>> bl, pulses = tile.update(x, d, lr, update)      # update: the fields of hil.crossbar.UpdateConfig
"""
import numpy as np

from emulator._native import ffi, lib

from ..errors import InvalidInput
from ..identity import check_serial, serial_to_seed
from . import converters as cv, geometry as g
from .device import Devices, deviates

DEFAULT_SERIAL = "EMU-XB-0001"
MODEL = "analog crossbar tile (virtual)"
STREAMS = {"in_noise": 0x58420001, "out_noise": 0x58420002, "in_sr": 0x58420003, "out_sr": 0x58420004,
           "x_trains": 0x58420011, "d_trains": 0x58420012, "ctoc": 0x58420013, "sr": 0x58420014}
"""The noise streams of a run (rng.h's stream index), one per kind; the backward pass's are these + 0x100."""
BACKWARD = 0x100
_BAD = {lib.XB_BAD_SIZE: "size", lib.XB_BAD_VALUE: "inputs", lib.XB_BAD_LEVELS: "levels",
        lib.XB_BAD_ROUNDS: "max_bm_factor", lib.XB_BAD_BL: "learning_rate"}
_NM = {"none": 0, "abs_max": 1, "max": 2, "constant": 3}


def keys(seed: int, run: int, offset: int = 0) -> dict:
    """The stream keys of run ``run`` of the tile of ``seed``."""
    return {k: int(lib.bss2_stream_key(seed, run, s + offset)) for k, s in STREAMS.items()}


class VirtualTile:
    """``shape`` (rows, columns) constant-step devices. ``ideal``: a perfect tile (every product exact, no
    converters, no noise; the update exactly ``w -= lr d x``, no bounds)."""

    def __init__(self, serial: str = DEFAULT_SERIAL, shape: tuple[int, int] = g.SHAPE_DEFAULT, ideal: bool = False):
        self.serial = check_serial(serial)
        if not (isinstance(shape, (tuple, list)) and len(shape) == 2
                and all(isinstance(s, (int, np.integer)) and 1 <= s <= g.SIZE_MAX for s in shape)):
            raise InvalidInput("shape", f"{shape!r}: (rows, columns), each 1..{g.SIZE_MAX}")
        self.shape = (int(shape[0]), int(shape[1]))
        self.ideal = bool(ideal)
        self.seed = serial_to_seed(serial)
        self.run_counter = 0
        self._z = None if ideal else deviates(serial, self.shape)
        self.weights = np.zeros(self.shape, np.float32)
        self.devices: Devices | None = None
        self._wt = None

    def configure(self, weights: np.ndarray, device) -> np.ndarray:
        """Writes ``weights`` (rows, columns; checked by hil.crossbar.Config) to devices of config ``device``.
        A device holds a weight within its own bounds: the weights it holds are returned."""
        self.devices = Devices.of(self._z, device, self.shape)
        w = np.ascontiguousarray(weights, np.float32)
        if w.shape != self.shape:
            raise InvalidInput("weights", f"has shape {w.shape}; this tile is {self.shape}")
        if not self.ideal:
            w = np.maximum(np.minimum(w, self.devices.w_max), self.devices.w_min)
        self.weights = np.array(w, np.float32)
        self._wt = None
        return self.weights

    def reset(self) -> None:
        self.weights = np.zeros(self.shape, np.float32)
        self._wt = None

    def _io(self, io, offset: int) -> tuple:
        s = ffi.new("xb_io *")
        perfect = self.ideal or io.is_perfect
        s.perfect = int(perfect)
        s.nm, s.nm_thres = _NM[io.noise_management], io.nm_thres
        n_in, n_out = cv.levels(io.inp_res), cv.levels(io.out_res)
        s.bm = int(io.bound_management == "iterative" and offset == 0 and not perfect)
        s.bm_last = cv.bm_last_round(io.max_bm_factor, io.max_bm_res, float(cv.step(io.inp_bound, n_in)) if n_in else 0.0) \
            if s.bm else 0
        s.bm_negative = int(io.bm_test_negative_bound)
        s.inp_levels, s.inp_sr = n_in, int(io.inp_sto_round)
        s.inp_bound, s.inp_step, s.inp_inv, s.inp_noise = (io.inp_bound, cv.step(io.inp_bound, n_in),
                                                           cv.inverse(io.inp_bound, n_in), io.inp_noise)
        s.out_levels, s.out_sr = n_out, int(io.out_sto_round)
        s.out_bound, s.out_step, s.out_inv, s.out_noise = (io.out_bound, cv.step(io.out_bound, n_out),
                                                           cv.inverse(io.out_bound, n_out), io.out_noise)
        s.w_noise, s.out_scale = io.w_noise, io.out_scale
        k = keys(self.seed, self.run_counter, offset)
        s.key_in_noise, s.key_out_noise, s.key_in_sr, s.key_out_sr = (k["in_noise"], k["out_noise"], k["in_sr"],
                                                                       k["out_sr"])
        return s, k

    def _refused(self, status: int, bad, what: str, shape=None):
        if status == 1:
            kind, index, value = int(bad[0]), int(bad[1]), int(bad[2])
            if kind == lib.XB_BAD_VALUE and shape is not None:
                where = "[" + ", ".join(str(int(i)) for i in np.unravel_index(index, shape)) + "]"
                raise InvalidInput(f"{what}{where}", "is not a finite number")
            raise InvalidInput(_BAD.get(kind, what), f"{value} is not allowed on this tile ({what})")
        if status == -2:
            raise MemoryError(f"the C core ran out of memory ({what})")
        raise RuntimeError(f"the C core refused its arguments ({what}: {status})")

    def _mvm(self, m: np.ndarray, x: np.ndarray, io, offset: int, what: str):
        x = np.ascontiguousarray(x, np.float32)
        s, _ = self._io(io, offset)
        y = np.empty((x.shape[0], m.shape[1]), np.float32)
        rounds = np.empty(x.shape[0], np.int8)
        bad = ffi.new("int64_t[3]")
        status = lib.xb_mvm(ffi.from_buffer("float[]", m), m.shape[0], m.shape[1], ffi.from_buffer("float[]", x),
                            x.shape[0], s, ffi.from_buffer("float[]", y), ffi.from_buffer("int8_t[]", rounds), bad)
        if status:
            self._refused(status, bad, what, x.shape)
        self.run_counter += 1
        return y, rounds

    def forward(self, x: np.ndarray, io):
        """(y (batch, rows) float32, rounds (batch,) int8) of inputs x (batch, columns)."""
        if self._wt is None:
            self._wt = np.ascontiguousarray(self.weights.T)
        return self._mvm(self._wt, x, io, 0, "x")

    def backward(self, d: np.ndarray, io):
        """(x-errors (batch, columns), rounds) of errors d (batch, rows) through W^T; no bound management."""
        return self._mvm(self.weights, d, io, BACKWARD, "d")

    def update(self, x: np.ndarray, d: np.ndarray, lr: float, up):
        """The pulsed update with inputs x (batch, columns) and errors d (batch, rows), vector after vector:
        ``w -= lr d x`` in expectation. Returns (bl (batch,) int32, pulses (batch, 2) int64: row, column)."""
        if self.devices is None:
            raise InvalidInput("configure", "the tile has no configuration yet")
        x, d = np.ascontiguousarray(x, np.float32), np.ascontiguousarray(d, np.float32)
        p = ffi.new("xb_update_par *")
        p.ideal, p.desired_bl, p.fixed_bl = int(self.ideal), up.desired_bl, int(up.fixed_bl)
        p.um, p.ublm, p.sto_round = int(up.update_management), int(up.update_bl_management), int(up.sto_round)
        p.lr, p.dw_min, p.um_grad_scale = lr, self.devices.dw_min, up.um_grad_scale
        p.res, p.res_inv = up.res, (1.0 / up.res if up.res > 0 else 0.0)
        p.dw_min_std = self.devices.dw_min_std
        k = keys(self.seed, self.run_counter)
        p.key_x, p.key_d, p.key_ctoc, p.key_sr = k["x_trains"], k["d_trains"], k["ctoc"], k["sr"]
        w = np.array(self.weights, np.float32)        # the tile changes only if the whole update runs
        bl = np.zeros(x.shape[0], np.int32)
        pulses = np.zeros((x.shape[0], 2), np.int64)
        bad = ffi.new("int64_t[3]")
        dv = self.devices
        status = lib.xb_update(ffi.from_buffer("float[]", w), ffi.from_buffer("float[]", dv.scale_up),
                               ffi.from_buffer("float[]", dv.scale_down), ffi.from_buffer("float[]", dv.w_max),
                               ffi.from_buffer("float[]", dv.w_min), self.shape[0], self.shape[1],
                               ffi.from_buffer("float[]", x), ffi.from_buffer("float[]", d), x.shape[0], p,
                               ffi.from_buffer("int32_t[]", bl), ffi.from_buffer("int64_t[]", pulses), bad)
        if status:
            if status == 1 and int(bad[0]) == lib.XB_BAD_VALUE:
                index = int(bad[1])
                if index < x.size:
                    self._refused(status, bad, "x", x.shape)
                bad[1] = index - x.size
                self._refused(status, bad, "d", d.shape)
            if status == 1 and int(bad[0]) == lib.XB_BAD_BL:
                raise InvalidInput("learning_rate", f"{lr!r} asks for pulse trains of {int(bad[2])} slots on vector "
                                                    f"{int(bad[1])}; at most {g.BL_MAX} (fixed_bl keeps desired_bl)")
            self._refused(status, bad, "update")
        self.run_counter += 1
        self.weights = w
        self._wt = None
        return bl, pulses
