/* See bss2/readout.h. */
#include "bss2/readout.h"

#include <math.h>

#include "rng.h"

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

/* floor() as an int via the truncating conversion (vectorizes; no libm call). The
 * argument is bounded by construction: |acc| < 2^19 weight units (128 inputs x
 * pulse < 40 x weight < 90), scale < 2.1, so |x| < 2^21, far inside int range. */
static inline int floor_f(float x) {
    const int i = (int)x;
    return i - (x < (float)i);
}

static inline int floor_d(double x) {
    const int i = (int)x;
    return i - (x < (double)i);
}

/* Membrane compression, in double with the float32 knees and rails. */
static float compress_f(float vf, float kpf, float knf, float rpf, float rnf) {
    double v = vf, kp = kpf, kn = knf, rp = rpf, rn = rnf;
    if (v > kp) return (float)(kp + (rp - kp) * tanh((v - kp) / (rp - kp)));
    if (v < kn) return (float)(kn + (rn - kn) * tanh((v - kn) / (rn - kn)));
    return vf;
}

#if HIL_X86_DISPATCH
/* readout_noisy below in one AVX-512 pass, 16 neurons at a time: the deviates go
 * straight into the readout, and floor + convert is one instruction (rounding
 * toward -inf; the same value as floor_f). Lanes beyond a knee are compressed by
 * the scalar compress_f. Same operations, same order, same results. */
TARGET_V4 ALWAYS_INLINE void readout_noisy_v4(const bss2_readout *restrict ctx,
                                               normal_pairs_v4 *restrict noise, const float *restrict a,
                                               double s, uint64_t sample, int n0, int n,
                                               int8_t *restrict o) {
    const bss2_mac *p = ctx->p;
    normal_pairs_seek_v4(noise, sample * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)n0);
    const __m512 s32 = _mm512_set1_ps((float)s);
    const __m512i zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
    const int compress = p->compress, identity = ctx->identity_codes;
    for (int j = 0; j < n; j += 16) {
        __m512 n1, n2;
        normal_pairs_next_v4(noise, &n1, &n2);
        const int q = n0 + j;
        __m512 v = _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(a + j), s32), _mm512_loadu_ps(p->live + q));
        if (compress) {
            const __mmask16 beyond =
                _mm512_cmp_ps_mask(v, _mm512_loadu_ps(p->knee_pos + q), _CMP_GT_OQ) |
                _mm512_cmp_ps_mask(v, _mm512_loadu_ps(p->knee_neg + q), _CMP_LT_OQ);
            if (beyond) {
                float tmp[16];
                _mm512_storeu_ps(tmp, v);
                for (int i = 0; i < 16; i++)
                    if (beyond & (1u << i))
                        tmp[i] = compress_f(tmp[i], p->knee_pos[q + i], p->knee_neg[q + i],
                                            p->rail_pos[q + i], p->rail_neg[q + i]);
                v = _mm512_loadu_ps(tmp);
            }
        }
        const __m512 fr = _mm512_loadu_ps(p->adc_frac + q), sl = _mm512_loadu_ps(p->cadc_slope + q);
        const __m512 x = _mm512_add_ps(
            fr, _mm512_mul_ps(sl, _mm512_add_ps(v, _mm512_mul_ps(_mm512_loadu_ps(p->sigma_read + q), n1))));
        const __m512 xb = _mm512_add_ps(fr, _mm512_mul_ps(sl, _mm512_mul_ps(_mm512_loadu_ps(p->sigma_base + q), n2)));
        const __m512i ai = _mm512_loadu_si512(p->adc_int + q);
        __m512i code = _mm512_add_epi32(ai, _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
        __m512i base = _mm512_add_epi32(ai, _mm512_cvt_roundps_epi32(xb, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC));
        code = _mm512_min_epi32(_mm512_max_epi32(code, zero), top);
        base = _mm512_min_epi32(_mm512_max_epi32(base, zero), top);
        if (!identity) {
            code = _mm512_i32gather_epi32(code, p->code_map, 4);
            base = _mm512_i32gather_epi32(base, p->code_map, 4);
        }
        /* code - base is in -255..255; the signed saturation to int8 is the clamp */
        _mm_storeu_si128((__m128i *)(o + j), _mm512_cvtsepi32_epi8(_mm512_sub_epi32(code, base)));
    }
}

