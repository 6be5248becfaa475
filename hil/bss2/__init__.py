"""Family bss2 (BrainScaleS-2-like): types, analytical models, MAC, CADC ramp, experiments."""
from .mac import mac
from .models import DEFAULT_SPEC, NOMINAL_GAIN, NOMINAL_NOISE, CadcRampModel, MacModel, MacSpec
from .types import FAMILY, CadcCodes, CadcRamp, MacConfig, MacReadout, MacStimulus

__all__ = ["CadcCodes", "CadcRamp", "CadcRampModel", "DEFAULT_SPEC", "FAMILY", "MacConfig", "MacModel",
           "MacReadout", "MacSpec", "MacStimulus", "NOMINAL_GAIN", "NOMINAL_NOISE", "mac"]
