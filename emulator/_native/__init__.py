"""The compiled C core (built by ``pip install``; see ``build.py`` and ``bss2_core.h``).

A MAC run uses the calling thread plus a small pool of worker threads:
``OMP_NUM_THREADS`` of them in all if that is set, else one per CPU the process
may use; ``lib.bss2_set_threads(n)`` changes it. Results never depend on it.
"""
try:
    from ._core import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "the emulator's C core is not built; run `pip install -e .` in the "
        "repository (it compiles emulator/_native/bss2_core.c)"
    ) from exc

lib.bss2_init()

__all__ = ["ffi", "lib"]
