/* See bss2_core.h. C99 with GCC extensions where available.
 *
 * Layout of the MAC run: the batch is cut into blocks of BLOCK samples, handed
 * out one at a time to the calling thread and the workers of a small thread pool
 * (see "Thread pool" below). Per block and hemisphere one thread does the driver
 * lookup, a register-blocked matrix product (no BLAS, so no second thread pool)
 * and the readout as a few vectorizable passes over one sample's neurons.
 *
 * Code paths: on x86-64 with GCC the hot functions are compiled three times
 * (AVX-512 "x86-64-v4", AVX2 "x86-64-v3", baseline) and the best one the CPU
 * supports is picked once at bss2_init. All paths do the same IEEE operations in
 * the same order per output element (the build uses -ffp-contract=off, so no FMA
 * contraction), hence bit-identical results whatever the instruction set (only
 * libm's tanh, in the rare compressed values, could differ between libm builds).
 */
#define _GNU_SOURCE 1 /* sched_getaffinity */
#include "bss2_core.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define ALIGN64 __attribute__((aligned(64)))
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define UNROLL_PRAGMA(n) _Pragma("GCC unroll 16")
#else
#define ALIGN64
#define ALWAYS_INLINE static inline
#define UNROLL_PRAGMA(n)
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BSS2_X86_DISPATCH 1
#define TARGET_V4                                                                          \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2,avx,fma,bmi,"  \
                          "bmi2,popcnt,prefer-vector-width=512")))
#define TARGET_V3 __attribute__((target("avx2,avx,fma,bmi,bmi2,popcnt")))
#else
#define BSS2_X86_DISPATCH 0
#endif

#if BSS2_X86_DISPATCH
#include <immintrin.h>
#endif

/* ---------------------------------------------------------------------------------- */
/* Counter-based normal deviates                                                        */
/* ---------------------------------------------------------------------------------- */

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
#define NORMAL_DEGREE 4
#define NORMAL_SEGMENTS 32
static const float normal_poly[NORMAL_DEGREE + 1][NORMAL_SEGMENTS] ALIGN64 = {
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

static int init_done = 0;
static int isa_max = 0;   /* best level the CPU supports */
static int isa_level = 0; /* level in use */

/* The splitmix64 finalizer: a bijective 64-bit mix with full avalanche. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15ULL

/* The 64 random bits of (sample, neuron) counter c of a run: SplitMix64's output
 * for the stream key, mix64(key + c * GOLDEN). The high half feeds the membrane
 * read, the low half the baseline read. As a stream of 32-bit words (the fill
 * functions): word 2c is the high half of draw c, word 2c + 1 its low half. */
static inline uint64_t counter_bits(uint64_t key, uint64_t c) { return mix64(key + c * GOLDEN); }

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
 * vector versions (normal_pair, normal_pair_v3, readout_noisy_v4) compute exactly the same. */
static inline float normal_from_bits(uint32_t u) {
    const uint32_t s = (uint32_t)((int32_t)u >> 31);
    const uint32_t tp = ((u ^ s) << 1) | 1u;
    const int o = clz32(tp);
    const float y = bits_to_float((((tp << o) >> 8) & 0x7FFFFFu) | 0x3F800000u) - 1.5f;
    float q = normal_poly[4][o];
    q = q * y + normal_poly[3][o];
    q = q * y + normal_poly[2][o];
    q = q * y + normal_poly[1][o];
    q = q * y + normal_poly[0][o];
    return bits_to_float(bits_to_float_inv(q) ^ (s & 0x80000000u));
}

static void detect_isa(void) {
    isa_max = 0;
#if BSS2_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
        __builtin_cpu_supports("popcnt")) {
        isa_max = 3;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512cd"))
            isa_max = 4;
    }
#endif
    isa_level = isa_max;
}

void bss2_init(void) {
    if (init_done) return;
    detect_isa();
    init_done = 1;
}

int bss2_isa(void) {
    bss2_init();
    return isa_level;
}

int bss2_set_isa(int level) {
    bss2_init();
    if (level >= 4 && isa_max >= 4)
        isa_level = 4;
    else if (level >= 3 && isa_max >= 3)
        isa_level = 3;
    else
        isa_level = 0;
    return isa_level;
}

uint64_t bss2_stream_key(uint64_t chip_seed, uint64_t run, uint64_t stream) {
    return mix64(mix64(chip_seed ^ mix64(run + GOLDEN)) + stream * GOLDEN);
}

