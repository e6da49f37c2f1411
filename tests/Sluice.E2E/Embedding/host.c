/*
 * A minimal embedding host for libsluice, as a platform app would be: it creates the TUN itself, gives it
 * its address and routes, and drives the engine through include/sluice.h. The test talks to it line by line:
 *   stdin:  start FILE MODE | reload FILE | status | status-null | netchange | stop | hammer N | counts | quit
 *           MODE: protect (setsockopt SO_MARK HOST_MARK), refuse-tcp (refuses stream sockets), none (no protect)
 *   stdout: started in MS ms | start-failed ERR | reloaded RESULT_JSON | reload-failed ERR | status JSON | stopped | netchange RC | hammered
 *           counts protect=N refused=N owner=N | state JSON | protect FD TYPE ok|refused | owner PROTO SRC DST NAME
 * Usage: host TUN_NAME TUN_CIDR TABLE OWNER_PORT_LO OWNER_PORT_HI OWNER_NAME
 * Flows whose source port is within [LO, HI] belong to OWNER_NAME (the host's answer to find_owner).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sluice.h"

#define HOST_MARK 0x1234

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static int protect_calls, refused_calls, owner_calls;
static int owner_lo, owner_hi;
static const char *owner_name;
static int refuse_tcp;
static struct timespec t0; /* the last start command: log lines carry the milliseconds since then */

static double ms_since(const struct timespec *from)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - from->tv_sec) * 1e3 + (now.tv_nsec - from->tv_nsec) / 1e6;
}

static void say(const char *format, ...)
{
    va_list args;
    pthread_mutex_lock(&out_lock);
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

static void on_state(void *user, const char *json)
{
    (void)user;
    say("state %s", json);
}

static int protect_socket(void *user, int fd)
{
    (void)user;
    int type = 0;
    socklen_t len = sizeof type;
    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len);
    const char *kind = type == SOCK_STREAM ? "tcp" : type == SOCK_DGRAM ? "udp" : "raw";
    pthread_mutex_lock(&out_lock);
    protect_calls++;
    pthread_mutex_unlock(&out_lock);
    if (refuse_tcp && type == SOCK_STREAM) {
        pthread_mutex_lock(&out_lock);
        refused_calls++;
        pthread_mutex_unlock(&out_lock);
        say("protect %d %s refused", fd, kind);
        return 0;
    }
    int mark = HOST_MARK;
    if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) != 0) {
        say("protect %d %s failed %s", fd, kind, strerror(errno));
        return 0;
    }
    say("protect %d %s ok", fd, kind);
    return 1;
}

static int find_owner(void *user, int proto, const char *src, const char *dst, sluice_owner *out)
{
    (void)user;
    const char *colon = strrchr(src, ':');
    int port = colon ? atoi(colon + 1) : 0;
    pthread_mutex_lock(&out_lock);
    owner_calls++;
    pthread_mutex_unlock(&out_lock);
    if (port < owner_lo || port > owner_hi) {
        say("owner %d %s %s unknown", proto, src, dst);
        return 0;
    }
    out->uid = 0;
    out->pid = 4242;
    snprintf(out->name, sizeof out->name, "%s", owner_name);
    snprintf(out->path, sizeof out->path, "/apps/%s", owner_name);
    say("owner %d %s %s %s", proto, src, dst, owner_name);
    return 1;
}

static void log_line(void *user, int level, const char *line)
{
    (void)user;
    fprintf(stderr, "[%d] +%.1f ms %s\n", level, ms_since(&t0), line);
    fflush(stderr);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = calloc(1, size + 1);
    if (fread(text, 1, size, f) != (size_t)size) { free(text); text = NULL; }
    fclose(f);
    return text;
}

/* hammer: threads calling status, network_changed, reload-with-garbage and stop at once on one handle. */
static sluice_engine *hammered;
static int hammer_rounds;

static void *hammer_thread(void *arg)
{
    long index = (long)arg;
    char buf[512];
    for (int i = 0; i < hammer_rounds; i++) {
        sluice_status(hammered, buf, sizeof buf);
        if (index == 0) sluice_network_changed(hammered, "eth0", 2);
        if (index == 1) sluice_reload(hammered, "{ not json");
        if (index == 2 && i == hammer_rounds / 2) sluice_stop(hammered);
        if (index == 3) sluice_stop(NULL);
    }
    return NULL;
}

