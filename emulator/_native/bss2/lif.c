/* See bss2/lif.h.
 *
 * A run. bss2_lif_run copies the configuration (read once), checks the scalars, and
 * copies the events once into the core's own table, checking each as it is read
 * (time, trial, order) and noting the grid step it takes effect at, ceil(8 t / step).
 * Then each item (trial, hemisphere) goes through the steps k of its trial as
 * spiking.run_reference does:
 *
 *   1. the events of step k, in order: for each driver of the hemisphere that takes
 *      the event (the route table, drivers in ascending order) its plasticity (double,
 *      libm exp), then its two rows: every synapse whose label is the event's address
 *      adds efficacy * scale (float32) to its neuron's excitatory or inhibitory current.
 *      A neuron only ever receives from its own hemisphere's drivers, so these additions
 *      reach each neuron in the reference's order;
 *   2. the deviates of counter (trial * steps + k) * 512 + neuron of the membrane
 *      stream: the high halves for the membrane noise, the low halves for the CADC
 *      read (drawn only on a step that has a CADC sample);
 *   3. the CADC and MADC samples of step k read the membrane before the update;
 *   4. the update of the 256 neurons (16 lanes with AVX-512, 8 with AVX2, 1 in the
 *      portable code: the same float32 operations in the same order), the spikes.
 *
 * The spikes of an item go to a buffer of its own that grows by doubling (sizes in
 * 64 bits, growth checked); bss2_lif_spikes_take merges the two hemispheres of each
 * trial by time (neurons of hemisphere 0 come before those of hemisphere 1).
 */
#include "bss2/lif.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "fp_env.h"
#include "isa.h"
#include "rng.h"
#include "thread_pool.h"

#define NH 2
#define NC BSS2_LIF_COLUMNS
#define ND BSS2_LIF_DRIVERS
#define NR BSS2_LIF_ROWS
#define FPGA_CYCLE_S (1.0 / 125e6) /* the same double as geometry.FPGA_CYCLE_S */

#if defined(__GNUC__)
#define ATOMIC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ATOMIC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define ATOMIC_ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)
#else /* without GCC builtins there is no thread pool either (thread_pool.c) */
#define ATOMIC_STORE(x, v) ((x) = (v))
#define ATOMIC_LOAD(x) (x)
#define ATOMIC_ADD(x, v) ((x) += (v))
#endif

/* ---------------------------------------------------------------------------------- */
/* exp_f32: emulator.bss2.spiking.exp_f32, the same float32 operations                 */
/* ---------------------------------------------------------------------------------- */

#define EXP_LOG2E 0x1.715476p+0f
#define EXP_LN2_HI 0x1.63p-1f
#define EXP_LN2_LO -0x1.bd0106p-13f
#define EXP_ROUND 0x1.8p+23f   /* t + 1.5 * 2^23 rounds t to an integer, |t| < 2^22 */
#define EXP_ROUND_BITS 0x4B400000u
#define EXP_P0 0x1.a0d2cep-13f
#define EXP_P1 0x1.6e879cp-10f
#define EXP_P2 0x1.11121p-7f
#define EXP_P3 0x1.555382p-5f
#define EXP_P4 0x1.555554p-3f
#define EXP_P5 0x1p-1f
#define EXPONENT_MAX 20.0f
#define EXPONENT_MIN -80.0f

