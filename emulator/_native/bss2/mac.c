/* See bss2/mac.h.
 *
 * Layout of a MAC run or product: the batch is cut into blocks of BLOCK samples;
 * each (column block, block of samples) is a piece, handed out one at a time to
 * the calling thread and the workers of a small thread pool (thread_pool.h);
 * which thread does a piece does not change its result. For its piece one thread
 * goes through the row blocks of the column block: it copies the samples'
 * activations of the row block (reading the caller's bytes once, so that the
 * values it checks are the values it uses), and per hemisphere that the column
 * block uses does the driver lookup, a register-blocked matrix product (no BLAS,
 * so no second thread pool) and the readout (bss2/readout.c) over the used rows
 * and the used neurons only (rounded up to whole tiles), then adds the int8
 * partial sums into the output. A hemisphere with only a few used neurons (at most
 * COLS_MAX) takes transposed tiles and readout instead, with the block's samples in
 * the vector lanes, so 3 columns cost 3, not a panel of 16; every output element
 * is still computed by the same operations in the same order. Each hot function is
 * compiled once per code path (isa.h).
 *
 * Computing only what a block uses gives the padded full block's values bit for
 * bit: a padded row has activation 0, whose pulse is 0, so its terms are +-0 and
 * leave every accumulator's value alone (only the sign of a zero sum can differ,
 * and the readout adds it to a nonzero term or to +0 before anything depends on
 * it); a neuron's readout depends only on its own accumulator, its own
 * parameters and its own noise counter (sample, neuron).
 */
#include "bss2/mac.h"

#include <stddef.h>
#include <string.h>

#include "bss2/readout.h"
#include "compiler.h"
#include "fp_env.h"
#include "isa.h"
#include "rng.h"
#include "thread_pool.h"

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

#if HIL_X86_DISPATCH
DEFINE_TILE_LOOKUP(tile_v4, TARGET_V4, 16, V4_MR, 4)
/* One vector of columns: the last panels of a hemisphere whose used neurons end
 * inside a full tile's width (same arithmetic per column as tile_v4). */
DEFINE_TILE_LOOKUP(tile_v4_narrow, TARGET_V4, 16, V4_MR, 1)
#define V4_NR_NARROW 16
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
/* Few columns: the samples in the vector lanes                                         */
/* ---------------------------------------------------------------------------------- */

/* A hemisphere whose used neurons are at most this many takes the transposed tiles
 * below and the transposed readout (hil_bss2_readout_cols_*): it costs its columns,
 * where the tiles above cost a whole panel of 16. */
#define COLS_MAX HIL_BSS2_COLS_MAX
#define LANES HIL_BSS2_LANES

/* acc[j * LANES + i] = sum_k tab[k * 32 + x[i * xs + k]] * w[k * ws + j] for samples
 * i < mb (<= LANES) and columns j < nj, each accumulated as ((0 + p0) + p1) + ... in k
 * order with p = w * xeff, as in the tiles above: the same value. Plain loops (they
 * vectorize over the samples), the pulse lengths looked up first into xeff (kn rows
 * of LANES floats). */
ALWAYS_INLINE void tile_cols_plain(const uint8_t *restrict x, int64_t xs, const float *restrict tab,
                                   const float *restrict w, int64_t ws, float *restrict acc,
                                   float *restrict xeff, int64_t kn, int mb, int nj) {
    for (int i = 0; i < mb; i++)
        for (int64_t k = 0; k < kn; k++) xeff[k * LANES + i] = tab[k * 32 + x[i * xs + k]];
    for (int j = 0; j < nj; j++)
        for (int i = 0; i < mb; i++) acc[j * LANES + i] = 0.0f;
    for (int64_t k = 0; k < kn; k++) {
        const float *restrict e = xeff + k * LANES;
        for (int j = 0; j < nj; j++) {
            const float wk = w[k * ws + j];
            float *restrict a = acc + j * LANES;
            for (int i = 0; i < mb; i++) a[i] = a[i] + wk * e[i];
        }
    }
}

