// Small load tool for the macro benchmarks (compiled by the scripts with `cc -O2`; no dependencies).
//   netbench serve PORT            TCP on PORT: echo; PORT+1: sink (reads, discards); PORT+2: source
//                                  (writes zeros until the peer closes); UDP echo on PORT. One epoll thread.
//   netbench rr HOST PORT ROUNDS [SOCKS]
//                                  one connection, one request in flight: 1 byte out, 1 byte back,
//                                  ROUNDS times; prints "p50 p99" round-trip in microseconds. SOCKS: a SOCKS5 port
//                                  on 127.0.0.1 to connect through (no-auth greeting, CONNECT by IPv4) first.
//   netbench conns HOST PORT COUNT sequential connect + 1 byte each way + close; prints
//                                  "conn/s p50 p99" (microseconds per connection).
//   netbench fronts FRONTS HOST PORT COUNT SLICES [PARALLEL]
//                                  connections/s through each front in turn (proxy-peers.py conns in C, so the app is
//                                  not what limits the rate): FRONTS comma-separated, 0 = straight to HOST:PORT (the TUN
//                                  carries it), else a SOCKS5 port on 127.0.0.1 (no-auth greeting, CONNECT by IPv4,
//                                  reply read); then 1 byte out, 1 byte back, close. COUNT per front in SLICES slices,
//                                  the fronts alternating per slice, PARALLEL (default 1) blocking connectors at once.
//                                  Prints "conn/s ..." (one per front), then "p50 p99 ..." (µs per connection, one
//                                  pair per front) and this process's CPU µs per connection. A connection with no
//                                  answer in 20 s ends the run, naming the front and the ports.
//   netbench streams HOST PORT N SECONDS up|down
//                                  N concurrent connections to the sink (up) or the source (down) for
//                                  SECONDS; prints Gbit/s over all of them (after a 1 s warm-up).
//   netbench hold HOST PORT N      opens N TCP connections (to the echo port), sends one byte on each,
//                                  prints "open" and holds them until stdin closes.
//   netbench udp HOST PORT N       opens N UDP sockets, each sends one datagram (N sessions), prints
//                                  "open" and holds them until stdin closes.
//   netbench dnsq HOST PORT SECONDS N [NAMES]
//                                  DNS A queries for name0..name<NAMES-1>.bench.example (default 1000; 0: every query
//                                  a new name, so none is a cache hit), each from a new UDP socket (as a
//                                  stub resolver asks: socket, connect, send, recv, close), N in flight; a query
//                                  unanswered after 1 s counts as lost. Prints "q/s p50 p99 lost" (microseconds).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static void die(const char *what) { perror(what); exit(1); }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static void nodelay(int fd) { int one = 1; setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); }
static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }
static void raise_nofile(void) { struct rlimit r = {65536, 65536}; setrlimit(RLIMIT_NOFILE, &r); }

static struct sockaddr_in addr_of(const char *host, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) { fprintf(stderr, "bad address %s\n", host); exit(1); }
  return a;
}

static int dial(const char *host, int port) {
  struct sockaddr_in a = addr_of(host, port);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die("connect");
  nodelay(fd);
  return fd;
}

static int listener(int port, int type) {
  int fd = socket(AF_INET, type, 0), one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) die("bind");
  if (type == SOCK_STREAM && listen(fd, 4096) < 0) die("listen");
  nonblock(fd);
  return fd;
}

