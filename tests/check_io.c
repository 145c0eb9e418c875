/*
 * The I/O engine: unit tests of the http.c argument checks and error
 * mapping, then fetch, download, ping and sleep through the real daemon
 * against the loopback test server (httpd.c).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "harness.h"
#include "httpd.h"

static struct harness	*h;
static int		 port;
static char		 urlbuf[4][256];
static int		 urlnext;

/* A URL on the test server (a few stay valid at once). */
static const char *
url(const char *path)
{
	char	*b = urlbuf[urlnext++ % 4];

	snprintf(b, sizeof urlbuf[0], "http://127.0.0.1:%d%s", port, path);
	return b;
}

static void
sha_hex(const void *data, size_t len, char out[65])
{
	unsigned char	 md[32];
	unsigned int	 n = 0;
	int		 i;

	ck_assert_int_eq(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(n, 32);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The /bytes?n=N body. */
static unsigned char *
bytes_body(size_t n)
{
	unsigned char	*b = malloc(n + 1);
	size_t		 i;

	ck_assert_ptr_nonnull(b);
	for (i = 0; i < n; i++)
		b[i] = httpd_byte(i);
	return b;
}

/* A port nothing listens on: bind one, close it. */
static int
dead_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 s, p;

	s = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(s, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&sin, &len), 0);
	p = ntohs(sin.sin_port);
	close(s);
	return p;
}

static const char *
rec_state(json_t *rec)
{
	const char	*s = json_string_value(json_object_get(rec, "state"));

	ck_assert_ptr_nonnull(s);
	return s;
}

static const char *
rec_code(json_t *rec)
{
	const char	*s = json_string_value(json_object_get(
	    json_object_get(rec, "error"), "code"));

	ck_assert_msg(s != NULL, "no error.code in %s",
	    json_dumps(rec, JSON_COMPACT));
	return s;
}

static json_t *
rec_result(json_t *rec)
{
	json_t	*r = json_object_get(rec, "result");

	ck_assert_msg(r != NULL && strcmp(rec_state(rec), "done") == 0,
	    "not done: %s", json_dumps(rec, JSON_COMPACT));
	return r;
}

static json_int_t
res_int(json_t *res, const char *key)
{
	json_t	*v = json_object_get(res, key);

	ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static const char *
res_str(json_t *res, const char *key)
{
	json_t	*v = json_object_get(res, key);

	ck_assert_msg(json_is_string(v), "%s is not a string in %s", key,
	    json_dumps(res, JSON_COMPACT));
	return json_string_value(v);
}

/* Submit and return the error code of the refusal (0 if accepted). */
static int
submit_code(const char *type, json_t *args)
{
	json_t	*r;
	int	 code = 0;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:o, s:b}",
	    "type", type, "args", args, "wait", 1));
	if (json_object_get(r, "error") != NULL)
		code = harness_err(r);
	json_decref(r);
	return code;
}

/* Submit without waiting; returns the job id (malloc'ed). */
static char *
submit_async(const char *type, json_t *args)
{
	json_t	*r;
	char	*id;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:o}",
	    "type", type, "args", args));
	id = xstrdup(json_string_value(json_object_get(harness_ok(r), "id")));
	json_decref(r);
	return id;
}

static json_t *
wait_job(const char *id)
{
	json_t	*r, *rec;

	r = harness_call(h, "job.wait", json_pack("{s:s, s:i}", "id", id,
	    "timeout_ms", TEST_TIMEOUT_MS));
	rec = json_incref(harness_ok(r));
	json_decref(r);
	ck_assert_msg(job_state_parse(rec_state(rec)) >= JOB_DONE,
	    "job %s did not finish", id);
	return rec;
}

static json_t *
io_status(void)
{
	json_t	*r, *io;

	r = harness_call(h, "daemon.status", json_object());
	io = json_object_get(json_object_get(harness_ok(r), "pools"), "io");
	ck_assert_msg(io != NULL, "no pools.io in daemon.status");
	json_incref(io);
	json_decref(r);
	return io;
}

/* Files in the download directory, with ".part" ones counted apart. */
static int
dl_count(int *parts)
{
	char		 path[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	*parts = 0;
	snprintf(path, sizeof path, "%s/downloads", harness_dir(h));
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    strcmp(de->d_name, "..") == 0))
			continue;
		n++;
		if (strstr(de->d_name, ".part") != NULL)
			(*parts)++;
	}
	closedir(d);
	return n;
}

