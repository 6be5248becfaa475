"""cffi (API mode) build of the emulator's C core into ``emulator._native._core``.

Run by setuptools at ``pip install``; the declarations below are the whole
bridge between Python and C, so a changed C signature fails the build rather
than corrupting memory at run time.
"""
import os
import platform
import sysconfig

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


ffibuilder = FFI()
ffibuilder.cdef(
    """
    typedef struct {
        int32_t n_in;
        int32_t n_hemi;
        int32_t n_col;
        int32_t compress;
        const float *live;
        const float *knee_pos;
        const float *knee_neg;
        const float *rail_pos;
        const float *rail_neg;
        const float *sigma_read;
        const float *sigma_base;
        const float *adc_frac;
        const float *cadc_slope;
        const int32_t *adc_int;
        const int32_t *code_map;
    } bss2_mac;

    void bss2_init(void);
    int bss2_isa(void);
    int bss2_set_isa(int level);
    int bss2_threads(void);
    int bss2_set_threads(int n);
    uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream);
    void bss2_uniform_fill(uint64_t key, uint64_t word0, int64_t n, uint32_t *out);
    void bss2_normal_fill(uint64_t key, uint64_t word0, int64_t n, double *out);
    void bss2_normal_from_bits(const uint32_t *u, int64_t n, float *out);
    void bss2_normal_coefficients(float *out);
    int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                     const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                     uint64_t key, int8_t *out, int64_t *bad_index);
    """
)
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