static inline uint32_t f2u(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float u2f(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* x in EXPONENT_MIN..EXPONENT_MAX. n = round(x log2 e) is t - ROUND, and as an integer
 * the bits of t minus those of ROUND (t lies in ROUND's binade, one unit per bit);
 * 2^n is built from its bits (n + 127 in the exponent field), so y * 2^n is exact, as
 * numpy's ldexp. Unsigned arithmetic: whatever t holds, nothing is undefined. */
static inline float exp_f32(float x) {
    const float t = x * EXP_LOG2E + EXP_ROUND;
    const float n = t - EXP_ROUND;
    const float r = (x - n * EXP_LN2_HI) - n * EXP_LN2_LO;
    float y = EXP_P0 * r + EXP_P1;
    y = y * r + EXP_P2;
    y = y * r + EXP_P3;
    y = y * r + EXP_P4;
    y = y * r + EXP_P5;
    y = (y * (r * r) + r) + 1.0f;
    return y * u2f((f2u(t) - EXP_ROUND_BITS + 127u) << 23);
}

/* ---------------------------------------------------------------------------------- */
/* The state of one item                                                               */
/* ---------------------------------------------------------------------------------- */

typedef struct {
    int32_t step, time; /* grid step it takes effect at; FPGA cycle */
    uint16_t label;
    uint16_t pad;
} event_t;

/* A spike: its grid step (not its FPGA time: with steps shorter than a cycle two steps
 * share a time, and run_reference orders spikes by step, then neuron). */
typedef struct {
    int32_t step;
    uint16_t neuron;
    uint16_t pad;
} spike_t;

typedef struct {
    spike_t *v;
    int64_t n, cap;
} spike_buf;

struct bss2_lif_spikes {
    int64_t n_trials, trial0, step_ns, total;
    spike_buf *items; /* 2 per trial: item trial * 2 + hemisphere */
};

/* One hemisphere's parameters (pointers into the copied bss2_lif, from h * 256 on). */
typedef struct {
    const float *pm, *pe, *pi, *se, *si, *v_inf, *v_leak, *v_reset, *v_th, *noise;
    const float *h_tm, *h_tw, *a, *b, *dt_exp, *v_t;
    const int32_t *hold;
} hemi_params;

/* The scratch of a thread: the state of the item it runs. */
typedef struct {
    float V[NC] ALIGN64;
    float ie[NC] ALIGN64;
    float ii[NC] ALIGN64;
    float w[NC] ALIGN64;
    int32_t hold[NC] ALIGN64;
    float xi[NC] ALIGN64; /* membrane deviates of the step */
    float rd[NC] ALIGN64; /* CADC read deviates of the step */
    int32_t live[NC] ALIGN64, adapt[NC] ALIGN64, expo[NC] ALIGN64; /* lane masks: -1 or 0 */
    uint16_t live16[NC / 16], adapt16[NC / 16], expo16[NC / 16];   /* the same, 16 lanes a word */
    uint32_t fired[NC / 32];                                         /* the step's spikes, a bit per neuron */
    double R[ND];                                                    /* plasticity resources */
    int64_t last[ND];                                                /* cycle of a driver's last event, -1 */
    hemi_params p;
} hemi_state;

typedef struct {
    bss2_lif p; /* read once */
    int64_t n_trials, trial0, duration, steps, step_ns, cadc_period, cadc_samples, madc_samples;
    int64_t madc_neuron;
    int noisy, adex, level;
    uint64_t key_membrane, key_madc;
    const event_t *events;
    const int64_t *first; /* the events of trial t: first[t] .. first[t + 1] - 1 */
    uint8_t *cadc;
    uint16_t *madc;
    spike_buf *items;
    int failed;          /* -2: an item could not grow its spike buffer; -3: too many spikes (atomic) */
    int64_t spikes;      /* spikes recorded so far by all items (atomic) */
} run_ctx;

/* ---------------------------------------------------------------------------------- */
/* The neuron update of one step, per code path                                        */
/* ---------------------------------------------------------------------------------- */

/* The portable path, one neuron at a time: the definition of the order of operations
 * (run_reference's expressions, left to right). */
static void update_v0(hemi_state *restrict s, const float *restrict xi, int adex) {
    const hemi_params *p = &s->p;
    memset(s->fired, 0, sizeof s->fired);
    for (int i = 0; i < NC; i++) {
        const float v = s->V[i];
        float x = p->v_inf[i] + (v - p->v_inf[i]) * p->pm[i];
        x = x + s->ie[i] * p->pe[i];
        x = x - s->ii[i] * p->pi[i];
        x = x + p->noise[i] * xi[i];
        float w = s->w[i];
        if (adex) {
            float arg = (v - p->v_t[i]) / p->dt_exp[i];
            arg = EXPONENT_MAX < arg ? EXPONENT_MAX : arg; /* numpy's minimum: a NaN stays */
            arg = EXPONENT_MIN > arg ? EXPONENT_MIN : arg;
            const float e = p->dt_exp[i] * exp_f32(arg);
            float drive = s->expo[i] ? e : 0.0f;
            drive = drive - (s->adapt[i] ? w : 0.0f);
            x = x + p->h_tm[i] * drive;
            if (s->adapt[i]) w = w + p->h_tw[i] * (p->a[i] * (v - p->v_leak[i]) - w);
        }
        const int live = s->live[i] != 0, hold = s->hold[i];
        const int free = live && hold == 0;
        float vn = free ? x : p->v_reset[i];
        int hn = live ? (free ? hold : hold - 1) : 0;
        s->ie[i] = s->ie[i] * p->se[i];
        s->ii[i] = s->ii[i] * p->si[i];
        if (free && vn >= p->v_th[i]) {
            vn = p->v_reset[i];
            hn = p->hold[i];
            if (s->adapt[i]) w = w + p->b[i];
            s->fired[i / 32] |= 1u << (i % 32);
        }
        s->V[i] = vn;
        s->hold[i] = hn;
        s->w[i] = w;
    }
}

#if HIL_X86_DISPATCH
TARGET_V4 ALWAYS_INLINE __m512 exp_v4(__m512 x) {
    const __m512 round = _mm512_set1_ps(EXP_ROUND);
    const __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(EXP_LOG2E)), round);
    const __m512 n = _mm512_sub_ps(t, round);
    const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_HI))),
                                   _mm512_mul_ps(n, _mm512_set1_ps(EXP_LN2_LO)));
    __m512 y = _mm512_add_ps(_mm512_mul_ps(_mm512_set1_ps(EXP_P0), r), _mm512_set1_ps(EXP_P1));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(EXP_P2));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(EXP_P3));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(EXP_P4));
    y = _mm512_add_ps(_mm512_mul_ps(y, r), _mm512_set1_ps(EXP_P5));
    y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(y, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    const __m512i e = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32((int)EXP_ROUND_BITS)),
                         _mm512_set1_epi32(127)),
        23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

/* update_v0 16 neurons at a time. xi NULL: the deviates are drawn here, in registers,
 * from the membrane stream at counter c0 on (noisy chip, a step without CADC read). */
