"""Torch tensors to the chip's integer ranges: rounded, and refused where out of range.

Nothing is clipped silently: a value that rounds outside its range, NaN or an
infinity raises :class:`hil.errors.InvalidValue` (a ``ValueError``) naming the
field, the first offending index, the value and the allowed range.
"""
import torch

from ...contract.errors import InvalidValue


def rounded(field: str, value, lo: int, hi: int) -> torch.Tensor:
    """``value`` rounded to the nearest integer (half to even, as ``torch.round``), as a
    float32 tensor without autograd history, every entry in lo..hi."""
    if not isinstance(value, torch.Tensor):
        raise InvalidValue(field, f"is a {type(value).__name__}; expected a torch.Tensor")
    if value.dtype == torch.bool or value.is_complex():
        raise InvalidValue(field, f"has dtype {value.dtype}; expected real numbers {lo}..{hi}")
    if value.numel() == 0:
        raise InvalidValue(field, f"is empty (shape {tuple(value.shape)})")
    t = value.detach()
    t = t.round() if t.is_floating_point() else t
    if t.dtype != torch.float32:
        t = t.to(torch.float32)
    lowest, highest = torch.aminmax(t)
    # NaN fails both comparisons, so it is caught here too.
    if not (lowest.item() >= lo and highest.item() <= hi):
        _refuse(field, value.detach(), t, lo, hi)
    return t


def _refuse(field: str, value: torch.Tensor, t: torch.Tensor, lo: int, hi: int):
    bad = ~((t >= lo) & (t <= hi))
    flat = int(torch.nonzero(bad.reshape(-1))[0])
    idx = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), t.shape))
    where = f"{field}[{', '.join(map(str, idx))}]"
    v = value[idx].item()
    if v != v or v in (float("inf"), float("-inf")):
        raise InvalidValue(where, f"{v} is not a finite number; allowed: {lo}..{hi}")
    shown = f"{v:g} (rounds to {t[idx].item():g})" if value.is_floating_point() and v != t[idx].item() else f"{v:g}"
    raise InvalidValue(where, f"{shown} is outside the allowed range {lo}..{hi}")
