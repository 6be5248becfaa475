"""The tile's configurations, split by concern (docs/crossbar.md#configs): the periphery of each direction
(:class:`IOConfig`), the pulsed update (:class:`UpdateConfig`), the device at every cross-point
(:class:`DeviceConfig`), and the whole (:class:`RPUConfig`). Frozen, and validated when made: a value out of
range, NaN or of the wrong kind raises :class:`hil.errors.InvalidValue` naming the field, the value and
what is allowed.

The field names and defaults are aihwkit's (``IOParameters``, ``UpdateParameters``, ``ConstantStepDevice``);
:mod:`hil.crossbar.presets` has the configurations named after aihwkit's. Weights, bounds and outputs are in
the tile's weight units (aihwkit's "normalised conductance"); inputs are scaled by the noise management
into the DAC's range.
"""
import dataclasses
from dataclasses import dataclass, field

from emulator.crossbar import converters
from emulator.crossbar.geometry import BL_MAX

from ..contract import validation
from ..contract.errors import InvalidValue
from ..contract.wire import wire_type

NOISE_MANAGEMENT = ("none", "abs_max", "max", "constant")
"""none: the input as given; abs_max: divided by max |x| (capped at ``nm_thres`` if > 0); max: by max x;
constant: by ``nm_thres`` (1 if 0). The output is multiplied back."""
BOUND_MANAGEMENT = ("none", "iterative")
"""iterative: while any output saturates the ADC, again with the input halved (up to ``max_bm_factor`` and
the DAC resolution ``max_bm_res``)."""
RESOLUTION_MIN = 1e-6
"""The finest converter or probability resolution (2^20 levels: below it the float32 code arithmetic would
not be exact)."""


def _flag(owner: str, name: str, value) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{owner}.{name}", f"{value!r} is not a bool (True or False)")
    return value


def _choice(owner: str, name: str, value, allowed: tuple) -> str:
    if value not in allowed:
        raise InvalidValue(f"{owner}.{name}", f"{value!r} is not one of {list(allowed)}")
    return value


def _resolution(owner: str, name: str, value, *, even: bool) -> float:
    """0 (no quantisation) or a step of 1e-6..1 of the range; for a converter ``1/res`` an even number."""
    v = validation.real(f"{owner}.{name}", value, lo=0.0, hi=1.0)
    if v == 0:
        return v
    if v < RESOLUTION_MIN:
        raise InvalidValue(f"{owner}.{name}", f"{value!r} is finer than {RESOLUTION_MIN:g}; allowed: 0 or "
                                              f"{RESOLUTION_MIN:g}..1")
    if even:
        try:
            converters.levels(v)
        except ValueError:
            raise InvalidValue(f"{owner}.{name}", f"{value!r}: 1/res = {1 / v:.6g} is not an even number of "
                                                  "steps (e.g. 1/126 for 7 bits, 1/510 for 9 bits)") from None
    return v


def _check(obj, spec: dict) -> None:
    """Validates and normalises every field of ``obj`` by ``spec``: name -> (lo, hi) for a real,
    ('int', lo, hi), 'bool', a tuple of choices, or ('res', even)."""
    owner = type(obj).__name__
    for name, rule in spec.items():
        v = getattr(obj, name)
        if rule == "bool":
            v = _flag(owner, name, v)
        elif isinstance(rule, tuple) and rule and rule[0] == "int":
            v = validation.integer(f"{owner}.{name}", v, lo=rule[1], hi=rule[2])
        elif isinstance(rule, tuple) and rule and rule[0] == "res":
            v = _resolution(owner, name, v, even=rule[1])
        elif isinstance(rule, tuple) and all(isinstance(c, str) for c in rule):
            v = _choice(owner, name, v, rule)
        else:
            v = validation.real(f"{owner}.{name}", v, lo=rule[0], hi=rule[1])
        object.__setattr__(obj, name, v)


