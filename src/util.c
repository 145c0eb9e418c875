/*
 * Small helpers shared by every module: clocks, file descriptors, RPC
 * error building, job argument validation and path policy.
 */
#include "config.h"

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobd.h"

struct event_base *main_base;
uint64_t	 main_start_mono;
int		 (*main_reload)(struct rpcerr *);

uint64_t
now_mono_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
now_wall_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Format wall-clock microseconds as RFC 3339 UTC with milliseconds. */
void
fmt_rfc3339(char *buf, size_t len, uint64_t us)
{
	struct tm	 tm;
	time_t		 t = (time_t)(us / 1000000);
	char		 tmp[32];

	gmtime_r(&t, &tm);
	strftime(tmp, sizeof tmp, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%03uZ", tmp, (unsigned)((us / 1000) % 1000));
}

void
rpcerr_set(struct rpcerr *err, int code, const char *field, const char *fmt,
    ...)
{
	va_list	 ap;

	err->code = code;
	snprintf(err->field, sizeof err->field, "%s", field != NULL ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->reason, sizeof err->reason, fmt, ap);
	va_end(ap);
}

int
set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("%s: fcntl", __func__);
		return -1;
	}
	return 0;
}

int
set_cloexec(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFD)) == -1 ||
	    fcntl(fd, F_SETFD, fl | FD_CLOEXEC) == -1) {
		log_warn("%s: fcntl", __func__);
		return -1;
	}
	return 0;
}

/* Is resolved path p inside root r (both canonical)? */
static int
path_under(const char *p, const char *r)
{
	size_t	 n = strlen(r);

	if (strcmp(r, "/") == 0)
		return 1;
	return strncmp(p, r, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

int
path_allowed(const char *path, char *out, size_t outlen, struct rpcerr *err)
{
	char	 resolved[PATH_MAX], root[PATH_MAX];
	int	 i;

	if (path[0] != '/') {
		rpcerr_set(err, RPC_INVALID_PARAMS, "path",
		    "must be an absolute path");
		return -1;
	}
	if (realpath(path, resolved) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			rpcerr_set(err, RPC_INVALID_PARAMS, "path",
			    "no such file: %s", path);
		else if (errno == EACCES)
			rpcerr_set(err, RPC_FORBIDDEN, "path",
			    "permission denied: %s", path);
		else
			rpcerr_set(err, RPC_INVALID_PARAMS, "path", "%s: %s",
			    path, strerror(errno));
		return -1;
	}
	for (i = 0; i < cfg->nallowed_roots; i++) {
		if (realpath(cfg->allowed_roots[i], root) == NULL)
			continue;
		if (path_under(resolved, root))
			break;
	}
	if (i == cfg->nallowed_roots) {
		rpcerr_set(err, RPC_FORBIDDEN, "path",
		    "%s is outside the allowed roots", path);
		return -1;
	}
	if (strlen(resolved) >= outlen) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "path", "path too long");
		return -1;
	}
	strcpy(out, resolved);
	return 0;
}

/*
 * Open an absolute, already resolved path one component at a time with
 * O_NOFOLLOW, so a directory swapped for a symbolic link after the path
 * was checked cannot lead anywhere else (plain O_NOFOLLOW guards only the
 * last component). -1 with errno (ELOOP or ENOTDIR for a link).
 */
