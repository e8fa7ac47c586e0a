// An optimisation barrier for benchmarks: see CDevmeshAllocCounter_consume in the header.
// It must stay in its own C file (no LTO across the Swift/C boundary), so that the call is
// opaque to the Swift optimizer.
#include "CDevmeshAllocCounter.h"

void CDevmeshAllocCounter_consume(uint64_t value) { (void)value; }

void CDevmeshAllocCounter_consumePointer(const void *pointer) {
    // The empty asm with a memory clobber tells the C compiler, too, that the memory is read.
    __asm__ volatile("" : : "r"(pointer) : "memory");
}
