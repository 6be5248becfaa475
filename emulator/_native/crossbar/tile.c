/* The analog crossbar tile's runs: see tile.h, and emulator/crossbar/reference.py for the definition. */
#include "crossbar/tile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "fp_env.h"
#include "isa.h"
#include "rng.h"
#include "thread_pool.h"

#define GOLDEN 0x9e3779b97f4a7c15ULL
#define BLOCK 24       /* vectors per block of a forward or backward job (a multiple of TILE_ROWS) */
#define COLS 64        /* outputs per register tile of the AVX-512 product */
#define TILE_ROWS 6    /* vectors per register tile: 6 x 64 outputs in 24 registers */
#define UPDATE_ROWS 8  /* rows per block of an update job */
#define LEVELS_MAX (1 << 20)
#define ROUND_MAGIC 12582912.0f /* 1.5 * 2^23: (t + M) - M is rint(t) for |t| < 2^22 */

static inline uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Word w of a stream (rng.h): the high (w even) or low (w odd) half of draw w / 2. */
static inline uint32_t word(uint64_t key, uint64_t w) {
    const uint64_t bits = mix(key + (w >> 1) * GOLDEN);
    return (w & 1) ? (uint32_t)bits : (uint32_t)(bits >> 32);
}

/* The high half of draw c. */
static inline uint32_t high(uint64_t key, uint64_t c) { return (uint32_t)(mix(key + c * GOLDEN) >> 32); }

/* Set bits of v without the popcnt instruction (the baseline code path has none: GCC would call libgcc). */
static inline int pop64(uint64_t v) {
    v = v - ((v >> 1) & 0x5555555555555555ULL);
    v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
    return (int)((v * 0x0101010101010101ULL) >> 56);
}

/* Stochastic rounding's deviate in [-0.5, 0.5) (converters.uniform). */
static inline float uniform(uint32_t w) { return (float)(w >> 8) * 0x1p-24f - 0.5f; }

static inline int64_t counter(int64_t b, int r) { return (b * XB_ROUNDS_MAX + r) * XB_SPAN; }

/* The normals of the high halves of draws c0 .. c0 + n - 1 (the same values on every code path). */
#if HIL_X86_DISPATCH
TARGET_V4 static void normals_v4(uint64_t key, uint64_t c0, int64_t n, float *out) {
    normal_pairs_v4 st;
    normal_pairs_init_v4(&st, key, 1);
    normal_pairs_seek_v4(&st, c0);
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) _mm512_storeu_ps(out + j, normal_pairs_next_high_v4(&st));
    if (j < n) hil_normal_high(key, c0 + (uint64_t)j, 1, (int)(n - j), out + j);
}
#endif

static void normals(uint64_t key, uint64_t c0, int64_t n, float *out) {
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level >= 4) {
        normals_v4(key, c0, n, out);
        return;
    }
    if (level == 3) {
        const int64_t n8 = n & ~(int64_t)7;
        if (n8) hil_normal_high_v3(key, c0, 1, (int)n8, out);
        if (n8 < n) hil_normal_high(key, c0 + (uint64_t)n8, 1, (int)(n - n8), out + n8);
        return;
    }
#endif
    hil_normal_high(key, c0, 1, (int)n, out);
}

/* ---------------------------------------------------------------- products, in input order */

/* acc (rows, n) = x (rows, k) m (k, n), each output summed in k's order by fused multiply-adds,
 * acc = fma(x_k, m_k, acc) from 0: the definition (emulator/crossbar/arithmetic.py). Every code path
 * rounds each fma once, so every path gives the same bits (the baseline path through libm's fmaf,
 * slower but exact). */
#define PRODUCT_ARGS const float *restrict x, int64_t rows, int64_t k, const float *restrict m, int64_t n, \
                     float *restrict acc
