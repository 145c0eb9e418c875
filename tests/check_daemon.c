/*
 * The real daemon through its socket: start-up and the socket file, the
 * command line, error codes, pipelining, drain on SIGTERM.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *const one_worker[] = { "-o", "cpu.workers=1", NULL };

static int
code_of(json_t *r)
{
	return (int)json_integer_value(json_object_get(json_object_get(r,
	    "error"), "code"));
}

/* Wait until the daemon runs n jobs. */
static void
wait_running(struct harness *h, int n)
{
	json_t	*r;
	int	 i, running = -1;

	for (i = 0; i < 1200; i++) {
		r = harness_call(h, "daemon.status", NULL);
		running = (int)json_integer_value(json_object_get(json_object_get(
		    harness_ok(r), "jobs"), "running"));
		json_decref(r);
		if (running == n)
			return;
		usleep(50000);
	}
	ck_abort_msg("%d jobs running, not %d", running, n);
}

/* Run jobd with args and return its exit status and stderr+stdout. */
static char *
run_jobd(const char *args, int *status)
{
	char	*cmd, *out;

	xasprintf(&cmd, "%s %s 2>&1", getenv("JOBD_BIN"), args);
	out = harness_sh(cmd, status);
	free(cmd);
	return out;
}

START_TEST(test_version_and_usage)
{
	char	*out;
	int	 st;

	out = run_jobd("-V", &st);
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	ck_assert_str_eq(out, "jobd " PACKAGE_VERSION "\n");
	free(out);
	out = run_jobd("-x", &st);
	ck_assert_int_ne(WEXITSTATUS(st), 0);
	ck_assert_ptr_nonnull(strstr(out, "usage: jobd"));
	free(out);
}
END_TEST

