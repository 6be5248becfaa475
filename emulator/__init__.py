"""Virtual chips: fast emulators of neuromorphic and analog-AI chips.

numpy in, numpy out; one subpackage per chip family (``emulator.bss2``).
This package depends on nothing else in the project.
"""
__version__ = "0.1.0"