/* The columns c0 .. c1 - 1 of the product (m and acc rows n long). */
ALWAYS_INLINE void product_body(PRODUCT_ARGS, int64_t c0, int64_t c1) {
    for (int64_t s = 0; s < rows; s++) {
        float *restrict a = acc + s * n;
        for (int64_t l = c0; l < c1; l++) a[l] = 0.0f;
        for (int64_t kk = 0; kk < k; kk++) {
            const float xv = x[s * k + kk];
            const float *restrict mr = m + kk * n;
            for (int64_t l = c0; l < c1; l++) a[l] = fmaf(xv, mr[l], a[l]);
        }
    }
}

static void product_base(PRODUCT_ARGS) { product_body(x, rows, k, m, n, acc, 0, n); }

#if HIL_X86_DISPATCH
TARGET_V3 static void product_v3(PRODUCT_ARGS) { product_body(x, rows, k, m, n, acc, 0, n); }


/* TILE_ROWS vectors x 64 outputs in registers, m's 64 columns streamed once per TILE_ROWS vectors; the same
 * fused multiply-adds per output as product_body. */
TARGET_V4 static void product_v4(PRODUCT_ARGS) {
    int64_t s = 0;
    for (; s + TILE_ROWS <= rows; s += TILE_ROWS) {
        const float *x0 = x + s * k;
        int64_t n0 = 0;
        for (; n0 + COLS <= n; n0 += COLS) {
            __m512 a[TILE_ROWS][4];
            for (int i = 0; i < TILE_ROWS; i++)
                for (int q = 0; q < 4; q++) a[i][q] = _mm512_setzero_ps();
            for (int64_t kk = 0; kk < k; kk++) {
                const float *mr = m + kk * n + n0;
                const __m512 w0 = _mm512_loadu_ps(mr), w1 = _mm512_loadu_ps(mr + 16);
                const __m512 w2 = _mm512_loadu_ps(mr + 32), w3 = _mm512_loadu_ps(mr + 48);
                for (int i = 0; i < TILE_ROWS; i++) {
                    const __m512 xv = _mm512_set1_ps(x0[i * k + kk]);
                    a[i][0] = _mm512_fmadd_ps(xv, w0, a[i][0]);
                    a[i][1] = _mm512_fmadd_ps(xv, w1, a[i][1]);
                    a[i][2] = _mm512_fmadd_ps(xv, w2, a[i][2]);
                    a[i][3] = _mm512_fmadd_ps(xv, w3, a[i][3]);
                }
            }
            for (int i = 0; i < TILE_ROWS; i++)
                for (int q = 0; q < 4; q++) _mm512_storeu_ps(acc + (s + i) * n + n0 + 16 * q, a[i][q]);
        }
        if (n0 < n) product_body(x0, TILE_ROWS, k, m, n, acc + s * n, n0, n); /* the last columns */
    }
    if (s < rows) product_body(x + s * k, rows - s, k, m, n, acc + s * n, 0, n);
}
#endif

static void product(PRODUCT_ARGS) {
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level >= 4) {
        product_v4(x, rows, k, m, n, acc);
        return;
    }
    if (level == 3) {
        product_v3(x, rows, k, m, n, acc);
        return;
    }
#endif
    product_base(x, rows, k, m, n, acc);
}

/* ---------------------------------------------------------------- converters */