START_TEST(test_config_check)
{
	char	 dir[] = "/tmp/jobd-conf.XXXXXX", *args, *out;
	FILE	*f;
	int	 st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	xasprintf(&args, "-n -c %s/good.conf", dir);
	xasprintf(&out, "%s/good.conf", dir);
	f = fopen(out, "w");
	fputs("[io]\nthreads = 2\n[cpu]\nworkers = 3\n", f);
	fclose(f);
	free(out);
	out = run_jobd(args, &st);
	ck_assert_msg(WEXITSTATUS(st) == 0, "good config refused: %s", out);
	free(out);
	free(args);

	xasprintf(&out, "%s/bad.conf", dir);
	f = fopen(out, "w");
	fputs("[io]\nthreads = 2\nthredas = 3\n", f);
	fclose(f);
	free(out);
	xasprintf(&args, "-n -c %s/bad.conf", dir);
	out = run_jobd(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	/* The error names the file, the line and the key. */
	ck_assert_msg(strstr(out, "bad.conf:3") != NULL &&
	    strstr(out, "thredas") != NULL, "unhelpful error: %s", out);
	free(out);
	free(args);

	/* -o is checked too, and a missing -c file is an error. */
	xasprintf(&args, "-n -c %s/good.conf -o cpu.workers=many", dir);
	out = run_jobd(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_ptr_nonnull(strstr(out, "workers"));
	free(out);
	free(args);
	xasprintf(&args, "-n -c %s/missing.conf", dir);
	out = run_jobd(args, &st);
	ck_assert_int_eq(WEXITSTATUS(st), 1);
	ck_assert_ptr_nonnull(strstr(out, "missing.conf"));
	free(out);
	free(args);

	/* The shipped configuration file is valid. */
	xasprintf(&args, "-n -c %s/etc/jobd.conf", getenv("JOBD_SRCDIR"));
	out = run_jobd(args, &st);
	ck_assert_msg(WEXITSTATUS(st) == 0, "etc/jobd.conf: %s", out);
	free(out);
	free(args);

	xasprintf(&args, "rm -rf %s", dir);
	free(harness_sh(args, &st));
	free(args);
}
END_TEST

/* A socket file left by a dead daemon is replaced; a live one is not. */
START_TEST(test_socket_file)
{
	struct harness	*h;
	struct sockaddr_un sun;
	struct stat	 sb;
	char		*args, *out;
	int		 fd, st;
	const char	*sock;
	json_t		*r;

	h = harness_start(one_worker);
	sock = harness_socket(h);
	ck_assert_int_eq(stat(sock, &sb), 0);
	ck_assert(S_ISSOCK(sb.st_mode));
	ck_assert_int_eq(sb.st_mode & 0777, 0660);

	/* A second daemon on the same socket refuses to start. */
	xasprintf(&args, "-c /dev/null -s %s", sock);
	out = run_jobd(args, &st);
	ck_assert_int_ne(WEXITSTATUS(st), 0);
	ck_assert_msg(strstr(out, "already listening") != NULL, "%s", out);
	free(out);
	free(args);
	/* ... and the first still serves. */
	r = harness_call(h, "daemon.status", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(harness_ok(r),
	    "pid")), harness_pid(h));
	json_decref(r);

	/* SIGTERM: exit 0 and the socket file is gone. */
	kill(harness_pid(h), SIGTERM);
	for (st = 0; st < 200 && access(sock, F_OK) == 0; st++)
		usleep(50000);
	ck_assert_int_ne(access(sock, F_OK), 0);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);

	/* A stale socket: left by a daemon that died without cleaning up. */
	h = harness_start(one_worker);
	sock = harness_socket(h);
	harness_crash(h);
	ck_assert_int_eq(access(sock, F_OK), 0);
	memset(&sun, 0, sizeof sun);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, sock);
	ck_assert_int_ne(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(fd);
	harness_restart(h, one_worker);		/* fails the test if refused */
	r = harness_call(h, "daemon.status", NULL);
	ck_assert_int_eq(json_integer_value(json_object_get(harness_ok(r),
	    "pid")), harness_pid(h));
	json_decref(r);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Every protocol error code a client can provoke, on the real daemon. */
START_TEST(test_error_codes)
{
	const char *const extra[] = { "-o", "cpu.workers=1", "-o",
	    "limits.max_queued=2", "-o", "limits.max_request_bytes=4096",
	    "-o", "files.allowed_roots=/nonexistent-root", NULL };
	struct harness	*h = harness_start(extra);
	struct client	*c = harness_client(h);
	json_t		*r, *spin;
	char		*big;
	int		 i;
	static const struct { const char *line; int code; } lines[] = {
		{ "{", RPC_PARSE_ERROR },
		{ "[]", RPC_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x.y\"}",
		  RPC_METHOD_NOT_FOUND },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"job.submit\","
		  "\"params\":{\"type\":\"frobnicate\"}}", RPC_INVALID_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"job.submit\","
		  "\"params\":{\"type\":\"squares\",\"args\":{\"from\":1}}}",
		  RPC_INVALID_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"job.get\","
		  "\"params\":{\"id\":\"deadbeef-1\"}}", RPC_UNKNOWN_JOB },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"job.submit\","
		  "\"params\":{\"type\":\"charcount\",\"args\":{\"path\":"
		  "\"/etc/hostname\"}}}", RPC_FORBIDDEN },
	};

	for (i = 0; i < (int)nitems(lines); i++) {
		ck_assert_int_eq(client_send_raw(c, lines[i].line,
		    strlen(lines[i].line)), 0);
		ck_assert_int_eq(client_send_raw(c, "\n", 1), 0);
		r = client_recv(c, TEST_TIMEOUT_MS);
		ck_assert_msg(r != NULL, "no answer to %s", lines[i].line);
		ck_assert_int_eq(code_of(r), lines[i].code);
		json_decref(r);
	}

	/* -32001: one worker busy, two queued, the next is refused. */
	spin = json_pack("{s:s, s:{s:i}}", "type", "spin", "args", "ms", 60000);
	for (i = 0; i < 3; i++) {
		r = harness_call(h, "job.submit", json_deep_copy(spin));
		harness_ok(r);
		json_decref(r);
		if (i == 0)
			wait_running(h, 1);	/* the worker may still be starting */
	}
	r = harness_call(h, "job.submit", json_deep_copy(spin));
	ck_assert_int_eq(code_of(r), RPC_OVERLOADED);
	ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(
	    json_object_get(r, "error"), "data"), "retry_after_ms")), 0);
	json_decref(r);
	json_decref(spin);

	/* -32005: a line over max_request_bytes closes that connection. */
	big = xmalloc(8192);
	memset(big, 'x', 8192);
	client_send_raw(c, big, 8192);
	free(big);
	r = client_recv(c, TEST_TIMEOUT_MS);
	ck_assert_int_eq(code_of(r), RPC_TOO_LARGE);
	json_decref(r);
	ck_assert_ptr_null(client_recv(c, TEST_TIMEOUT_MS));
	client_close(c);

	/* -32004: during the drain, submits on an open connection. */
	c = harness_client(h);
	kill(harness_pid(h), SIGTERM);
	for (i = 0; i < 100; i++) {
		r = client_call(c, "job.submit", json_pack("{s:s, s:{s:i, s:i}}",
		    "type", "squares", "args", "from", 1, "to", 2),
		    TEST_TIMEOUT_MS);
		ck_assert_ptr_nonnull(r);
		if (code_of(r) == RPC_SHUTTING_DOWN)
			break;
		json_decref(r);
		usleep(20000);
	}
	ck_assert_int_eq(code_of(r), RPC_SHUTTING_DOWN);
	json_decref(r);
	client_close(c);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* 1000+ pipelined real jobs on one connection, each answered once. */
