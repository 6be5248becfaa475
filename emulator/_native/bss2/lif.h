/* The spiking mode of the BrainScaleS-2-like virtual chip: the C core of a run
 * (docs/spiking.md). It computes exactly what emulator.bss2.spiking.run_reference
 * defines, bit for bit: float32 state, the same float32 operations in the same order
 * per neuron (no fused multiply-add contraction, see isa.h), the same counter-based
 * noise, the short-term plasticity in double with libm's exp (the function Python's
 * math.exp calls), the AdEx exponential as the same fixed float32 polynomial
 * (spiking.exp_f32). Results do not depend on the thread count, on the code path
 * (AVX-512, AVX2, portable) or on the caller's floating-point environment.
 *
 * Python prepares a bss2_lif once per (configuration, step): the float32 factors of
 * one step per neuron (spiking.propagators), the synapses' efficacies and labels, the
 * routing of every (bus, row select) pair of an event label. A run takes the events
 * and fills the CADC and MADC samples the caller allocated; the spikes, whose number
 * is known only afterwards, are kept by the core in buffers that grow as needed and
 * handed over in a second call (bss2_lif_spike_count, bss2_lif_spikes_take), so no
 * buffer is ever too small.
 *
 * The work items are (trial, hemisphere): an event reaches the drivers of both
 * hemispheres, but a hemisphere's neurons depend only on its own drivers and rows,
 * and a driver's plasticity state only on its own events. Each item runs on one
 * thread of the pool (thread_pool.h), which one does not change its result.
 */
#ifndef HIL_BSS2_LIF_H
#define HIL_BSS2_LIF_H

#include <stdint.h>

/* Neurons; per hemisphere: neurons (synapse columns), synapse rows, synapse drivers
 * (two rows each); routes: the (bus, row select) pairs of a label, bus * 32 + row select. */
#define BSS2_LIF_NEURONS 512
#define BSS2_LIF_COLUMNS 256
#define BSS2_LIF_ROWS 256
#define BSS2_LIF_DRIVERS 128
#define BSS2_LIF_ROUTES 128
#define BSS2_LIF_MADC_PERIOD_NS 34

/* The limits of a run (emulator/bss2/geometry.py); the longest refractory time in
 * grid steps, round(8 * 4095 / 1). */
#define BSS2_LIF_DURATION_MAX 1250000
#define BSS2_LIF_STEP_NS_MAX 1000
#define BSS2_LIF_TRIALS_MAX 1024
#define BSS2_LIF_STEPS_TRIALS_MAX 4194304
#define BSS2_LIF_EVENTS_MAX 2097152
#define BSS2_LIF_SPIKES_MAX 2097152
#define BSS2_LIF_CADC_PERIOD_MIN 213
#define BSS2_LIF_CADC_PERIOD_MAX 65535
#define BSS2_LIF_HOLD_MAX 32760

/* What a refused input was (bad[0] of bss2_lif_run's status 1; bad[1] is the index of
 * the event, -1 for a scalar; bad[2] the value read):
 *   TIME        times[i] outside 0..duration-1
 *   TRIAL       trials[i] outside 0..n_trials-1
 *   ORDER       event i comes before event i-1 in (trial, time) (value: times[i])
 *   EVENTS      n_events outside 0..BSS2_LIF_EVENTS_MAX
 *   DURATION    outside 1..BSS2_LIF_DURATION_MAX
 *   N_TRIALS    outside 1..BSS2_LIF_TRIALS_MAX
 *   TRIAL0      outside 0..BSS2_LIF_TRIALS_MAX - n_trials
 *   STEP_NS     the bss2_lif's step outside 1..BSS2_LIF_STEP_NS_MAX
 *   STEPS       steps x n_trials above BSS2_LIF_STEPS_TRIALS_MAX (value: the product)
 *   CADC_PERIOD neither 0 (no CADC) nor BSS2_LIF_CADC_PERIOD_MIN..MAX
 *   MADC_NEURON outside -1..511 */
#define BSS2_LIF_BAD_TIME 1
#define BSS2_LIF_BAD_TRIAL 2
#define BSS2_LIF_BAD_ORDER 3
#define BSS2_LIF_BAD_EVENTS 4
#define BSS2_LIF_BAD_DURATION 5
#define BSS2_LIF_BAD_N_TRIALS 6
#define BSS2_LIF_BAD_TRIAL0 7
#define BSS2_LIF_BAD_STEP_NS 8
#define BSS2_LIF_BAD_STEPS 9
#define BSS2_LIF_BAD_CADC_PERIOD 10
#define BSS2_LIF_BAD_MADC_NEURON 11

/* A configuration at one integration step. Arrays per neuron have BSS2_LIF_NEURONS
 * elements (hemisphere h's neurons from h * 256 on); per driver (2, 128); per row
 * (2, 256); per synapse (2, 256, 256) (hemisphere, row, column). Read-only for the core. */
