/* See isa.h.
 *
 * The three variables below are read by every MAC run, from any Python thread
 * (cffi releases the GIL), and written by bss2_init and bss2_set_isa, so every
 * access is atomic: a plain int read and written from two threads is a data race
 * (undefined behaviour; ThreadSanitizer reports it). init_done is published with
 * release order after isa_max and isa_level, so a thread that sees it set sees
 * the detected levels too. Two threads that run detect_isa at once both store the
 * same values. */
#include "isa.h"

#if defined(__GNUC__)
#define ISA_LOAD(v) __atomic_load_n(&(v), __ATOMIC_ACQUIRE)
#define ISA_STORE(v, x) __atomic_store_n(&(v), (x), __ATOMIC_RELEASE)
#else /* without GCC builtins there is no thread pool either (thread_pool.c) */
#define ISA_LOAD(v) (v)
#define ISA_STORE(v, x) ((v) = (x))
#endif

static int init_done = 0;
static int isa_max = 0;   /* best level the CPU supports */
static int isa_level = 0; /* level in use */

static int detect_isa(void) {
    int best = 0;
#if HIL_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
        __builtin_cpu_supports("popcnt")) {
        best = 3;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512cd"))
            best = 4;
    }
#endif
    return best;
}

void bss2_init(void) {
    if (ISA_LOAD(init_done)) return;
    const int best = detect_isa();
    ISA_STORE(isa_max, best);
    ISA_STORE(isa_level, best);
    ISA_STORE(init_done, 1);
}

int bss2_isa(void) {
    bss2_init();
    return ISA_LOAD(isa_level);
}

int bss2_set_isa(int level) {
    bss2_init();
    const int best = ISA_LOAD(isa_max);
    const int use = level >= 4 && best >= 4 ? 4 : (level >= 3 && best >= 3 ? 3 : 0);
    ISA_STORE(isa_level, use);
    return use;
}