START_TEST(test_pipelining)
{
	struct harness	*h = harness_start(NULL);
	struct client	*c = harness_client(h);
	enum { N = 1500 };
	char		*buf = NULL, *line;
	size_t		 len = 0, n;
	static int	 seen[N];
	json_t		*r, *res;
	int		 i, id;
	unsigned long long want;

	for (i = 0; i < N; i++) {
		n = (size_t)xasprintf(&line, "{\"jsonrpc\":\"2.0\",\"id\":%d,"
		    "\"method\":\"job.submit\",\"params\":{\"type\":\"squares\","
		    "\"wait\":true,\"args\":{\"from\":1,\"to\":%d}}}\n", i, i + 1);
		buf = xreallocarray(buf, len + n, 1);
		memcpy(buf + len, line, n);
		len += n;
		free(line);
	}
	ck_assert_int_eq(client_send_raw(c, buf, len), 0);
	free(buf);
	for (i = 0; i < N; i++) {
		r = client_recv(c, TEST_TIMEOUT_MS);
		ck_assert_msg(r != NULL, "answer %d of %d missing", i, N);
		id = (int)json_integer_value(json_object_get(r, "id"));
		ck_assert(id >= 0 && id < N);
		ck_assert_int_eq(seen[id]++, 0);
		res = json_object_get(harness_ok(r), "result");
		/* sum 1..k of i^2 = k(k+1)(2k+1)/6, k = id+1 */
		want = (unsigned long long)(id + 1) * (id + 2) * (2 * id + 3) / 6;
		ck_assert_uint_eq(strtoull(json_string_value(json_object_get(res,
		    "sum")), NULL, 10), want);
		json_decref(r);
	}
	client_close(c);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* SIGTERM lets a running job finish and answers its waiter. */
START_TEST(test_drain)
{
	struct harness	*h = harness_start(one_worker);
	struct client	*c = harness_client(h);
	json_t		*req, *r, *res;

	req = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:i}, s:b}}", "jsonrpc",
	    "2.0", "id", 7, "method", "job.submit", "params", "type", "spin",
	    "args", "ms", 700, "wait", 1);
	ck_assert_int_eq(client_send(c, req), 0);
	json_decref(req);
	wait_running(h, 1);	/* it must run before the signal */
	kill(harness_pid(h), SIGTERM);
	r = client_recv(c, TEST_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	res = harness_ok(r);
	ck_assert_str_eq(json_string_value(json_object_get(res, "state")),
	    "done");
	json_decref(r);
	client_close(c);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* daemon.metrics is valid Prometheus text, by the reference checker. */
START_TEST(test_metrics_promtool)
{
	struct harness	*h = harness_start(one_worker);
	json_t		*r;
	char		*path, *cmd, *out;
	FILE		*f;
	int		 st;

	r = harness_run(h, "squares", json_pack("{s:i, s:i}", "from", 1,
	    "to", 10));
	json_decref(r);
	r = harness_call(h, "daemon.metrics", NULL);
	xasprintf(&path, "%s/metrics.txt", harness_dir(h));
	f = fopen(path, "w");
	fputs(json_string_value(json_object_get(harness_ok(r), "text")), f);
	fclose(f);
	json_decref(r);
	xasprintf(&cmd, "promtool check metrics < %s 2>&1", path);
	out = harness_sh(cmd, &st);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "promtool (from Debian's prometheus package; scripts/deps --test "
	    "installs it) rejected the metrics: %s", out);
	free(out);
	free(cmd);
	free(path);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

static void
write_conf(struct harness *h, const char *text)
{
	char	*path;
	FILE	*f;

	xasprintf(&path, "%s/jobd.conf", harness_dir(h));
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(path);
}

static int
worker_count(struct harness *h)
{
	json_t	*r;
	int	 n;

	r = harness_call(h, "daemon.status", NULL);
	n = (int)json_array_size(json_object_get(json_object_get(json_object_get(
	    harness_ok(r), "pools"), "cpu"), "workers"));
	json_decref(r);
	return n;
}

/*
 * Reload resizes the CPU pool under load without losing a job; a bad
 * config is refused (by daemon.reload and by SIGHUP) and the old one kept.
 */
START_TEST(test_reload)
{
	struct harness	*h = harness_start_conf("[cpu]\nworkers = 1\n", NULL);
	struct client	*c = harness_client(h);
	json_t		*req, *r;
	int		 i, n = 24, done = 0;

	ck_assert_int_eq(worker_count(h), 1);
	for (i = 0; i < n; i++) {
		req = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:i}, s:b}}",
		    "jsonrpc", "2.0", "id", i, "method", "job.submit", "params",
		    "type", "spin", "args", "ms", 50, "wait", 1);
		ck_assert_int_eq(client_send(c, req), 0);
		json_decref(req);
	}
	write_conf(h, "[cpu]\nworkers = 3\n");
	r = harness_call(h, "daemon.reload", NULL);
	harness_ok(r);
	json_decref(r);
	ck_assert_int_eq(worker_count(h), 3);
	for (i = 0; i < n; i++) {
		r = client_recv(c, TEST_TIMEOUT_MS);
		ck_assert_msg(r != NULL, "job %d of %d lost", i, n);
		if (strcmp(json_string_value(json_object_get(harness_ok(r),
		    "state")), "done") == 0)
			done++;
		json_decref(r);
	}
	ck_assert_int_eq(done, n);

	/* Shrink by SIGHUP. */
	write_conf(h, "[cpu]\nworkers = 2\n");
	kill(harness_pid(h), SIGHUP);
	for (i = 0; i < 200 && worker_count(h) != 2; i++)
		usleep(50000);
	ck_assert_int_eq(worker_count(h), 2);

	/* A bad file: refused with the reason, the old config stays. */
	write_conf(h, "[cpu]\nworkers = lots\n");
	r = harness_call(h, "daemon.reload", NULL);
	ck_assert_int_eq(code_of(r), RPC_INVALID_PARAMS);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
	    json_object_get(json_object_get(r, "error"), "data"), "reason")),
	    "workers"));
	json_decref(r);
	kill(harness_pid(h), SIGHUP);
	usleep(200000);
	ck_assert_int_eq(worker_count(h), 2);
	r = harness_run(h, "squares", json_pack("{s:i, s:i}", "from", 1,
	    "to", 3));
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r,
	    "result"), "sum")), "14");
	json_decref(r);
	client_close(c);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* Read one notify datagram; its sender's pid in *pid. NULL on timeout. */
