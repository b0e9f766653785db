// Interposes glibc's allocation entry points with counting wrappers. Defined in the test
// executable, these symbols take precedence over libc's for every library in the process;
// each wrapper bumps a per-thread counter and forwards to glibc's internal entry point.
// Per thread, because Swift Testing runs other tests concurrently on other threads.
#include "CMallocCounter.h"
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static __thread unsigned long calls;

unsigned long malloc_counter_thread_calls(void) { return calls; }

void *malloc(size_t n) { calls++; return __libc_malloc(n); }
void *calloc(size_t k, size_t n) { calls++; return __libc_calloc(k, n); }
void *realloc(void *p, size_t n) { calls++; return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { calls++; return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { calls++; return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    calls++;
    void *p = __libc_memalign(a, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
