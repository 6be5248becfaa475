"""RTL benches: cocotb tests of the Verilog models in rtl_models/, driven from pytest."""
