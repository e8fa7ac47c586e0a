// C helpers of the microbenchmark (`devmesh-microbench`), kept in C because Swift cannot
// express them: a malloc interposer, an optimisation barrier, and Valgrind client requests.
// Linked only into benchmark executables (never into XCTest, whose sanitizers interpose
// malloc too).
#ifndef CDEVMESH_ALLOC_COUNTER_H
#define CDEVMESH_ALLOC_COUNTER_H
#include <stdint.h>

// ---- counter.c: heap allocations made by this process -------------------------------------

/// Calls to malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc and
/// pvalloc so far, on all threads. Read it before and after a measured loop.
uint64_t CDevmeshAllocCounter_allocations(void);

// ---- blackhole.c: results the optimizer must treat as used ---------------------------------

/// Does nothing, in a separate C translation unit: the Swift optimizer cannot see into it, so
/// it must compute whatever is passed (and everything it depends on), and cannot hoist the
/// work out of the loop, because the call might read any memory.
void CDevmeshAllocCounter_consume(uint64_t value);
/// Same, for a pointer: the memory behind it counts as read.
void CDevmeshAllocCounter_consumePointer(const void *pointer);

// ---- callgrind.c: Valgrind client requests (no-ops outside Valgrind) ---------------------

/// 1 when this file was compiled with <valgrind/callgrind.h>, so the requests below are real.
int CDevmeshAllocCounter_callgrindRequestsCompiled(void);
/// 1 when running under Valgrind (any tool), else 0.
int CDevmeshAllocCounter_runningOnValgrind(void);
/// Callgrind: flips event collection on/off (run with `--collect-atstart=no`).
void CDevmeshAllocCounter_callgrindToggleCollect(void);
/// Callgrind: writes the counts collected so far to a new dump tagged `reason`, then zeroes them.
void CDevmeshAllocCounter_callgrindDumpStats(const char *reason);
/// Callgrind: zeroes the counts collected so far.
void CDevmeshAllocCounter_callgrindZeroStats(void);
#endif
