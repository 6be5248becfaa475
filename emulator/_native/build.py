"""cffi (API mode) build of the emulator's C core into ``emulator._native._core``.

Run by setuptools at ``pip install``; the declarations below are the whole
bridge between Python and C, so a changed C signature fails the build rather
than corrupting memory at run time.
"""
from cffi import FFI

ffibuilder = FFI()
ffibuilder.cdef(
    """
    typedef struct {
        int32_t n;
        int32_t neuron0;
        int32_t compress;
        const double *knee_pos;
        const double *knee_neg;
        const double *rail_pos;
        const double *rail_neg;
        const double *sigma_read;
        const double *sigma_base;
        const double *adc_int;
        const double *adc_frac;
        const double *cadc_slope;
        const uint8_t *dead;
        const uint8_t *code_map;
    } bss2_readout;

    void bss2_init(void);
    uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream);
    void bss2_normal_fill(uint64_t key, uint64_t counter0, int64_t n, double *out);
    int64_t bss2_driver_lookup(const uint8_t *x, int64_t batch, int32_t n_in,
                               const float *table, float *xeff, int32_t *n_events);
    int bss2_mac_readout(const float *acc, int64_t batch, const double *scale,
                         const bss2_readout *p, uint64_t key,
                         int64_t sample0, int8_t *out, int64_t out_stride);
    """
)
ffibuilder.set_source(
    "emulator._native._core",
    '#include "bss2_core.h"',
    # setuptools wants paths relative to the project root, where it runs.
    sources=["emulator/_native/bss2_core.c"],
    include_dirs=["emulator/_native"],
    extra_compile_args=["-O3", "-std=c99", "-fopenmp", "-Wall", "-Wextra", "-D_DEFAULT_SOURCE"],
    extra_link_args=["-fopenmp"],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
