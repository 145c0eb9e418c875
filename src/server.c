/*
 * The listener and client connections: newline framing on a Unix stream
 * socket, peer credentials, output bounds.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "jobd.h"

#define SERVER_MAX_GROUPS	256

struct conn {
	struct bufferevent *bev;
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	int		 admin;		/* may act on other users' jobs */
	size_t		 scanned;	/* input bytes known to hold no '\n' */
	int		 closing;	/* flush, then close */
	int		 eof;		/* peer done writing */
	struct rpc_conn	*rpc;
	struct event	*kill_ev;	/* deferred drop of a stuck reader */
	TAILQ_ENTRY(conn) entry;
};
TAILQ_HEAD(conns, conn);

static struct event_base *server_base;
static struct evconnlistener *server_lev;
static struct conns server_conns = TAILQ_HEAD_INITIALIZER(server_conns);
static int	 server_count;
static char	*server_path;		/* unlinked at exit; NULL if inherited */
static gid_t	 server_admin_gid = (gid_t)-1;

static void	 server_accept_cb(struct evconnlistener *, evutil_socket_t,
		     struct sockaddr *, int, void *);
static void	 conn_read_cb(struct bufferevent *, void *);
static void	 conn_write_cb(struct bufferevent *, void *);
static void	 conn_event_cb(struct bufferevent *, short, void *);
static void	 conn_free(struct conn *);
static void	 conn_kill_cb(evutil_socket_t, short, void *);

/*
 * Is something listening on path? A socket file left by a dead daemon
 * refuses connections and may be replaced; a live one must not be.
 */
static int
server_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat	 sb;
	int		 fd, rv;

	if (lstat(path, &sb) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(sb.st_mode)) {
		log_warnx("%s: %s exists and is not a socket", __func__, path);
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	rv = connect(fd, (const struct sockaddr *)sun, sizeof *sun);
	close(fd);
	if (rv == 0) {
		log_warnx("another jobd is already listening on %s", path);
		return -1;
	}
	if (errno != ECONNREFUSED) {
		log_warn("%s: connect %s", __func__, path);
		return -1;
	}
	log_info("removing stale socket %s", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		log_warn("%s: unlink %s", __func__, path);
		return -1;
	}
	return 0;
}

/* A group by name or number; -1 if there is none such. */
static gid_t
server_gid(const char *group)
{
	struct group	*gr;
	char		*end;
	unsigned long	 n;

	if ((gr = getgrnam(group)) != NULL)
		return gr->gr_gid;
	n = strtoul(group, &end, 10);
	if (*group != '\0' && *end == '\0' && n < (gid_t)-1)
		return (gid_t)n;
	return (gid_t)-1;
}

/*
 * Resolve the admin group now (start, reload), not per connection: a
 * group lookup may block on NSS.
 */
void
server_config(void)
{
	server_admin_gid = (gid_t)-1;
	if (cfg->admin_group == NULL || *cfg->admin_group == '\0')
		return;
	if ((server_admin_gid = server_gid(cfg->admin_group)) == (gid_t)-1)
		log_warnx("admin_group %s: no such group", cfg->admin_group);
}

/* Is the peer root, the daemon's own user, or in the admin group? */
static int
server_peer_admin(int fd, const struct ucred *cred)
{
	gid_t		 groups[SERVER_MAX_GROUPS];
	socklen_t	 len = sizeof groups;
	size_t		 i;

	if (cred->uid == 0 || cred->uid == geteuid())
		return 1;
	if (server_admin_gid == (gid_t)-1)
		return 0;
	if (cred->gid == server_admin_gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1)
		return 0;
	for (i = 0; i < len / sizeof groups[0]; i++) {
		if (groups[i] == server_admin_gid)
			return 1;
	}
	return 0;
}