static inline float clampf(float v, float lo, float hi) {
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

/* The code of t (converters.codes): rint(t), |t| first limited to N + 1, which keeps rint exact by the
 * magic number and changes neither the clipped code nor whether it was beyond N. */
static inline float code_of(float t, float lim) {
    t = clampf(t, -lim, lim);
    return (t + ROUND_MAGIC) - ROUND_MAGIC;
}

/* The DAC of one vector in round r: xq = dac(xs * s) (+ input noise); returns sum xq^2 if wanted. */
ALWAYS_INLINE float dac(const xb_io *io, const float *restrict xs, int64_t k, float s, int64_t b, int r,
                        float *restrict xq, float *restrict nrm, int want_sumsq) {
    /* the periphery's values as locals: the loops store floats, which could otherwise alias them */
    const int32_t N = io->inp_levels;
    const float fN = (float)N, lim = (float)N + 1.0f, inv = io->inp_inv, step = io->inp_step;
    const float bound = io->inp_bound, noise = io->inp_noise;
    const uint64_t c0 = (uint64_t)counter(b, r), key = io->key_in_sr;
    if (!N) {
        for (int64_t j = 0; j < k; j++) xq[j] = clampf(xs[j] * s, -bound, bound);
    } else if (io->inp_sr) {
        for (int64_t j = 0; j < k; j++)
            xq[j] = clampf(code_of(xs[j] * s * inv + uniform(high(key, c0 + (uint64_t)j)), lim), -fN, fN) * step;
    } else {
        for (int64_t j = 0; j < k; j++) xq[j] = clampf(code_of((xs[j] * s) * inv, lim), -fN, fN) * step;
    }
    if (noise > 0.0f) {
        normals(io->key_in_noise, c0, k, nrm);
        for (int64_t j = 0; j < k; j++) xq[j] = xq[j] + noise * nrm[j];
    }
    float ss = 0.0f;
    if (want_sumsq)
        for (int64_t j = 0; j < k; j++) ss = ss + xq[j] * xq[j];
    return ss;
}

/* Output noise and the ADC of one vector's products in round r, in place; returns 1 if it saturated. */
ALWAYS_INLINE int adc(const xb_io *io, float *restrict a, int64_t n, float sigma, int64_t b, int r,
                      float *restrict nrm) {
    const uint64_t c0 = (uint64_t)counter(b, r), key = io->key_out_sr;
    if (sigma > 0.0f) {
        normals(io->key_out_noise, c0, n, nrm);
        for (int64_t l = 0; l < n; l++) a[l] = a[l] + sigma * nrm[l];
    }
    const int32_t N = io->out_levels;
    const float fN = (float)N, lim = (float)N + 1.0f, bound = io->out_bound, inv = io->out_inv, step = io->out_step;
    int above = 0, below = 0;
    if (!N) {
        for (int64_t l = 0; l < n; l++) {
            above |= a[l] > bound;
            below |= a[l] < -bound;
            a[l] = clampf(a[l], -bound, bound);
        }
    } else if (io->out_sr) {
        for (int64_t l = 0; l < n; l++) {
            const float c = code_of(a[l] * inv + uniform(high(key, c0 + (uint64_t)l)), lim);
            above |= c > fN;
            below |= c < -fN;
            a[l] = clampf(c, -fN, fN) * step;
        }
    } else {
        for (int64_t l = 0; l < n; l++) {
            const float c = code_of(a[l] * inv, lim);
            above |= c > fN;
            below |= c < -fN;
            a[l] = clampf(c, -fN, fN) * step;
        }
    }
    return above || (io->bm_negative && below);
}

/* ---------------------------------------------------------------- forward and backward */

typedef struct {
    const float *m, *x;
    int64_t k, n, batch;
    const xb_io *io;
    float *y;
    int8_t *rounds;
    int64_t *first_bad; /* per block: the first non-finite input's flat index, or -1 */
} mvm_job;

ALWAYS_INLINE void mvm_block_body(void *arg, int64_t blk, void *scratch) {
    const mvm_job *J = arg;
    const xb_io *io = J->io;
    const int64_t k = J->k, n = J->n, b0 = blk * BLOCK;
    const int64_t nb = J->batch - b0 < BLOCK ? J->batch - b0 : BLOCK;
    float *xs = scratch, *xq = xs + BLOCK * k, *acc = xq + BLOCK * k;
    /* the product runs on whole register tiles of vectors: rows past the block's last are zeros */
    const int64_t nt = (nb + TILE_ROWS - 1) / TILE_ROWS * TILE_ROWS;
    if (nt > nb) {
        memset(xs + nb * k, 0, (size_t)((nt - nb) * k) * sizeof(float));
        memset(xq + nb * k, 0, (size_t)((nt - nb) * k) * sizeof(float));
    }
    float *nrm = acc + BLOCK * n;
    float alpha[BLOCK], s0[BLOCK], sigma[BLOCK];
    int scaling[BLOCK], zero[BLOCK];
    J->first_bad[blk] = -1;
    const int bm = io->bm == 1;
    for (int64_t i = 0; i < nb; i++) { /* read each vector once: its copy, its scale, its check */
        const float *xr = J->x + (b0 + i) * k;
        float *c = xs + i * k;
        float amax = 0.0f, mx = -INFINITY;
        int finite = 1;
        for (int64_t j = 0; j < k; j++) {
            const float v = xr[j];
            c[j] = v;
            finite &= (v - v) == 0.0f; /* false for NaN and infinities */
            const float av = fabsf(v);
            amax = av > amax ? av : amax;
            mx = v > mx ? v : mx;
        }
        if (!finite) {
            for (int64_t j = 0; j < k; j++)
                if (!isfinite(c[j])) {
                    J->first_bad[blk] = (b0 + i) * k + j;
                    return;
                }
        }
        float a = 1.0f;
        int sc = io->nm != 0;
        if (io->nm == 1 || io->nm == 2) {
            a = io->nm == 1 ? amax : mx;
            if (io->nm_thres > 0.0f && io->nm_thres < a) a = io->nm_thres;
        } else if (io->nm == 3) {
            a = io->nm_thres > 0.0f ? io->nm_thres : 1.0f;
        }
        alpha[i] = a;
        scaling[i] = sc;
        zero[i] = !io->perfect && sc && a <= 0.0f && io->inp_noise <= 0.0f;
        float s = 1.0f;
        if (sc && a > 0.0f) s = s / a;
        s0[i] = s; /* round 0: no reduction */
    }
    if (io->perfect) {
        product(xs, nt, k, J->m, n, acc);
        for (int64_t i = 0; i < nb; i++) {
            float *yr = J->y + (b0 + i) * n;
            const float scale = io->out_scale;
            const float *restrict ar = acc + i * n;
            if (scale != 1.0f)
                for (int64_t l = 0; l < n; l++) yr[l] = ar[l] * scale;
            else
                memcpy(yr, ar, (size_t)n * sizeof(float));
            J->rounds[b0 + i] = 0;
        }
        return;
    }
    const int want = io->w_noise > 0.0f;
    for (int64_t i = 0; i < nb; i++) {
        if (zero[i]) {
            memset(xq + i * k, 0, (size_t)k * sizeof(float));
            continue;
        }
        const float ss = dac(io, xs + i * k, k, s0[i], b0 + i, 0, xq + i * k, nrm, want);
        sigma[i] = want ? sqrtf(io->out_noise * io->out_noise + (io->w_noise * io->w_noise) * ss) : io->out_noise;
    }
    product(xq, nt, k, J->m, n, acc);
    for (int64_t i = 0; i < nb; i++) {
        const int64_t b = b0 + i;
        float *a = acc + i * n, *yr = J->y + b * n;
        J->rounds[b] = 0;
        if (zero[i]) {
            memset(yr, 0, (size_t)n * sizeof(float));
            continue;
        }
        float s = s0[i];
        int r = 0;
        int saturated = adc(io, a, n, sigma[i], b, 0, nrm);
        while (bm && saturated && r < io->bm_last) { /* again with the input halved */
            r++;
            s = 1.0f;
            if (scaling[i] && alpha[i] > 0.0f) s = s / alpha[i];
            s = s / (float)(1ULL << r);
            const float ss = dac(io, xs + i * k, k, s, b, r, xq + i * k, nrm, want);
            const float sg = want ? sqrtf(io->out_noise * io->out_noise + (io->w_noise * io->w_noise) * ss)
                                  : io->out_noise;
            product(xq + i * k, 1, k, J->m, n, a);
            saturated = adc(io, a, n, sg, b, r, nrm);
        }
        J->rounds[b] = (int8_t)r;
        const float gain = io->out_scale / s;
        if (gain != 1.0f)
            for (int64_t l = 0; l < n; l++) yr[l] = a[l] * gain;
        else
            memcpy(yr, a, (size_t)n * sizeof(float));
    }
}

/* The block on the code path in use (its loops vectorised for it; the same operations on every path). */
static void mvm_block_base(void *arg, int64_t blk, void *scratch) { mvm_block_body(arg, blk, scratch); }
#if HIL_X86_DISPATCH
TARGET_V3 static void mvm_block_v3(void *arg, int64_t blk, void *scratch) { mvm_block_body(arg, blk, scratch); }
TARGET_V4 static void mvm_block_v4(void *arg, int64_t blk, void *scratch) { mvm_block_body(arg, blk, scratch); }
#endif

static void mvm_block(void *arg, int64_t blk, void *scratch) {
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level >= 4) {
        mvm_block_v4(arg, blk, scratch);
        return;
    }
    if (level == 3) {
        mvm_block_v3(arg, blk, scratch);
        return;
    }
#endif
    mvm_block_base(arg, blk, scratch);
}