void bss2_uniform_fill(uint64_t key, uint64_t word0, int64_t n, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) out[i] = stream_word(key, word0 + (uint64_t)i);
}

void bss2_normal_fill(uint64_t key, uint64_t word0, int64_t n, double *out) {
    bss2_init();
    for (int64_t i = 0; i < n; i++) out[i] = normal_from_bits(stream_word(key, word0 + (uint64_t)i));
}

#if BSS2_X86_DISPATCH
static void bits_to_normal_v4(const uint32_t *u, int64_t n, float *out);
static void bits_to_normal_v3(const uint32_t *u, int64_t n, float *out);
#endif

void bss2_normal_from_bits(const uint32_t *u, int64_t n, float *out) {
    bss2_init();
#if BSS2_X86_DISPATCH
    if (isa_level == 4) {
        bits_to_normal_v4(u, n, out);
        return;
    }
    if (isa_level == 3) {
        bits_to_normal_v3(u, n, out);
        return;
    }
#endif
    for (int64_t j = 0; j < n; j++) out[j] = normal_from_bits(u[j]);
}

void bss2_normal_coefficients(float *out) {
    memcpy(out, normal_poly, sizeof normal_poly);
}

/* ---------------------------------------------------------------------------------- */
/* Matrix product: register-blocked tiles                                               */
/* ---------------------------------------------------------------------------------- */

/* c[r][j] = sum_k xeff[r][k] * w[k][j] for MR rows and NV vectors of VW columns.
 * Each element is accumulated as ((0 + p0) + p1) + ... in k order: the same
 * rounding as the plain loop in tile_rest_inline, whatever the vector width.
 * Loads and stores go through memcpy (unaligned vector moves).
 *
 * Two flavours: the plain one reads xeff (float, rows xs apart); the lookup one
 * reads the activations (bytes, rows xs apart) and folds the driver lookup in,
 * xeff[r][k] = tab[k * 32 + x[r][k]]. With AVX-512 the product is bound by the
 * floating-point pipes and the byte and table loads come for free. */
#define TILE_BODY(VW, MR, NV, XLOAD)                                                       \
    typedef float vec __attribute__((vector_size((VW) * sizeof(float))));                  \
    vec acc[MR][NV];                                                                       \
    UNROLL_PRAGMA(MR)                                                                      \
    for (int r = 0; r < (MR); r++) {                                                       \
        UNROLL_PRAGMA(NV)                                                                  \
        for (int v = 0; v < (NV); v++) acc[r][v] = (vec){0};                               \
    }                                                                                      \
    for (int64_t k = 0; k < kn; k++) {                                                     \
        vec wv[NV];                                                                        \
        UNROLL_PRAGMA(NV)                                                                  \
        for (int v = 0; v < (NV); v++) memcpy(&wv[v], w + k * ws + v * (VW), sizeof(vec)); \
        UNROLL_PRAGMA(MR)                                                                  \
        for (int r = 0; r < (MR); r++) {                                                   \
            const float xr = XLOAD;                                                        \
            UNROLL_PRAGMA(NV)                                                              \
            for (int v = 0; v < (NV); v++) acc[r][v] += wv[v] * xr;                        \
        }                                                                                  \
    }                                                                                      \
    UNROLL_PRAGMA(MR)                                                                      \
    for (int r = 0; r < (MR); r++) {                                                       \
        UNROLL_PRAGMA(NV)                                                                  \
        for (int v = 0; v < (NV); v++) memcpy(c + r * cs + v * (VW), &acc[r][v], sizeof(vec)); \
    }

#define DEFINE_TILE(NAME, ATTR, VW, MR, NV)                                                \
    ATTR static void NAME(const float *restrict x, int64_t xs, const float *restrict w,    \
                          int64_t ws, float *restrict c, int64_t cs, int64_t kn) {         \
        TILE_BODY(VW, MR, NV, x[r * xs + k])                                               \
    }

#define DEFINE_TILE_LOOKUP(NAME, ATTR, VW, MR, NV)                                         \
    ATTR static void NAME(const uint8_t *restrict x, int64_t xs, const float *restrict tab, \
                          const float *restrict w, int64_t ws, float *restrict c, int64_t cs, \
                          int64_t kn) {                                                    \
        TILE_BODY(VW, MR, NV, tab[k * 32 + x[r * xs + k]])                                 \
    }

