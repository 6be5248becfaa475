"""Builds the emulator's C core (cffi, API mode) at install time."""
from setuptools import setup

setup(cffi_modules=["emulator/_native/build.py:ffibuilder"])