static int refuse(int64_t *bad, int what, int64_t index, int64_t value) {
    bad[0] = what;
    bad[1] = index;
    bad[2] = value;
    return 1;
}

int xb_mvm(const float *m, int64_t k, int64_t n, const float *x, int64_t batch, const xb_io *io, float *y,
           int8_t *rounds, int64_t *bad) {
    if (!m || !io || !bad || (batch && (!x || !y || !rounds))) return -1;
    if (k < 1 || k > XB_SIZE_MAX) return refuse(bad, XB_BAD_SIZE, -1, k);
    if (n < 1 || n > XB_SIZE_MAX) return refuse(bad, XB_BAD_SIZE, -1, n);
    if (batch < 0 || batch > XB_BATCH_MAX) return refuse(bad, XB_BAD_SIZE, -1, batch);
    if (batch * (k + n) > XB_ELEMENTS_MAX) return refuse(bad, XB_BAD_SIZE, -1, batch * (k + n));
    if (io->inp_levels < 0 || io->inp_levels > LEVELS_MAX) return refuse(bad, XB_BAD_LEVELS, -1, io->inp_levels);
    if (io->out_levels < 0 || io->out_levels > LEVELS_MAX) return refuse(bad, XB_BAD_LEVELS, -1, io->out_levels);
    if (io->bm_last < 0 || io->bm_last >= XB_ROUNDS_MAX) return refuse(bad, XB_BAD_ROUNDS, -1, io->bm_last);
    if (batch == 0) return 0;
    const int64_t nblocks = (batch + BLOCK - 1) / BLOCK;
    int64_t *first_bad = malloc((size_t)nblocks * sizeof(int64_t));
    if (!first_bad) return -2;
    const hil_fp_state fp = hil_fp_enter();
    mvm_job job = {m, x, k, n, batch, io, y, rounds, first_bad};
    const int64_t big = k > n ? k : n;
    const size_t scratch = (size_t)(2 * BLOCK * k + BLOCK * n + big) * sizeof(float);
    int status = hil_pool_run(nblocks, scratch, mvm_block, &job);
    hil_fp_leave(fp);
    for (int64_t i = 0; status == 0 && i < nblocks; i++)
        if (first_bad[i] >= 0) status = refuse(bad, XB_BAD_VALUE, first_bad[i], 0);
    free(first_bad);
    return status;
}