/* Tile shapes: rows x columns per tile. */
#define V4_MR 6
#define V4_NR 64
#define V3_MR 6
#define V3_NR 16
#define V0_MR 4
#define V0_NR 8

#if BSS2_X86_DISPATCH
DEFINE_TILE_LOOKUP(tile_v4, TARGET_V4, 16, V4_MR, 4)
DEFINE_TILE(tile_v3, TARGET_V3, 8, V3_MR, 2)
#endif
#if defined(__GNUC__)
DEFINE_TILE(tile_v0, , 4, V0_MR, 2)
#else
/* Without vector extensions: the plain loop below does the same arithmetic. */
static void tile_rest(const float *restrict x, int64_t xs, const float *restrict w, int64_t ws,
                      float *restrict c, int64_t cs, int64_t kn, int mr, int nr);
static void tile_v0(const float *restrict x, int64_t xs, const float *restrict w, int64_t ws,
                    float *restrict c, int64_t cs, int64_t kn) {
    tile_rest(x, xs, w, ws, c, cs, kn, V0_MR, V0_NR);
}
#endif

/* The leftover rows of a block (fewer than a tile's): same arithmetic, plain
 * loops; xeff read from x (floats) or, if tab is given, looked up from bytes xb. */
ALWAYS_INLINE void tile_rest_inline(const float *restrict x, const uint8_t *restrict xb,
                                    const float *restrict tab, int64_t xs, const float *restrict w,
                                    int64_t ws, float *restrict c, int64_t cs, int64_t kn, int mr,
                                    int nr) {
    for (int r = 0; r < mr; r++)
        for (int j = 0; j < nr; j++) c[r * cs + j] = 0.0f;
    for (int64_t k = 0; k < kn; k++)
        for (int r = 0; r < mr; r++) {
            const float xr = tab != NULL ? tab[k * 32 + xb[r * xs + k]] : x[r * xs + k];
            float *restrict cr = c + r * cs;
            const float *restrict wk = w + k * ws;
            for (int j = 0; j < nr; j++) cr[j] = cr[j] + wk[j] * xr;
        }
}

#if !defined(__GNUC__)
static void tile_rest(const float *restrict x, int64_t xs, const float *restrict w, int64_t ws,
                      float *restrict c, int64_t cs, int64_t kn, int mr, int nr) {
    tile_rest_inline(x, NULL, NULL, xs, w, ws, c, cs, kn, mr, nr);
}
#endif

/* ---------------------------------------------------------------------------------- */
/* Readout                                                                             */
/* ---------------------------------------------------------------------------------- */

#define BLOCK 24 /* samples per block: a multiple of every tile's rows */

typedef struct {
    const bss2_mac *p;
    const float *weights;
    const float *pulses;
    const double *scale;
    const uint8_t *x;
    int8_t *out;
    int64_t sample0;
    uint64_t key;
    int noisy;          /* 0: the exact double path (no noise, no compression) */
    int identity_codes; /* code_map is the identity */
    int32_t *base_code; /* noise-free path: the baseline code of each neuron */
} run_ctx;

typedef struct {
    float *xeff; /* BLOCK x n_in: the pulse lengths, for the tiles without the lookup */
    float *acc;  /* BLOCK x n_col */
    float *n1;   /* n_col: membrane deviates */
    float *n2;   /* n_col: baseline deviates */
    float *v;    /* n_col: membrane excursion */
} workspace;

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

/* The membrane (out1) and baseline (out2) deviates of counters c0 .. c0+n-1: the
 * plain-C pass of the baseline code path. */
ALWAYS_INLINE void normal_pair(uint64_t key, uint64_t c0, int n, float *restrict out1,
                               float *restrict out2) {
    for (int j = 0; j < n; j++) {
        const uint64_t bits = counter_bits(key, c0 + (uint64_t)j);
        out1[j] = normal_from_bits((uint32_t)(bits >> 32));
        out2[j] = normal_from_bits((uint32_t)bits);
    }
}

#if BSS2_X86_DISPATCH
/* The same with AVX-512 (used by readout_noisy_v4): two vectors of 8 64-bit
 * draws per step, split into the 16 high halves (membrane) and 16 low halves
 * (baseline); the 32-entry coefficient tables sit in register pairs and are
 * looked up with vpermt2ps. */
typedef struct {
    __m512i one, mant, onef, sign;
    __m512 half3, pl[NORMAL_DEGREE + 1], ph[NORMAL_DEGREE + 1];
} normal_consts_v4;

