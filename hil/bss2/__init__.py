"""Family bss2 (BrainScaleS-2-like): types, analytical models, MAC, experiments."""
from .mac import mac
from .models import DEFAULT_SPEC, NOMINAL_GAIN, NOMINAL_NOISE, MacModel, MacSpec
from .types import FAMILY, MacConfig, MacReadout, MacStimulus

__all__ = ["DEFAULT_SPEC", "FAMILY", "MacConfig", "MacModel", "MacReadout", "MacSpec",
           "MacStimulus", "NOMINAL_GAIN", "NOMINAL_NOISE", "mac"]
