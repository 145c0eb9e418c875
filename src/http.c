/*
 * The HTTP job types on the I/O engine: fetch, download and ping.
 *
 * check() turns a job's args into a plain C request (struct http_run) on
 * the main thread; the loop thread sets an easy handle up from it, streams
 * the body through the write callback (SHA-256, size limit, the optional
 * in-result copy, the download's file) and fills in the plain C result;
 * the main thread builds the JSON result from it. No json_t ever reaches
 * a loop thread, and no cfg is read there.
 *
 * A download writes through the blocking pool: the pool opens the
 * temporary file before the transfer starts, the write callback hands it
 * 64 KiB chunks and pauses the transfer while more than HTTP_HIGH_WATER is
 * buffered, and the pool fsyncs and renames it into place at the end (or
 * removes it). A download is only kept for a 2xx response.
 *
 * Choices the protocol leaves open (for jobd-protocol(7)):
 * - HTTP error statuses are results; a transfer with no response fails
 *   with a stable code: connect_failed, dns_failed, tls_failed, timeout
 *   (state timeout; also a stall under min_speed for min_speed_ms),
 *   too_large, io_error, empty_reply, connection_error, truncated,
 *   protocol_error, redirect_forbidden (a redirect to a scheme outside
 *   io.allowed_schemes), too_many_redirects (more than 10), bad_url,
 *   exists, forbidden, transfer_failed.
 * - body_in_result "text" gives the body as a string when it is valid
 *   UTF-8 and falls back to base64 otherwise; "body_encoding" says which.
 * - time_ms: dns, connect and tls are the durations of those phases (0 on
 *   a reused connection), ttfb and total are counted from the start.
 * - download: filename is relative to io.download_dir and may name
 *   existing subdirectories; an absolute path, a ".." component or a
 *   symlink on the way is -32003, other bad names -32602. With overwrite
 *   false an existing file fails the job with code "exists" (checked
 *   before the transfer and again, atomically, at the rename). The result
 *   has "path" only when the file was saved (2xx).
 * - ping: up is a 2xx or 3xx (or expect_status); redirects are not
 *   followed; down is {"up": false, "error": {"code", "message"}} in a
 *   done job. A TCP ping (host + port) opens and closes a connection.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "jobd.h"

#define HTTP_MAX_REDIRS		10
#define HTTP_MAX_URL		8192
#define HTTP_MAX_HEADERS	100
#define HTTP_MAX_HEADER		8192
#define HTTP_MAX_BODY		(16 * 1024 * 1024)
#define HTTP_MAX_PATH		1024
#define HTTP_MAX_NAME		200	/* leaves room for the temporary name */
#define HTTP_MAX_TIMEOUT	86400000
#define HTTP_CONNECT_MS		30000
#define HTTP_CHUNK		(64 * 1024)
#define HTTP_HIGH_WATER		(1024 * 1024)
#define HTTP_LOW_WATER		(256 * 1024)
#define HTTP_USER_AGENT		"jobd/" PACKAGE_VERSION

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST };
enum http_body { HTTP_BODY_NONE, HTTP_BODY_TEXT, HTTP_BODY_BASE64 };

struct http_run;

/* Bytes of a download on their way to the pool. */
struct http_chunk {
	struct http_run	*r;
	size_t		 len;
	char		 data[HTTP_CHUNK];
};

struct http_run {
	int		 op;		/* IO_OP_* */
	struct io_xfer	*xfer;
	char		 jobid[24];

	/* The request: built on the main thread, read-only afterwards. */
	char		*url;		/* for a TCP ping, http://host:port/ */
	int		 tcp;		/* ping of host + port */
	enum http_method method;
	struct curl_slist *headers;
	char		*body;
	size_t		 bodylen;
	long		 timeout_ms;
	curl_off_t	 max_bytes;
	int		 follow;
	enum http_body	 want_body;
	long		 min_speed;
	long		 min_speed_s;
	long		 expect_status;
	char		 protos[16];
	char		*dir;		/* download directory */
	char		*filename;	/* relative to it */
	const char	*base;		/* its last component */
	char		*tmp;		/* temporary name, beside base */
	char		*path;		/* dir/filename, for the result */
	int		 overwrite;

	/* The loop thread's, while it runs. */
	CURL		*easy;
	char		 errbuf[CURL_ERROR_SIZE];
	EVP_MD_CTX	*md;
	curl_off_t	 bytes;
	int		 too_large;
	int		 ping_get;	/* HEAD was refused: GET */
	int		 ping_cut;	/* we stopped the GET at its body */
	int		 sinking;	/* 0 undecided, 1 to the file, -1 not */
	char		*bodybuf;
	size_t		 bodybuflen;
	size_t		 bodybufcap;
	struct http_chunk *cur;

	/* The result: filled by the loop or pool, read after DONE. */
	long		 status;
	long		 version;
	long		 redirects;
	char		*ctype;
	char		*effurl;
	curl_off_t	 t_dns, t_connect, t_tls, t_ttfb, t_total;
	unsigned char	 sha[32];
	const char	*fail_code;	/* NULL: a response came */
	enum job_state	 fail_state;
	char		 fail_msg[256];
	int		 saved;

	/* The file, on the blocking pool (in strand order). */
	struct io_strand *strand;
	int		 dirfd;
	int		 fd;
	pthread_mutex_t	 lock;		/* buffered, paused, ferr */
	size_t		 buffered;
	int		 paused;
	int		 ferr;
};