static char *
dl_read(const char *name, size_t *lenp)
{
	char		 path[PATH_MAX];
	struct stat	 st;
	char		*buf;
	int		 fd;

	snprintf(path, sizeof path, "%s/downloads/%s", harness_dir(h), name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = malloc((size_t)st.st_size + 1);
	ck_assert_int_eq(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*lenp = (size_t)st.st_size;
	return buf;
}

static void
start_with(const char *const *extra)
{
	port = httpd_start();
	h = harness_start(extra);
}

static void
setup(void)
{
	static const char *const args[] = { "-o", "io.threads=2",
	    "-o", "cpu.workers=1", NULL };

	start_with(args);
}

static void
teardown(void)
{
	int	 status;

	status = harness_stop(h);
	h = NULL;
	httpd_stop();
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "jobd exited with status %d", status);
}

/* Unit tests of http.c, in process. */

static struct config	 unit_cfg;
static char		 unit_dir[64];

static void
unit_setup(void)
{
	char	 path[128];

	config_defaults(&unit_cfg);
	cfg = &unit_cfg;
	snprintf(unit_dir, sizeof unit_dir, "/tmp/jobd-io-unit.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(unit_dir));
	free(cfg->download_dir);
	cfg->download_dir = xstrdup(unit_dir);
	snprintf(path, sizeof path, "%s/sub", unit_dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/esc", unit_dir);
	ck_assert_int_eq(symlink("/tmp", path), 0);
	snprintf(path, sizeof path, "%s/link", unit_dir);
	ck_assert_int_eq(symlink("/tmp/whatever", path), 0);
	snprintf(path, sizeof path, "%s/adir", unit_dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static void
unit_teardown(void)
{
	char	 cmd[128];
	int	 st;

	snprintf(cmd, sizeof cmd, "rm -rf %s", unit_dir);
	free(harness_sh(cmd, &st));
	config_free(&unit_cfg);
	cfg = NULL;
}

/* Run a type's check() on args (JSON text); the rpc error code or 0. */
static int
unit_check(const char *type, const char *text, json_t **argsp)
{
	const struct jobtype	*t = http_test_type(type);
	struct job		 job;
	struct rpcerr		 err;
	json_error_t		 jerr;
	json_t			*args;
	int			 rc;

	ck_assert_ptr_nonnull(t);
	args = json_loads(text, JSON_ALLOW_NUL, &jerr);
	ck_assert_msg(args != NULL, "bad test JSON %s: %s", text, jerr.text);
	memset(&job, 0, sizeof job);
	memset(&err, 0, sizeof err);
	job.type = t;
	job.args = args;
	rc = t->check(&job, args, &err);
	if (rc == 0) {
		ck_assert_ptr_nonnull(job.data);
		ck_assert_ptr_nonnull(job.data_free);
		job.data_free(job.data);
	} else
		ck_assert_int_ne(err.code, 0);
	if (argsp != NULL)
		*argsp = args;
	else
		json_decref(args);
	return rc == 0 ? 0 : err.code;
}

START_TEST(t_unit_fetch_args)
{
	static const struct {
		const char	*args;
		int		 code;
	} cases[] = {
		{ "{\"url\": \"http://127.0.0.1/\"}", 0 },
		{ "{\"url\": \"https://example.invalid/a?b=c\"}", 0 },
		{ "{\"url\": \"HTTP://127.0.0.1/\"}", 0 },
		{ "{}", RPC_INVALID_PARAMS },
		{ "{\"url\": 5}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"not a url\"}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://\"}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://a\\u0000b/\"}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"ftp://127.0.0.1/\"}", RPC_FORBIDDEN },
		{ "{\"url\": \"file:///etc/passwd\"}", RPC_FORBIDDEN },
		{ "{\"url\": \"gopher://127.0.0.1/\"}", RPC_FORBIDDEN },
		{ "{\"url\": \"http://x/\", \"bogus\": 1}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"method\": \"PUT\"}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"method\": \"HEAD\"}", 0 },
		{ "{\"url\": \"http://x/\", \"method\": \"POST\", "
		    "\"body\": \"a\\u0000b\"}", 0 },
		{ "{\"url\": \"http://x/\", \"body\": \"x\"}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"method\": \"POST\", "
		    "\"body\": 3}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X-A\": \"b\"}}",
		    0 },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X-A\": \"\"}}", 0 },
		{ "{\"url\": \"http://x/\", \"headers\": "
		    "{\"X-A\": \"b\\r\\nX-Evil: 1\"}}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X-A\": \"b\\n\"}}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": "
		    "{\"X-A\": \"b\\u0000c\"}}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X A\": \"b\"}}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X:A\": \"b\"}}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"\": \"b\"}}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": "
		    "{\"X\\r\\nY\": \"b\"}}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": {\"X-A\": 1}}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"headers\": [\"X-A: b\"]}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"timeout_ms\": 0}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"max_bytes\": -1}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"max_bytes\": 1099511627776}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"follow_redirects\": \"yes\"}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"body_in_result\": \"hex\"}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"body_in_result\": \"base64\"}",
		    0 },
	};
	size_t	 i;

	for (i = 0; i < nitems(cases); i++)
		ck_assert_msg(unit_check("fetch", cases[i].args, NULL) ==
		    cases[i].code, "fetch %s: expected %d", cases[i].args,
		    cases[i].code);
}
END_TEST

START_TEST(t_unit_fetch_defaults)
{
	json_t	*args;

	ck_assert_int_eq(unit_check("fetch", "{\"url\": \"http://x/\"}",
	    &args), 0);
	/* Defaults are written back so the args replay. */
	ck_assert_str_eq(json_string_value(json_object_get(args, "method")),
	    "GET");
	ck_assert_int_eq(json_integer_value(json_object_get(args,
	    "timeout_ms")), cfg->io_timeout_ms);
	ck_assert_int_eq(json_integer_value(json_object_get(args,
	    "max_bytes")), cfg->io_max_bytes);
	ck_assert(json_is_true(json_object_get(args, "follow_redirects")));
	ck_assert_str_eq(json_string_value(json_object_get(args,
	    "body_in_result")), "none");
	json_decref(args);
}
END_TEST

START_TEST(t_unit_schemes)
{
	free(cfg->allowed_schemes);
	cfg->allowed_schemes = xstrdup("https");
	ck_assert_int_eq(unit_check("fetch", "{\"url\": \"http://x/\"}", NULL),
	    RPC_FORBIDDEN);
	ck_assert_int_eq(unit_check("fetch", "{\"url\": \"https://x/\"}",
	    NULL), 0);
	ck_assert_int_eq(unit_check("ping", "{\"url\": \"http://x/\"}", NULL),
	    RPC_FORBIDDEN);
	ck_assert_int_eq(unit_check("download", "{\"url\": \"http://x/\", "
	    "\"filename\": \"a\"}", NULL), RPC_FORBIDDEN);
}
END_TEST

START_TEST(t_unit_download_args)
{
	static const struct {
		const char	*filename;
		int		 code;
	} cases[] = {
		{ "\"file.bin\"", 0 },
		{ "\"sub/file.bin\"", 0 },
		{ "\"..hidden\"", 0 },
		{ "\"../x\"", RPC_FORBIDDEN },
		{ "\"sub/../../x\"", RPC_FORBIDDEN },
		{ "\"..\"", RPC_FORBIDDEN },
		{ "\"/etc/passwd\"", RPC_FORBIDDEN },
		{ "\"esc/x\"", RPC_FORBIDDEN },		/* symlink to /tmp */
		{ "\"link\"", RPC_FORBIDDEN },		/* symlink itself */
		{ "\"adir\"", RPC_INVALID_PARAMS },	/* a directory */
		{ "\"nodir/x\"", RPC_INVALID_PARAMS },
		{ "\"\"", RPC_INVALID_PARAMS },
		{ "\"a//b\"", RPC_INVALID_PARAMS },
		{ "\"sub/\"", RPC_INVALID_PARAMS },
		{ "\"./x\"", RPC_INVALID_PARAMS },
		{ "\"a\\u0000b\"", RPC_INVALID_PARAMS },
		{ "\"a\\nb\"", RPC_INVALID_PARAMS },
		{ "5", RPC_INVALID_PARAMS },
	};
	char	 text[256];
	size_t	 i;

	for (i = 0; i < nitems(cases); i++) {
		snprintf(text, sizeof text, "{\"url\": \"http://x/\", "
		    "\"filename\": %s}", cases[i].filename);
		ck_assert_msg(unit_check("download", text, NULL) ==
		    cases[i].code, "download %s: expected %d",
		    cases[i].filename, cases[i].code);
	}
	ck_assert_int_eq(unit_check("download", "{\"url\": \"http://x/\"}",
	    NULL), RPC_INVALID_PARAMS);
	/* No usable download directory: refused by policy. */
	free(cfg->download_dir);
	cfg->download_dir = xstrdup("/nonexistent/jobd-downloads");
	ck_assert_int_eq(unit_check("download", "{\"url\": \"http://x/\", "
	    "\"filename\": \"a\"}", NULL), RPC_FORBIDDEN);
	ck_assert_int_eq(unit_check("download", "{\"url\": \"http://x/\", "
	    "\"filename\": \"a\", \"method\": \"POST\"}", NULL),
	    RPC_INVALID_PARAMS);
}
END_TEST

START_TEST(t_unit_ping_args)
{
	static const struct {
		const char	*args;
		int		 code;
	} cases[] = {
		{ "{\"url\": \"http://127.0.0.1/\"}", 0 },
		{ "{\"host\": \"127.0.0.1\", \"port\": 80}", 0 },
		{ "{\"host\": \"::1\", \"port\": 80}", 0 },
		{ "{\"host\": \"example.invalid\", \"port\": 443}", 0 },
		{ "{\"host\": \"127.0.0.1\"}", RPC_INVALID_PARAMS },
		{ "{\"host\": \"127.0.0.1\", \"port\": 0}",
		    RPC_INVALID_PARAMS },
		{ "{\"host\": \"127.0.0.1\", \"port\": 65536}",
		    RPC_INVALID_PARAMS },
		{ "{\"host\": \"a b\", \"port\": 80}", RPC_INVALID_PARAMS },
		{ "{\"host\": \"a/b\", \"port\": 80}", RPC_INVALID_PARAMS },
		{ "{\"host\": \"\", \"port\": 80}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"host\": \"x\", \"port\": 1}",
		    RPC_INVALID_PARAMS },
		{ "{}", RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"expect_status\": 204}", 0 },
		{ "{\"url\": \"http://x/\", \"expect_status\": 42}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"http://x/\", \"expect_status\": 600}",
		    RPC_INVALID_PARAMS },
		{ "{\"url\": \"ftp://x/\"}", RPC_FORBIDDEN },
	};
	size_t	 i;

	for (i = 0; i < nitems(cases); i++)
		ck_assert_msg(unit_check("ping", cases[i].args, NULL) ==
		    cases[i].code, "ping %s: expected %d", cases[i].args,
		    cases[i].code);
}
END_TEST

START_TEST(t_unit_errcode)
{
	static const struct {
		int		 code;
		int		 redirected;
		const char	*word;
	} cases[] = {
		{ CURLE_COULDNT_CONNECT, 0, "connect_failed" },
		{ CURLE_COULDNT_RESOLVE_HOST, 0, "dns_failed" },
		{ CURLE_OPERATION_TIMEDOUT, 0, "timeout" },
		{ CURLE_SSL_CONNECT_ERROR, 0, "tls_failed" },
		{ CURLE_PEER_FAILED_VERIFICATION, 0, "tls_failed" },
		{ CURLE_FILESIZE_EXCEEDED, 0, "too_large" },
		{ CURLE_WRITE_ERROR, 0, "io_error" },
		{ CURLE_TOO_MANY_REDIRECTS, 1, "too_many_redirects" },
		{ CURLE_UNSUPPORTED_PROTOCOL, 1, "redirect_forbidden" },
		{ CURLE_UNSUPPORTED_PROTOCOL, 0, "protocol_error" },
		{ CURLE_WEIRD_SERVER_REPLY, 0, "protocol_error" },
		{ CURLE_GOT_NOTHING, 0, "empty_reply" },
		{ CURLE_RECV_ERROR, 0, "connection_error" },
		{ CURLE_PARTIAL_FILE, 0, "truncated" },
		{ CURLE_FAILED_INIT, 0, "transfer_failed" },
	};
	size_t	 i;

	for (i = 0; i < nitems(cases); i++)
		ck_assert_str_eq(http_test_errcode(cases[i].code,
		    cases[i].redirected), cases[i].word);
}
END_TEST

/* fetch through the daemon. */

START_TEST(t_fetch_fixed)
{
	json_t		*rec, *res, *t;
	char		 hex[65];
	const char	*k;
	size_t		 i;

	rec = harness_run(h, "fetch", json_pack("{s:s}", "url",
	    url("/fixed")));
	res = rec_result(rec);
	sha_hex(HTTPD_FIXED_BODY, strlen(HTTPD_FIXED_BODY), hex);
	ck_assert_int_eq(res_int(res, "status"), 200);
	ck_assert_str_eq(res_str(res, "http_version"), "1.1");
	ck_assert_int_eq(res_int(res, "bytes"), strlen(HTTPD_FIXED_BODY));
	ck_assert_str_eq(res_str(res, "sha256"), hex);
	ck_assert_str_eq(res_str(res, "content_type"),
	    "text/plain; charset=utf-8");
	ck_assert_str_eq(res_str(res, "effective_url"), url("/fixed"));
	ck_assert_int_eq(res_int(res, "redirects"), 0);
	ck_assert_ptr_null(json_object_get(res, "body"));
	t = json_object_get(res, "time_ms");
	ck_assert(json_is_object(t));
	for (i = 0; i < 5; i++) {
		k = (const char *[]){ "dns", "connect", "tls", "ttfb",
		    "total" }[i];
		ck_assert_msg(json_is_number(json_object_get(t, k)) &&
		    json_number_value(json_object_get(t, k)) >= 0, "time_ms.%s",
		    k);
	}
	ck_assert(json_number_value(json_object_get(t, "total")) >=
	    json_number_value(json_object_get(t, "ttfb")));
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_bytes_sha)
{
	static const size_t sizes[] = { 0, 1, 16383, 16384, 65537, 1000000 };
	unsigned char	*body;
	json_t		*rec, *res;
	char		 hex[65], path[64];
	size_t		 i;

	for (i = 0; i < nitems(sizes); i++) {
		snprintf(path, sizeof path, "/bytes?n=%zu", sizes[i]);
		rec = harness_run(h, "fetch", json_pack("{s:s}", "url",
		    url(path)));
		res = rec_result(rec);
		body = bytes_body(sizes[i]);
		sha_hex(body, sizes[i], hex);
		ck_assert_int_eq(res_int(res, "bytes"), sizes[i]);
		ck_assert_str_eq(res_str(res, "sha256"), hex);
		free(body);
		json_decref(rec);
	}
}
END_TEST

START_TEST(t_fetch_head)
{
	json_t	*rec, *res;
	char	 hex[65];

	rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
	    url("/fixed"), "method", "HEAD"));
	res = rec_result(rec);
	sha_hex("", 0, hex);
	ck_assert_int_eq(res_int(res, "status"), 200);
	ck_assert_int_eq(res_int(res, "bytes"), 0);
	ck_assert_str_eq(res_str(res, "sha256"), hex);
	ck_assert_int_eq(httpd_hits("/fixed"), 1);
	json_decref(rec);
}
END_TEST

/* POST with headers and a body, as /echo saw it. */
START_TEST(t_fetch_post_echo)
{
	json_t		*rec, *res, *echo, *hdrs;
	json_error_t	 jerr;

	rec = harness_run(h, "fetch", json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, "
	    "s:s}", "url", url("/echo?x=1"), "method", "POST", "body",
	    "payload \xc3\xa9", "headers", "X-Test", "hello world",
	    "X-Empty", "", "body_in_result", "text"));
	res = rec_result(rec);
	ck_assert_int_eq(res_int(res, "status"), 200);
	ck_assert_str_eq(res_str(res, "body_encoding"), "text");
	echo = json_loads(res_str(res, "body"), 0, &jerr);
	ck_assert_msg(echo != NULL, "echo: %s", jerr.text);
	ck_assert_str_eq(res_str(echo, "method"), "POST");
	ck_assert_str_eq(res_str(echo, "uri"), "/echo?x=1");
	ck_assert_str_eq(res_str(echo, "body"), "payload \xc3\xa9");
	hdrs = json_object_get(echo, "headers");
	ck_assert_str_eq(res_str(hdrs, "X-Test"), "hello world");
	ck_assert_str_eq(res_str(hdrs, "X-Empty"), "");
	ck_assert_str_eq(res_str(hdrs, "User-Agent"), "jobd/" PACKAGE_VERSION);
	json_decref(echo);
	json_decref(rec);

	/* A GET sends no body and says so. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
	    url("/echo"), "body_in_result", "text"));
	echo = json_loads(res_str(rec_result(rec), "body"), 0, &jerr);
	ck_assert_ptr_nonnull(echo);
	ck_assert_str_eq(res_str(echo, "method"), "GET");
	ck_assert_str_eq(res_str(echo, "body"), "");
	json_decref(echo);
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_header_injection)
{
	ck_assert_int_eq(submit_code("fetch", json_pack("{s:s, s:{s:s}}",
	    "url", url("/echo"), "headers", "X-A", "a\r\nX-Injected: 1")),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(submit_code("fetch", json_pack("{s:s, s:{s:s}}",
	    "url", url("/echo"), "headers", "X-A\r\nX-Injected", "1")),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(submit_code("fetch", json_pack("{s:s, s:{s:s}}",
	    "url", url("/echo"), "headers", "Bad Name", "1")),
	    RPC_INVALID_PARAMS);
	/* Nothing reached the server. */
	ck_assert_int_eq(httpd_hits("/echo"), 0);
}
END_TEST

START_TEST(t_fetch_body_in_result)
{
	unsigned char	*want, *got;
	json_t		*rec, *res;
	const char	*b64;
	int		 n;

	rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
	    url("/fixed"), "body_in_result", "text"));
	res = rec_result(rec);
	ck_assert_str_eq(res_str(res, "body_encoding"), "text");
	ck_assert_str_eq(res_str(res, "body"), HTTPD_FIXED_BODY);
	json_decref(rec);

	rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
	    url("/fixed"), "body_in_result", "base64"));
	res = rec_result(rec);
	ck_assert_str_eq(res_str(res, "body_encoding"), "base64");
	b64 = res_str(res, "body");
	got = malloc(strlen(b64) + 1);
	n = EVP_DecodeBlock(got, (const unsigned char *)b64, (int)strlen(b64));
	ck_assert_int_ge(n, (int)strlen(HTTPD_FIXED_BODY));
	ck_assert_mem_eq(got, HTTPD_FIXED_BODY, strlen(HTTPD_FIXED_BODY));
	free(got);
	json_decref(rec);

	/* text of a body that is not UTF-8 falls back to base64. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
	    url("/bytes?n=300"), "body_in_result", "text"));
	res = rec_result(rec);
	ck_assert_str_eq(res_str(res, "body_encoding"), "base64");
	b64 = res_str(res, "body");
	ck_assert_uint_eq(strlen(b64), 400);
	got = malloc(strlen(b64) + 1);
	n = EVP_DecodeBlock(got, (const unsigned char *)b64, (int)strlen(b64));
	ck_assert_int_eq(n, 300);
	want = bytes_body(300);
	ck_assert_mem_eq(got, want, 300);
	free(want);
	free(got);
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_redirects)
{
	json_t	*rec, *res;
	char	 hex[65];

	sha_hex(HTTPD_FIXED_BODY, strlen(HTTPD_FIXED_BODY), hex);
	rec = harness_run(h, "fetch", json_pack("{s:s}", "url",
	    url("/redirect?n=3")));
	res = rec_result(rec);
	ck_assert_int_eq(res_int(res, "status"), 200);
	ck_assert_int_eq(res_int(res, "redirects"), 3);
	ck_assert_str_eq(res_str(res, "effective_url"), url("/fixed"));
	ck_assert_str_eq(res_str(res, "sha256"), hex);
	json_decref(rec);

	rec = harness_run(h, "fetch", json_pack("{s:s, s:b}", "url",
	    url("/redirect?n=3"), "follow_redirects", 0));
	res = rec_result(rec);
	ck_assert_int_eq(res_int(res, "status"), 302);
	ck_assert_int_eq(res_int(res, "redirects"), 0);
	json_decref(rec);

	rec = harness_run(h, "fetch", json_pack("{s:s}", "url",
	    url("/redirect?n=11")));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "too_many_redirects");
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_redirect_ftp)
{
	json_t	*rec;

	rec = harness_run(h, "fetch", json_pack("{s:s}", "url",
	    url("/redirect-ftp")));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "redirect_forbidden");
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_too_large)
{
	json_t	*rec;

	/* Known length: curl refuses it from the headers. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:i}", "url",
	    url("/bytes?n=10000"), "max_bytes", 1000));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "too_large");
	json_decref(rec);

	/* Chunked, endless: the write callback stops it. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:i}", "url",
	    url("/huge"), "max_bytes", 3 * 1024 * 1024));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "too_large");
	json_decref(rec);

	/* Exactly max_bytes is fine. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:i}", "url",
	    url("/bytes?n=1000"), "max_bytes", 1000));
	ck_assert_int_eq(res_int(rec_result(rec), "bytes"), 1000);
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_timeout)
{
	json_t	*rec;

	rec = harness_run(h, "fetch", json_pack("{s:s, s:i}", "url",
	    url("/slow?ms=60000"), "timeout_ms", 300));
	ck_assert_str_eq(rec_state(rec), "timeout");
	ck_assert_str_eq(rec_code(rec), "timeout");
	json_decref(rec);

	/* The job's own timeout_ms (submit param) does the same. */
	rec = harness_call(h, "job.submit", json_pack("{s:s, s:{s:s}, s:i, "
	    "s:b}", "type", "fetch", "args", "url", url("/slow?ms=60000"),
	    "timeout_ms", 300, "wait", 1));
	ck_assert_str_eq(rec_state(harness_ok(rec)), "timeout");
	ck_assert_str_eq(rec_code(harness_ok(rec)), "timeout");
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_stalled)
{
	json_t	*rec;

	/* /drip sends 5 bytes/s: under 100 bytes/s for 2 s is a stall. */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:i, s:i}", "url",
	    url("/drip"), "min_speed", 100, "min_speed_ms", 2000));
	ck_assert_str_eq(rec_state(rec), "timeout");
	ck_assert_str_eq(rec_code(rec), "timeout");
	json_decref(rec);

	/*
	 * Slow but steady enough: done. curl measures speed once a second,
	 * so a window shorter than a few seconds is not meaningful.
	 */
	rec = harness_run(h, "fetch", json_pack("{s:s, s:i, s:i}", "url",
	    url("/drip?n=5"), "min_speed", 1, "min_speed_ms", 5000));
	ck_assert_int_eq(res_int(rec_result(rec), "bytes"), 5);
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_refused)
{
	json_t	*rec;
	char	 u[64];

	snprintf(u, sizeof u, "http://127.0.0.1:%d/", dead_port());
	rec = harness_run(h, "fetch", json_pack("{s:s}", "url", u));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "connect_failed");
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_reset)
{
	json_t	*rec;

	rec = harness_run(h, "fetch", json_pack("{s:s}", "url", url("/reset")));
	ck_assert_str_eq(rec_state(rec), "failed");
	/* The server closed without a byte of reply. */
	ck_assert_str_eq(rec_code(rec), "empty_reply");
	ck_assert_ptr_null(json_object_get(rec, "result"));
	json_decref(rec);
}
END_TEST

