#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H

/// Number of malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign calls made
/// so far by the calling thread (this target interposes those functions process-wide and
/// forwards them to glibc). Only the test binary links it.
unsigned long malloc_counter_thread_calls(void);

/// Marks (1) or unmarks (0) the calling thread as tracked. Threads created by a tracked
/// thread are tracked for their whole life (pthread_create is interposed too).
void malloc_counter_track_thread(int on);

/// Allocation calls made so far on all tracked threads together.
unsigned long malloc_counter_tracked_calls(void);

/// Threads created so far by tracked threads.
unsigned long malloc_counter_tracked_threads(void);

#endif
