"""Analog crossbar layers: ``torch.nn.Linear`` whose matrix lives on a crossbar tile, trained by the tile's
pulsed update (docs/torch.md#analog-crossbar-layers). The API is aihwkit's (``AnalogLinear``,
``AnalogSGD``), on any backend of the crossbar family (docs/crossbar.md).

>>> import torch
>>> from hil.torch.crossbar import AnalogLinear, AnalogSGD
>>> model = torch.nn.Sequential(AnalogLinear(4, 16), torch.nn.Sigmoid(), AnalogLinear(16, 3))
>>> optimizer = AnalogSGD(model.parameters(), lr=0.1)
>>> optimizer.zero_grad()
>>> torch.nn.functional.cross_entropy(model(x), labels).backward()   # forward and backward on the tiles
>>> optimizer.step()                                                   # the tiles' pulsed updates

The forward pass is the tile's forward run (``Stimulus.forward``), the gradient of the layer's input its
backward run through W^T (``Stimulus.backward``); no weight gradient is formed: :class:`AnalogSGD` hands the
layer's input x and output gradient d of the last forward and backward pass to the tile, which updates its
devices by stochastic pulse trains (``Stimulus.update``: W -= lr d x^T in expectation). The bias is digital
(a torch Parameter added after the tile) and gets plain SGD.
"""
import math

import numpy as np
import torch

from ..contract import validation
from ..contract.backend import Backend, open as open_backend
from ..contract.errors import InvalidValue, Unsupported
from ..crossbar.configs import RPUConfig
from ..crossbar.types import FAMILY, LEARNING_RATE_MAX, VALUE_MAX, WEIGHT_MAX, Config, Stimulus, WeightRead

DEFAULT_SERIAL = "EMU-XB-0001"
"""The serial of the emulated tile a layer opens when given neither a backend nor a serial (the crossbar
emulator's own default): same serial and shape, same devices, so two such layers of one shape have the
same mismatch; give each its own ``serial`` to make them differ."""


class AnalogContext(torch.nn.Parameter):
    """The marker parameter of an :class:`AnalogLinear` (aihwkit's ``analog_ctx``): it carries its layer to
    the optimiser (:attr:`layer`), and makes autograd run the layer's backward pass even where its input
    needs no gradient. Its value means nothing and its gradient is always zero (it counts in no gradient
    norm); optimisers other than :class:`AnalogSGD` leave the tile untouched."""

    layer: "AnalogLinear"

    def __new__(cls, layer: "AnalogLinear"):
        ctx = super().__new__(cls, torch.zeros(1), requires_grad=True)
        ctx.layer = layer
        return ctx

    def __repr__(self) -> str:
        return f"AnalogContext(of AnalogLinear({self.layer.in_features}, {self.layer.out_features}))"


class _AnalogFunction(torch.autograd.Function):
    """Forward: the tile's forward run. Backward: stashes (x, d) for the optimiser and, where the input
    needs a gradient, runs the tile's backward pass for it."""

    @staticmethod
    def forward(ctx, analog_ctx, x, x32):
        layer = analog_ctx.layer
        ctx.layer, ctx.x32, ctx.dtype = layer, x32, x.dtype
        return torch.tensor(layer._run("forward", x32), dtype=x.dtype)

    @staticmethod
    def backward(ctx, grad):
        layer = ctx.layer
        d = validation.real_array("grad_output", grad.detach().cpu().to(torch.float32).numpy(), lo=-VALUE_MAX,
                                  hi=VALUE_MAX)
        layer._pending.append((ctx.x32, d))
        grad_x = torch.tensor(layer._run("backward", d), dtype=ctx.dtype) if ctx.needs_input_grad[1] else None
        return torch.zeros(1, dtype=layer.analog_ctx.dtype), grad_x, None