static void
http_run_free(void *arg)
{
	struct http_run	*r = arg;

	if (r == NULL)
		return;
	free(r->url);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->dir);
	free(r->filename);
	free(r->tmp);
	free(r->path);
	if (r->md != NULL)
		EVP_MD_CTX_free(r->md);
	free(r->bodybuf);
	free(r->cur);
	free(r->ctype);
	free(r->effurl);
	io_strand_free(r->strand);
	if (r->fd != -1)
		close(r->fd);
	if (r->dirfd != -1)
		close(r->dirfd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct http_run *
http_run_new(int op)
{
	struct http_run	*r;

	r = xcalloc(1, sizeof *r);
	r->op = op;
	r->fd = -1;
	r->dirfd = -1;
	r->follow = 1;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

/* Record why a run failed; the first reason wins. */
static void __attribute__((format(printf, 4, 5)))
http_fail(struct http_run *r, enum job_state state, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;

	if (r->fail_code != NULL)
		return;
	r->fail_code = code;
	r->fail_state = state;
	va_start(ap, fmt);
	vsnprintf(r->fail_msg, sizeof r->fail_msg, fmt, ap);
	va_end(ap);
}

/* Argument parsing, on the main thread. */

/* Is scheme in io.allowed_schemes (and one jobd speaks)? */
static int
http_scheme_allowed(const char *scheme)
{
	const char	*p = cfg->allowed_schemes;
	size_t		 n = strlen(scheme);

	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
		return 0;
	while (p != NULL && *p != '\0') {
		p += strspn(p, ", \t");
		if (strncasecmp(p, scheme, n) == 0 &&
		    (p[n] == '\0' || strchr(", \t", p[n]) != NULL))
			return 1;
		p += strcspn(p, ", \t");
	}
	return 0;
}

/* The CURLOPT_PROTOCOLS_STR list: allowed schemes jobd speaks. */
static void
http_protocols(char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", http_scheme_allowed("http") ? "http" : "",
	    http_scheme_allowed("http") && http_scheme_allowed("https") ?
	    "," : "", http_scheme_allowed("https") ? "https" : "");
}

static int
http_parse_url(json_t *args, struct http_run *r, struct rpcerr *err)
{
	const char	*s;
	CURLU		*u;
	CURLUcode	 uc;
	char		*scheme = NULL, *host = NULL, *full = NULL;
	int		 rc = -1;

	if (arg_str(args, "url", NULL, &s, err) == -1)
		return -1;
	if (strlen(s) != json_string_length(json_object_get(args, "url")) ||
	    strlen(s) > HTTP_MAX_URL) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "url",
		    "contains NUL or is longer than %d bytes", HTTP_MAX_URL);
		return -1;
	}
	if ((u = curl_url()) == NULL)
		fatalx("%s: curl_url", __func__);
	if ((uc = curl_url_set(u, CURLUPART_URL, s,
	    CURLU_NON_SUPPORT_SCHEME)) != CURLUE_OK) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "url", "not a URL: %s",
#if LIBCURL_VERSION_NUM >= 0x075000
		    curl_url_strerror(uc));
#else
		    "cannot parse");
#endif
		goto out;
	}
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "url", "needs a scheme");
		goto out;
	}
	if (!http_scheme_allowed(scheme)) {
		rpcerr_set(err, RPC_FORBIDDEN, "url",
		    "scheme \"%s\" is not allowed (io.allowed_schemes: %s)",
		    scheme, cfg->allowed_schemes);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    *host == '\0') {
		rpcerr_set(err, RPC_INVALID_PARAMS, "url", "needs a host");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "url", "not a URL");
		goto out;
	}
	r->url = xstrdup(full);
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

/* An RFC 9110 token: the characters a header name may have. */
static int
http_token(const char *s, size_t len)
{
	size_t	 i;

	if (len == 0 || len > 256)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '\0' || (!(s[i] >= 'a' && s[i] <= 'z') &&
		    !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') &&
		    strchr("!#$%&'*+-.^_`|~", s[i]) == NULL))
			return 0;
	}
	return 1;
}

/* headers {name: value}: no CR, LF or NUL anywhere (no injection). */
static int
http_parse_headers(json_t *args, struct http_run *r, struct rpcerr *err)
{
	json_t		*h, *v;
	const char	*k, *val;
	char		*line;
	size_t		 klen, vlen;
	void		*it;

	if ((h = json_object_get(args, "headers")) == NULL)
		return 0;
	if (!json_is_object(h)) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
		    "must be an object of strings");
		return -1;
	}
	if (json_object_size(h) > HTTP_MAX_HEADERS) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
		    "more than %d headers", HTTP_MAX_HEADERS);
		return -1;
	}
	for (it = json_object_iter(h); it != NULL;
	    it = json_object_iter_next(h, it)) {
		k = json_object_iter_key(it);
		v = json_object_iter_value(it);
#if JANSSON_VERSION_HEX >= 0x020e00
		klen = json_object_iter_key_len(it);
#else
		klen = strlen(k);
#endif
		if (!http_token(k, klen)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
			    "bad header name \"%.64s\"", k);
			return -1;
		}
		if (!json_is_string(v)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
			    "header %s: the value must be a string", k);
			return -1;
		}
		val = json_string_value(v);
		vlen = json_string_length(v);
		if (strlen(val) != vlen || strpbrk(val, "\r\n") != NULL) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
			    "header %s: CR, LF or NUL in the value", k);
			return -1;
		}
		if (vlen > HTTP_MAX_HEADER) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "headers",
			    "header %s: longer than %d bytes", k,
			    HTTP_MAX_HEADER);
			return -1;
		}
		/* "Name;" is curl's way to send a header with no value. */
		if (vlen == 0)
			xasprintf(&line, "%s;", k);
		else
			xasprintf(&line, "%s: %s", k, val);
		r->headers = curl_slist_append(r->headers, line);
		free(line);
		if (r->headers == NULL)
			fatalx("%s: out of memory", __func__);
	}
	return 0;
}

/* The arguments fetch and download share. */
static int
http_parse_common(json_t *args, struct http_run *r, struct rpcerr *err)
{
	int64_t	 timeout, maxb, speed, speed_ms;
	int	 follow;

	if (arg_int(args, "timeout_ms", cfg->io_timeout_ms, 1,
	    HTTP_MAX_TIMEOUT, &timeout, err) == -1 ||
	    arg_int(args, "max_bytes", cfg->io_max_bytes, 0, cfg->io_max_bytes,
	    &maxb, err) == -1 ||
	    arg_bool(args, "follow_redirects", 1, &follow, err) == -1 ||
	    arg_int(args, "min_speed", 1, 0, INT32_MAX, &speed, err) == -1 ||
	    arg_int(args, "min_speed_ms", 30000, 0, HTTP_MAX_TIMEOUT,
	    &speed_ms, err) == -1)
		return -1;
	r->timeout_ms = (long)timeout;
	r->max_bytes = (curl_off_t)maxb;
	r->follow = follow;
	r->min_speed = (long)speed;
	/* curl counts the window in whole seconds. */
	r->min_speed_s = speed > 0 ? (long)((speed_ms + 999) / 1000) : 0;
	return http_parse_headers(args, r, err);
}

