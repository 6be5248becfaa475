/* See rng.h. */
#include "rng.h"

#include "fp_env.h"

#include <string.h>

/* Standard normal deviates by inversion, u (32 uniform bits) -> Phi^-1(p):
 *
 *   fold:    t = u < 2^31 ? u : ~u  (0 <= t < 2^31), sign = top bit of u;
 *   p     =  (2t + 1) / 2^33, in (0, 1/2): odd t' = 2t + 1 < 2^32, p = t' / 2^33;
 *   segment  o = clz(t') (0..31): p in [2^-(o+2), 2^-(o+1)), one binary octave of the
 *            tail probability, down to p = 2^-33 (6.34 sigma: the tails are not cut);
 *   m     =  t' << o, its top 24 bits as a float in [1, 2) (p = m * 2^-(o+2));
 *   y     =  m - 1.5, in [-0.5, 0.5);
 *   q     =  (((c4[o] * y + c3[o]) * y + c2[o]) * y + c1[o]) * y + c0[o]   (float32)
 *   N     =  sign ? -q : q.
 *
 * c_k[o] are float32 least-squares fits of Phi^-1(m * 2^-(o+2)) on Chebyshev nodes
 * (scipy.special.ndtri); the max error is 3.2e-5 (octave 0), 1e-5 in the far tail.
 * The upper half is the mirror image of the lower, so the deviates are exactly
 * symmetric. With 32 segments, AVX-512 looks the coefficients up with in-register
 * permutes instead of gathers. emulator/bss2/reference.py holds the same numbers. */
