/* The MAC mode of the BrainScaleS-2-like virtual chip: the C core's hot path.
 *
 * Everything here is pure and counter-based: a result depends only on its
 * inputs, the chip key and the (sample, neuron) counter, never on the thread
 * count, on how a batch is split, on which instruction set the machine has
 * (every code path does the same IEEE operations in the same order, without
 * fused multiply-add contraction; see isa.h), or on the caller's floating-point
 * environment (each piece of work runs in the default one, fp_env.h).
 *
 * The model of one MAC run (one sample b, neuron n of hemisphere h, column j):
 *
 *   xeff[i]  = pulses[h, i, x[b, i]]                      driver DAC (float32)
 *   acc      = sum_i xeff[i] * weights[h, i, j]           float32, i = 0, 1, ... in order,
 *                                                         starting from 0, no FMA
 *   events   = count of x[b, i] > 0;  s = scale[events]   double
 *
 * Noisy chip (any sigma > 0 or compression on), all float32 unless noted:
 *   v  = (acc * (float)s) * live[n]
 *   if compress and (v > knee_pos or v < knee_neg):
 *       v = (float) compress(v) computed in double with the float32 knees and rails
 *   x  = adc_frac + cadc_slope * (v + sigma_read * N1)
 *   xb = adc_frac + cadc_slope * (sigma_base * N2)
 *   code = code_map[clamp(adc_int + floor(x), 0, 255)], base likewise with xb
 *   out  = clamp(code - base, -128, 127)
 *
 * Noise-free chip (no sigma, no compression: the ideal chip), in double so it
 * equals the analytical model floor((gain * num_sends) * acc) bit for bit:
 *   v = ((double)acc * s) * live[n];  x = adc_frac + cadc_slope * v;  xb = adc_frac
 *
 * N1, N2 come from one 64-bit draw per (sample, neuron) of the run's stream key,
 * SplitMix64's mix64(key + c * 0x9e3779b97f4a7c15) at counter c = sample * 512 + n:
 * its high 32 bits give N1, its low 32 bits N2, each turned into a standard
 * normal deviate by inversion (a piecewise polynomial, see rng.c). As a stream
 * of 32-bit words (bss2_uniform_fill, bss2_normal_fill) N1 is word 2c and N2 word
 * 2c + 1.
 *
 * bss2/mac.c does the driver lookup and the product, bss2/readout.c the rest.
 */
#ifndef HIL_BSS2_MAC_H
#define HIL_BSS2_MAC_H

#include <stdint.h>

/* Counter of the MAC readout noise: sample * BSS2_COUNTER_NEURONS + neuron. */
#define BSS2_COUNTER_NEURONS 512

/* The noise stream of a MAC run's readout (bss2_stream_key's `stream`). */
#define BSS2_STREAM_MAC 0

/* Most logical inputs (n_in) a run accepts: with it, every size the core computes
 * is bounded and far from overflowing 64 bits. */
#define BSS2_MAX_INPUTS 4096

/* Fixed per-chip parameters of the MAC mode; arrays over the n_hemi * n_col neurons. */
typedef struct {
    int32_t n_in;              /* logical inputs (drivers), rows of the weight matrix */
    int32_t n_hemi;            /* hemispheres */
    int32_t n_col;             /* neurons per hemisphere; a multiple of 64 */
    int32_t compress;          /* 0: no membrane compression (ideal chip) */
    const float *live;         /* 1: the neuron integrates, 0: dead (injected fault) */
    const float *knee_pos;     /* start of compression above the baseline, LSB (> 0) */
    const float *knee_neg;     /* start of compression below the baseline, LSB (< 0) */
    const float *rail_pos;     /* asymptote of the membrane above the baseline, LSB */
    const float *rail_neg;     /* asymptote of the membrane below the baseline, LSB */
    const float *sigma_read;   /* temporal noise of the membrane read, LSB */
    const float *sigma_base;   /* temporal noise of the baseline read, LSB */
    const float *adc_frac;     /* fractional part of cadc_offset + cadc_slope * baseline, [0, 1) */
    const float *cadc_slope;   /* CADC codes per membrane LSB */
    const int32_t *adc_int;    /* integer part of the same, codes */
    const int32_t *code_map;   /* 256 entries: the code the CADC reports for each true code */
} bss2_mac;

/* One full MAC run of `batch` samples:
 *   weights (n_hemi, n_in, n_col) float32, pulses (n_hemi, n_in, 32) float32,
 *   scale (n_in + 1) double: LSB per weight unit of a sample with that many events,
 *   x (batch, n_in) uint8 activations 0..31, out (batch, n_hemi * n_col) int8.
 * sample0 is the index of x's first sample within the run (for the noise counter).
 * x is read once per byte (the value checked is the value used), so another thread
 * that writes x meanwhile can change results but never make the core read past a
 * table. Sizes are checked in 64 bits (batch and sample0 <= 2^40, n_in <=
 * BSS2_MAX_INPUTS, n_hemi * n_col <= BSS2_COUNTER_NEURONS, n_col a multiple of
 * 64); no pointer, in the arguments or in *p, may be NULL.
 * Returns 0; 1 if an activation is above 31 (bad[0] = the flat index of the
 * first one, bad[1] = the value read there; out is then undefined); -1 on a bad
 * argument; -2 if out of memory. bad: two elements. */
int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                 const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                 uint64_t key, int8_t *out, int64_t *bad);

/* A product of any size on chip blocks of n_in rows x n_hemi * n_col columns, each
 * a MAC run of its own, as a user's software stack does it:
 *   x (batch, rows) uint8 activations 0..31, out (batch, cols) int64;
 *   weights: n_blocks = ceil(rows / n_in) * ceil(cols / (n_hemi * n_col)) pointers,
 *   block rb * ncb + cb holding the (n_hemi, n_in, n_col) float32 weights of rows
 *   rb * n_in .. and columns cb * n_hemi * n_col .. of the product (zero-padded
 *   beyond the product's edge), pulses and scale as for bss2_mac_run.
 * Chip block k is the run run0 + k * run_stride of the chip with this seed (its
 * noise: stream BSS2_STREAM_MAC of bss2_stream_key(seed, run, .)), with sample b of
 * x as its sample b. Only the rows, neurons and hemispheres a block uses are
 * computed, with the values of the padded full run. The int8 outputs of the row
 * blocks are added and the sum clamped to -128..127.
 * rows, cols >= 1, batch * rows < 2^54, batch * cols < 2^60; n_blocks must be
 * the count above and no weights[k] NULL. Returns as bss2_mac_run (bad[0] a flat
 * index into x). */
int bss2_mac_product(const bss2_mac *p, const float *const *weights, int64_t n_blocks,
                     const float *pulses, const double *scale, const uint8_t *x, int64_t batch,
                     int64_t rows, int64_t cols, uint64_t seed, uint64_t run0, uint64_t run_stride,
                     int64_t *out, int64_t *bad);

#endif