static char *
notify_recv(int fd, pid_t *pid, int timeout_ms)
{
	static char	 buf[4096];
	char		 cbuf[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec	 iov = { buf, sizeof buf - 1 };
	struct msghdr	 msg;
	struct cmsghdr	*cm;
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	ssize_t		 n;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return NULL;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof cbuf;
	if ((n = recvmsg(fd, &msg, 0)) <= 0)
		return NULL;
	buf[n] = '\0';
	*pid = -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm != NULL; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_CREDENTIALS)
			*pid = ((struct ucred *)CMSG_DATA(cm))->pid;
	}
	return buf;
}

/* Wait for a datagram containing want; every sender must be the daemon. */
static void
notify_expect(int fd, pid_t daemon, const char *want)
{
	char	*m;
	pid_t	 pid;

	for (;;) {
		m = notify_recv(fd, &pid, TEST_TIMEOUT_MS);
		ck_assert_msg(m != NULL, "no %s from the daemon", want);
		ck_assert_msg(pid == daemon, "pid %ld (not the daemon, %ld) "
		    "sent %s", (long)pid, (long)daemon, m);
		if (strstr(m, want) != NULL)
			return;
	}
}

/*
 * sd_notify, against a datagram socket the test owns: READY once the
 * socket and pools are up, RELOADING with MONOTONIC_USEC then READY around
 * a reload, WATCHDOG pings, STOPPING on SIGTERM; only the main process.
 */