// epoll data: fd in the low 32 bits, role in the high (0 echo, 1 sink, 2 source, 8+ listeners, 16 udp).
static _Noreturn void serve(int port) {
  raise_nofile();
  int ep = epoll_create1(0);
  static char buf[1 << 18];
  for (int r = 0; r < 3; r++) {
    int l = listener(port + r, SOCK_STREAM);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)(8 + r) << 32 | (uint32_t)l};
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &e);
  }
  int u = listener(port, SOCK_DGRAM);
  struct epoll_event ue = {.events = EPOLLIN, .data.u64 = (uint64_t)16 << 32 | (uint32_t)u};
  epoll_ctl(ep, EPOLL_CTL_ADD, u, &ue);
  printf("ready\n"); fflush(stdout);
  struct epoll_event ev[256];
  for (;;) {
    int n = epoll_wait(ep, ev, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = (int)(uint32_t)ev[i].data.u64, role = (int)(ev[i].data.u64 >> 32);
      if (role >= 8 && role < 16) {
        int c;
        while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          nodelay(c);
          struct epoll_event e = {.events = role == 10 ? EPOLLOUT | EPOLLIN : EPOLLIN, .data.u64 = (uint64_t)(role - 8) << 32 | (uint32_t)c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
        }
      } else if (role == 16) {
        struct sockaddr_in from; socklen_t len = sizeof from;
        ssize_t m = recvfrom(fd, buf, 65536, 0, (struct sockaddr *)&from, &len);
        if (m > 0) sendto(fd, buf, m, 0, (struct sockaddr *)&from, len);
      } else if (role == 2) {
        ssize_t m = (ev[i].events & EPOLLOUT) ? send(fd, buf, sizeof buf, MSG_NOSIGNAL) : 0;
        char probe;
        if ((m < 0 && errno != EAGAIN) || ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && recv(fd, &probe, 1, MSG_DONTWAIT) == 0)) close(fd);
      } else {
        ssize_t m = recv(fd, buf, sizeof buf, 0);
        if (m == 0 || (m < 0 && errno != EAGAIN)) { close(fd); continue; }
        if (m > 0 && role == 0) send(fd, buf, m, MSG_NOSIGNAL);
      }
    }
  }
}

static void percentiles(double *t, int n, double *p50, double *p99) {
  qsort(t, n, sizeof *t, cmp);
  *p50 = t[n / 2] * 1e6; *p99 = t[(int)(n * 0.99)] * 1e6;
}

static int rr(const char *host, int port, int rounds, int socks) {
  int fd = dial(socks ? "127.0.0.1" : host, socks ? socks : port);
  if (socks) {
    struct sockaddr_in target = addr_of(host, port);
    unsigned char req[10] = {5, 1, 0, 1}, reply[10];
    memcpy(req + 4, &target.sin_addr, 4); memcpy(req + 8, &target.sin_port, 2);
    if (send(fd, "\5\1\0", 3, 0) != 3 || recv(fd, reply, 2, MSG_WAITALL) != 2 || reply[1] != 0) die("rr: SOCKS greeting");
    if (send(fd, req, sizeof req, 0) != sizeof req || recv(fd, reply, sizeof reply, MSG_WAITALL) != sizeof reply || reply[1] != 0)
      die("rr: SOCKS CONNECT");
  }
  double *t = malloc(sizeof(double) * rounds), p50, p99;
  char b = 'x';
  for (int i = -100; i < rounds; i++) {  // 100 rounds of warm-up
    double s = now();
    if (send(fd, &b, 1, 0) != 1 || recv(fd, &b, 1, MSG_WAITALL) != 1) die("rr");
    if (i >= 0) t[i] = now() - s;
  }
  percentiles(t, rounds, &p50, &p99);
  printf("%.1f %.1f\n", p50, p99);
  return 0;
}

static int conns(const char *host, int port, int count) {
  double *t = malloc(sizeof(double) * count), p50, p99, start = now();
  char b = 'x';
  for (int i = 0; i < count; i++) {
    double s = now();
    int fd = dial(host, port);
    if (send(fd, &b, 1, 0) != 1 || recv(fd, &b, 1, MSG_WAITALL) != 1) die("conns");
    close(fd);
    t[i] = now() - s;
  }
  double rate = count / (now() - start);
  percentiles(t, count, &p50, &p99);
  printf("%.0f %.1f %.1f\n", rate, p50, p99);
  return 0;
}

// fronts: each connector thread makes `count` connections through one front, blocking, and keeps their times.
struct connector { int front, count; const char *host; int port; double *t; };

static void exchange(int fd, const void *out, size_t n, void *in, size_t m, const struct connector *c) {
  if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n || recv(fd, in, m, MSG_WAITALL) != (ssize_t)m) {
    struct sockaddr_in me; socklen_t len = sizeof me;
    getsockname(fd, (struct sockaddr *)&me, &len);
    fprintf(stderr, "no answer (%s) through front %d on %s:%d -> %s:%d\n", errno == EAGAIN ? "20 s" : strerror(errno),
            c->front, inet_ntoa(me.sin_addr), ntohs(me.sin_port), c->host, c->port);
    exit(1);
  }
}

