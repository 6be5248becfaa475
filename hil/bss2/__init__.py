"""Family bss2 (BrainScaleS-2-like): types, analytical models, MAC, CADC ramp, spiking mode, experiments."""
from .mac import mac
from .models import DEFAULT_SPEC, NOMINAL_GAIN, NOMINAL_NOISE, CadcRampModel, MacModel, MacSpec
from .types import (FAMILY, CadcCodes, CadcRamp, MacConfig, MacReadout, MacStimulus, SpikingConfig, SpikingReadout,
                    SpikingStimulus, SynapseMemory, SynapseRead)

__all__ = ["CadcCodes", "CadcRamp", "CadcRampModel", "DEFAULT_SPEC", "FAMILY", "MacConfig", "MacModel",
           "MacReadout", "MacSpec", "MacStimulus", "NOMINAL_GAIN", "NOMINAL_NOISE", "SpikingConfig",
           "SpikingReadout", "SpikingStimulus", "SynapseMemory", "SynapseRead", "mac"]
