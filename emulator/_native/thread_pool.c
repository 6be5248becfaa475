/* See thread_pool.h.
 *
 * Why not OpenMP. After every BLAS call numpy's OpenBLAS leaves its idle workers
 * spinning (without yielding) for about 0.1 s, so on a small machine one core is
 * taken whenever a run follows a matmul. With libgomp, our idle threads either
 * spin too (the default: both pools fight and both get several times slower) or
 * sleep (OMP_WAIT_POLICY=passive), and then the kernel tends to wake our helper
 * on the caller's own core, next to the caller, while the spinner keeps the other
 * one: the run goes single-threaded. So this small pool:
 *  - its workers sleep between jobs (no spinning that would slow other code);
 *  - before waking them, a job steers them (CPU affinity of our own worker
 *    threads only) to the allowed CPUs other than the caller's, where a woken
 *    thread preempts a spinner at once;
 *  - blocks are claimed one at a time from a shared counter by every participating
 *    thread (the caller and the workers), so a core slowed by another process, or
 *    a late or preempted worker, only means the others do more blocks.
 */
#define _GNU_SOURCE 1 /* sched_getaffinity */
#include "thread_pool.h"

#include <stdlib.h>

/* A job, as the participants see it. */
typedef struct {
    int64_t nblocks;
    size_t scratch_bytes;
    hil_pool_block block;
    void *arg;
    int threads; /* participants, the caller included */
} job_t;

static void *alloc64(size_t bytes) {
    void *ptr = NULL;
    if (posix_memalign(&ptr, 64, bytes ? bytes : 64) != 0) return NULL;
    return ptr;
}

/* The whole job on the calling thread. */
static int run_alone(const job_t *job) {
    void *scratch = alloc64(job->scratch_bytes);
    if (scratch == NULL) return -2;
    for (int64_t k = 0; k < job->nblocks; k++) job->block(job->arg, k, scratch);
    free(scratch);
    return 0;
}

#if defined(__linux__) && defined(__GNUC__)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#define POOL_MAX_THREADS 64
#define CALLER_SPIN_NS 200000 /* the caller spins this long for the last blocks, then sleeps */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define FETCH_ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_SEQ_CST)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake;   /* workers sleep here between jobs */
    pthread_cond_t finish; /* the caller sleeps here until the last block is done */
    int threads;           /* threads per job, the caller included; 0: not decided yet */
    int created;           /* worker threads started */
    int busy;              /* a caller owns the pool (others run single-threaded) */
    int caller_sleeping;
    uint64_t generation;   /* bumped for every job */
    int open;              /* the current job still admits workers */
    int inside;            /* workers inside the current job */
    int64_t next;          /* next block to claim */
    int64_t done;          /* blocks finished */
    int failed;            /* a participant could not allocate its scratch */
    int steer_cpu;         /* the caller's CPU the workers were last steered away from */
    job_t job;
    pthread_t tids[POOL_MAX_THREADS];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER, .finish = PTHREAD_COND_INITIALIZER};

static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* After fork() only the forking thread exists in the child: start afresh. */
static void pool_after_fork_child(void) {
    pthread_mutex_init(&pool.mu, NULL);
    pthread_cond_init(&pool.wake, NULL);
    pthread_cond_init(&pool.finish, NULL);
    pool.created = 0;
    pool.busy = 0;
    pool.caller_sleeping = 0;
    pool.open = 0;
    pool.inside = 0;
    pool.steer_cpu = -1;
}

static void pool_init_once(void) {
    pool.steer_cpu = -1;
    pthread_atfork(NULL, NULL, pool_after_fork_child);
}

static int default_threads(void) {
    const char *env = getenv("OMP_NUM_THREADS");
    if (env != NULL) {
        const long v = strtol(env, NULL, 10); /* "4", or the first of "4,2" */
        if (v >= 1) return v > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)v;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n >= 1) return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n;
    }
    return 1;
}

/* Claims and runs blocks of the current job until none is left. */
static void participate(const job_t *job) {
    void *scratch = alloc64(job->scratch_bytes);
    if (scratch == NULL) STORE(pool.failed, 1); /* still claim blocks (unrun) so the job ends */
    for (;;) {
        const int64_t k = FETCH_ADD(pool.next, 1);
        if (k >= job->nblocks) break;
        if (scratch != NULL && !LOAD(pool.failed)) job->block(job->arg, k, scratch);
        if (FETCH_ADD(pool.done, 1) + 1 == job->nblocks) {
            pthread_mutex_lock(&pool.mu);
            if (pool.caller_sleeping) pthread_cond_broadcast(&pool.finish);
            pthread_mutex_unlock(&pool.mu);
        }
    }
    free(scratch);
}

