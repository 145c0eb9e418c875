/*
 * Test harness: run the real jobd on a temporary socket and talk to it.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

int		 harness_standalone;

/* Assert outside Check too (fuzz targets): Check needs its runner. */
#define H_ASSERT(cond, ...) do {					\
	if (!(cond)) {							\
		if (harness_standalone) {				\
			fprintf(stderr, __VA_ARGS__);			\
			abort();					\
		}							\
		ck_abort_msg(__VA_ARGS__);				\
	}								\
} while (0)

struct harness {
	char		 dir[256];
	char		 sock[PATH_MAX];
	char		 log[PATH_MAX];
	char		 file[PATH_MAX];
	pid_t		 pid;
	struct client	*c;
};

static int
harness_rm_cb(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* Print the daemon's log, for a failing test. */
static void
harness_dump_log(struct harness *h)
{
	char	 buf[4096];
	FILE	*f;
	size_t	 n;

	if ((f = fopen(h->log, "r")) == NULL)
		return;
	fprintf(stderr, "---- jobd log (%s) ----\n", h->log);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "---- end of jobd log ----\n");
	fclose(f);
}

/* Start the daemon in h's directory and wait until it accepts. */
static void
harness_spawn(struct harness *h, const char *const *extra)
{
	const char	*bin = getenv("JOBD_BIN"), *wrap;
	char		*argv[128], *wrapcopy = NULL, *tok, *save;
	char		 conf[PATH_MAX], dl[PATH_MAX], ovr_dl[PATH_MAX + 32];
	char		 ovr_st[PATH_MAX + 32];
	struct client	*c;
	char		*err = NULL;
	int		 argc = 0, fd, i, status;

	ck_assert_msg(bin != NULL, "JOBD_BIN not set");
	snprintf(conf, sizeof conf, "%s/jobd.conf", h->dir);
	snprintf(dl, sizeof dl, "%s/downloads", h->dir);
	snprintf(ovr_dl, sizeof ovr_dl, "io.download_dir=%s", dl);
	snprintf(ovr_st, sizeof ovr_st, "daemon.state_dir=%s", h->dir);

	if ((wrap = getenv("JOBD_TEST_WRAPPER")) != NULL && *wrap != '\0') {
		wrapcopy = xstrdup(wrap);
		for (tok = strtok_r(wrapcopy, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	argv[argc++] = (char *)bin;
	argv[argc++] = (char *)"-c";
	argv[argc++] = conf;
	argv[argc++] = (char *)"-s";
	argv[argc++] = h->sock;
	argv[argc++] = (char *)"-o";
	argv[argc++] = ovr_dl;
	argv[argc++] = (char *)"-o";
	argv[argc++] = ovr_st;
	if (getenv("JOBD_TEST_DEBUG") != NULL)
		argv[argc++] = (char *)"-d";
	for (i = 0; extra != NULL && extra[i] != NULL && argc < 120; i++)
		argv[argc++] = (char *)extra[i];
	argv[argc] = NULL;

	h->pid = fork();
	ck_assert_int_ge(h->pid, 0);
	if (h->pid == 0) {
		fd = open(h->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd != -1 && getenv("JOBD_TEST_VERBOSE") == NULL)
			dup2(fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	free(wrapcopy);

	/* Wait for it to accept; valgrind makes start-up slow. */
	for (i = 0; i < 600; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
			harness_dump_log(h);
			ck_abort_msg("jobd exited during start-up (status %d)",
			    status);
		}
		if ((c = client_connect(h->sock, &err)) != NULL) {
			h->c = c;
			return;
		}
		free(err);
		err = NULL;
		usleep(50000);
	}
	harness_dump_log(h);
	kill(h->pid, SIGKILL);
	ck_abort_msg("jobd did not start listening on %s", h->sock);
}

struct harness *
harness_start(const char *const *extra)
{
	return harness_start_conf("", extra);
}

struct harness *
harness_start_conf(const char *conf, const char *const *extra)
{
	struct harness	*h;
	char		 path[PATH_MAX];
	int		 fd;

	h = xcalloc(1, sizeof *h);
	snprintf(h->dir, sizeof h->dir, "/tmp/jobd-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->dir));
	snprintf(h->sock, sizeof h->sock, "%s/jobd.sock", h->dir);
	snprintf(h->log, sizeof h->log, "%s/jobd.log", h->dir);
	snprintf(path, sizeof path, "%s/downloads", h->dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/jobd.conf", h->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, conf, strlen(conf)), (ssize_t)strlen(conf));
	close(fd);
	harness_spawn(h, extra);
	return h;
}

void
harness_crash(struct harness *h)
{
	int	 status;

	client_close(h->c);
	h->c = NULL;
	kill(h->pid, SIGKILL);
	waitpid(h->pid, &status, 0);
}

void
harness_restart(struct harness *h, const char *const *extra)
{
	harness_spawn(h, extra);
}

int
harness_stop(struct harness *h)
{
	int	 status = -1, i;

	if (h->c != NULL)
		client_close(h->c);
	kill(h->pid, SIGTERM);
	for (i = 0; i < 1200; i++) {
		if (waitpid(h->pid, &status, WNOHANG) == h->pid)
			break;
		usleep(50000);
	}
	if (i == 1200) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
		harness_dump_log(h);
		ck_abort_msg("jobd did not exit on SIGTERM");
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    getenv("JOBD_TEST_KEEP_LOG") != NULL)
		harness_dump_log(h);
	nftw(h->dir, harness_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(h);
	return status;
}

void
harness_forget(struct harness *h)
{
	if (h->c != NULL)
		client_close(h->c);
	nftw(h->dir, harness_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(h);
}

pid_t
harness_pid(const struct harness *h)
{
	return h->pid;
}

const char *
harness_socket(const struct harness *h)
{
	return h->sock;
}

const char *
harness_dir(const struct harness *h)
{
	return h->dir;
}

struct client *
harness_client(struct harness *h)
{
	struct client	*c;
	char		*err = NULL;

	c = client_connect(h->sock, &err);
	ck_assert_msg(c != NULL, "connect: %s", err != NULL ? err : "?");
	return c;
}

json_t *
harness_call(struct harness *h, const char *method, json_t *params)
{
	json_t	*r;

	r = client_call(h->c, method, params, TEST_TIMEOUT_MS);
	ck_assert_msg(r != NULL, "no answer to %s: %s", method,
	    strerror(errno));
	return r;
}

json_t *
harness_run(struct harness *h, const char *type, json_t *args)
{
	json_t	*r, *rec;

	r = harness_call(h, "job.submit", json_pack("{s:s, s:o, s:b}",
	    "type", type, "args", args, "wait", 1));
	rec = json_incref(harness_ok(r));
	json_decref(r);
	return rec;
}

json_t *
harness_ok(json_t *resp)
{
	json_t	*res = json_object_get(resp, "result");

	if (res == NULL) {
		char *s = json_dumps(resp, JSON_COMPACT);
		ck_abort_msg("expected a result, got %s", s);
	}
	return res;
}

int
harness_err(json_t *resp)
{
	json_t	*e = json_object_get(resp, "error");

	if (e == NULL) {
		char *s = json_dumps(resp, JSON_COMPACT);
		ck_abort_msg("expected an error, got %s", s);
	}
	return (int)json_integer_value(json_object_get(e, "code"));
}

const char *
harness_file(struct harness *h, const char *name, const void *data,
    size_t len)
{
	int	 fd;

	ck_assert_int_lt(snprintf(h->file, sizeof h->file, "%s/%s", h->dir,
	    name), (int)sizeof h->file);
	fd = open(h->file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return h->file;
}

char *
harness_sh(const char *cmd, int *status)
{
	FILE	*f;
	char	*out = NULL;
	size_t	 len = 0, n;
	char	 buf[4096];

	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		out = xreallocarray(out, len + n + 1, 1);
		memcpy(out + len, buf, n);
		len += n;
	}
	if (out == NULL)
		out = xstrdup("");
	else
		out[len] = '\0';
	*status = pclose(f);
	return out;
}

json_t *
harness_await(struct harness *h, const char *id, const char *state)
{
	json_t	*r, *rec;
	int	 i;

	for (i = 0; i < 1200; i++) {
		r = harness_call(h, "job.get", json_pack("{s:s}", "id", id));
		rec = harness_ok(r);
		const char *s = json_string_value(json_object_get(rec, "state"));
		if (state != NULL ? strcmp(s, state) == 0 :
		    job_state_parse(s) >= JOB_DONE) {
			json_incref(rec);
			json_decref(r);
			return rec;
		}
		json_decref(r);
		usleep(50000);
	}
	ck_abort_msg("job %s never reached %s", id, state ? state : "an end");
	return NULL;
}

static char	 inproc_dir[64];
static char	 inproc_sock[128];
static struct config inproc_cfg;

struct event_base *
inproc_start(const struct engine *io, const struct engine *cpu)
{
	signal(SIGPIPE, SIG_IGN);	/* as jobd's main() does */
	snprintf(inproc_dir, sizeof inproc_dir, "/tmp/jobd-unit.XXXXXX");
	H_ASSERT(mkdtemp(inproc_dir) != NULL, "mkdtemp");
	snprintf(inproc_sock, sizeof inproc_sock, "%s/s", inproc_dir);
	log_init("test", getenv("JOBD_TEST_DEBUG") ? LOG_LEVEL_DEBUG :
	    LOG_LEVEL_WARN);
	memset(&inproc_cfg, 0, sizeof inproc_cfg);
	config_defaults(&inproc_cfg);
	cfg = &inproc_cfg;
	main_base = event_base_new();
	main_start_mono = now_mono_us();
	job_init(main_base);
	sched_init();
	rpc_init(main_base);
	if (io != NULL)
		sched_set_engine(CLASS_IO, io);
	if (cpu != NULL)
		sched_set_engine(CLASS_CPU, cpu);
	H_ASSERT(server_listen(main_base, inproc_sock, 0600, NULL) == 0,
	    "server_listen %s", inproc_sock);
	return main_base;
}

void
inproc_stop(void)
{
	server_shutdown();
	sched_shutdown();
	job_shutdown();
	event_base_free(main_base);
	main_base = NULL;
	config_free(&inproc_cfg);
	rmdir(inproc_dir);
}

struct client *
inproc_client(void)
{
	struct client	*c;
	char		*err = NULL;

	c = client_connect(inproc_sock, &err);
	H_ASSERT(c != NULL, "connect: %s", err);
	inproc_pump();
	return c;
}

void
inproc_pump(void)
{
	int	 i;

	for (i = 0; i < 20; i++)
		event_base_loop(main_base, EVLOOP_NONBLOCK);
}

/* Pump the loop until the client has a message. */
static json_t *
inproc_recv(struct client *c)
{
	json_t	*v;
	int	 i;

	for (i = 0; i < 2000; i++) {
		inproc_pump();
		if ((v = client_recv(c, 1)) != NULL)
			return v;
		if (errno != ETIMEDOUT)
			return NULL;
	}
	return NULL;
}

json_t *
inproc_line(struct client *c, const char *line)
{
	H_ASSERT(client_send_raw(c, line, strlen(line)) == 0, "send");
	H_ASSERT(client_send_raw(c, "\n", 1) == 0, "send");
	return inproc_recv(c);
}

json_t *
inproc_call(struct client *c, const char *method, json_t *params)
{
	json_t	*req, *r;
	static json_int_t next = 1000000;

	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", next++,
	    "method", method);
	if (params != NULL)
		json_object_set_new(req, "params", params);
	H_ASSERT(client_send(c, req) == 0, "send");
	json_decref(req);
	r = inproc_recv(c);
	H_ASSERT(r != NULL, "no answer to %s", method);
	return r;
}

int		 fake_capacity;
struct job	*fake_started[FAKE_MAX];
int		 fake_nstarted;
int		 fake_running;
int		 fake_ncancels;

static int
fake_has_capacity(void)
{
	return fake_running < fake_capacity;
}

static void
fake_start(struct job *job)
{
	H_ASSERT(fake_nstarted < FAKE_MAX, "fake engine full");
	fake_started[fake_nstarted++] = job;
	fake_running++;
	job->engine = (void *)&fake_engine;
}

static void
fake_cancel(struct job *job, enum job_state why)
{
	fake_ncancels++;
	fake_running--;
	job_finish(job, why, NULL, why == JOB_TIMEOUT ? "timeout" : "cancelled",
	    "fake engine");
}

static json_t *
fake_status(void)
{
	return json_pack("{s:i}", "running", fake_running);
}

void
fake_complete_with(struct job *job, json_t *result)
{
	fake_running--;
	job_finish(job, JOB_DONE, result, NULL, NULL);
	sched_kick(job->class);
}

void
fake_complete(struct job *job)
{
	fake_complete_with(job, json_pack("{s:s}", "echo", job->id));
}

void
fake_reset(void)
{
	fake_capacity = 0;
	fake_nstarted = 0;
	fake_running = 0;
	fake_ncancels = 0;
}

/* t_io/t_any take {"n": int} and nothing else. */
static int
fake_check(struct job *job, json_t *args, struct rpcerr *err)
{
	static const char *const known[] = { "n", NULL };
	int64_t	 n;

	if (arg_only(args, known, err) == -1)
		return -1;
	return arg_int(args, "n", 0, 0, 1000, &n, err);
}

const struct engine fake_engine = {
	"fake", fake_has_capacity, fake_start, fake_cancel, fake_status
};
const struct jobtype fake_type_io = {
	"t_io", CLASS_IO, 1 << CLASS_IO, 1, fake_check,
	"{\"n\": \"an integer 0..1000\"}", 0
};
const struct jobtype fake_type_any = {
	"t_any", CLASS_IO, (1 << CLASS_IO) | (1 << CLASS_CPU), 1, fake_check,
	"{\"n\": \"an integer 0..1000\"}", 0
};
const struct jobtype fake_type_ping = {
	"ping", CLASS_IO, 1 << CLASS_IO, 1, fake_check,
	"{\"n\": \"an integer 0..1000\"}", 0
};
