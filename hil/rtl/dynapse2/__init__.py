"""The Dynap-SE2-like family's Verilog models (``rtl_models/dynapse2/``) as seen from Python
(docs/dynapse2.md, "RTL models").

``build``: the model files, their harnesses' builds (cocotb's runner, as for the bss2 models), lint
and synthesis; ``router``: the router's files (a configuration's write commands, a probe's sources,
the deliveries and status the harness writes back); ``biasgen``: the bias generators' DAC code and
the Python expectation of it; ``dut``: :class:`RouterDut`, the router's harness inside a cocotb test;
``job``: configure and route on the RTL in one simulation (host side and cocotb test);
``benches``: ``run_bench("router" | "biasgen")``; ``backend``: the rtl backend of the family's
routing mode (``hil.backend.open("rtl", family="dynapse2")``).

Imports nothing of ``hil.cli`` or ``hil.backends``; cocotb is imported inside the simulator only.
"""