/*
 * Check a download's filename: relative, no "..", no empty or "."
 * component, no control characters. Escapes are -32003, the rest -32602.
 */
static int
http_check_filename(json_t *args, const char **namep, struct rpcerr *err)
{
	const char	*name, *p, *e;
	size_t		 len, clen;

	if (arg_str(args, "filename", NULL, &name, err) == -1)
		return -1;
	len = json_string_length(json_object_get(args, "filename"));
	if (len == 0 || strlen(name) != len || len > HTTP_MAX_PATH) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
		    "must be 1 to %d bytes without NUL", HTTP_MAX_PATH);
		return -1;
	}
	if (name[0] == '/') {
		rpcerr_set(err, RPC_FORBIDDEN, "filename",
		    "must be relative to the download directory");
		return -1;
	}
	for (p = name; *p != '\0'; p = *e == '/' ? e + 1 : e) {
		e = p + strcspn(p, "/");
		clen = (size_t)(e - p);
		if (clen == 2 && strncmp(p, "..", 2) == 0) {
			rpcerr_set(err, RPC_FORBIDDEN, "filename",
			    "may not contain \"..\"");
			return -1;
		}
		if (clen == 0 || (clen == 1 && *p == '.') ||
		    (*e == '/' && e[1] == '\0')) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
			    "empty, \".\" or trailing path component");
			return -1;
		}
		if (clen > (*e == '\0' ? HTTP_MAX_NAME : 255)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
			    "path component longer than %d bytes",
			    *e == '\0' ? HTTP_MAX_NAME : 255);
			return -1;
		}
	}
	for (p = name; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
			    "contains control characters");
			return -1;
		}
	}
	*namep = name;
	return 0;
}

/*
 * Open the directory that holds filename under dir, walking its
 * directories without following symlinks, so nothing leads outside dir.
 * Returns the directory fd and its last component, or -1 with errno (and
 * *basep NULL when dir itself could not be opened).
 */
static int
http_open_parent(const char *dir, const char *filename, const char **basep)
{
	const char	*p, *slash;
	char		*comp;
	int		 dfd, nfd, saved;

	*basep = NULL;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	*basep = filename;
	for (p = filename; (slash = strchr(p, '/')) != NULL; p = slash + 1) {
		comp = xstrndup(p, (size_t)(slash - p));
		nfd = openat(dfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		saved = errno;
		free(comp);
		close(dfd);
		if (nfd == -1) {
			errno = saved;
			return -1;
		}
		dfd = nfd;
	}
	*basep = p;
	return dfd;
}

/* Submit-time check that a download stays inside io.download_dir. */
static int
http_check_target(struct http_run *r, struct rpcerr *err)
{
	struct stat	 st;
	const char	*base;
	int		 dfd;

	if ((dfd = http_open_parent(r->dir, r->filename, &base)) == -1) {
		if (base == NULL)
			rpcerr_set(err, RPC_FORBIDDEN, "filename",
			    "the download directory %s is unusable: %s",
			    r->dir, strerror(errno));
		else if (errno == ELOOP || errno == ENOTDIR)
			rpcerr_set(err, RPC_FORBIDDEN, "filename",
			    "a directory on the way is a symlink or not a "
			    "directory");
		else if (errno == ENOENT)
			rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
			    "no such directory in %s", r->dir);
		else
			rpcerr_set(err, RPC_FORBIDDEN, "filename",
			    "%s: %s", r->dir, strerror(errno));
		return -1;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			rpcerr_set(err, RPC_FORBIDDEN, "filename",
			    "is a symlink");
			close(dfd);
			return -1;
		}
		if (S_ISDIR(st.st_mode)) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "filename",
			    "is a directory");
			close(dfd);
			return -1;
		}
	}
	close(dfd);
	return 0;
}

static int
http_parse_fetch(json_t *args, struct http_run *r, struct rpcerr *err)
{
	static const char *const known[] = { "url", "method", "headers",
	    "body", "timeout_ms", "max_bytes", "follow_redirects",
	    "body_in_result", "min_speed", "min_speed_ms", NULL };
	const char	*s;
	json_t		*b;

	if (arg_only(args, known, err) == -1 ||
	    http_parse_url(args, r, err) == -1 ||
	    http_parse_common(args, r, err) == -1 ||
	    arg_str(args, "method", "GET", &s, err) == -1)
		return -1;
	if (strcmp(s, "GET") == 0)
		r->method = HTTP_GET;
	else if (strcmp(s, "HEAD") == 0)
		r->method = HTTP_HEAD;
	else if (strcmp(s, "POST") == 0)
		r->method = HTTP_POST;
	else {
		rpcerr_set(err, RPC_INVALID_PARAMS, "method",
		    "must be GET, HEAD or POST");
		return -1;
	}
	if ((b = json_object_get(args, "body")) != NULL) {
		if (!json_is_string(b) || r->method != HTTP_POST ||
		    json_string_length(b) > HTTP_MAX_BODY) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "body",
			    "a string of at most %d bytes, with method POST",
			    HTTP_MAX_BODY);
			return -1;
		}
		r->bodylen = json_string_length(b);
		r->body = xmalloc(r->bodylen + 1);
		memcpy(r->body, json_string_value(b), r->bodylen + 1);
	}
	if (arg_str(args, "body_in_result", "none", &s, err) == -1)
		return -1;
	if (strcmp(s, "none") == 0)
		r->want_body = HTTP_BODY_NONE;
	else if (strcmp(s, "text") == 0)
		r->want_body = HTTP_BODY_TEXT;
	else if (strcmp(s, "base64") == 0)
		r->want_body = HTTP_BODY_BASE64;
	else {
		rpcerr_set(err, RPC_INVALID_PARAMS, "body_in_result",
		    "must be none, text or base64");
		return -1;
	}
	return 0;
}