TARGET_V4 static void update_v4(hemi_state *restrict s, const float *restrict xi, uint64_t key,
                                uint64_t c0, int adex) {
    const hemi_params *p = &s->p;
    normal_pairs_v4 rng;
    normal_pairs_init_v4(&rng, key, 1);
    normal_pairs_seek_v4(&rng, c0);
    const __m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
    const __m512 hi = _mm512_set1_ps(EXPONENT_MAX), lo = _mm512_set1_ps(EXPONENT_MIN);
    for (int j = 0; j < NC / 16; j++) {
        const int o = 16 * j;
        const __m512 z = xi == NULL ? normal_pairs_next_high_v4(&rng) : _mm512_load_ps(xi + o);
        const __m512 v = _mm512_load_ps(s->V + o), vinf = _mm512_loadu_ps(p->v_inf + o);
        __m512 ie = _mm512_load_ps(s->ie + o), ii = _mm512_load_ps(s->ii + o);
        __m512 x = _mm512_add_ps(vinf, _mm512_mul_ps(_mm512_sub_ps(v, vinf), _mm512_loadu_ps(p->pm + o)));
        x = _mm512_add_ps(x, _mm512_mul_ps(ie, _mm512_loadu_ps(p->pe + o)));
        x = _mm512_sub_ps(x, _mm512_mul_ps(ii, _mm512_loadu_ps(p->pi + o)));
        x = _mm512_add_ps(x, _mm512_mul_ps(_mm512_loadu_ps(p->noise + o), z));
        __m512 w = _mm512_setzero_ps();
        const __mmask16 adapt = s->adapt16[j];
        if (adex) {
            w = _mm512_load_ps(s->w + o);
            const __m512 dte = _mm512_loadu_ps(p->dt_exp + o);
            __m512 arg = _mm512_div_ps(_mm512_sub_ps(v, _mm512_loadu_ps(p->v_t + o)), dte);
            arg = _mm512_min_ps(hi, arg); /* hi < arg ? hi : arg, as update_v0 */
            arg = _mm512_max_ps(lo, arg);
            __m512 drive = _mm512_maskz_mov_ps(s->expo16[j], _mm512_mul_ps(dte, exp_v4(arg)));
            drive = _mm512_sub_ps(drive, _mm512_maskz_mov_ps(adapt, w));
            x = _mm512_add_ps(x, _mm512_mul_ps(_mm512_loadu_ps(p->h_tm + o), drive));
            const __m512 dw = _mm512_sub_ps(
                _mm512_mul_ps(_mm512_loadu_ps(p->a + o), _mm512_sub_ps(v, _mm512_loadu_ps(p->v_leak + o))), w);
            w = _mm512_mask_add_ps(w, adapt, w, _mm512_mul_ps(_mm512_loadu_ps(p->h_tw + o), dw));
        }
        const __mmask16 live = s->live16[j];
        const __m512i hold = _mm512_load_si512(s->hold + o);
        const __mmask16 free = _mm512_mask_cmpeq_epi32_mask(live, hold, zero);
        const __m512 vres = _mm512_loadu_ps(p->v_reset + o);
        __m512 vn = _mm512_mask_mov_ps(vres, free, x);
        __m512i hn = _mm512_maskz_mov_epi32(live, _mm512_mask_sub_epi32(hold, (__mmask16)~free, hold, one));
        _mm512_store_ps(s->ie + o, _mm512_mul_ps(ie, _mm512_loadu_ps(p->se + o)));
        _mm512_store_ps(s->ii + o, _mm512_mul_ps(ii, _mm512_loadu_ps(p->si + o)));
        const __mmask16 fired = _mm512_mask_cmp_ps_mask(free, vn, _mm512_loadu_ps(p->v_th + o), _CMP_GE_OQ);
        vn = _mm512_mask_mov_ps(vn, fired, vres);
        hn = _mm512_mask_mov_epi32(hn, fired, _mm512_loadu_si512(p->hold + o));
        _mm512_store_ps(s->V + o, vn);
        _mm512_store_si512(s->hold + o, hn);
        if (adex) _mm512_store_ps(s->w + o, _mm512_mask_add_ps(w, fired & adapt, w, _mm512_loadu_ps(p->b + o)));
        if (j % 2 == 0)
            s->fired[j / 2] = fired;
        else
            s->fired[j / 2] |= (uint32_t)fired << 16;
    }
}

/* The deviate pairs of the 256 neurons from counter c0 on, into xi and rd. */
TARGET_V4 static void normal_pairs_hemi_v4(uint64_t key, uint64_t c0, float *restrict xi, float *restrict rd) {
    normal_pairs_v4 rng;
    normal_pairs_init_v4(&rng, key, 1);
    normal_pairs_seek_v4(&rng, c0);
    for (int o = 0; o < NC; o += 16) {
        __m512 a, b;
        normal_pairs_next_v4(&rng, &a, &b);
        _mm512_store_ps(xi + o, a);
        _mm512_store_ps(rd + o, b);
    }
}

TARGET_V3 ALWAYS_INLINE __m256 exp_v3(__m256 x) {
    const __m256 round = _mm256_set1_ps(EXP_ROUND);
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(EXP_LOG2E)), round);
    const __m256 n = _mm256_sub_ps(t, round);
    const __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_HI))),
                                   _mm256_mul_ps(n, _mm256_set1_ps(EXP_LN2_LO)));
    __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(EXP_P0), r), _mm256_set1_ps(EXP_P1));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(EXP_P2));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(EXP_P3));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(EXP_P4));
    y = _mm256_add_ps(_mm256_mul_ps(y, r), _mm256_set1_ps(EXP_P5));
    y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(y, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    const __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32((int)EXP_ROUND_BITS)),
                         _mm256_set1_epi32(127)),
        23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

