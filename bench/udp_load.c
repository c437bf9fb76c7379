// UDP request/reply load for bench/compare: an echo backend and a load
// generator in one small program (plain C, Linux, no dependencies). bench/compare
// builds it with `cc -O2` into its work directory.
//
//   udp_load echo PORT [PORT...]
//       Echo every datagram back to its sender, on each 127.0.0.1:PORT.
//       One thread: epoll, recvmmsg and sendmmsg in batches of up to 64.
//
//   udp_load load -p PORT [-s SOCKETS] [-d DEPTH] [-b BYTES] [-t SECONDS] [-T TIMEOUT_MS]
//       SOCKETS client sockets (default 64), each connect()ed to 127.0.0.1:PORT
//       from its own source port (one proxy session each), each keeping DEPTH
//       requests of BYTES bytes outstanding (default 2 of 100 bytes). A reply
//       sends the next request on its socket at once. A request with no reply
//       after TIMEOUT_MS (default 500) is counted lost and replaced. After
//       SECONDS (default 5) no new requests are sent; replies are awaited for
//       up to TIMEOUT_MS more, and what is still unanswered then is lost.
//       Prints one line:
//         sent=N replies=N lost=N late=N bad=N errors=N seconds=F dgram_s=F p50_us=F p99_us=F
//       dgram_s counts the replies that arrived within SECONDS (request/reply
//       pairs per second); the percentiles cover every reply (round trip,
//       from the send to the reply's arrival). late: a reply to a request
//       already counted lost; bad: a reply that matches no request; errors:
//       failed sends and receives (e.g. ECONNREFUSED).
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_BYTES 65507

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what) {
  perror(what);
  exit(2);
}

static int udp_socket(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int size = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  return fd;
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// ------------------------------------------------------------------ echo

static int run_echo(int argc, char **argv) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  for (int i = 0; i < argc; i++) {
    int fd = udp_socket();
    struct sockaddr_in a = loopback(atoi(argv[i]));
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) die("bind");
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl");
  }
  static char bufs[BATCH][2048];
  static struct sockaddr_in addrs[BATCH];
  static struct iovec iovs[BATCH];
  static struct mmsghdr msgs[BATCH];
  for (;;) {
    struct epoll_event evs[16];
    int n = epoll_wait(ep, evs, 16, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      int fd = evs[e].data.fd;
      for (;;) {
        for (int i = 0; i < BATCH; i++) {
          iovs[i].iov_base = bufs[i];
          iovs[i].iov_len = sizeof bufs[i];
          memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
          msgs[i].msg_hdr.msg_iov = &iovs[i];
          msgs[i].msg_hdr.msg_iovlen = 1;
          msgs[i].msg_hdr.msg_name = &addrs[i];
          msgs[i].msg_hdr.msg_namelen = sizeof addrs[i];
        }
        int got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        for (int i = 0; i < got; i++) iovs[i].iov_len = msgs[i].msg_len;
        // A full send buffer drops the rest of the batch, as the network would.
        sendmmsg(fd, msgs, (unsigned)got, MSG_DONTWAIT);
        if (got < BATCH) break;
      }
    }
  }
  return 0;
}

// ------------------------------------------------------------------ load

struct header {  // at the start of every request; echoed back as is
  uint32_t sock;
  uint32_t slot;
  uint64_t seq;
};

struct slot {
  uint64_t seq;      // 0: free
  uint64_t sent_ns;
};

// The load generator's state (one thread).
static int *fds;
static struct slot *slots;
static int depth = 2, bytes = 100;
static char *out;
static uint64_t next_seq = 1, sent, errors;

