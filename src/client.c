/*
 * A small synchronous JSON-RPC client over the daemon's Unix socket, for
 * jobctl and the tests: one line out, lines in, with timeouts.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

struct client {
	int		 fd;
	char		*buf;		/* unread input */
	size_t		 len;
	size_t		 size;
	json_int_t	 next_id;
	json_t		*stash;		/* responses read while waiting for another */
	void		(*notify_cb)(json_t *, void *);
	void		*notify_arg;
};

const char *
client_default_socket(void)
{
	const char	*s = getenv("JOBD_SOCKET");

	return s != NULL && *s != '\0' ? s : JOBD_DEFAULT_SOCKET;
}

struct client *
client_connect(const char *path, char **err)
{
	struct sockaddr_un	 sun;
	struct client		*c;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(err, "socket path too long: %s", path);
		return NULL;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		xasprintf(err, "socket: %s", strerror(errno));
		return NULL;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		xasprintf(err, "cannot connect to %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	c = xcalloc(1, sizeof *c);
	c->fd = fd;
	c->size = 65536;
	c->buf = xmalloc(c->size);
	c->next_id = 1;
	c->stash = json_array();
	return c;
}

void
client_close(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c->buf);
	json_decref(c->stash);
	free(c);
}

int
client_fd(const struct client *c)
{
	return c->fd;
}

void
client_on_notify(struct client *c, void (*cb)(json_t *, void *), void *arg)
{
	c->notify_cb = cb;
	c->notify_arg = arg;
}

int
client_send_raw(struct client *c, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		n = send(c->fd, p, len, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
client_send(struct client *c, const json_t *msg)
{
	char	*s;
	size_t	 n;
	int	 rv;

	if ((s = json_dumps(msg, JSON_COMPACT)) == NULL)
		return -1;
	n = strlen(s);
	s = xreallocarray(s, n + 2, 1);
	s[n++] = '\n';
	rv = client_send_raw(c, s, n);
	free(s);
	return rv;
}

/* Read one line off the socket into a json value; NULL on EOF/timeout. */
static json_t *
client_read(struct client *c, int timeout_ms)
{
	struct pollfd	 pfd;
	uint64_t	 deadline = now_mono_us() + (uint64_t)timeout_ms * 1000;
	char		*nl;
	ssize_t		 n;
	json_t		*v;
	json_error_t	 jerr;
	size_t		 linelen;
	int		 left;

	for (;;) {
		if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
			linelen = (size_t)(nl - c->buf);
			v = json_loadb(c->buf, linelen, JSON_ALLOW_NUL, &jerr);
			memmove(c->buf, nl + 1, c->len - linelen - 1);
			c->len -= linelen + 1;
			if (v == NULL)
				errno = EBADMSG;
			return v;
		}
		if (c->len == c->size) {
			c->size *= 2;
			c->buf = xreallocarray(c->buf, c->size, 1);
		}
		/* Poll at least once, even when the time is already up. */
		left = timeout_ms < 0 ? -1 :
		    (int)(((int64_t)deadline - (int64_t)now_mono_us()) / 1000);
		if (timeout_ms >= 0 && left < 0)
			left = 0;
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		if ((n = poll(&pfd, 1, left)) == -1) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (n == 0 && timeout_ms >= 0 && left <= 0) {
			errno = ETIMEDOUT;
			return NULL;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(c->fd, c->buf + c->len, c->size - c->len);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return NULL;
		}
		if (n == 0) {
			errno = ECONNRESET;
			return NULL;
		}
		c->len += (size_t)n;
	}
}

json_t *
client_recv(struct client *c, int timeout_ms)
{
	json_t	*v;

	if (json_array_size(c->stash) > 0) {
		v = json_incref(json_array_get(c->stash, 0));
		json_array_remove(c->stash, 0);
		return v;
	}
	return client_read(c, timeout_ms);
}

json_t *
client_call(struct client *c, const char *method, json_t *params,
    int timeout_ms)
{
	json_t		*req, *v, *id;
	json_int_t	 want = c->next_id++;
	size_t		 i;

	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", want,
	    "method", method);
	if (params != NULL)
		json_object_set_new(req, "params", params);
	if (client_send(c, req) == -1) {
		json_decref(req);
		return NULL;
	}
	json_decref(req);

	/* An earlier read may have stashed the answer already. */
	json_array_foreach(c->stash, i, v) {
		id = json_object_get(v, "id");
		if (json_is_integer(id) && json_integer_value(id) == want) {
			json_incref(v);
			json_array_remove(c->stash, i);
			return v;
		}
	}
	for (;;) {
		if ((v = client_read(c, timeout_ms)) == NULL)
			return NULL;
		id = json_object_get(v, "id");
		if (json_is_integer(id) && json_integer_value(id) == want)
			return v;
		if (id == NULL && json_object_get(v, "method") != NULL) {
			if (c->notify_cb != NULL)
				c->notify_cb(v, c->notify_arg);
			json_decref(v);
			continue;
		}
		json_array_append_new(c->stash, v);
	}
}