START_TEST(test_notify)
{
	struct sockaddr_un sun;
	struct harness	*h;
	char		 path[] = "/tmp/jobd-notify.XXXXXX", *m;
	int		 fd, one = 1, i;
	pid_t		 pid;

	ck_assert_ptr_nonnull(mkdtemp(path));
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/notify", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one,
	    sizeof one), 0);
	setenv("NOTIFY_SOCKET", sun.sun_path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	h = harness_start(NULL);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");

	notify_expect(fd, harness_pid(h), "READY=1");
	notify_expect(fd, harness_pid(h), "STATUS=");
	for (i = 0; i < 3; i++)
		notify_expect(fd, harness_pid(h), "WATCHDOG=1");
	kill(harness_pid(h), SIGHUP);
	notify_expect(fd, harness_pid(h), "RELOADING=1");
	/* ... with the time it began, as Type=notify-reload wants. */
	for (;;) {
		m = notify_recv(fd, &pid, TEST_TIMEOUT_MS);
		ck_assert_ptr_nonnull(m);
		if (strstr(m, "READY=1") != NULL)
			break;
	}
	kill(harness_pid(h), SIGTERM);
	notify_expect(fd, harness_pid(h), "STOPPING=1");
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
	close(fd);
	unlink(sun.sun_path);
	rmdir(path);
}
END_TEST

/* Socket activation: the passed socket is used, and left in place. */
START_TEST(test_socket_activation)
{
	char		 dir[] = "/tmp/jobd-sa.XXXXXX", *cmd, *out, sock[64];
	struct client	*c = NULL;
	char		*err = NULL;
	json_t		*r;
	int		 st, i;
	long		 pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof sock, "%s/act.sock", dir);
	/* jobd's own -s path must stay unused. */
	xasprintf(&cmd, "systemd-socket-activate -l %s %s -c /dev/null "
	    "-s %s/own.sock -o cpu.workers=1 >%s/log 2>&1 & echo $!", sock,
	    getenv("JOBD_BIN"), dir, dir);
	out = harness_sh(cmd, &st);
	pid = atol(out);
	free(out);
	free(cmd);
	for (i = 0; i < 200 && c == NULL; i++) {
		if ((c = client_connect(sock, &err)) == NULL) {
			free(err);
			usleep(50000);
		}
	}
	ck_assert_msg(c != NULL, "cannot connect to the activation socket");
	r = client_call(c, "daemon.status", NULL, TEST_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	/* systemd-socket-activate execs jobd in its own process. */
	ck_assert_int_eq(json_integer_value(json_object_get(harness_ok(r),
	    "pid")), pid);
	json_decref(r);
	client_close(c);
	xasprintf(&cmd, "%s/own.sock", dir);
	ck_assert_int_ne(access(cmd, F_OK), 0);
	free(cmd);
	kill((pid_t)pid, SIGTERM);
	for (i = 0; i < 200 && kill((pid_t)pid, 0) == 0; i++)
		usleep(50000);
	ck_assert_int_ne(kill((pid_t)pid, 0), 0);
	/* The socket belongs to the service manager: still there. */
	ck_assert_int_eq(access(sock, F_OK), 0);
	xasprintf(&cmd, "rm -rf %s", dir);
	free(harness_sh(cmd, &st));
	free(cmd);
}
END_TEST

/*
 * The bad-input corpus (tests/corpus/bad): each line gets a JSON-RPC error
 * (or, for the few valid ones, an answer) or a clean close, and the daemon
 * keeps serving. Then a 3 MiB line, NUL bytes and all.
 */