TARGET_V4 static inline __attribute__((always_inline)) void normal_consts_init_v4(
    normal_consts_v4 *k) {
    k->one = _mm512_set1_epi32(1);
    k->mant = _mm512_set1_epi32(0x7FFFFF);
    k->onef = _mm512_set1_epi32(0x3F800000);
    k->sign = _mm512_set1_epi32((int)0x80000000u);
    k->half3 = _mm512_set1_ps(1.5f);
    for (int d = 0; d <= NORMAL_DEGREE; d++) {
        k->pl[d] = _mm512_load_ps(normal_poly[d]);
        k->ph[d] = _mm512_load_ps(normal_poly[d] + 16);
    }
}

TARGET_V4 static inline __attribute__((always_inline)) __m512 bits_to_normal16_v4(
    __m512i h, const normal_consts_v4 *k) {
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

TARGET_V4 static inline __attribute__((always_inline)) __m512i mix64_v4(__m512i z, __m512i m1,
                                                                        __m512i m2) {
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 30));
    z = _mm512_mullo_epi64(z, m1);
    z = _mm512_xor_si512(z, _mm512_srli_epi64(z, 27));
    z = _mm512_mullo_epi64(z, m2);
    return _mm512_xor_si512(z, _mm512_srli_epi64(z, 31));
}

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

#endif

#if BSS2_X86_DISPATCH
/* The same with AVX2 (8 lanes). No vector lzcnt: floor(log2 t) comes from the
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
    for (int d = 0; d <= NORMAL_DEGREE; d++) c[d] = _mm256_load_ps(normal_poly[d]);
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) store_normal8_v3(out + j, _mm256_loadu_si256((const __m256i *)(u + j)), c);
    for (; j < n; j++) out[j] = normal_from_bits(u[j]);
}

TARGET_V3 static void normal_pair_v3(uint64_t key, uint64_t c0, int n, float *restrict out1,
                                     float *restrict out2) {
    __m256 c[NORMAL_DEGREE + 1];
    for (int d = 0; d <= NORMAL_DEGREE; d++) c[d] = _mm256_load_ps(normal_poly[d]);
    const __m256i step = _mm256_set1_epi64x((long long)(8 * GOLDEN));
    __m256i za = _mm256_set_epi64x((long long)(key + (c0 + 3) * GOLDEN), (long long)(key + (c0 + 2) * GOLDEN),
                                   (long long)(key + (c0 + 1) * GOLDEN), (long long)(key + c0 * GOLDEN));
    __m256i zb = _mm256_add_epi64(za, _mm256_set1_epi64x((long long)(4 * GOLDEN)));
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
#endif

#if BSS2_X86_DISPATCH
/* readout_noisy below in one AVX-512 pass, 16 neurons at a time: the deviates go
 * straight into the readout, and floor + convert is one instruction (rounding
 * toward -inf; the same value as floor_f). Lanes beyond a knee are compressed by
 * the scalar compress_f. Same operations, same order, same results. */
