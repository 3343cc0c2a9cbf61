// A persistent worker pool. Waking a sleeping thread costs ~25 µs on this VM, more than
// a whole decode matmul, so workers spin for a while after each job and only then sleep
// on a condition variable. Jobs are published by bumping a generation counter.
//
// Work is handed out in chunks from an atomic counter rather than one fixed share per
// thread: on 2 cores shared with a server's I/O threads, a thread that the OS pauses
// would otherwise hold up the whole step while the other one idles.
#include "ColonyKernels.h"
#include <immintrin.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#define CK_SPIN_NS 300000 // how long an idle worker spins before it sleeps

struct ck_pool {
    int n_threads;
    pthread_t *threads;
    _Atomic uint64_t generation;
    _Atomic int remaining;
    _Atomic int sleepers;
    _Atomic int stop;
    ck_range_fn fn;
    void *ctx;
    int64_t total, chunk;
    _Alignas(64) _Atomic int64_t next_chunk; // own cache line: taken once per chunk by every thread
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};


static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void run_chunks(ck_pool *p) {
    for (;;) {
        int64_t begin = atomic_fetch_add(&p->next_chunk, 1) * p->chunk;
        if (begin >= p->total) return;
        int64_t end = begin + p->chunk < p->total ? begin + p->chunk : p->total;
        p->fn(p->ctx, begin, end);
    }
}

static void *worker_main(void *raw) {
    ck_pool *p = raw;
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = atomic_load(&p->generation);
        if (g == seen && !atomic_load(&p->stop)) {
            int64_t deadline = now_ns() + CK_SPIN_NS;
            for (int i = 0; (g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop); i++) {
                _mm_pause();
                if ((i & 63) == 63 && now_ns() > deadline) break;
            }
            if (g == seen) {
                pthread_mutex_lock(&p->mutex);
                atomic_fetch_add(&p->sleepers, 1);
                while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
                    pthread_cond_wait(&p->wake, &p->mutex);
                atomic_fetch_sub(&p->sleepers, 1);
                pthread_mutex_unlock(&p->mutex);
            }
        }
        if (atomic_load(&p->stop)) return NULL;
        seen = g;
        run_chunks(p);
        atomic_fetch_sub(&p->remaining, 1);
    }
}

ck_pool *ck_pool_create(int n_threads) {
    ck_pool *p = calloc(1, sizeof(ck_pool));
    p->n_threads = n_threads < 1 ? 1 : n_threads;
    p->threads = calloc((size_t)p->n_threads, sizeof(pthread_t));
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    for (int i = 1; i < p->n_threads; i++) {
        pthread_create(&p->threads[i], NULL, worker_main, p);
    }
    return p;
}

void ck_pool_destroy(ck_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mutex);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}

int ck_pool_threads(const ck_pool *p) { return p->n_threads; }

void ck_pool_for(ck_pool *p, int64_t n, int64_t grain, ck_range_fn fn, void *ctx) {
    if (grain < 1) grain = 1;
    if (p->n_threads == 1 || n <= grain) { fn(ctx, 0, n); return; }
    // About two chunks per thread, each a multiple of the grain.
    int64_t chunk = (n + 2 * p->n_threads - 1) / (2 * p->n_threads);
    chunk = (chunk + grain - 1) / grain * grain;
    p->fn = fn; p->ctx = ctx; p->total = n; p->chunk = chunk;
    atomic_store(&p->next_chunk, 0);
    atomic_store(&p->remaining, p->n_threads - 1);
    atomic_fetch_add(&p->generation, 1); // publishes fn/ctx/total (seq_cst)
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    run_chunks(p);
    while (atomic_load(&p->remaining) > 0) _mm_pause();
}

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void ck_tune_allocator(void) {
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's upper limit for this setting
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_TOP_PAD, 256 << 20);
#endif
}