START_TEST(test_bad_corpus)
{
	static const char *const valid[] = { "crlf-line", "batch-mixed",
	    "whitespace-only", NULL };
	const char *const extra[] = { "-o", "cpu.workers=1", "-o",
	    "files.allowed_roots=/etc /tmp", NULL };
	struct harness	*h = harness_start(extra);
	struct client	*c;
	struct dirent	*de;
	DIR		*d;
	char		*dir, *path, *buf;
	FILE		*f;
	json_t		*r;
	size_t		 len, i;
	int		 n = 0, ok;

	xasprintf(&dir, "%s/tests/corpus/bad", getenv("JOBD_SRCDIR"));
	d = opendir(dir);
	ck_assert_msg(d != NULL, "no corpus in %s", dir);
	buf = xmalloc(1 << 20);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		xasprintf(&path, "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		len = fread(buf, 1, (1 << 20) - 1, f);
		fclose(f);
		free(path);
		c = harness_client(h);
		ck_assert_int_eq(client_send_raw(c, buf, len), 0);
		ck_assert_int_eq(client_send_raw(c, "\n", 1), 0);
		for (i = 0; valid[i] != NULL; i++) {
			if (strncmp(de->d_name, valid[i], strlen(valid[i])) == 0)
				break;
		}
		if (strcmp(de->d_name, "whitespace-only.txt") == 0)
			r = client_recv(c, 300);
		else
			r = client_recv(c, TEST_TIMEOUT_MS);
		if (valid[i] == NULL) {
			ok = r != NULL && ((json_is_object(r) &&
			    json_object_get(r, "error") != NULL) ||
			    json_is_array(r));
			if (r == NULL)	/* a clean close is fine too */
				ok = errno == ECONNRESET;
			ck_assert_msg(ok, "%s: not an error: %s", de->d_name,
			    r != NULL ? json_dumps(r, 0) : strerror(errno));
		} else if (strcmp(valid[i], "whitespace-only") == 0)
			ck_assert_ptr_null(r);
		else
			ck_assert_msg(r != NULL, "%s: no answer", de->d_name);
		json_decref(r);
		client_close(c);
		n++;
		/* The daemon is still there for everyone else. */
		r = harness_call(h, "daemon.status", NULL);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    harness_ok(r), "pid")), harness_pid(h));
		json_decref(r);
	}
	closedir(d);
	free(dir);
	ck_assert_int_ge(n, 60);

	/* 3 MiB with NULs and invalid UTF-8: -32005, closed, nothing else. */
	free(buf);
	len = 3 << 20;
	buf = xmalloc(len);
	for (i = 0; i < len; i++)
		buf[i] = "{\"a\0\xff["[i % 7];
	c = harness_client(h);
	client_send_raw(c, buf, len);
	r = client_recv(c, TEST_TIMEOUT_MS);
	ck_assert_int_eq(code_of(r), RPC_TOO_LARGE);
	json_decref(r);
	ck_assert_ptr_null(client_recv(c, TEST_TIMEOUT_MS));
	client_close(c);
	free(buf);
	r = harness_run(h, "squares", json_pack("{s:i, s:i}", "from", 1,
	    "to", 2));
	ck_assert_str_eq(json_string_value(json_object_get(r, "state")), "done");
	json_decref(r);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/*
 * Past daemon.drain_timeout_s a running job is cancelled and its waiter
 * answered; a second SIGTERM stops at once.
 */
START_TEST(test_drain_timeout_and_second_signal)
{
	const char *const extra[] = { "-o", "cpu.workers=1", "-o",
	    "daemon.drain_timeout_s=1", NULL };
	const char *const slow[] = { "-o", "cpu.workers=1", "-o",
	    "daemon.drain_timeout_s=600", NULL };
	struct harness	*h = harness_start(extra);
	struct client	*c = harness_client(h);
	json_t		*req, *r;
	int		 st, i;

	req = json_pack("{s:s, s:i, s:s, s:{s:s, s:{s:i}, s:b}}", "jsonrpc",
	    "2.0", "id", 9, "method", "job.submit", "params", "type", "spin",
	    "args", "ms", 600000, "wait", 1);
	ck_assert_int_eq(client_send(c, req), 0);
	wait_running(h, 1);
	kill(harness_pid(h), SIGTERM);
	r = client_recv(c, TEST_TIMEOUT_MS);
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(json_string_value(json_object_get(harness_ok(r),
	    "state")), "cancelled");
	json_decref(r);
	client_close(c);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);

	/* A drain that would take ten minutes, cut short by a second signal. */
	h = harness_start(slow);
	c = harness_client(h);
	ck_assert_int_eq(client_send(c, req), 0);
	json_decref(req);
	wait_running(h, 1);
	kill(harness_pid(h), SIGTERM);
	usleep(200000);
	ck_assert_int_eq(waitpid(harness_pid(h), &st, WNOHANG), 0);
	kill(harness_pid(h), SIGTERM);
	for (i = 0; i < 200 && waitpid(harness_pid(h), &st, WNOHANG) == 0; i++)
		usleep(50000);
	ck_assert_msg(i < 200, "a second SIGTERM did not stop jobd");
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	client_close(c);
	harness_forget(h);
}
END_TEST

