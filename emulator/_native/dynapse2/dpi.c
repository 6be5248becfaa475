/* See dynapse2/dpi.h. */
#include "dynapse2/dpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "compiler.h"
#include "isa.h"
#include "rng.h"

struct dyn_spikes {
    int64_t n, cap;
    int64_t *times;
    int32_t *neurons;
};

struct dyn_log {
    int64_t n, cap;
    int64_t *sources;
    int32_t *neurons;
    uint8_t *entries, *types, *masks;
};

static int spikes_push(dyn_spikes *s, int64_t t, int32_t neuron) {
    if (s->n == s->cap) {
        if (s->cap >= DYN_SPIKES_MAX) return -3;
        int64_t cap = s->cap ? 2 * s->cap : 4096;
        if (cap > DYN_SPIKES_MAX) cap = DYN_SPIKES_MAX;
        int64_t *t2 = realloc(s->times, (size_t)cap * sizeof *t2);
        if (!t2) return -2;
        s->times = t2;
        int32_t *n2 = realloc(s->neurons, (size_t)cap * sizeof *n2);
        if (!n2) return -2;
        s->neurons = n2;
        s->cap = cap;
    }
    s->times[s->n] = t;
    s->neurons[s->n] = neuron;
    s->n++;
    return 0;
}

static int log_push(dyn_log *g, int64_t source, const dyn_net *net, int64_t item) {
    if (g->n == g->cap) {
        if (g->cap >= DYN_SPIKES_MAX) return -3;
        int64_t cap = g->cap ? 2 * g->cap : 4096;
        if (cap > DYN_SPIKES_MAX) cap = DYN_SPIKES_MAX;
        void *p;
        if (!(p = realloc(g->sources, (size_t)cap * sizeof *g->sources))) return -2;
        g->sources = p;
        if (!(p = realloc(g->neurons, (size_t)cap * sizeof *g->neurons))) return -2;
        g->neurons = p;
        if (!(p = realloc(g->entries, (size_t)cap))) return -2;
        g->entries = p;
        if (!(p = realloc(g->types, (size_t)cap))) return -2;
        g->types = p;
        if (!(p = realloc(g->masks, (size_t)cap))) return -2;
        g->masks = p;
        g->cap = cap;
    }
    g->sources[g->n] = source;
    g->neurons[g->n] = net->cam_neuron[item];
    g->entries[g->n] = net->cam_entry[item];
    g->types[g->n] = net->cam_type[item];
    g->masks[g->n] = net->cam_mask[item];
    g->n++;
    return 0;
}

/* max(a, b) as numpy.maximum(a, b) for a b that is not NaN, inlined (libm's fmax is a call). */
static inline double mx(double a, double b) { return a < b ? b : a; }

static inline int64_t cam_key(int64_t chip, int64_t core, int64_t tag) {
    return (chip * DYN_CORES + core) * DYN_TAGS + tag;
}

/* Adds the weight currents of the entries of (chip, core, tag) key k to w (4 * n). */
static inline void deliver(const dyn_net *net, int64_t k, double *restrict w, int64_t n) {
    for (int64_t e = net->cam_offsets[k]; e < net->cam_offsets[k + 1]; e++)
        w[(int64_t)net->cam_type[e] * n + net->cam_neuron[e]] += net->cam_weight[e];
}

/* Adds the weight currents of the events a spike of `neuron` delivers to w. */
static void deliver_spike(const dyn_net *net, int64_t neuron, double *restrict w, int64_t n) {
    for (int d = 0; d < DYN_DESTINATIONS; d++) {
        const int64_t slot = neuron * DYN_DESTINATIONS + d;
        const int32_t chip = net->dest_chip[slot];
        if (chip < 0) continue;
        for (int core = 0; core < DYN_CORES; core++)
            if (net->dest_cores[slot] >> core & 1u) deliver(net, cam_key(chip, core, net->dest_tag[slot]), w, n);
    }
}

