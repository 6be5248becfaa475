/* Compiler portability of the C units: C99 with GCC extensions where available.
 * Internal to the C units (not part of the bridge, core.h). */
#ifndef HIL_COMPILER_H
#define HIL_COMPILER_H

#if defined(__GNUC__)
#define ALIGN64 __attribute__((aligned(64)))
#define ALWAYS_INLINE static inline __attribute__((always_inline))
#define UNROLL_PRAGMA(n) _Pragma("GCC unroll 16")
/* Functions and data the units share but the extension does not export. */
#define HIL_INTERNAL __attribute__((visibility("hidden")))
#else
#define ALIGN64
#define ALWAYS_INLINE static inline
#define UNROLL_PRAGMA(n)
#define HIL_INTERNAL
#endif

#endif