/* update_v0 8 neurons at a time (the deviates in xi). blendv(a, b, m): m ? b : a. */
TARGET_V3 static void update_v3(hemi_state *restrict s, const float *restrict xi, int adex) {
    const hemi_params *p = &s->p;
    const __m256i one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
    const __m256 hi = _mm256_set1_ps(EXPONENT_MAX), lo = _mm256_set1_ps(EXPONENT_MIN);
    for (int j = 0; j < NC / 8; j++) {
        const int o = 8 * j;
        const __m256 v = _mm256_load_ps(s->V + o), vinf = _mm256_loadu_ps(p->v_inf + o);
        const __m256 ie = _mm256_load_ps(s->ie + o), ii = _mm256_load_ps(s->ii + o);
        __m256 x = _mm256_add_ps(vinf, _mm256_mul_ps(_mm256_sub_ps(v, vinf), _mm256_loadu_ps(p->pm + o)));
        x = _mm256_add_ps(x, _mm256_mul_ps(ie, _mm256_loadu_ps(p->pe + o)));
        x = _mm256_sub_ps(x, _mm256_mul_ps(ii, _mm256_loadu_ps(p->pi + o)));
        x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_loadu_ps(p->noise + o), _mm256_load_ps(xi + o)));
        __m256 w = _mm256_setzero_ps();
        const __m256 adapt = _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)(s->adapt + o)));
        if (adex) {
            w = _mm256_load_ps(s->w + o);
            const __m256 dte = _mm256_loadu_ps(p->dt_exp + o);
            const __m256 expo = _mm256_castsi256_ps(_mm256_load_si256((const __m256i *)(s->expo + o)));
            __m256 arg = _mm256_div_ps(_mm256_sub_ps(v, _mm256_loadu_ps(p->v_t + o)), dte);
            arg = _mm256_min_ps(hi, arg);
            arg = _mm256_max_ps(lo, arg);
            __m256 drive = _mm256_and_ps(expo, _mm256_mul_ps(dte, exp_v3(arg)));
            drive = _mm256_sub_ps(drive, _mm256_and_ps(adapt, w));
            x = _mm256_add_ps(x, _mm256_mul_ps(_mm256_loadu_ps(p->h_tm + o), drive));
            const __m256 dw = _mm256_sub_ps(
                _mm256_mul_ps(_mm256_loadu_ps(p->a + o), _mm256_sub_ps(v, _mm256_loadu_ps(p->v_leak + o))), w);
            w = _mm256_blendv_ps(w, _mm256_add_ps(w, _mm256_mul_ps(_mm256_loadu_ps(p->h_tw + o), dw)), adapt);
        }
        const __m256i live = _mm256_load_si256((const __m256i *)(s->live + o));
        const __m256i hold = _mm256_load_si256((const __m256i *)(s->hold + o));
        const __m256i freei = _mm256_and_si256(live, _mm256_cmpeq_epi32(hold, zero));
        const __m256 free = _mm256_castsi256_ps(freei);
        const __m256 vres = _mm256_loadu_ps(p->v_reset + o);
        __m256 vn = _mm256_blendv_ps(vres, x, free);
        __m256i hn = _mm256_and_si256(live, _mm256_blendv_epi8(_mm256_sub_epi32(hold, one), hold, freei));
        _mm256_store_ps(s->ie + o, _mm256_mul_ps(ie, _mm256_loadu_ps(p->se + o)));
        _mm256_store_ps(s->ii + o, _mm256_mul_ps(ii, _mm256_loadu_ps(p->si + o)));
        const __m256 fired = _mm256_and_ps(free, _mm256_cmp_ps(vn, _mm256_loadu_ps(p->v_th + o), _CMP_GE_OQ));
        vn = _mm256_blendv_ps(vn, vres, fired);
        hn = _mm256_blendv_epi8(hn, _mm256_loadu_si256((const __m256i *)(p->hold + o)), _mm256_castps_si256(fired));
        _mm256_store_ps(s->V + o, vn);
        _mm256_store_si256((__m256i *)(s->hold + o), hn);
        if (adex)
            _mm256_store_ps(s->w + o, _mm256_blendv_ps(w, _mm256_add_ps(w, _mm256_loadu_ps(p->b + o)),
                                                       _mm256_and_ps(fired, adapt)));
        const uint32_t bits = (uint32_t)_mm256_movemask_ps(fired);
        if (j % 4 == 0)
            s->fired[j / 4] = bits;
        else
            s->fired[j / 4] |= bits << (8 * (j % 4));
    }
}
#endif

/* ---------------------------------------------------------------------------------- */
/* Events: one row's synapses of an address                                            */
/* ---------------------------------------------------------------------------------- */

/* target[c] += eff[c] * scale for every column c whose label is the address. */
static void add_row_v0(float *restrict target, const float *restrict eff, const uint8_t *restrict lab,
                       int address, float scale) {
    for (int c = 0; c < NC; c++)
        if (lab[c] == address) target[c] = target[c] + eff[c] * scale;
}

#if HIL_X86_DISPATCH
/* The same, 64 labels compared at once; the sum only in the matching lanes. */
TARGET_V4 static void add_row_v4(float *restrict target, const float *restrict eff,
                                 const uint8_t *restrict lab, int address, float scale) {
    const __m512i a = _mm512_set1_epi8((char)address);
    const __m512 sc = _mm512_set1_ps(scale);
    for (int c = 0; c < NC; c += 64) {
        const uint64_t m = _mm512_cmpeq_epi8_mask(_mm512_loadu_si512(lab + c), a);
        if (m == 0) continue;
        for (int q = 0; q < 4; q++) {
            const __mmask16 k = (__mmask16)(m >> (16 * q));
            if (k == 0) continue;
            float *t = target + c + 16 * q;
            const __m512 tv = _mm512_load_ps(t);
            _mm512_store_ps(t, _mm512_mask_add_ps(tv, k, tv, _mm512_mul_ps(_mm512_loadu_ps(eff + c + 16 * q), sc)));
        }
    }
}