static int bad_at(int64_t *bad, int64_t what, int64_t index, int64_t value) {
    bad[0] = what;
    bad[1] = index;
    bad[2] = value;
    return 1;
}

/* Every input read once: checked into the copies the run then uses. */
static int check_events(const dyn_net *net, const dyn_stim *st, int64_t *times, int64_t *keys, int64_t *bad) {
    int64_t prev = 0;
    for (int64_t i = 0; i < st->n_events; i++) {
        const int64_t t = st->times[i], tag = st->tags[i], chip = st->chips[i], core = st->cores[i];
        if (t < 0 || t >= st->duration) return bad_at(bad, DYN_BAD_TIME, i, t);
        if (t < prev) return bad_at(bad, DYN_BAD_ORDER, i, t);
        if (tag >= DYN_TAGS) return bad_at(bad, DYN_BAD_TAG, i, tag);
        if (chip >= net->chips) return bad_at(bad, DYN_BAD_CHIP, i, chip);
        if (core >= DYN_CORES) return bad_at(bad, DYN_BAD_CORE, i, core);
        times[i] = prev = t;
        keys[i] = cam_key(chip, core, tag);
    }
    return 0;
}

/* Every neuron's synapses, adaptation and membrane for one step (circuit.py's equations): one pass
 * without calls or branches, so that the compiler vectorizes it (the same operations, so the same
 * values, lane by lane). isyn and w are (4, n). */
/* The series' coefficients, correctly rounded (reference.py computes the same from exact fractions). */
#define DYN_C3 0x1.5555555555555p-1 /* 2/3 */
#define DYN_C5 0x1.999999999999ap-2 /* 2/5 */
#define DYN_C7 0x1.2492492492492p-2 /* 2/7 */
#define DYN_C9 0x1.c71c71c71c71cp-3 /* 2/9 */
#define DYN_C11 0x1.745d1745d1746p-3 /* 2/11 */
#define DYN_C13 0x1.3b13b13b13b14p-3 /* 2/13 */
#define DYN_C15 0x1.1111111111111p-3 /* 2/15 */
#define DYN_C17 0x1.e1e1e1e1e1e1ep-4 /* 2/17 */
#define DYN_E2 0x1.0000000000000p-1 /* 1/2! */
#define DYN_E3 0x1.5555555555555p-3 /* 1/3! */
#define DYN_E4 0x1.5555555555555p-5 /* 1/4! */
#define DYN_E5 0x1.1111111111111p-7 /* 1/5! */
#define DYN_E6 0x1.6c16c16c16c17p-10 /* 1/6! */
#define DYN_E7 0x1.a01a01a01a01ap-13 /* 1/7! */
#define DYN_E8 0x1.a01a01a01a01ap-16 /* 1/8! */
#define DYN_E9 0x1.71de3a556c734p-19 /* 1/9! */
#define DYN_E10 0x1.27e4fb7789f5cp-22 /* 1/10! */
#define DYN_E11 0x1.ae64567f544e4p-26 /* 1/11! */
#define DYN_E12 0x1.1eed8eff8d898p-29 /* 1/12! */
#define DYN_E13 0x1.6124613a86d09p-33 /* 1/13! */

