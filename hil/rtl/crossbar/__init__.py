"""The analog crossbar tile family's Verilog blocks (``rtl_models/crossbar/``) as seen from Python
(docs/rtl.md, "Crossbar tile blocks").

``build``: the model files, their harnesses' builds (cocotb's runner, as for the other families), lint
and synthesis; ``benches``: the cocotb benches that check the blocks bit for bit against
``emulator.crossbar.converters`` and ``emulator.crossbar.pulses``, and ``run_bench("converter" |
"pulses")`` that runs them from the host.

cocotb is imported by ``benches`` only; nothing here imports ``hil.cli`` or ``hil.backends``.
"""