/* Samples b0 .. b0+mb-1, hemisphere h, its first n neurons: readout_noisy_v4 per
 * sample, the constants of the deviates loaded once for all of them. */
TARGET_V4 static void readout_rows_noisy_v4(const bss2_readout *restrict r, uint64_t key,
                                            const float *restrict acc, const double *restrict s,
                                            int64_t b0, int mb, int h, int n, int8_t *restrict out) {
    const int n_col = r->p->n_col, n_tot = r->p->n_hemi * r->p->n_col;
    normal_pairs_v4 noise;
    normal_pairs_init_v4(&noise, key, 1);
    for (int i = 0; i < mb; i++)
        readout_noisy_v4(r, &noise, acc + (int64_t)i * n_col, s[i], (uint64_t)(r->sample0 + b0 + i),
                         h * n_col, n, out + (int64_t)i * n_tot + (int64_t)h * n_col);
}

/* The deviates of neurons n0 .. n0+nn-1 of samples sample0 .. sample0+mb-1 (mb <=
 * LANES), neuron j's at n1 + j * LANES and n2 + j * LANES. */
TARGET_V4 static void normal_cols_v4(uint64_t key, uint64_t sample0, int mb, int n0, int nn,
                                     float *restrict n1, float *restrict n2) {
    normal_pairs_v4 noise;
    normal_pairs_init_v4(&noise, key, BSS2_COUNTER_NEURONS);
    for (int j = 0; j < nn; j++) {
        normal_pairs_seek_v4(&noise, sample0 * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)(n0 + j));
        for (int i = 0; i < mb; i += 16) {
            __m512 d1, d2;
            normal_pairs_next_v4(&noise, &d1, &d2);
            _mm512_storeu_ps(n1 + j * HIL_BSS2_LANES + i, d1);
            _mm512_storeu_ps(n2 + j * HIL_BSS2_LANES + i, d2);
        }
    }
}
#endif

/* One sample, neurons n0 .. n0+n-1 of one hemisphere, noisy chip (float32). */
ALWAYS_INLINE void readout_noisy(const bss2_readout *restrict ctx, uint64_t key,
                                 const float *restrict a, double s, uint64_t sample, int n0, int n,
                                 int8_t *restrict o, float *restrict scratch, const int L) {
    const bss2_mac *p = ctx->p;
    const float s32 = (float)s;
    const float *restrict live = p->live + n0;
    const float *restrict kp = p->knee_pos + n0, *restrict kn = p->knee_neg + n0;
    const float *restrict sr = p->sigma_read + n0, *restrict sb = p->sigma_base + n0;
    const float *restrict fr = p->adc_frac + n0, *restrict sl = p->cadc_slope + n0;
    const int32_t *restrict ai = p->adc_int + n0;
    const int32_t *restrict cmap = p->code_map;
    /* the membrane deviates, the baseline deviates and the membrane excursions */
    float *restrict n1 = scratch, *restrict n2 = scratch + p->n_col, *restrict v = scratch + 2 * p->n_col;
    const uint64_t c = sample * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)n0;

    (void)L;
#if HIL_X86_DISPATCH
    if (L == 3)
        hil_normal_pairs_v3(key, c, 1, n, n1, n2);
    else