#if HIL_X86_DISPATCH
/* The same with AVX-512 for NJ columns, all accumulators in registers: two vectors of
 * 16 samples (lanes beyond mb are computed but not used). The activations come as
 * words of 4 rows, sample-major: word q of sample i, x[i][4q .. 4q+3], at
 * xt[q * LANES + i] (transpose_words); each row's 32-entry pulse table sits in two
 * registers and is looked up with vpermt2ps, which reads the low 5 bits of each
 * index: the activation, 0..31, checked before. */
TARGET_V4 ALWAYS_INLINE void tile_cols_v4_rows(const __m512i *restrict g, const float *restrict tk,
                                               const float *restrict wk, int64_t ws, __m512 *restrict a0,
                                               __m512 *restrict a1, const int KT, const int NJ) {
    __m512i g0 = g[0], g1 = g[1];
    for (int t = 0; t < KT; t++) {
        const __m512 lo = _mm512_loadu_ps(tk + t * 32), hi = _mm512_loadu_ps(tk + t * 32 + 16);
        const __m512 e0 = _mm512_permutex2var_ps(lo, g0, hi), e1 = _mm512_permutex2var_ps(lo, g1, hi);
        g0 = _mm512_srli_epi32(g0, 8);
        g1 = _mm512_srli_epi32(g1, 8);
        for (int j = 0; j < NJ; j++) {
            const __m512 wj = _mm512_set1_ps(wk[t * ws + j]);
            a0[j] = _mm512_add_ps(a0[j], _mm512_mul_ps(wj, e0));
            a1[j] = _mm512_add_ps(a1[j], _mm512_mul_ps(wj, e1));
        }
    }
}

TARGET_V4 ALWAYS_INLINE void tile_cols_v4_nj(const uint32_t *restrict xt, const float *restrict tab,
                                             const float *restrict w, int64_t ws, float *restrict acc,
                                             int64_t kn, const int NJ) {
    __m512 a0[COLS_MAX], a1[COLS_MAX];
    for (int j = 0; j < NJ; j++) a0[j] = a1[j] = _mm512_setzero_ps();
    int64_t k0 = 0;
    for (; k0 + 4 <= kn; k0 += 4) {
        const __m512i g[2] = {_mm512_loadu_si512(xt + k0 / 4 * LANES), _mm512_loadu_si512(xt + k0 / 4 * LANES + 16)};
        tile_cols_v4_rows(g, tab + k0 * 32, w + k0 * ws, ws, a0, a1, 4, NJ);
    }
    if (k0 < kn) {
        const __m512i g[2] = {_mm512_loadu_si512(xt + k0 / 4 * LANES), _mm512_loadu_si512(xt + k0 / 4 * LANES + 16)};
        tile_cols_v4_rows(g, tab + k0 * 32, w + k0 * ws, ws, a0, a1, (int)(kn - k0), NJ);
    }
    for (int j = 0; j < NJ; j++) {
        _mm512_storeu_ps(acc + j * LANES, a0[j]);
        _mm512_storeu_ps(acc + j * LANES + 16, a1[j]);
    }
}

/* The words of 4 activations of samples i < mb, rows k < kn of x (rows xs bytes
 * apart, zero from kn to the next multiple of 4: run_block), sample-major:
 * xt[q * LANES + i] = x[i][4q .. 4q+3]; the lanes from mb to LANES are zero. */
TARGET_V4 static void transpose_words(const uint8_t *restrict x, int64_t xs, int64_t kn, int mb,
                                      uint32_t *restrict xt) {
    const int64_t nq = (kn + 3) / 4;
    for (int64_t q = 0; q < nq; q++)
        for (int i = mb; i < LANES; i++) xt[q * LANES + i] = 0;
    for (int i = 0; i < mb; i++)
        for (int64_t q = 0; q < nq; q++) memcpy(xt + q * LANES + i, x + i * xs + 4 * q, 4);
}

