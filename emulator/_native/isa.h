/* Instruction-set levels ("code paths") of the C core: CPU detection and the level in use.
 *
 * On x86-64 with GCC the hot functions are compiled three times (AVX-512
 * "x86-64-v4", AVX2 "x86-64-v3", baseline) and the best one the CPU supports is
 * picked once at bss2_init. All paths do the same IEEE operations in the same
 * order per output element (the build uses -ffp-contract=off, so no FMA
 * contraction), hence bit-identical results whatever the instruction set (only
 * libm's tanh, in the rare compressed values of the bss2 readout, could differ
 * between libm builds).
 */
#ifndef HIL_ISA_H
#define HIL_ISA_H

/* Picks the code path (instruction set) for this CPU; idempotent. */
void bss2_init(void);

/* The instruction-set level in use: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3,
 * AVX2 + FMA) or 0 (baseline). bss2_set_isa forces a lower level (for tests;
 * results are the same at every level) and returns the level in use. */
int bss2_isa(void);
int bss2_set_isa(int level);

#ifndef HIL_PUBLIC_ONLY /* internal to the C units (see core.h) */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HIL_X86_DISPATCH 1
/* The attributes that compile a function for level 4 or 3. */
#define TARGET_V4                                                                          \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512cd,avx2,avx,fma,bmi,"  \
                          "bmi2,popcnt,prefer-vector-width=512")))
#define TARGET_V3 __attribute__((target("avx2,avx,fma,bmi,bmi2,popcnt")))
#include <immintrin.h>
#else
#define HIL_X86_DISPATCH 0
#endif
#endif

#endif
