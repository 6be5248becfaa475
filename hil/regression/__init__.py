"""``hil regress``: the chip-verification regression (block benches and MAC experiments on the RTL
models against the emulator of the same serial and the analytical model).

>>> from hil.regression import run_regression, write_summary
>>> r = run_regression(["EMU-0042", "EMU-0007"], simulator="icarus")
>>> write_summary(r, "reports/regress")     # regression.html, regression.json, junit.xml
"""
from .run import MAC_EXPERIMENTS, Regression, SerialRegression, run_regression
from .summary import write_summary

__all__ = ["MAC_EXPERIMENTS", "Regression", "SerialRegression", "run_regression", "write_summary"]