/* ---------------------------------------------------------------- the pulsed update */

/* pulses.scales: (BL, A, B) of one vector, float32 as written there. */
static int scales(const xb_update_par *p, float x_amax, float d_amax, float *A, float *B) {
    const float lr = p->lr, g = p->dw_min, desired = (float)p->desired_bl;
    int bl;
    float a;
    if (p->fixed_bl || p->ublm) {
        bl = p->desired_bl;
        a = sqrtf(lr / (g * (float)bl));
    } else if (g * desired < lr) {
        a = 1.0f;
        const float q = ceilf(lr / g);
        bl = q > (float)(XB_BL_MAX + 1) ? XB_BL_MAX + 1 : (q < 1.0f ? 1 : (int)q);
    } else {
        bl = p->desired_bl;
        a = sqrtf(lr / (g * (float)bl));
    }
    float b = a;
    if (x_amax == 0.0f || d_amax == 0.0f) {
        *A = *B = 1.0f;
        return 0;
    }
    if (p->um || p->ublm) {
        const float x_val = x_amax;
        float d_val = p->um_grad_scale * d_amax;
        const float kv = ((lr * x_val) * d_val) / g;
        if (p->ublm) {
            const float q = ceilf(kv);
            bl = q < desired ? (int)q : p->desired_bl;
            a = b = sqrtf(lr / (g * (float)bl));
        }
        if (kv > desired) d_val = d_val * (desired / kv);
        a = a * sqrtf(x_val / d_val);
        b = b * sqrtf(d_val / x_val);
    }
    *A = a;
    *B = b;
    return bl;
}

