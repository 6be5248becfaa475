"""The perceptron operations on torch tensors: ``matmul`` on the chip (or its model) and
the int8 operations around it, each with the gradient users of such chips expect
(docs/torch.md#operations).

Values are integers held in float32 tensors, as torch layers pass them on: inputs of
``matmul`` 0..31, weights -63..63, everything else int8 (-128..127). Operands are
rounded to the nearest integer; one that rounds outside its range raises
:class:`hil.errors.InvalidValue` naming it.
"""
import torch

from emulator.bss2 import geometry as g

from ...contract import validation
from ...contract.errors import InvalidValue
from . import backend
from .mock import get_mock_parameter, mock_product
from .operands import rounded

INT8 = (g.OUTPUT_MIN, g.OUTPUT_MAX)
INPUT_MAX = g.ACTIVATION_MAX
"""Largest input activation, 31 (5 bits)."""
WEIGHT_MAX = g.SIGNED_WEIGHT_MAX
"""Largest weight magnitude, 63 (6 bits and the row's sign)."""


def _product(ctx, x: torch.Tensor, W: torch.Tensor, rounded_W: torch.Tensor, num_sends: int,
             wait_between_events: int, mock: bool) -> torch.Tensor:
    """The forward product ``x @ W`` of checked operands (``rounded_W``: W rounded, and for a
    layer repeated), on the mock model or the active backend; keeps what :func:`_gradient` needs.
    The operands are kept as given, not rounded: rounding passes the gradient straight through."""
    parameter = get_mock_parameter()
    xr = rounded("input", x, 0, INPUT_MAX)
    if mock:
        out = mock_product(xr, rounded_W, num_sends, parameter)
    else:
        y = backend.active().product(xr.numpy(), rounded_W.numpy(), num_sends, wait_between_events)
        out = torch.from_numpy(y).to(torch.float32)
    ctx.save_for_backward(x, W)
    ctx.scale = parameter.gain * num_sends
    return out


def _gradient(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The linear model's gradient of ``x @ W``: with ``g = grad * gain * num_sends``,
    ``grad_x = g @ W.T`` and ``grad_W = x.T @ g`` (None where not needed)."""
    x, W = ctx.saved_tensors
    g_ = grad * ctx.scale
    grad_x = g_ @ _like(W, g_).t() if ctx.needs_input_grad[0] else None
    grad_W = _like(x, g_).t() @ g_ if ctx.needs_input_grad[1] else None
    return grad_x, grad_W


def _like(t: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """``t`` in ``other``'s dtype (operands of mixed dtypes; autograd casts each gradient back)."""
    return t if t.dtype == other.dtype else t.to(other.dtype)


class _MatMul(torch.autograd.Function):
    """Forward on the active backend (or the mock model); backward through the linear model."""

    @staticmethod
    def forward(ctx, x, W, num_sends, wait_between_events, mock):
        Wr = rounded("other", W, -WEIGHT_MAX, WEIGHT_MAX)
        return _product(ctx, x, W, Wr, num_sends, wait_between_events, mock)

    @staticmethod
    def backward(ctx, grad):
        return (*_gradient(ctx, grad), None, None, None)


class _Linear(torch.autograd.Function):
    """``add(mean over avg copies of matmul(x, W.T), bias)`` as one node: the same forward as
    those operations in turn (a training step pays for each node), and their gradient: the
    copies' mean passes each output's gradient to its row of W once, so the gradient is the
    linear model's of ``x @ W.T``, and the bias gets it straight through."""

    @staticmethod
    def forward(ctx, x, weight, bias, num_sends, wait_between_events, mock, avg):
        Wr = rounded("weight", weight, -WEIGHT_MAX, WEIGHT_MAX).t()
        if avg > 1:
            Wr = Wr.repeat_interleave(avg, dim=1)
        out = _product(ctx, x, weight.t(), Wr.contiguous(), num_sends, wait_between_events, mock)
        if avg > 1:
            out = out.unflatten(-1, (weight.shape[0], avg)).mean(dim=-1)
        if bias is not None:
            out = out.add_(rounded("bias", bias, *INT8)).clamp_(*INT8)    # out: int8 already
        return out

    @staticmethod
    def backward(ctx, grad):
        grad_x, grad_Wt = _gradient(ctx, grad)
        grad_b = grad.sum(dim=0) if ctx.needs_input_grad[2] else None
        return grad_x, None if grad_Wt is None else grad_Wt.t(), grad_b, None, None, None, None


def linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, num_sends: int = 1,
           wait_between_events: int = 5, mock: bool = False, avg: int = 1) -> torch.Tensor:
    """What :class:`hil.torch.perceptron.nn.Linear` computes, in one autograd node:
    ``add(matmul(input, weight.T repeated avg times per output) averaged over the copies, bias)``.

    input: (batch, in) activations 0..31 (rounded); weight: (out, in) -63..63; bias: (out,)
    -128..127 or None; avg: copies per output, 1..64; the other options as :func:`matmul`.
    """
    num_sends = validation.integer("num_sends", num_sends, lo=1, hi=g.NUM_SENDS_MAX)
    wait_between_events = validation.integer("wait_between_events", wait_between_events,
                                             lo=0, hi=g.WAIT_BETWEEN_EVENTS_MAX)
    avg = validation.integer("avg", avg, lo=1, hi=64)
    if not isinstance(input, torch.Tensor) or input.dim() != 2 or input.shape[1] != weight.shape[1]:
        raise InvalidValue("input", f"has shape {tuple(getattr(input, 'shape', ()))}; expected "
                                    f"(batch, {weight.shape[1]})")
    return _Linear.apply(input, weight, bias, num_sends, wait_between_events, bool(mock), avg)


