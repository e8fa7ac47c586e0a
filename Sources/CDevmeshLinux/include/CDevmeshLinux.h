// CDevmeshLinux: the few Linux facilities Swift cannot reach cleanly through Glibc.
//
// Why this shim exists, symbol by symbol:
// - <sys/eventfd.h>, <sys/signalfd.h>, <sys/epoll.h> are not all exported by Swift's Glibc
//   module map; including them here makes eventfd(), signalfd() and the epoll API visible.
// - The EPOLL* and SOCK_* values are enum members or macros of mixed types in glibc. The
//   constants below give them one type (uint32_t / int) so the Swift side needs no casts.
// - accept4() is declared by <sys/socket.h> only under _GNU_SOURCE, which Swift's Glibc
//   module is not built with; CDevmeshLinux_accept4 declares and calls it so that accepted
//   sockets are non-blocking and close-on-exec in one call (no fcntl per connection).
// - pthread_setname_np() and sched_getaffinity() are GNU extensions too; shim.c is compiled
//   with _GNU_SOURCE and exposes them through the two functions at the end.
// Nothing here allocates or keeps state.
#ifndef CDEVMESH_LINUX_H
#define CDEVMESH_LINUX_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const uint32_t CDevmeshLinux_EPOLLIN = EPOLLIN;
static const uint32_t CDevmeshLinux_EPOLLOUT = EPOLLOUT;
static const uint32_t CDevmeshLinux_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t CDevmeshLinux_EPOLLHUP = EPOLLHUP;
static const uint32_t CDevmeshLinux_EPOLLERR = EPOLLERR;
static const uint32_t CDevmeshLinux_EPOLLET = EPOLLET;

static const int CDevmeshLinux_SOCK_STREAM = SOCK_STREAM;
static const int CDevmeshLinux_SOCK_NONBLOCK = SOCK_NONBLOCK;
static const int CDevmeshLinux_SOCK_CLOEXEC = SOCK_CLOEXEC;
static const int CDevmeshLinux_EFD_NONBLOCK = EFD_NONBLOCK;
static const int CDevmeshLinux_EFD_CLOEXEC = EFD_CLOEXEC;
static const int CDevmeshLinux_SFD_NONBLOCK = SFD_NONBLOCK;
static const int CDevmeshLinux_SFD_CLOEXEC = SFD_CLOEXEC;
static const int CDevmeshLinux_EPOLL_CLOEXEC = EPOLL_CLOEXEC;
static const int CDevmeshLinux_MSG_NOSIGNAL = MSG_NOSIGNAL;

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

static inline int CDevmeshLinux_accept4(int fd, int flags) {
    return accept4(fd, (struct sockaddr *)0, (socklen_t *)0, flags);
}

/// Names the calling thread (truncated to 15 bytes by the kernel).
void CDevmeshLinux_setThreadName(const char *name);

/// CPUs in this process's affinity mask (taskset / cpuset aware), or 0 when unknown.
int CDevmeshLinux_availableCPUs(void);

#endif
