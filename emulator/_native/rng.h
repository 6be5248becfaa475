/* Counter-based random numbers: SplitMix64 streams and standard normal deviates.
 *
 * Everything here is pure and counter-based: a value depends only on the stream
 * key and the counter, never on the thread, on how a range is split, or on the
 * instruction set (see isa.h). The 64-bit draw at counter c of stream `key` is
 * SplitMix64's mix64(key + c * 0x9e3779b97f4a7c15); as a stream of 32-bit words,
 * word 2c is its high half and word 2c + 1 its low half. A standard normal
 * deviate is made from 32 uniform bits by inversion (a piecewise polynomial, see
 * rng.c).
 */
#ifndef HIL_RNG_H
#define HIL_RNG_H

#include <stdint.h>

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

/* The coefficients of the normal deviates' piecewise polynomials (see rng.c):
 * out[k * 32 + o] is c_k of segment o, k = 0..4, o = 0..31 (160 float32). */
void bss2_normal_coefficients(float *out);

#ifndef HIL_PUBLIC_ONLY /* internal to the C units (see core.h) */
#include "compiler.h"
#include "isa.h"

#define NORMAL_DEGREE 4
#define NORMAL_SEGMENTS 32
#define RNG_GOLDEN 0x9e3779b97f4a7c15ULL /* the counter step of SplitMix64 */

/* normal_poly[k][o]: c_k of segment o (see rng.c). */
HIL_INTERNAL extern const float hil_normal_poly[NORMAL_DEGREE + 1][NORMAL_SEGMENTS] ALIGN64;

/* The deviates of the draws at counters c0, c0 + stride, ..., c0 + (n-1) * stride of
 * stream `key`: out1[j] from the high half of draw c0 + j * stride, out2[j] from its
 * low half (stride 1: a sample's neurons; BSS2_COUNTER_NEURONS: one neuron's samples).
 * The baseline code path; the _v3 one (n a multiple of 8) gives the same values. */
HIL_INTERNAL void hil_normal_pairs(uint64_t key, uint64_t c0, uint64_t stride, int n,
                                   float *restrict out1, float *restrict out2);

/* Only out1 of hil_normal_pairs (the deviates of the high halves), the same values. */
HIL_INTERNAL void hil_normal_high(uint64_t key, uint64_t c0, uint64_t stride, int n, float *restrict out1);

#if HIL_X86_DISPATCH
TARGET_V3 HIL_INTERNAL void hil_normal_pairs_v3(uint64_t key, uint64_t c0, uint64_t stride, int n,
                                                float *restrict out1, float *restrict out2);
TARGET_V3 HIL_INTERNAL void hil_normal_high_v3(uint64_t key, uint64_t c0, uint64_t stride, int n,
                                               float *restrict out1);

/* The same with AVX-512, inline so that a caller (the bss2 readout) can take the
 * deviates straight from registers: two vectors of 8 64-bit draws per step,
 * split into the 16 high halves (out1) and 16 low halves (out2); the 32-entry
 * coefficient tables sit in register pairs and are looked up with vpermt2ps. */
typedef struct {
    __m512i one, mant, onef, sign;
    __m512 half3, pl[NORMAL_DEGREE + 1], ph[NORMAL_DEGREE + 1];
} normal_consts_v4;

TARGET_V4 ALWAYS_INLINE void normal_consts_init_v4(normal_consts_v4 *k) {
    k->one = _mm512_set1_epi32(1);
    k->mant = _mm512_set1_epi32(0x7FFFFF);
    k->onef = _mm512_set1_epi32(0x3F800000);
    k->sign = _mm512_set1_epi32((int)0x80000000u);
    k->half3 = _mm512_set1_ps(1.5f);
    for (int d = 0; d <= NORMAL_DEGREE; d++) {
        k->pl[d] = _mm512_load_ps(hil_normal_poly[d]);
        k->ph[d] = _mm512_load_ps(hil_normal_poly[d] + 16);
    }
}