static int
http_parse_download(json_t *args, struct http_run *r, struct rpcerr *err)
{
	static const char *const known[] = { "url", "filename", "overwrite",
	    "headers", "timeout_ms", "max_bytes", "follow_redirects",
	    "min_speed", "min_speed_ms", NULL };
	const char	*name, *slash;

	if (arg_only(args, known, err) == -1 ||
	    http_parse_url(args, r, err) == -1 ||
	    http_check_filename(args, &name, err) == -1 ||
	    arg_bool(args, "overwrite", 0, &r->overwrite, err) == -1 ||
	    http_parse_common(args, r, err) == -1)
		return -1;
	r->method = HTTP_GET;
	r->dir = xstrdup(cfg->download_dir);
	r->filename = xstrdup(name);
	slash = strrchr(r->filename, '/');
	r->base = slash != NULL ? slash + 1 : r->filename;
	xasprintf(&r->path, "%s%s%s", r->dir,
	    r->dir[0] != '\0' && r->dir[strlen(r->dir) - 1] == '/' ? "" : "/",
	    r->filename);
	return http_check_target(r, err);
}

/* host: a DNS name or an IP literal; returns the URL host part. */
static int
http_parse_host(const char *host, size_t len, char **out,
    struct rpcerr *err)
{
	size_t	 i;
	int	 v6 = strchr(host, ':') != NULL;

	if (len == 0 || len > 253 || strlen(host) != len)
		goto bad;
	for (i = 0; i < len; i++) {
		if (v6 ? strchr("0123456789abcdefABCDEF:.", host[i]) == NULL :
		    !((host[i] >= 'a' && host[i] <= 'z') ||
		    (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9') ||
		    host[i] == '-' || host[i] == '.' || host[i] == '_'))
			goto bad;
	}
	xasprintf(out, v6 ? "[%s]" : "%s", host);
	return 0;
bad:
	rpcerr_set(err, RPC_INVALID_PARAMS, "host",
	    "must be a host name or an IP address");
	return -1;
}

static int
http_parse_ping(json_t *args, struct http_run *r, struct rpcerr *err)
{
	static const char *const known[] = { "url", "host", "port",
	    "timeout_ms", "expect_status", NULL };
	const char	*host;
	char		*h;
	int64_t		 port, timeout, expect;

	if (arg_only(args, known, err) == -1)
		return -1;
	r->method = HTTP_HEAD;
	r->follow = 0;
	if (json_object_get(args, "url") != NULL) {
		if (json_object_get(args, "host") != NULL ||
		    json_object_get(args, "port") != NULL) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "host",
			    "give either url, or host and port");
			return -1;
		}
		if (http_parse_url(args, r, err) == -1)
			return -1;
	} else {
		if (json_object_get(args, "host") == NULL) {
			rpcerr_set(err, RPC_INVALID_PARAMS, "url",
			    "give either url, or host and port");
			return -1;
		}
		if (arg_str(args, "host", NULL, &host, err) == -1 ||
		    arg_int(args, "port", ARG_REQUIRED, 1, 65535, &port,
		    err) == -1 ||
		    http_parse_host(host, json_string_length(json_object_get(
		    args, "host")), &h, err) == -1)
			return -1;
		r->tcp = 1;
		xasprintf(&r->url, "http://%s:%d/", h, (int)port);
		free(h);
	}
	if (arg_int(args, "timeout_ms", cfg->io_timeout_ms, 1,
	    HTTP_MAX_TIMEOUT, &timeout, err) == -1 ||
	    arg_int(args, "expect_status", 0, 0, 599, &expect, err) == -1)
		return -1;
	if (expect != 0 && expect < 100) {
		rpcerr_set(err, RPC_INVALID_PARAMS, "expect_status",
		    "must be an HTTP status, 100 to 599 (0: any 2xx or 3xx)");
		return -1;
	}
	r->timeout_ms = (long)timeout;
	r->expect_status = (long)expect;
	r->max_bytes = 0;
	return 0;
}

/* Build a run from a job's args; NULL with err set. */
static struct http_run *
http_parse(int op, json_t *args, struct rpcerr *err)
{
	struct http_run	*r;
	int		 rc;

	r = http_run_new(op);
	switch (op) {
	case IO_OP_FETCH:
		rc = http_parse_fetch(args, r, err);
		break;
	case IO_OP_DOWNLOAD:
		rc = http_parse_download(args, r, err);
		break;
	case IO_OP_PING:
		rc = http_parse_ping(args, r, err);
		break;
	default:
		fatalx("%s: op %d", __func__, op);
	}
	if (rc == -1) {
		http_run_free(r);
		return NULL;
	}
	http_protocols(r->protos, sizeof r->protos);
	if (r->tcp)
		snprintf(r->protos, sizeof r->protos, "http");
	return r;
}

static int
http_check(struct job *job, json_t *args, struct rpcerr *err)
{
	struct http_run	*r;

	if ((r = http_parse(job->type->op, args, err)) == NULL)
		return -1;
	if (job->data_free != NULL)
		job->data_free(job->data);
	job->data = r;
	job->data_free = http_run_free;
	return 0;
}

/* The blocking pool's side of a download. */