/* pulses.probabilities, signed: copysign(min(quantised(scale |v|), 1), v). */
static inline float probability(const xb_update_par *p, float v, float scale, uint64_t sr_counter) {
    float q = fabsf(v) * scale;
    if (p->res > 0.0f) {
        float t = q * p->res_inv;
        if (p->sto_round) t = t + uniform(high(p->key_sr, sr_counter));
        q = rintf(t) * p->res;
    }
    q = clampf(q, 0.0f, 1.0f);
    return copysignf(q, v);
}

static inline uint64_t train(uint64_t key, int64_t b, int64_t e, float p, int bl) {
    const uint64_t thr = (uint64_t)((double)fabsf(p) * 4294967296.0);
    const uint64_t w0 = (uint64_t)(b * XB_SPAN + e) * XB_BL_MAX;
    uint64_t t = 0;
    for (int s = 0; s < bl; s++) t |= (uint64_t)(word(key, w0 + (uint64_t)s) < thr) << s;
    return t;
}

typedef struct {
    float *w;
    const float *up, *down, *wmax, *wmin, *x, *d;
    int64_t rows, cols, batch, b0, nb;
    const xb_update_par *p;
    int32_t *bl;
    float *prob;     /* (batch, rows + cols): signed row then column probabilities */
    uint64_t *tr;    /* (nb, rows + cols): trains of the chunk */
    int64_t *pulses;
    int64_t *first_bad;
} update_job;

#define UPDATE_CHUNK 256

/* Phase 1, per vector: read x and d once (checked), the scales and the signed probabilities. */
static void update_read(void *arg, int64_t b, void *scratch) {
    (void)scratch;
    const update_job *J = arg;
    const xb_update_par *p = J->p;
    const int64_t R = J->rows, C = J->cols;
    float *pr = J->prob + b * (R + C), *pc = pr + R;
    const float *xr = J->x + b * C, *dr = J->d + b * R;
    J->first_bad[b] = -1;
    float xa = 0.0f, da = 0.0f;
    for (int64_t j = 0; j < C; j++) {
        const float v = xr[j];
        if (!isfinite(v)) {
            J->first_bad[b] = b * C + j;
            return;
        }
        pc[j] = v;
        xa = fabsf(v) > xa ? fabsf(v) : xa;
    }
    for (int64_t i = 0; i < R; i++) {
        const float v = dr[i];
        if (!isfinite(v)) {
            J->first_bad[b] = J->batch * C + b * R + i; /* d's flat index, after all of x */
            return;
        }
        pr[i] = v;
        da = fabsf(v) > da ? fabsf(v) : da;
    }
    if (p->ideal) return;
    float A, B;
    const int bl = scales(p, xa, da, &A, &B);
    J->bl[b] = bl;
    if (bl > XB_BL_MAX) {
        J->first_bad[b] = -2 - bl;
        return;
    }
    if (bl == 0) return;
    const uint64_t sr0 = (uint64_t)b * 2 * XB_SPAN;
    for (int64_t j = 0; j < C; j++) pc[j] = probability(p, pc[j], B, sr0 + (uint64_t)j);
    for (int64_t i = 0; i < R; i++) pr[i] = probability(p, pr[i], A, sr0 + XB_SPAN + (uint64_t)i);
}