static void run(const char *command)
{
    if (system(command) != 0) {
        fprintf(stderr, "host: `%s` failed\n", command);
        exit(2);
    }
}

/* The host's own network setup: the TUN, its address, and policy routing that sends everything not
 * carrying HOST_MARK into it (the engine's protected sockets carry the mark and leave by the main table). */
static int open_tun(const char *name, const char *cidr, const char *table)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) { perror("open /dev/net/tun"); exit(2); }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) { perror("TUNSETIFF"); exit(2); }
    char command[512];
    snprintf(command, sizeof command,
             "sysctl -qw net.ipv4.conf.%s.rp_filter=0 && ip addr add %s dev %s && ip link set %s mtu 1500 up && "
             "ip route add default dev %s table %s && ip rule add not fwmark 0x%x table %s pref %s",
             name, cidr, name, name, name, table, HOST_MARK, table, table);
    run(command);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: %s TUN_NAME TUN_CIDR TABLE OWNER_PORT_LO OWNER_PORT_HI OWNER_NAME\n", argv[0]);
        return 2;
    }
    owner_lo = atoi(argv[4]);
    owner_hi = atoi(argv[5]);
    owner_name = argv[6];
    int tun = open_tun(argv[1], argv[2], argv[3]);
    say("ready %s", sluice_version());

    sluice_engine *engine = NULL;
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        char *verb = strtok(line, " ");
        char *arg = strtok(NULL, " ");
        char *arg2 = strtok(NULL, " ");
        if (!verb) continue;
        if (!strcmp(verb, "start") && arg) {
            char *config = read_file(arg);
            sluice_host host = { on_state, protect_socket, find_owner, log_line };
            refuse_tcp = arg2 && !strcmp(arg2, "refuse-tcp");
            if (arg2 && !strcmp(arg2, "none")) host.protect = NULL;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            sluice_engine *started = sluice_start(config ? config : "", tun, &host, NULL);
            double took = ms_since(&t0);
            free(config);
            if (started) { engine = started; say("started in %.1f ms", took); }
            else say("start-failed %s", sluice_last_error());
        } else if (!strcmp(verb, "reload") && arg) {
            char *config = read_file(arg);
            if (sluice_reload(engine, config ? config : "") == 0) say("reloaded %s", sluice_reload_result());
            else say("reload-failed %s", sluice_last_error());
            free(config);
        } else if (!strcmp(verb, "status") || !strcmp(verb, "status-null")) {
            sluice_engine *which = !strcmp(verb, "status") ? engine : NULL;
            char small[8];
            int need = sluice_status(which, small, sizeof small);
            char *buf = malloc(need + 1);
            int got = sluice_status(which, buf, need + 1);
            say("status %s", got >= 0 && got <= need ? buf : "{\"bad\":\"length\"}");
            free(buf);
        } else if (!strcmp(verb, "netchange")) {
            say("netchange %d", sluice_network_changed(engine, "eth0", 2));
        } else if (!strcmp(verb, "stop")) {
            sluice_stop(engine); /* the handle is kept on purpose: a second stop must be harmless */
            say("stopped");
        } else if (!strcmp(verb, "hammer") && arg) {
            hammered = engine;
            hammer_rounds = atoi(arg);
            pthread_t threads[6];
            for (long t = 0; t < 6; t++) pthread_create(&threads[t], NULL, hammer_thread, (void *)t);
            for (int t = 0; t < 6; t++) pthread_join(threads[t], NULL);
            sluice_stop(engine);
            say("hammered");
        } else if (!strcmp(verb, "counts")) {
            pthread_mutex_lock(&out_lock);
            int p = protect_calls, r = refused_calls, o = owner_calls;
            pthread_mutex_unlock(&out_lock);
            say("counts protect=%d refused=%d owner=%d", p, r, o);
        } else if (!strcmp(verb, "quit")) {
            break;
        } else {
            say("unknown %s", verb);
        }
    }
    sluice_stop(engine);
    close(tun);
    return 0;
}