/* Rename the finished file into place; never replace unless asked. */
static int
http_file_rename(struct http_run *r)
{
	if (r->overwrite)
		return renameat(r->dirfd, r->tmp, r->dirfd, r->base);
	if (renameat2(r->dirfd, r->tmp, r->dirfd, r->base,
	    RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system without RENAME_NOREPLACE: link() won't replace. */
	if (linkat(r->dirfd, r->tmp, r->dirfd, r->base, 0) == -1)
		return -1;
	unlinkat(r->dirfd, r->tmp, 0);
	return 0;
}

/* Remove the temporary file and post the completion. */
static void
http_file_abort(void *arg)
{
	struct http_run	*r = arg;

	if (r->fd != -1) {
		close(r->fd);
		r->fd = -1;
	}
	if (r->dirfd != -1) {
		if (unlinkat(r->dirfd, r->tmp, 0) == -1 && errno != ENOENT)
			log_warn("%s: unlink %s", __func__, r->tmp);
		close(r->dirfd);
		r->dirfd = -1;
	}
	io_xfer_complete(r->xfer);
}

/* The transfer got a 2xx: make the file durable, then visible. */
static void
http_file_commit(void *arg)
{
	struct http_run	*r = arg;
	int		 ferr;

	pthread_mutex_lock(&r->lock);
	ferr = r->ferr;
	pthread_mutex_unlock(&r->lock);
	if (ferr != 0) {
		http_fail(r, JOB_FAILED, "io_error", "writing %s: %s", r->path,
		    strerror(ferr));
		goto abort;
	}
	if (io_xfer_cancelled(r->xfer))
		goto abort;
	if (fsync(r->fd) == -1 || close(r->fd) == -1) {
		r->fd = -1;
		http_fail(r, JOB_FAILED, "io_error", "writing %s: %s", r->path,
		    strerror(errno));
		goto abort;
	}
	r->fd = -1;
	if (http_file_rename(r) == -1) {
		if (errno == EEXIST)
			http_fail(r, JOB_FAILED, "exists",
			    "%s exists (overwrite is false)", r->path);
		else
			http_fail(r, JOB_FAILED, "io_error", "renaming to %s: "
			    "%s", r->path, strerror(errno));
		goto abort;
	}
	if (fsync(r->dirfd) == -1)
		log_warn("%s: fsync of the directory of %s", __func__, r->path);
	close(r->dirfd);
	r->dirfd = -1;
	r->saved = 1;
	io_xfer_complete(r->xfer);
	return;

abort:
	http_file_abort(r);
}

/* Before the transfer: check the target again and create the file. */
static void
http_file_open(void *arg)
{
	struct http_run	*r = arg;
	struct stat	 st;
	const char	*base;
	int		 dfd, fd;

	if (io_xfer_cancelled(r->xfer)) {
		http_fail(r, JOB_CANCELLED, "cancelled", "cancelled");
		io_xfer_complete(r->xfer);
		return;
	}
	if ((dfd = http_open_parent(r->dir, r->filename, &base)) == -1) {
		http_fail(r, JOB_FAILED, errno == ELOOP || errno == ENOTDIR ?
		    "forbidden" : "io_error", "%s: %s", r->path,
		    strerror(errno));
		io_xfer_complete(r->xfer);
		return;
	}
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode))
			http_fail(r, JOB_FAILED, "forbidden",
			    "%s is a symlink", r->path);
		else if (!r->overwrite)
			http_fail(r, JOB_FAILED, "exists",
			    "%s exists (overwrite is false)", r->path);
		if (r->fail_code != NULL) {
			close(dfd);
			io_xfer_complete(r->xfer);
			return;
		}
	}
	fd = openat(dfd, r->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0644);
	if (fd == -1) {
		http_fail(r, JOB_FAILED, "io_error", "creating %s in %s: %s",
		    r->tmp, r->dir, strerror(errno));
		close(dfd);
		io_xfer_complete(r->xfer);
		return;
	}
	r->dirfd = dfd;
	r->fd = fd;
	io_xfer_submit(r->xfer);
}

/* Write a chunk; unpause the transfer once the backlog is small. */
static void
http_file_write(void *arg)
{
	struct http_chunk	*c = arg;
	struct http_run		*r = c->r;
	const char		*p = c->data;
	size_t			 left = c->len;
	ssize_t			 n;
	int			 err = 0, failed, resume;

	pthread_mutex_lock(&r->lock);
	failed = r->ferr;
	pthread_mutex_unlock(&r->lock);
	while (!failed && left > 0) {
		if ((n = write(r->fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	pthread_mutex_lock(&r->lock);
	r->buffered -= c->len;
	if (err != 0 && r->ferr == 0)
		r->ferr = err;
	resume = r->paused && (r->buffered <= HTTP_LOW_WATER || r->ferr);
	if (resume)
		r->paused = 0;
	pthread_mutex_unlock(&r->lock);
	free(c);
	if (resume)
		io_xfer_resume(r->xfer);
}

/*
 * Loop thread: take n bytes for the file. 0 taken, 1 too much is
 * buffered (pause), -1 writing failed.
 */
static int
http_sink(struct http_run *r, const char *data, size_t n)
{
	size_t	 k;

	pthread_mutex_lock(&r->lock);
	if (r->ferr != 0) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	if (r->buffered > 0 && r->buffered + n > HTTP_HIGH_WATER) {
		r->paused = 1;
		pthread_mutex_unlock(&r->lock);
		return 1;
	}
	r->buffered += n;
	pthread_mutex_unlock(&r->lock);

	while (n > 0) {
		if (r->cur == NULL) {
			r->cur = xmalloc(sizeof *r->cur);
			r->cur->r = r;
			r->cur->len = 0;
		}
		k = HTTP_CHUNK - r->cur->len;
		if (k > n)
			k = n;
		memcpy(r->cur->data + r->cur->len, data, k);
		r->cur->len += k;
		data += k;
		n -= k;
		if (r->cur->len == HTTP_CHUNK) {
			io_strand_run(r->strand, http_file_write, r->cur);
			r->cur = NULL;
		}
	}
	return 0;
}

/* The loop thread's side. */

static size_t
http_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct http_run	*r = arg;
	size_t		 n = size * nmemb;
	long		 status = 0;
	int		 rc;

	if (r->op == IO_OP_PING) {
		/* A GET after a refused HEAD: the status is all we need. */
		r->ping_cut = 1;
		return 0;
	}
	if (r->bytes + (curl_off_t)n > r->max_bytes) {
		r->too_large = 1;
		return 0;
	}
	if (r->op == IO_OP_DOWNLOAD) {
		if (r->sinking == 0) {
			curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE,
			    &status);
			r->sinking = status / 100 == 2 ? 1 : -1;
		}
		if (r->sinking == 1 && (rc = http_sink(r, ptr, n)) != 0)
			return rc == 1 ? CURL_WRITEFUNC_PAUSE : 0;
	}
	EVP_DigestUpdate(r->md, ptr, n);
	if (r->want_body != HTTP_BODY_NONE) {
		if (r->bodybuflen + n > r->bodybufcap) {
			r->bodybufcap = r->bodybufcap == 0 ? 16384 :
			    r->bodybufcap;
			while (r->bodybuflen + n > r->bodybufcap)
				r->bodybufcap *= 2;
			r->bodybuf = xreallocarray(r->bodybuf, 1,
			    r->bodybufcap);
		}
		memcpy(r->bodybuf + r->bodybuflen, ptr, n);
		r->bodybuflen += n;
	}
	r->bytes += (curl_off_t)n;
	return n;
}

/* Set a reset easy handle up for this run (loop thread). */
static int
http_setup(struct io_xfer *x, void *easy)
{
	struct http_run	*r = io_xfer_arg(x);
	CURL		*e = easy;
	CURLcode	 rc = CURLE_OK;
	long		 connect_ms;

	r->easy = e;
	r->errbuf[0] = '\0';
	r->bytes = 0;
	r->too_large = 0;
	r->ping_cut = 0;
	r->sinking = 0;
	r->bodybuflen = 0;
	if (EVP_DigestInit_ex(r->md, EVP_sha256(), NULL) != 1) {
		http_fail(r, JOB_FAILED, "internal", "cannot start SHA-256");
		return -1;
	}
	connect_ms = r->timeout_ms < HTTP_CONNECT_MS ? r->timeout_ms :
	    HTTP_CONNECT_MS;

	rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
	rc |= curl_easy_setopt(e, CURLOPT_URL, r->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, r->protos);
	rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, r->protos);
#else
	rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS,
	    (strstr(r->protos, "http") != NULL &&
	    strcmp(r->protos, "https") != 0 ? CURLPROTO_HTTP : 0L) |
	    (strstr(r->protos, "https") != NULL ? CURLPROTO_HTTPS : 0L));
	rc |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS,
	    (strstr(r->protos, "http") != NULL &&
	    strcmp(r->protos, "https") != 0 ? CURLPROTO_HTTP : 0L) |
	    (strstr(r->protos, "https") != NULL ? CURLPROTO_HTTPS : 0L));