@wire_type("crossbar.IOConfig")
@dataclass(frozen=True)
class IOConfig:
    """One direction's periphery: DACs, analog product, ADCs, noise and the management of scale and bounds.

    ``y = f_ADC((W + w_noise Xi) (f_DAC(x / alpha) + inp_noise xi1) + out_noise xi2) alpha out_scale``
    (docs/crossbar.md#forward), alpha from the noise management and the bound management's reduction.
    """

    is_perfect: bool = False
    """True: ``y = out_scale W x`` exactly (no converters, no noise, no management)."""
    inp_bound: float = 1.0
    """The DAC's range ``[-inp_bound, inp_bound]`` (0 < .. <= 1e6; 1 with noise management)."""
    inp_res: float = 1 / 126
    """The DAC's step as a fraction of its range 2 inp_bound (0: no quantisation; 1/res an even number)."""
    inp_sto_round: bool = False
    """Stochastic rounding in the DAC."""
    inp_noise: float = 0.0
    """Standard deviation of the Gaussian noise on each DAC output, in input units (0..10)."""
    out_bound: float = 12.0
    """The ADC's range ``[-out_bound, out_bound]`` (0 < .. <= 1e6), in units of the product W x."""
    out_res: float = 1 / 510
    """The ADC's step as a fraction of its range 2 out_bound (0: no quantisation; 1/res an even number)."""
    out_sto_round: bool = False
    """Stochastic rounding in the ADC."""
    out_noise: float = 0.06
    """Standard deviation of the Gaussian noise on each output before the ADC (0..100)."""
    w_noise: float = 0.0
    """Standard deviation of the Gaussian noise on each weight in each product (0..10): per output a normal
    of standard deviation ``w_noise |x_DAC|`` (aihwkit's additive-constant weight noise)."""
    noise_management: str = "abs_max"
    """One of :data:`NOISE_MANAGEMENT`."""
    nm_thres: float = 0.0
    """The noise management's cap (abs_max, max) or value (constant); 0: none (0..1e6)."""
    bound_management: str = "iterative"
    """One of :data:`BOUND_MANAGEMENT` (the backward pass has none: it ignores this)."""
    max_bm_factor: int = 1000
    """The largest reduction of the iterative bound management (1..2^30)."""
    max_bm_res: float = 0.25
    """The iterative bound management also stops where the reduction exceeds ``max_bm_res / (the DAC's
    step)`` (0..1e6)."""
    bm_test_negative_bound: bool = True
    """A saturation at ``-out_bound`` counts for the bound management too."""
    out_scale: float = 1.0
    """A digital scale of every output (1e-6..1e6)."""

    SPEC = {"is_perfect": "bool", "inp_bound": (1e-6, 1e6), "inp_res": ("res", True), "inp_sto_round": "bool",
            "inp_noise": (0.0, 10.0), "out_bound": (1e-6, 1e6), "out_res": ("res", True), "out_sto_round": "bool",
            "out_noise": (0.0, 100.0), "w_noise": (0.0, 10.0), "noise_management": NOISE_MANAGEMENT,
            "nm_thres": (0.0, 1e6), "bound_management": BOUND_MANAGEMENT, "max_bm_factor": ("int", 1, 1 << 30),
            "max_bm_res": (0.0, 1e6), "bm_test_negative_bound": "bool", "out_scale": (1e-6, 1e6)}

    def __post_init__(self):
        _check(self, self.SPEC)

    @property
    def inp_levels(self) -> int:
        """N of the DAC: codes -N..N (0: no quantisation)."""
        return converters.levels(self.inp_res)

    @property
    def out_levels(self) -> int:
        return converters.levels(self.out_res)

    @property
    def inp_step(self) -> float:
        """The DAC's step (float32), in input units after the noise management."""
        return float(converters.step(self.inp_bound, self.inp_levels)) if self.inp_levels else 0.0

    @property
    def out_step(self) -> float:
        """The ADC's step (float32), in units of the product W x."""
        return float(converters.step(self.out_bound, self.out_levels)) if self.out_levels else 0.0

    def replace(self, **changes) -> "IOConfig":
        return dataclasses.replace(self, **changes)


