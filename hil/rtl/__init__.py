"""The RTL side of the rig: helpers that connect the Verilog models (``rtl_models/``) to
the emulator (``noise``: the temporal-noise generator's coefficients and reference values)."""