/* The same with AVX2: 32 labels compared at once, the lanes of 8 columns selected by a blend. */
TARGET_V3 static void add_row_v3(float *restrict target, const float *restrict eff,
                                 const uint8_t *restrict lab, int address, float scale) {
    const __m256i a = _mm256_set1_epi8((char)address);
    const __m256i lane = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256 sc = _mm256_set1_ps(scale);
    for (int c = 0; c < NC; c += 32) {
        const uint32_t m = (uint32_t)_mm256_movemask_epi8(
            _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(lab + c)), a));
        if (m == 0) continue;
        for (int q = 0; q < 4; q++) {
            const int k = (int)((m >> (8 * q)) & 0xFF);
            if (k == 0) continue;
            const __m256 sel = _mm256_castsi256_ps(
                _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(k), lane), lane));
            float *t = target + c + 8 * q;
            const __m256 tv = _mm256_load_ps(t);
            const __m256 sum = _mm256_add_ps(tv, _mm256_mul_ps(_mm256_loadu_ps(eff + c + 8 * q), sc));
            _mm256_store_ps(t, _mm256_blendv_ps(tv, sum, sel));
        }
    }
}
#endif

static inline int ctz64(uint64_t v) { /* v != 0 */
#if defined(__GNUC__)
    return __builtin_ctzll(v);
#else
    int n = 0;
    while (!(v & 1)) {
        v >>= 1;
        n++;
    }
    return n;
#endif
}

/* The event ev on hemisphere h's drivers and rows (step 1 at the top of this file). */
static void apply_event(const run_ctx *ctx, hemi_state *restrict s, int h, const event_t *ev, int L) {
    const bss2_lif *p = &ctx->p;
    const int label = ev->label, address = label & 63;
    const int route = (label >> 14) * 32 + ((label >> 6) & 31);
    const uint64_t *words = p->routes + ((int64_t)h * BSS2_LIF_ROUTES + route) * 2;
    for (int wi = 0; wi < 2; wi++) {
        for (uint64_t bits = words[wi]; bits != 0; bits &= bits - 1) {
            const int d = wi * 64 + ctz64(bits), hd = h * ND + d;
            float scale = 1.0f;
            if (p->stp_enable[hd]) { /* run_reference's float64 expressions, in its order */
                double r = s->R[d];
                if (s->last[d] >= 0) {
                    const double gap = (double)(ev->time - s->last[d]) * FPGA_CYCLE_S;
                    r = 1.0 - (1.0 - r) * exp(-gap / p->stp_tau[hd]);
                }
                const double used = p->stp_u[hd] * r;
                s->R[d] = r - used;
                s->last[d] = ev->time;
                scale = (float)used;
            }
            for (int row = 2 * d; row <= 2 * d + 1; row++) {
                /* A row that is off adds nothing; nor does one whose efficacies are all 0:
                 * the currents are >= +0 and efficacy * scale is +0, so the sum would be
                 * the current, bit for bit. */
                const int64_t hr = (int64_t)h * NR + row;
                if (!p->row_active[hr]) continue;
                const int mode = p->row_mode[hr];
                float *target = mode == 1 ? s->ie : s->ii;
                const float *eff = p->efficacy + hr * NC;
                const uint8_t *lab = p->labels + hr * NC;
#if HIL_X86_DISPATCH
                if (L == 4)
                    add_row_v4(target, eff, lab, address, scale);
                else if (L == 3)
                    add_row_v3(target, eff, lab, address, scale);
                else
#endif
                    add_row_v0(target, eff, lab, address, scale);
            }
        }
    }
    (void)L;
}

/* ---------------------------------------------------------------------------------- */
/* Readout                                                                              */
/* ---------------------------------------------------------------------------------- */

/* clip(floor(x), 0, hi) as an int, without a floor: below 0 (or a NaN) it is 0, from hi
 * on hi, and in between floor is the truncating conversion (x >= 0), which vectorizes. */
static inline int clamp_code(float x, int hi) {
    return !(x >= 0.0f) ? 0 : (x >= (float)hi ? hi : (int)x);
}

/* CADC sample of hemisphere h's neurons into out (256 codes). Inline, so that it is
 * compiled (and vectorized) for the code path of its caller. */
ALWAYS_INLINE void cadc_read(const run_ctx *ctx, const hemi_state *restrict s, int h, uint8_t *restrict out) {
    const bss2_lif *p = &ctx->p;
    const float *restrict off = p->cadc_offset_chip + h * NC, *restrict sl = p->cadc_slope + h * NC;
    const int16_t *restrict dig = p->cadc_offset + h * NC;
    const float sigma = p->sigma_cadc;
    for (int j = 0; j < NC; j++) {
        const int code = p->code_map[clamp_code((off[j] + sl[j] * s->V[j]) + sigma * s->rd[j], 255)] + dig[j];
        out[j] = (uint8_t)(code < 0 ? 0 : (code > 255 ? 255 : code));
    }
}

/* ---------------------------------------------------------------------------------- */
/* One item                                                                             */
/* ---------------------------------------------------------------------------------- */

/* Records a spike; -3 once the run holds more than BSS2_LIF_SPIKES_MAX (the recorder's capacity:
 * it bounds the memory a run's spikes take), -2 if the buffer cannot grow. */
