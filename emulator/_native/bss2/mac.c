/* See bss2/mac.h.
 *
 * Layout of the MAC run: the batch is cut into blocks of BLOCK samples, handed
 * out one at a time to the calling thread and the workers of a small thread pool
 * (thread_pool.h); which thread does a block does not change its result. Per
 * block one thread copies the block's activations (reading the caller's bytes
 * once, so that the values it checks are the values it uses), and per hemisphere
 * does the driver lookup, a register-blocked matrix product (no BLAS, so no second
 * thread pool) and the readout (bss2/readout.c) as a few vectorizable passes over
 * one sample's neurons. Each hot function is compiled once per code path (isa.h).
 */
#include "bss2/mac.h"

#include <stddef.h>
#include <string.h>

#include "bss2/readout.h"
#include "compiler.h"
#include "isa.h"
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
/* The run                                                                              */
/* ---------------------------------------------------------------------------------- */

#define BLOCK 24 /* samples per block: a multiple of every tile's rows */

/* A thread's scratch for one block, 64-byte aligned pieces (offsets in bytes). */
typedef struct {
    size_t xeff;    /* BLOCK x n_in floats: the pulse lengths, for the tiles without the lookup */
    size_t acc;     /* BLOCK x n_col floats */
    size_t readout; /* the readout's floats (bss2/readout.h) */
    size_t x;       /* BLOCK x n_in bytes: the block's activations */
    size_t bytes;   /* the whole */
} layout;

typedef struct {
    uint8_t *x;
    float *xeff;
    float *acc;
    float *readout;
} workspace;

static size_t round64(size_t bytes) { return (bytes + 63) / 64 * 64; }

static layout workspace_layout(const bss2_mac *p) {
    const size_t n_in = (size_t)p->n_in, n_col = (size_t)p->n_col;
    layout l;
    l.xeff = 0;
    l.acc = l.xeff + round64(BLOCK * n_in * sizeof(float));
    l.readout = l.acc + round64(BLOCK * n_col * sizeof(float));
    l.x = l.readout + round64(hil_bss2_readout_scratch(n_col) * sizeof(float));
    l.bytes = l.x + round64(BLOCK * n_in);
    return l;
}

typedef struct {
    bss2_mac p; /* the caller's parameters, read once */
    const float *weights;
    const float *pulses;
    const double *scale;
    const uint8_t *x;
    int8_t *out;
    int64_t batch;
    int level;     /* the code path of the whole run */
    layout scratch;
    bss2_readout readout;
    int64_t bad;   /* flat index of the first activation above 31 found, or -1 */
} run_ctx;

