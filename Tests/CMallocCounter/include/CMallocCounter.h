#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H

/// Number of malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign calls made
/// so far by the calling thread (this target interposes those functions process-wide and
/// forwards them to glibc). Only the test binary links it.
unsigned long malloc_counter_thread_calls(void);

#endif