#endif
        hil_normal_pairs(key, c, 1, n, n1, n2);

    if (p->compress) {
        int beyond = 0;
        for (int j = 0; j < n; j++) {
            const float vj = (a[j] * s32) * live[j];
            v[j] = vj;
            beyond |= (vj > kp[j]) | (vj < kn[j]);
        }
        if (beyond)
            for (int j = 0; j < n; j++)
                if (v[j] > kp[j] || v[j] < kn[j])
                    v[j] = compress_f(v[j], kp[j], kn[j], p->rail_pos[n0 + j], p->rail_neg[n0 + j]);
    } else {
        for (int j = 0; j < n; j++) v[j] = (a[j] * s32) * live[j];
    }

    if (ctx->identity_codes) {
        for (int j = 0; j < n; j++) {
            const float x = fr[j] + sl[j] * (v[j] + sr[j] * n1[j]);
            const float xb = fr[j] + sl[j] * (sb[j] * n2[j]);
            const int code = clampi(ai[j] + floor_f(x), 0, 255);
            const int base = clampi(ai[j] + floor_f(xb), 0, 255);
            o[j] = (int8_t)clampi(code - base, -128, 127);
        }
    } else {
        for (int j = 0; j < n; j++) {
            const float x = fr[j] + sl[j] * (v[j] + sr[j] * n1[j]);
            const float xb = fr[j] + sl[j] * (sb[j] * n2[j]);
            const int code = cmap[clampi(ai[j] + floor_f(x), 0, 255)];
            const int base = cmap[clampi(ai[j] + floor_f(xb), 0, 255)];
            o[j] = (int8_t)clampi(code - base, -128, 127);
        }
    }
}

/* One sample, neurons n0 .. n0+n-1, noise-free chip: double, exact for the ideal chip. */
ALWAYS_INLINE void readout_exact(const bss2_readout *restrict ctx, const float *restrict a, double s,
                                 int n0, int n, int8_t *restrict o) {
    const bss2_mac *p = ctx->p;
    const float *restrict live = p->live + n0;
    const float *restrict fr = p->adc_frac + n0, *restrict sl = p->cadc_slope + n0;
    const int32_t *restrict ai = p->adc_int + n0;
    const int32_t *restrict base = ctx->base_code + n0;
    const int32_t *restrict cmap = p->code_map;
    if (ctx->identity_codes) {
        for (int j = 0; j < n; j++) {
            const double v = ((double)a[j] * s) * (double)live[j]; /* live: 1 or 0 */
            const double x = (double)fr[j] + (double)sl[j] * v;
            const int code = clampi(ai[j] + floor_d(x), 0, 255);
            o[j] = (int8_t)clampi(code - base[j], -128, 127);
        }
    } else {
        for (int j = 0; j < n; j++) {
            const double v = ((double)a[j] * s) * (double)live[j];
            const double x = (double)fr[j] + (double)sl[j] * v;
            const int code = cmap[clampi(ai[j] + floor_d(x), 0, 255)];
            o[j] = (int8_t)clampi(code - base[j], -128, 127);
        }
    }
}

/* Samples b0 .. b0+mb-1, hemisphere h, its first n neurons. L is the code path
 * (4, 3, 0), a constant once inlined into the per-target functions below. */
ALWAYS_INLINE void readout_rows(const bss2_readout *restrict r, uint64_t key,
                                const float *restrict acc, const double *restrict s, int64_t b0,
                                int mb, int h, int n, int8_t *restrict out,
                                float *restrict scratch, const int L) {
    const int n_col = r->p->n_col, n_tot = r->p->n_hemi * r->p->n_col;
#if HIL_X86_DISPATCH
    if (L == 4 && r->noisy) {
        readout_rows_noisy_v4(r, key, acc, s, b0, mb, h, n, out);
        return;
    }
#endif
    for (int i = 0; i < mb; i++) {
        int8_t *o = out + (int64_t)i * n_tot + (int64_t)h * n_col;
        const float *a = acc + (int64_t)i * n_col;
        const uint64_t sample = (uint64_t)(r->sample0 + b0 + i);
        if (r->noisy)
            readout_noisy(r, key, a, s[i], sample, h * n_col, n, o, scratch, L);
        else
            readout_exact(r, a, s[i], h * n_col, n, o);
    }
}

