"""The compiled C core (built by ``pip install``; see ``build.py``)."""
try:
    from ._core import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "the emulator's C core is not built; run `pip install -e .` in the "
        "repository (it compiles emulator/_native/bss2_core.c)"
    ) from exc

lib.bss2_init()

__all__ = ["ffi", "lib"]
