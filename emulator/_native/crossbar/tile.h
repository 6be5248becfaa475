/* The analog crossbar tile's runs (docs/crossbar.md): the forward and backward matrix-vector products
 * through the DACs and ADCs with noise, noise management and bound management, and the pulsed update of
 * constant-step devices. It computes exactly what emulator.crossbar.reference defines, bit for bit:
 * float32, a product's terms summed in input order (no fused multiply-add contraction, see build.py), the
 * converters of emulator/crossbar/converters.py, the pulse trains of emulator/crossbar/pulses.py and the
 * counter-based noise of rng.h keyed by (run, vector in the run, round, element), so a result depends on
 * neither the batch's size nor the threads.
 *
 * Every size is checked here before anything is read or allocated (int64 arithmetic), and every input
 * value is read once: the vectors are checked for NaN and infinities in the pass that reads them.
 */
#ifndef HIL_CROSSBAR_TILE_H
#define HIL_CROSSBAR_TILE_H

#include <stdint.h>

#define XB_SIZE_MAX 4096
#define XB_BATCH_MAX 65536
#define XB_ELEMENTS_MAX 33554432
#define XB_BL_MAX 64
#define XB_ROUNDS_MAX 32
#define XB_SPAN 4096

/* What a refused input was (bad[0] of status 1; bad[1] the index, -1 for a scalar; bad[2] the value):
 *   SIZE     a size outside 1..XB_SIZE_MAX, a batch outside 0..XB_BATCH_MAX or more than
 *            XB_ELEMENTS_MAX elements          VALUE  a NaN or infinite input at flat index bad[1]
 *   LEVELS   converter levels outside 0..2^24  ROUNDS bm_last outside 0..XB_ROUNDS_MAX-1
 *   BL       a pulse train longer than XB_BL_MAX (bad[2]: the length the learning rate asks for) */
#define XB_BAD_SIZE 1
#define XB_BAD_VALUE 2
#define XB_BAD_LEVELS 3
#define XB_BAD_ROUNDS 4
#define XB_BAD_BL 5

/* One direction's periphery (hil.crossbar.IOConfig, prepared by emulator/crossbar/tile.py). */
typedef struct {
    int32_t perfect;           /* 1: y = out_scale * (the product), nothing else */
    int32_t nm;                /* noise management: 0 none, 1 abs max, 2 max, 3 constant */
    float nm_thres;            /* > 0: the scale's cap (abs max, max) or value (constant) */
    int32_t bm;                /* bound management: 0 none, 1 iterative */
    int32_t bm_last;           /* the last round of the iterative bound management */
    int32_t bm_negative;       /* a code below -levels saturates too */
    int32_t inp_levels;        /* N of the DAC (0: no quantisation, clipping only) */
    int32_t inp_sr;            /* stochastic rounding in the DAC */
    float inp_bound, inp_step, inp_inv, inp_noise;
    int32_t out_levels, out_sr;
    float out_bound, out_step, out_inv, out_noise;
    float w_noise, out_scale;
    uint64_t key_in_noise, key_out_noise, key_in_sr, key_out_sr;
} xb_io;

/* y (batch, n) = the tile's products of the vectors x (batch, k) with m (k, n) (W^T forward, W backward),
 * through io; rounds (batch): each vector's last bound-management round. Returns 0, 1 (refused: bad), or
 * -2 (out of memory). */
int xb_mvm(const float *m, int64_t k, int64_t n, const float *x, int64_t batch, const xb_io *io, float *y,
           int8_t *rounds, int64_t *bad);

/* The pulsed update (hil.crossbar.UpdateConfig; emulator/crossbar/pulses.py). */
typedef struct {
    int32_t ideal;             /* 1: the exact update w -= (lr d_i) x_j, no bounds, no pulses */
    int32_t desired_bl, fixed_bl, um, ublm, sto_round;
    float lr, dw_min, um_grad_scale, res, res_inv, dw_min_std;
    uint64_t key_x, key_d, key_ctoc, key_sr;
} xb_update_par;

/* Updates w (rows, cols) with the vectors x (batch, cols) and d (batch, rows), one after the other. Each
 * device has its scale_up, scale_down, w_max and w_min (rows, cols). bl (batch): each vector's train
 * length; pulses (batch, 2): the row and column pulses it fired. Returns 0, 1 (refused: bad) or -2. */
int xb_update(float *w, const float *scale_up, const float *scale_down, const float *w_max, const float *w_min,
              int64_t rows, int64_t cols, const float *x, const float *d, int64_t batch, const xb_update_par *p,
              int32_t *bl, int64_t *pulses, int64_t *bad);

#endif