/* Phase 2, per vector of a chunk: its trains and its pulse counts. */
static void update_trains(void *arg, int64_t i, void *scratch) {
    (void)scratch;
    const update_job *J = arg;
    const int64_t b = J->b0 + i, R = J->rows, C = J->cols;
    const int bl = J->bl[b];
    const float *pr = J->prob + b * (R + C), *pc = pr + R;
    uint64_t *tr = J->tr + i * (R + C), *tc = tr + R;
    int64_t nr = 0, nc = 0;
    for (int64_t e = 0; e < R; e++) {
        tr[e] = bl ? train(J->p->key_d, b, e, pr[e], bl) : 0;
        nr += pop64(tr[e]);
    }
    for (int64_t e = 0; e < C; e++) {
        tc[e] = bl ? train(J->p->key_x, b, e, pc[e], bl) : 0;
        nc += pop64(tc[e]);
    }
    J->pulses[2 * b] = nr;
    J->pulses[2 * b + 1] = nc;
}

/* One row of one vector: w[j] moves by c_j steps (c_j = fc[j], the coincidences), down where
 * sign(d_i) sign(x_j) > 0, their sum (1 + dw_min_std xi_s) scale drawn as c + dw_min_std sqrt(c) xi_j; c = 0
 * moves nothing. Branch-free, so that it vectorises; the same operations on every code path. */
#define ROW_ARGS float *restrict wr, uint64_t tr, const uint64_t *restrict tc, const float *restrict pc, int neg_d, \
                 const float *restrict up, const float *restrict down, const float *restrict wmax, \
                 const float *restrict wmin, const float *restrict xi, float std, int64_t C
ALWAYS_INLINE void row_body(ROW_ARGS, float *restrict fc, int hw) {
    /* hw: the code path has the popcnt instruction */
    for (int64_t j = 0; j < C; j++) fc[j] = (float)(hw ? __builtin_popcountll(tr & tc[j]) : pop64(tr & tc[j]));
    for (int64_t j = 0; j < C; j++) {
        const int dn = neg_d == (signbit(pc[j]) != 0);
        const float c = fc[j];
        const float t = std > 0.0f ? c + (std * sqrtf(c)) * xi[j] : c;
        const float dw = t * (dn ? down[j] : up[j]);
        float v = wr[j] + (dn ? -dw : dw);
        v = v > wmax[j] ? wmax[j] : v;
        wr[j] = v < wmin[j] ? wmin[j] : v;
    }
}

#define ROW_CALL wr, tr, tc, pc, neg_d, up, down, wmax, wmin, xi, std, C, fc
static void row_base(ROW_ARGS, float *restrict fc) { row_body(ROW_CALL, 0); }
#if HIL_X86_DISPATCH
TARGET_V3 static void row_v3(ROW_ARGS, float *restrict fc) { row_body(ROW_CALL, 1); }
TARGET_V4 static void row_v4(ROW_ARGS, float *restrict fc) { row_body(ROW_CALL, 1); }
#endif

static void row_update(ROW_ARGS, float *restrict fc) {
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level >= 4) {
        row_v4(ROW_CALL);
        return;
    }
    if (level == 3) {
        row_v3(ROW_CALL);
        return;
    }
#endif
    row_base(ROW_CALL);
}