/* A path through a symbolic link is refused at every component. */
START_TEST(test_path_open_nofollow)
{
	char	 dir[] = "/tmp/jobd-path.XXXXXX", path[256], *cmd;
	int	 fd, st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/real", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/real/f", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof path, "%s/link", dir);
	ck_assert_int_eq(symlink("real", path), 0);

	snprintf(path, sizeof path, "%s/real/f", dir);
	fd = path_open_nofollow(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(path, sizeof path, "%s/link/f", dir);	/* a middle link */
	ck_assert_int_eq(path_open_nofollow(path, O_RDONLY), -1);
	ck_assert(errno == ELOOP || errno == ENOTDIR);
	snprintf(path, sizeof path, "%s/link", dir);	/* the last one */
	ck_assert_int_eq(path_open_nofollow(path, O_RDONLY), -1);
	ck_assert_int_eq(path_open_nofollow("relative/f", O_RDONLY), -1);
	xasprintf(&cmd, "rm -rf %s", dir);
	free(harness_sh(cmd, &st));
	free(cmd);
}
END_TEST

/* The daemon's resident memory in KiB. */
static long
daemon_rss_kb(struct harness *h)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)harness_pid(h));
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static int
connections(struct harness *h)
{
	json_t	*r;
	int	 n;

	r = harness_call(h, "daemon.status", NULL);
	n = (int)json_integer_value(json_object_get(harness_ok(r),
	    "connections"));
	json_decref(r);
	return n;
}

/*
 * A client that never reads is dropped once its backlog passes
 * max_output_bytes; its jobs finish and stay retrievable; others are
 * served all along.
 */