START_TEST(t_fetch_http_errors)
{
	static const int codes[] = { 404, 500, 503 };
	json_t	*rec, *res;
	char	 path[64], body[64];
	size_t	 i;

	for (i = 0; i < nitems(codes); i++) {
		snprintf(path, sizeof path, "/status?code=%d", codes[i]);
		snprintf(body, sizeof body, "status %d\n", codes[i]);
		rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
		    url(path), "body_in_result", "text"));
		res = rec_result(rec);
		ck_assert_int_eq(res_int(res, "status"), codes[i]);
		ck_assert_str_eq(res_str(res, "body"), body);
		json_decref(rec);
	}
}
END_TEST

/* Connections are reused: sequential fetches, one connection a loop. */
START_TEST(t_fetch_reuse)
{
	json_t		*rec, *echo;
	json_error_t	 jerr;
	int		 i, j, n = 0, ports[30];

	for (i = 0; i < 30; i++) {
		rec = harness_run(h, "fetch", json_pack("{s:s, s:s}", "url",
		    url("/echo"), "body_in_result", "text"));
		echo = json_loads(res_str(rec_result(rec), "body"), 0, &jerr);
		ck_assert_ptr_nonnull(echo);
		ports[i] = (int)res_int(echo, "peer_port");
		ck_assert_int_gt(ports[i], 0);
		for (j = 0; j < i && ports[j] != ports[i]; j++)
			;
		if (j == i)
			n++;
		json_decref(echo);
		json_decref(rec);
	}
	/* io.threads=2: at most one connection per loop. */
	ck_assert_int_le(n, 2);
	ck_assert_int_eq(httpd_hits("/echo"), 30);
}
END_TEST