#endif
	rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	rc |= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	if (r->min_speed_s > 0) {
		rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT,
		    r->min_speed);
		rc |= curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
		    r->min_speed_s);
	}
	if (r->tcp) {
		/* A fresh TCP connection, closed right after. */
		rc |= curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
		rc |= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
		rc |= curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
		goto out;
	}
	rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, http_write);
	rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, (long)r->follow);
	rc |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRS);
	if (r->headers != NULL)
		rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (r->max_bytes > 0)
		rc |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
		    r->max_bytes);
	switch (r->method) {
	case HTTP_HEAD:
		if (!r->ping_get)
			rc |= curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
		break;
	case HTTP_POST:
		rc |= curl_easy_setopt(e, CURLOPT_POST, 1L);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)r->bodylen);
		rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDS,
		    r->body != NULL ? r->body : "");
		break;
	case HTTP_GET:
		break;
	}
out:
	if (rc != CURLE_OK) {
		http_fail(r, JOB_FAILED, "internal",
		    "cannot set the transfer up: %s", curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

/* The stable error.code word for a failed transfer. */
static const char *
http_errcode(CURLcode code, int redirected)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return "dns_failed";
	case CURLE_COULDNT_CONNECT:
		return "connect_failed";
	case CURLE_OPERATION_TIMEDOUT:
		return "timeout";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return "tls_failed";
	case CURLE_FILESIZE_EXCEEDED:
		return "too_large";
	case CURLE_WRITE_ERROR:
		return "io_error";
	case CURLE_TOO_MANY_REDIRECTS:
		return "too_many_redirects";
	case CURLE_UNSUPPORTED_PROTOCOL:
		/* check() allowed the first URL: a redirect left the list. */
		return redirected ? "redirect_forbidden" : "protocol_error";
	case CURLE_GOT_NOTHING:
		return "empty_reply";
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return "connection_error";
	case CURLE_PARTIAL_FILE:
		return "truncated";
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_RANGE_ERROR:
	case CURLE_HTTP_RETURNED_ERROR:
		return "protocol_error";
	case CURLE_URL_MALFORMAT:
		return "bad_url";
	case CURLE_ABORTED_BY_CALLBACK:
		return "cancelled";
	case CURLE_OUT_OF_MEMORY:
		return "internal";
	default:
		return "transfer_failed";
	}
}

/* Read what curl knows about the finished transfer. */
static void
http_collect(struct http_run *r, CURL *e)
{
	char	*s;

	r->status = 0;
	r->version = 0;
	r->redirects = 0;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &r->version);
	curl_easy_getinfo(e, CURLINFO_REDIRECT_COUNT, &r->redirects);
	free(r->ctype);
	free(r->effurl);
	s = NULL;
	curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &s);
	r->ctype = s != NULL ? xstrdup(s) : NULL;
	s = NULL;
	curl_easy_getinfo(e, CURLINFO_EFFECTIVE_URL, &s);
	r->effurl = s != NULL ? xstrdup(s) : NULL;
	r->t_dns = r->t_connect = r->t_tls = r->t_ttfb = r->t_total = 0;
	curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &r->t_dns);
	curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &r->t_connect);
	curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &r->t_tls);
	curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &r->t_ttfb);
	curl_easy_getinfo(e, CURLINFO_TOTAL_TIME_T, &r->t_total);
}

/* Record a curl failure with its stable code and curl's own words. */
static void
http_fail_curl(struct http_run *r, CURLcode code, int ferr)
{
	const char	*word, *msg;
	int		 redirected;

	redirected = r->redirects > 0 || (r->effurl != NULL &&
	    strcmp(r->effurl, r->url) != 0);
	msg = r->errbuf[0] != '\0' ? r->errbuf : curl_easy_strerror(code);
	if (code == CURLE_WRITE_ERROR && r->too_large) {
		http_fail(r, JOB_FAILED, "too_large",
		    "the body is larger than max_bytes (%lld)",
		    (long long)r->max_bytes);
		return;
	}
	if (code == CURLE_WRITE_ERROR && ferr != 0) {
		http_fail(r, JOB_FAILED, "io_error", "writing %s: %s",
		    r->path, strerror(ferr));
		return;
	}
	word = http_errcode(code, redirected);
	if (code == CURLE_FILESIZE_EXCEEDED)
		msg = "the body is larger than max_bytes";
	http_fail(r, strcmp(word, "timeout") == 0 ? JOB_TIMEOUT : JOB_FAILED,
	    word, "%s", msg);
}