/* Records a bad activation at flat index i (blocks run on several threads). */
static void note_bad(run_ctx *ctx, int64_t i) {
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

/* Samples b0 .. b0+mb-1 (mb <= BLOCK) of the run. L is the code path (4, 3, 0),
 * a constant once inlined into the per-target wrappers below. */
ALWAYS_INLINE void run_block(run_ctx *restrict ctx, int64_t b0, int mb,
                             const workspace *restrict ws, const int L) {
    const bss2_mac *p = &ctx->p;
    const int n_in = p->n_in, n_col = p->n_col;
    const int MR = L == 4 ? V4_MR : (L == 3 ? V3_MR : V0_MR);
    const int NR = L == 4 ? V4_NR : (L == 3 ? V3_NR : V0_NR);
    double s[BLOCK];

    /* The activations, copied: the caller's bytes are read once, so the values checked
     * here are the values used below. One OR over all bytes finds whether any is
     * above 31. */
    const uint8_t *restrict xb = ws->x;
    uint8_t any = 0;
    for (int r = 0; r < mb; r++) {
        const uint8_t *restrict xr = ctx->x + (b0 + r) * n_in;
        uint8_t *restrict cr = ws->x + (int64_t)r * n_in;
        int events = 0;
        for (int i = 0; i < n_in; i++) {
            const uint8_t a = xr[i];
            cr[i] = a;
            any |= a;
            events += a != 0;
        }
        s[r] = ctx->scale[events];
    }
    if (any > 31) {
        for (int64_t k = 0; k < (int64_t)mb * n_in; k++)
            if (xb[k] > 31) {
                note_bad(ctx, b0 * n_in + k);
                break;
            }
        return;
    }
    if (bad_seen(ctx) >= 0) return; /* the run fails: the rest is not needed */

    for (int h = 0; h < p->n_hemi; h++) {
        /* Driver lookup and matrix product, one column panel at a time (the panel
         * stays in L1 across the rows of the block). The AVX-512 tile does the
         * lookup itself; the narrower ones, with 4x or 8x more panels, read it
         * from xeff. */
        const float *tab = ctx->pulses + (int64_t)h * n_in * 32;
        const float *wh = ctx->weights + (int64_t)h * n_in * n_col;
        if (L != 4)
            for (int r = 0; r < mb; r++) {
                const uint8_t *restrict xr = xb + (int64_t)r * n_in;
                float *restrict er = ws->xeff + (int64_t)r * n_in;
                for (int i = 0; i < n_in; i++) er[i] = tab[(int64_t)i * 32 + xr[i]];
            }
        for (int j0 = 0; j0 < n_col; j0 += NR) {
            int r = 0;
            for (; r + MR <= mb; r += MR) {
                float *cr = ws->acc + (int64_t)r * n_col + j0;
#if HIL_X86_DISPATCH
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
#if HIL_X86_DISPATCH
        if (L == 4)
            hil_bss2_readout_v4(&ctx->readout, ws->acc, s, b0, mb, h, ctx->out, ws->readout);
        else if (L == 3)
            hil_bss2_readout_v3(&ctx->readout, ws->acc, s, b0, mb, h, ctx->out, ws->readout);
        else
#endif
            hil_bss2_readout_v0(&ctx->readout, ws->acc, s, b0, mb, h, ctx->out, ws->readout);
    }
}

#if HIL_X86_DISPATCH
TARGET_V4 static void run_block_v4(run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 4);
}
TARGET_V3 static void run_block_v3(run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 3);
}
#endif
static void run_block_v0(run_ctx *ctx, int64_t b0, int mb, const workspace *ws) {
    run_block(ctx, b0, mb, ws, 0);
}

/* Block k of the run, on the scratch of the thread that runs it (thread_pool.h). */
static void run_one_block(void *arg, int64_t k, void *scratch) {
    run_ctx *ctx = arg;
    char *base = scratch;
    const workspace ws = {(uint8_t *)(base + ctx->scratch.x), (float *)(base + ctx->scratch.xeff),
                          (float *)(base + ctx->scratch.acc), (float *)(base + ctx->scratch.readout)};
    const int64_t b0 = k * BLOCK;
    const int mb = (int)(ctx->batch - b0 < BLOCK ? ctx->batch - b0 : BLOCK);
#if HIL_X86_DISPATCH
    if (ctx->level == 4)
        run_block_v4(ctx, b0, mb, &ws);
    else if (ctx->level == 3)
        run_block_v3(ctx, b0, mb, &ws);
    else
#endif
        run_block_v0(ctx, b0, mb, &ws);
}

static int bad_parameters(const bss2_mac *p) {
    return p->n_in <= 0 || p->n_hemi <= 0 || p->n_col <= 0 || p->n_col % 64 != 0 ||
           (int64_t)p->n_hemi * p->n_col > BSS2_COUNTER_NEURONS || p->live == NULL ||
           p->knee_pos == NULL || p->knee_neg == NULL || p->rail_pos == NULL ||
           p->rail_neg == NULL || p->sigma_read == NULL || p->sigma_base == NULL ||
           p->adc_frac == NULL || p->cadc_slope == NULL || p->adc_int == NULL ||
           p->code_map == NULL;
}

int bss2_mac_run(const bss2_mac *p, const float *weights, const float *pulses,
                 const double *scale, const uint8_t *x, int64_t batch, int64_t sample0,
                 uint64_t key, int8_t *out, int64_t *bad_index) {
    if (p == NULL || weights == NULL || pulses == NULL || scale == NULL || x == NULL ||
        out == NULL || bad_index == NULL || batch < 0 || sample0 < 0 ||
        sample0 > ((int64_t)1 << 40) || batch > ((int64_t)1 << 40))
        return -1;
    run_ctx ctx;
    ctx.p = *p; /* read once: what is checked here is what the run uses */
    if (bad_parameters(&ctx.p) || (batch > 0 && ctx.p.n_in > ((int64_t)1 << 62) / batch))
        return -1;
    *bad_index = -1;
    ctx.weights = weights;
    ctx.pulses = pulses;
    ctx.scale = scale;
    ctx.x = x;
    ctx.out = out;
    ctx.batch = batch;
    ctx.level = bss2_isa();
    ctx.scratch = workspace_layout(&ctx.p);
    ctx.bad = -1;
    hil_bss2_readout_init(&ctx.readout, &ctx.p, key, sample0);

    const int status = hil_pool_run((batch + BLOCK - 1) / BLOCK, ctx.scratch.bytes, run_one_block, &ctx);
    if (status != 0) return status;
    if (ctx.bad >= 0) {
        *bad_index = ctx.bad;
        return 1;
    }
    return 0;
}