TARGET_V4 static void readout_noisy_v4(const run_ctx *restrict ctx, const float *restrict a,
                                       double s, uint64_t sample, int n0, int8_t *restrict o) {
    const bss2_mac *p = ctx->p;
    const int n = p->n_col;
    normal_consts_v4 k;
    normal_consts_init_v4(&k);
    const uint64_t key = ctx->key, c0 = sample * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)n0;
    const __m512i m1 = _mm512_set1_epi64((long long)0xbf58476d1ce4e5b9ULL);
    const __m512i m2 = _mm512_set1_epi64((long long)0x94d049bb133111ebULL);
    const __m512i step = _mm512_set1_epi64((long long)(16 * GOLDEN));
    __m512i za = _mm512_set_epi64((long long)(key + (c0 + 7) * GOLDEN), (long long)(key + (c0 + 6) * GOLDEN),
                                  (long long)(key + (c0 + 5) * GOLDEN), (long long)(key + (c0 + 4) * GOLDEN),
                                  (long long)(key + (c0 + 3) * GOLDEN), (long long)(key + (c0 + 2) * GOLDEN),
                                  (long long)(key + (c0 + 1) * GOLDEN), (long long)(key + c0 * GOLDEN));
    __m512i zb = _mm512_add_epi64(za, _mm512_set1_epi64((long long)(8 * GOLDEN)));
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512 s32 = _mm512_set1_ps((float)s);
    const __m512i zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
    const int compress = p->compress, identity = ctx->identity_codes;
    for (int j = 0; j < n; j += 16) {
        const __m512i da = mix64_v4(za, m1, m2), db = mix64_v4(zb, m1, m2);
        za = _mm512_add_epi64(za, step);
        zb = _mm512_add_epi64(zb, step);
        const __m512 n1 = bits_to_normal16_v4(_mm512_permutex2var_epi32(da, odd, db), &k);
        const __m512 n2 = bits_to_normal16_v4(_mm512_permutex2var_epi32(da, even, db), &k);
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
#endif

/* One sample, one hemisphere, noisy chip (float32). */
ALWAYS_INLINE void readout_noisy(const run_ctx *restrict ctx, const float *restrict a, double s,
                                 uint64_t sample, int n0, int8_t *restrict o,
                                 const workspace *restrict ws, const int L) {
    const bss2_mac *p = ctx->p;
    const int n = p->n_col;
    const float s32 = (float)s;
    const float *restrict live = p->live + n0;
    const float *restrict kp = p->knee_pos + n0, *restrict kn = p->knee_neg + n0;
    const float *restrict sr = p->sigma_read + n0, *restrict sb = p->sigma_base + n0;
    const float *restrict fr = p->adc_frac + n0, *restrict sl = p->cadc_slope + n0;
    const int32_t *restrict ai = p->adc_int + n0;
    const int32_t *restrict cmap = p->code_map;
    float *restrict n1 = ws->n1, *restrict n2 = ws->n2, *restrict v = ws->v;
    const uint64_t c = sample * (uint64_t)BSS2_COUNTER_NEURONS + (uint64_t)n0;

    (void)L;
#if BSS2_X86_DISPATCH
    if (L == 4) {
        readout_noisy_v4(ctx, a, s, sample, n0, o);
        return;
    }
    if (L == 3)
        normal_pair_v3(ctx->key, c, n, n1, n2);
    else
#endif
        normal_pair(ctx->key, c, n, n1, n2);

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

/* One sample, one hemisphere, noise-free chip: double, exact for the ideal chip. */
ALWAYS_INLINE void readout_exact(const run_ctx *restrict ctx, const float *restrict a, double s,
                                 int n0, int8_t *restrict o) {
    const bss2_mac *p = ctx->p;
    const int n = p->n_col;
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

/* Samples b0 .. b0+mb-1 (mb <= BLOCK) of the run. L is the code path (4, 3, 0),
 * a constant once inlined into the per-target wrappers below. */
ALWAYS_INLINE void run_block(const run_ctx *restrict ctx, int64_t b0, int mb,
                             const workspace *restrict ws, const int L) {
    const bss2_mac *p = ctx->p;
    const int n_in = p->n_in, n_col = p->n_col, n_tot = p->n_hemi * p->n_col;
    const int MR = L == 4 ? V4_MR : (L == 3 ? V3_MR : V0_MR);
    const int NR = L == 4 ? V4_NR : (L == 3 ? V3_NR : V0_NR);
    double s[BLOCK];

    for (int r = 0; r < mb; r++) {
        const uint8_t *restrict xr = ctx->x + (b0 + r) * n_in;
        int events = 0;
        for (int i = 0; i < n_in; i++) events += xr[i] != 0;
        s[r] = ctx->scale[events];
    }
    for (int h = 0; h < p->n_hemi; h++) {
        /* Driver lookup and matrix product, one column panel at a time (the panel
         * stays in L1 across the rows of the block). The AVX-512 tile does the
         * lookup itself; the narrower ones, with 4x or 8x more panels, read it
         * from xeff. */
        const float *tab = ctx->pulses + (int64_t)h * n_in * 32;
        const float *wh = ctx->weights + (int64_t)h * n_in * n_col;
        const uint8_t *xb = ctx->x + b0 * n_in;
        if (L != 4)
            for (int r = 0; r < mb; r++) {
                const uint8_t *restrict xr = xb + (int64_t)r * n_in;
                float *restrict er = ws->xeff + (int64_t)r * n_in;
                for (int i = 0; i < n_in; i++) er[i] = tab[i * 32 + (int32_t)xr[i]];
            }
        for (int j0 = 0; j0 < n_col; j0 += NR) {
            int r = 0;
            for (; r + MR <= mb; r += MR) {
                float *cr = ws->acc + (int64_t)r * n_col + j0;
#if BSS2_X86_DISPATCH
                if (L == 4)
                    tile_v4(xb + (int64_t)r * n_in, n_in, tab, wh + j0, n_col, cr, n_col, n_in);
                else if (L == 3)
                    tile_v3(ws->xeff + (int64_t)r * n_in, n_in, wh + j0, n_col, cr, n_col, n_in);
                else
#endif
                    tile_v0(ws->xeff + (int64_t)r * n_in, n_in, wh + j0, n_col, cr, n_col, n_in);
            }
            if (r < mb)
                tile_rest_inline(ws->xeff + (int64_t)r * n_in, xb + (int64_t)r * n_in,
                                 L == 4 ? tab : NULL, n_in, wh + j0, n_col,
                                 ws->acc + (int64_t)r * n_col + j0, n_col, n_in, mb - r, NR);
        }
        /* Readout. */
        for (int r = 0; r < mb; r++) {
            const int64_t b = b0 + r;
            int8_t *o = ctx->out + b * n_tot + (int64_t)h * n_col;
            const float *a = ws->acc + (int64_t)r * n_col;
            if (ctx->noisy)
                readout_noisy(ctx, a, s[r], (uint64_t)(ctx->sample0 + b), h * n_col, o, ws, L);
            else
                readout_exact(ctx, a, s[r], h * n_col, o);
        }
    }
}

#if BSS2_X86_DISPATCH
TARGET_V4 static void run_block_v4(const run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 4);
}
TARGET_V3 static void run_block_v3(const run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 3);
}
#endif
static void run_block_v0(const run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 0);
}

