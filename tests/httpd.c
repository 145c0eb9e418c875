/*
 * The test HTTP server (see httpd.h): evhttp on 127.0.0.1 in its own
 * thread. Replies that wait (/slow, /drip, /huge) are driven by timers on
 * the server's base; a client that went away leaves evhttp's request
 * detached from its connection, which each tick checks before writing.
 */
#include "config.h"

#include <sys/eventfd.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "httpd.h"

#define HTTPD_MAX_BYTES		(256 * 1024 * 1024)
#define HTTPD_HUGE_LIMIT	(1024ULL * 1024 * 1024)
#define HTTPD_HUGE_CHUNK	(256 * 1024)
#define HTTPD_HUGE_BACKLOG	(1024 * 1024)
#define HTTPD_MAX_ROUTES	32

enum httpd_kind { HTTPD_SLOW, HTTPD_DRIP, HTTPD_HUGE };

/* A reply that waits on a timer. */
struct httpd_pending {
	enum httpd_kind	 kind;
	struct evhttp_request *req;
	struct event	*ev;
	uint64_t	 sent;
	uint64_t	 total;
	TAILQ_ENTRY(httpd_pending) entry;
};
TAILQ_HEAD(httpd_pendings, httpd_pending);

static struct {
	pthread_t	 thread;
	struct event_base *base;
	struct evhttp	*http;
	struct event	*stop_ev;
	int		 stop_fd;
	int		 port;
	struct httpd_pendings pending;
	pthread_mutex_t	 lock;		/* hits, slow_now, slow_max */
	int		 slow_now;
	int		 slow_max;
	struct {
		char	 path[32];
		int	 n;
	}		 hits[HTTPD_MAX_ROUTES];
	int		 nhits;
} httpd = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
httpd_die(const char *what)
{
	fprintf(stderr, "httpd: %s: %s\n", what, strerror(errno));
	abort();
}

static void
httpd_hit(const char *path)
{
	int	 i;

	pthread_mutex_lock(&httpd.lock);
	for (i = 0; i < httpd.nhits; i++) {
		if (strcmp(httpd.hits[i].path, path) == 0)
			break;
	}
	if (i == httpd.nhits && i < HTTPD_MAX_ROUTES) {
		snprintf(httpd.hits[i].path, sizeof httpd.hits[i].path, "%s",
		    path);
		httpd.hits[i].n = 0;
		httpd.nhits++;
	}
	if (i < HTTPD_MAX_ROUTES)
		httpd.hits[i].n++;
	pthread_mutex_unlock(&httpd.lock);
}

/* /slow replies waiting at once: now (+1) or done (-1). */
static void
httpd_slow(int delta)
{
	pthread_mutex_lock(&httpd.lock);
	httpd.slow_now += delta;
	if (httpd.slow_now > httpd.slow_max)
		httpd.slow_max = httpd.slow_now;
	pthread_mutex_unlock(&httpd.lock);
}

int
httpd_slow_max(void)
{
	int	 n;

	pthread_mutex_lock(&httpd.lock);
	n = httpd.slow_max;
	pthread_mutex_unlock(&httpd.lock);
	return n;
}

int
httpd_hits(const char *path)
{
	int	 i, n = 0;

	pthread_mutex_lock(&httpd.lock);
	for (i = 0; i < httpd.nhits; i++) {
		if (strcmp(httpd.hits[i].path, path) == 0)
			n = httpd.hits[i].n;
	}
	pthread_mutex_unlock(&httpd.lock);
	return n;
}

/* An integer query parameter, or def. */
static long long
httpd_param(struct evhttp_request *req, const char *name, long long def)
{
	struct evkeyvalq	 q;
	const char		*query, *v;
	long long		 n = def;
	char			*end;

	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query == NULL || evhttp_parse_query_str(query, &q) != 0)
		return def;
	if ((v = evhttp_find_header(&q, name)) != NULL) {
		n = strtoll(v, &end, 10);
		if (*end != '\0' || end == v)
			n = def;
	}
	evhttp_clear_headers(&q);
	return n;
}

