// Interposes glibc's allocation entry points with counting wrappers. Defined in the test
// executable, these symbols take precedence over libc's for every library in the process;
// each wrapper bumps a per-thread counter and forwards to glibc's internal entry point.
// Per thread, because Swift Testing runs other tests concurrently on other threads.
//
// Work handed to worker threads (the GEMM's thread pool) is followed by "tracking": a test
// marks its own thread, threads created from a tracked thread are tracked too (pthread_create
// is interposed as well), and calls on tracked threads also go to one process-wide counter.
#define _GNU_SOURCE
#include "CMallocCounter.h"
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread unsigned long calls;
static __thread int tracked;
static atomic_ulong tracked_calls;
static atomic_ulong tracked_threads;

unsigned long malloc_counter_thread_calls(void) { return calls; }
unsigned long malloc_counter_tracked_calls(void) { return atomic_load(&tracked_calls); }
unsigned long malloc_counter_tracked_threads(void) { return atomic_load(&tracked_threads); }
void malloc_counter_track_thread(int on) { tracked = on; }

static inline void count(void) {
    calls++;
    if (tracked) atomic_fetch_add_explicit(&tracked_calls, 1, memory_order_relaxed);
}

void *malloc(size_t n) { count(); return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { count(); return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { count(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count();
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
struct tracked_start { void *(*start)(void *); void *arg; };

static void *run_tracked(void *p) {
    struct tracked_start s = *(struct tracked_start *)p;
    free(p);
    tracked = 1;
    return s.start(s.arg);
}

int pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
    static _Atomic(create_fn) real;
    create_fn create = atomic_load(&real);
    if (!create) {
        create = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
        atomic_store(&real, create);
    }
    if (!tracked) return create(thread, attr, start, arg);
    struct tracked_start *s = malloc(sizeof *s);
    if (!s) return EAGAIN;
    s->start = start;
    s->arg = arg;
    int status = create(thread, attr, run_tracked, s);
    if (status != 0) free(s);
    else atomic_fetch_add(&tracked_threads, 1);
    return status;
}