static void *alloc64(size_t bytes) {
    void *ptr = NULL;
    if (posix_memalign(&ptr, 64, bytes ? bytes : 64) != 0) return NULL;
    return ptr;
}

/* A run's work: blocks of BLOCK samples, claimed one at a time from a shared
 * counter by every participating thread (the caller and the pool's workers), so
 * a core slowed by another process simply does fewer blocks. Which thread does a
 * block does not change its result. */
typedef struct {
    const run_ctx *ctx;
    int64_t batch;
    int64_t nblocks;
    int level;
    int threads; /* participants, the caller included */
} job_t;

static void run_one_block(const job_t *job, int64_t k, const workspace *ws) {
    const int64_t b0 = k * BLOCK;
    const int mb = (int)(job->batch - b0 < BLOCK ? job->batch - b0 : BLOCK);
#if BSS2_X86_DISPATCH
    if (job->level == 4)
        run_block_v4(job->ctx, b0, mb, ws);
    else if (job->level == 3)
        run_block_v3(job->ctx, b0, mb, ws);
    else
#endif
        run_block_v0(job->ctx, b0, mb, ws);
}

static float *alloc_workspace(const bss2_mac *p, workspace *ws) {
    const size_t n_col = (size_t)p->n_col; /* a multiple of 64 */
    const size_t s_xeff = ((size_t)BLOCK * (size_t)p->n_in + 15) / 16 * 16; /* 64-byte multiple */
    float *mem = alloc64((s_xeff + (BLOCK + 3) * n_col) * sizeof(float));
    if (mem != NULL) {
        ws->xeff = mem;
        ws->acc = mem + s_xeff;
        ws->n1 = ws->acc + BLOCK * n_col;
        ws->n2 = ws->acc + (BLOCK + 1) * n_col;
        ws->v = ws->acc + (BLOCK + 2) * n_col;
    }
    return mem;
}

/* ---------------------------------------------------------------------------------- */
/* Thread pool                                                                          */
/* ---------------------------------------------------------------------------------- */

/* Why not OpenMP. After every BLAS call numpy's OpenBLAS leaves its idle workers
 * spinning (without yielding) for about 0.1 s, so on a small machine one core is
 * taken whenever a run follows a matmul. With libgomp, our idle threads either
 * spin too (the default: both pools fight and both get several times slower) or
 * sleep (OMP_WAIT_POLICY=passive), and then the kernel tends to wake our helper
 * on the caller's own core, next to the caller, while the spinner keeps the other
 * one: the run goes single-threaded. So this small pool:
 *  - its workers sleep between runs (no spinning that would slow other code);
 *  - before waking them, a run steers them (CPU affinity of our own worker
 *    threads only) to the allowed CPUs other than the caller's, where a woken
 *    thread preempts a spinner at once;
 *  - blocks are claimed from a shared counter, so a late or preempted worker
 *    only means the others do more blocks.
 *
 * The thread count (the caller included) is OMP_NUM_THREADS if set, else the
 * CPUs this process may run on; bss2_set_threads changes it. */
