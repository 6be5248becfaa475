/* C core of the BrainScaleS-2-like virtual chip: the hot path of the MAC mode.
 *
 * Everything here is pure and counter-based: a result depends only on its
 * inputs, the chip key and the (sample, neuron) counter, never on the thread
 * count, on how a batch is split, or on which instruction set the machine has
 * (every code path does the same IEEE operations in the same order, without
 * fused multiply-add contraction).
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
 * normal deviate by inversion (a piecewise polynomial, see bss2_core.c). As a
 * stream of 32-bit words (bss2_uniform_fill, bss2_normal_fill) N1 is word 2c and
 * N2 word 2c + 1.
 */
#ifndef BSS2_CORE_H
#define BSS2_CORE_H

#include <stdint.h>

/* Counter of the MAC readout noise: sample * BSS2_COUNTER_NEURONS + neuron. */
#define BSS2_COUNTER_NEURONS 512

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

/* Picks the code path (instruction set) for this CPU; idempotent. */
void bss2_init(void);

/* The instruction-set level in use: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3,
 * AVX2 + FMA) or 0 (baseline). bss2_set_isa forces a lower level (for tests;
 * results are the same at every level) and returns the level in use. */
int bss2_isa(void);
int bss2_set_isa(int level);

/* Threads per MAC run, the caller included: OMP_NUM_THREADS if set, else the CPUs
 * the process may run on. bss2_set_threads(n) sets it (n <= 0: back to the default)
 * and returns the value in effect. Results do not depend on it. */
int bss2_threads(void);
int bss2_set_threads(int n);

/* 64-bit key of one noise stream of one run of one chip. */
uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream);

/* The 32-bit words word0 .. word0+n-1 of stream `key`: word w is the high (w even)
 * or low (w odd) half of the 64-bit draw at counter w / 2. */
void bss2_uniform_fill(uint64_t key, uint64_t word0, int64_t n, uint32_t *out);

/* The standard normal deviates of those words: exactly the float32 values the MAC
 * readout uses, widened to double. */
void bss2_normal_fill(uint64_t key, uint64_t word0, int64_t n, double *out);

/* The standard normal deviates of n given 32-bit uniform words, computed by the
 * code path in use (see bss2_set_isa); every path gives the same values. */
void bss2_normal_from_bits(const uint32_t *u, int64_t n, float *out);

/* The coefficients of the normal deviates' piecewise polynomials (see bss2_core.c):
 * out[k * 32 + o] is c_k of segment o, k = 0..4, o = 0..31 (160 float32). */
void bss2_normal_coefficients(float *out);

/* One full MAC run of `batch` samples:
 *   weights (n_hemi, n_in, n_col) float32, pulses (n_hemi, n_in, 32) float32,
 *   scale (n_in + 1) double: LSB per weight unit of a sample with that many events,
 *   x (batch, n_in) uint8 activations 0..31, out (batch, n_hemi * n_col) int8.
 * sample0 is the index of x's first sample within the run (for the noise counter).
 * Returns 0; 1 if an activation is above 31 (*bad_index = its flat index, nothing
 * else is computed); -1 on a bad argument; -2 if out of memory. */
int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                 const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                 uint64_t key, int8_t *out, int64_t *bad_index);

#endif
