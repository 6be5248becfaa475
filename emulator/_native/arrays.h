/* The arrays that cross the bridge: checked narrowing to bytes, and content hashes.
 *
 * hil_narrow8 is the one pass of validation and conversion of a user's array
 * (hil.contract.validation.integer_array): every element is checked and
 * converted as it is read, so nothing is clipped and nothing is read twice.
 * hil_hash2d and hil_equal2d let a chip find derived tables it already holds
 * (emulator/bss2/chip.py): a table is reused only when the bytes it was made
 * from are equal, so a changed weight is never missed.
 */
#ifndef HIL_ARRAYS_H
#define HIL_ARRAYS_H

#include <stdint.h>

/* Element kinds of hil_narrow8's source. */
#define HIL_KIND_SIGNED 0
#define HIL_KIND_UNSIGNED 1
#define HIL_KIND_FLOAT 2

/* Bits of hil_narrow8's result; bit k is reported at slot k of its `first` array:
 * NaN or infinity (slot 0), a float with a fractional part (1), outside lo..hi (2). */
#define HIL_BAD_NOT_FINITE 1
#define HIL_BAD_NOT_INTEGER 2
#define HIL_BAD_RANGE 4

/* Converts n elements of src (kind HIL_KIND_*, itemsize 1, 2, 4 or 8; 4 or 8 for
 * floats; native byte order, contiguous) to bytes: dst[i] holds the value's low 8
 * bits (int8 or uint8, as the caller reads it), for lo..hi within -128..255.
 * Returns 0 if every element is an integer in lo..hi; otherwise the HIL_BAD_* bits
 * of what was found, with first[k] the flat index of the first element of each
 * kind of fault (-1 if none) and dst undefined. -1 on a bad argument. */
int hil_narrow8(const void *src, int kind, int itemsize, int64_t n, int64_t lo, int64_t hi,
                uint8_t *dst, int64_t *first);

/* A 64-bit hash of the bytes of a 2-D region: rows rows of row_bytes bytes, rows
 * stride bytes apart. Not cryptographic: a match must be confirmed with hil_equal2d. */
uint64_t hil_hash2d(const uint8_t *p, int64_t rows, int64_t row_bytes, int64_t stride);

/* 1 if the two 2-D regions (as above, each with its own stride) hold the same bytes. */
int hil_equal2d(const uint8_t *a, int64_t a_stride, const uint8_t *b, int64_t b_stride,
                int64_t rows, int64_t row_bytes);

#endif