#if defined(__linux__) && defined(__GNUC__)
#define BSS2_POOL 1
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#define POOL_MAX_THREADS 64
#define CALLER_SPIN_NS 200000 /* the caller spins this long for the last blocks, then sleeps */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define FETCH_ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_SEQ_CST)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* workers sleep here between jobs */
    pthread_cond_t finish; /* the caller sleeps here until the last block is done */
    int threads;           /* threads per run, the caller included; 0: not decided yet */
    int created;           /* worker threads started */
    int busy;              /* a caller owns the pool (others run single-threaded) */
    int caller_sleeping;
    uint64_t generation;   /* bumped for every job */
    int open;              /* the current job still admits workers */
    int inside;            /* workers inside the current job */
    int64_t next;          /* next block to claim */
    int64_t done;          /* blocks finished */
    int failed;            /* a participant could not allocate its workspace */
    int steer_cpu;         /* the caller's CPU the workers were last steered away from */
    job_t job;
    pthread_t tids[POOL_MAX_THREADS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .finish = PTHREAD_COND_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* After fork() only the forking thread exists in the child: start afresh. */
static void pool_after_fork_child(void) {
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finish, NULL);
    pool.created = 0;
    pool.busy = 0;
    pool.caller_sleeping = 0;
    pool.open = 0;
    pool.inside = 0;
    pool.steer_cpu = -1;
}

static void pool_init_once(void) {
    pool.steer_cpu = -1;
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

static int default_threads(void) {
    const char *env = getenv("OMP_NUM_THREADS");
    if (env != NULL) {
        const long v = strtol(env, NULL, 10); /* "4", or the first of "4,2" */
        if (v >= 1) return v > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n >= 1) return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n;
    }
    return 1;
}

