/* Threads workload: a parallel sum over one shared memory.
 *
 * Usage (native): psum [N [THREADS]]   (default 1000000, 4)
 *
 * The numbers 0..N-1 are mixed (splitmix64's finaliser) and their low 16 bits summed.
 * Workers take chunks of 4096 numbers from an atomic counter until none is left and add
 * each chunk's sum to an atomic total, so the total does not depend on how many workers
 * there are or how the chunks fall to them.
 *
 * For wasm32 it is built freestanding with a shared, imported memory
 * (`-matomics -mbulk-memory -Wl,--shared-memory,--import-memory`): the counter and the
 * total live in that memory, and bench/threads.py runs one instance per Python thread,
 * every instance importing the same SharedMemory and calling `run_worker`. Natively the
 * same workers run on pthreads and main prints the line bench/threads.py compares with.
 */
#include <stdint.h>

#define CHUNK 4096u

static uint32_t next_chunk;
static uint64_t total;

static uint64_t mix(uint64_t x) {
    x *= 0x9E3779B97F4A7C15ull;
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

#if defined(__wasm__)
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

/* Start a new sum (call once, before the workers). */
EXPORT("reset") void reset(void) {
    __atomic_store_n(&next_chunk, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&total, 0, __ATOMIC_SEQ_CST);
}

/* Sum chunks of 0..n-1 until none is left; returns how many chunks this worker took. */
EXPORT("run_worker") uint32_t run_worker(uint32_t n) {
    uint32_t taken = 0;
    for (;;) {
        uint32_t chunk = __atomic_fetch_add(&next_chunk, 1, __ATOMIC_SEQ_CST);
        uint64_t lo = (uint64_t)chunk * CHUNK;
        if (lo >= n) {
            return taken;
        }
        uint64_t hi = lo + CHUNK < n ? lo + CHUNK : n;
        uint64_t sum = 0;
        for (uint64_t i = lo; i < hi; i++) {
            sum += mix(i) & 0xFFFF;
        }
        __atomic_fetch_add(&total, sum, __ATOMIC_SEQ_CST);
        taken++;
    }
}

/* The total so far. */
EXPORT("result") uint64_t result(void) { return __atomic_load_n(&total, __ATOMIC_SEQ_CST); }

#if !defined(__wasm__)
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static uint32_t arg_n;

static void *worker(void *unused) {
    (void)unused;
    run_worker(arg_n);
    return NULL;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 1000000;
    long threads = argc > 2 ? strtol(argv[2], NULL, 10) : 4;
    if (n < 1 || n > 4000000000L || threads < 1 || threads > 64) {
        fprintf(stderr, "usage: psum [N [THREADS]]\n");
        return 2;
    }
    arg_n = (uint32_t)n;
    reset();
    pthread_t ids[64];
    for (long t = 0; t < threads; t++) pthread_create(&ids[t], NULL, worker, NULL);
    for (long t = 0; t < threads; t++) pthread_join(ids[t], NULL);
    printf("psum n=%ld total=%" PRIu64 "\n", n, result());
    return 0;
}
#endif