/* The transposed readout: neurons n0 .. n0+nn-1 (global indices) of samples b0 ..
 * b0+mb-1, from accumulators acc[j * HIL_BSS2_LANES + i] (neuron n0 + j, sample b0 +
 * i), into out + i * n_tot + n0 + j. Per neuron, the samples are the vector lanes: its
 * parameters are scalars and its deviates are those of counters sample * 512 + n,
 * BSS2_COUNTER_NEURONS apart. The same operations as readout_noisy and
 * readout_exact, element by element, so the same values. */
ALWAYS_INLINE void readout_cols(const bss2_readout *restrict r, uint64_t key,
                                const float *restrict acc, const double *restrict s, int64_t b0,
                                int mb, int n0, int nn, int8_t *restrict out,
                                float *restrict scratch, const int L) {
    const bss2_mac *p = r->p;
    const int n_tot = p->n_hemi * p->n_col;
    const int32_t *restrict cmap = p->code_map;
    /* the deviates of all nn neurons first (neuron j's at j * LANES), then the
     * membrane excursions of one neuron */
    float *restrict d1 = scratch, *restrict d2 = scratch + HIL_BSS2_COLS_MAX * HIL_BSS2_LANES;
    float *restrict v = scratch + 2 * HIL_BSS2_COLS_MAX * HIL_BSS2_LANES;
    float s32[HIL_BSS2_LANES];
    int8_t o[HIL_BSS2_LANES];
    for (int i = 0; i < mb; i++) s32[i] = (float)s[i];
    const uint64_t sample0 = (uint64_t)(r->sample0 + b0);
    if (r->noisy) {
#if HIL_X86_DISPATCH
        if (L == 4)
            normal_cols_v4(key, sample0, mb, n0, nn, d1, d2);
        else
#endif
            for (int j = 0; j < nn; j++) {
                const uint64_t c = sample0 * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)(n0 + j);
                float *restrict o1 = d1 + j * HIL_BSS2_LANES, *restrict o2 = d2 + j * HIL_BSS2_LANES;
#if HIL_X86_DISPATCH
                if (L == 3)
                    hil_normal_pairs_v3(key, c, BSS2_COUNTER_NEURONS, (mb + 7) / 8 * 8, o1, o2);
                else
#endif
                    hil_normal_pairs(key, c, BSS2_COUNTER_NEURONS, mb, o1, o2);
            }
    }
    for (int j = 0; j < nn; j++) {
        const int n = n0 + j;
        const float *restrict a = acc + (int64_t)j * HIL_BSS2_LANES;
        if (r->noisy) {
            const float *restrict n1 = d1 + j * HIL_BSS2_LANES, *restrict n2 = d2 + j * HIL_BSS2_LANES;
            const float live = p->live[n], kp = p->knee_pos[n], kn = p->knee_neg[n];
            int beyond = 0;
            for (int i = 0; i < mb; i++) {
                const float vi = (a[i] * s32[i]) * live;
                v[i] = vi;
                beyond |= (vi > kp) | (vi < kn);
            }
            if (p->compress && beyond)
                for (int i = 0; i < mb; i++)
                    if (v[i] > kp || v[i] < kn) v[i] = compress_f(v[i], kp, kn, p->rail_pos[n], p->rail_neg[n]);
            const float fr = p->adc_frac[n], sl = p->cadc_slope[n], sr = p->sigma_read[n], sb = p->sigma_base[n];
            const int ai = p->adc_int[n];
            if (r->identity_codes)
                for (int i = 0; i < mb; i++) {
                    const float x = fr + sl * (v[i] + sr * n1[i]);
                    const float xb = fr + sl * (sb * n2[i]);
                    const int code = clampi(ai + floor_f(x), 0, 255);
                    const int base = clampi(ai + floor_f(xb), 0, 255);
                    o[i] = (int8_t)clampi(code - base, -128, 127);
                }
            else
                for (int i = 0; i < mb; i++) {
                    const float x = fr + sl * (v[i] + sr * n1[i]);
                    const float xb = fr + sl * (sb * n2[i]);
                    const int code = cmap[clampi(ai + floor_f(x), 0, 255)];
                    const int base = cmap[clampi(ai + floor_f(xb), 0, 255)];
                    o[i] = (int8_t)clampi(code - base, -128, 127);
                }
        } else {
            const double live = p->live[n], fr = p->adc_frac[n], sl = p->cadc_slope[n];
            const int ai = p->adc_int[n], base = r->base_code[n];
            for (int i = 0; i < mb; i++) {
                const double vi = ((double)a[i] * s[i]) * live; /* live: 1 or 0 */
                const double x = fr + sl * vi;
                const int code = cmap[clampi(ai + floor_d(x), 0, 255)];
                o[i] = (int8_t)clampi(code - base, -128, 127);
            }
        }
        for (int i = 0; i < mb; i++) out[(int64_t)i * n_tot + n] = o[i];
    }
}