/* download */

START_TEST(t_download)
{
	json_t		*rec, *res;
	unsigned char	*want;
	char		*got, hex[65], path[PATH_MAX];
	size_t		 len;
	struct stat	 st;
	mode_t		 mask;
	int		 parts;

	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url("/bytes?n=3000000"), "filename", "big.bin"));
	res = rec_result(rec);
	want = bytes_body(3000000);
	sha_hex(want, 3000000, hex);
	ck_assert_str_eq(res_str(res, "sha256"), hex);
	ck_assert_int_eq(res_int(res, "bytes"), 3000000);
	snprintf(path, sizeof path, "%s/downloads/big.bin", harness_dir(h));
	ck_assert_str_eq(res_str(res, "path"), path);
	got = dl_read("big.bin", &len);
	ck_assert_uint_eq(len, 3000000);
	ck_assert_mem_eq(got, want, len);
	ck_assert_int_eq(stat(path, &st), 0);
	mask = umask(022);	/* the daemon's, inherited */
	umask(mask);
	ck_assert_int_eq(st.st_mode & 0777, 0644 & ~mask);
	ck_assert_int_eq(dl_count(&parts), 1);
	ck_assert_int_eq(parts, 0);
	free(got);
	free(want);
	json_decref(rec);
}
END_TEST