/* Hand the end of a download to the pool; IO_LATER if it has a file. */
static int
http_end_file(struct http_run *r, int keep)
{
	if (r->strand == NULL || r->dirfd == -1)
		return IO_COMPLETE;
	if (keep && r->cur != NULL) {
		io_strand_run(r->strand, http_file_write, r->cur);
		r->cur = NULL;
	}
	io_strand_run(r->strand, keep ? http_file_commit : http_file_abort, r);
	return IO_LATER;
}

/* The transfer ended (loop thread). */
static int
http_done(struct io_xfer *x, void *easy, int code)
{
	struct http_run	*r = io_xfer_arg(x);
	int		 ferr;

	if (easy == NULL) {
		if (code == IO_CODE_CANCELLED)
			http_fail(r, JOB_CANCELLED, "cancelled", "cancelled");
		else
			http_fail(r, JOB_FAILED, "internal",
			    "cannot start the transfer");
		return http_end_file(r, 0);
	}
	r->easy = NULL;
	http_collect(r, easy);
	if (r->op == IO_OP_PING && !r->tcp && !r->ping_get &&
	    code == CURLE_OK && (r->status == 405 || r->status == 501)) {
		r->ping_get = 1;
		return IO_AGAIN;
	}
	if (r->ping_cut && code == CURLE_WRITE_ERROR)
		code = CURLE_OK;
	pthread_mutex_lock(&r->lock);
	ferr = r->ferr;
	pthread_mutex_unlock(&r->lock);
	if (ferr != 0 && code == CURLE_OK)
		code = CURLE_WRITE_ERROR;
	if (code != CURLE_OK)
		http_fail_curl(r, (CURLcode)code, ferr);
	else if (EVP_DigestFinal_ex(r->md, r->sha, NULL) != 1)
		http_fail(r, JOB_FAILED, "internal", "SHA-256 failed");
	if (r->op == IO_OP_DOWNLOAD)
		return http_end_file(r, r->fail_code == NULL &&
		    r->status / 100 == 2);
	return IO_COMPLETE | (r->tcp ? IO_DISCARD : 0);
}

/* Results, on the main thread. */

static json_t *
http_str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

/* Microseconds to milliseconds, as a number with 3 decimals. */
static json_t *
http_ms(curl_off_t us)
{
	return json_real(us > 0 ? (double)us / 1000.0 : 0.0);
}

static const char *
http_version_name(long v)
{
	switch (v) {
	case CURL_HTTP_VERSION_1_0:
		return "1.0";
	case CURL_HTTP_VERSION_1_1:
		return "1.1";
	case CURL_HTTP_VERSION_2_0:
		return "2";
#if LIBCURL_VERSION_NUM >= 0x074200
	case CURL_HTTP_VERSION_3:
		return "3";
#endif
	default:
		return NULL;
	}
}

/* The body as asked: text when it is valid UTF-8, else base64. */
static void
http_result_body(struct http_run *r, json_t *res)
{
	const unsigned char	*in = (const unsigned char *)r->bodybuf;
	unsigned char		*out;
	size_t			 len = r->bodybuflen, off, n, o;
	json_t			*text = NULL;

	if (r->want_body == HTTP_BODY_TEXT) {
		text = json_stringn(len > 0 ? r->bodybuf : "", len);
		if (text != NULL) {
			json_object_set_new(res, "body", text);
			json_object_set_new(res, "body_encoding",
			    json_string("text"));
			return;
		}
	}
	/* EVP_EncodeBlock takes an int: encode in whole 3-byte groups. */
	out = xmalloc(4 * ((len + 2) / 3) + 1);
	for (off = 0, o = 0; off < len; off += n) {
		n = len - off > 3 * 1024 * 1024 ? 3 * 1024 * 1024 : len - off;
		o += (size_t)EVP_EncodeBlock(out + o, in + off, (int)n);
	}
	out[o] = '\0';
	json_object_set_new(res, "body", json_stringn((char *)out, o));
	json_object_set_new(res, "body_encoding", json_string("base64"));
	free(out);
}

/* fetch and download results. */
static json_t *
http_result(struct http_run *r)
{
	static const char digits[] = "0123456789abcdef";
	json_t		*res, *t;
	char		 hex[65];
	curl_off_t	 connect, tls;
	int		 i;

	for (i = 0; i < 32; i++) {
		hex[2 * i] = digits[r->sha[i] >> 4];
		hex[2 * i + 1] = digits[r->sha[i] & 0xf];
	}
	hex[64] = '\0';
	connect = r->t_connect > r->t_dns ? r->t_connect - r->t_dns : 0;
	tls = r->t_tls > r->t_connect ? r->t_tls - r->t_connect : 0;
	t = json_object();
	json_object_set_new(t, "dns", http_ms(r->t_dns));
	json_object_set_new(t, "connect", http_ms(connect));
	json_object_set_new(t, "tls", http_ms(tls));
	json_object_set_new(t, "ttfb", http_ms(r->t_ttfb));
	json_object_set_new(t, "total", http_ms(r->t_total));

	res = json_object();
	json_object_set_new(res, "status", json_integer(r->status));
	json_object_set_new(res, "http_version",
	    http_str_or_null(http_version_name(r->version)));
	json_object_set_new(res, "bytes", json_integer(r->bytes));
	json_object_set_new(res, "content_type", http_str_or_null(r->ctype));
	json_object_set_new(res, "effective_url", http_str_or_null(r->effurl));
	json_object_set_new(res, "redirects", json_integer(r->redirects));
	json_object_set_new(res, "sha256", json_string(hex));
	json_object_set_new(res, "time_ms", t);
	if (r->want_body != HTTP_BODY_NONE)
		http_result_body(r, res);
	if (r->op == IO_OP_DOWNLOAD && r->saved)
		json_object_set_new(res, "path", json_string(r->path));
	return res;
}

