"""The crossbar tile family's RTL blocks (rtl_models/crossbar/): their benches and the benches' stimulus."""