def matmul(input: torch.Tensor, other: torch.Tensor, num_sends: int = 1, wait_between_events: int = 5,
           mock: bool = False) -> torch.Tensor:
    """``torch.matmul(input, other)`` on the chip's MAC.

    input: (..., rows) activations, rounded into 0..31; leading dimensions fold into the batch.
    other: (rows, cols) or (rows,) weights, rounded into -63..63.
    num_sends: how often each input vector is sent, 1..1024.
    wait_between_events: FPGA cycles (8 ns) between events, 0..4095.
    mock: True runs the linear model (:func:`get_mock_parameter`) instead of the backend.

    Returns float32 integers -128..127 of shape (..., cols) (or (...) for a 1-D ``other``):
    per block of 128 rows the chip's int8 readout, the blocks summed and clamped to int8.
    The gradient is the linear model's, ``gain * num_sends`` times torch's.
    """
    num_sends = validation.integer("num_sends", num_sends, lo=1, hi=g.NUM_SENDS_MAX)
    wait_between_events = validation.integer("wait_between_events", wait_between_events,
                                             lo=0, hi=g.WAIT_BETWEEN_EVENTS_MAX)
    if not isinstance(input, torch.Tensor) or not isinstance(other, torch.Tensor):
        bad, value = ("input", input) if not isinstance(input, torch.Tensor) else ("other", other)
        raise InvalidValue(bad, f"is a {type(value).__name__}; expected a torch.Tensor")
    if other.dim() not in (1, 2):
        raise InvalidValue("other", f"has shape {tuple(other.shape)}; expected 1 or 2 dimensions")
    if input.dim() < 1 or input.shape[-1] != other.shape[0]:
        raise InvalidValue("input", f"has shape {tuple(input.shape)}; its last dimension must match the "
                                    f"{other.shape[0]} rows of other")
    W = other if other.dim() == 2 else other.unsqueeze(1)
    x = input.reshape(-1, input.shape[-1])
    out = _MatMul.apply(x, W, num_sends, wait_between_events, bool(mock))
    out = out.reshape(*input.shape[:-1], W.shape[1])
    return out if other.dim() == 2 else out.squeeze(-1)


class _ReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, shift):
        r = rounded("input", x, *INT8)
        ctx.save_for_backward(x)
        ctx.shift = shift
        if shift is None:
            return r.clamp_(min=0)
        return r.clamp_(min=0).div_(2 ** shift).floor_().clamp_(max=INPUT_MAX)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        g_ = grad.masked_fill(x <= 0, 0.0)
        return (g_ if ctx.shift is None else g_.mul_(1.0 / 2 ** ctx.shift)), None


def relu(input: torch.Tensor) -> torch.Tensor:
    """ReLU on int8 values: ``max(round(input), 0)``, input -128..127. Gradient: torch's
    (1 where the input is positive, else 0)."""
    return _ReLU.apply(input, None)


def converting_relu(input: torch.Tensor, shift: int = 2) -> torch.Tensor:
    """ReLU from int8 to the chip's input range: ``min(floor(max(round(input), 0) / 2**shift), 31)``,
    input -128..127, shift 0..7 bits. The result (0..31) feeds the next ``matmul``.
    Gradient: straight through the shift, ``grad / 2**shift`` where the input is positive."""
    shift = validation.integer("shift", shift, lo=0, hi=7)
    return _ReLU.apply(input, shift)


class _Add(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shape_b = b.shape
        return (rounded("input", a, *INT8) + rounded("other", b, *INT8)).clamp_(*INT8)

    @staticmethod
    def backward(ctx, grad):
        grad_b = grad.sum_to_size(ctx.shape_b) if ctx.needs_input_grad[1] else None
        return grad, grad_b


def add(input: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Saturating int8 addition: ``clamp(round(input) + round(other), -128, 127)``, both
    -128..127; ``other`` broadcasts to ``input``'s shape (a bias). Gradient: straight
    through to both (summed over ``other``'s broadcast dimensions)."""
    if not isinstance(other, torch.Tensor) or not isinstance(input, torch.Tensor):
        raise InvalidValue("other" if isinstance(input, torch.Tensor) else "input", "expected a torch.Tensor")
    # (torch.broadcast_shapes is a Python reference implementation, slow for a per-step check.)
    if other.dim() > input.dim() or any(o not in (1, i) for o, i in zip(reversed(other.shape), reversed(input.shape))):
        raise InvalidValue("other", f"has shape {tuple(other.shape)}; it must broadcast to input's "
                                    f"{tuple(input.shape)}")
    return _Add.apply(input, other)


def argmax(input: torch.Tensor, dim: int | None = None, keepdim: bool = False) -> torch.Tensor:
    """Index of the largest int8 value (-128..127, rounded), the first of equal ones, as
    ``torch.argmax``; int64, no gradient."""
    return torch.argmax(rounded("input", input, *INT8), dim=dim, keepdim=keepdim)