/* A body much bigger than the in-flight limit: pause/resume path. */
START_TEST(t_download_large)
{
	json_t		*rec, *res;
	unsigned char	*want;
	char		*got, hex[65];
	size_t		 len, n = 48 * 1024 * 1024 + 7;
	char		 path[64];

	snprintf(path, sizeof path, "/bytes?n=%zu", n);
	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url(path), "filename", "large.bin"));
	res = rec_result(rec);
	want = bytes_body(n);
	sha_hex(want, n, hex);
	ck_assert_str_eq(res_str(res, "sha256"), hex);
	got = dl_read("large.bin", &len);
	ck_assert_uint_eq(len, n);
	ck_assert(memcmp(got, want, n) == 0);
	free(got);
	free(want);
	json_decref(rec);
}
END_TEST

START_TEST(t_download_escape)
{
	char	 target[PATH_MAX], link[PATH_MAX];
	int	 parts;

	ck_assert_int_eq(submit_code("download", json_pack("{s:s, s:s}",
	    "url", url("/fixed"), "filename", "../escape")), RPC_FORBIDDEN);
	ck_assert_int_eq(submit_code("download", json_pack("{s:s, s:s}",
	    "url", url("/fixed"), "filename", "/tmp/escape")), RPC_FORBIDDEN);
	ck_assert_int_eq(submit_code("download", json_pack("{s:s, s:s}",
	    "url", url("/fixed"), "filename", "")), RPC_INVALID_PARAMS);

	/* A symlink inside the directory pointing out of it. */
	snprintf(target, sizeof target, "%s/outside", harness_dir(h));
	ck_assert_int_eq(mkdir(target, 0755), 0);
	snprintf(link, sizeof link, "%s/downloads/out", harness_dir(h));
	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(submit_code("download", json_pack("{s:s, s:s}",
	    "url", url("/fixed"), "filename", "out/x")), RPC_FORBIDDEN);
	ck_assert_int_eq(submit_code("download", json_pack("{s:s, s:s, s:b}",
	    "url", url("/fixed"), "filename", "out", "overwrite", 1)),
	    RPC_FORBIDDEN);
	ck_assert_int_eq(httpd_hits("/fixed"), 0);
	ck_assert_int_eq(dl_count(&parts), 1);	/* the link */
	ck_assert_int_eq(rmdir(target), 0);	/* still empty */
}
END_TEST

