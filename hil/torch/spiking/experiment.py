"""The experiment: the layers called since the last run, and :func:`run`, which executes them.

>>> exp = spiking.Experiment(dt=1e-6)                 # in the loop, on the active device
>>> syn = spiking.Synapse(1, 1, exp); lif = spiking.Neuron(1, exp)
>>> z = lif(syn(spiking.NeuronHandle(inputs)))        # handles: promises of data
>>> spiking.run(exp, 50)                              # 50 steps of dt; z.spikes, z.membrane_cadc filled

Calling a layer records the call in its experiment; :func:`run` checks the whole graph
(shapes, spike counts, parameters, the chip's limits) before anything runs, executes the
calls in the order they were made, fills their handles, and then forgets them: a training
loop calls its layers again before each run.

Mock mode integrates the model (:mod:`hil.torch.spiking.functional`). In the loop, the
chip routes only external events in this rig (it has no on-chip routing of its own
neurons' spikes), so a network runs layer by layer: each Synapse -> neuron pair is one
configuration of the chip and its runs, and a layer's recorded spikes are the next
layer's input events. Each layer keeps its own chip neurons (placed in call order,
hemisphere 0 first, 512 in all), as a placement of the whole network would.
"""
from dataclasses import dataclass, field

from emulator.bss2 import geometry as g

from ...contract import validation
from ...contract.backend import Backend
from ...contract.errors import InvalidValue
from . import backend as session
from .handles import NeuronHandle, SynapseHandle

RUNTIME_MAX = 1 << 20
"""Most steps of dt in one run (the chip's own limit, 10 ms a run, is checked per layer)."""


@dataclass(eq=False)
class Node:
    """One call of a layer: the layer, its input handle and its output handle."""

    module: object
    input: NeuronHandle | SynapseHandle
    output: NeuronHandle | SynapseHandle
    data: dict = field(default_factory=dict)
    """What the run keeps of this call between its check and its execution."""


class Experiment:
    """The layers of one experiment, and how it runs.

    dt: the grid step, s (8 ns .. 1 ms; default 1 us); the model integrates on it and the
    chip's readout is mapped onto it. mock: integrate the model instead of running the
    chip. backend: the device in the loop (a :class:`hil.backend.Backend` that runs the
    spiking mode); None: the active one of :func:`hil.torch.spiking.init`, else the
    embedded emulated chip. step_ns: the emulator's integration step, ns 1..1000
    (docs/spiking.md#time). cadc_period: FPGA cycles between CADC samples, 213..65535;
    None: ``dt`` in cycles where the CADC can sample that fast (one sample per step, on
    the grid), else its fastest, 213 cycles (1.7 us), interpolated onto the grid.
    """

    def __init__(self, dt: float = 1e-6, mock: bool = False, backend: Backend | None = None, step_ns: int = 100,
                 cadc_period: int | None = None):
        self.dt = validation.real("dt", dt, lo=g.FPGA_CYCLE_S, hi=1e-3)
        if not isinstance(mock, bool):
            raise InvalidValue("mock", f"{mock!r} is not a bool")
        self.mock = mock
        if backend is not None and not isinstance(backend, Backend):
            raise InvalidValue("backend", f"{backend!r} is not a hil.backend.Backend (or None for the active device)")
        self.backend = backend
        self.step_ns = validation.integer("step_ns", step_ns, lo=1, hi=g.STEP_NS_MAX)
        if cadc_period is None:
            cadc_period = min(max(round(self.dt / g.FPGA_CYCLE_S), g.CADC_PERIOD_MIN), g.CADC_PERIOD_MAX)
        self.cadc_period = validation.integer("cadc_period", cadc_period, lo=g.CADC_PERIOD_MIN,
                                              hi=g.CADC_PERIOD_MAX)
        self._nodes: list[Node] = []

    def connect(self, module, input, output) -> None:
        """Records a call of ``module`` (done by the layers themselves); refuses a second call
        of the same layer before the run (each call is one placement on the chip)."""
        if any(n.module is module for n in self._nodes):
            raise InvalidValue("module", f"{module.__class__.__name__} was already called in this experiment since "
                                         f"the last run; call each layer once per run (or experiment.clear())")
        node = Node(module, input, output)
        output._node = node
        self._nodes.append(node)

    def clear(self) -> None:
        """Forgets the calls since the last run (their handles stay unfilled)."""
        self._nodes = []

    def device(self) -> Backend:
        """The device in the loop: the experiment's own, the active session's, or the embedded
        emulated chip."""
        if self.backend is not None:
            return session.device_of(self.backend)[0]
        return session.active()

    def __repr__(self) -> str:
        return (f"Experiment(dt={self.dt:g}, mock={self.mock}, step_ns={self.step_ns}, cadc_period={self.cadc_period}, "
                f"layers={[type(n.module).__name__ for n in self._nodes]})")


class Context:
    """What the layers' checks and executions of one run share."""

    def __init__(self, experiment: Experiment, runtime: int):
        self.experiment = experiment
        self.runtime = runtime
        self.dt = experiment.dt
        self.mock = experiment.mock
        self.nodes = list(experiment._nodes)
        self.batch: int | None = None
        self.columns_used = 0
        self._device = None

    def producer(self, handle) -> Node | None:
        """The node of this run that fills ``handle``; None for data given from outside."""
        node = handle._node
        return node if node is not None and any(node is n for n in self.nodes) else None

    def consumers(self, node: Node) -> list[Node]:
        return [n for n in self.nodes if n.input is node.output]

    def check_batch(self, field: str, batch: int) -> None:
        if self.batch is None:
            self.batch = batch
        elif batch != self.batch:
            raise InvalidValue(field, f"has batch {batch}; the experiment's other inputs have {self.batch}")

    def place(self, size: int):
        """The next ``size`` chip neurons (hemisphere 0 first); refuses more than 512 in all."""
        first = self.columns_used
        if first + size > g.NEURONS:
            raise InvalidValue("experiment", f"its neuron layers need {first + size} neurons in the loop; the chip "
                                             f"has {g.NEURONS}")
        self.columns_used += size
        return range(first, first + size)

    @property
    def device(self) -> Backend:
        if self._device is None:
            self._device = self.experiment.device()
        return self._device


def run(experiment: Experiment, runtime: int) -> None:
    """Executes the layers called since the last run for ``runtime`` steps of ``dt`` and fills
    their handles; then forgets the calls. Every input's time dimension must be ``runtime``.

    Everything is checked first (an InvalidValue names the field, the value and what is
    allowed), so nothing runs on the chip for a graph that cannot run. The calls are
    forgotten either way: after a refusal, call the layers again.
    """
    if not isinstance(experiment, Experiment):
        raise InvalidValue("experiment", f"{experiment!r} is not a hil.torch.spiking.Experiment")
    runtime = validation.integer("runtime", runtime, lo=1, hi=RUNTIME_MAX)
    if not experiment._nodes:
        raise InvalidValue("experiment", "has no layer calls since the last run; call the layers, then run")
    ctx = Context(experiment, runtime)
    try:
        for node in ctx.nodes:
            node.module._check(node, ctx)
        for node in ctx.nodes:
            node.module._execute(node, ctx)
    finally:
        for node in ctx.nodes:
            node.data.clear()
        experiment.clear()
