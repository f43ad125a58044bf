// libsvcbench_locktrace.so: LD_PRELOADed into the iptables and nft processes the `contention`
// measurement spawns, it timestamps how they take the xtables lock and how they submit nf_tables
// batches, so lock waits are timed at the system call instead of guessed from wall times.
//
// It records nothing unless SVCBENCH_LOCKTRACE names a file. Then it appends one line per event
// (one write(2) each, O_APPEND, so lines never interleave), times from CLOCK_MONOTONIC in ns:
//
//   S <pid> <t>                  the process started (constructor)
//   P <pid> <fd> <path>          the first lock attempt on fd, and the file fd names
//   A <pid> <fd> <t>             flock(fd, LOCK_EX|LOCK_SH[|LOCK_NB]) called
//   L <pid> <fd> <t>             ... and returned 0: the lock is held
//   F <pid> <fd> <t> <errno>     ... and failed (EINTR when iptables' alarm(-w) fired,
//                                EWOULDBLOCK for a LOCK_NB try)
//   U <pid> <fd> <t>             a held lock released: flock(fd, LOCK_UN) or close(fd)
//   B <pid> <t0> <t1> <errno>    an nf_tables batch (first message NFNL_MSG_BATCH_BEGIN) sent
//                                with sendmsg/sendto from t0 to t1; the kernel processes the
//                                batch inside that call, under its per-namespace commit mutex
//   G <pid> <t> <genid>          a reply to NFT_MSG_GETGEN received: the ruleset generation.
//                                iptables-nft and nft read it before and after reading their
//                                cache, and read the cache again when it changed meanwhile
//   X <pid> <t>                  the process is exiting (destructor); a lock still held is
//                                released by the kernel right after
//
// iptables 1.8.9 takes the lock with alarm(W) around a blocking flock(LOCK_EX) (-W is ignored),
// and never with fcntl locks, so flock and close are all the lock needs wrapped; sendmsg/sendto
// and recvmsg/recvfrom (what libmnl uses) see the nf_tables traffic. The parser is
// harness/measure/lock_trace.h. C and no dependencies: it must load into any process, and it is
// built without the sanitizers of the rest of the tree.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>

static int trace_fd = -1;

// Lock fds currently held; iptables holds one.
#define kMaxHeld 8
static int held[kMaxHeld];
static int n_held;
// Fds whose path was already recorded.
static int described[kMaxHeld];
static int n_described;

static long long NowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void Emit(const char* fmt, ...) {
  if (trace_fd < 0) return;
  char line[600];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n <= 0) return;
  if (n >= (int)sizeof line) {
    // Keep the line whole: shorten it and end it.
    n = (int)sizeof line - 1;
    line[n - 1] = '\n';
  }
  const int saved = errno;
  ssize_t w;
  do {
    w = write(trace_fd, line, (size_t)n);
  } while (w < 0 && errno == EINTR);
  errno = saved;
}

// Stores the next definition of `name` (libc's) into the function pointer at `fn`. Copied as
// bytes: ISO C has no cast from dlsym's object pointer to a function pointer.
static void Next(void* fn, const char* name) {
  void* sym = dlsym(RTLD_NEXT, name);
  memcpy(fn, &sym, sizeof sym);
}

__attribute__((constructor)) static void LocktraceInit(void) {
  const char* path = getenv("SVCBENCH_LOCKTRACE");
  if (path == NULL || path[0] == '\0') return;
  trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  Emit("S %d %lld\n", (int)getpid(), NowNs());
}

__attribute__((destructor)) static void LocktraceFini(void) {
  Emit("X %d %lld\n", (int)getpid(), NowNs());
}

static int Find(const int* fds, int n, int fd) {
  for (int i = 0; i < n; ++i) {
    if (fds[i] == fd) return i;
  }
  return -1;
}

static void Forget(int fd, int* fds, int* n) {
  const int i = Find(fds, *n, fd);
  if (i >= 0) fds[i] = fds[--*n];
}

static void Describe(int fd) {
  if (Find(described, n_described, fd) >= 0) return;
  if (n_described < kMaxHeld) described[n_described++] = fd;
  char link[64];
  char target[512];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t len = readlink(link, target, sizeof target - 1);
  target[len > 0 ? len : 0] = '\0';
  Emit("P %d %d %s\n", (int)getpid(), fd, target);
}

// A held lock stops being held: note it once.
static void Released(int fd) {
  if (Find(held, n_held, fd) < 0) return;
  Forget(fd, held, &n_held);
  Emit("U %d %d %lld\n", (int)getpid(), fd, NowNs());
}

int flock(int fd, int operation) {
  static int (*real_flock)(int, int);
  if (real_flock == NULL) Next(&real_flock, "flock");
  if (trace_fd < 0) return real_flock(fd, operation);

  if (operation & LOCK_UN) {
    const int r = real_flock(fd, operation);
    if (r == 0) Released(fd);
    return r;
  }
  Describe(fd);
  Emit("A %d %d %lld\n", (int)getpid(), fd, NowNs());
  const int r = real_flock(fd, operation);
  const int err = errno;
  const long long t = NowNs();
  if (r == 0) {
    if (Find(held, n_held, fd) < 0 && n_held < kMaxHeld) held[n_held++] = fd;
    Emit("L %d %d %lld\n", (int)getpid(), fd, t);
  } else {
    Emit("F %d %d %lld %d\n", (int)getpid(), fd, t, err);
  }
  errno = err;
  return r;
}