static void *connector_run(void *arg) {
  struct connector *c = arg;
  struct sockaddr_in to = c->front ? addr_of("127.0.0.1", c->front) : addr_of(c->host, c->port), target = addr_of(c->host, c->port);
  unsigned char req[10] = {5, 1, 0, 1}, reply[10], b = 'g';
  memcpy(req + 4, &target.sin_addr, 4); memcpy(req + 8, &target.sin_port, 2);
  struct timeval limit = {20, 0};
  for (int i = 0; i < c->count; i++) {
    double s = now();
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket");
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    if (connect(fd, (struct sockaddr *)&to, sizeof to) < 0) die("connect");
    nodelay(fd);
    if (c->front) {
      exchange(fd, "\5\1\0", 3, reply, 2, c);
      if (reply[0] != 5 || reply[1] != 0) { fprintf(stderr, "front %d refused the greeting\n", c->front); exit(1); }
      exchange(fd, req, sizeof req, reply, sizeof reply, c);
      if (reply[1] != 0) { fprintf(stderr, "front %d: CONNECT reply %d\n", c->front, reply[1]); exit(1); }
    }
    exchange(fd, &b, 1, &b, 1, c);
    close(fd);
    c->t[i] = now() - s;
  }
  return NULL;
}

static double cpu_seconds(void) {
  struct rusage r; getrusage(RUSAGE_SELF, &r);
  return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static int fronts(const char *list, const char *host, int port, int count, int slices, int parallel) {
  raise_nofile();
  int f[16], nf = 0;
  for (const char *p = list; *p && nf < 16; p = strchr(p, ',') ? strchr(p, ',') + 1 : p + strlen(p)) f[nf++] = atoi(p);
  if (parallel < 1) parallel = 1;
  // Whole rounds of PARALLEL per slice, as proxy-peers.py conns makes them.
  int per = count / slices / parallel * parallel;
  if (per < parallel) per = parallel;
  int each = per / parallel, total = per * slices;
  double spent[16] = {0}, *t[16], cpu = cpu_seconds();
  for (int i = 0; i < nf; i++) t[i] = malloc(sizeof(double) * total);
  pthread_t th[256];
  struct connector c[256];
  if (parallel > 256) parallel = 256;
  for (int s = 0; s < slices; s++)
    for (int i = 0; i < nf; i++) {
      double start = now();
      for (int k = 0; k < parallel; k++) {
        c[k] = (struct connector){f[i], each, host, port, t[i] + s * per + k * each};
        if (pthread_create(&th[k], NULL, connector_run, &c[k])) die("pthread_create");
      }
      for (int k = 0; k < parallel; k++) pthread_join(th[k], NULL);
      spent[i] += now() - start;
    }
  cpu = cpu_seconds() - cpu;
  for (int i = 0; i < nf; i++) printf("%s%.0f", i ? " " : "", total / spent[i]);
  printf("\n");
  for (int i = 0; i < nf; i++) { double p50, p99; percentiles(t[i], total, &p50, &p99); printf("%.0f %.0f ", p50, p99); }
  printf("%.0f\n", cpu * 1e6 / (total * nf));
  return 0;
}

static int streams(const char *host, int port, int n, double seconds, int down) {
  raise_nofile();
  int ep = epoll_create1(0);
  static char buf[1 << 17];
  for (int i = 0; i < n; i++) {
    int fd = dial(host, port + (down ? 2 : 1));
    nonblock(fd);
    struct epoll_event e = {.events = down ? EPOLLIN : EPOLLOUT, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  }
  struct epoll_event ev[1024];
  double start = now(), counted_from = start + 1, end = counted_from + seconds;
  long long bytes = 0;
  for (double t = start; t < end; t = now()) {
    int k = epoll_wait(ep, ev, 1024, 100);
    for (int i = 0; i < k; i++) {
      ssize_t m = down ? recv(ev[i].data.fd, buf, sizeof buf, 0) : send(ev[i].data.fd, buf, sizeof buf, MSG_NOSIGNAL);
      if (m == 0 || (m < 0 && errno != EAGAIN)) die("stream ended");
      if (m > 0 && t >= counted_from) bytes += m;
    }
  }
  printf("%.3f\n", bytes * 8 / seconds / 1e9);
  return 0;
}

static int hold(const char *host, int port, int n, int udp) {
  raise_nofile();
  char b = 'x', buf[64];
  struct sockaddr_in a = addr_of(host, port);
  int *fds = malloc(sizeof(int) * n);
  for (int i = 0; i < n; i++) {
    if (udp) {
      fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
      if (fds[i] < 0) die("socket");
      if (sendto(fds[i], &b, 1, 0, (struct sockaddr *)&a, sizeof a) != 1) die("sendto");
    } else {
      fds[i] = dial(host, port);
      if (send(fds[i], &b, 1, 0) != 1 || recv(fds[i], &b, 1, MSG_WAITALL) != 1) die("hold");
    }
  }
  printf("open\n"); fflush(stdout);
  while (read(0, buf, sizeof buf) > 0) {}
  return 0;
}

static int dns_names = 1000;

static int dns_socket(const struct sockaddr_in *a, int id, int ep) {
  unsigned char q[64] = {id >> 8, id & 0xff, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0};
  char label[16];
  int n = snprintf(label, sizeof label, "name%d", dns_names > 0 ? id % dns_names : id), len = 12;
  q[len++] = n; memcpy(q + len, label, n); len += n;
  q[len++] = 5; memcpy(q + len, "bench", 5); len += 5;
  q[len++] = 7; memcpy(q + len, "example", 7); len += 7;
  q[len++] = 0; q[len++] = 0; q[len++] = 1; q[len++] = 0; q[len++] = 1;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  if (connect(fd, (const struct sockaddr *)a, sizeof *a) < 0 || send(fd, q, len, 0) != len) die("dns send");
  struct epoll_event e = {.events = EPOLLIN, .data.u64 = (uint64_t)(uint32_t)fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
  return fd;
}

static int dnsq(const char *host, int port, double seconds, int n) {
  raise_nofile();
  struct sockaddr_in a = addr_of(host, port);
  // With every name new (NAMES 0), each run starts at its own place, so one run's names are not the last one's.
  int ep = epoll_create1(0), next = dns_names > 0 ? 0 : (int)(((unsigned)getpid() * 2654435761u + (unsigned)time(NULL)) & 0x3fffffff), *fds = malloc(sizeof(int) * n), cap = 1 << 20, count = 0;
  long lost = 0;
  double *sent = malloc(sizeof(double) * n), *t = malloc(sizeof(double) * cap);
  for (int i = 0; i < n; i++) { fds[i] = dns_socket(&a, next++, ep); sent[i] = now(); }
  struct epoll_event ev[256];
  unsigned char buf[1500];
  double start = now(), end = start + seconds, last_sweep = start;
  while (now() < end) {
    int k = epoll_wait(ep, ev, 256, 100);
    for (int i = 0; i < k; i++) {
      int fd = (int)(uint32_t)ev[i].data.u64;
      if (recv(fd, buf, sizeof buf, 0) <= 0) continue;
      for (int j = 0; j < n; j++) if (fds[j] == fd) {
        if (count < cap) t[count] = now() - sent[j];
        count++;
        close(fd); fds[j] = dns_socket(&a, next++, ep); sent[j] = now();
        break;
      }
    }
    double t0 = now();
    if (t0 - last_sweep >= 0.1) {
      last_sweep = t0;
      for (int j = 0; j < n; j++) if (t0 - sent[j] > 1) { lost++; close(fds[j]); fds[j] = dns_socket(&a, next++, ep); sent[j] = now(); }
    }
  }
  double rate = count / (now() - start), p50 = 0, p99 = 0;
  if (count > 0) percentiles(t, count < cap ? count : cap, &p50, &p99);
  printf("%.0f %.1f %.1f %ld\n", rate, p50, p99, lost);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && !strcmp(argv[1], "serve")) serve(atoi(argv[2]));
  if (argc >= 5 && !strcmp(argv[1], "rr")) return rr(argv[2], atoi(argv[3]), atoi(argv[4]), argc > 5 ? atoi(argv[5]) : 0);
  if (argc >= 5 && !strcmp(argv[1], "conns")) return conns(argv[2], atoi(argv[3]), atoi(argv[4]));
  if (argc >= 7 && !strcmp(argv[1], "fronts")) return fronts(argv[2], argv[3], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), argc > 7 ? atoi(argv[7]) : 1);
  if (argc >= 7 && !strcmp(argv[1], "streams")) return streams(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), !strcmp(argv[6], "down"));
  if (argc >= 5 && !strcmp(argv[1], "hold")) return hold(argv[2], atoi(argv[3]), atoi(argv[4]), 0);
  if (argc >= 5 && !strcmp(argv[1], "udp")) return hold(argv[2], atoi(argv[3]), atoi(argv[4]), 1);
  if (argc >= 7 && !strcmp(argv[1], "dnsq")) dns_names = atoi(argv[6]);
  if (argc >= 6 && !strcmp(argv[1], "dnsq")) return dnsq(argv[2], atoi(argv[3]), atof(argv[4]), atoi(argv[5]));
  fprintf(stderr, "usage: see the comment at the top of netbench.c\n");
  return 2;
}
