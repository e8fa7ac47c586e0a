// Valgrind client requests, so `scripts/microbench.sh` can count the instructions of exactly
// the measured loop of each scenario (setup and the harness excluded). The requests are
// magic no-op instruction sequences that only Valgrind interprets; they cost a few
// instructions natively. Without the Valgrind headers they compile to nothing.
#include "CDevmeshAllocCounter.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define DEVMESH_HAVE_CALLGRIND 1
#endif
#endif

#ifdef DEVMESH_HAVE_CALLGRIND
int CDevmeshAllocCounter_callgrindRequestsCompiled(void) { return 1; }
int CDevmeshAllocCounter_runningOnValgrind(void) { return RUNNING_ON_VALGRIND ? 1 : 0; }
void CDevmeshAllocCounter_callgrindToggleCollect(void) { CALLGRIND_TOGGLE_COLLECT; }
void CDevmeshAllocCounter_callgrindDumpStats(const char *reason) { CALLGRIND_DUMP_STATS_AT(reason); }
void CDevmeshAllocCounter_callgrindZeroStats(void) { CALLGRIND_ZERO_STATS; }
#else
int CDevmeshAllocCounter_callgrindRequestsCompiled(void) { return 0; }
int CDevmeshAllocCounter_runningOnValgrind(void) { return 0; }
void CDevmeshAllocCounter_callgrindToggleCollect(void) {}
void CDevmeshAllocCounter_callgrindDumpStats(const char *reason) { (void)reason; }
void CDevmeshAllocCounter_callgrindZeroStats(void) {}
#endif