int
server_listen(struct event_base *base, const char *path, unsigned int mode,
    const char *group)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	gid_t			 gid;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		log_warnx("%s: socket path too long: %s", __func__, path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (server_stale(path, &sun) == -1)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		log_warn("%s: socket", __func__);
		return -1;
	}
	/* No window in which the socket has looser permissions. */
	old = umask(0777 & ~mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		umask(old);
		log_warn("%s: bind %s", __func__, path);
		close(fd);
		return -1;
	}
	umask(old);
	if (chmod(path, mode) == -1)
		log_warn("%s: chmod %s", __func__, path);
	if (group != NULL && *group != '\0') {
		if ((gid = server_gid(group)) == (gid_t)-1)
			log_warnx("%s: unknown group %s", __func__, group);
		else if (chown(path, (uid_t)-1, gid) == -1)
			log_warn("%s: chown %s to group %s", __func__, path,
			    group);
	}
	if (server_listen_fd(base, fd) == -1) {
		unlink(path);
		return -1;
	}
	server_path = xstrdup(path);
	return 0;
}

/* Listen on an already bound socket (ours, or systemd's). */
int
server_listen_fd(struct event_base *base, int fd)
{
	server_base = base;
	if (set_nonblock(fd) == -1)
		return -1;
	server_lev = evconnlistener_new(base, server_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, SOMAXCONN, fd);
	if (server_lev == NULL) {
		log_warnx("%s: evconnlistener_new failed", __func__);
		close(fd);
		return -1;
	}
	return 0;
}

/* Stop accepting; existing connections go on. */
void
server_close(void)
{
	if (server_lev != NULL) {
		evconnlistener_free(server_lev);
		server_lev = NULL;
	}
	if (server_path != NULL) {
		unlink(server_path);
		free(server_path);
		server_path = NULL;
	}
}

void
server_shutdown(void)
{
	struct conn	*c;

	server_close();
	while ((c = TAILQ_FIRST(&server_conns)) != NULL)
		conn_free(c);
}

int
server_nconns(void)
{
	return server_count;
}

size_t
server_output_pending(void)
{
	struct conn	*c;
	size_t		 n = 0;

	TAILQ_FOREACH(c, &server_conns, entry)
		n += evbuffer_get_length(bufferevent_get_output(c->bev));
	return n;
}

static void
server_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct conn	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof cred;
	static const char busy[] = "{\"jsonrpc\":\"2.0\",\"id\":null,"
	    "\"error\":{\"code\":-32001,\"message\":\"too many connections\","
	    "\"data\":{\"retry_after_ms\":1000}}}\n";

	if (server_count >= cfg->max_connections) {
		log_warnx("connection limit (%d) reached, refusing a client",
		    cfg->max_connections);
		if (send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL |
		    MSG_DONTWAIT) == -1)
			log_debug("%s: send: %s", __func__, strerror(errno));
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		log_warn("%s: SO_PEERCRED", __func__);
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->uid = cred.uid;
	c->gid = cred.gid;
	c->pid = cred.pid;
	c->admin = server_peer_admin(fd, &cred);
	c->bev = bufferevent_socket_new(server_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		log_warnx("%s: bufferevent_socket_new failed", __func__);
		close(fd);
		free(c);
		return;
	}
	c->rpc = rpc_conn_new(c);
	c->kill_ev = event_new(server_base, -1, 0, conn_kill_cb, c);
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	TAILQ_INSERT_TAIL(&server_conns, c, entry);
	server_count++;
	log_debug("connection from pid %ld uid %ld", (long)c->pid,
	    (long)c->uid);
}

static void
conn_free(struct conn *c)
{
	TAILQ_REMOVE(&server_conns, c, entry);
	server_count--;
	rpc_conn_free(c->rpc);
	event_free(c->kill_ev);
	bufferevent_free(c->bev);
	free(c);
}

static void
conn_kill_cb(evutil_socket_t fd, short events, void *arg)
{
	conn_free(arg);
}

/* Close once everything queued has been written. */
static void
conn_close_after_flush(struct conn *c)
{
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_free(c);
}

/* Answer a request too large to read, then hang up. */
static void
conn_too_large(struct conn *c)
{
	json_t	*e;

	log_warnx("request line over %lld bytes from pid %ld uid %ld; closing",
	    (long long)cfg->max_request_bytes, (long)c->pid, (long)c->uid);
	e = rpc_error_json(json_null(), RPC_TOO_LARGE, "request too large",
	    NULL);
	conn_send(c, e);
	conn_close_after_flush(c);
}