/* Claims and runs blocks of the current job until none is left. */
static void participate(const job_t *job) {
    workspace ws;
    float *mem = alloc_workspace(job->ctx->p, &ws);
    if (mem == NULL) STORE(pool.failed, 1); /* still claim blocks (unrun) so the job ends */
    for (;;) {
        const int64_t k = FETCH_ADD(pool.next, 1);
        if (k >= job->nblocks) break;
        if (mem != NULL && !LOAD(pool.failed)) run_one_block(job, k, &ws);
        if (FETCH_ADD(pool.done, 1) + 1 == job->nblocks) {
            pthread_mutex_lock(&pool.mu);
            if (pool.caller_sleeping) pthread_cond_broadcast(&pool.finish);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    free(mem);
}

static void *worker_main(void *arg) {
    const int index = (int)(intptr_t)arg; /* 1 .. threads-1; the caller is 0 */
    uint64_t seen = LOAD(pool.generation);
    for (;;) {
        uint64_t g;
        pthread_mutex_lock(&pool.mu);
        while ((g = LOAD(pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        seen = g;
        /* Enter the job only while it is open; the caller waits for `inside` to
         * drop to 0 after closing it, so pool.job stays valid while we read it. */
        FETCH_ADD(pool.inside, 1);
        if (LOAD(pool.generation) == g && LOAD(pool.open)) {
            const job_t job = pool.job;
            if (index < job.threads) participate(&job);
        }
        FETCH_ADD(pool.inside, -1);
    }
    return NULL;
}

/* Starts workers up to `want` (the caller owns the pool); returns how many run. */
static int pool_grow(int want) {
    if (want > POOL_MAX_THREADS - 1) want = POOL_MAX_THREADS - 1;
    if (pool.created >= want) return want;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* workers never take signals */
    while (pool.created < want) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, (void *)(intptr_t)(pool.created + 1)) != 0) break;
        pthread_detach(t);
        pool.tids[pool.created++] = t;
        pool.steer_cpu = -1; /* steer the new one too */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.created < want ? pool.created : want;
}

/* Our workers may run on every CPU the caller may, except the caller's current one. */
static void steer_workers(void) {
    const int cpu = sched_getcpu();
    if (cpu < 0 || cpu == pool.steer_cpu) return;
    pool.steer_cpu = cpu;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2)
        return;
    CPU_CLR(cpu, &set);
    for (int i = 0; i < pool.created; i++) pthread_setaffinity_np(pool.tids[i], sizeof set, &set);
}

int bss2_threads(void) {
    pthread_once(&pool_once, pool_init_once);
    int t = LOAD(pool.threads);
    if (t == 0) {
        t = default_threads();
        STORE(pool.threads, t);
    }
    return t;
}

int bss2_set_threads(int n) {
    STORE(pool.threads, n >= 1 ? (n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n) : 0);
    return bss2_threads();
}

/* Runs the job on the caller and the pool's workers: 0, -2 if out of memory, or
 * -3 if it should run on the caller alone (one thread, one block, or the pool is
 * busy with another caller's run). */
static int run_job(job_t *job) {
    const int threads = bss2_threads();
    int expected = 0;
    if (threads < 2 || job->nblocks < 2 ||
        !__atomic_compare_exchange_n(&pool.busy, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return -3;
    job->threads = 1 + pool_grow(threads - 1);
    if (job->threads < 2) {
        STORE(pool.busy, 0);
        return -3;
    }
    steer_workers();
    pthread_mutex_lock(&pool.mu);
    pool.job = *job;
    STORE(pool.next, 0);
    STORE(pool.done, 0);
    STORE(pool.failed, 0);
    STORE(pool.open, 1);
    FETCH_ADD(pool.generation, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    participate(job);

    if (LOAD(pool.done) < job->nblocks) { /* a worker is finishing its last block */
        const int64_t t0 = now_ns();
        for (int i = 1; LOAD(pool.done) < job->nblocks; i++) {
            cpu_relax();
            if (!(i & 63) && now_ns() - t0 > CALLER_SPIN_NS) break;
        }
        pthread_mutex_lock(&pool.mu);
        pool.caller_sleeping = 1;
        while (LOAD(pool.done) < job->nblocks) pthread_cond_wait(&pool.finish, &pool.mu);
        pool.caller_sleeping = 0;
        pthread_mutex_unlock(&pool.mu);
    }
    STORE(pool.open, 0);
    while (LOAD(pool.inside) != 0) sched_yield(); /* late workers leave at once */
    const int failed = LOAD(pool.failed);
    STORE(pool.busy, 0);
    return failed ? -2 : 0;
}
#else
#define BSS2_POOL 0
int bss2_threads(void) { return 1; }
int bss2_set_threads(int n) {
    (void)n;
    return 1;
}
static int run_job(job_t *job) {
    (void)job;
    return -3;
}
#endif

/* The whole job on the calling thread. */
static int run_inline(const job_t *job) {
    workspace ws;
    float *mem = alloc_workspace(job->ctx->p, &ws);
    if (mem == NULL) return -2;
    for (int64_t k = 0; k < job->nblocks; k++) run_one_block(job, k, &ws);
    free(mem);
    return 0;
}

int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                 const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                 uint64_t key, int8_t *out, int64_t *bad_index) {
    if (p == NULL || weights == NULL || pulses == NULL || scale == NULL || x == NULL ||
        out == NULL || bad_index == NULL || p->n_in <= 0 || p->n_hemi <= 0 || p->n_col <= 0 ||
        p->n_col % 64 != 0 || p->n_hemi * p->n_col > BSS2_COUNTER_NEURONS || batch < 0 ||
        sample0 < 0 || sample0 > ((int64_t)1 << 40) || batch > ((int64_t)1 << 40))
        return -1;
    bss2_init();
    *bad_index = -1;

    /* Activations: one OR over all bytes finds whether any is above 31. */
    const int64_t total = batch * p->n_in;
    uint8_t any = 0;
    for (int64_t k = 0; k < total; k++) any |= x[k];
    if (any > 31) {
        for (int64_t k = 0; k < total; k++)
            if (x[k] > 31) {
                *bad_index = k;
                break;
            }
        return 1;
    }

    const int n_tot = p->n_hemi * p->n_col;
    int32_t base_code[BSS2_COUNTER_NEURONS];
    run_ctx ctx = {p, weights, pulses, scale, x, out, sample0, key, p->compress != 0, 1, base_code};
    for (int n = 0; n < n_tot; n++) {
        if (p->sigma_read[n] != 0.0f || p->sigma_base[n] != 0.0f) ctx.noisy = 1;
        base_code[n] = p->code_map[clampi(p->adc_int[n] + floor_d((double)p->adc_frac[n]), 0, 255)];
    }
    for (int c = 0; c < 256; c++)
        if (p->code_map[c] != c) ctx.identity_codes = 0;

    job_t job = {&ctx, batch, (batch + BLOCK - 1) / BLOCK, isa_level, 1};
    const int status = run_job(&job);
    return status == -3 ? run_inline(&job) : status;
}