int close(int fd) {
  static int (*real_close)(int);
  if (real_close == NULL) Next(&real_close, "close");
  if (trace_fd >= 0) {
    // Closing the last fd of a flock()ed file releases the lock (dup'ed fds aside, which
    // iptables does not make).
    if (fd == trace_fd) trace_fd = -1;
    Released(fd);
    Forget(fd, described, &n_described);
  }
  return real_close(fd);
}

// Whether `data` starts with an nf_tables NFNL_MSG_BATCH_BEGIN on a NETLINK_NETFILTER socket.
static int IsNftBatch(int fd, const void* data, size_t len) {
  if (data == NULL || len < NLMSG_HDRLEN + sizeof(struct nfgenmsg)) return 0;
  struct nlmsghdr nlh;
  struct nfgenmsg nfg;
  memcpy(&nlh, data, sizeof nlh);
  memcpy(&nfg, (const char*)data + NLMSG_HDRLEN, sizeof nfg);
  if (nlh.nlmsg_type != NFNL_MSG_BATCH_BEGIN || ntohs(nfg.res_id) != NFNL_SUBSYS_NFTABLES) {
    return 0;
  }
  int protocol = -1;
  socklen_t optlen = sizeof protocol;
  const int saved = errno;
  const int ok = getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &optlen) == 0;
  errno = saved;
  return ok && protocol == NETLINK_NETFILTER;
}

ssize_t sendmsg(int fd, const struct msghdr* msg, int flags) {
  static ssize_t (*real_sendmsg)(int, const struct msghdr*, int);
  if (real_sendmsg == NULL) Next(&real_sendmsg, "sendmsg");
  const int batch = trace_fd >= 0 && msg != NULL && msg->msg_iovlen > 0 &&
                    IsNftBatch(fd, msg->msg_iov[0].iov_base, msg->msg_iov[0].iov_len);
  const long long t0 = batch ? NowNs() : 0;
  const ssize_t r = real_sendmsg(fd, msg, flags);
  if (batch) {
    Emit("B %d %lld %lld %d\n", (int)getpid(), t0, NowNs(), r < 0 ? errno : 0);
  }
  return r;
}

// Notes the generation when `data` (received) starts with an NFT_MSG_NEWGEN reply.
static void NoteGeneration(const void* data, size_t len) {
  const size_t attrs = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct nfgenmsg));
  if (data == NULL || len < attrs) return;
  struct nlmsghdr nlh;
  memcpy(&nlh, data, sizeof nlh);
  if (nlh.nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWGEN)) return;
  const size_t end = nlh.nlmsg_len < len ? nlh.nlmsg_len : len;
  for (size_t off = attrs; off + NLA_HDRLEN <= end;) {
    struct nlattr nla;
    memcpy(&nla, (const char*)data + off, sizeof nla);
    if (nla.nla_len < NLA_HDRLEN || off + nla.nla_len > end) return;
    if ((nla.nla_type & NLA_TYPE_MASK) == NFTA_GEN_ID && nla.nla_len >= NLA_HDRLEN + 4) {
      uint32_t id;
      memcpy(&id, (const char*)data + off + NLA_HDRLEN, sizeof id);
      Emit("G %d %lld %u\n", (int)getpid(), NowNs(), ntohl(id));
      return;
    }
    off += NLA_ALIGN(nla.nla_len);
  }
}

ssize_t recvmsg(int fd, struct msghdr* msg, int flags) {
  static ssize_t (*real_recvmsg)(int, struct msghdr*, int);
  if (real_recvmsg == NULL) Next(&real_recvmsg, "recvmsg");
  const ssize_t r = real_recvmsg(fd, msg, flags);
  if (trace_fd >= 0 && r > 0 && msg != NULL && msg->msg_iovlen > 0) {
    const size_t got = (size_t)r < msg->msg_iov[0].iov_len ? (size_t)r : msg->msg_iov[0].iov_len;
    NoteGeneration(msg->msg_iov[0].iov_base, got);
  }
  return r;
}

// __SOCKADDR_ARG: glibc's declaration (a transparent union under _GNU_SOURCE).
typedef ssize_t (*RecvfromFn)(int, void*, size_t, int, __SOCKADDR_ARG, socklen_t*);

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, __SOCKADDR_ARG addr,
                 socklen_t* addrlen) {
  static RecvfromFn real_recvfrom;
  if (real_recvfrom == NULL) Next(&real_recvfrom, "recvfrom");
  const ssize_t r = real_recvfrom(fd, buf, len, flags, addr, addrlen);
  if (trace_fd >= 0 && r > 0) NoteGeneration(buf, (size_t)r);
  return r;
}

// __CONST_SOCKADDR_ARG: glibc's declaration (a transparent union under _GNU_SOURCE).
typedef ssize_t (*SendtoFn)(int, const void*, size_t, int, __CONST_SOCKADDR_ARG, socklen_t);

ssize_t sendto(int fd, const void* buf, size_t len, int flags, __CONST_SOCKADDR_ARG addr,
               socklen_t addrlen) {
  static SendtoFn real_sendto;
  if (real_sendto == NULL) Next(&real_sendto, "sendto");
  const int batch = trace_fd >= 0 && IsNftBatch(fd, buf, len);
  const long long t0 = batch ? NowNs() : 0;
  const ssize_t r = real_sendto(fd, buf, len, flags, addr, addrlen);
  if (batch) {
    Emit("B %d %lld %lld %d\n", (int)getpid(), t0, NowNs(), r < 0 ? errno : 0);
  }
  return r;
}