const float hil_normal_poly[NORMAL_DEGREE + 1][NORMAL_SEGMENTS] ALIGN64 = {
    {-0x1.464a46p-2, -0x1.c6387ep-1, -0x1.51695cp+0, -0x1.ad0a92p+0,
     -0x1.fcc83ep+0, -0x1.2213ccp+1, -0x1.429fe4p+1, -0x1.60b5e6p+1,
     -0x1.7ccd8cp+1, -0x1.973d6ap+1, -0x1.b04662p+1, -0x1.c81a88p+1,
     -0x1.dee16cp+1, -0x1.f4bafp+1, -0x1.04e098p+2, -0x1.0f04f4p+2,
     -0x1.18d3acp+2, -0x1.225488p+2, -0x1.2b8e34p+2, -0x1.348678p+2,
     -0x1.3d426p+2, -0x1.45c65ep+2, -0x1.4e165cp+2, -0x1.5635d6p+2,
     -0x1.5e27eep+2, -0x1.65ef6ep+2, -0x1.6d8edep+2, -0x1.750888p+2,
     -0x1.7c5e82p+2, -0x1.8392bp+2, -0x1.8aa6cep+2, -0x1.919c74p+2},
    {0x1.516b68p-1, 0x1.db526p-2, 0x1.7e2874p-2, 0x1.468172p-2,
     0x1.20d27ap-2, 0x1.0547bap-2, 0x1.e02c2ap-3, 0x1.be525cp-3,
     0x1.a2857cp-3, 0x1.8b2f88p-3, 0x1.77404p-3, 0x1.65f99ap-3,
     0x1.56d28cp-3, 0x1.496582p-3, 0x1.3d6572p-3, 0x1.3296c6p-3,
     0x1.28ca9ap-3, 0x1.1fdb74p-3, 0x1.17ab02p-3, 0x1.10206ep-3,
     0x1.092724p-3, 0x1.02adf8p-3, 0x1.f94cdcp-4, 0x1.ee087p-4,
     0x1.e3799ep-4, 0x1.d98e46p-4, 0x1.d036b2p-4, 0x1.c76536p-4,
     0x1.bf0dd4p-4, 0x1.b72602p-4, 0x1.afa47p-4, 0x1.a880d8p-4},
    {-0x1.1aaf52p-4, -0x1.86ed9ep-4, -0x1.7784cp-4, -0x1.5c9502p-4,
     -0x1.4378f8p-4, -0x1.2ddd78p-4, -0x1.1b7b6cp-4, -0x1.0bc3cp-4,
     -0x1.fc6728p-5, -0x1.e4c2dep-5, -0x1.cff5e2p-5, -0x1.bd800cp-5,
     -0x1.acfd22p-5, -0x1.9e1df6p-5, -0x1.90a35ap-5, -0x1.845a4cp-5,
     -0x1.79193ep-5, -0x1.6ebdf8p-5, -0x1.652c0ep-5, -0x1.5c4baep-5,
     -0x1.5408bep-5, -0x1.4c5224p-5, -0x1.45193cp-5, -0x1.3e516ap-5,
     -0x1.37efcp-5, -0x1.31eabap-5, -0x1.2c3a02p-5, -0x1.26d644p-5,
     -0x1.21b904p-5, -0x1.1cdc86p-5, -0x1.183bacp-5, -0x1.13d1e4p-5},
    {0x1.f8fc9ap-5, 0x1.7d1a52p-5, 0x1.58e8cap-5, 0x1.3e6868p-5,
     0x1.289864p-5, 0x1.163fep-5, 0x1.06a04cp-5, 0x1.f256dcp-6,
     0x1.dae966p-6, 0x1.c651a8p-6, 0x1.b40ef8p-6, 0x1.a3bcfcp-6,
     0x1.950c8cp-6, 0x1.87be8ap-6, 0x1.7ba012p-6, 0x1.7087acp-6,
     0x1.66533cp-6, 0x1.5ce66cp-6, 0x1.542988p-6, 0x1.4c088cp-6,
     0x1.447276p-6, 0x1.3d58b6p-6, 0x1.36aec6p-6, 0x1.3069cap-6,
     0x1.2a805p-6, 0x1.24ea12p-6, 0x1.1f9fccp-6, 0x1.1a9b14p-6,
     0x1.15d638p-6, 0x1.114c26p-6, 0x1.0cf85ap-6, 0x1.08d6c4p-6},
    {-0x1.6094bcp-6, -0x1.7099fp-6, -0x1.544f12p-6, -0x1.3be6f8p-6,
     -0x1.276846p-6, -0x1.160abep-6, -0x1.0729acp-6, -0x1.f48c12p-7,
     -0x1.ddfd08p-7, -0x1.ca1088p-7, -0x1.b8525ap-7, -0x1.a86752p-7,
     -0x1.9a0718p-7, -0x1.8cf7a2p-7, -0x1.8109dcp-7, -0x1.761736p-7,
     -0x1.6bffdp-7, -0x1.62a91p-7, -0x1.59fc96p-7, -0x1.51e774p-7,
     -0x1.4a597ep-7, -0x1.4344d2p-7, -0x1.3c9d76p-7, -0x1.3658fep-7,
     -0x1.306e56p-7, -0x1.2ad586p-7, -0x1.258784p-7, -0x1.207e1ap-7,
     -0x1.1bb3c2p-7, -0x1.17239p-7, -0x1.12c91cp-7, -0x1.0ea06ep-7},
};

/* The splitmix64 finalizer: a bijective 64-bit mix with full avalanche. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The 64 random bits of counter c of a stream: SplitMix64's output for the stream
 * key, mix64(key + c * RNG_GOLDEN). As a stream of 32-bit words (the fill
 * functions): word 2c is the high half of draw c, word 2c + 1 its low half. */
static inline uint64_t counter_bits(uint64_t key, uint64_t c) { return mix64(key + c * RNG_GOLDEN); }

static inline uint32_t stream_word(uint64_t key, uint64_t w) {
    const uint64_t bits = counter_bits(key, w >> 1);
    return (w & 1) ? (uint32_t)bits : (uint32_t)(bits >> 32);
}

