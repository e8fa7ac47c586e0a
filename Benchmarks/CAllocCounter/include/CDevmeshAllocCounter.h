// Counts heap allocations made by this process, so that microbenchmarks can report and check
// allocations per operation. Linked only into benchmark executables (never into XCTest, whose
// sanitizers interpose malloc too).
#ifndef CDEVMESH_ALLOC_COUNTER_H
#define CDEVMESH_ALLOC_COUNTER_H
#include <stdint.h>
uint64_t CDevmeshAllocCounter_allocations(void);
#endif
