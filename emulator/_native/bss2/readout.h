/* The readout of a bss2 MAC run: membrane compression, noise, CADC, clamp (the
 * second half of the model in bss2/mac.h). Internal to the C units. */
#ifndef HIL_BSS2_READOUT_H
#define HIL_BSS2_READOUT_H

#include <stddef.h>
#include <stdint.h>

#include "bss2/mac.h"
#include "compiler.h"
#include "isa.h"

/* What the readout of one run needs, fixed for the run. */
typedef struct {
    const bss2_mac *p;  /* the run's parameters */
    int64_t sample0;    /* the run's index of the first sample */
    int noisy;          /* 0: the exact double path (no noise, no compression) */
    int identity_codes; /* code_map is the identity */
    int32_t base_code[BSS2_COUNTER_NEURONS]; /* noise-free path: the baseline code of each neuron */
} bss2_readout;

HIL_INTERNAL void hil_bss2_readout_init(bss2_readout *r, const bss2_mac *p, int64_t sample0);

/* Lanes of a row of the transposed readout's accumulators (hil_bss2_readout_cols_*):
 * at least the samples of a block of a run (bss2/mac.c), a multiple of 16. */
#define HIL_BSS2_LANES 32
/* The most neurons of one transposed readout call. */
#define HIL_BSS2_COLS_MAX 8

/* The floats of scratch a readout call needs, for n_col neurons per hemisphere (the
 * noisy chip's deviates and membrane excursions of one sample, or the deviates of
 * HIL_BSS2_COLS_MAX neurons and the excursions of one, over HIL_BSS2_LANES samples). */
static inline size_t hil_bss2_readout_scratch(size_t n_col) {
    const size_t rows = 3 * n_col, cols = (2 * HIL_BSS2_COLS_MAX + 1) * HIL_BSS2_LANES;
    return rows > cols ? rows : cols;
}

/* The outputs of samples b0 .. b0+mb-1 of the run (noise stream `key`), hemisphere h,
 * its first n neurons (a multiple of 16, at most n_col), into out: row i of the
 * block at out + i * n_hemi * n_col, the hemisphere's neurons from h * n_col on.
 * From their accumulators acc (mb rows of n_col) and scales s (mb). One function
 * per code path (isa.h), all with the same results. */
HIL_INTERNAL void hil_bss2_readout_v0(const bss2_readout *r, uint64_t key, const float *acc,
                                      const double *s, int64_t b0, int mb, int h, int n,
                                      int8_t *out, float *scratch);
#if HIL_X86_DISPATCH
TARGET_V4 HIL_INTERNAL void hil_bss2_readout_v4(const bss2_readout *r, uint64_t key,
                                                const float *acc, const double *s, int64_t b0,
                                                int mb, int h, int n, int8_t *out, float *scratch);
TARGET_V3 HIL_INTERNAL void hil_bss2_readout_v3(const bss2_readout *r, uint64_t key,
                                                const float *acc, const double *s, int64_t b0,
                                                int mb, int h, int n, int8_t *out, float *scratch);
#endif

/* The same outputs for few neurons, with the samples in the vector lanes: samples
 * b0 .. b0+mb-1 (mb <= HIL_BSS2_LANES) of the run, neurons n0 .. n0+nn-1 (nn <=
 * HIL_BSS2_COLS_MAX; indices over
 * both hemispheres, all in one), from acc[j * HIL_BSS2_LANES + i] (neuron n0 + j,
 * sample b0 + i) into out + i * n_hemi * n_col + n0 + j. */
HIL_INTERNAL void hil_bss2_readout_cols_v0(const bss2_readout *r, uint64_t key, const float *acc,
                                           const double *s, int64_t b0, int mb, int n0, int nn,
                                           int8_t *out, float *scratch);
#if HIL_X86_DISPATCH
TARGET_V4 HIL_INTERNAL void hil_bss2_readout_cols_v4(const bss2_readout *r, uint64_t key,
                                                     const float *acc, const double *s, int64_t b0,
                                                     int mb, int n0, int nn, int8_t *out,
                                                     float *scratch);
TARGET_V3 HIL_INTERNAL void hil_bss2_readout_cols_v3(const bss2_readout *r, uint64_t key,
                                                     const float *acc, const double *s, int64_t b0,
                                                     int mb, int n0, int nn, int8_t *out,
                                                     float *scratch);
#endif

#endif
