/* See bss2_core.h. Plain C99; OpenMP is optional and only splits the batch. */
#include "bss2_core.h"

#include <math.h>
#include <stddef.h>

#define TABLE_BITS 12
#define TABLE_SIZE (1 << TABLE_BITS)
#define FRAC_BITS (32 - TABLE_BITS)

/* Phi^-1(i / TABLE_SIZE) for i = 0..TABLE_SIZE; the two end entries are never
 * read (their bins are computed exactly). */
static double normal_table[TABLE_SIZE + 1];
static int table_ready = 0;

/* The splitmix64 finalizer: a bijective 64-bit mix with full avalanche. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* Inverse of the standard normal CDF: Acklam's rational approximation
 * (relative error 1.2e-9) refined by one Halley step to double precision. */
static double inverse_normal(double p) {
    static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                               -2.759285104469687e+02, 1.383577518672690e+02,
                               -3.066479806614716e+01, 2.506628277459239e+00};
    static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                               -1.556989798598866e+02, 6.680131188771972e+01,
                               -1.328068155288572e+01};
    static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                               -2.400758277161838e+00, -2.549732539343734e+00,
                               4.374664141464968e+00, 2.938163982698783e+00};
    static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                               2.445134137142996e+00, 3.754408661907416e+00};
    const double plow = 0.02425, phigh = 1.0 - 0.02425;
    double x, q, r;
    if (p < plow) {
        q = sqrt(-2.0 * log(p));
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    } else if (p <= phigh) {
        q = p - 0.5;
        r = q * q;
        x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
            (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
    } else {
        q = sqrt(-2.0 * log(1.0 - p));
        x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
            ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
    }
    /* Halley refinement against the exact CDF. */
    double e = 0.5 * erfc(-x / sqrt(2.0)) - p;
    double u = e * sqrt(2.0 * M_PI) * exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

void bss2_init(void) {
    if (table_ready) return;
    normal_table[0] = -INFINITY;
    normal_table[TABLE_SIZE] = INFINITY;
    for (int i = 1; i < TABLE_SIZE; i++)
        normal_table[i] = inverse_normal((double)i / TABLE_SIZE);
    table_ready = 1;
}

/* One standard normal deviate from 32 uniform bits: table lookup with linear
 * interpolation in the body (error < 0.02 sigma in the worst bin, far less in
 * the centre), the exact inverse in the two outermost bins so the tails are
 * not cut. */
static inline double normal_from_bits(uint32_t u) {
    uint32_t idx = u >> FRAC_BITS;
    if (idx == 0 || idx == TABLE_SIZE - 1)
        return inverse_normal(((double)u + 0.5) * (1.0 / 4294967296.0));
    double frac = (double)(u & ((1u << FRAC_BITS) - 1)) * (1.0 / (double)(1u << FRAC_BITS));
    double lo = normal_table[idx];
    return lo + frac * (normal_table[idx + 1] - lo);
}

uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream) {
    return mix64(mix64(chip_seed ^ mix64(run + GOLDEN)) + stream * GOLDEN);
}

static inline uint64_t counter_bits(uint64_t key, uint64_t counter) {
    return mix64(key + counter * GOLDEN);
}

void bss2_normal_fill(uint64_t key, uint64_t counter0, int64_t n, double *out) {
    bss2_init();
    for (int64_t i = 0; i < n; i++)
        out[i] = normal_from_bits((uint32_t)(counter_bits(key, counter0 + (uint64_t)i) >> 32));
}

int64_t bss2_driver_lookup(const uint8_t *x, int64_t batch, int32_t n_in,
                           const float *table, float *xeff, int32_t *n_events) {
    for (int64_t k = 0; k < batch * n_in; k++)
        if (x[k] > 31) return k;
    for (int64_t b = 0; b < batch; b++) {
        const uint8_t *xb = x + b * n_in;
        float *eb = xeff + b * n_in;
        int32_t events = 0;
        for (int32_t i = 0; i < n_in; i++) {
            eb[i] = table[i * 32 + xb[i]];
            events += xb[i] != 0;
        }
        n_events[b] = events;
    }
    return -1;
}

static inline double compress(double v, double kp, double kn, double rp, double rn) {
    if (v > kp) return kp + (rp - kp) * tanh((v - kp) / (rp - kp));
    if (v < kn) return kn + (rn - kn) * tanh((v - kn) / (rn - kn));
    return v;
}

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* floor() to an int for |x| < 2^31, inline: the libm call (no SSE4.1 in the
 * x86-64 baseline) dominated the readout loop. */
static inline int floor_int(double x) {
    int i = (int)x;
    return i - (x < (double)i);
}

/* floor() of the CADC's continuous input, split as integer + fraction so the
 * ideal chip (fraction 0, slope 1) reproduces floor(v) bit for bit. */
static inline int cadc_code(int adc_int, double adc_frac, double slope, double v,
                            const uint8_t *code_map) {
    double x = adc_frac + slope * v;
    /* Saturate before the integer conversion so huge excursions cannot overflow. */
    if (x > 512.0) x = 512.0;
    if (x < -512.0) x = -512.0;
    return code_map[clampi(adc_int + floor_int(x), 0, 255)];
}

int bss2_mac_readout(const float *acc, int64_t batch, const double *scale,
                     const bss2_readout *p, uint64_t key,
                     int64_t sample0, int8_t *out, int64_t out_stride) {
    if (acc == NULL || scale == NULL || p == NULL || out == NULL || p->n <= 0 || batch < 0 ||
        out_stride < p->n)
        return -1;
    bss2_init();
    const int32_t n = p->n;
    const double *restrict kp = p->knee_pos, *restrict kn = p->knee_neg;
    const double *restrict rp = p->rail_pos, *restrict rn = p->rail_neg;
    const double *restrict sr = p->sigma_read, *restrict sb = p->sigma_base;
    const double *restrict ai = p->adc_int, *restrict af = p->adc_frac, *restrict sl = p->cadc_slope;
    const uint8_t *restrict dead = p->dead, *restrict cmap = p->code_map;
    const int compress_on = p->compress;
    const uint64_t neuron0 = (uint64_t)p->neuron0;
#pragma omp parallel for schedule(static) if (batch * n > 65536)
    for (int64_t b = 0; b < batch; b++) {
        const float *restrict ab = acc + b * n;
        int8_t *restrict ob = out + b * out_stride;
        const double s = scale[b];
        const uint64_t row_counter = (uint64_t)(sample0 + b) << 16;
        for (int32_t j = 0; j < n; j++) {
            double v = dead[j] ? 0.0 : (double)ab[j] * s;
            if (compress_on) v = compress(v, kp[j], kn[j], rp[j], rn[j]);
            double vb = 0.0;
            /* One 64-bit draw feeds both reads: high half the membrane, low half the baseline. */
            const uint64_t bits = counter_bits(key, row_counter | (neuron0 + (uint64_t)j));
            if (sr[j] > 0.0) v += sr[j] * normal_from_bits((uint32_t)(bits >> 32));
            if (sb[j] > 0.0) vb = sb[j] * normal_from_bits((uint32_t)bits);
            const int a = (int)ai[j];
            const int code = cadc_code(a, af[j], sl[j], v, cmap);
            const int base = cadc_code(a, af[j], sl[j], vb, cmap);
            ob[j] = (int8_t)clampi(code - base, -128, 127);
        }
    }
    return 0;
}