typedef struct {
    int32_t step_ns;           /* the step the factors are for, 1..BSS2_LIF_STEP_NS_MAX */
    int32_t noisy;             /* 0: no temporal noise at all (the ideal chip): no draws */
    /* one step of the neuron (spiking.propagators), float32 */
    const float *pm, *pe, *pi, *se, *si;        /* membrane and synaptic propagators */
    const float *v_inf, *v_leak, *v_reset, *v_th, *noise;
    const float *h_tm, *h_tw, *a, *b, *dt_exp, *v_t; /* AdEx (Euler) factors */
    const int32_t *hold;       /* refractory time, grid steps, 0..BSS2_LIF_HOLD_MAX */
    const uint8_t *live;       /* 0: a dead neuron (stays at reset, never spikes) */
    const uint8_t *adaptation, *exponential; /* 0/1: the AdEx terms of each neuron */
    /* synapses and drivers */
    const float *efficacy;     /* current jump of a synapse at full resources, LSB (0 on rows off) */
    const uint8_t *labels;     /* 6-bit synapse labels */
    const uint8_t *row_mode;   /* 0 off, 1 excitatory, else inhibitory */
    const uint8_t *row_active; /* 1: the row is on and has a nonzero efficacy. The core skips
                                  the others: their synapses add +0 to currents >= +0, which
                                  leaves them as they are, bit for bit */
    const uint64_t *routes;    /* (2, 128 routes, 2): bit d % 64 of word d / 64 is set if
                                  driver d of the hemisphere takes the route's events */
    const uint8_t *stp_enable; /* (2, 128) 0/1 */
    const double *stp_u, *stp_tau; /* (2, 128) utilization, recovery time constant (s) */
    /* readout */
    const float *cadc_offset_chip, *cadc_slope; /* the CADC channels' offset and slope */
    const int32_t *code_map;   /* 256: the code the CADC reports for each true code */
    const int16_t *cadc_offset; /* the configured digital offset, -128..127 */
    float sigma_cadc, madc_offset, madc_gain, sigma_madc;
} bss2_lif;

/* One run: n_trials trials of `duration` FPGA cycles each, on the grid of the
 * bss2_lif's step. Events sorted by (trial, time), times 0..duration-1; trials NULL:
 * all in trial 0 (times and labels may be NULL if n_events is 0). The trials are the
 * run's trials trial0 .. trial0 + n_trials - 1: their noise is keyed by that index, so
 * a run cut into batches of trials gives the same values as in one call. */
typedef struct {
    const int64_t *times;      /* FPGA cycles */
    const uint16_t *labels;    /* bus (bits 14-15), row select (6-10), address (0-5) */
    const uint16_t *trials;    /* trial of each event within this call, 0..n_trials-1 */
    int64_t n_events;
    int64_t n_trials, trial0, duration;
    int64_t cadc_period;       /* FPGA cycles between CADC samples; 0: no CADC */
    int64_t madc_neuron;       /* -1: no MADC */
    uint64_t key_membrane;     /* stream 2 of the run: membrane and CADC read noise */
    uint64_t key_madc;         /* stream 3: MADC noise */
} bss2_lif_stim;

/* The spikes of a run, held by the core. */
typedef struct bss2_lif_spikes bss2_lif_spikes;

/* One run. cadc: (n_trials, ceil(duration / cadc_period), 512) uint8, cadc_bytes its
 * size (0 without CADC); madc: (n_trials, ceil(8 * duration / 34)) uint16, madc_count
 * its elements (0 without MADC); both must be exactly these sizes. Every input is
 * read once (the value checked is the value used), sizes are computed in 64 bits.
 * Returns 0 and *spikes (free it with bss2_lif_spikes_free); 1 if an input is refused
 * (bad[0] = BSS2_LIF_BAD_*, bad[1] = index or -1, bad[2] = value; *spikes NULL); -1
 * on a bad argument (a NULL pointer, a size that does not match); -2 if out of memory; -3 if
 * the run recorded more than BSS2_LIF_SPIKES_MAX spikes (the recorder's capacity; no result).
 * bad: three elements. */
int bss2_lif_run(const bss2_lif *net, const bss2_lif_stim *stim, uint8_t *cadc, int64_t cadc_bytes,
                 uint16_t *madc, int64_t madc_count, bss2_lif_spikes **spikes, int64_t *bad);

/* The number of spikes of a run. */
int64_t bss2_lif_spike_count(const bss2_lif_spikes *s);

/* Copies the n spikes (n must be bss2_lif_spike_count) sorted by (trial, time, neuron):
 * time in FPGA cycles, neuron 0..511, the run's trial (trial0 + trial). Returns 0, -1
 * if n is not the count or a pointer is NULL (with n > 0). */
int bss2_lif_spikes_take(const bss2_lif_spikes *s, int64_t n, int64_t *times, uint16_t *neurons,
                         uint16_t *trials);

/* Frees the spikes of a run (NULL: nothing). */
void bss2_lif_spikes_free(bss2_lif_spikes *s);

#endif
