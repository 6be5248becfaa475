"""Fixtures of the emulator's tests."""
import pytest

from emulator._native import lib


@pytest.fixture(autouse=True)
def _restore_code_path_and_threads():
    """Tests may force a code path (bss2_set_isa) or a thread count: each gets the ones it found back."""
    isa, threads = lib.bss2_isa(), lib.bss2_threads()
    yield
    lib.bss2_set_isa(isa)
    lib.bss2_set_threads(threads)