/* Phase 3, per block of rows: every vector of the chunk in order. */
static void update_rows(void *arg, int64_t blk, void *scratch) {
    const update_job *J = arg;
    const xb_update_par *p = J->p;
    const int64_t R = J->rows, C = J->cols, i0 = blk * UPDATE_ROWS;
    const int64_t i1 = i0 + UPDATE_ROWS < R ? i0 + UPDATE_ROWS : R;
    float *xi = scratch, *fc = xi + C;
    for (int64_t q = 0; q < J->nb; q++) {
        const int64_t b = J->b0 + q;
        const float *pr = J->prob + b * (R + C), *pc = pr + R;
        if (p->ideal) { /* pr, pc hold d and x themselves */
            for (int64_t i = i0; i < i1; i++) {
                const float t = p->lr * pr[i];
                float *wr = J->w + i * C;
                for (int64_t j = 0; j < C; j++) wr[j] = wr[j] - t * pc[j];
            }
            continue;
        }
        if (J->bl[b] == 0) continue;
        const uint64_t *tr = J->tr + q * (R + C), *tc = tr + R;
        for (int64_t i = i0; i < i1; i++) {
            if (!tr[i]) continue;
            if (p->dw_min_std > 0.0f) normals(p->key_ctoc, (uint64_t)(b * XB_SPAN + i) * XB_SPAN, C, xi);
            const int64_t e = i * C;
            row_update(J->w + e, tr[i], tc, pc, signbit(pr[i]) != 0, J->up + e, J->down + e, J->wmax + e, J->wmin + e,
                       xi, p->dw_min_std, C, fc);
        }
    }
}

int xb_update(float *w, const float *scale_up, const float *scale_down, const float *w_max, const float *w_min,
              int64_t rows, int64_t cols, const float *x, const float *d, int64_t batch, const xb_update_par *p,
              int32_t *bl, int64_t *pulses, int64_t *bad) {
    if (!w || !scale_up || !scale_down || !w_max || !w_min || !p || !bad || (batch && (!x || !d || !bl || !pulses)))
        return -1;
    if (rows < 1 || rows > XB_SIZE_MAX) return refuse(bad, XB_BAD_SIZE, -1, rows);
    if (cols < 1 || cols > XB_SIZE_MAX) return refuse(bad, XB_BAD_SIZE, -1, cols);
    if (batch < 0 || batch > XB_BATCH_MAX) return refuse(bad, XB_BAD_SIZE, -1, batch);
    if (batch * (rows + cols) > XB_ELEMENTS_MAX) return refuse(bad, XB_BAD_SIZE, -1, batch * (rows + cols));
    if (!p->ideal && (p->desired_bl < 1 || p->desired_bl > XB_BL_MAX)) return refuse(bad, XB_BAD_BL, -1, p->desired_bl);
    if (batch == 0) return 0;
    const int64_t width = rows + cols;
    const int64_t chunk = batch < UPDATE_CHUNK ? batch : UPDATE_CHUNK;
    float *prob = malloc((size_t)(batch * width) * sizeof(float));
    uint64_t *tr = malloc((size_t)(chunk * width) * sizeof(uint64_t));
    int64_t *first_bad = malloc((size_t)batch * sizeof(int64_t));
    int status = 0;
    if (!prob || !tr || !first_bad) status = -2;
    const hil_fp_state fp = hil_fp_enter();
    update_job J = {w, scale_up, scale_down, w_max, w_min, x, d, rows, cols, batch, 0, 0, p, bl, prob, tr, pulses,
                    first_bad};
    for (int64_t b = 0; b < batch; b++) bl[b] = 0;
    if (status == 0) status = hil_pool_run(batch, 0, update_read, &J);
    for (int64_t b = 0; status == 0 && b < batch; b++) { /* nothing changes unless every input is good */
        if (first_bad[b] <= -2) status = refuse(bad, XB_BAD_BL, b, -2 - first_bad[b]);
        else if (first_bad[b] >= 0) status = refuse(bad, XB_BAD_VALUE, first_bad[b], 0);
    }
    if (status == 0 && p->ideal)
        for (int64_t b = 0; b < batch; b++) pulses[2 * b] = pulses[2 * b + 1] = 0;
    for (int64_t b0 = 0; status == 0 && b0 < batch; b0 += chunk) {
        J.b0 = b0;
        J.nb = batch - b0 < chunk ? batch - b0 : chunk;
        if (!p->ideal) status = hil_pool_run(J.nb, 0, update_trains, &J);
        if (status == 0)
            status = hil_pool_run((rows + UPDATE_ROWS - 1) / UPDATE_ROWS, (size_t)(2 * cols) * sizeof(float), update_rows, &J);
    }
    hil_fp_leave(fp);
    free(prob);
    free(tr);
    free(first_bad);
    return status;
}
