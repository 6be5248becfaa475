/* C core of the BrainScaleS-2-like virtual chip: the hot path of the MAC mode.
 *
 * Everything here is pure and counter-based: a result depends only on its
 * inputs, the chip key and the (sample, neuron) counter, never on the thread
 * count or on how a batch is split.
 */
#ifndef BSS2_CORE_H
#define BSS2_CORE_H

#include <stdint.h>

/* Per-neuron parameters of the readout chain, all arrays of length n.
 * Membrane values are in CADC LSB relative to the reset (baseline) level. */
typedef struct {
    int32_t n;                 /* neurons (columns) in this call */
    int32_t neuron0;           /* global index of the first neuron, for the noise counter */
    int32_t compress;          /* 0: no membrane compression (ideal chip) */
    const double *knee_pos;    /* start of compression above the baseline, LSB (> 0) */
    const double *knee_neg;    /* start of compression below the baseline, LSB (< 0) */
    const double *rail_pos;    /* asymptote of the membrane above the baseline, LSB (> knee_pos) */
    const double *rail_neg;    /* asymptote of the membrane below the baseline, LSB (< knee_neg) */
    const double *sigma_read;  /* temporal noise of the membrane read, LSB */
    const double *sigma_base;  /* temporal noise of the baseline read, LSB */
    const double *adc_int;     /* integer part of cadc_offset + cadc_slope * baseline, codes */
    const double *adc_frac;    /* fractional part of the same, [0, 1) */
    const double *cadc_slope;  /* CADC codes per membrane LSB */
    const uint8_t *dead;       /* 1: the neuron does not integrate (injected fault) */
    const uint8_t *code_map;   /* 256 entries: the code the CADC reports for each true code */
} bss2_readout;

/* Builds the inverse-normal table; idempotent. */
void bss2_init(void);

/* 64-bit key of one noise stream of one run of one chip. */
uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream);

/* n standard normal deviates of stream `key` at counters counter0 .. counter0+n-1. */
void bss2_normal_fill(uint64_t key, uint64_t counter0, int64_t n, double *out);

/* Driver stage: activation x (0..31) of each of n_in rows to the pulse length
 * table[row * 32 + x]. Counts the events (x > 0) of each sample.
 * Returns -1, or the flat index of the first activation above 31. */
int64_t bss2_driver_lookup(const uint8_t *x, int64_t batch, int32_t n_in,
                           const float *table, float *xeff, int32_t *n_events);

/* Neuron + CADC stage: integrated charge acc (batch x n, in weight-DAC units)
 * times scale[b] (LSB per unit) is the membrane excursion; it is compressed,
 * read with noise, quantized by the CADC, and the baseline read is subtracted.
 * out = clamp(code - baseline_code, -128, 127); rows of out are out_stride apart.
 * Returns 0, or -1 on a bad argument. */
int bss2_mac_readout(const float *acc, int64_t batch, const double *scale,
                     const bss2_readout *p, uint64_t key,
                     int64_t sample0, int8_t *out, int64_t out_stride);

#endif