/* The 16 deviates of 16 words (see normal_from_bits in rng.c: the same values). */
TARGET_V4 ALWAYS_INLINE __m512 bits_to_normal16_v4(__m512i h, const normal_consts_v4 *k) {
    const __m512i s = _mm512_srai_epi32(h, 31);
    const __m512i tp = _mm512_or_si512(_mm512_slli_epi32(_mm512_xor_si512(h, s), 1), k->one);
    const __m512i o = _mm512_lzcnt_epi32(tp);
    const __m512i m = _mm512_ternarylogic_epi32(_mm512_srli_epi32(_mm512_sllv_epi32(tp, o), 8),
                                                k->mant, k->onef, 0xEA); /* (a & b) | c */
    const __m512 y = _mm512_sub_ps(_mm512_castsi512_ps(m), k->half3);
    __m512 q = _mm512_permutex2var_ps(k->pl[4], o, k->ph[4]);
    q = _mm512_add_ps(_mm512_mul_ps(q, y), _mm512_permutex2var_ps(k->pl[3], o, k->ph[3]));
    q = _mm512_add_ps(_mm512_mul_ps(q, y), _mm512_permutex2var_ps(k->pl[2], o, k->ph[2]));
    q = _mm512_add_ps(_mm512_mul_ps(q, y), _mm512_permutex2var_ps(k->pl[1], o, k->ph[1]));
    q = _mm512_add_ps(_mm512_mul_ps(q, y), _mm512_permutex2var_ps(k->pl[0], o, k->ph[0]));
    return _mm512_castsi512_ps(
        _mm512_ternarylogic_epi32(_mm512_castps_si512(q), s, k->sign, 0x78)); /* a ^ (b & c) */
}

TARGET_V4 ALWAYS_INLINE __m512i mix64_v4(__m512i z, __m512i m1, __m512i m2) {
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
    z = _mm512_mullo_epi64(z, m1);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
    z = _mm512_mullo_epi64(z, m2);
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

/* The pairs of deviates of counters c0, c0 + stride, c0 + 2 * stride, ... of stream
 * `key`, 16 counters a step: normal_pairs_init_v4 (the constants and the stride),
 * normal_pairs_seek_v4 (the first counter; again for every new run of counters),
 * then normal_pairs_next_v4 once per 16 counters. */
typedef struct {
    normal_consts_v4 k;
    __m512i m1, m2, step, odd, even;
    __m512i lane, half; /* l * stride * RNG_GOLDEN of lanes l = 0..7; 8 * stride * RNG_GOLDEN */
    uint64_t key;
    __m512i za, zb; /* key + c * RNG_GOLDEN of the next 16 counters (8 lanes each) */
} normal_pairs_v4;

TARGET_V4 ALWAYS_INLINE void normal_pairs_seek_v4(normal_pairs_v4 *st, uint64_t c0) {
    /* key + (c0 + l * stride) * G, modulo 2^64, as (key + c0 * G) + l * stride * G */
    st->za = _mm512_add_epi64(_mm512_set1_epi64((long long)(st->key + c0 * RNG_GOLDEN)), st->lane);
    st->zb = _mm512_add_epi64(st->za, st->half);
}

TARGET_V4 ALWAYS_INLINE void normal_pairs_init_v4(normal_pairs_v4 *st, uint64_t key, uint64_t stride) {
    normal_consts_init_v4(&st->k);
    const uint64_t g = stride * RNG_GOLDEN;
    st->m1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL);
    st->m2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
    st->step = _mm512_set1_epi64((long long)(16 * g));
    st->odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    st->even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    st->lane = _mm512_set_epi64((long long)(7 * g), (long long)(6 * g), (long long)(5 * g),
                                (long long)(4 * g), (long long)(3 * g), (long long)(2 * g),
                                (long long)g, 0);
    st->half = _mm512_set1_epi64((long long)(8 * g));
    st->key = key;
    normal_pairs_seek_v4(st, 0);
}

TARGET_V4 ALWAYS_INLINE void normal_pairs_next_v4(normal_pairs_v4 *st, __m512 *out1, __m512 *out2) {
    const __m512i da = mix64_v4(st->za, st->m1, st->m2), db = mix64_v4(st->zb, st->m1, st->m2);
    st->za = _mm512_add_epi64(st->za, st->step);
    st->zb = _mm512_add_epi64(st->zb, st->step);
    *out1 = bits_to_normal16_v4(_mm512_permutex2var_epi32(da, st->odd, db), &st->k);
    *out2 = bits_to_normal16_v4(_mm512_permutex2var_epi32(da, st->even, db), &st->k);
}

/* Only the first of the pairs, the deviates of the high halves (out1 of
 * normal_pairs_next_v4, the same values), for callers that have no use for the low
 * ones: half the conversions. */
TARGET_V4 ALWAYS_INLINE __m512 normal_pairs_next_high_v4(normal_pairs_v4 *st) {
    const __m512i da = mix64_v4(st->za, st->m1, st->m2), db = mix64_v4(st->zb, st->m1, st->m2);
    st->za = _mm512_add_epi64(st->za, st->step);
    st->zb = _mm512_add_epi64(st->zb, st->step);
    return bits_to_normal16_v4(_mm512_permutex2var_epi32(da, st->odd, db), &st->k);
}
#endif /* HIL_X86_DISPATCH */
#endif /* HIL_PUBLIC_ONLY */

#endif
