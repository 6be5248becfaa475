"""The Dynap-SE2-like family's RTL models (rtl_models/dynapse2/): benches, files, the rtl backend."""