static int push_spike(run_ctx *ctx, spike_buf *b, int32_t step, int neuron) {
    if (ATOMIC_ADD(ctx->spikes, 1) > BSS2_LIF_SPIKES_MAX) return -3;
    if (b->n == b->cap) {
        const int64_t cap = b->cap == 0 ? 1024 : 2 * b->cap;
        if (cap > (int64_t)(SIZE_MAX / sizeof(spike_t)) || cap > INT64_MAX / 2) return -2;
        spike_t *v = realloc(b->v, (size_t)cap * sizeof(spike_t));
        if (v == NULL) return -2;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = (spike_t){step, (uint16_t)neuron, 0};
    return 0;
}

static void run_item(run_ctx *ctx, int64_t item, hemi_state *restrict s, const int L) {
    const bss2_lif *p = &ctx->p;
    const int64_t trial = item / NH, run_trial = ctx->trial0 + trial;
    const int h = (int)(item % NH), n0 = h * NC;
    const int64_t steps = ctx->steps, step_ns = ctx->step_ns;
    spike_buf *out = &ctx->items[item];

    s->p = (hemi_params){p->pm + n0,    p->pe + n0,    p->pi + n0,    p->se + n0,     p->si + n0,
                         p->v_inf + n0, p->v_leak + n0, p->v_reset + n0, p->v_th + n0, p->noise + n0,
                         p->h_tm + n0,  p->h_tw + n0,  p->a + n0,     p->b + n0,      p->dt_exp + n0,
                         p->v_t + n0,   p->hold + n0};
    for (int i = 0; i < NC; i++) {
        const int live = p->live[n0 + i] != 0;
        s->live[i] = -live;
        s->adapt[i] = -(p->adaptation[n0 + i] != 0);
        s->expo[i] = -(p->exponential[n0 + i] != 0);
        s->V[i] = live ? p->v_leak[n0 + i] : p->v_reset[n0 + i];
        s->ie[i] = s->ii[i] = s->w[i] = 0.0f;
        s->hold[i] = 0;
        s->xi[i] = s->rd[i] = 0.0f; /* the deviates of the chip without noise */
    }
    for (int j = 0; j < NC / 16; j++) {
        unsigned l = 0, a = 0, e = 0;
        for (int i = 0; i < 16; i++) {
            l |= (unsigned)(s->live[16 * j + i] & 1) << i;
            a |= (unsigned)(s->adapt[16 * j + i] & 1) << i;
            e |= (unsigned)(s->expo[16 * j + i] & 1) << i;
        }
        s->live16[j] = (uint16_t)l;
        s->adapt16[j] = (uint16_t)a;
        s->expo16[j] = (uint16_t)e;
    }
    for (int d = 0; d < ND; d++) {
        s->R[d] = 1.0;
        s->last[d] = -1;
    }

    const event_t *ev = ctx->events + ctx->first[trial], *ev_end = ctx->events + ctx->first[trial + 1];
    int64_t c = 0, m = 0;
    int64_t cadc_at = ctx->cadc_samples > 0 ? 0 : INT64_MAX; /* step of CADC sample c */
    const int madc_here = ctx->madc_samples > 0 && ctx->madc_neuron / NC == h;
    int64_t madc_at = madc_here ? 0 : INT64_MAX; /* step of MADC sample m */
    const int madc_lane = (int)(ctx->madc_neuron % NC);
    const uint64_t key = ctx->key_membrane;

    for (int64_t k = 0; k < steps; k++) {
        for (; ev < ev_end && ev->step == k; ev++) apply_event(ctx, s, h, ev, L);
        const uint64_t c0 = ((uint64_t)run_trial * (uint64_t)steps + (uint64_t)k) * BSS2_LIF_NEURONS + (uint64_t)n0;
        const int reading = cadc_at == k;
        int fused = 0; /* the v4 update draws the membrane deviates itself */
        if (ctx->noisy) {
#if HIL_X86_DISPATCH
            if (L == 4 && reading)
                normal_pairs_hemi_v4(key, c0, s->xi, s->rd);
            else if (L == 4)
                fused = 1;
            else if (L == 3 && reading)
                hil_normal_pairs_v3(key, c0, 1, NC, s->xi, s->rd);
            else if (L == 3)
                hil_normal_high_v3(key, c0, 1, NC, s->xi);
            else
#endif
                if (reading)
                hil_normal_pairs(key, c0, 1, NC, s->xi, s->rd);
            else
                hil_normal_high(key, c0, 1, NC, s->xi);
        }
        for (; cadc_at == k; cadc_at = ++c < ctx->cadc_samples ? 8 * c * ctx->cadc_period / step_ns : INT64_MAX)
            cadc_read(ctx, s, h, ctx->cadc + ((trial * ctx->cadc_samples + c) * BSS2_LIF_NEURONS + n0));
        for (; madc_at == k; madc_at = ++m < ctx->madc_samples ? m * BSS2_LIF_MADC_PERIOD_NS / step_ns : INT64_MAX) {
            float noise = 0.0f;
            if (ctx->noisy) {
                float z;
                hil_normal_high(ctx->key_madc, (uint64_t)run_trial * (uint64_t)ctx->madc_samples + (uint64_t)m, 1, 1, &z);
                noise = p->sigma_madc * z;
            }
            const float x = (p->madc_offset + p->madc_gain * s->V[madc_lane]) + noise;
            ctx->madc[trial * ctx->madc_samples + m] = (uint16_t)clamp_code(x, 1023);
        }
#if HIL_X86_DISPATCH
        if (L == 4)
            update_v4(s, fused ? NULL : s->xi, key, c0, ctx->adex);
        else if (L == 3)
            update_v3(s, s->xi, ctx->adex);
        else
#endif
            update_v0(s, s->xi, ctx->adex);
        (void)fused;
        uint32_t any = 0;
        for (int q = 0; q < NC / 32; q++) any |= s->fired[q];
        if (any == 0) continue;
        if ((k + 1) * step_ns / 8 >= ctx->duration) continue; /* the spike's time: after the run */
        int pushed;
        for (int q = 0; q < NC / 32; q++)
            for (uint32_t bits = s->fired[q]; bits != 0; bits &= bits - 1)
                if ((pushed = push_spike(ctx, out, (int32_t)k, n0 + 32 * q + ctz64(bits))) != 0) {
                    ATOMIC_STORE(ctx->failed, pushed);
                    return;
                }
    }
}

#if HIL_X86_DISPATCH
TARGET_V4 static void run_item_v4(run_ctx *ctx, int64_t item, hemi_state *s) { run_item(ctx, item, s, 4); }
TARGET_V3 static void run_item_v3(run_ctx *ctx, int64_t item, hemi_state *s) { run_item(ctx, item, s, 3); }
#endif

/* Item k of the job on the scratch of the thread that runs it, in the default
 * floating-point environment (fp_env.h), whatever the thread's. */
static void run_one_item(void *arg, int64_t k, void *scratch) {
    run_ctx *ctx = arg;
    const hil_fp_state fp = hil_fp_enter();
#if HIL_X86_DISPATCH
    if (ctx->level == 4)
        run_item_v4(ctx, k, scratch);
    else if (ctx->level == 3)
        run_item_v3(ctx, k, scratch);
    else
#endif
        run_item(ctx, k, scratch, 0);
    hil_fp_leave(fp);
}

/* ---------------------------------------------------------------------------------- */
/* The entry points                                                                     */
/* ---------------------------------------------------------------------------------- */

static int bad_network(const bss2_lif *p) {
    const void *arrays[] = {p->pm,     p->pe,         p->pi,          p->se,       p->si,         p->v_inf,
                            p->v_leak, p->v_reset,    p->v_th,        p->noise,    p->h_tm,       p->h_tw,
                            p->a,      p->b,          p->dt_exp,      p->v_t,      p->hold,       p->live,
                            p->adaptation, p->exponential, p->efficacy, p->labels, p->row_mode, p->row_active,
                            p->routes,
                            p->stp_enable, p->stp_u, p->stp_tau,   p->cadc_offset_chip, p->cadc_slope,
                            p->code_map, p->cadc_offset};
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
        if (arrays[i] == NULL) return 1;
    for (int i = 0; i < BSS2_LIF_NEURONS; i++)
        if (p->hold[i] < 0 || p->hold[i] > BSS2_LIF_HOLD_MAX) return 1;
    for (int i = 0; i < 256; i++) /* codes: the CADC adds the digital offset to them */
        if (p->code_map[i] < 0 || p->code_map[i] > 255) return 1;
    return 0;
}

static int refuse(int64_t *bad, int field, int64_t index, int64_t value) {
    bad[0] = field;
    bad[1] = index;
    bad[2] = value;
    return 1;
}

static void free_items(spike_buf *items, int64_t n) {
    if (items == NULL) return;
    for (int64_t i = 0; i < n; i++) free(items[i].v);
    free(items);
}

int bss2_lif_run(const bss2_lif *net, const bss2_lif_stim *stim_in, uint8_t *cadc, int64_t cadc_bytes,
                 uint16_t *madc, int64_t madc_count, bss2_lif_spikes **spikes, int64_t *bad) {
    if (net == NULL || stim_in == NULL || spikes == NULL || bad == NULL) return -1;
    *spikes = NULL;
    bad[0] = bad[1] = bad[2] = -1;
    run_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.p = *net; /* read once: what is checked is what the run uses */
    const bss2_lif_stim st = *stim_in;
    if (bad_network(&ctx.p)) return -1;

    /* The scalars, each against its range before anything is computed from it. */
    if (ctx.p.step_ns < 1 || ctx.p.step_ns > BSS2_LIF_STEP_NS_MAX)
        return refuse(bad, BSS2_LIF_BAD_STEP_NS, -1, ctx.p.step_ns);
    if (st.duration < 1 || st.duration > BSS2_LIF_DURATION_MAX)
        return refuse(bad, BSS2_LIF_BAD_DURATION, -1, st.duration);
    if (st.n_trials < 1 || st.n_trials > BSS2_LIF_TRIALS_MAX)
        return refuse(bad, BSS2_LIF_BAD_N_TRIALS, -1, st.n_trials);
    if (st.trial0 < 0 || st.trial0 > BSS2_LIF_TRIALS_MAX - st.n_trials)
        return refuse(bad, BSS2_LIF_BAD_TRIAL0, -1, st.trial0);
    if (st.n_events < 0 || st.n_events > BSS2_LIF_EVENTS_MAX)
        return refuse(bad, BSS2_LIF_BAD_EVENTS, -1, st.n_events);
    if (st.cadc_period != 0 && (st.cadc_period < BSS2_LIF_CADC_PERIOD_MIN || st.cadc_period > BSS2_LIF_CADC_PERIOD_MAX))
        return refuse(bad, BSS2_LIF_BAD_CADC_PERIOD, -1, st.cadc_period);
    if (st.madc_neuron < -1 || st.madc_neuron >= BSS2_LIF_NEURONS)
        return refuse(bad, BSS2_LIF_BAD_MADC_NEURON, -1, st.madc_neuron);
    ctx.step_ns = ctx.p.step_ns;
    ctx.duration = st.duration;
    ctx.n_trials = st.n_trials;
    ctx.trial0 = st.trial0;
    ctx.steps = (8 * st.duration + ctx.step_ns - 1) / ctx.step_ns; /* <= 10^7 */
    if (ctx.steps * st.n_trials > BSS2_LIF_STEPS_TRIALS_MAX)
        return refuse(bad, BSS2_LIF_BAD_STEPS, -1, ctx.steps * st.n_trials);
    ctx.cadc_period = st.cadc_period;
    ctx.cadc_samples = st.cadc_period ? (st.duration + st.cadc_period - 1) / st.cadc_period : 0;
    ctx.madc_neuron = st.madc_neuron;
    ctx.madc_samples = st.madc_neuron >= 0 ? (8 * st.duration + BSS2_LIF_MADC_PERIOD_NS - 1) / BSS2_LIF_MADC_PERIOD_NS : 0;
    /* the outputs, exactly their sizes (all far below 2^63: trials <= 2^10, samples < 2^19) */
    if (cadc_bytes != st.n_trials * ctx.cadc_samples * BSS2_LIF_NEURONS || (cadc_bytes > 0 && cadc == NULL) ||
        madc_count != st.n_trials * ctx.madc_samples || (madc_count > 0 && madc == NULL) ||
        (st.n_events > 0 && (st.times == NULL || st.labels == NULL)))
        return -1;
    ctx.cadc = cadc;
    ctx.madc = madc;
    ctx.noisy = ctx.p.noisy != 0;
    ctx.key_membrane = st.key_membrane;
    ctx.key_madc = st.key_madc;
    for (int i = 0; i < BSS2_LIF_NEURONS; i++)
        ctx.adex |= ctx.p.adaptation[i] != 0 || ctx.p.exponential[i] != 0;

    ctx.level = bss2_isa();

    /* The events, each read once and checked as it is read. */
    event_t *events = malloc((size_t)(st.n_events > 0 ? st.n_events : 1) * sizeof(event_t));
    int64_t *first = calloc((size_t)st.n_trials + 1, sizeof(int64_t));
    spike_buf *items = calloc((size_t)(NH * st.n_trials), sizeof(spike_buf));
    bss2_lif_spikes *handle = malloc(sizeof *handle);
    int status = 0;
    if (events == NULL || first == NULL || items == NULL || handle == NULL) {
        status = -2;
        goto done;
    }
    int64_t prev_trial = 0, prev_time = 0;
    for (int64_t i = 0; i < st.n_events; i++) {
        const int64_t t = st.times[i], tr = st.trials != NULL ? st.trials[i] : 0;
        if (t < 0 || t >= st.duration) {
            status = refuse(bad, BSS2_LIF_BAD_TIME, i, t);
            goto done;
        }
        if (tr >= st.n_trials) {
            status = refuse(bad, BSS2_LIF_BAD_TRIAL, i, tr);
            goto done;
        }
        if (tr < prev_trial || (tr == prev_trial && t < prev_time)) {
            status = refuse(bad, BSS2_LIF_BAD_ORDER, i, t);
            goto done;
        }
        prev_trial = tr;
        prev_time = t;
        events[i] = (event_t){(int32_t)((8 * t + ctx.step_ns - 1) / ctx.step_ns), (int32_t)t, st.labels[i], 0};
        first[tr + 1]++;
    }
    for (int64_t t = 0; t < st.n_trials; t++) first[t + 1] += first[t];
    ctx.events = events;
    ctx.first = first;
    ctx.items = items;

    status = hil_pool_run(NH * st.n_trials, sizeof(hemi_state), run_one_item, &ctx);
    if (status == 0 && ATOMIC_LOAD(ctx.failed)) status = ATOMIC_LOAD(ctx.failed);
    if (status == 0) {
        handle->n_trials = st.n_trials;
        handle->trial0 = st.trial0;
        handle->step_ns = ctx.step_ns;
        handle->total = 0;
        for (int64_t i = 0; i < NH * st.n_trials; i++) handle->total += items[i].n;
        handle->items = items;
        *spikes = handle;
        handle = NULL;
        items = NULL;
    }
done:
    free(events);
    free(first);
    free_items(items, NH * st.n_trials);
    free(handle);
    return status;
}

int64_t bss2_lif_spike_count(const bss2_lif_spikes *s) { return s == NULL ? 0 : s->total; }

int bss2_lif_spikes_take(const bss2_lif_spikes *s, int64_t n, int64_t *times, uint16_t *neurons,
                         uint16_t *trials) {
    if (s == NULL || n != s->total || (n > 0 && (times == NULL || neurons == NULL || trials == NULL))) return -1;
    int64_t o = 0;
    for (int64_t t = 0; t < s->n_trials; t++) {
        const spike_buf *a = &s->items[NH * t], *b = &s->items[NH * t + 1];
        int64_t i = 0, j = 0;
        while (i < a->n || j < b->n) { /* by step; in a step hemisphere 0 (lower neurons) first */
            const spike_t x = j >= b->n || (i < a->n && a->v[i].step <= b->v[j].step) ? a->v[i++] : b->v[j++];
            times[o] = ((int64_t)x.step + 1) * s->step_ns / 8; /* the FPGA's timestamp of grid point step + 1 */
            neurons[o] = x.neuron;
            trials[o] = (uint16_t)(s->trial0 + t);
            o++;
        }
    }
    return 0;
}

void bss2_lif_spikes_free(bss2_lif_spikes *s) {
    if (s == NULL) return;
    free_items(s->items, NH * s->n_trials);
    free(s);
}