static void
httpd_reply(struct evhttp_request *req, int code, const char *type,
    const void *body, size_t len)
{
	struct evbuffer	*b = evbuffer_new();

	if (type != NULL)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", type);
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

static void
httpd_pending_free(struct httpd_pending *p)
{
	TAILQ_REMOVE(&httpd.pending, p, entry);
	event_free(p->ev);
	free(p);
}

/* One tick of a waiting reply. */
static void
httpd_tick(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_pending	*p = arg;
	struct evhttp_connection *evcon;
	struct evbuffer		*b;
	unsigned char		*chunk;
	uint64_t		 i;

	evcon = evhttp_request_get_connection(p->req);
	if (p->kind == HTTPD_SLOW) {
		/* With the client gone, this only frees the request. */
		httpd_reply(p->req, 200, "text/plain", "slow\n", 5);
		httpd_pending_free(p);
		httpd_slow(-1);
		return;
	}
	if (evcon == NULL || p->sent >= p->total) {
		evhttp_send_reply_end(p->req);	/* frees it if detached */
		httpd_pending_free(p);
		return;
	}
	b = evbuffer_new();
	if (p->kind == HTTPD_DRIP) {
		evbuffer_add(b, "d", 1);
		p->sent++;
	} else if (evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(evcon))) < HTTPD_HUGE_BACKLOG) {
		chunk = malloc(HTTPD_HUGE_CHUNK);
		for (i = 0; i < HTTPD_HUGE_CHUNK; i++)
			chunk[i] = httpd_byte(p->sent + i);
		evbuffer_add(b, chunk, HTTPD_HUGE_CHUNK);
		free(chunk);
		p->sent += HTTPD_HUGE_CHUNK;
	}
	if (evbuffer_get_length(b) > 0)
		evhttp_send_reply_chunk(p->req, b);
	evbuffer_free(b);
}

static void
httpd_defer(struct evhttp_request *req, enum httpd_kind kind,
    long long ms, uint64_t total)
{
	struct httpd_pending	*p;
	struct timeval		 tv;

	p = calloc(1, sizeof *p);
	if (p == NULL)
		httpd_die("calloc");
	p->kind = kind;
	p->req = req;
	p->total = total;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	p->ev = event_new(httpd.base, -1, kind == HTTPD_SLOW ? 0 : EV_PERSIST,
	    httpd_tick, p);
	evtimer_add(p->ev, &tv);
	TAILQ_INSERT_TAIL(&httpd.pending, p, entry);
	if (kind == HTTPD_SLOW)
		httpd_slow(1);
	else {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Content-Type", "application/octet-stream");
		evhttp_send_reply_start(req, 200, "OK");
	}
}

/* Close a connection whose request got no reply, with a TCP reset. */
static void
httpd_reset_cb(evutil_socket_t fd, short what, void *arg)
{
	evhttp_connection_free(arg);
}

static void
httpd_reset(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct linger		 l = { 1, 0 };
	struct timeval		 tv = { 0, 0 };
	evutil_socket_t		 s;

	s = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
	setsockopt(s, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	/* Not inside the request callback: evhttp still uses evcon there. */
	event_base_once(httpd.base, -1, EV_TIMEOUT, httpd_reset_cb, evcon, &tv);
}

static const char *
httpd_method(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	default:
		return "OTHER";
	}
}

static void
httpd_echo(struct evhttp_request *req)
{
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evkeyval		*kv;
	struct evbuffer		*body = evhttp_request_get_input_buffer(req);
	json_t			*o, *h;
	char			*s, *addr = NULL;
	size_t			 len;
	ev_uint16_t		 peer = 0;

	h = json_object();
	TAILQ_FOREACH(kv, in, next)
		json_object_set_new(h, kv->key, json_string(kv->value));
	len = evbuffer_get_length(body);
	evhttp_connection_get_peer(evhttp_request_get_connection(req), &addr,
	    &peer);
	o = json_pack("{s:s, s:s, s:o, s:i}",
	    "method", httpd_method(evhttp_request_get_command(req)),
	    "uri", evhttp_request_get_uri(req), "headers", h,
	    "peer_port", (int)peer);
	/* A body that is not UTF-8 comes back as null. */
	json_object_set_new(o, "body", len == 0 ? json_string("") :
	    json_stringn((const char *)evbuffer_pullup(body, -1), len));
	s = json_dumps(o, JSON_COMPACT);
	httpd_reply(req, 200, "application/json", s, strlen(s));
	free(s);
	json_decref(o);
}

