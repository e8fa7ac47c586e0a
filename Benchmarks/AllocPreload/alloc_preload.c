// devmesh allocation counter for a whole process, loaded with LD_PRELOAD.
//
// Why: the microbenchmarks count allocations of the pure layers, but the proxy's request path
// also runs sessions, pools, timers and the access log. This library counts every heap
// allocation the real `devmesh` binary makes, per thread, without rebuilding it:
//
//   DEVMESH_ALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=/path/libdevmesh_alloc_preload.so devmesh proxy ...
//   kill -USR2 <pid>          # writes the counts to $DEVMESH_ALLOC_COUNT_FILE
//
// How:
// - malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc, pvalloc and free
//   are defined here, so the dynamic linker binds every caller (the Swift runtime, libc itself,
//   Foundation) to them before glibc's. Each one counts, then forwards to glibc's own
//   `__libc_*` entry point, so the heap itself is glibc's and no dlsym bootstrapping is needed.
// - Counts are kept per thread, so a test can tell the worker threads (the request path) from
//   the control thread (admin, reload, periodic work). Each thread claims one slot of a fixed
//   table the first time it allocates; its slot pointer is an initial-exec TLS variable, which
//   for a library loaded at startup lives in the static TLS block and never allocates.
// - On SIGUSR2 the handler writes one text report with write(2) to the file named by
//   DEVMESH_ALLOC_COUNT_FILE, truncating it first. Only async-signal-safe calls are used
//   (open, write, close; numbers are formatted by hand). The report ends with a line "end",
//   so a reader knows it is complete:
//
//     total <allocations> <frees>
//     thread <tid> <allocations> <frees>      (one line per thread that ever allocated)
//     end
//
// devmesh blocks SIGTERM/SIGINT/SIGHUP only (it reads them from a signalfd), so SIGUSR2 is
// delivered to this handler. Without DEVMESH_ALLOC_COUNT_FILE no handler is installed.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

// One slot per thread that allocates. 256 is far above devmesh's thread count (one per worker,
// the control thread, and a few runtime threads); later threads share the overflow slot.
#define SLOT_COUNT 256

struct slot {
    int32_t tid;  // 0 until claimed; the overflow slot keeps -1
    uint64_t allocations;
    uint64_t frees;
};

static struct slot slots[SLOT_COUNT + 1];
static uint32_t slots_claimed;
static __thread struct slot *my_slot __attribute__((tls_model("initial-exec")));
static char count_file[4096];

static struct slot *current_slot(void) {
    struct slot *s = my_slot;
    if (s) return s;
    uint32_t index = __atomic_fetch_add(&slots_claimed, 1, __ATOMIC_RELAXED);
    if (index < SLOT_COUNT) {
        s = &slots[index];
        __atomic_store_n(&s->tid, (int32_t)syscall(SYS_gettid), __ATOMIC_RELEASE);
    } else {
        s = &slots[SLOT_COUNT];
        __atomic_store_n(&s->tid, -1, __ATOMIC_RELEASE);
    }
    my_slot = s;
    return s;
}

// Relaxed atomics: a slot is written by its own thread only (except the shared overflow slot),
// and the handler only needs each counter to be read whole.
static inline void count_allocation(void) {
    __atomic_fetch_add(&current_slot()->allocations, 1, __ATOMIC_RELAXED);
}
static inline void count_free(void) { __atomic_fetch_add(&current_slot()->frees, 1, __ATOMIC_RELAXED); }

void *malloc(size_t size) { count_allocation(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count_allocation(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count_allocation(); return __libc_realloc(p, size); }
void free(void *p) {
    if (p) count_free();
    __libc_free(p);
}
void *memalign(size_t align, size_t size) { count_allocation(); return __libc_memalign(align, size); }
void *aligned_alloc(size_t align, size_t size) { count_allocation(); return __libc_memalign(align, size); }
void *valloc(size_t size) { count_allocation(); return __libc_valloc(size); }
void *pvalloc(size_t size) { count_allocation(); return __libc_pvalloc(size); }
int posix_memalign(void **out, size_t align, size_t size) {
    count_allocation();
    // POSIX: the alignment must be a power of two multiple of sizeof(void *).
    if (align < sizeof(void *) || (align & (align - 1)) != 0) return EINVAL;
    void *p = __libc_memalign(align, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

// ---- the SIGUSR2 report (async-signal-safe) ------------------------------------------------

struct text {
    char bytes[64 + (SLOT_COUNT + 1) * 72];
    size_t length;
};

static void append(struct text *t, const char *s) {
    while (*s && t->length < sizeof t->bytes) t->bytes[t->length++] = *s++;
}

static void append_number(struct text *t, uint64_t value, int is_negative) {
    char digits[24];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    if (is_negative && t->length < sizeof t->bytes) t->bytes[t->length++] = '-';
    while (n && t->length < sizeof t->bytes) t->bytes[t->length++] = digits[--n];
}

static void report(int signo) {
    (void)signo;
    // A process-directed signal may be handled by any thread, and the handler's mask blocks
    // SIGUSR2 on that thread only: a second SIGUSR2 could run this concurrently on another
    // thread. The report buffer is shared, so a report already in progress wins.
    static int busy;
    if (__atomic_exchange_n(&busy, 1, __ATOMIC_ACQUIRE)) return;
    int saved_errno = errno;
    static struct text t;  // static: too large for a small signal stack
    t.length = 0;

    uint32_t claimed = __atomic_load_n(&slots_claimed, __ATOMIC_RELAXED);
    if (claimed > SLOT_COUNT) claimed = SLOT_COUNT + 1;
    uint64_t allocations = 0, frees = 0;
    for (uint32_t i = 0; i < claimed; i++) {
        allocations += __atomic_load_n(&slots[i].allocations, __ATOMIC_RELAXED);
        frees += __atomic_load_n(&slots[i].frees, __ATOMIC_RELAXED);
    }
    append(&t, "total ");
    append_number(&t, allocations, 0);
    append(&t, " ");
    append_number(&t, frees, 0);
    append(&t, "\n");
    for (uint32_t i = 0; i < claimed; i++) {
        int32_t tid = __atomic_load_n(&slots[i].tid, __ATOMIC_ACQUIRE);
        if (tid == 0) continue;  // claimed a moment ago, tid not stored yet
        append(&t, "thread ");
        append_number(&t, tid < 0 ? 1 : (uint64_t)tid, tid < 0);
        append(&t, " ");
        append_number(&t, __atomic_load_n(&slots[i].allocations, __ATOMIC_RELAXED), 0);
        append(&t, " ");
        append_number(&t, __atomic_load_n(&slots[i].frees, __ATOMIC_RELAXED), 0);
        append(&t, "\n");
    }
    append(&t, "end\n");

    int fd = open(count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t done = 0;
        while (done < t.length) {
            ssize_t n = write(fd, t.bytes + done, t.length - done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            done += (size_t)n;
        }
        close(fd);
    }
    errno = saved_errno;
    __atomic_store_n(&busy, 0, __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void install_report_handler(void) {
    const char *path = getenv("DEVMESH_ALLOC_COUNT_FILE");
    if (!path || !*path || strlen(path) >= sizeof count_file) return;
    memcpy(count_file, path, strlen(path) + 1);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = report;
    action.sa_flags = SA_RESTART;
    sigfillset(&action.sa_mask);  // no other handler interleaves with a report
    sigaction(SIGUSR2, &action, NULL);
}