static inline int clz32(uint32_t v) { /* v != 0 */
#if defined(__GNUC__)
    return __builtin_clz(v);
#else
    int n = 0;
    while (!(v & 0x80000000u)) {
        v <<= 1;
        n++;
    }
    return n;
#endif
}

static inline uint32_t bits_to_float_inv(float f) {
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static inline float bits_to_float(uint32_t b) {
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* One standard normal deviate from 32 uniform bits (see the top of this file). The
 * vector versions (bits_to_normal16_v4 in rng.h, bits_to_normal8_v3 below) compute
 * exactly the same. */
static inline float normal_from_bits(uint32_t u) {
    const uint32_t s = (uint32_t)((int32_t)u >> 31);
    const uint32_t tp = ((u ^ s) << 1) | 1u;
    const int o = clz32(tp);
    const float y = bits_to_float((((tp << o) >> 8) & 0x7FFFFFu) | 0x3F800000u) - 1.5f;
    float q = hil_normal_poly[4][o];
    q = q * y + hil_normal_poly[3][o];
    q = q * y + hil_normal_poly[2][o];
    q = q * y + hil_normal_poly[1][o];
    q = q * y + hil_normal_poly[0][o];
    return bits_to_float(bits_to_float_inv(q) ^ (s & 0x80000000u));
}

uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream) {
    return mix64(mix64(chip_seed ^ mix64(run + RNG_GOLDEN)) + stream * RNG_GOLDEN);
}

void bss2_uniform_fill(uint64_t key, uint64_t word0, int64_t n, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = stream_word(key, word0 + (uint64_t)i);
}

void bss2_normal_fill(uint64_t key, uint64_t word0, int64_t n, double *out) {
    bss2_init();
    const hil_fp_state fp = hil_fp_enter(); /* the same deviates whatever the caller's rounding */
    for (int64_t i = 0; i < n; i++) out[i] = normal_from_bits(stream_word(key, word0 + (uint64_t)i));
    hil_fp_leave(fp);
}

void hil_normal_pairs(uint64_t key, uint64_t c0, uint64_t stride, int n, float *restrict out1,
                      float *restrict out2) {
    for (int j = 0; j < n; j++) {
        const uint64_t bits = counter_bits(key, c0 + (uint64_t)j * stride);
        out1[j] = normal_from_bits((uint32_t)(bits >> 32));
        out2[j] = normal_from_bits((uint32_t)bits);
    }
}

void hil_normal_high(uint64_t key, uint64_t c0, uint64_t stride, int n, float *restrict out1) {
    for (int j = 0; j < n; j++)
        out1[j] = normal_from_bits((uint32_t)(counter_bits(key, c0 + (uint64_t)j * stride) >> 32));
}

#if HIL_X86_DISPATCH
/* The deviates of given uniform bits (tests use it to check the vector code on
 * chosen bit patterns). */
TARGET_V4 static void bits_to_normal_v4(const uint32_t *u, int64_t n, float *out) {
    normal_consts_v4 k;
    normal_consts_init_v4(&k);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16)
        _mm512_storeu_ps(out + j, bits_to_normal16_v4(_mm512_loadu_si512(u + j), &k));
    for (; j < n; j++) out[j] = normal_from_bits(u[j]);
}

/* The deviates with AVX2 (8 lanes). No vector lzcnt: floor(log2 t) comes from the
 * float exponent of t & ~(t >> 1) (the bit below the leading one cleared, so the
 * conversion cannot round up to the next power of two). The coefficients of the
 * 8 inner segments (p >= 2^-9) are looked up with one vpermps each; the lanes in
 * the tail beyond (0.4 % of them) are redone one by one by the scalar
 * normal_from_bits, which computes the same value. No 64-bit multiply either: it
 * is built from three 32 x 32 -> 64 bit ones. */