/* A ping's result: down is an answer too, never a failed job. */
static json_t *
http_ping_result(struct http_run *r)
{
	json_t		*res;
	curl_off_t	 lat;
	int		 up;
	char		 msg[64];

	if (r->fail_code == NULL && !r->tcp) {
		if (r->expect_status != 0 ? r->status != r->expect_status :
		    r->status < 200 || r->status > 399) {
			snprintf(msg, sizeof msg, "HTTP status %ld", r->status);
			http_fail(r, JOB_DONE, "bad_status", "%s", msg);
		}
	}
	up = r->fail_code == NULL;
	if (r->tcp)
		lat = up ? r->t_connect : r->t_total;
	else
		lat = r->status != 0 ? r->t_ttfb : r->t_total;
	res = json_object();
	json_object_set_new(res, "up", json_boolean(up));
	json_object_set_new(res, "latency_ms", http_ms(lat));
	if (!r->tcp && r->status != 0)
		json_object_set_new(res, "status", json_integer(r->status));
	if (!up)
		json_object_set_new(res, "error", json_pack("{s:s, s:s}",
		    "code", r->fail_code, "message", r->fail_msg));
	return res;
}

/* The run is over: finish its job (main thread). */
static void
http_finish(struct io_xfer *x, struct job *job)
{
	struct http_run	*r = io_xfer_arg(x);

	if (r->op == IO_OP_PING && r->fail_state != JOB_CANCELLED &&
	    (r->fail_code == NULL || strcmp(r->fail_code, "internal") != 0))
		job_finish(job, JOB_DONE, http_ping_result(r), NULL, NULL);
	else if (r->fail_code != NULL)
		job_finish(job, r->fail_state, NULL, r->fail_code, "%s",
		    r->fail_msg);
	else
		job_finish(job, JOB_DONE, http_result(r), NULL, NULL);
}

static const struct io_ops http_ops = {
	.setup = http_setup,
	.done = http_done,
	.finish = http_finish,
	.free = http_run_free,
};

void
http_start(struct io_xfer *x, struct job *job)
{
	struct http_run	*r;
	struct rpcerr	 err;

	/* The run check() prepared; a job replayed from its args has none. */
	if ((r = job->data) != NULL && job->data_free == http_run_free) {
		job->data = NULL;
		job->data_free = NULL;
	} else if ((r = http_parse(job->type->op, job->args, &err)) == NULL) {
		r = http_run_new(job->type->op);
		http_fail(r, JOB_FAILED, "bad_args", "%s", err.reason);
	}
	io_xfer_set(x, &http_ops, r);
	r->xfer = x;
	snprintf(r->jobid, sizeof r->jobid, "%s", job->id);
	if ((r->md = EVP_MD_CTX_new()) == NULL)
		http_fail(r, JOB_FAILED, "internal", "out of memory");
	if (r->fail_code != NULL) {
		io_xfer_complete(x);
		return;
	}
	if (r->op == IO_OP_DOWNLOAD) {
		xasprintf(&r->tmp, ".%s.jobd-%s.part", r->base, r->jobid);
		r->strand = io_strand_new();
		io_strand_run(r->strand, http_file_open, r);
		return;
	}
	io_xfer_submit(x);
}

static const struct jobtype http_types[] = {
	{
		.name = "fetch",
		.class = CLASS_IO,
		.classes = 1 << CLASS_IO,
		.idempotent = 0,
		.check = http_check,
		.op = IO_OP_FETCH,
		.args_doc = "{"
		    "\"url\": \"http or https URL (required)\", "
		    "\"method\": \"GET (default), HEAD or POST\", "
		    "\"headers\": \"object of request headers, name: value\", "
		    "\"body\": \"request body (string), with POST\", "
		    "\"timeout_ms\": \"whole transfer, default "
		    "io.timeout_ms\", "
		    "\"max_bytes\": \"body size limit, default and at most "
		    "io.max_bytes\", "
		    "\"follow_redirects\": \"bool, default true (at most "
		    "10)\", "
		    "\"body_in_result\": \"none (default), text (base64 if "
		    "not UTF-8) or base64\", "
		    "\"min_speed\": \"bytes/s under which a transfer stalls, "
		    "default 1, 0 = never\", "
		    "\"min_speed_ms\": \"how long under min_speed before it "
		    "fails, default 30000\"}",
	},
	{
		.name = "download",
		.class = CLASS_IO,
		.classes = 1 << CLASS_IO,
		.idempotent = 0,
		.check = http_check,
		.op = IO_OP_DOWNLOAD,
		.args_doc = "{"
		    "\"url\": \"http or https URL (required)\", "
		    "\"filename\": \"relative path inside io.download_dir "
		    "(required)\", "
		    "\"overwrite\": \"bool, default false\", "
		    "\"headers\": \"object of request headers\", "
		    "\"timeout_ms\": \"whole transfer, default "
		    "io.timeout_ms\", "
		    "\"max_bytes\": \"size limit, default io.max_bytes\", "
		    "\"follow_redirects\": \"bool, default true\", "
		    "\"min_speed\": \"bytes/s, default 1\", "
		    "\"min_speed_ms\": \"default 30000\"}",
	},
	{
		.name = "ping",
		.class = CLASS_IO,
		.classes = 1 << CLASS_IO,
		.idempotent = 1,
		.check = http_check,
		.op = IO_OP_PING,
		.args_doc = "{"
		    "\"url\": \"http or https URL: HEAD, GET if HEAD is "
		    "refused (405/501)\", "
		    "\"host\": \"TCP connect to host:port instead of url\", "
		    "\"port\": \"1 to 65535, with host\", "
		    "\"timeout_ms\": \"default io.timeout_ms\", "
		    "\"expect_status\": \"the status that means up; default 0: "
		    "any 2xx or 3xx\"}",
	},
};

void
http_init(void)
{
	size_t	 i;

	for (i = 0; i < nitems(http_types); i++)
		sched_register(&http_types[i]);
}

const struct jobtype *
http_test_type(const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(http_types); i++) {
		if (strcmp(http_types[i].name, name) == 0)
			return &http_types[i];
	}
	return NULL;
}

const char *
http_test_errcode(int code, int redirected)
{
	return http_errcode((CURLcode)code, redirected);
}
