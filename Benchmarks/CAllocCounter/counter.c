// malloc interposer: defines the allocation entry points, forwards them to glibc's __libc_*
// implementations, and counts calls atomically. Works when linked into an executable: the
// executable's definitions win over libc's for every caller, the Swift runtime included.
// (Benchmarks/AllocPreload does the same for a binary we do not link, via LD_PRELOAD.)
#include "CDevmeshAllocCounter.h"
#include <errno.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

static uint64_t allocation_count;

uint64_t CDevmeshAllocCounter_allocations(void) {
    return __atomic_load_n(&allocation_count, __ATOMIC_RELAXED);
}

static inline void count(void) { __atomic_fetch_add(&allocation_count, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
int posix_memalign(void **out, size_t align, size_t size) {
    count();
    // POSIX: the alignment must be a power of two multiple of sizeof(void *).
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t align, size_t size) { count(); return __libc_memalign(align, size); }
void *memalign(size_t align, size_t size) { count(); return __libc_memalign(align, size); }
void *valloc(size_t size) { count(); return __libc_valloc(size); }
void *pvalloc(size_t size) { count(); return __libc_pvalloc(size); }
