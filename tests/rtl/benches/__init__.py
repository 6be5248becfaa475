"""The block benches of hil.rtl.benches, run from pytest."""