// Sends a new request from slot k of socket s; the slot stays free (and is
// retried later) if the send fails.
static void send_request(int s, int k) {
  struct header h = {(uint32_t)s, (uint32_t)k, next_seq++};
  memcpy(out, &h, sizeof h);
  struct slot *sl = &slots[(size_t)s * (size_t)depth + (size_t)k];
  sl->sent_ns = now_ns();
  if (send(fds[s], out, (size_t)bytes, 0) == bytes) {
    sl->seq = h.seq;
    sent++;
  } else {
    sl->seq = 0;
    errors++;
  }
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int run_load(int argc, char **argv) {
  int port = 0, nsock = 64, timeout_ms = 500;
  double seconds = 5;
  int opt;
  while ((opt = getopt(argc, argv, "p:s:d:b:t:T:")) != -1) {
    switch (opt) {
      case 'p': port = atoi(optarg); break;
      case 's': nsock = atoi(optarg); break;
      case 'd': depth = atoi(optarg); break;
      case 'b': bytes = atoi(optarg); break;
      case 't': seconds = atof(optarg); break;
      case 'T': timeout_ms = atoi(optarg); break;
      default: return 2;
    }
  }
  if (port <= 0 || nsock <= 0 || depth <= 0 || seconds <= 0 || timeout_ms <= 0 ||
      bytes < (int)sizeof(struct header) || bytes > MAX_BYTES) {
    fprintf(stderr, "udp_load load: bad arguments\n");
    return 2;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  fds = calloc((size_t)nsock, sizeof *fds);
  slots = calloc((size_t)nsock * (size_t)depth, sizeof *slots);
  out = calloc(1, (size_t)bytes);
  char *in = malloc(MAX_BYTES);
  size_t rtt_cap = 1 << 20, rtt_n = 0;
  uint32_t *rtt_ns = malloc(rtt_cap * sizeof *rtt_ns);
  if (!fds || !slots || !out || !in || !rtt_ns) die("malloc");
  struct sockaddr_in to = loopback(port);
  for (int i = 0; i < nsock; i++) {
    fds[i] = udp_socket();
    if (connect(fds[i], (struct sockaddr *)&to, sizeof to) != 0) die("connect");
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) die("epoll_ctl");
  }
  uint64_t replies = 0, in_window = 0, lost = 0, late = 0, bad = 0;
  const uint64_t timeout = (uint64_t)timeout_ms * 1000000u;


  const uint64_t start = now_ns();
  const uint64_t end = start + (uint64_t)(seconds * 1e9);
  uint64_t stop = 0;  // when draining: give up waiting at this time
  for (int s = 0; s < nsock; s++)
    for (int k = 0; k < depth; k++) send_request(s, k);
  uint64_t last_scan = start;
  for (;;) {
    uint64_t t = now_ns();
    int draining = t >= end;
    if (draining && !stop) stop = t + timeout;
    if (draining) {
      int busy = 0;
      for (size_t i = 0; i < (size_t)nsock * (size_t)depth && !busy; i++) busy = slots[i].seq != 0;
      if (!busy || t >= stop) break;
    }
    if (t - last_scan >= 10000000u) {  // every 10 ms: requests that timed out
      last_scan = t;
      for (int s = 0; s < nsock; s++)
        for (int k = 0; k < depth; k++) {
          struct slot *sl = &slots[(size_t)s * (size_t)depth + (size_t)k];
          if (sl->seq && t - sl->sent_ns > timeout) {
            lost++;
            sl->seq = 0;
            if (!draining) send_request(s, k);
          }
        }
      // Slots left free by a failed send are retried here.
      if (!draining)
        for (int s = 0; s < nsock; s++)
          for (int k = 0; k < depth; k++)
            if (!slots[(size_t)s * (size_t)depth + (size_t)k].seq) send_request(s, k);
    }
    struct epoll_event evs[64];
    int n = epoll_wait(ep, evs, 64, 5);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait");
    }
    for (int e = 0; e < n; e++) {
      int s = (int)evs[e].data.u32;
      for (;;) {
        ssize_t got = recv(fds[s], in, MAX_BYTES, MSG_DONTWAIT);
        if (got < 0) {
          if (errno != EAGAIN && errno != EWOULDBLOCK) errors++;
          if (errno == EAGAIN || errno == EWOULDBLOCK) break;
          continue;  // ECONNREFUSED and the like: read on
        }
        uint64_t arrived = now_ns();
        struct header h;
        if (got != bytes) {
          bad++;
          continue;
        }
        memcpy(&h, in, sizeof h);
        if (h.sock != (uint32_t)s || h.slot >= (uint32_t)depth) {
          bad++;
          continue;
        }
        struct slot *sl = &slots[(size_t)s * (size_t)depth + h.slot];
        if (sl->seq != h.seq) {
          if (h.seq < next_seq) late++; else bad++;
          continue;
        }
        replies++;
        if (arrived <= end) in_window++;
        if (rtt_n == rtt_cap) {
          rtt_cap *= 2;
          rtt_ns = realloc(rtt_ns, rtt_cap * sizeof *rtt_ns);
          if (!rtt_ns) die("realloc");
        }
        rtt_ns[rtt_n++] = (uint32_t)(arrived - sl->sent_ns);
        sl->seq = 0;
        if (arrived < end) send_request(s, (int)h.slot);
      }
    }
  }
  for (size_t i = 0; i < (size_t)nsock * (size_t)depth; i++)
    if (slots[i].seq) lost++;
  double p50 = 0, p99 = 0;
  if (rtt_n) {
    qsort(rtt_ns, rtt_n, sizeof *rtt_ns, cmp_u32);
    p50 = rtt_ns[(size_t)((double)(rtt_n - 1) * 0.50)] / 1000.0;
    p99 = rtt_ns[(size_t)((double)(rtt_n - 1) * 0.99)] / 1000.0;
  }
  printf("sent=%llu replies=%llu lost=%llu late=%llu bad=%llu errors=%llu seconds=%.3f "
         "dgram_s=%.1f p50_us=%.1f p99_us=%.1f\n",
         (unsigned long long)sent, (unsigned long long)replies, (unsigned long long)lost,
         (unsigned long long)late, (unsigned long long)bad, (unsigned long long)errors, seconds,
         (double)in_window / seconds, p50, p99);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "echo") == 0) return run_echo(argc - 2, argv + 2);
  if (argc >= 2 && strcmp(argv[1], "load") == 0) return run_load(argc - 1, argv + 1);
  fprintf(stderr,
          "usage: udp_load echo PORT [PORT...]\n"
          "       udp_load load -p PORT [-s SOCKETS] [-d DEPTH] [-b BYTES] [-t SECONDS] "
          "[-T TIMEOUT_MS]\n");
  return 2;
}
