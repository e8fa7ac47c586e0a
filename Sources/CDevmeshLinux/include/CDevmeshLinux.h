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
//   with _GNU_SOURCE and exposes them through the functions at the end.
// - CMSG_SPACE, CMSG_LEN, CMSG_FIRSTHDR, CMSG_NXTHDR and CMSG_DATA (passing descriptors with
//   SCM_RIGHTS, FDPassing.swift) are function-like macros, which Swift does not import; the
//   inline wrappers below keep the kernel's alignment rules in the one place that defines them.
// - struct ucred (SO_PEERCRED) is declared only under _GNU_SOURCE: CDevmeshLinux_peerCredentials
//   in shim.c reads it for the Swift side.
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
static const int CDevmeshLinux_SOCK_SEQPACKET = SOCK_SEQPACKET;
static const int CDevmeshLinux_SCM_RIGHTS = SCM_RIGHTS;
static const int CDevmeshLinux_MSG_CMSG_CLOEXEC = MSG_CMSG_CLOEXEC;
static const int CDevmeshLinux_MSG_TRUNC = MSG_TRUNC;
static const int CDevmeshLinux_MSG_CTRUNC = MSG_CTRUNC;

static inline size_t CDevmeshLinux_CMSG_SPACE(size_t length) { return CMSG_SPACE(length); }
static inline size_t CDevmeshLinux_CMSG_LEN(size_t length) { return CMSG_LEN(length); }
static inline struct cmsghdr *CDevmeshLinux_CMSG_FIRSTHDR(struct msghdr *message) { return CMSG_FIRSTHDR(message); }
static inline struct cmsghdr *CDevmeshLinux_CMSG_NXTHDR(struct msghdr *message, struct cmsghdr *header) {
    return CMSG_NXTHDR(message, header);
}
static inline unsigned char *CDevmeshLinux_CMSG_DATA(struct cmsghdr *header) { return CMSG_DATA(header); }

extern int accept4(int fd, struct sockaddr *address, socklen_t *length, int flags);

static inline int CDevmeshLinux_accept4(int fd, int flags) {
    return accept4(fd, (struct sockaddr *)0, (socklen_t *)0, flags);
}

/// Names the calling thread (truncated to 15 bytes by the kernel).
void CDevmeshLinux_setThreadName(const char *name);

/// CPUs in this process's affinity mask (taskset / cpuset aware), or 0 when unknown.
int CDevmeshLinux_availableCPUs(void);

/// The process id and effective user id of the peer of a connected unix socket (SO_PEERCRED,
/// as the kernel recorded them at connect/listen time). Returns 0, or -1 with errno set.
int CDevmeshLinux_peerCredentials(int fd, int32_t *pid, uint32_t *uid);

/// prctl(PR_SET_TIMERSLACK) for the calling thread (prctl is variadic, so Swift cannot call it).
int CDevmeshLinux_setTimerSlack(unsigned long nanoseconds);
#endif
