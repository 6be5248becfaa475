/* The Dynap-SE2-like virtual board's run: DPI neurons and synapses, and the CAM/SRAM router that carries
 * their spikes (docs/dynapse2.md). It computes exactly what emulator.dynapse2.reference defines, bit for
 * bit: float64 state, the same operations in the same order per neuron (no fused multiply-add
 * contraction, see build.py), the membrane feedback's power as a fixed series (dpi.c's feedback_pow,
 * reference.feedback_pow) rather than libm's pow, the same counter-based
 * noise, and the router's events added in the same order.
 *
 * Python prepares a dyn_net once per (configuration, step): the factors of one step per neuron
 * (emulator.dynapse2.circuit.step_factors) and the router's tables (emulator.dynapse2.routing): every
 * neuron's four destinations, and the CAM entries in use grouped by (chip, core, tag). A run takes the
 * input events; the spikes, whose number is known only afterwards, are kept by the core in a buffer that
 * grows as needed and handed over in a second call (dyn_spike_count, dyn_spikes_take), so no buffer is
 * ever too small. The router alone (routing mode) works the same way (dyn_route, dyn_log_*).
 *
 * Per step: the events of the spikes of the step before (in neuron order, each neuron's destinations in
 * order, each destination's cores in order, each (chip, core, tag)'s entries in order), then the step's
 * input events (in their order), add their weight currents to the receiving synapses; then every neuron
 * is updated (circuit.py's equations).
 */
#ifndef HIL_DYNAPSE2_DPI_H
#define HIL_DYNAPSE2_DPI_H

#include <stdint.h>

#define DYN_CORES 4
#define DYN_NEURONS_PER_CORE 256
#define DYN_NEURONS 1024
#define DYN_CHIPS_MAX 16
#define DYN_TAGS 2048
#define DYN_DESTINATIONS 4
#define DYN_SYNAPSES 4
#define DYN_TRACES 6
#define DYN_DURATION_MAX 100000
#define DYN_EVENTS_MAX 2097152
#define DYN_RECORD_MAX 64
#define DYN_SPIKES_MAX 16777216

/* What a refused input was (bad[0] of status 1; bad[1] the index, -1 for a scalar; bad[2] the value):
 *   TIME     times[i] outside 0..duration-1       ORDER    times[i] before times[i-1]
 *   TAG      a tag outside 0..2047                 CHIP     a chip outside 0..chips-1
 *   CORE     a core outside 0..3                   NEURON   a neuron outside 0..chips*1024-1
 *   EVENTS   n_events outside 0..DYN_EVENTS_MAX    DURATION outside 1..DYN_DURATION_MAX
 *   RECORD   n_record outside 0..DYN_RECORD_MAX, or a recorded neuron outside the board */
#define DYN_BAD_TIME 1
#define DYN_BAD_ORDER 2
#define DYN_BAD_TAG 3
#define DYN_BAD_CHIP 4
#define DYN_BAD_CORE 5
#define DYN_BAD_NEURON 6
#define DYN_BAD_EVENTS 7
#define DYN_BAD_DURATION 8
#define DYN_BAD_RECORD 9

/* A board at one step. n = chips * DYN_NEURONS neurons, global index chip * 1024 + core * 256 + neuron.
 * Per-neuron arrays have n elements; per (synapse type, neuron) 4 * n (type-major). Read-only. */
typedef struct {
    int32_t chips;              /* 1..DYN_CHIPS_MAX */
    int32_t noisy;              /* 0: no temporal noise (the ideal chip): no draws */
    const double *fdis, *fchg, *gsyn;            /* (4, n) */
    const double *fdis_ahp, *fchg_ahp, *q_ahp;   /* (n) */
    const double *itau_mem, *inv_itau, *igain_mem, *gmem, *idc, *if_nmda, *ispkthr; /* (n); inv_itau 1 / itau_mem */
    const int32_t *n_ref;       /* (n) refractory steps, >= 0 */
    double tau_c, io, inv_io, fb_exp, dt, noise;   /* inv_io: 1 / io */
    /* the router */
    const int32_t *dest_chip;   /* (n, 4) the destination chip, -1: the destination is off */
    const uint8_t *dest_cores;  /* (n, 4) core mask */
    const uint16_t *dest_tag;   /* (n, 4) */
    const int64_t *cam_offsets; /* (chips * 4 * 2048 + 1): entries of (chip, core, tag) k are
                                   cam_offsets[k] .. cam_offsets[k+1]-1, k = (chip * 4 + core) * 2048 + tag */
    const int32_t *cam_neuron;  /* (entries) the receiving neuron, global index */
    const uint8_t *cam_entry;   /* its CAM entry 0..63 */
    const uint8_t *cam_type;    /* its synapse type 0..3 */
    const uint8_t *cam_mask;    /* its weight mask 1..15 */
    const double *cam_weight;   /* its weight current, A */
    int64_t cam_count;
} dyn_net;

/* One run of `duration` steps; input events sorted by time. */
typedef struct {
    const int64_t *times;
    const uint16_t *tags;
    const uint8_t *chips, *cores;
    int64_t n_events, duration;
    const int32_t *record;      /* (n_record) global neurons whose state is traced; NULL if n_record 0 */
    int64_t n_record;
    uint64_t key;               /* the run's noise stream */
} dyn_stim;

typedef struct dyn_spikes dyn_spikes;

/* One run. traces: (duration, n_record, DYN_TRACES) float64, trace_count its elements (0 without).
 * Returns 0 and *spikes (free with dyn_spikes_free); 1 if an input is refused (bad[0..2], *spikes NULL);
 * -1 on a bad argument; -2 out of memory; -3 more than DYN_SPIKES_MAX spikes. bad: three elements. */
int dyn_run(const dyn_net *net, const dyn_stim *stim, double *traces, int64_t trace_count, dyn_spikes **spikes,
            int64_t *bad);

int64_t dyn_spike_count(const dyn_spikes *s);

/* Copies the n (= dyn_spike_count) spikes in (step, neuron) order. Returns 0, -1 on a bad argument. */
int dyn_spikes_take(const dyn_spikes *s, int64_t n, int64_t *times, int32_t *neurons);

void dyn_spikes_free(dyn_spikes *s);

/* The router alone: the events delivered for spikes of neurons spike_neurons[0..m-1] (global) and input
 * events (in_tags, in_chips, in_cores)[0..q-1]; sources numbered spikes first. Returns 0 and *log; 1 if
 * an input is refused (bad as above, index over the spikes, then over the inputs); -1, -2 as dyn_run;
 * -3 more than DYN_SPIKES_MAX deliveries. */
typedef struct dyn_log dyn_log;

int dyn_route(const dyn_net *net, const int32_t *spike_neurons, int64_t m, const uint16_t *in_tags,
              const uint8_t *in_chips, const uint8_t *in_cores, int64_t q, dyn_log **log, int64_t *bad);

int64_t dyn_log_count(const dyn_log *log);

/* Copies the n (= dyn_log_count) deliveries in the router's order: source, then each destination and core
 * as visited. Returns 0, -1 on a bad argument. */
int dyn_log_take(const dyn_log *log, int64_t n, int64_t *sources, int32_t *neurons, uint8_t *entries,
                 uint8_t *types, uint8_t *masks);

void dyn_log_free(dyn_log *log);

#endif