TARGET_V3 static inline __attribute__((always_inline)) __m256 bits_to_normal8_v3(
    __m256i h, const __m256 *c, int *tail) {
    const __m256i s = _mm256_srai_epi32(h, 31);
    const __m256i t = _mm256_xor_si256(h, s);
    const __m256i tp = _mm256_or_si256(_mm256_slli_epi32(t, 1), _mm256_set1_epi32(1));
    const __m256i lead = _mm256_andnot_si256(_mm256_srli_epi32(t, 1), t);
    const __m256i e = _mm256_srli_epi32(_mm256_castps_si256(_mm256_cvtepi32_ps(lead)), 23);
    /* o = 31 - floor(log2 tp) = 157 - biased exponent of t (t >= 1); t = 0 gives 157 -> 31 */
    const __m256i o = _mm256_min_epi32(_mm256_sub_epi32(_mm256_set1_epi32(157), e),
                                       _mm256_set1_epi32(31));
    *tail = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(o, _mm256_set1_epi32(7))));
    const __m256i m = _mm256_or_si256(
        _mm256_and_si256(_mm256_srli_epi32(_mm256_sllv_epi32(tp, o), 8), _mm256_set1_epi32(0x7FFFFF)),
        _mm256_set1_epi32(0x3F800000));
    const __m256 y = _mm256_sub_ps(_mm256_castsi256_ps(m), _mm256_set1_ps(1.5f));
    __m256 q = _mm256_permutevar8x32_ps(c[4], o);
    q = _mm256_add_ps(_mm256_mul_ps(q, y), _mm256_permutevar8x32_ps(c[3], o));
    q = _mm256_add_ps(_mm256_mul_ps(q, y), _mm256_permutevar8x32_ps(c[2], o));
    q = _mm256_add_ps(_mm256_mul_ps(q, y), _mm256_permutevar8x32_ps(c[1], o));
    q = _mm256_add_ps(_mm256_mul_ps(q, y), _mm256_permutevar8x32_ps(c[0], o));
    return _mm256_xor_ps(q, _mm256_castsi256_ps(_mm256_and_si256(s, _mm256_set1_epi32((int)0x80000000u))));
}

/* Stores the 8 deviates of words h, redoing the tail lanes by the scalar code. */
TARGET_V3 static inline __attribute__((always_inline)) void store_normal8_v3(
    float *out, __m256i h, const __m256 *c) {
    int tail;
    _mm256_storeu_ps(out, bits_to_normal8_v3(h, c, &tail));
    if (tail) {
        uint32_t u[8];
        _mm256_storeu_si256((__m256i *)u, h);
        for (int i = 0; i < 8; i++)
            if (tail & (1 << i)) out[i] = normal_from_bits(u[i]);
    }
}

/* a * b mod 2^64 per 64-bit lane, b given as its low and high 32-bit halves. */
TARGET_V3 static inline __attribute__((always_inline)) __m256i mullo64_v3(__m256i a, __m256i b_lo,
                                                                          __m256i b_hi) {
    const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), b_lo),
                                           _mm256_mul_epu32(a, b_hi));
    return _mm256_add_epi64(_mm256_mul_epu32(a, b_lo), _mm256_slli_epi64(cross, 32));
}

TARGET_V3 static inline __attribute__((always_inline)) __m256i mix64_v3(__m256i z) {
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 30));
    z = mullo64_v3(z, _mm256_set1_epi64x(0x1ce4e5b9), _mm256_set1_epi64x(0xbf58476d));
    z = _mm256_xor_si256(z, _mm256_srli_epi64(z, 27));
    z = mullo64_v3(z, _mm256_set1_epi64x(0x133111eb), _mm256_set1_epi64x(0x94d049bb));
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

TARGET_V3 static void bits_to_normal_v3(const uint32_t *u, int64_t n, float *out) {
    __m256 c[NORMAL_DEGREE + 1];
    for (int d = 0; d <= NORMAL_DEGREE; d++) c[d] = _mm256_load_ps(hil_normal_poly[d]);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) store_normal8_v3(out + j, _mm256_loadu_si256((const __m256i *)(u + j)), c);
    for (; j < n; j++) out[j] = normal_from_bits(u[j]);
}

