"""The compiled C core (built by ``pip install``; see ``build.py`` and ``core.h``).

The C units: ``isa.c`` (code paths), ``rng.c`` (counter-based noise) and
``thread_pool.c`` (worker threads), shared by the chip families, and a folder per
family (``bss2/``: the MAC mode, ``mac.c`` and ``readout.c``; the spiking mode, ``lif.c``).
``core.h`` is all of them that Python sees.

A MAC run (and a spiking run) uses the calling thread plus a small pool of worker threads:
``OMP_NUM_THREADS`` of them in all if that is set, else one per CPU the process
may use; ``lib.bss2_set_threads(n)`` changes it. Results never depend on it.
"""
try:
    from ._core import ffi, lib
except ImportError as exc:  # pragma: no cover - only without a build
    raise ImportError(
        "the emulator's C core is not built; run `pip install -e .` in the "
        "repository (it compiles the C sources in emulator/_native)"
    ) from exc

lib.bss2_init()

__all__ = ["ffi", "lib"]
