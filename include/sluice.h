/*
 * libsluice: the Sluice engine as a library over a TUN file descriptor the host owns.
 * See docs/embedding.md. Every function is safe to call from any thread, at any time.
 *
 * The host creates the TUN, gives it the addresses of the config's tun inbound and routes what
 * it wants captured into it; the engine never creates interfaces, routes, policy rules or
 * nftables tables in this mode. The engine reads and writes a duplicate of tun_fd; the host
 * keeps tun_fd open until sluice_stop returns and closes it itself.
 */
#ifndef SLUICE_H
#define SLUICE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* An engine started by sluice_start. Opaque; a stopped handle stays safe to pass (it answers "disconnected"). */
typedef struct sluice_engine sluice_engine;

/* Log levels of sluice_host.log (the same numbers as .NET's LogLevel). */
enum {
    SLUICE_LOG_TRACE = 0,
    SLUICE_LOG_DEBUG = 1,
    SLUICE_LOG_INFO = 2,
    SLUICE_LOG_WARNING = 3,
    SLUICE_LOG_ERROR = 4,
    SLUICE_LOG_CRITICAL = 5
};

/* What find_owner fills in: the app behind a flow. Strings are NUL-terminated UTF-8, "" when unknown. */
typedef struct sluice_owner {
    uint32_t uid;
    int32_t pid;
    char name[64];  /* matched by process_name rules */
    char path[256]; /* matched by process_path rules */
} sluice_owner;

/*
 * Callbacks into the host; any may be NULL. protect, find_owner and log run on engine threads; on_state
 * runs on the thread whose sluice_* call changed the state, after the engine's lock is released, so it may
 * call back into the library (even sluice_stop). None may unwind (C++ exceptions, longjmp) into the engine.
 * The struct is copied by sluice_start: the host may free it afterwards; `user` is passed back unchanged.
 */
typedef struct sluice_host {
    /* The engine's state changed: {"state":"connecting|connected|disconnected|error","at":"…","error":{…}|null,"reason":"…"}. */
    void (*on_state)(void *user, const char *state_json);
    /* Called for every socket the engine opens to the outside, before it connects or sends. Return 1 once
     * the socket bypasses the TUN (VpnService.protect, SO_MARK, SO_BINDTODEVICE, …); 0 refuses it and the
     * dial fails with a logged error. NULL: the engine marks its sockets with SO_MARK = route.default_mark
     * (needs CAP_NET_ADMIN) and the host routes that mark around the TUN. */
    int (*protect)(void *user, int fd);
    /* The app owning a flow seen on the TUN. proto: 6 TCP, 17 UDP; src is the app's socket, dst where it
     * goes, both "1.2.3.4:80" or "[2001:db8::1]:80". Return 1 after filling *out, 0 when unknown.
     * NULL: the engine looks in /proc (Linux). */
    int (*find_owner)(void *user, int proto, const char *src, const char *dst, sluice_owner *out);
    /* One log line (no trailing newline). NULL: the engine logs nothing. */
    void (*log)(void *user, int level, const char *line);
} sluice_host;

/* Starts the engine on tun_fd with a config (sing-box-style JSON, docs/config.md). Returns when the engine
 * runs (on_state has said "connecting" then "connected"), or NULL: sluice_last_error() says why. */
sluice_engine *sluice_start(const char *config_json, int tun_fd, const sluice_host *host, void *user);

/* Stops the engine and releases the handle's resources (on_state: "disconnected"). Stopping a stopped
 * or NULL handle does nothing. The host may sluice_start again on the same tun_fd afterwards. */
void sluice_stop(sluice_engine *engine);

/* Replaces the config. The new one is loaded and compiled first: one that does not load or compile is refused
 * with -1 (sluice_last_error() names the JSON path of each error) and changes nothing. When only route.rules,
 * route.final, outbounds and endpoints changed, it is applied in place: new flows follow the new rules, live
 * flows on unchanged outbounds keep running, live flows on removed or changed outbounds are closed (TCP RST);
 * on_state is not called. Any other change (inbounds, dns, log, …) restarts the engine on the same TUN
 * (on_state: "connecting" then "connected") and cuts every live flow. Returns 0 (then sluice_reload_result()
 * says what happened), or -1. */
int sluice_reload(sluice_engine *engine, const char *config_json);

/* What this thread's last sluice_reload did when it returned 0, as NUL-terminated UTF-8 JSON:
 *   {"kept":N,"closed":N,"replaced":["tag",…],"restarted":null|"why","state":"connected"}
 * kept: live flows still running; closed: live flows cut; replaced: outbounds removed or changed; restarted:
 * null for an in-place reload, else why the engine had to restart (then kept is 0 and closed counts every
 * flow that was live). "" when that reload failed or there was none. Valid until this thread's next sluice_reload. */
const char *sluice_reload_result(void);

/* The host's network changed (new default interface ifname/ifindex, or NULL/0 when unknown): WireGuard
 * peers handshake again from the new address. Returns 0, or -1 when the handle is not running. */
int sluice_network_changed(sluice_engine *engine, const char *ifname, int ifindex);

/* The daemon's status envelope, {"code":0,"message":"ok","data":{"state":"connected",…}}, as NUL-terminated
 * UTF-8 in buf. A NULL or stopped handle answers {"code":0,"message":"ok","data":{"state":"disconnected"}}.
 * Returns the length of the whole answer without its NUL, like snprintf: when that is >= cap, buf holds a
 * truncated (still NUL-terminated) prefix; call again with a bigger buffer. -1 when buf is NULL and cap > 0. */
int sluice_status(sluice_engine *engine, char *buf, size_t cap);

/* The library's version, e.g. "0.1.0". Static storage; never NULL. */
const char *sluice_version(void);

/* Why the last call of this thread failed; "" when it did not. Valid until this thread's next sluice_* call. */
const char *sluice_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* SLUICE_H */