TARGET_V4 static void tile_cols_v4(const uint8_t *restrict x, int64_t xs, const float *restrict tab,
                                   const float *restrict w, int64_t ws, float *restrict acc,
                                   uint32_t *restrict xt, int64_t kn, int mb, int nj) {
    transpose_words(x, xs, kn, mb, xt);
    switch (nj) {
#define COLS_CASE(NJ) \
    case NJ: tile_cols_v4_nj(xt, tab, w, ws, acc, kn, NJ); break;
        COLS_CASE(1) COLS_CASE(2) COLS_CASE(3) COLS_CASE(4)
        COLS_CASE(5) COLS_CASE(6) COLS_CASE(7) COLS_CASE(8)
#undef COLS_CASE
    default: break; /* nj is 1..COLS_MAX (run_block) */
    }
}
#endif

/* ---------------------------------------------------------------------------------- */
/* The run                                                                              */
/* ---------------------------------------------------------------------------------- */

#define BLOCK 24 /* samples per block: a multiple of every tile's rows, at most LANES */
typedef char block_fits_the_lanes[BLOCK <= LANES && COLS_MAX * LANES <= BLOCK * 64 ? 1 : -1];
#define PANEL 16 /* used neurons of a hemisphere are computed in whole panels of this many:
                  * a multiple of every tile's columns but tile_v4's (which hands its last
                  * panels to tile_v4_narrow) and of the readout's vectors */

/* A thread's scratch for one block, 64-byte aligned pieces (offsets in bytes). */
typedef struct {
    size_t xeff;    /* LANES x n_in floats: the pulse lengths, for the tiles without the lookup */
    size_t acc;     /* BLOCK x n_col floats; the transposed tiles' COLS_MAX x LANES fit (n_col >= 64) */
    size_t readout; /* the readout's floats (bss2/readout.h) */
    size_t x;       /* BLOCK x n_in bytes: the block's activations (and 4 more, see run_block) */
    size_t part;    /* BLOCK x n_hemi * n_col bytes: the int8 outputs of one chip block */
    size_t bytes;   /* the whole */
} layout;

typedef struct {
    uint8_t *x;
    float *xeff;
    float *acc;
    float *readout;
    int8_t *part;
} workspace;

static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

static layout workspace_layout(const bss2_mac *p) {
    const size_t n_in = (size_t)p->n_in, n_col = (size_t)p->n_col;
    layout l;
    l.xeff = 0;
    l.acc = l.xeff + round64(LANES * n_in * sizeof(float));
    l.readout = l.acc + round64(BLOCK * n_col * sizeof(float));
    l.x = l.readout + round64(hil_bss2_readout_scratch(n_col) * sizeof(float));
    l.part = l.x + round64(BLOCK * n_in + 4);
    l.bytes = l.part + round64(BLOCK * n_col * (size_t)p->n_hemi);
    return l;
}

typedef struct {
    bss2_mac p; /* the caller's parameters, read once */
    const float *const *weights; /* per chip block rb * ncb + cb: (n_hemi, n_in, n_col) */
    const float *pulses;
    const double *scale;
    const uint8_t *x;  /* (batch, rows) */
    int64_t batch, rows, cols;
    int64_t nrb, ncb;  /* row blocks (n_in rows each), column blocks (n_hemi * n_col each) */
    int64_t sample_blocks; /* blocks of BLOCK samples */
    /* The noise key of chip block k: `key` for a single run, else the MAC stream
     * of run run0 + k * run_stride of the chip with this seed. */
    int single_key;
    uint64_t key, seed, run0, run_stride;
    int8_t *out8;      /* a run: (batch, n_hemi * n_col) int8 */
    int64_t *out64;    /* a product: (batch, cols) int64, partial sums added and clamped */
    int level;         /* the code path of the whole job */
    layout scratch;
    bss2_readout readout;
    int64_t bad;       /* the first activation above 31 found in x, as flat index * 256 + the
                        * value read there (the smallest wins: the first index), or -1 */
} run_ctx;

/* Records the bad activation v read at flat index i (blocks run on several
 * threads): the value is kept with the index, since the caller's byte may have
 * changed since it was read. */
