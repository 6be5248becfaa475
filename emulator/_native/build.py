"""cffi (API mode) build of the emulator's C core into ``emulator._native._core``.

Run by setuptools at ``pip install``; the declarations are read from
``bss2_core.h``, the one description of the bridge between Python and C, so a
changed C signature fails the build rather than corrupting memory at run time.
"""
import os
import platform
import re
import sysconfig
from pathlib import Path

from cffi import FFI


def _compile_args() -> list[str]:
    # -ffp-contract=off: no FMA contraction, so every code path (AVX-512, AVX2,
    # baseline; see bss2_core.c) rounds the same way and gives the same bits.
    args = ["-O3", "-std=c99", "-pthread", "-ffp-contract=off", "-Wall", "-Wextra",
            "-D_DEFAULT_SOURCE"]
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "").split()
    if platform.machine().lower() in ("x86_64", "amd64") and not any("clang" in c for c in cc):
        # GCC on x86-64: let the vectorizer use gather instructions (generic tuning
        # avoids them) in the few plain-C loops that look tables up.
        args.append("-mtune-ctrl=use_gather")
    return args


# setuptools runs this file from the project root (see set_source below).
HEADER = Path("emulator/_native/bss2_core.h")


def _declarations() -> str:
    """The header without its preprocessor lines, except integer #defines (cffi takes those)."""
    keep = [line for line in HEADER.read_text().splitlines()
            if not line.startswith("#") or re.fullmatch(r"#define \w+ \d+", line.strip())]
    return "\n".join(keep)


ffibuilder = FFI()
# The declarations come from the header itself, so Python and C cannot drift apart.
ffibuilder.cdef(_declarations())
ffibuilder.set_source(
    "emulator._native._core",
    '#include "bss2_core.h"',
    # setuptools wants paths relative to the project root, where it runs.
    sources=["emulator/_native/bss2_core.c"],
    include_dirs=["emulator/_native"],
    extra_compile_args=_compile_args(),
    extra_link_args=["-pthread"],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
