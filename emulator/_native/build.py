"""cffi (API mode) build of the emulator's C core into ``emulator._native._core``.

Run by setuptools at ``pip install``; the declarations are read from
``core.h`` and the headers it includes, the one description of the bridge
between Python and C, so a changed C signature fails the build rather than
corrupting memory at run time.

``HIL_SANITIZE=1`` in the environment builds the core with AddressSanitizer and
UndefinedBehaviorSanitizer (``tox -e sanitize``; the ASan runtime must then be
preloaded into Python, see tox.ini).
"""
import os
import platform
import re
import sysconfig
from pathlib import Path

from cffi import FFI

# -fno-wrapv: signed overflow stays undefined, so UBSan reports it (a wrapping
# size computation must be found, not hidden; Python's own flags may add -fwrapv).
SANITIZE = ["-fsanitize=address,undefined", "-fno-wrapv", "-fno-omit-frame-pointer"]


def _sanitize() -> bool:
    return os.environ.get("HIL_SANITIZE", "") not in ("", "0")


def _compile_args() -> list[str]:
    # -ffp-contract=off: no FMA contraction, so every code path (AVX-512, AVX2,
    # baseline; see isa.h) rounds the same way and gives the same bits.
    args = ["-O3", "-std=c99", "-pthread", "-ffp-contract=off", "-Wall", "-Wextra",
            "-D_DEFAULT_SOURCE"]
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "").split()
    if platform.machine().lower() in ("x86_64", "amd64") and not any("clang" in c for c in cc):
        # GCC on x86-64: let the vectorizer use gather instructions (generic tuning
        # avoids them) in the few plain-C loops that look tables up.
        args.append("-mtune-ctrl=use_gather")
    if _sanitize():
        args += SANITIZE + ["-g"]
    return args


# setuptools runs this file from the project root (see set_source below).
NATIVE = Path("emulator/_native")
BRIDGE = NATIVE / "core.h"
SOURCES = ["arrays.c", "isa.c", "rng.c", "thread_pool.c", "bss2/mac.c", "bss2/readout.c", "bss2/lif.c", "dynapse2/dpi.c", "crossbar/tile.c"]


def _header(including: Path, name: str) -> Path:
    """The file of `#include "name"` in `including`: next to it, else in NATIVE (the -I)."""
    here = including.parent / name
    return here if here.exists() else NATIVE / name


def _declarations(header: Path = BRIDGE, seen: set | None = None) -> str:
    """`header` and the headers it includes ("..."), each once, as the preprocessor reads
    them with HIL_PUBLIC_ONLY defined (see core.h), without preprocessor lines except
    integer #defines (cffi takes those)."""
    seen = set() if seen is None else seen
    if header in seen:
        return ""
    seen.add(header)
    keep, internal = [], 0  # internal: depth of the #if nesting inside an internal part
    for line in header.read_text().splitlines():
        d = line.strip()
        if internal:
            if d.startswith("#if"):
                internal += 1
            elif d.startswith("#endif"):
                internal -= 1
            elif internal == 1 and d.startswith(("#else", "#elif")):
                raise ValueError(f"{header}: an internal part (#ifndef HIL_PUBLIC_ONLY) has no #else")
        elif re.match(r"#\s*ifndef\s+HIL_PUBLIC_ONLY\b", d):
            internal = 1
        elif m := re.fullmatch(r'#\s*include\s+"([^"]+)"', d):
            keep.append(_declarations(_header(header, m[1]), seen))
        elif not d.startswith("#") or re.fullmatch(r"#define \w+ \d+", d):
            keep.append(line)
    return "\n".join(keep)


ffibuilder = FFI()
# The declarations come from the headers themselves, so Python and C cannot drift apart.
ffibuilder.cdef(_declarations())
ffibuilder.set_source(
    "emulator._native._core",
    # The wrapper sees exactly the declarations cffi read.
    '#define HIL_PUBLIC_ONLY 1\n#include "core.h"',
    # setuptools wants paths relative to the project root, where it runs.
    sources=[str(NATIVE / s) for s in SOURCES],
    include_dirs=[str(NATIVE)],
    extra_compile_args=_compile_args(),
    extra_link_args=["-pthread"] + (SANITIZE if _sanitize() else []),
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
