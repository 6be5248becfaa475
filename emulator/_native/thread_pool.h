/* A small pool of worker threads that runs a job of independent blocks on the
 * calling thread and the workers (see thread_pool.c for why not OpenMP).
 *
 * The thread count (the caller included) is OMP_NUM_THREADS if set, else the CPUs
 * this process may run on; bss2_set_threads changes it. Which thread runs which
 * block is not fixed, so a job whose blocks do not depend on it gives the same
 * result whatever the thread count.
 */
#ifndef HIL_THREAD_POOL_H
#define HIL_THREAD_POOL_H

/* Threads per job (a MAC run), the caller included: OMP_NUM_THREADS if set, else the
 * CPUs the process may run on. bss2_set_threads(n) sets it (n <= 0: back to the
 * default) and returns the value in effect. Results do not depend on it. */
int bss2_threads(void);
int bss2_set_threads(int n);

#ifndef HIL_PUBLIC_ONLY /* internal to the C units (see core.h) */
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"

/* One block of a job: the work of block k, with the scratch of the thread that runs it. */
typedef void (*hil_pool_block)(void *arg, int64_t k, void *scratch);

/* Runs block(arg, k, scratch) once for each k = 0 .. nblocks-1, on the calling
 * thread and the pool's workers (on the caller alone if there is one thread, one
 * block, or the pool is busy with another caller's job). Each participating thread
 * has a scratch of its own, scratch_bytes long and 64-byte aligned. Returns 0, or
 * -2 if a thread could not allocate its scratch (then some blocks did not run). */
HIL_INTERNAL int hil_pool_run(int64_t nblocks, size_t scratch_bytes, hil_pool_block block, void *arg);
#endif

#endif
