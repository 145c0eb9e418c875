/*
 * A small HTTP server for the I/O tests: libevent's evhttp on 127.0.0.1,
 * an ephemeral port, in its own thread with its own event base. Loopback
 * only, ever.
 *
 * Routes:
 *   /fixed           HTTPD_FIXED_BODY, text/plain; charset=utf-8
 *   /bytes?n=N       N bytes (N <= 256 MiB), byte i = httpd_byte(i)
 *   /slow?ms=N       "slow\n" after N ms (a timer, not a sleep)
 *   /huge            an endless chunked body (stops by itself at 1 GiB)
 *   /drip?n=N        one byte every 200 ms, N bytes (default 600)
 *   /redirect?n=K    a chain of K 302s ending at /fixed
 *   /redirect-ftp    302 to ftp://127.0.0.1/
 *   /status?code=N   status N with a short body
 *   /reset           closes the connection without a reply
 *   /echo            {"method", "uri", "headers": {...}, "body",
 *                    "peer_port": the client's port} as JSON
 *   /405             405 to HEAD, 200 to GET
 */
#ifndef HTTPD_H
#define HTTPD_H

#include <stddef.h>
#include <stdint.h>

#define HTTPD_FIXED_BODY						\
	"jobd fixed test body: h\xc3\xa9llo, w\xc3\xb6rld\n"
#define HTTPD_DRIP_MS		200

/* Start the server; returns its port (fails the process on error). */
int		 httpd_start(void);
void		 httpd_stop(void);
/* The byte at offset i of /bytes. */
static inline unsigned char
httpd_byte(uint64_t i)
{
	return (unsigned char)((i * 7 + 3) % 251);
}
/* How many requests each route has seen (by path, e.g. "/fixed"). */
int		 httpd_hits(const char *);
/* The most /slow replies that were waiting at the same time. */
int		 httpd_slow_max(void);

#endif