START_TEST(t_download_overwrite)
{
	json_t	*rec;
	char	*got;
	size_t	 len;
	int	 parts;

	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url("/bytes?n=100"), "filename", "f.bin"));
	rec_result(rec);
	json_decref(rec);

	/* Exists, overwrite false: failed, untouched, nothing fetched. */
	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url("/fixed"), "filename", "f.bin"));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "exists");
	json_decref(rec);
	ck_assert_int_eq(httpd_hits("/fixed"), 0);
	got = dl_read("f.bin", &len);
	ck_assert_uint_eq(len, 100);
	free(got);

	rec = harness_run(h, "download", json_pack("{s:s, s:s, s:b}", "url",
	    url("/fixed"), "filename", "f.bin", "overwrite", 1));
	rec_result(rec);
	json_decref(rec);
	got = dl_read("f.bin", &len);
	ck_assert_uint_eq(len, strlen(HTTPD_FIXED_BODY));
	ck_assert_mem_eq(got, HTTPD_FIXED_BODY, len);
	free(got);
	ck_assert_int_eq(dl_count(&parts), 1);
	ck_assert_int_eq(parts, 0);
}
END_TEST

START_TEST(t_download_subdir)
{
	json_t	*rec;
	char	 path[PATH_MAX], *got;
	size_t	 len;

	snprintf(path, sizeof path, "%s/downloads/sub", harness_dir(h));
	ck_assert_int_eq(mkdir(path, 0755), 0);
	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url("/fixed"), "filename", "sub/x.txt"));
	rec_result(rec);
	json_decref(rec);
	got = dl_read("sub/x.txt", &len);
	ck_assert_uint_eq(len, strlen(HTTPD_FIXED_BODY));
	free(got);
}
END_TEST

/* Failures leave nothing behind: no file, no temporary file. */
START_TEST(t_download_failures)
{
	json_t	*rec;
	int	 parts;

	rec = harness_run(h, "download", json_pack("{s:s, s:s, s:i}", "url",
	    url("/huge"), "filename", "huge.bin", "max_bytes",
	    8 * 1024 * 1024));
	ck_assert_str_eq(rec_state(rec), "failed");
	ck_assert_str_eq(rec_code(rec), "too_large");
	json_decref(rec);

	rec = harness_run(h, "download", json_pack("{s:s, s:s, s:i}", "url",
	    url("/slow?ms=60000"), "filename", "slow.bin", "timeout_ms", 300));
	ck_assert_str_eq(rec_state(rec), "timeout");
	json_decref(rec);

	/* An HTTP error is a result, but its body is not kept. */
	rec = harness_run(h, "download", json_pack("{s:s, s:s}", "url",
	    url("/status?code=404"), "filename", "nf.bin"));
	ck_assert_int_eq(res_int(rec_result(rec), "status"), 404);
	ck_assert_ptr_null(json_object_get(rec_result(rec), "path"));
	json_decref(rec);

	ck_assert_int_eq(dl_count(&parts), 0);
}
END_TEST

START_TEST(t_download_cancel)
{
	json_t	*rec, *r;
	char	*id;
	int	 parts, i;

	id = submit_async("download", json_pack("{s:s, s:s}", "url",
	    url("/drip"), "filename", "drip.bin"));
	rec = harness_await(h, id, "running");
	json_decref(rec);
	/* Wait until the temporary file exists. */
	for (i = 0; i < 200 && dl_count(&parts) == 0; i++)
		usleep(20000);
	ck_assert_int_eq(parts, 1);
	r = harness_call(h, "job.cancel", json_pack("{s:s}", "id", id));
	ck_assert_str_eq(rec_state(harness_ok(r)), "cancelled");
	json_decref(r);
	/* The pool removes it shortly after. */
	for (i = 0; i < 500 && dl_count(&parts) > 0; i++)
		usleep(20000);
	ck_assert_int_eq(dl_count(&parts), 0);
	free(id);
}
END_TEST

/* ping */