/*
 * Split input into lines. Only bytes not yet searched are searched, so a
 * long line arriving in pieces costs linear time.
 */
static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer_ptr	 p;
	size_t			 len, eol_len;
	unsigned char		*line;

	while (!c->closing) {
		len = evbuffer_get_length(in);
		if (c->scanned >= len)
			break;
		if (evbuffer_ptr_set(in, &p, c->scanned, EVBUFFER_PTR_SET) == -1)
			break;
		p = evbuffer_search_eol(in, &p, &eol_len, EVBUFFER_EOL_LF);
		if (p.pos == -1) {
			c->scanned = len;
			if (len > (size_t)cfg->max_request_bytes)
				conn_too_large(c);
			break;
		}
		if ((size_t)p.pos > (size_t)cfg->max_request_bytes) {
			conn_too_large(c);
			break;
		}
		line = evbuffer_pullup(in, p.pos + 1);
		rpc_handle(c, (const char *)line, (size_t)p.pos);
		evbuffer_drain(in, (size_t)p.pos + 1);
		c->scanned = 0;
	}
	if (c->eof && !c->closing && !rpc_conn_busy(c->rpc))
		conn_close_after_flush(c);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn	*c = arg;

	if (c->closing)
		conn_free(c);
	else if (c->eof && !rpc_conn_busy(c->rpc))
		conn_close_after_flush(c);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn	*c = arg;

	if (what & BEV_EVENT_EOF) {
		/* Half-close: requests in flight still get their answers. */
		c->eof = 1;
		bufferevent_disable(bev, EV_READ);
		if (c->closing || !rpc_conn_busy(c->rpc))
			conn_free(c);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		log_debug("connection from pid %ld: %s", (long)c->pid,
		    strerror(EVUTIL_SOCKET_ERROR()));
	conn_free(c);
}

/* Free an encoded message once the buffer has written it. */
static void
conn_free_cb(const void *data, size_t len, void *arg)
{
	free(arg);
}

void
conn_send(struct conn *c, json_t *msg)
{
	char	*s;
	size_t	 len;

	/* Encoded once, then handed to the buffer by reference. */
	if ((s = json_dumps(msg, JSON_COMPACT | JSON_REAL_PRECISION(9))) == NULL)
		fatalx("%s: json_dumps failed", __func__);
	json_decref(msg);
	len = strlen(s);
	s[len] = '\n';		/* the NUL's place; the length excludes it */
	conn_send_text(c, s, len + 1);
}

void
conn_send_text(struct conn *c, char *s, size_t len)
{
	conn_send_pieces(c, &s, &len, 1);
}

/*
 * Queue one message made of n malloc'ed pieces (taken), by reference. A
 * client that does not read its answers is dropped: from a timer, since
 * our caller may still be using the connection. Its jobs go on and stay
 * retrievable by id. The bound is checked once per message, so a message
 * is queued whole or not at all.
 */
void
conn_send_pieces(struct conn *c, char **bufs, size_t *lens, int n)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	int		 i;

	if (c->closing == 2 ||
	    evbuffer_get_length(out) > (size_t)cfg->max_output_bytes) {
		if (c->closing != 2) {
			log_warnx("client pid %ld uid %ld is not reading "
			    "(%zu bytes waiting); dropping it", (long)c->pid,
			    (long)c->uid, evbuffer_get_length(out));
			c->closing = 2;
			bufferevent_disable(c->bev, EV_READ | EV_WRITE);
			event_active(c->kill_ev, 0, 0);
		}
		for (i = 0; i < n; i++)
			free(bufs[i]);
		return;
	}
	for (i = 0; i < n; i++) {
		if (evbuffer_add_reference(out, bufs[i], lens[i], conn_free_cb,
		    bufs[i]) == -1)
			fatalx("%s: evbuffer_add_reference failed", __func__);
	}
}

uid_t
conn_uid(const struct conn *c)
{
	return c->uid;
}

int
conn_admin(const struct conn *c)
{
	return c->admin;
}

pid_t
conn_pid(const struct conn *c)
{
	return c->pid;
}

struct rpc_conn *
conn_rpc(struct conn *c)
{
	return c->rpc;
}