START_TEST(test_slow_reader)
{
	const char *const extra[] = { "-o", "limits.max_output_bytes=64K",
	    NULL };
	struct harness	*h = harness_start(extra);
	struct client	*slow;
	json_t		*req, *r, *jobs;
	json_int_t	 accepted = 0, done;
	long		 before, after;
	int		 i, n = 400, sent;

	before = daemon_rss_kb(h);
	slow = harness_client(h);
	for (i = 0; i < n; i++) {
		req = json_pack("{s:s, s:i, s:s, s:{s:s, s:b, s:{s:i, s:i, "
		    "s:b}}}", "jsonrpc", "2.0", "id", i, "method", "job.submit",
		    "params", "type", "squares", "wait", 1, "args", "from", 1,
		    "to", 1000, "values", 1);
		/* The daemon may drop it before it has sent them all. */
		sent = client_send(slow, req);
		json_decref(req);
		if (sent == -1)
			break;
	}
	ck_assert_int_gt(i, 0);
	/* Others are answered meanwhile, and the slow one goes. */
	for (i = 0; i < 1200 && connections(h) != 1; i++)
		usleep(50000);
	ck_assert_int_eq(connections(h), 1);
	/* Every job it got in before it was dropped finishes, and is kept. */
	for (i = 0; i < 1200; i++) {
		r = harness_call(h, "daemon.status", NULL);
		jobs = json_object_get(harness_ok(r), "jobs");
		accepted = json_integer_value(json_object_get(harness_ok(r),
		    "retained"));
		done = json_integer_value(json_object_get(jobs, "done"));
		json_decref(r);
		if (accepted > 0 && done == accepted)
			break;
		usleep(50000);
	}
	ck_assert_int_lt(i, 1200);
	ck_assert_int_le(accepted, n);
	after = daemon_rss_kb(h);
	fprintf(stderr, "slow reader: jobd RSS %ld KiB before, %ld KiB after "
	    "(%lld of %d jobs accepted, all done and retained)\n", before,
	    after, (long long)accepted, n);
	ck_assert_int_lt(after - before, 64 * 1024);
	client_close(slow);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* 1000 clients at once, each waiting for a job; all answered. */
START_TEST(test_thousand_clients)
{
	enum { N = 1000 };
	struct harness	*h = harness_start(NULL);
	static struct client *cs[N];
	json_t		*req, *r;
	long		 before, after;
	int		 i;

	before = daemon_rss_kb(h);
	req = json_pack("{s:s, s:i, s:s, s:{s:s, s:b, s:{s:i}}}", "jsonrpc",
	    "2.0", "id", 1, "method", "job.submit", "params", "type", "sleep",
	    "wait", 1, "args", "ms", 200);
	for (i = 0; i < N; i++) {
		cs[i] = harness_client(h);
		ck_assert_int_eq(client_send(cs[i], req), 0);
	}
	json_decref(req);
	ck_assert_int_eq(connections(h), N + 1);
	for (i = 0; i < N; i++) {
		r = client_recv(cs[i], TEST_TIMEOUT_MS);
		ck_assert_msg(r != NULL, "client %d got no answer", i);
		ck_assert_str_eq(json_string_value(json_object_get(
		    harness_ok(r), "state")), "done");
		json_decref(r);
	}
	after = daemon_rss_kb(h);
	for (i = 0; i < N; i++)
		client_close(cs[i]);
	for (i = 0; i < 200 && connections(h) != 1; i++)
		usleep(50000);
	ck_assert_int_eq(connections(h), 1);
	fprintf(stderr, "1000 clients: jobd RSS %ld KiB before, %ld KiB with "
	    "them, %ld KiB after they left\n", before, after, daemon_rss_kb(h));
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/*
 * Workers stopped (SIGSTOP) or killed in a loop during jobs: every job
 * ends in a defined state and every slot is refilled.
 */
START_TEST(test_worker_faults_loop)
{
	struct harness	*h = harness_start(one_worker);
	json_t		*r, *w;
	pid_t		 pid;
	int		 round, i;
	char		 id[64];

	for (round = 0; round < 6; round++) {
		r = harness_call(h, "job.submit", json_pack("{s:s, s:{s:i}, "
		    "s:i}", "type", "spin", "args", "ms", 60000, "timeout_ms",
		    1500));
		snprintf(id, sizeof id, "%s", json_string_value(json_object_get(
		    harness_ok(r), "id")));
		json_decref(r);
		wait_running(h, 1);
		r = harness_call(h, "daemon.status", NULL);
		w = json_array_get(json_object_get(json_object_get(
		    json_object_get(harness_ok(r), "pools"), "cpu"), "workers"),
		    0);
		pid = (pid_t)json_integer_value(json_object_get(w, "pid"));
		json_decref(r);
		ck_assert_int_gt(pid, 0);
		kill(pid, round % 2 ? SIGKILL : SIGSTOP);
		r = harness_await(h, id, NULL);
		/* Stopped: the timeout kills it. Killed: retried, then timeout. */
		ck_assert_str_eq(json_string_value(json_object_get(r, "state")),
		    "timeout");
		json_decref(r);
	}
	/* The slot is refilled and works. */
	for (i = 0; i < 3; i++) {
		r = harness_run(h, "squares", json_pack("{s:i, s:i}", "from", 1,
		    "to", 3));
		ck_assert_str_eq(json_string_value(json_object_get(r, "state")),
		    "done");
		json_decref(r);
	}
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

/* A client that leaves while waiting changes nothing for the job. */
START_TEST(test_disconnect_mid_wait)
{
	struct harness	*h = harness_start(one_worker);
	struct client	*c;
	json_t		*r, *req;
	char		 id[64];
	int		 i;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:{s:i}}", "type",
	    "spin", "args", "ms", 300));
	snprintf(id, sizeof id, "%s", json_string_value(json_object_get(
	    harness_ok(r), "id")));
	json_decref(r);
	for (i = 0; i < 20; i++) {
		c = harness_client(h);
		req = json_pack("{s:s, s:i, s:s, s:{s:s}}", "jsonrpc", "2.0",
		    "id", 1, "method", "job.wait", "params", "id", id);
		ck_assert_int_eq(client_send(c, req), 0);
		json_decref(req);
		client_close(c);
	}
	r = harness_await(h, id, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(r, "state")), "done");
	json_decref(r);
	ck_assert_int_eq(connections(h), 1);
	ck_assert_int_eq(WEXITSTATUS(harness_stop(h)), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("daemon");
	TCase	*tc = tcase_create("daemon");
	SRunner	*sr;
	int	 failed;

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_version_and_usage);
	tcase_add_test(tc, test_path_open_nofollow);
	tcase_add_test(tc, test_config_check);
	tcase_add_test(tc, test_socket_file);
	tcase_add_test(tc, test_error_codes);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_drain);
	tcase_add_test(tc, test_metrics_promtool);
	tcase_add_test(tc, test_reload);
	tcase_add_test(tc, test_notify);
	tcase_add_test(tc, test_socket_activation);
	tcase_add_test(tc, test_bad_corpus);
	tcase_add_test(tc, test_drain_timeout_and_second_signal);
	tcase_add_test(tc, test_slow_reader);
	tcase_add_test(tc, test_thousand_clients);
	tcase_add_test(tc, test_worker_faults_loop);
	tcase_add_test(tc, test_disconnect_mid_wait);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