START_TEST(t_ping_url)
{
	json_t	*rec, *res;
	char	 u[64];

	rec = harness_run(h, "ping", json_pack("{s:s}", "url", url("/fixed")));
	res = rec_result(rec);
	ck_assert(json_is_true(json_object_get(res, "up")));
	ck_assert_int_eq(res_int(res, "status"), 200);
	ck_assert(json_number_value(json_object_get(res, "latency_ms")) >= 0);
	ck_assert_ptr_null(json_object_get(res, "error"));
	json_decref(rec);

	/* An error status: down, but the job is done. */
	rec = harness_run(h, "ping", json_pack("{s:s}", "url",
	    url("/status?code=503")));
	res = rec_result(rec);
	ck_assert(json_is_false(json_object_get(res, "up")));
	ck_assert_int_eq(res_int(res, "status"), 503);
	ck_assert_str_eq(res_str(json_object_get(res, "error"), "code"),
	    "bad_status");
	json_decref(rec);

	/* expect_status makes it up. */
	rec = harness_run(h, "ping", json_pack("{s:s, s:i}", "url",
	    url("/status?code=503"), "expect_status", 503));
	ck_assert(json_is_true(json_object_get(rec_result(rec), "up")));
	json_decref(rec);

	/* A redirect counts as up and is not followed. */
	rec = harness_run(h, "ping", json_pack("{s:s}", "url",
	    url("/redirect?n=2")));
	res = rec_result(rec);
	ck_assert(json_is_true(json_object_get(res, "up")));
	ck_assert_int_eq(res_int(res, "status"), 302);
	json_decref(rec);

	/* Nobody listening: down. */
	snprintf(u, sizeof u, "http://127.0.0.1:%d/", dead_port());
	rec = harness_run(h, "ping", json_pack("{s:s}", "url", u));
	res = rec_result(rec);
	ck_assert(json_is_false(json_object_get(res, "up")));
	ck_assert_ptr_null(json_object_get(res, "status"));
	ck_assert_str_eq(res_str(json_object_get(res, "error"), "code"),
	    "connect_failed");
	json_decref(rec);
}
END_TEST

START_TEST(t_ping_405)
{
	json_t	*rec, *res;

	rec = harness_run(h, "ping", json_pack("{s:s}", "url", url("/405")));
	res = rec_result(rec);
	ck_assert(json_is_true(json_object_get(res, "up")));
	ck_assert_int_eq(res_int(res, "status"), 200);
	/* HEAD, then GET. */
	ck_assert_int_eq(httpd_hits("/405"), 2);
	json_decref(rec);

	/* A GET on an endless body stops at the status. */
	rec = harness_run(h, "ping", json_pack("{s:s}", "url", url("/huge")));
	ck_assert(json_is_true(json_object_get(rec_result(rec), "up")));
	json_decref(rec);
}
END_TEST

START_TEST(t_ping_tcp)
{
	json_t	*rec, *res;
	int	 i;

	for (i = 0; i < 3; i++) {
		rec = harness_run(h, "ping", json_pack("{s:s, s:i}", "host",
		    "127.0.0.1", "port", port));
		res = rec_result(rec);
		ck_assert(json_is_true(json_object_get(res, "up")));
		ck_assert_ptr_null(json_object_get(res, "status"));
		ck_assert(json_number_value(json_object_get(res,
		    "latency_ms")) >= 0);
		json_decref(rec);
	}
	/* A TCP ping sends no request. */
	ck_assert_int_eq(httpd_hits("/"), 0);

	rec = harness_run(h, "ping", json_pack("{s:s, s:i}", "host",
	    "127.0.0.1", "port", dead_port()));
	res = rec_result(rec);
	ck_assert(json_is_false(json_object_get(res, "up")));
	ck_assert_str_eq(res_str(json_object_get(res, "error"), "code"),
	    "connect_failed");
	json_decref(rec);
}
END_TEST

/* Engine behaviour */