/* The bits of a double and back (memcpy: the defined way, and the compiler makes it a register move). */
static inline uint64_t bits_of(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

static inline double of_bits(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

/* r ** e for r >= 1 and 0 < e < 1 (the membrane's feedback), in plain IEEE operations that the compiler
 * vectorizes, so that every code path and numpy (emulator.dynapse2.reference.feedback_pow) give the
 * same bits: ln r = k ln 2 + ln m from r's exponent and mantissa (m in [sqrt(1/2), sqrt(2)), ln m by the
 * atanh series to s^17), then exp(y) = 2^j exp(f), j the nearest integer of y / ln 2, exp(f) by its
 * Taylor series to f^13; relative error below 1e-15. The exponent and 2^j go through the double
 * 2^52 + integer trick instead of integer conversions (which AVX2 lacks for 64-bit lanes). */
static inline double feedback_pow(double r, double e) {
    const double two52 = 4503599627370496.0, round52 = 6755399441055744.0; /* 2^52, 1.5 * 2^52 */
    const double ln2_hi = 0.693147180369123816490, ln2_lo = 1.90821492927058770002e-10;
    const uint64_t b = bits_of(r);
    double k = of_bits((b >> 52) | bits_of(two52)) - two52 - 1023.0;
    double m = of_bits((b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
    const int big = m > 1.41421356237309504880;
    m = big ? m * 0.5 : m;
    k = big ? k + 1.0 : k;
    const double s = (m - 1.0) / (m + 1.0), z = s * s;
    const double ln_m = s * (2.0 + z * (DYN_C3 + z * (DYN_C5 + z * (DYN_C7 + z * (DYN_C9 + z * (DYN_C11 + z * (DYN_C13
                         + z * (DYN_C15 + z * DYN_C17))))))));
    const double y = e * ((k * ln2_hi + ln_m) + k * ln2_lo);
    const double t = y * 1.44269504088896340736 + round52;    /* round52 + nearest integer of y / ln 2 */
    const double j = t - round52;
    const double f = (y - j * ln2_hi) - j * ln2_lo;
    const double p = 1.0 + f * (1.0 + f * (DYN_E2 + f * (DYN_E3 + f * (DYN_E4 + f * (DYN_E5 + f * (DYN_E6 + f * (DYN_E7
                     + f * (DYN_E8 + f * (DYN_E9 + f * (DYN_E10 + f * (DYN_E11 + f * (DYN_E12 + f * DYN_E13))))))))))));
    /* 2^j: j sits in the low mantissa bits of t; y < 1024 ln 2 here, so j + 1023 is a valid exponent */
    const uint64_t scale = ((bits_of(t) - bits_of(round52)) + 1023u) << 52;
    return p * of_bits(scale);
}

#define NEURONS_ARGS                                                                                   \
    const dyn_net *net, int64_t n, double *restrict isyn, double *restrict iahp, double *restrict imem,   \
        double *restrict fb, const double *restrict w, const double *restrict last,               \
        const double *restrict open, const double *restrict xi
ALWAYS_INLINE void neurons_body(NEURONS_ARGS) {
    const double io = net->io, inv_io = net->inv_io, dt = net->dt, tau_c = net->tau_c, noise = net->noise;
    const double fb_exp = net->fb_exp;
    const double *restrict fdis = net->fdis, *restrict fchg = net->fchg, *restrict gsyn = net->gsyn;
    const double *restrict fdis_ahp = net->fdis_ahp, *restrict fchg_ahp = net->fchg_ahp, *restrict q_ahp = net->q_ahp;
    const double *restrict inv_itau = net->inv_itau, *restrict itau_mem = net->itau_mem, *restrict igain_mem = net->igain_mem, *restrict gmem = net->gmem;
    const double *restrict idc = net->idc, *restrict if_nmda = net->if_nmda;
    double *restrict s0 = isyn, *restrict s1 = isyn + n, *restrict s2 = isyn + 2 * n, *restrict s3 = isyn + 3 * n;
    for (int64_t i = 0; i < n; i++) {
        const double ampa = fdis[i] * s0[i] + fchg[i] * mx(gsyn[i] * w[i], io);
        /* Only AMPA, DynapSim's one synapse, charges toward Io without events; the others rest at 0. */
        const double gaba = fdis[n + i] * s1[i] + fchg[n + i] * (gsyn[n + i] * w[n + i]);
        const double nmda = fdis[2 * n + i] * s2[i] + fchg[2 * n + i] * (gsyn[2 * n + i] * w[2 * n + i]);
        const double shunt = fdis[3 * n + i] * s3[i] + fchg[3 * n + i] * (gsyn[3 * n + i] * w[3 * n + i]);
        s0[i] = ampa;
        s1[i] = gaba;
        s2[i] = nmda;
        s3[i] = shunt;
        const double a = mx(fdis_ahp[i] * iahp[i] + fchg_ahp[i] * (last[i] * q_ahp[i]), io);
        iahp[i] = a;
        const double m = imem[i], igain = igain_mem[i];
        const double ileak = (itau_mem[i] + a) + shunt;
        const double gated = m > if_nmda[i] ? nmda : 0.0;   /* the NMDA synapse's voltage gate */
        const double drive = (((ampa + gated) - gaba) - ileak) + idc[i];
        const double iin = mx((drive + noise * xi[i]) * open[i], io);  /* refractory (open 0): no drive */
        const double inf = gmem[i] * (iin - ileak), g = m + igain;
        /* DynapSim's (m / (tau g)) (inf + (io fb / ileak) g - m (1 + a / itau)) with tau = tau_c / ileak,
         * ileak multiplied in: one division instead of four. */
        const double d = (m / (tau_c * g)) * ((ileak * inf + (io * fb[i]) * g) - m * (ileak * (1.0 + a * inv_itau[i])));
        const double v = mx(m + d * dt, io);
        imem[i] = v;
        fb[i] = feedback_pow(v * inv_io, fb_exp);   /* the feedback of the next step, before any reset */
    }
}

/* The pass compiled for each code path (isa.h): the same operations, the same values. */
static void neurons_base(NEURONS_ARGS) { neurons_body(net, n, isyn, iahp, imem, fb, w, last, open, xi); }
#if HIL_X86_DISPATCH
TARGET_V3 static void neurons_v3(NEURONS_ARGS) { neurons_body(net, n, isyn, iahp, imem, fb, w, last, open, xi); }
TARGET_V4 static void neurons_v4(NEURONS_ARGS) { neurons_body(net, n, isyn, iahp, imem, fb, w, last, open, xi); }
#endif

static void neurons_pass(NEURONS_ARGS) {
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level >= 4) return neurons_v4(net, n, isyn, iahp, imem, fb, w, last, open, xi);
    if (level >= 3) return neurons_v3(net, n, isyn, iahp, imem, fb, w, last, open, xi);
#endif
    neurons_base(net, n, isyn, iahp, imem, fb, w, last, open, xi);
}

int dyn_run(const dyn_net *net, const dyn_stim *st, double *traces, int64_t trace_count, dyn_spikes **spikes,
            int64_t *bad) {
    if (!net || !st || !spikes || !bad) return -1;
    *spikes = NULL;
    if (net->chips < 1 || net->chips > DYN_CHIPS_MAX) return -1;
    const int64_t n = (int64_t)net->chips * DYN_NEURONS;
    const int64_t duration = st->duration, n_events = st->n_events, n_record = st->n_record;
    if (duration < 1 || duration > DYN_DURATION_MAX) return bad_at(bad, DYN_BAD_DURATION, -1, duration);
    if (n_events < 0 || n_events > DYN_EVENTS_MAX) return bad_at(bad, DYN_BAD_EVENTS, -1, n_events);
    if (n_record < 0 || n_record > DYN_RECORD_MAX) return bad_at(bad, DYN_BAD_RECORD, -1, n_record);
    if (n_events > 0 && (!st->times || !st->tags || !st->chips || !st->cores)) return -1;
    if (n_record > 0 && (!st->record || !traces)) return -1;
    if (trace_count != duration * n_record * DYN_TRACES) return -1;
    int32_t record[DYN_RECORD_MAX];
    for (int64_t r = 0; r < n_record; r++) {
        const int64_t v = st->record[r];
        if (v < 0 || v >= n) return bad_at(bad, DYN_BAD_RECORD, r, v);
        record[r] = (int32_t)v;
    }

    int status = -2;
    int64_t *times = malloc((size_t)(n_events ? n_events : 1) * sizeof *times);
    int64_t *keys = malloc((size_t)(n_events ? n_events : 1) * sizeof *keys);
    double *state = calloc((size_t)(8 * n + 4 * n), sizeof *state);
    int32_t *ref = calloc((size_t)n, sizeof *ref);
    int32_t *fired = malloc((size_t)n * sizeof *fired);     /* the neurons that spiked in the step before */
    /* As doubles (1.0 / 0.0) that multiply, so that the neurons' pass has no branches and vectorizes; a
     * product with 0.0 or 1.0 gives what a choice would (the values it meets are finite). */
    double *last = calloc((size_t)n, sizeof *last);         /* the neuron spiked in the step before */
    double *open = malloc((size_t)n * sizeof *open);        /* the neuron is not refractory */
    double *xi = calloc((size_t)n, sizeof *xi);             /* the step's noise deviates; 0 on the ideal chip */
    float *xf = net->noisy ? malloc((size_t)n * sizeof *xf) : NULL;
    dyn_spikes *out = calloc(1, sizeof *out);
    if (!times || !keys || !state || !ref || !fired || !last || !open || !xi || (net->noisy && !xf) || !out)
        goto done;
    status = check_events(net, st, times, keys, bad);
    if (status) goto done;

    double *imem = state, *iahp = state + n, *fb = state + 2 * n, *isyn = state + 3 * n; /* isyn: 4 * n */
    double *w = state + 7 * n;                                                           /* 4 * n */
    const int noisy = net->noisy;
    const double io = net->io;
    for (int64_t i = 0; i < n; i++) {
        imem[i] = io;
        iahp[i] = io;
        fb[i] = 1.0;
        open[i] = 1.0;
        isyn[i] = io;                         /* AMPA at its dark current, the others at 0 (state: calloc) */
    }
    int64_t n_fired = 0, next = 0;
    for (int64_t t = 0; t < duration; t++) {
        memset(w, 0, (size_t)(4 * n) * sizeof *w);
        for (int64_t f = 0; f < n_fired; f++) deliver_spike(net, fired[f], w, n);
        for (; next < n_events && times[next] == t; next++) deliver(net, keys[next], w, n);
        if (noisy) {
            hil_normal_high(st->key, (uint64_t)t * (uint64_t)n, 1, (int)n, xf);
            for (int64_t i = 0; i < n; i++) xi[i] = xf[i];
        }
        /* Every neuron's synapses, adaptation and membrane: one pass without calls or early exits, so that
         * the compiler vectorizes it (the same operations, so the same values, lane by lane). */
        neurons_pass(net, n, isyn, iahp, imem, fb, w, last, open, xi);
        /* The spikes, the resets, the refractory times. */
        int64_t now_fired = 0;
        for (int64_t i = 0; i < n; i++) {
            const double v = imem[i];
            const int spiked = v > net->ispkthr[i];
            last[i] = spiked;
            if (spiked) {
                imem[i] = io;
                ref[i] = net->n_ref[i];
                fired[now_fired++] = (int32_t)i;
                status = spikes_push(out, t, (int32_t)i);
                if (status) goto done;
            } else if (ref[i] > 0) {
                ref[i]--;
            }
            open[i] = ref[i] == 0;
        }
        n_fired = now_fired;
        for (int64_t r = 0; r < n_record; r++) {
            const int64_t i = record[r];
            double *o = traces + (t * n_record + r) * DYN_TRACES;
            o[0] = imem[i];
            for (int s = 0; s < DYN_SYNAPSES; s++) o[1 + s] = isyn[s * n + i];
            o[5] = iahp[i];
        }
    }
    status = 0;
done:
    free(times);
    free(keys);
    free(state);
    free(ref);
    free(fired);
    free(last);
    free(open);
    free(xi);
    free(xf);
    if (status == 0) *spikes = out;
    else dyn_spikes_free(out);
    return status;
}

int64_t dyn_spike_count(const dyn_spikes *s) { return s ? s->n : 0; }

int dyn_spikes_take(const dyn_spikes *s, int64_t n, int64_t *times, int32_t *neurons) {
    if (!s || n != s->n || (n > 0 && (!times || !neurons))) return -1;
    if (n > 0) {
        memcpy(times, s->times, (size_t)n * sizeof *times);
        memcpy(neurons, s->neurons, (size_t)n * sizeof *neurons);
    }
    return 0;
}

void dyn_spikes_free(dyn_spikes *s) {
    if (!s) return;
    free(s->times);
    free(s->neurons);
    free(s);
}

int dyn_route(const dyn_net *net, const int32_t *spike_neurons, int64_t m, const uint16_t *in_tags,
              const uint8_t *in_chips, const uint8_t *in_cores, int64_t q, dyn_log **log, int64_t *bad) {
    if (!net || !log || !bad || m < 0 || q < 0) return -1;
    *log = NULL;
    if (net->chips < 1 || net->chips > DYN_CHIPS_MAX) return -1;
    if (m + q > DYN_EVENTS_MAX) return bad_at(bad, DYN_BAD_EVENTS, -1, m + q);
    if ((m > 0 && !spike_neurons) || (q > 0 && (!in_tags || !in_chips || !in_cores))) return -1;
    const int64_t n = (int64_t)net->chips * DYN_NEURONS;
    dyn_log *g = calloc(1, sizeof *g);
    if (!g) return -2;
    int status = 0;
    for (int64_t i = 0; i < m && !status; i++) {
        const int64_t neuron = spike_neurons[i];
        if (neuron < 0 || neuron >= n) {
            status = bad_at(bad, DYN_BAD_NEURON, i, neuron);
            break;
        }
        for (int d = 0; d < DYN_DESTINATIONS && !status; d++) {
            const int64_t slot = neuron * DYN_DESTINATIONS + d;
            const int32_t chip = net->dest_chip[slot];
            if (chip < 0) continue;
            for (int core = 0; core < DYN_CORES && !status; core++) {
                if (!(net->dest_cores[slot] >> core & 1u)) continue;
                const int64_t k = cam_key(chip, core, net->dest_tag[slot]);
                for (int64_t e = net->cam_offsets[k]; e < net->cam_offsets[k + 1] && !status; e++)
                    status = log_push(g, i, net, e);
            }
        }
    }
    for (int64_t j = 0; j < q && !status; j++) {
        const int64_t tag = in_tags[j], chip = in_chips[j], core = in_cores[j];
        if (tag >= DYN_TAGS) status = bad_at(bad, DYN_BAD_TAG, m + j, tag);
        else if (chip >= net->chips) status = bad_at(bad, DYN_BAD_CHIP, m + j, chip);
        else if (core >= DYN_CORES) status = bad_at(bad, DYN_BAD_CORE, m + j, core);
        else {
            const int64_t k = cam_key(chip, core, tag);
            for (int64_t e = net->cam_offsets[k]; e < net->cam_offsets[k + 1] && !status; e++)
                status = log_push(g, m + j, net, e);
        }
    }
    if (status) {
        dyn_log_free(g);
        return status;
    }
    *log = g;
    return 0;
}

int64_t dyn_log_count(const dyn_log *g) { return g ? g->n : 0; }

int dyn_log_take(const dyn_log *g, int64_t n, int64_t *sources, int32_t *neurons, uint8_t *entries,
                 uint8_t *types, uint8_t *masks) {
    if (!g || n != g->n || (n > 0 && (!sources || !neurons || !entries || !types || !masks))) return -1;
    if (n > 0) {
        memcpy(sources, g->sources, (size_t)n * sizeof *sources);
        memcpy(neurons, g->neurons, (size_t)n * sizeof *neurons);
        memcpy(entries, g->entries, (size_t)n);
        memcpy(types, g->types, (size_t)n);
        memcpy(masks, g->masks, (size_t)n);
    }
    return 0;
}

void dyn_log_free(dyn_log *g) {
    if (!g) return;
    free(g->sources);
    free(g->neurons);
    free(g->entries);
    free(g->types);
    free(g->masks);
    free(g);
}
