/* The floating-point environment of the C core's arithmetic. Internal to the C
 * units (not part of the bridge, core.h).
 *
 * Results must not depend on the caller's rounding mode or flush-to-zero state
 * (bss2/mac.h): a caller may have called fesetround, and a worker thread of the
 * pool keeps whatever MXCSR it was created with. So every piece of work that
 * does floating-point arithmetic (a block of a MAC run, on whichever thread runs
 * it; the noise fills) starts with hil_fp_enter, which sets the default
 * environment (round to nearest, no flush-to-zero or denormals-are-zero, all
 * exceptions masked), and ends with hil_fp_leave, which gives the thread back
 * the environment it had. On x86-64 that is one MXCSR load and store (SSE does
 * all our arithmetic; there is no long double); elsewhere fegetenv/fesetenv.
 */
#ifndef HIL_FP_ENV_H
#define HIL_FP_ENV_H

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE2__))
#include <xmmintrin.h>

#define HIL_MXCSR_DEFAULT 0x1F80u /* all exceptions masked, round to nearest, no FTZ/DAZ */

typedef unsigned int hil_fp_state;

static inline hil_fp_state hil_fp_enter(void) {
    const hil_fp_state saved = _mm_getcsr();
    _mm_setcsr(HIL_MXCSR_DEFAULT);
    return saved;
}

static inline void hil_fp_leave(hil_fp_state saved) { _mm_setcsr(saved); }
#else
#include <fenv.h>

typedef fenv_t hil_fp_state;

static inline hil_fp_state hil_fp_enter(void) {
    hil_fp_state saved;
    fegetenv(&saved);
    fesetenv(FE_DFL_ENV);
    return saved;
}

static inline void hil_fp_leave(hil_fp_state saved) { fesetenv(&saved); }
#endif

#endif