#if HIL_X86_DISPATCH
TARGET_V4 void hil_bss2_readout_cols_v4(const bss2_readout *r, uint64_t key, const float *acc,
                                        const double *s, int64_t b0, int mb, int n0, int nn,
                                        int8_t *out, float *scratch) {
    readout_cols(r, key, acc, s, b0, mb, n0, nn, out, scratch, 4);
}
TARGET_V3 void hil_bss2_readout_cols_v3(const bss2_readout *r, uint64_t key, const float *acc,
                                        const double *s, int64_t b0, int mb, int n0, int nn,
                                        int8_t *out, float *scratch) {
    readout_cols(r, key, acc, s, b0, mb, n0, nn, out, scratch, 3);
}
TARGET_V4 void hil_bss2_readout_v4(const bss2_readout *r, uint64_t key, const float *acc,
                                   const double *s, int64_t b0, int mb, int h, int n, int8_t *out,
                                   float *scratch) {
    readout_rows(r, key, acc, s, b0, mb, h, n, out, scratch, 4);
}
TARGET_V3 void hil_bss2_readout_v3(const bss2_readout *r, uint64_t key, const float *acc,
                                   const double *s, int64_t b0, int mb, int h, int n, int8_t *out,
                                   float *scratch) {
    readout_rows(r, key, acc, s, b0, mb, h, n, out, scratch, 3);
}
#endif
void hil_bss2_readout_v0(const bss2_readout *r, uint64_t key, const float *acc, const double *s,
                         int64_t b0, int mb, int h, int n, int8_t *out, float *scratch) {
    readout_rows(r, key, acc, s, b0, mb, h, n, out, scratch, 0);
}
void hil_bss2_readout_cols_v0(const bss2_readout *r, uint64_t key, const float *acc, const double *s,
                              int64_t b0, int mb, int n0, int nn, int8_t *out, float *scratch) {
    readout_cols(r, key, acc, s, b0, mb, n0, nn, out, scratch, 0);
}

void hil_bss2_readout_init(bss2_readout *r, const bss2_mac *p, int64_t sample0) {
    const int n_tot = p->n_hemi * p->n_col;
    r->p = p;
    r->sample0 = sample0;
    r->noisy = p->compress != 0;
    r->identity_codes = 1;
    for (int n = 0; n < n_tot; n++) {
        if (p->sigma_read[n] != 0.0f || p->sigma_base[n] != 0.0f) r->noisy = 1;
        r->base_code[n] = p->code_map[clampi(p->adc_int[n] + floor_d((double)p->adc_frac[n]), 0, 255)];
    }
    for (int c = 0; c < 256; c++)
        if (p->code_map[c] != c) r->identity_codes = 0;
}