@wire_type("crossbar.UpdateConfig")
@dataclass(frozen=True)
class UpdateConfig:
    """The pulsed update (docs/crossbar.md#update): trains of ``BL`` slots on every row and column, a row
    firing with probability ``A |d_i|`` and a column with ``B |x_j|``; a device steps once per coincidence."""

    desired_bl: int = 31
    """The train length BL, or its maximum with ``update_bl_management`` (1..64)."""
    update_management: bool = True
    """Balance A and B by ``sqrt(max|x| / max|d|)`` so that neither side's probabilities saturate first."""
    update_bl_management: bool = True
    """Shorten BL to ``ceil(lr max|x| max|d| / dw_min)`` where that is below ``desired_bl``."""
    fixed_bl: bool = True
    """Keep BL fixed; False: lengthen it for learning rates above ``dw_min desired_bl`` (then A = B = 1)."""
    res: float = 0.0
    """The probabilities' resolution (0: none; else 1e-6..1)."""
    sto_round: bool = False
    """Stochastic rounding of the probabilities (with ``res``)."""
    um_grad_scale: float = 1.0
    """Scales max |d| in the update management (1e-6..1e6)."""

    SPEC = {"desired_bl": ("int", 1, BL_MAX), "update_management": "bool", "update_bl_management": "bool",
            "fixed_bl": "bool", "res": ("res", False), "sto_round": "bool", "um_grad_scale": (1e-6, 1e6)}

    def __post_init__(self):
        _check(self, self.SPEC)

    def replace(self, **changes) -> "UpdateConfig":
        return dataclasses.replace(self, **changes)


@wire_type("crossbar.DeviceConfig")
@dataclass(frozen=True)
class DeviceConfig:
    """The constant-step device (aihwkit's ``ConstantStepDevice``; docs/crossbar.md#device). Spreads are
    relative (device to device, drawn once per tile from its serial; cycle to cycle, per step)."""

    dw_min: float = 0.001
    """The mean step, in weight units (1e-7..1)."""
    dw_min_dtod: float = 0.3
    """Device-to-device spread of the step (0..10)."""
    dw_min_std: float = 0.3
    """Cycle-to-cycle spread of each step (0..10)."""
    up_down: float = 0.0
    """Up/down asymmetry: up steps ``(1 + min(up_down, 0))``, down steps ``(1 - max(up_down, 0))`` times the
    gain (-1..1)."""
    up_down_dtod: float = 0.01
    """Device-to-device spread of the asymmetry (0..10)."""
    w_max: float = 0.6
    """The upper bound (0..1e3)."""
    w_max_dtod: float = 0.3
    """Device-to-device spread of the upper bound (0..10)."""
    w_min: float = -0.6
    """The lower bound (-1e3..0)."""
    w_min_dtod: float = 0.3
    """Device-to-device spread of the lower bound (0..10)."""
    enforce_consistency: bool = True
    """Steps taken in magnitude, bounds ordered and on either side of 0."""

    SPEC = {"dw_min": (1e-7, 1.0), "dw_min_dtod": (0.0, 10.0), "dw_min_std": (0.0, 10.0), "up_down": (-1.0, 1.0),
            "up_down_dtod": (0.0, 10.0), "w_max": (0.0, 1e3), "w_max_dtod": (0.0, 10.0), "w_min": (-1e3, 0.0),
            "w_min_dtod": (0.0, 10.0), "enforce_consistency": "bool"}

    def __post_init__(self):
        _check(self, self.SPEC)

    def replace(self, **changes) -> "DeviceConfig":
        return dataclasses.replace(self, **changes)


def _backward_default() -> IOConfig:
    return IOConfig(bound_management="none")


@wire_type("crossbar.RPUConfig")
@dataclass(frozen=True)
class RPUConfig:
    """Everything that makes a tile behave: forward and backward periphery, pulsed update, device."""

    forward: IOConfig = field(default_factory=IOConfig)
    backward: IOConfig = field(default_factory=_backward_default)
    update: UpdateConfig = field(default_factory=UpdateConfig)
    device: DeviceConfig = field(default_factory=DeviceConfig)

    def __post_init__(self):
        for name, kind in (("forward", IOConfig), ("backward", IOConfig), ("update", UpdateConfig),
                           ("device", DeviceConfig)):
            v = getattr(self, name)
            if isinstance(v, dict):          # as it crossed the wire
                v = kind(**v)
            if not isinstance(v, kind):
                raise InvalidValue(f"RPUConfig.{name}", f"{v!r} is not a {kind.__name__}")
            object.__setattr__(self, name, v)

    def replace(self, **changes) -> "RPUConfig":
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict:
        """JSON-able fields (how it crosses the wire and is stored)."""
        return dataclasses.asdict(self)