static void *worker_main(void *arg) {
    const int index = (int)(intptr_t)arg; /* 1 .. threads-1; the caller is 0 */
    uint64_t seen = LOAD(pool.generation);
    for (;;) {
        uint64_t g;
        pthread_mutex_lock(&pool.mu);
        while ((g = LOAD(pool.generation)) == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        pthread_mutex_unlock(&pool.mu);
        seen = g;
        /* Enter the job only while it is open; the caller waits for `inside` to
         * drop to 0 after closing it, so pool.job stays valid while we read it. */
        FETCH_ADD(pool.inside, 1);
        if (LOAD(pool.generation) == g && LOAD(pool.open)) {
            const job_t job = pool.job;
            if (index < job.threads) participate(&job);
        }
        FETCH_ADD(pool.inside, -1);
    }
    return NULL;
}

/* Starts workers up to `want` (the caller owns the pool); returns how many run. */
static int pool_grow(int want) {
    if (want > POOL_MAX_THREADS - 1) want = POOL_MAX_THREADS - 1;
    if (pool.created >= want) return want;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* workers never take signals */
    while (pool.created < want) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker_main, (void *)(intptr_t)(pool.created + 1)) != 0) break;
        pthread_detach(t);
        pool.tids[pool.created++] = t;
        pool.steer_cpu = -1; /* steer the new one too */
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.created < want ? pool.created : want;
}

/* Our workers may run on every CPU the caller may, except the caller's current one. */
static void steer_workers(void) {
    const int cpu = sched_getcpu();
    if (cpu < 0 || cpu == pool.steer_cpu) return;
    pool.steer_cpu = cpu;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0 || !CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2)
        return;
    CPU_CLR(cpu, &set);
    for (int i = 0; i < pool.created; i++) pthread_setaffinity_np(pool.tids[i], sizeof set, &set);
}

int bss2_threads(void) {
    pthread_once(&pool_once, pool_init_once);
    int t = LOAD(pool.threads);
    if (t == 0) {
        t = default_threads();
        STORE(pool.threads, t);
    }
    return t;
}

int bss2_set_threads(int n) {
    STORE(pool.threads, n >= 1 ? (n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n) : 0);
    return bss2_threads();
}

/* Runs the job on the caller and the pool's workers: 0, -2 if out of memory, or
 * -3 if it should run on the caller alone (one thread, one block, or the pool is
 * busy with another caller's job). */
static int run_shared(job_t *job) {
    const int threads = bss2_threads();
    int expected = 0;
    if (threads < 2 || job->nblocks < 2 ||
        !__atomic_compare_exchange_n(&pool.busy, &expected, 1, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
        return -3;
    job->threads = 1 + pool_grow(threads - 1);
    if (job->threads < 2) {
        STORE(pool.busy, 0);
        return -3;
    }
    steer_workers();
    pthread_mutex_lock(&pool.mu);
    pool.job = *job;
    STORE(pool.next, 0);
    STORE(pool.done, 0);
    STORE(pool.failed, 0);
    STORE(pool.open, 1);
    FETCH_ADD(pool.generation, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);

    participate(job);

    if (LOAD(pool.done) < job->nblocks) { /* a worker is finishing its last block */
        const int64_t t0 = now_ns();
        for (int i = 1; LOAD(pool.done) < job->nblocks; i++) {
            cpu_relax();
            if (!(i & 63) && now_ns() - t0 > CALLER_SPIN_NS) break;
        }
        pthread_mutex_lock(&pool.mu);
        pool.caller_sleeping = 1;
        while (LOAD(pool.done) < job->nblocks) pthread_cond_wait(&pool.finish, &pool.mu);
        pool.caller_sleeping = 0;
        pthread_mutex_unlock(&pool.mu);
    }
    STORE(pool.open, 0);
    while (LOAD(pool.inside) != 0) sched_yield(); /* late workers leave at once */
    const int failed = LOAD(pool.failed);
    STORE(pool.busy, 0);
    return failed ? -2 : 0;
}
#else
int bss2_threads(void) { return 1; }
int bss2_set_threads(int n) {
    (void)n;
    return 1;
}
static int run_shared(job_t *job) {
    (void)job;
    return -3;
}
#endif

int hil_pool_run(int64_t nblocks, size_t scratch_bytes, hil_pool_block block, void *arg) {
    job_t job = {nblocks, scratch_bytes, block, arg, 1};
    const int status = run_shared(&job);
    return status == -3 ? run_alone(&job) : status;
}