static void note_bad(run_ctx *ctx, int64_t i, uint8_t v) {
    i = i * 256 + v; /* i < 2^54 (start_job) */
#if defined(__GNUC__)
    int64_t seen = __atomic_load_n(&ctx->bad, __ATOMIC_SEQ_CST);
    while ((seen < 0 || i < seen) &&
           !__atomic_compare_exchange_n(&ctx->bad, &seen, i, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
    }
#else /* no thread pool without GCC (thread_pool.c): one thread */
    if (ctx->bad < 0 || i < ctx->bad) ctx->bad = i;
#endif
}

static int64_t bad_seen(const run_ctx *ctx) {
#if defined(__GNUC__)
    return __atomic_load_n(&ctx->bad, __ATOMIC_SEQ_CST);
#else
    return ctx->bad;
#endif
}

/* The int8 outputs of one chip block (samples b0 .. b0+mb-1, outputs col0 ..
 * col0+kc-1 of the job) from `part` into the job's output: copied for a run; for
 * a product stored by the first row block and added by the others. */
static void store_part(run_ctx *restrict ctx, int64_t b0, int mb, int64_t rb, int64_t col0,
                       int kc, const int8_t *restrict part) {
    const int n_tot = ctx->p.n_hemi * ctx->p.n_col;
    for (int r = 0; r < mb; r++) {
        const int8_t *restrict src = part + (int64_t)r * n_tot;
        if (ctx->out8 != NULL) {
            memcpy(ctx->out8 + (b0 + r) * n_tot, src, (size_t)kc);
            continue;
        }
        int64_t *restrict dst = ctx->out64 + (b0 + r) * ctx->cols + col0;
        if (rb == 0)
            for (int k = 0; k < kc; k++) dst[k] = src[k];
        else
            for (int k = 0; k < kc; k++) dst[k] += src[k];
    }
}

/* Samples b0 .. b0+mb-1 (mb <= BLOCK) of the job, outputs of column block cb. L is
 * the code path (4, 3, 0), a constant once inlined into the per-target wrappers below. */
ALWAYS_INLINE void run_block(run_ctx *restrict ctx, int64_t b0, int mb, int64_t cb,
                             const workspace *restrict ws, const int L) {
    const bss2_mac *p = &ctx->p;
    const int n_in = p->n_in, n_col = p->n_col, n_tot = p->n_hemi * p->n_col;
    const int64_t col0 = cb * n_tot;
    const int kc = (int)(ctx->cols - col0 < n_tot ? ctx->cols - col0 : n_tot);
    const int MR = L == 4 ? V4_MR : (L == 3 ? V3_MR : V0_MR);
    const int NR = L == 4 ? V4_NR : (L == 3 ? V3_NR : V0_NR);
    double s[BLOCK];

    for (int64_t rb = 0; rb < ctx->nrb; rb++) {
        const int64_t row0 = rb * n_in;
        const int kr = (int)(ctx->rows - row0 < n_in ? ctx->rows - row0 : n_in);
        /* The activations of the row block, copied: the caller's bytes are read
         * once, so the values checked here are the values used below. One OR over
         * all bytes finds whether any is above 31. */
        const uint8_t *restrict xb = ws->x;
        uint8_t any = 0;
        for (int r = 0; r < mb; r++) {
            const uint8_t *restrict xr = ctx->x + (b0 + r) * ctx->rows + row0;
            uint8_t *restrict cr = ws->x + (int64_t)r * n_in;
            int events = 0;
            for (int i = 0; i < kr; i++) {
                const uint8_t a = xr[i];
                cr[i] = a;
                any |= a;
                events += a != 0;
            }
            /* the transposed AVX-512 tile reads each row in words of 4 bytes: the
             * bytes after the row's last, up to a multiple of 4, are zero (the last
             * row's lie in the 4 bytes of slack of the layout) */
            for (int i = kr; i % 4 != 0; i++) cr[i] = 0;
            s[r] = ctx->scale[events];
        }
        if (any > 31) {
            for (int r = 0; r < mb; r++)
                for (int i = 0; i < kr; i++)
                    if (xb[(int64_t)r * n_in + i] > 31) {
                        note_bad(ctx, (b0 + r) * ctx->rows + row0 + i, xb[(int64_t)r * n_in + i]);
                        return;
                    }
        }
        if (bad_seen(ctx) >= 0) return; /* the job fails: the rest is not needed */

        {
            const int64_t k = rb * ctx->ncb + cb;
            const uint64_t key = ctx->single_key
                ? ctx->key
                : bss2_stream_key(ctx->seed, ctx->run0 + (uint64_t)k * ctx->run_stride, BSS2_STREAM_MAC);
            const float *wb = ctx->weights[k];
            for (int h = 0; h < p->n_hemi; h++) {
                const int used = kc - h * n_col < n_col ? kc - h * n_col : n_col;
                if (used <= 0) break;
                const float *tab = ctx->pulses + (int64_t)h * n_in * 32;
                const float *wh = wb + (int64_t)h * n_in * n_col;
                if (used <= COLS_MAX) {
                    /* Few neurons: the samples in the vector lanes, neuron j's
                     * accumulators at acc + j * LANES. */
#if HIL_X86_DISPATCH
                    if (L == 4) {
                        tile_cols_v4(xb, n_in, tab, wh, n_col, ws->acc, (uint32_t *)ws->xeff, kr, mb, used);
                        hil_bss2_readout_cols_v4(&ctx->readout, key, ws->acc, s, b0, mb, h * n_col, used,
                                                 ws->part, ws->readout);
                        continue;
                    }
#endif
                    tile_cols_plain(xb, n_in, tab, wh, n_col, ws->acc, ws->xeff, kr, mb, used);
#if HIL_X86_DISPATCH
                    if (L == 3)
                        hil_bss2_readout_cols_v3(&ctx->readout, key, ws->acc, s, b0, mb, h * n_col, used,
                                                 ws->part, ws->readout);
                    else
#endif
                        hil_bss2_readout_cols_v0(&ctx->readout, key, ws->acc, s, b0, mb, h * n_col, used,
                                                 ws->part, ws->readout);
                    continue;
                }
                const int nc = (used + PANEL - 1) / PANEL * PANEL; /* <= n_col */
                /* Driver lookup and matrix product over the used rows, one column
                 * panel at a time (the panel stays in L1 across the rows of the
                 * block). The AVX-512 tile does the lookup itself; the narrower
                 * ones, with 4x or 8x more panels, read it from xeff. */
                if (L != 4)
                    for (int r = 0; r < mb; r++) {
                        const uint8_t *restrict xr = xb + (int64_t)r * n_in;
                        float *restrict er = ws->xeff + (int64_t)r * n_in;
                        for (int i = 0; i < kr; i++) er[i] = tab[(int64_t)i * 32 + xr[i]];
                    }
                for (int j0 = 0; j0 < nc;) {
                    /* tile_v4 where a whole one fits, else tile_v4_narrow */
                    const int nr = L == 4 && j0 + NR > nc ? V4_NR_NARROW : NR;
                    int r = 0;
                    for (; r + MR <= mb; r += MR) {
                        float *cr = ws->acc + (int64_t)r * n_col + j0;
#if HIL_X86_DISPATCH
                        if (L == 4 && nr == NR)
                            tile_v4(xb + (int64_t)r * n_in, n_in, tab, wh + j0, n_col, cr, n_col, kr);
                        else if (L == 4)
                            tile_v4_narrow(xb + (int64_t)r * n_in, n_in, tab, wh + j0, n_col, cr, n_col, kr);
                        else if (L == 3)
                            tile_v3(ws->xeff + (int64_t)r * n_in, n_in, wh + j0, n_col, cr, n_col, kr);
                        else
#endif
                            tile_v0(ws->xeff + (int64_t)r * n_in, n_in, wh + j0, n_col, cr, n_col, kr);
                    }
                    if (r < mb)
                        tile_rest_inline(ws->xeff + (int64_t)r * n_in, xb + (int64_t)r * n_in,
                                         L == 4 ? tab : NULL, n_in, wh + j0, n_col,
                                         ws->acc + (int64_t)r * n_col + j0, n_col, kr, mb - r, nr);
                    j0 += nr;
                }
                /* Readout of the used panels. */
#if HIL_X86_DISPATCH
                if (L == 4)
                    hil_bss2_readout_v4(&ctx->readout, key, ws->acc, s, b0, mb, h, nc, ws->part, ws->readout);
                else if (L == 3)
                    hil_bss2_readout_v3(&ctx->readout, key, ws->acc, s, b0, mb, h, nc, ws->part, ws->readout);
                else
#endif
                    hil_bss2_readout_v0(&ctx->readout, key, ws->acc, s, b0, mb, h, nc, ws->part, ws->readout);
            }
            store_part(ctx, b0, mb, rb, col0, kc, ws->part);
        }
    }
    if (ctx->out64 != NULL && ctx->nrb > 1) /* the digital sum of the partial results, clamped to int8 */
        for (int r = 0; r < mb; r++) {
            int64_t *restrict o = ctx->out64 + (b0 + r) * ctx->cols + col0;
            for (int k = 0; k < kc; k++) o[k] = o[k] < -128 ? -128 : (o[k] > 127 ? 127 : o[k]);
        }
}

#if HIL_X86_DISPATCH
TARGET_V4 static void run_block_v4(run_ctx *ctx, int64_t b0, int mb, int64_t cb, const workspace *ws) {
    run_block(ctx, b0, mb, cb, ws, 4);
}
TARGET_V3 static void run_block_v3(run_ctx *ctx, int64_t b0, int mb, int64_t cb, const workspace *ws) {
    run_block(ctx, b0, mb, cb, ws, 3);
}
#endif
static void run_block_v0(run_ctx *ctx, int64_t b0, int mb, int64_t cb, const workspace *ws) {
    run_block(ctx, b0, mb, cb, ws, 0);
}

/* Piece k of the job, on the scratch of the thread that runs it (thread_pool.h),
 * in the default floating-point environment (fp_env.h), whatever the thread's.
 * The pieces are (column block, block of samples), column block outer: the
 * threads work through one column block's weights (its row blocks: 256 KiB
 * each) at a time, which stay in cache, rather than all of a product's. */
static void run_one_block(void *arg, int64_t k, void *scratch) {
    run_ctx *ctx = arg;
    char *base = scratch;
    const workspace ws = {(uint8_t *)(base + ctx->scratch.x), (float *)(base + ctx->scratch.xeff),
                          (float *)(base + ctx->scratch.acc), (float *)(base + ctx->scratch.readout),
                          (int8_t *)(base + ctx->scratch.part)};
    const int64_t cb = k / ctx->sample_blocks, b0 = (k % ctx->sample_blocks) * BLOCK;
    const int mb = (int)(ctx->batch - b0 < BLOCK ? ctx->batch - b0 : BLOCK);
    const hil_fp_state fp = hil_fp_enter();
#if HIL_X86_DISPATCH
    if (ctx->level == 4)
        run_block_v4(ctx, b0, mb, cb, &ws);
    else if (ctx->level == 3)
        run_block_v3(ctx, b0, mb, cb, &ws);
    else
#endif
        run_block_v0(ctx, b0, mb, cb, &ws);
    hil_fp_leave(fp);
}

/* Sizes are checked in 64 bits against explicit bounds, before any is multiplied. */
#define MAX_SAMPLES ((int64_t)1 << 40)
#define MAX_EXTENT ((int64_t)1 << 40) /* rows or columns of a product */

static int bad_parameters(const bss2_mac *p) {
    return p->n_in <= 0 || p->n_in > BSS2_MAX_INPUTS || p->n_hemi <= 0 || p->n_col <= 0 ||
           p->n_col % V4_NR != 0 || (int64_t)p->n_hemi * p->n_col > BSS2_COUNTER_NEURONS ||
           p->live == NULL || p->knee_pos == NULL || p->knee_neg == NULL || p->rail_pos == NULL ||
           p->rail_neg == NULL || p->sigma_read == NULL || p->sigma_base == NULL ||
           p->adc_frac == NULL || p->cadc_slope == NULL || p->adc_int == NULL ||
           p->code_map == NULL;
}

/* Checks what every job needs and fills the common part of ctx; -1 if refused. */
static int start_job(run_ctx *ctx, const bss2_mac *p, const float *pulses, const double *scale,
                     const uint8_t *x, int64_t batch, int64_t rows, int64_t cols, int64_t sample0,
                     int64_t *bad) {
    if (p == NULL || pulses == NULL || scale == NULL || x == NULL || bad == NULL ||
        batch < 0 || batch > MAX_SAMPLES || sample0 < 0 || sample0 > MAX_SAMPLES ||
        rows < 1 || rows > MAX_EXTENT || cols < 1 || cols > MAX_EXTENT)
        return -1;
    ctx->p = *p; /* read once: what is checked here is what the job uses */
    /* batch * rows < 2^54 (a flat index of x, times 256, fits int64: note_bad),
     * batch * cols < 2^61 (out's elements, times 8 bytes, fit int64) */
    if (bad_parameters(&ctx->p) ||
        (batch > 0 && (rows > ((int64_t)1 << 54) / batch || cols > ((int64_t)1 << 60) / batch)))
        return -1;
    const int64_t n_tot = (int64_t)ctx->p.n_hemi * ctx->p.n_col;
    bad[0] = bad[1] = -1;
    ctx->pulses = pulses;
    ctx->scale = scale;
    ctx->x = x;
    ctx->batch = batch;
    ctx->rows = rows;
    ctx->cols = cols;
    ctx->nrb = (rows + ctx->p.n_in - 1) / ctx->p.n_in;
    ctx->ncb = (cols + n_tot - 1) / n_tot;
    ctx->out8 = NULL;
    ctx->out64 = NULL;
    ctx->level = bss2_isa();
    ctx->scratch = workspace_layout(&ctx->p);
    ctx->bad = -1;
    return 0;
}

static int finish_job(run_ctx *ctx, int64_t *bad) {
    const hil_fp_state fp = hil_fp_enter();
    hil_bss2_readout_init(&ctx->readout, &ctx->p, ctx->readout.sample0);
    hil_fp_leave(fp);
    ctx->sample_blocks = (ctx->batch + BLOCK - 1) / BLOCK;
    const int status = hil_pool_run(ctx->ncb * ctx->sample_blocks, ctx->scratch.bytes, run_one_block, ctx);
    if (status != 0) return status;
    if (ctx->bad >= 0) {
        bad[0] = ctx->bad / 256;
        bad[1] = ctx->bad % 256;
        return 1;
    }
    return 0;
}

int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                 const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                 uint64_t key, int8_t *out, int64_t *bad) {
    run_ctx ctx;
    if (p == NULL || weights == NULL || out == NULL ||
        start_job(&ctx, p, pulses, scale, x, batch, p->n_in, (int64_t)p->n_hemi * p->n_col, sample0,
                  bad) != 0)
        return -1;
    /* One chip block, its size from the parameters as start_job copied them. */
    ctx.rows = ctx.p.n_in;
    ctx.cols = (int64_t)ctx.p.n_hemi * ctx.p.n_col;
    ctx.nrb = ctx.ncb = 1;
    const float *const blocks[1] = {weights};
    ctx.weights = blocks;
    ctx.single_key = 1;
    ctx.key = key;
    ctx.out8 = out;
    ctx.readout.sample0 = sample0;
    return finish_job(&ctx, bad);
}

int bss2_mac_product(const bss2_mac *p, const float *const *weights, int64_t n_blocks,
                     const float *pulses, const double *scale, const uint8_t *x, int64_t batch,
                     int64_t rows, int64_t cols, uint64_t seed, uint64_t run0, uint64_t run_stride,
                     int64_t *out, int64_t *bad) {
    run_ctx ctx;
    if (weights == NULL || out == NULL ||
        start_job(&ctx, p, pulses, scale, x, batch, rows, cols, 0, bad) != 0 ||
        n_blocks != ctx.nrb * ctx.ncb)
        return -1;
    for (int64_t k = 0; k < n_blocks; k++)
        if (weights[k] == NULL) return -1;
    ctx.weights = weights;
    ctx.single_key = 0;
    ctx.seed = seed;
    ctx.run0 = run0;
    ctx.run_stride = run_stride;
    ctx.out64 = out;
    ctx.readout.sample0 = 0;
    return finish_job(&ctx, bad);
}