TARGET_V3 void hil_normal_pairs_v3(uint64_t key, uint64_t c0, uint64_t stride, int n,
                                   float *restrict out1, float *restrict out2) {
    __m256 c[NORMAL_DEGREE + 1];
    for (int d = 0; d <= NORMAL_DEGREE; d++) c[d] = _mm256_load_ps(hil_normal_poly[d]);
    const uint64_t g = stride * RNG_GOLDEN, k0 = key + c0 * RNG_GOLDEN; /* counter c0 + l * stride */
    const __m256i step = _mm256_set1_epi64x((long long)(8 * g));
    __m256i za = _mm256_set_epi64x((long long)(k0 + 3 * g), (long long)(k0 + 2 * g),
                                   (long long)(k0 + g), (long long)k0);
    __m256i zb = _mm256_add_epi64(za, _mm256_set1_epi64x((long long)(4 * g)));
    for (int j = 0; j < n; j += 8) { /* n is a multiple of 8 */
        const __m256 a = _mm256_castsi256_ps(mix64_v3(za)), b = _mm256_castsi256_ps(mix64_v3(zb));
        za = _mm256_add_epi64(za, step);
        zb = _mm256_add_epi64(zb, step);
        /* [a1 a3 b1 b3 | a5 a7 b5 b7] -> c order [a1 a3 a5 a7 b1 b3 b5 b7] */
        const __m256i h = _mm256_permute4x64_epi64(
            _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0));
        const __m256i l = _mm256_permute4x64_epi64(
            _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0))), _MM_SHUFFLE(3, 1, 2, 0));
        store_normal8_v3(out1 + j, h, c);
        store_normal8_v3(out2 + j, l, c);
    }
}

TARGET_V3 void hil_normal_high_v3(uint64_t key, uint64_t c0, uint64_t stride, int n, float *restrict out1) {
    __m256 c[NORMAL_DEGREE + 1];
    for (int d = 0; d <= NORMAL_DEGREE; d++) c[d] = _mm256_load_ps(hil_normal_poly[d]);
    const uint64_t g = stride * RNG_GOLDEN, k0 = key + c0 * RNG_GOLDEN;
    const __m256i step = _mm256_set1_epi64x((long long)(8 * g));
    __m256i za = _mm256_set_epi64x((long long)(k0 + 3 * g), (long long)(k0 + 2 * g),
                                   (long long)(k0 + g), (long long)k0);
    __m256i zb = _mm256_add_epi64(za, _mm256_set1_epi64x((long long)(4 * g)));
    for (int j = 0; j < n; j += 8) { /* n is a multiple of 8; as hil_normal_pairs_v3, the high halves only */
        const __m256 a = _mm256_castsi256_ps(mix64_v3(za)), b = _mm256_castsi256_ps(mix64_v3(zb));
        za = _mm256_add_epi64(za, step);
        zb = _mm256_add_epi64(zb, step);
        const __m256i h = _mm256_permute4x64_epi64(
            _mm256_castps_si256(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))), _MM_SHUFFLE(3, 1, 2, 0));
        store_normal8_v3(out1 + j, h, c);
    }
}
#endif

void bss2_normal_from_bits(const uint32_t *u, int64_t n, float *out) {
    const int level = bss2_isa();
    const hil_fp_state fp = hil_fp_enter(); /* the same deviates whatever the caller's rounding */
#if HIL_X86_DISPATCH
    if (level == 4)
        bits_to_normal_v4(u, n, out);
    else if (level == 3)
        bits_to_normal_v3(u, n, out);
    else
#endif
        for (int64_t j = 0; j < n; j++) out[j] = normal_from_bits(u[j]);
    (void)level;
    hil_fp_leave(fp);
}

void bss2_normal_coefficients(float *out) {
    memcpy(out, hil_normal_poly, sizeof hil_normal_poly);
}