class AnalogLinear(torch.nn.Module):
    """``torch.nn.Linear`` on an analog crossbar tile: ``y = tile(x) + bias``.

    in_features: inputs (the tile's columns), 1..4096; out_features: outputs (its rows), 1..4096.
    bias: learn a digital bias (out_features,), a torch Parameter added after the tile. This is aihwkit's
        default (``rpu_config.mapping.digital_bias = True``); aihwkit can instead hold the bias in an extra
        analog column driven by a constant input 1, which this layer does not build.
    rpu_config: the tile's :class:`hil.crossbar.RPUConfig` (periphery of both directions, pulsed update,
        device); default ``RPUConfig()``: aihwkit's ``SingleRPUConfig(device=ConstantStepDevice())``.
    backend: a :class:`hil.backend.Backend` of family crossbar (an emulated tile, a board over TCP ...)
        whose ``info().geometry`` has at least out_features rows and in_features columns; the layer uses
        rows 0..out_features-1 and columns 0..in_features-1 and programs the rest to 0 (zero inputs reach
        them, their outputs are dropped). It stays the caller's: the layer never closes it, and it writes
        the tile's whole configuration. None: the layer opens its own emulated tile of exactly
        (out_features, in_features), ``hil.backend.open("emulator", family="crossbar", shape=..., serial=...)``.
    serial: the serial of that own tile (default :data:`DEFAULT_SERIAL`); only without ``backend``.

    The weights (out_features, in_features), in the tile's weight units, are initialised as
    ``torch.nn.Linear``'s (uniform in +-1/sqrt(in_features) from torch's generator, then the bias, so the
    same seed gives the same numbers), clipped into the devices' nominal range ``device.w_min ..
    device.w_max`` (+-0.6 by default; only in_features < 3 reaches it) on a non-ideal tile, and programmed
    with ``backend.configure(Config(weights, rpu_config))``. They are no Parameter: they live on the tile,
    :meth:`get_weights` reads them back and :meth:`set_weights` writes them.

    Input: a floating-point tensor (..., in_features), every value finite with magnitude at most 1e6;
    leading dimensions fold into the batch, and a batch larger than one run of the tile may hold
    (``geometry["batch_max"]`` vectors and ``batch x (rows + columns) <= geometry["elements_max"]``) runs in
    several runs, in order. The tile computes in float32; the output (..., out_features) has the input's
    dtype. A bad input raises :class:`hil.errors.InvalidValue` naming ``input`` (its index for a value).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rpu_config: RPUConfig | None = None,
                 backend: Backend | None = None, serial: str | None = None):
        super().__init__()
        self.in_features = validation.integer("in_features", in_features, lo=1, hi=4096)
        self.out_features = validation.integer("out_features", out_features, lo=1, hi=4096)
        if not isinstance(bias, bool):
            raise InvalidValue("bias", f"{bias!r} is not a bool (True or False)")
        rpu_config = RPUConfig() if rpu_config is None else rpu_config
        if not isinstance(rpu_config, RPUConfig):
            raise InvalidValue("rpu_config", f"{rpu_config!r} is not an hil.crossbar.RPUConfig")
        self.rpu_config = rpu_config
        if backend is None:
            self.backend = open_backend("emulator", family=FAMILY, shape=(self.out_features, self.in_features),
                                        serial=DEFAULT_SERIAL if serial is None else serial)
        else:
            if serial is not None:
                raise InvalidValue("serial", "is only for the layer's own emulated tile; the given backend is "
                                             "already a tile")
            self.backend = self._check_backend(backend)
        info = self.backend.info()
        self._geometry = dict(info.geometry)
        self._ideal = bool(info.ideal)
        self._readback = "readback" in info.modes
        self._tile_shape = (int(self._geometry["rows"]), int(self._geometry["columns"]))
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.analog_ctx = AnalogContext(self)
        if bias:
            self.bias = torch.nn.Parameter(torch.empty(self.out_features))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _check_backend(self, backend) -> Backend:
        if not isinstance(backend, Backend):
            raise InvalidValue("backend", f"{backend!r} is not an hil.backend.Backend")
        info = backend.info()
        if info.family != FAMILY:
            raise InvalidValue("backend", f"{backend!r} holds a {info.family} chip, not a {FAMILY} tile")
        rows, cols = int(info.geometry["rows"]), int(info.geometry["columns"])
        if rows < self.out_features or cols < self.in_features:
            raise InvalidValue("backend", f"its tile is {rows} x {cols} (rows, columns); this layer needs at "
                                          f"least {self.out_features} x {self.in_features} (out, in)")
        missing = [m for m in ("forward", "backward", "update") if m not in info.modes]
        if missing:
            raise InvalidValue("backend", f"{backend!r} does not run {missing} (it runs {list(info.modes)})")
        return backend

    # -- the weights ---------------------------------------------------------------------------------------

    def reset_parameters(self) -> None:
        """Draws the weights and the bias as ``torch.nn.Linear`` does and programs the tile."""
        weight = torch.empty(self.out_features, self.in_features)
        torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5))      # uniform in +-1/sqrt(in_features)
        bias = None
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features)
            bias = torch.empty(self.out_features).uniform_(-bound, bound)
        if not self._ideal:
            dev = self.rpu_config.device
            weight.clamp_(dev.w_min, dev.w_max)
        self.set_weights(weight, bias)

    def set_weights(self, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
        """Programs the tile with ``weight`` (out_features, in_features) (a tensor or array of real numbers,
        finite, within the devices' nominal range on a non-ideal tile: nothing is clipped) and, if given,
        copies ``bias`` (out_features,) into the digital bias. A device holds at most its own bounds (its
        mismatch): :meth:`get_weights` tells what it holds."""
        w = _array("weight", weight, (self.out_features, self.in_features), hi=WEIGHT_MAX)
        b = None
        if bias is not None:
            if self.bias is None:
                raise InvalidValue("bias", "this layer has no bias (bias=False)")
            b = _array("bias", bias, (self.out_features,), hi=np.finfo(np.float32).max)
        full = np.zeros(self._tile_shape, np.float32)
        full[:self.out_features, :self.in_features] = w
        try:
            self.backend.configure(Config(full, self.rpu_config))
        except InvalidValue as exc:          # the tile's bounds, named as this method's argument
            raise InvalidValue(exc.field.replace("weights", "weight", 1), exc.problem) from None
        self._pending.clear()
        if b is not None:
            with torch.no_grad():
                self.bias.copy_(torch.tensor(b))

    def get_weights(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(weight (out_features, in_features) float32 as the tile's devices hold it, a copy of the bias or
        None). The weights are read with ``WeightRead`` (the backend's ``readback`` mode, not a run); a tile
        without it raises :class:`hil.errors.Unsupported`."""
        if not self._readback:
            raise Unsupported(f"{self.backend!r} cannot read its weights back (it runs "
                              f"{list(self.backend.info().modes)}, not 'readback')")
        w = self.backend.run(WeightRead()).weights[:self.out_features, :self.in_features]
        bias = None if self.bias is None else self.bias.detach().clone()
        return torch.tensor(w, dtype=torch.float32), bias

    def get_extra_state(self) -> dict:
        """The weights the tile holds, for ``state_dict`` (None where the tile cannot read them back)."""
        return {"weight": self.get_weights()[0] if self._readback else None}

    def set_extra_state(self, state) -> None:
        """``load_state_dict``: programs the saved weights (the bias is the state dict's own entry)."""
        if isinstance(state, dict) and state.get("weight") is not None:
            self.set_weights(state["weight"])

    # -- the runs ------------------------------------------------------------------------------------------

    def _run(self, direction: str, a: np.ndarray) -> np.ndarray:
        """A forward (a: x (batch, in)) or backward (a: d (batch, out)) pass on the tile, float32, in as
        many runs as the tile's limits ask for; the outputs cut to the layer's block."""
        rows, cols = self._tile_shape
        width, keep = (cols, self.out_features) if direction == "forward" else (rows, self.in_features)
        make = Stimulus.forward if direction == "forward" else Stimulus.backward
        out = [self.backend.run(make(_pad(chunk, width))).outputs[:, :keep] for chunk in self._chunks(a)]
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _chunks(self, *arrays):
        rows, cols = self._tile_shape
        n = max(1, min(int(self._geometry["batch_max"]), int(self._geometry["elements_max"]) // (rows + cols)))
        batch = arrays[0].shape[0]
        for start in range(0, batch, n):
            part = tuple(a[start:start + n] for a in arrays)
            yield part[0] if len(part) == 1 else part

    def _update(self, lr: float) -> None:
        """The tile's pulsed update with the stashed (x, d) of every backward pass since the last step,
        vector after vector; then the stash is empty."""
        pending, self._pending = self._pending, []
        if not pending or self.analog_ctx.grad is None:     # zero_grad came after the backward pass
            return
        x = pending[0][0] if len(pending) == 1 else np.concatenate([p[0] for p in pending])
        d = pending[0][1] if len(pending) == 1 else np.concatenate([p[1] for p in pending])
        rows, cols = self._tile_shape
        for xc, dc in self._chunks(x, d):
            self.backend.run(Stimulus.update(_pad(xc, cols), _pad(dc, rows), lr))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not isinstance(input, torch.Tensor):
            raise InvalidValue("input", f"is a {type(input).__name__}; expected a torch.Tensor")
        if not input.is_floating_point():
            raise InvalidValue("input", f"has dtype {input.dtype}; expected a floating-point tensor")
        if input.dim() < 1 or input.shape[-1] != self.in_features:
            raise InvalidValue("input", f"has shape {tuple(input.shape)}; expected (..., {self.in_features})")
        x32 = validation.real_array("input", input.detach().cpu().to(torch.float32).numpy(), lo=-VALUE_MAX,
                                    hi=VALUE_MAX).reshape(-1, self.in_features)
        if torch.is_grad_enabled() and self.analog_ctx.grad is None:
            self._pending.clear()           # what a backward pass before the last zero_grad left
        x = input.reshape(-1, self.in_features)
        out = _AnalogFunction.apply(self.analog_ctx, x, x32)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(*input.shape[:-1], self.out_features)

    def __deepcopy__(self, memo):
        raise Unsupported("an AnalogLinear cannot be copied: its weights live on its tile; make another layer "
                          "on another tile and load this one's state_dict() into it")

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
                f"backend={self.backend!r}")


def _array(field: str, value, shape: tuple, hi: float) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        if not (value.is_floating_point() or value.dtype in (torch.int8, torch.int16, torch.int32, torch.int64,
                                                              torch.uint8)):
            raise InvalidValue(field, f"has dtype {value.dtype}; expected real numbers")
        value = value.detach().cpu().numpy()
    return validation.real_array(field, value, lo=-hi, hi=hi, shape=shape)


def _pad(a: np.ndarray, width: int) -> np.ndarray:
    """``a`` (batch, n) with zero columns up to ``width`` (a layer on part of a larger tile)."""
    if a.shape[1] == width:
        return a
    out = np.zeros((a.shape[0], width), np.float32)
    out[:, :a.shape[1]] = a
    return out


class AnalogSGD(torch.optim.Optimizer):
    """Stochastic gradient descent with the analog layers' updates on their tiles (aihwkit's ``AnalogSGD``).

    params: the parameters to train (``model.parameters()``, or groups with their own ``lr``); every
        :class:`AnalogLinear` is found by its :class:`AnalogContext` among them.
    lr: the learning rate, 0 < lr <= 1000 (the tile's limit).

    ``step()``: for every AnalogLinear, the tile's pulsed update ``Stimulus.update(x, d, lr)`` with the
    layer's input x (batch, in_features) and output gradient d (batch, out_features) of every backward pass
    since the last ``zero_grad`` (the whole batch, vector after vector; several backward passes add up, as
    gradients do); no weight gradient is ever formed digitally. On an ideal tile this is exactly
    ``W -= lr d^T x`` (float32, one vector at a time), plain SGD's step; a device steps by its own
    ``dw_min`` with spreads and saturates at its bounds. d is the gradient of the loss as autograd gives
    it: a mean reduction's 1/batch is in it, as in aihwkit, so lr means what it means for torch's SGD.
    Every other parameter with a gradient (a digital bias, a digital layer) gets ``p -= lr p.grad``.

    ``zero_grad()`` clears the gradients as usual and the layers' stashed (x, d); a ``zero_grad`` of the
    module itself does too (the next forward pass in grad mode drops what came before it).
    """

    def __init__(self, params, lr: float):
        super().__init__(params, {"lr": _learning_rate(lr)})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr = _learning_rate(group["lr"], zero=True)
            for p in group["params"]:
                if isinstance(p, AnalogContext):
                    if lr > 0:
                        p.layer._update(lr)
                    else:
                        p.layer._pending.clear()
                elif p.grad is not None and lr > 0:
                    p.add_(p.grad, alpha=-lr)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        super().zero_grad(set_to_none)
        for group in self.param_groups:
            for p in group["params"]:
                if isinstance(p, AnalogContext):
                    p.layer._pending.clear()


def _learning_rate(lr, zero: bool = False) -> float:
    v = validation.real("lr", lr, lo=0.0, hi=LEARNING_RATE_MAX)
    if v <= 0 and not zero:
        raise InvalidValue("lr", f"{lr!r} is not positive; allowed: 0 < lr <= {LEARNING_RATE_MAX:g}")
    return v