static void
httpd_request(struct evhttp_request *req, void *arg)
{
	const char	*uri = evhttp_request_get_uri(req);
	const char	*path;
	char		*buf;
	char		 msg[64];
	long long	 n, i;

	if (uri == NULL || evhttp_request_get_evhttp_uri(req) == NULL ||
	    (path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)))
	    == NULL) {
		httpd_reply(req, 400, "text/plain", "bad\n", 4);
		return;
	}
	httpd_hit(path);
	if (strcmp(path, "/fixed") == 0)
		httpd_reply(req, 200, "text/plain; charset=utf-8",
		    HTTPD_FIXED_BODY, strlen(HTTPD_FIXED_BODY));
	else if (strcmp(path, "/bytes") == 0) {
		n = httpd_param(req, "n", 0);
		if (n < 0 || n > HTTPD_MAX_BYTES) {
			httpd_reply(req, 400, "text/plain", "bad n\n", 6);
			return;
		}
		if ((buf = malloc(n > 0 ? (size_t)n : 1)) == NULL)
			httpd_die("malloc");
		for (i = 0; i < n; i++)
			buf[i] = (char)httpd_byte((uint64_t)i);
		httpd_reply(req, 200, "application/octet-stream", buf,
		    (size_t)n);
		free(buf);
	} else if (strcmp(path, "/slow") == 0)
		httpd_defer(req, HTTPD_SLOW, httpd_param(req, "ms", 1000), 0);
	else if (strcmp(path, "/huge") == 0)
		httpd_defer(req, HTTPD_HUGE, 1, HTTPD_HUGE_LIMIT);
	else if (strcmp(path, "/drip") == 0)
		httpd_defer(req, HTTPD_DRIP, HTTPD_DRIP_MS,
		    (uint64_t)httpd_param(req, "n", 600));
	else if (strcmp(path, "/redirect") == 0) {
		n = httpd_param(req, "n", 1);
		if (n <= 1)
			snprintf(msg, sizeof msg, "/fixed");
		else
			snprintf(msg, sizeof msg, "/redirect?n=%lld", n - 1);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", msg);
		httpd_reply(req, 302, "text/plain", "moved\n", 6);
	} else if (strcmp(path, "/redirect-ftp") == 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Location", "ftp://127.0.0.1/");
		httpd_reply(req, 302, "text/plain", "moved\n", 6);
	} else if (strcmp(path, "/status") == 0) {
		n = httpd_param(req, "code", 200);
		if (n < 100 || n > 599)
			n = 400;
		snprintf(msg, sizeof msg, "status %lld\n", n);
		httpd_reply(req, (int)n, "text/plain", msg, strlen(msg));
	} else if (strcmp(path, "/reset") == 0)
		httpd_reset(req);
	else if (strcmp(path, "/echo") == 0)
		httpd_echo(req);
	else if (strcmp(path, "/405") == 0) {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
			httpd_reply(req, 405, "text/plain", "", 0);
		else
			httpd_reply(req, 200, "text/plain", "get ok\n", 7);
	} else
		httpd_reply(req, 404, "text/plain", "not found\n", 10);
}

static void
httpd_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(httpd.base);
}

static void *
httpd_main(void *arg)
{
	event_base_dispatch(httpd.base);
	return NULL;
}

int
httpd_start(void)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	sigset_t		 all, old;

	signal(SIGPIPE, SIG_IGN);
	TAILQ_INIT(&httpd.pending);
	httpd.nhits = 0;
	httpd.slow_now = httpd.slow_max = 0;
	if ((httpd.base = event_base_new()) == NULL ||
	    (httpd.http = evhttp_new(httpd.base)) == NULL)
		httpd_die("event_base_new");
	evhttp_set_allowed_methods(httpd.http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE);
	evhttp_set_gencb(httpd.http, httpd_request, NULL);
	if ((bs = evhttp_bind_socket_with_handle(httpd.http, "127.0.0.1",
	    0)) == NULL)
		httpd_die("bind 127.0.0.1");
	if (getsockname(evhttp_bound_socket_get_fd(bs),
	    (struct sockaddr *)&sin, &len) == -1)
		httpd_die("getsockname");
	httpd.port = ntohs(sin.sin_port);
	if ((httpd.stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		httpd_die("eventfd");
	httpd.stop_ev = event_new(httpd.base, httpd.stop_fd, EV_READ,
	    httpd_stop_cb, NULL);
	event_add(httpd.stop_ev, NULL);

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = pthread_create(&httpd.thread, NULL, httpd_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (errno != 0)
		httpd_die("pthread_create");
	return httpd.port;
}

void
httpd_stop(void)
{
	struct httpd_pending	*p;
	uint64_t		 one = 1;

	if (httpd.base == NULL)
		return;
	if (write(httpd.stop_fd, &one, sizeof one) != sizeof one)
		httpd_die("write");
	pthread_join(httpd.thread, NULL);
	/*
	 * Waiting replies: attached requests go with their connections,
	 * detached ones (the client left) are ours to free.
	 */
	while ((p = TAILQ_FIRST(&httpd.pending)) != NULL) {
		if (evhttp_request_get_connection(p->req) == NULL)
			evhttp_request_free(p->req);
		httpd_pending_free(p);
	}
	evhttp_free(httpd.http);
	event_free(httpd.stop_ev);
	close(httpd.stop_fd);
	event_base_free(httpd.base);
	httpd.base = NULL;
	httpd.http = NULL;
}