START_TEST(t_sleep)
{
	json_t	*rec;

	rec = harness_run(h, "sleep", json_pack("{s:i}", "ms", 50));
	ck_assert_int_ge(res_int(rec_result(rec), "slept_ms"), 50);
	json_decref(rec);
	rec = harness_run(h, "sleep", json_pack("{s:i}", "ms", 0));
	ck_assert_int_ge(res_int(rec_result(rec), "slept_ms"), 0);
	json_decref(rec);
	ck_assert_int_eq(submit_code("sleep", json_pack("{s:i}", "ms", -1)),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(submit_code("sleep", json_pack("{s:i}", "ms",
	    86400001)), RPC_INVALID_PARAMS);
	ck_assert_int_eq(submit_code("sleep", json_object()),
	    RPC_INVALID_PARAMS);
	ck_assert_int_eq(submit_code("sleep", json_pack("{s:i, s:i}", "ms", 1,
	    "x", 1)), RPC_INVALID_PARAMS);
}
END_TEST

static void
await_idle(void)
{
	json_t	*io;
	int	 i, n = -1;

	for (i = 0; i < 400; i++) {
		io = io_status();
		n = (int)json_integer_value(json_object_get(io, "in_flight"));
		json_decref(io);
		if (n == 0)
			break;
		usleep(25000);
	}
	ck_assert_int_eq(n, 0);
}

START_TEST(t_cancel_running)
{
	json_t	*rec, *r, *res;
	char	*id;

	id = submit_async("fetch", json_pack("{s:s}", "url",
	    url("/slow?ms=60000")));
	rec = harness_await(h, id, "running");
	json_decref(rec);
	r = harness_call(h, "job.cancel", json_pack("{s:s}", "id", id));
	ck_assert_str_eq(rec_state(harness_ok(r)), "cancelled");
	ck_assert_str_eq(rec_code(harness_ok(r)), "cancelled");
	json_decref(r);
	/* The transfer is gone from its loop, not just from the job. */
	await_idle();
	/* And stays cancelled. */
	rec = wait_job(id);
	ck_assert_str_eq(rec_state(rec), "cancelled");
	json_decref(rec);
	free(id);

	rec = harness_run(h, "fetch", json_pack("{s:s}", "url", url("/fixed")));
	res = rec_result(rec);
	ck_assert_int_eq(res_int(res, "status"), 200);
	json_decref(rec);

	/* A running sleep too. */
	id = submit_async("sleep", json_pack("{s:i}", "ms", 600000));
	json_decref(harness_await(h, id, "running"));
	r = harness_call(h, "job.cancel", json_pack("{s:s}", "id", id));
	ck_assert_str_eq(rec_state(harness_ok(r)), "cancelled");
	json_decref(r);
	await_idle();
	free(id);
}
END_TEST

/* Cancels racing with completions: each job ends once, no crash. */
START_TEST(t_cancel_race)
{
	enum { N = 300 };
	char	*ids[N];
	json_t	*r, *rec;
	int	 i, done = 0, cancelled = 0;

	for (i = 0; i < N; i++)
		ids[i] = submit_async("fetch", json_pack("{s:s}", "url",
		    url(i % 2 ? "/fixed" : "/slow?ms=5")));
	for (i = 0; i < N; i++) {
		r = harness_call(h, "job.cancel", json_pack("{s:s}", "id",
		    ids[i]));
		json_decref(r);
	}
	for (i = 0; i < N; i++) {
		rec = wait_job(ids[i]);
		if (strcmp(rec_state(rec), "done") == 0)
			done++;
		else if (strcmp(rec_state(rec), "cancelled") == 0)
			cancelled++;
		json_decref(rec);
		free(ids[i]);
	}
	ck_assert_int_eq(done + cancelled, N);
	await_idle();
	rec = harness_run(h, "fetch", json_pack("{s:s}", "url", url("/fixed")));
	ck_assert_int_eq(res_int(rec_result(rec), "status"), 200);
	json_decref(rec);
}
END_TEST

START_TEST(t_status)
{
	json_t	*io;

	io = io_status();
	ck_assert_int_eq(json_integer_value(json_object_get(io, "threads")), 2);
	ck_assert_int_ge(json_integer_value(json_object_get(io,
	    "blocking_threads")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(io, "in_flight")),
	    0);
	ck_assert_int_eq(json_array_size(json_object_get(io,
	    "thread_in_flight")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(io,
	    "max_transfers")), 1024);
	json_decref(io);
}
END_TEST

static void
setup_small(void)
{
	static const char *const args[] = { "-o", "io.threads=2",
	    "-o", "io.max_transfers=50", "-o", "cpu.workers=1", NULL };

	start_with(args);
}

/* Many more jobs than transfer slots: all done, never over the limit. */
START_TEST(t_concurrent)
{
	enum { N = 600 };
	char		*ids[N], hex[65], path[64];
	json_t		*rec, *res, *io;
	unsigned char	*body;
	int		 i, max_seen = 0, n, total_ok = 0;

	for (i = 0; i < N; i++) {
		if (i % 3 == 0)
			snprintf(path, sizeof path, "/slow?ms=%d", 20 + i % 50);
		else
			snprintf(path, sizeof path, "/bytes?n=%d", 1000 + i);
		ids[i] = submit_async("fetch", json_pack("{s:s}", "url",
		    url(path)));
		if (i % 50 == 0) {
			io = io_status();
			n = (int)json_integer_value(json_object_get(io,
			    "in_flight"));
			if (n > max_seen)
				max_seen = n;
			json_decref(io);
		}
	}
	for (i = 0; i < N; i++) {
		rec = wait_job(ids[i]);
		res = rec_result(rec);
		if (i % 3 != 0) {
			body = bytes_body(1000 + (size_t)i);
			sha_hex(body, 1000 + (size_t)i, hex);
			ck_assert_str_eq(res_str(res, "sha256"), hex);
			free(body);
		} else
			ck_assert_int_eq(res_int(res, "bytes"), 5);
		total_ok++;
		json_decref(rec);
		free(ids[i]);
	}
	ck_assert_int_eq(total_ok, N);
	ck_assert_int_le(max_seen, 50);
	io = io_status();
	ck_assert_int_eq(json_integer_value(json_object_get(io,
	    "max_transfers")), 50);
	ck_assert_int_ge(json_integer_value(json_object_get(io, "completed")),
	    N);
	json_decref(io);
}
END_TEST

static void
setup_host_limit(void)
{
	static const char *const args[] = { "-o", "io.threads=1",
	    "-o", "io.max_host_connections=2", "-o", "cpu.workers=1", NULL };

	start_with(args);
}

/* io.max_host_connections: curl queues the rest, all finish. */
START_TEST(t_host_connections)
{
	enum { N = 12 };
	char	*ids[N];
	json_t	*rec;
	int	 i;

	for (i = 0; i < N; i++)
		ids[i] = submit_async("fetch", json_pack("{s:s}", "url",
		    url("/slow?ms=200")));
	for (i = 0; i < N; i++) {
		rec = wait_job(ids[i]);
		ck_assert_int_eq(res_int(rec_result(rec), "bytes"), 5);
		json_decref(rec);
		free(ids[i]);
	}
	ck_assert_int_eq(httpd_hits("/slow"), N);
	ck_assert_int_le(httpd_slow_max(), 2);
	ck_assert_int_ge(httpd_slow_max(), 1);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite	*s = suite_create("io");
	TCase	*tc;

	tc = tcase_create("unit");
	tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
	tcase_add_test(tc, t_unit_fetch_args);
	tcase_add_test(tc, t_unit_fetch_defaults);
	tcase_add_test(tc, t_unit_schemes);
	tcase_add_test(tc, t_unit_download_args);
	tcase_add_test(tc, t_unit_ping_args);
	tcase_add_test(tc, t_unit_errcode);
	suite_add_tcase(s, tc);

	tc = tcase_create("fetch");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_fetch_fixed);
	tcase_add_test(tc, t_fetch_bytes_sha);
	tcase_add_test(tc, t_fetch_head);
	tcase_add_test(tc, t_fetch_post_echo);
	tcase_add_test(tc, t_fetch_header_injection);
	tcase_add_test(tc, t_fetch_body_in_result);
	tcase_add_test(tc, t_fetch_redirects);
	tcase_add_test(tc, t_fetch_redirect_ftp);
	tcase_add_test(tc, t_fetch_too_large);
	tcase_add_test(tc, t_fetch_timeout);
	tcase_add_test(tc, t_fetch_stalled);
	tcase_add_test(tc, t_fetch_refused);
	tcase_add_test(tc, t_fetch_reset);
	tcase_add_test(tc, t_fetch_http_errors);
	tcase_add_test(tc, t_fetch_reuse);
	suite_add_tcase(s, tc);

	tc = tcase_create("download");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_download);
	tcase_add_test(tc, t_download_large);
	tcase_add_test(tc, t_download_escape);
	tcase_add_test(tc, t_download_overwrite);
	tcase_add_test(tc, t_download_subdir);
	tcase_add_test(tc, t_download_failures);
	tcase_add_test(tc, t_download_cancel);
	suite_add_tcase(s, tc);

	tc = tcase_create("ping");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_ping_url);
	tcase_add_test(tc, t_ping_405);
	tcase_add_test(tc, t_ping_tcp);
	suite_add_tcase(s, tc);

	tc = tcase_create("engine");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, t_sleep);
	tcase_add_test(tc, t_cancel_running);
	tcase_add_test(tc, t_cancel_race);
	tcase_add_test(tc, t_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrent");
	tcase_add_checked_fixture(tc, setup_small, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, t_concurrent);
	suite_add_tcase(s, tc);

	tc = tcase_create("host_limit");
	tcase_add_checked_fixture(tc, setup_host_limit, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_host_connections);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(io_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
