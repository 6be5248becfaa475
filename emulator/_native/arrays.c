/* See arrays.h. */
#include "arrays.h"

#include <string.h>

#include "compiler.h"
#include "isa.h"

/* Elements per chunk of hil_narrow8: the fast loop has no branch, so it
 * vectorizes; a chunk that holds a fault is scanned again, element by element, to
 * find where (the error path only). Each loop is compiled once per code path
 * (isa.h): 64-bit compares and float conversions vectorize from AVX2 on only. */
#define CHUNK 4096

/* Integers are checked as one unsigned compare of the element's distance from
 * the bottom of the range, (uint64) v - lo <= hi - lo (computed modulo 2^64, so
 * every int64 value is placed right), and the fast loop keeps only the largest
 * distance (one vector max per vector of elements). An unsigned element is never
 * below 0, so for it the bottom is max(lo, 0), and a range below 0 holds nothing. */
#define DEFINE_NARROW_INT(NAME, ATTR, T, IS_SIGNED)                                         \
    ATTR static int NAME(const void *src, int64_t n, int64_t lo, int64_t hi,                \
                         uint8_t *restrict d, int64_t *first) {                             \
        const T *restrict s = src;                                                          \
        const int64_t bottom = IS_SIGNED || lo > 0 ? lo : 0;                                \
        if (!IS_SIGNED && hi < 0) {                                                         \
            if (n > 0) first[2] = 0;                                                        \
            return n > 0 ? HIL_BAD_RANGE : 0;                                               \
        }                                                                                   \
        const uint64_t base = (uint64_t)bottom, span = (uint64_t)(hi - bottom);             \
        for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {                                         \
            const int64_t c1 = n - c0 < CHUNK ? n : c0 + CHUNK;                             \
            uint64_t far = 0;                                                               \
            for (int64_t i = c0; i < c1; i++) {                                             \
                const uint64_t u = (IS_SIGNED ? (uint64_t)(int64_t)s[i] : (uint64_t)s[i]) - base; \
                far = u > far ? u : far;                                                    \
                d[i] = (uint8_t)s[i];                                                       \
            }                                                                               \
            if (far > span)                                                                 \
                for (int64_t i = c0; i < c1; i++)                                           \
                    if ((IS_SIGNED ? (uint64_t)(int64_t)s[i] : (uint64_t)s[i]) - base > span) { \
                        first[2] = i;                                                       \
                        return HIL_BAD_RANGE;                                               \
                    }                                                                       \
        }                                                                                   \
        return 0;                                                                           \
    }

/* The fault bits of one float element v against lo..hi. A non-finite value is a
 * NaN-or-infinity fault; a finite one outside lo..hi a range fault, and also a
 * fraction fault if it is not whole (the fraction is reported first, as numpy's
 * path of integer_array does). */
static int float_faults(double v, int64_t lo, int64_t hi) {
    if (!(v - v == 0.0)) return HIL_BAD_NOT_FINITE; /* NaN or infinity */
    const int fraction = v != __builtin_floor(v) ? HIL_BAD_NOT_INTEGER : 0;
    return (v >= (double)lo && v <= (double)hi ? 0 : HIL_BAD_RANGE) | fraction;
}

/* Floats: the fast loop converts only in-range values (out of range the
 * conversion would be undefined behaviour); lo..hi within -128..255, so int32 holds
 * them exactly. A float32 widens to double exactly, so the error path checks doubles. */
#define DEFINE_NARROW_FLOAT(NAME, ATTR, T)                                                  \
    ATTR static int NAME(const void *src, int64_t n, int64_t lo, int64_t hi,                \
                         uint8_t *restrict d, int64_t *first) {                             \
        const T *restrict s = src;                                                          \
        int found = 0;                                                                      \
        for (int64_t c0 = 0; c0 < n; c0 += CHUNK) {                                         \
            const int64_t c1 = n - c0 < CHUNK ? n : c0 + CHUNK;                             \
            int bad = 0;                                                                    \
            for (int64_t i = c0; i < c1; i++) {                                             \
                const T v = s[i];                                                           \
                const int in_range = v >= (T)lo && v <= (T)hi; /* false for NaN */         \
                const T c = in_range ? v : (T)0;                                            \
                const int32_t t = (int32_t)c;                                               \
                bad |= !in_range | ((T)t != c);                                             \
                d[i] = (uint8_t)t;                                                          \
            }                                                                               \
            if (!bad) continue;                                                             \
            for (int64_t i = c0; i < c1; i++) {                                             \
                const int f = float_faults((double)s[i], lo, hi);                           \
                for (int k = 0; k < 3; k++)                                                 \
                    if ((f & (1 << k)) && first[k] < 0) first[k] = i;                       \
                found |= f;                                                                 \
            }                                                                               \
        }                                                                                   \
        return found;                                                                       \
    }

typedef int (*narrow_fn)(const void *src, int64_t n, int64_t lo, int64_t hi, uint8_t *d,
                         int64_t *first);