int
path_open_nofollow(const char *path, int flags)
{
	char	 buf[PATH_MAX], *p, *slash;
	int	 dfd, fd, saved;

	if (path[0] != '/' || strlen(path) >= sizeof buf) {
		errno = EINVAL;
		return -1;
	}
	strcpy(buf, path);
	if ((dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	p = buf + 1;
	while ((slash = strchr(p, '/')) != NULL) {
		*slash = '\0';
		if (*p != '\0') {
			fd = openat(dfd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
			saved = errno;
			close(dfd);
			if (fd == -1) {
				errno = saved;
				return -1;
			}
			dfd = fd;
		}
		p = slash + 1;
	}
	fd = openat(dfd, *p != '\0' ? p : ".", flags | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	close(dfd);
	errno = saved;
	return fd;
}

#define FD_RECV_MAX	8	/* descriptors one message may bring */

ssize_t
fd_send(int sock, const void *buf, size_t len, int fd, int flags)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof (int))];
	} cmsgbuf;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cmsg;
	ssize_t			 n;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cmsgbuf, 0, sizeof cmsgbuf);
		msg.msg_control = cmsgbuf.buf;
		msg.msg_controllen = sizeof cmsgbuf.buf;
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof (int));
		memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
	}
	do {
		n = sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR);
	return n;
}

ssize_t
fd_recv(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds,
    int flags)
{
	union {
		struct cmsghdr	 hdr;
		char		 buf[CMSG_SPACE(sizeof (int) * FD_RECV_MAX)];
	} cmsgbuf;
	struct msghdr		 msg;
	struct iovec		 iov;
	struct cmsghdr		*cmsg;
	ssize_t			 n;
	size_t			 i, k;
	int			 fd, over = 0;

	memset(&msg, 0, sizeof msg);
	iov.iov_base = buf;
	iov.iov_len = len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cmsgbuf.buf;
	msg.msg_controllen = sizeof cmsgbuf.buf;
	*nfds = 0;
	do {
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	} while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	for (cmsg = CMSG_FIRSTHDR(&msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(&msg, cmsg)) {
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS)
			continue;
		k = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof (int);
		for (i = 0; i < k; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof fd, sizeof fd);
			if (*nfds < maxfds)
				fds[(*nfds)++] = fd;
			else {
				close(fd);
				over = 1;
			}
		}
	}
	/* Too many, or cut short: none of them can be trusted. */
	if (over || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		while (*nfds > 0)
			close(fds[--(*nfds)]);
		*nfds = -1;
	}
	return n;
}

int
arg_int(json_t *args, const char *key, int64_t def, int64_t min, int64_t max,
    int64_t *out, struct rpcerr *err)
{
	json_t		*v = json_object_get(args, key);
	json_int_t	 n;

	if (v == NULL) {
		if (def == ARG_REQUIRED) {
			rpcerr_set(err, RPC_INVALID_PARAMS, key, "is required");
			return -1;
		}
		json_object_set_new(args, key, json_integer(def));
		*out = def;
		return 0;
	}
	if (!json_is_integer(v)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, key, "must be an integer");
		return -1;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		rpcerr_set(err, RPC_INVALID_PARAMS, key,
		    "must be between %lld and %lld", (long long)min,
		    (long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

int
arg_bool(json_t *args, const char *key, int def, int *out, struct rpcerr *err)
{
	json_t	*v = json_object_get(args, key);

	if (v == NULL) {
		json_object_set_new(args, key, json_boolean(def));
		*out = def;
		return 0;
	}
	if (!json_is_boolean(v)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, key, "must be true or false");
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

int
arg_str(json_t *args, const char *key, const char *def, const char **out,
    struct rpcerr *err)
{
	json_t	*v = json_object_get(args, key);

	if (v == NULL) {
		if (def == NULL) {
			rpcerr_set(err, RPC_INVALID_PARAMS, key, "is required");
			return -1;
		}
		json_object_set_new(args, key, json_string(def));
		v = json_object_get(args, key);
	}
	if (!json_is_string(v)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, key, "must be a string");
		return -1;
	}
	if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL) {
		rpcerr_set(err, RPC_INVALID_PARAMS, key, "contains a NUL byte");
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

int
arg_only(json_t *args, const char *const *allowed, struct rpcerr *err)
{
	const char	*key;
	json_t		*v;
	size_t		 i;

	json_object_foreach(args, key, v) {
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
		}
		if (allowed[i] == NULL) {
			rpcerr_set(err, RPC_INVALID_PARAMS, key, "unknown argument");
			return -1;
		}
	}
	return 0;
}
