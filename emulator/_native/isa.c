/* See isa.h. */
#include "isa.h"

static int init_done = 0;
static int isa_max = 0;   /* best level the CPU supports */
static int isa_level = 0; /* level in use */

static void detect_isa(void) {
    isa_max = 0;
#if HIL_X86_DISPATCH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
        __builtin_cpu_supports("popcnt")) {
        isa_max = 3;
        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
            __builtin_cpu_supports("avx512cd"))
            isa_max = 4;
    }
#endif
    isa_level = isa_max;
}

void bss2_init(void) {
    if (init_done) return;
    detect_isa();
    init_done = 1;
}

int bss2_isa(void) {
    bss2_init();
    return isa_level;
}

int bss2_set_isa(int level) {
    bss2_init();
    if (level >= 4 && isa_max >= 4)
        isa_level = 4;
    else if (level >= 3 && isa_max >= 3)
        isa_level = 3;
    else
        isa_level = 0;
    return isa_level;
}