/* The converters of one code path, in the order of narrow_slot. */
#define DEFINE_NARROW_PATH(SUFFIX, ATTR)                                                    \
    DEFINE_NARROW_INT(narrow_i8_##SUFFIX, ATTR, int8_t, 1)                                  \
    DEFINE_NARROW_INT(narrow_i16_##SUFFIX, ATTR, int16_t, 1)                                \
    DEFINE_NARROW_INT(narrow_i32_##SUFFIX, ATTR, int32_t, 1)                                \
    DEFINE_NARROW_INT(narrow_i64_##SUFFIX, ATTR, int64_t, 1)                                \
    DEFINE_NARROW_INT(narrow_u8_##SUFFIX, ATTR, uint8_t, 0)                                 \
    DEFINE_NARROW_INT(narrow_u16_##SUFFIX, ATTR, uint16_t, 0)                               \
    DEFINE_NARROW_INT(narrow_u32_##SUFFIX, ATTR, uint32_t, 0)                               \
    DEFINE_NARROW_INT(narrow_u64_##SUFFIX, ATTR, uint64_t, 0)                               \
    DEFINE_NARROW_FLOAT(narrow_f32_##SUFFIX, ATTR, float)                                   \
    DEFINE_NARROW_FLOAT(narrow_f64_##SUFFIX, ATTR, double)                                  \
    static const narrow_fn narrow_##SUFFIX[10] = {                                          \
        narrow_i8_##SUFFIX,  narrow_i16_##SUFFIX, narrow_i32_##SUFFIX, narrow_i64_##SUFFIX, \
        narrow_u8_##SUFFIX,  narrow_u16_##SUFFIX, narrow_u32_##SUFFIX, narrow_u64_##SUFFIX, \
        narrow_f32_##SUFFIX, narrow_f64_##SUFFIX};

DEFINE_NARROW_PATH(v0, )
#if HIL_X86_DISPATCH
DEFINE_NARROW_PATH(v3, TARGET_V3)
DEFINE_NARROW_PATH(v4, TARGET_V4)
#endif

/* The index of (kind, itemsize) in a path's table, or -1. */
static int narrow_slot(int kind, int itemsize) {
    const int size_index = itemsize == 1 ? 0 : itemsize == 2 ? 1 : itemsize == 4 ? 2 : itemsize == 8 ? 3 : -1;
    if (size_index < 0) return -1;
    if (kind == HIL_KIND_SIGNED) return size_index;
    if (kind == HIL_KIND_UNSIGNED) return 4 + size_index;
    if (kind == HIL_KIND_FLOAT && size_index >= 2) return 8 + size_index - 2;
    return -1;
}

int hil_narrow8(const void *src, int kind, int itemsize, int64_t n, int64_t lo, int64_t hi,
                uint8_t *dst, int64_t *first) {
    const int slot = narrow_slot(kind, itemsize);
    if (src == NULL || dst == NULL || first == NULL || n < 0 || lo > hi || lo < -128 || hi > 255 || slot < 0)
        return -1;
    first[0] = first[1] = first[2] = -1;
    const narrow_fn *path = narrow_v0;
#if HIL_X86_DISPATCH
    const int level = bss2_isa();
    if (level == 4)
        path = narrow_v4;
    else if (level == 3)
        path = narrow_v3;
#endif
    return path[slot](src, n, lo, hi, dst, first);
}

/* Eight lanes of a Fletcher-style sum over 8-byte words (sum, and sum of sums:
 * position-sensitive, and only additions, so it vectorizes), folded with
 * SplitMix64's finalizer. Weak against a chosen collision, which costs nothing
 * here: a match is always confirmed byte for byte. */
static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t hil_hash2d(const uint8_t *p, int64_t rows, int64_t row_bytes, int64_t stride) {
    uint64_t sum[8] = {0}, sums[8] = {0};
    if (p == NULL || rows < 0 || row_bytes < 0) return 0;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = p + r * stride;
        int64_t i = 0;
        for (; i + 64 <= row_bytes; i += 64)
            for (int k = 0; k < 8; k++) {
                uint64_t w;
                memcpy(&w, row + i + 8 * k, 8);
                sum[k] += w;
                sums[k] += sum[k];
            }
        uint64_t tail = (uint64_t)row_bytes;
        for (; i < row_bytes; i++) tail = (tail ^ row[i]) * 0x100000001b3ULL;
        sum[r & 7] += tail;
        sums[r & 7] += sum[r & 7] ^ (uint64_t)r;
    }
    uint64_t h = mix64((uint64_t)rows * 0xc4ceb9fe1a85ec53ULL);
    for (int k = 0; k < 8; k++) h = mix64(h ^ mix64(sum[k] + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1)) ^ sums[k]);
    return h;
}

int hil_equal2d(const uint8_t *a, int64_t a_stride, const uint8_t *b, int64_t b_stride,
                int64_t rows, int64_t row_bytes) {
    if (a == NULL || b == NULL || rows < 0 || row_bytes < 0) return 0;
    for (int64_t r = 0; r < rows; r++)
        if (memcmp(a + r * a_stride, b + r * b_stride, (size_t)row_bytes) != 0) return 0;
    return 1;
}
