/*
 * jobctl: the command-line client of jobd.
 *
 * Every command is a row of the command table: a name, a handler, a
 * synopsis and its help. Commands that run many jobs (count, fetch,
 * download, ping) go through one batch runner that keeps a bounded window
 * of job.submit requests with wait:true in flight on one connection and
 * matches the answers by id, so a list of a million URLs on stdin never
 * becomes a million outstanding jobs.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

/* Exit statuses (jobctl(1)). */
#define EXIT_NOTDONE	1	/* some job is not done (or a ping is down) */
#define EXIT_USAGE	2
#define EXIT_NODAEMON	3	/* jobd not reachable, or connection lost */

#define BATCH_WINDOW	256	/* jobs in flight per batch */
#define BATCH_ID_BASE	((json_int_t)1 << 32)	/* clear of client_call ids */
#define SUBMIT_MAX_STDIN (16 * 1024 * 1024)
#define TABLE_MAXCOLS	8

/* Long-only option codes. */
enum {
	OPT_JSON = 256,
	OPT_TIMEOUT_MS,
	OPT_TAG,
	OPT_CLASS,
	OPT_STATE,
	OPT_TYPE,
	OPT_LIMIT,
	OPT_VALUES,
};

struct jobctl {
	const char	*socket;
	int		 json;
	double		 timeout_s;	/* -t, 0 = none */
	uint64_t	 start;		/* mono us */
	struct client	*client;
	int		 status;	/* worst exit status so far */
};

struct jobctl_cmd {
	const char	*name;
	int		 (*handler)(struct jobctl *, const struct jobctl_cmd *,
			     int, char **);
	const char	*synopsis;	/* after the name */
	const char	*summary;	/* one line */
	const char	*help;		/* options and an example */
};

/* A table printed with aligned columns. */
struct table {
	FILE		*fp;
	int		 ncols;
	const char	*head[TABLE_MAXCOLS];
	const char	*align;		/* 'l' or 'r' per column */
	size_t		 width[TABLE_MAXCOLS];
	char		**cells;	/* nrows * ncols, owned */
	size_t		 nrows;
	int		 stream;	/* print each row at once */
	int		 headed;
};

/* One job of a batch: in flight, or waiting to be sent again. */
struct batch_slot {
	json_int_t	 id;		/* request id; 0 = free */
	size_t		 index;		/* item number */
	char		*item;
	json_t		*params;	/* job.submit params, kept to resend */
	uint64_t	 retry_at;	/* mono us; 0 = in flight */
};

/* A finished item kept to be reported in argument order. */
struct batch_done {
	char		*item;
	json_t		*record;	/* NULL: nothing to report */
};

struct batch {
	struct jobctl	*j;
	const char	*type;
	/* Job args for an item; NULL after reporting a bad item. */
	json_t		*(*args)(struct batch *, const char *);
	/* Report one finished job (any state); record borrowed. */
	void		 (*report)(struct batch *, const char *, json_t *);
	void		*arg;
	const char	*name;		/* download -o */

	char		**argv;		/* items; "-" reads stdin */
	int		 argc;
	int		 argi;
	int		 in_stdin;	/* reading lines of stdin now */
	int		 eof;
	char		*line;
	size_t		 linesize;

	size_t		 nitems;	/* taken so far */
	int		 busy;		/* slots in use */
	json_int_t	 seq;
	struct batch_slot slots[BATCH_WINDOW];
	struct batch_done *done;	/* argv order, when no stdin */
	size_t		 ndone;
};

#define CMD_PROTO(f) static int f(struct jobctl *, const struct jobctl_cmd *, \
		     int, char **)
CMD_PROTO(cmd_count);
CMD_PROTO(cmd_squares);
CMD_PROTO(cmd_submit);
CMD_PROTO(cmd_get);
CMD_PROTO(cmd_wait);
CMD_PROTO(cmd_cancel);
CMD_PROTO(cmd_list);
CMD_PROTO(cmd_status);
CMD_PROTO(cmd_types);
CMD_PROTO(cmd_fetch);
CMD_PROTO(cmd_download);
CMD_PROTO(cmd_ping);
CMD_PROTO(cmd_help);

static const struct jobctl_cmd jobctl_cmds[] = {
	{ "count", cmd_count, "FILE...",
	  "Count the characters, lines and bytes of each file",
	  "Each FILE is read by the daemon's workers (a relative path is\n"
	  "made absolute here first). Columns: chars (UTF-8 code points,\n"
	  "as wc -m), lines (as wc -l), bytes, whether the file is valid\n"
	  "UTF-8; a total line follows when there is more than one file.\n"
	  "'-' reads file names from stdin, one per line.\n"
	  "\nExample:\n  jobctl count /var/log/syslog notes.txt\n" },
	{ "squares", cmd_squares, "FROM TO [--values]",
	  "Sum the squares of the integers FROM..TO (inclusive)",
	  "Options:\n"
	  "  -v, --values   also list the squares (at most 10000 of them)\n"
	  "\nExample:\n  jobctl squares 1 1000000000\n" },
	{ "submit", cmd_submit, "[options] TYPE [key=value...] | -",
	  "Submit any job",
	  "Each value is taken as JSON when it parses as JSON (numbers,\n"
	  "true/false, null, objects, arrays, \"quoted strings\"), else as\n"
	  "a string. With '-' the whole job {\"type\": ..., \"args\": {...},\n"
	  "...} is read from stdin. Without --wait the job's id is printed.\n"
	  "\nOptions:\n"
	  "  -w, --wait           wait for the job and print its record\n"
	  "  -p, --priority N     higher runs first (default 0)\n"
	  "      --tag TAG        a label echoed in the record\n"
	  "      --class io|cpu   run on this engine instead of the type's\n"
	  "      --timeout-ms N   fail the job with state timeout after N ms\n"
	  "\nExamples:\n"
	  "  jobctl submit sleep ms=2000\n"
	  "  jobctl submit --wait --priority 5 squares from=1 to=100 "
	  "values=true\n"
	  "  echo '{\"type\":\"spin\",\"args\":{\"ms\":100}}' | "
	  "jobctl submit -\n" },
	{ "get", cmd_get, "ID...",
	  "Show a job's record, in any state",
	  "The exit status is 0 only if every job is done.\n"
	  "\nExample:\n  jobctl get j-1f2e3d\n" },
	{ "wait", cmd_wait, "[--timeout-ms N] ID...",
	  "Wait for jobs to finish and show their records",
	  "Options:\n"
	  "  --timeout-ms N   return the record as it stands after N ms\n"
	  "\nExample:\n  jobctl wait \"$(jobctl submit sleep ms=500)\"\n" },
	{ "cancel", cmd_cancel, "ID...",
	  "Cancel jobs",
	  "A queued job never starts, a running transfer is aborted, a\n"
	  "running CPU job's worker is killed. The exit status is 0 when\n"
	  "every job has ended (cancelled, or it had finished already).\n"
	  "\nExample:\n  jobctl cancel j-1f2e3d\n" },
	{ "list", cmd_list, "[--state S] [--type T] [--limit N]",
	  "List jobs",
	  "Options:\n"
	  "  --state S   only jobs in state S (queued, running, done, failed,\n"
	  "              timeout, cancelled)\n"
	  "  --type T    only jobs of type T\n"
	  "  --limit N   at most N jobs\n"
	  "\nExample:\n  jobctl list --state failed --limit 20\n" },
	{ "status", cmd_status, "",
	  "Show the daemon's pools, queues and counters",
	  "\nExample:\n  jobctl status\n" },
	{ "types", cmd_types, "[TYPE...]",
	  "List the job types, or describe the arguments of some",
	  "\nExamples:\n  jobctl types\n  jobctl types fetch\n" },
	{ "fetch", cmd_fetch, "URL...|-",
	  "GET each URL and show status, bytes, time",
	  "URLs come from the arguments, or from stdin ('-', or none given\n"
	  "and stdin is not a terminal), one per line; blank lines and lines\n"
	  "starting with # are skipped. Results from stdin are printed as\n"
	  "they finish. HTTP error statuses are results, not failures.\n"
	  "\nExamples:\n"
	  "  jobctl fetch https://example.org/\n"
	  "  jobctl --json fetch < urls.txt\n" },
	{ "download", cmd_download, "[-o NAME] URL...|-",
	  "Download each URL into the daemon's download directory",
	  "Options:\n"
	  "  -o, --output NAME   the file name (only with one URL); by\n"
	  "                      default the URL's last path segment, or\n"
	  "                      index.html\n"
	  "URLs may come from stdin as for fetch.\n"
	  "\nExample:\n  jobctl download -o kernel.tar.xz https://example.org/"
	  "linux.tar.xz\n" },
	{ "ping", cmd_ping, "URL|HOST:PORT...|-",
	  "Check whether each target is up",
	  "A URL is checked over HTTP (HEAD, else GET), HOST:PORT (or\n"
	  "[ADDR]:PORT) by a TCP connect. The exit status is 0 only if every\n"
	  "target is up. Targets may come from stdin as for fetch.\n"
	  "\nExamples:\n"
	  "  jobctl ping https://example.org/ db.internal:5432\n" },
	{ "help", cmd_help, "[COMMAND]",
	  "Show the help, or a command's",
	  "\nExample:\n  jobctl help submit\n" },
};
static const size_t jobctl_ncmds = nitems(jobctl_cmds);

static __attribute__((noreturn)) void jobctl_usage(const struct jobctl_cmd *,
		     const char *, ...) __attribute__((format(printf, 2, 3)));

/* Keep the worst exit status. */
static void
jobctl_fail(struct jobctl *j, int status)
{
	if (status > j->status)
		j->status = status;
}

/* Print the overall help. */
static void
jobctl_help(FILE *fp)
{
	size_t	 i;
	char	 left[64];

	fprintf(fp, "usage: jobctl [-s SOCKET] [--json] [-t SECS] COMMAND "
	    "[ARGS]\n\nCommands:\n");
	for (i = 0; i < jobctl_ncmds; i++) {
		snprintf(left, sizeof left, "%s %s", jobctl_cmds[i].name,
		    jobctl_cmds[i].synopsis);
		fprintf(fp, "  %-34s %s\n", left, jobctl_cmds[i].summary);
	}
	fprintf(fp, "\nOptions:\n"
	    "  -s, --socket PATH   the daemon's socket (default $JOBD_SOCKET, "
	    "else %s)\n"
	    "      --json          one compact JSON object per line\n"
	    "  -t, --timeout SECS  give up after SECS seconds in all\n"
	    "  -V, --version       print the version\n"
	    "  -h, --help          this help; 'jobctl COMMAND -h' for a "
	    "command's\n"
	    "\nExit status: 0 every job done, 1 some job not done, 2 usage "
	    "error,\n3 daemon not reachable.\n"
	    "\nExamples:\n"
	    "  jobctl count /var/log/syslog *.txt\n"
	    "  jobctl squares 1 1000000000\n"
	    "  jobctl submit sleep ms=500 --wait\n"
	    "  grep -v '^#' urls.txt | jobctl --json fetch\n",
	    JOBD_DEFAULT_SOCKET);
}

/* Print one command's help. */
static void
jobctl_cmd_help(const struct jobctl_cmd *cmd, FILE *fp)
{
	fprintf(fp, "usage: jobctl %s %s\n\n%s.\n\n%s", cmd->name,
	    cmd->synopsis, cmd->summary, cmd->help);
}

/* Report a usage error and exit 2. */
static void
jobctl_usage(const struct jobctl_cmd *cmd, const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fprintf(stderr, "jobctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "\nusage: jobctl %s %s\n"
		    "Try 'jobctl %s -h' for more.\n", cmd->name, cmd->synopsis,
		    cmd->name);
	else
		fprintf(stderr, "\nTry 'jobctl -h' for more.\n");
	exit(EXIT_USAGE);
}

/* Parse a whole decimal integer within [min, max]; -1 if it is not one. */
static int
jobctl_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse a duration in seconds, "1.5", "2s", "500ms" or "1m"; -1 if bad. */
static int
jobctl_seconds(const char *s, double *out)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0 || !isfinite(v) || v <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		v /= 1000;
	else if (strcmp(end, "m") == 0)
		v *= 60;
	else if (*end != '\0' && strcmp(end, "s") != 0)
		return -1;
	if (v > 86400.0 * 365)
		return -1;
	*out = v;
	return 0;
}

/* Milliseconds left before -t runs out: -1 without -t, never below 0. */
static int
jobctl_remaining(const struct jobctl *j)
{
	uint64_t	 deadline, now;

	if (j->timeout_s <= 0)
		return -1;
	deadline = j->start + (uint64_t)(j->timeout_s * 1e6);
	now = now_mono_us();
	if (now >= deadline)
		return 0;
	if ((deadline - now) / 1000 + 1 > INT_MAX)
		return INT_MAX;
	return (int)((deadline - now + 999) / 1000);
}

/* The connection, made on first use; exits 3 if jobd is not there. */
static struct client *
jobctl_connect(struct jobctl *j)
{
	char	*err = NULL;

	if (j->client != NULL)
		return j->client;
	if ((j->client = client_connect(j->socket, &err)) == NULL) {
		fflush(stdout);
		fprintf(stderr, "jobctl: %s%s\n", err != NULL ? err :
		    "cannot connect", strncmp(err != NULL ? err : "",
		    "cannot connect", 14) == 0 ? " (is jobd running?)" : "");
		free(err);
		exit(EXIT_NODAEMON);
	}
	return j->client;
}

/*
 * The connection failed while waiting: -t ran out (exit 1, the jobs are
 * not done) or the daemon went away (exit 3).
 */
static __attribute__((noreturn)) void
jobctl_lost(struct jobctl *j, int saved_errno, size_t unfinished)
{
	fflush(stdout);
	if (saved_errno == ETIMEDOUT && j->timeout_s > 0) {
		if (unfinished > 0)
			fprintf(stderr, "jobctl: timed out after %gs, %zu "
			    "job%s unfinished\n", j->timeout_s, unfinished,
			    unfinished == 1 ? "" : "s");
		else
			fprintf(stderr, "jobctl: timed out after %gs\n",
			    j->timeout_s);
		exit(j->status > EXIT_NOTDONE ? j->status : EXIT_NOTDONE);
	}
	if (saved_errno == EBADMSG)
		fprintf(stderr, "jobctl: %s: malformed message from jobd\n",
		    j->socket);
	else
		fprintf(stderr, "jobctl: lost connection to %s: %s\n",
		    j->socket, strerror(saved_errno != 0 ? saved_errno :
		    ECONNRESET));
	exit(EXIT_NODAEMON);
}

/* A scalar as text; containers as compact JSON (truncated to buf). */
static const char *
jobctl_str(const json_t *v, char *buf, size_t len)
{
	size_t	 n;

	if (v == NULL)
		return "-";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_value(v);
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%.6g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	default:
		n = json_dumpb(v, buf, len - 1, JSON_COMPACT);
		if (n >= len - 1) {
			n = len - 1;
			if (len > 4)
				memcpy(buf + len - 4, "...", 3);
		}
		buf[n] = '\0';
		return buf;
	}
}

/* Milliseconds for people: "12.3ms", "1.52s". */
static const char *
jobctl_ms(const json_t *v, char *buf, size_t len)
{
	double	 ms;

	if (!json_is_number(v))
		return "-";
	ms = json_number_value(v);
	if (ms < 1000)
		snprintf(buf, len, "%.1fms", ms);
	else
		snprintf(buf, len, "%.2fs", ms / 1000);
	return buf;
}

/* Print one value as a compact JSON line. */
static void
jobctl_json_line(const json_t *v)
{
	/* 15 digits: 0.005 stays 0.005 rather than 0.0050000000000000001. */
	json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
}

/*
 * Report an RPC error object: "jobctl: [what: ]message (code)" with
 * error.data's field, reason and retry delay when present.
 */
static void
jobctl_rpc_error(const char *what, const json_t *error)
{
	const json_t	*data = json_object_get(error, "data");
	const char	*msg, *field, *reason;
	char		 buf[64];

	msg = json_string_value(json_object_get(error, "message"));
	field = json_string_value(json_object_get(data, "field"));
	reason = json_string_value(json_object_get(data, "reason"));
	fflush(stdout);
	fprintf(stderr, "jobctl: ");
	if (what != NULL)
		fprintf(stderr, "%s: ", what);
	fprintf(stderr, "%s (%s)", msg != NULL ? msg : "error",
	    jobctl_str(json_object_get(error, "code"), buf, sizeof buf));
	/* The message often says it all already. */
	if (field != NULL && (msg == NULL || strstr(msg, field) == NULL))
		fprintf(stderr, ": %s", field);
	if (reason != NULL && (msg == NULL || strstr(msg, reason) == NULL))
		fprintf(stderr, ": %s", reason);
	if (json_is_integer(json_object_get(data, "retry_after_ms")))
		fprintf(stderr, " (retry after %s ms)", jobctl_str(
		    json_object_get(data, "retry_after_ms"), buf, sizeof buf));
	fputc('\n', stderr);
}

/* Report a job that did not end done: "jobctl: what: state (code): msg". */
static void
jobctl_job_error(const char *what, const json_t *record)
{
	const json_t	*err = json_object_get(record, "error");
	const char	*state, *code, *msg;

	state = json_string_value(json_object_get(record, "state"));
	code = json_string_value(json_object_get(err, "code"));
	msg = json_string_value(json_object_get(err, "message"));
	fflush(stdout);
	fprintf(stderr, "jobctl: %s: %s", what, state != NULL ? state : "?");
	if (code != NULL)
		fprintf(stderr, " (%s)", code);
	if (msg != NULL && (code == NULL || strcmp(msg, code) != 0))
		fprintf(stderr, ": %s", msg);
	fputc('\n', stderr);
}

/* Whether a record is in state done. */
static int
jobctl_is_done(const json_t *record)
{
	const char	*s;

	s = json_string_value(json_object_get(record, "state"));
	return s != NULL && strcmp(s, "done") == 0;
}

/* Whether a record is in an end state. */
static int
jobctl_is_finished(const json_t *record)
{
	const char	*s;

	s = json_string_value(json_object_get(record, "state"));
	return s != NULL && strcmp(s, "queued") != 0 &&
	    strcmp(s, "running") != 0;
}

/*
 * Call a method and return its result (a new reference), or NULL after
 * reporting an RPC error (status 1). Exits when the daemon is not there.
 */
static json_t *
jobctl_call(struct jobctl *j, const char *method, json_t *params,
    const char *what)
{
	struct client	*c = jobctl_connect(j);
	json_t		*resp, *result, *error;

	resp = client_call(c, method, params, jobctl_remaining(j));
	if (resp == NULL)
		jobctl_lost(j, errno, 0);
	if ((error = json_object_get(resp, "error")) != NULL) {
		jobctl_rpc_error(what, error);
		json_decref(resp);
		jobctl_fail(j, EXIT_NOTDONE);
		return NULL;
	}
	result = json_incref(json_object_get(resp, "result"));
	json_decref(resp);
	if (result == NULL) {
		fprintf(stderr, "jobctl: %s: response without a result\n",
		    method);
		jobctl_fail(j, EXIT_NOTDONE);
	}
	return result;
}

/* Start a table; head and align ("l"/"r" per column) give the columns. */
static void
jobctl_table_init(struct table *t, int stream, const char *align,
    const char *const *head)
{
	int	 i;

	memset(t, 0, sizeof *t);
	t->fp = stdout;
	t->stream = stream;
	t->align = align;
	t->ncols = (int)strlen(align);
	if (t->ncols > TABLE_MAXCOLS)
		fatalx("%s: too many columns", __func__);
	for (i = 0; i < t->ncols; i++) {
		t->head[i] = head[i];
		t->width[i] = strlen(head[i]);
	}
}

/* Set the column widths of a streamed table. */
static void
jobctl_table_widths(struct table *t, const int *widths)
{
	int	 i;

	for (i = 0; i < t->ncols; i++) {
		if ((size_t)widths[i] > t->width[i])
			t->width[i] = (size_t)widths[i];
	}
}

/* Print one row; the last column is never padded. */
static void
jobctl_table_print_row(struct table *t, const char *const *cells)
{
	int	 i, last;

	/* Trailing empty cells get no padding, so lines end cleanly. */
	for (last = t->ncols - 1; last > 0 && *cells[last] == '\0'; last--)
		;
	for (i = 0; i <= last; i++) {
		if (i == last)
			fprintf(t->fp, "%s\n", cells[i]);
		else if (t->align[i] == 'r')
			fprintf(t->fp, "%*s  ", (int)t->width[i], cells[i]);
		else
			fprintf(t->fp, "%-*s  ", (int)t->width[i], cells[i]);
	}
}

/* Add a row: printed at once when streaming, else kept for jobctl_table_end. */
static void
jobctl_table_row(struct table *t, const char *const *cells)
{
	int	 i;
	size_t	 n;

	if (t->stream) {
		if (!t->headed) {
			jobctl_table_print_row(t, t->head);
			t->headed = 1;
		}
		jobctl_table_print_row(t, cells);
		return;
	}
	t->cells = xreallocarray(t->cells, (t->nrows + 1) * (size_t)t->ncols,
	    sizeof *t->cells);
	for (i = 0; i < t->ncols; i++) {
		t->cells[t->nrows * (size_t)t->ncols + (size_t)i] =
		    xstrdup(cells[i]);
		n = strlen(cells[i]);
		if (n > t->width[i])
			t->width[i] = n;
	}
	t->nrows++;
}

/* Print the kept rows under a header (none if there are no rows). */
static void
jobctl_table_end(struct table *t)
{
	size_t	 r, k;

	if (!t->stream && t->nrows > 0) {
		jobctl_table_print_row(t, t->head);
		for (r = 0; r < t->nrows; r++)
			jobctl_table_print_row(t, (const char *const *)
			    &t->cells[r * (size_t)t->ncols]);
	}
	for (k = 0; k < t->nrows * (size_t)t->ncols; k++)
		free(t->cells[k]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = 0;
}

/* Print a job record for people: one "key  value" line per member. */
static void
jobctl_print_record(const json_t *record)
{
	const char	*key, *k2, *msg;
	const json_t	*v, *v2;
	char		 buf[4096];

	json_object_foreach((json_t *)record, key, v) {
		if (strcmp(key, "error") == 0 && json_is_object(v)) {
			msg = json_string_value(json_object_get(v, "message"));
			printf("%-13s %s: %s\n", key, jobctl_str(
			    json_object_get(v, "code"), buf, sizeof buf),
			    msg != NULL ? msg : "");
		} else if (json_is_object(v)) {
			printf("%s:\n", key);
			json_object_foreach((json_t *)v, k2, v2)
				printf("  %-11s %s\n", k2,
				    jobctl_str(v2, buf, sizeof buf));
		} else
			printf("%-13s %s\n", key, jobctl_str(v, buf,
			    sizeof buf));
	}
}

/* Print a record either way; blank line between records for people. */
static void
jobctl_show(struct jobctl *j, const json_t *record, int *count)
{
	if (j->json)
		jobctl_json_line(record);
	else {
		if ((*count)++ > 0)
			putchar('\n');
		jobctl_print_record(record);
	}
}

/*
 * Handle the options every command takes (-h, --json, -t); anything else
 * is a usage error.
 */
static void
jobctl_common_opt(struct jobctl *j, const struct jobctl_cmd *cmd, int ch,
    char **argv)
{
	switch (ch) {
	case 'h':
		jobctl_cmd_help(cmd, stdout);
		exit(0);
	case OPT_JSON:
		j->json = 1;
		return;
	case 't':
		if (jobctl_seconds(optarg, &j->timeout_s) == -1)
			jobctl_usage(cmd, "bad timeout: %s", optarg);
		return;
	case ':':
		jobctl_usage(cmd, "option %s needs a value", argv[optind - 1]);
	default:
		if (optopt != 0)
			jobctl_usage(cmd, "unknown option -%c", optopt);
		jobctl_usage(cmd, "unknown option %s", argv[optind - 1]);
	}
}

#define COMMON_SHORTOPTS	":ht:"
#define COMMON_LONGOPTS							\
	{ "help", no_argument, NULL, 'h' },				\
	{ "json", no_argument, NULL, OPT_JSON },			\
	{ "timeout", required_argument, NULL, 't' }

static const struct option common_longopts[] = {
	COMMON_LONGOPTS,
	{ NULL, 0, NULL, 0 }
};

/* Parse a command that takes only the common options; returns optind. */
static int
jobctl_getopt(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS,
	    common_longopts, NULL)) != -1)
		jobctl_common_opt(j, cmd, ch, argv);
	return optind;
}

/* Take the next item: an argument, or a line of stdin for "-". */
static char *
jobctl_batch_next(struct batch *b)
{
	ssize_t	 n;
	char	*p, *s;

	for (;;) {
		if (b->in_stdin) {
			n = getline(&b->line, &b->linesize, stdin);
			if (n == -1) {
				if (ferror(stdin)) {
					fprintf(stderr, "jobctl: stdin: %s\n",
					    strerror(errno));
					jobctl_fail(b->j, EXIT_NOTDONE);
				}
				b->in_stdin = 0;
				continue;
			}
			p = b->line;
			while (*p == ' ' || *p == '\t')
				p++;
			s = p + strlen(p);
			while (s > p && (s[-1] == '\n' || s[-1] == '\r' ||
			    s[-1] == ' ' || s[-1] == '\t'))
				*--s = '\0';
			if (*p == '\0' || *p == '#')
				continue;
			return xstrdup(p);
		}
		if (b->argi >= b->argc)
			return NULL;
		if (strcmp(b->argv[b->argi], "-") == 0) {
			b->argi++;
			b->in_stdin = 1;
			continue;
		}
		return xstrdup(b->argv[b->argi++]);
	}
}

/* Send (or send again) a slot's job.submit with a fresh id. */
static void
jobctl_batch_send(struct batch *b, struct batch_slot *s)
{
	struct client	*c = b->j->client;
	json_t		*req;

	s->id = BATCH_ID_BASE + ++b->seq * BATCH_WINDOW + (s - b->slots);
	s->retry_at = 0;
	req = json_pack("{s:s, s:I, s:s, s:O}", "jsonrpc", "2.0", "id", s->id,
	    "method", "job.submit", "params", s->params);
	if (client_send(c, req) == -1)
		jobctl_lost(b->j, errno, (size_t)b->busy);
	json_decref(req);
}

/* Report a finished item now, or keep it for argument order. */
static void
jobctl_batch_finish(struct batch *b, size_t index, char *item, json_t *record)
{
	if (b->done != NULL) {
		b->done[index].item = item;
		b->done[index].record = json_incref(record);
		return;
	}
	if (record != NULL) {
		if (!jobctl_is_done(record))
			jobctl_fail(b->j, EXIT_NOTDONE);
		b->report(b, item, record);
	}
	free(item);
}

/* Free a slot. */
static void
jobctl_batch_release(struct batch *b, struct batch_slot *s)
{
	json_decref(s->params);
	memset(s, 0, sizeof *s);
	b->busy--;
}

/* Handle one response line. */
static void
jobctl_batch_response(struct batch *b, json_t *msg)
{
	struct batch_slot	*s;
	json_t			*id, *error, *result, *data;
	json_int_t		 n, after;

	id = json_object_get(msg, "id");
	if (!json_is_integer(id))
		return;		/* a notification, not ours */
	n = json_integer_value(id);
	if (n < BATCH_ID_BASE)
		return;
	s = &b->slots[(n - BATCH_ID_BASE) % BATCH_WINDOW];
	if (s->id != n || s->retry_at != 0)
		return;
	if ((error = json_object_get(msg, "error")) != NULL) {
		if (json_integer_value(json_object_get(error, "code")) ==
		    RPC_OVERLOADED) {
			/* Queue full: try again after the advised delay. */
			data = json_object_get(error, "data");
			after = json_integer_value(json_object_get(data,
			    "retry_after_ms"));
			if (after < 10)
				after = 10;
			if (after > 10000)
				after = 10000;
			s->retry_at = now_mono_us() + (uint64_t)after * 1000;
			return;
		}
		jobctl_rpc_error(s->item, error);
		jobctl_fail(b->j, EXIT_NOTDONE);
		jobctl_batch_finish(b, s->index, s->item, NULL);
	} else if (!json_is_object(result = json_object_get(msg, "result"))) {
		fprintf(stderr, "jobctl: %s: response without a result\n",
		    s->item);
		jobctl_fail(b->j, EXIT_NOTDONE);
		jobctl_batch_finish(b, s->index, s->item, NULL);
	} else
		jobctl_batch_finish(b, s->index, s->item, result);
	s->item = NULL;
	jobctl_batch_release(b, s);
}

/* Report the items kept for argument order. */
static void
jobctl_batch_flush(struct batch *b)
{
	size_t	 i;

	for (i = 0; i < b->nitems; i++) {
		if (b->done[i].record != NULL) {
			if (!jobctl_is_done(b->done[i].record))
				jobctl_fail(b->j, EXIT_NOTDONE);
			b->report(b, b->done[i].item, b->done[i].record);
			json_decref(b->done[i].record);
		}
		free(b->done[i].item);
	}
	free(b->done);
	b->done = NULL;
}

/*
 * Run one job per item with at most BATCH_WINDOW in flight. Items from
 * the arguments are reported in their order once all are done; items
 * from stdin as they finish. When -t runs out, the unfinished ones are
 * counted on stderr and the status is 1.
 */
static void
jobctl_batch_run(struct batch *b, char **argv, int argc)
{
	struct batch_slot	*s;
	struct client		*c;
	json_t			*args, *params, *msg;
	char			*item;
	uint64_t		 now, next;
	int			 i, timeout, left, saved;

	b->argv = argv;
	b->argc = argc;
	b->done = NULL;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			break;
	}
	if (i == argc && argc > 0)
		b->done = xcalloc((size_t)argc, sizeof *b->done);
	c = jobctl_connect(b->j);

	for (;;) {
		/* Fill the window. */
		while (!b->eof && b->busy < BATCH_WINDOW) {
			if ((item = jobctl_batch_next(b)) == NULL) {
				b->eof = 1;
				break;
			}
			if ((args = b->args(b, item)) == NULL) {
				jobctl_fail(b->j, EXIT_NOTDONE);
				jobctl_batch_finish(b, b->nitems++, item, NULL);
				continue;
			}
			params = json_pack("{s:s, s:o, s:b}", "type", b->type,
			    "args", args, "wait", 1);
			for (s = b->slots; s->id != 0; s++)
				;
			s->index = b->nitems++;
			s->item = item;
			s->params = params;
			b->busy++;
			jobctl_batch_send(b, s);
		}
		if (b->eof && b->busy == 0)
			break;

		/* Resend what the daemon was too busy to take. */
		now = now_mono_us();
		next = 0;
		for (s = b->slots; s < b->slots + BATCH_WINDOW; s++) {
			if (s->id == 0 || s->retry_at == 0)
				continue;
			if (s->retry_at <= now)
				jobctl_batch_send(b, s);
			else if (next == 0 || s->retry_at < next)
				next = s->retry_at;
		}

		timeout = left = jobctl_remaining(b->j);
		if (left == 0)
			break;
		if (next != 0 && (timeout == -1 ||
		    (next - now) / 1000 + 1 < (uint64_t)timeout))
			timeout = (int)((next - now) / 1000 + 1);
		if ((msg = client_recv(c, timeout)) == NULL) {
			saved = errno;
			if (saved == ETIMEDOUT && timeout != left)
				continue;	/* a retry is due */
			if (saved != ETIMEDOUT)
				jobctl_lost(b->j, saved, (size_t)b->busy);
			break;
		}
		jobctl_batch_response(b, msg);
		json_decref(msg);
		if (ferror(stdout))
			break;		/* the reader went away */
	}

	if (b->done != NULL)
		jobctl_batch_flush(b);
	free(b->line);
	b->line = NULL;
	if (!b->eof || b->busy > 0) {
		fflush(stdout);
		if (!ferror(stdout))
			fprintf(stderr, "jobctl: timed out after %gs, %d job%s "
			    "unfinished\n", b->j->timeout_s, b->busy,
			    b->busy == 1 ? "" : "s");
		jobctl_fail(b->j, EXIT_NOTDONE);
		for (s = b->slots; s < b->slots + BATCH_WINDOW; s++) {
			if (s->id != 0) {
				free(s->item);
				jobctl_batch_release(b, s);
			}
		}
	}
}

/* Whether the items should come from stdin: none given, not a terminal. */
static int
jobctl_stdin_items(int argc)
{
	return argc == 0 && !isatty(STDIN_FILENO);
}

/* count: charcount args, relative paths made absolute. */
static json_t *
cmd_count_args(struct batch *b, const char *item)
{
	char	 resolved[PATH_MAX], cwd[PATH_MAX];
	char	*path;
	json_t	*args;

	if (*item == '/')
		return json_pack("{s:s}", "path", item);
	if (realpath(item, resolved) != NULL)
		return json_pack("{s:s}", "path", resolved);
	/* Let the daemon say what is wrong with it, as for absolute paths. */
	if (getcwd(cwd, sizeof cwd) == NULL) {
		fprintf(stderr, "jobctl: %s: %s\n", item, strerror(errno));
		return NULL;
	}
	xasprintf(&path, "%s/%s", cwd, item);
	args = json_pack("{s:s}", "path", path);
	free(path);
	return args;
}

struct cmd_count_total {
	struct table	 table;
	uint64_t	 chars, lines, bytes;
	int		 valid, rows;
};

/* count: one row of chars, lines, bytes, valid, file. */
static void
cmd_count_report(struct batch *b, const char *item, json_t *record)
{
	struct cmd_count_total	*t = b->arg;
	const json_t		*r = json_object_get(record, "result");
	const char		*cells[5];
	char			 c[32], l[32], y[32];

	if (b->j->json) {
		jobctl_json_line(record);
		return;
	}
	if (!jobctl_is_done(record)) {
		jobctl_job_error(item, record);
		return;
	}
	cells[0] = jobctl_str(json_object_get(r, "chars"), c, sizeof c);
	cells[1] = jobctl_str(json_object_get(r, "lines"), l, sizeof l);
	cells[2] = jobctl_str(json_object_get(r, "bytes"), y, sizeof y);
	cells[3] = json_is_true(json_object_get(r, "valid_utf8")) ? "yes" :
	    "no";
	cells[4] = item;
	jobctl_table_row(&t->table, cells);
	t->chars += (uint64_t)json_integer_value(json_object_get(r, "chars"));
	t->lines += (uint64_t)json_integer_value(json_object_get(r, "lines"));
	t->bytes += (uint64_t)json_integer_value(json_object_get(r, "bytes"));
	t->valid &= json_is_true(json_object_get(r, "valid_utf8"));
	t->rows++;
}

/* count FILE...: charcount of each file. */
static int
cmd_count(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] =
	    { "CHARS", "LINES", "BYTES", "VALID", "FILE" };
	static const int widths[] = { 12, 10, 12, 5, 0 };
	struct cmd_count_total	 t;
	struct batch		 b;
	const char		*cells[5];
	char			 c[32], l[32], y[32];
	int			 first, i;

	first = jobctl_getopt(j, cmd, argc, argv);
	argc -= first;
	argv += first;
	if (argc == 0)
		jobctl_usage(cmd, "no files given");

	memset(&t, 0, sizeof t);
	t.valid = 1;
	memset(&b, 0, sizeof b);
	b.j = j;
	b.type = "charcount";
	b.args = cmd_count_args;
	b.report = cmd_count_report;
	b.arg = &t;
	/* Rows from stdin ("-") are printed as they come, so fixed widths. */
	jobctl_table_init(&t.table, 0, "rrrll", head);
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			t.table.stream = 1;
			jobctl_table_widths(&t.table, widths);
		}
	}
	jobctl_batch_run(&b, argv, argc);
	if (!j->json && t.rows > 1) {
		snprintf(c, sizeof c, "%" PRIu64, t.chars);
		snprintf(l, sizeof l, "%" PRIu64, t.lines);
		snprintf(y, sizeof y, "%" PRIu64, t.bytes);
		cells[0] = c;
		cells[1] = l;
		cells[2] = y;
		cells[3] = t.valid ? "yes" : "no";
		cells[4] = "total";
		jobctl_table_row(&t.table, cells);
	}
	jobctl_table_end(&t.table);
	return 0;
}

/* Submit one job with wait:true and report it; the record or NULL. */
static json_t *
jobctl_run_one(struct jobctl *j, const char *type, json_t *args,
    const char *what)
{
	json_t	*params, *record;

	params = json_pack("{s:s, s:o, s:b}", "type", type, "args", args,
	    "wait", 1);
	if ((record = jobctl_call(j, "job.submit", params, what)) == NULL)
		return NULL;
	if (!jobctl_is_done(record)) {
		jobctl_fail(j, EXIT_NOTDONE);
		if (j->json)
			jobctl_json_line(record);
		else
			jobctl_job_error(what, record);
		json_decref(record);
		return NULL;
	}
	return record;
}

/* squares FROM TO [--values]: the sum of squares. */
static int
cmd_squares(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	const json_t	*r, *v;
	json_t		*record;
	int64_t		 num[2];
	char		*pos[2], buf[64];
	int		 i, npos = 0, values = 0, opts = 1;
	size_t		 k;

	/* By hand, not getopt: FROM and TO may be negative numbers. */
	for (i = 1; i < argc; i++) {
		if (opts && strcmp(argv[i], "--") == 0)
			opts = 0;
		else if (opts && (strcmp(argv[i], "--values") == 0 ||
		    strcmp(argv[i], "-v") == 0))
			values = 1;
		else if (opts && (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0))
			jobctl_common_opt(j, cmd, 'h', argv);
		else if (opts && strcmp(argv[i], "--json") == 0)
			j->json = 1;
		else if (opts && (strcmp(argv[i], "-t") == 0 ||
		    strcmp(argv[i], "--timeout") == 0)) {
			if (++i == argc)
				jobctl_usage(cmd, "option %s needs a value",
				    argv[i - 1]);
			optarg = argv[i];
			jobctl_common_opt(j, cmd, 't', argv);
		} else if (opts && argv[i][0] == '-' &&
		    (argv[i][1] < '0' || argv[i][1] > '9'))
			jobctl_usage(cmd, "unknown option %s", argv[i]);
		else if (npos == 2)
			jobctl_usage(cmd, "too many arguments");
		else
			pos[npos++] = argv[i];
	}
	if (npos != 2)
		jobctl_usage(cmd, "FROM and TO are needed");
	for (i = 0; i < 2; i++) {
		if (jobctl_int(pos[i], INT64_MIN, INT64_MAX, &num[i]) == -1)
			jobctl_usage(cmd, "not an integer: %s", pos[i]);
	}

	record = jobctl_run_one(j, "squares", json_pack("{s:I, s:I, s:b}",
	    "from", (json_int_t)num[0], "to", (json_int_t)num[1],
	    "values", values), "squares");
	if (record == NULL)
		return 0;
	if (j->json)
		jobctl_json_line(record);
	else {
		r = json_object_get(record, "result");
		printf("count   %s\n", jobctl_str(json_object_get(r, "count"),
		    buf, sizeof buf));
		printf("sum     %s\n", jobctl_str(json_object_get(r, "sum"),
		    buf, sizeof buf));
		if (json_is_array(json_object_get(r, "values"))) {
			printf("values ");
			json_array_foreach(json_object_get(r, "values"), k, v)
				printf(" %s", jobctl_str(v, buf, sizeof buf));
			putchar('\n');
		}
	}
	json_decref(record);
	return 0;
}

/* Parse "key=value"; the value as JSON when it is JSON, else a string. */
static void
cmd_submit_kv(const struct jobctl_cmd *cmd, json_t *args, const char *kv)
{
	const char	*eq = strchr(kv, '=');
	json_t		*v;
	char		*key;

	if (eq == NULL || eq == kv)
		jobctl_usage(cmd, "expected key=value, not %s", kv);
	key = xstrndup(kv, (size_t)(eq - kv));
	if ((v = json_loads(eq + 1, JSON_DECODE_ANY, NULL)) == NULL)
		v = json_string(eq + 1);
	if (v == NULL)
		jobctl_usage(cmd, "%s: not valid UTF-8", key);
	json_object_set_new(args, key, v);
	free(key);
}

/* Read a whole job object from stdin. */
static json_t *
cmd_submit_stdin(const struct jobctl_cmd *cmd)
{
	json_error_t	 jerr;
	json_t		*job;

	if ((job = json_loadf(stdin, 0, &jerr)) == NULL)
		jobctl_usage(cmd, "stdin: line %d: %s", jerr.line, jerr.text);
	if (!json_is_object(job) ||
	    !json_is_string(json_object_get(job, "type")))
		jobctl_usage(cmd, "stdin: expected a JSON object with a "
		    "\"type\"");
	return job;
}

/* submit TYPE key=value... | submit -: any job. */
static int
cmd_submit(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "wait", no_argument, NULL, 'w' },
		{ "priority", required_argument, NULL, 'p' },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "class", required_argument, NULL, OPT_CLASS },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*params, *opts, *result, *args;
	int64_t		 n;
	int		 ch, i, count = 0;
	char		 buf[64];

	opts = json_object();
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "wp:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'w':
			json_object_set_new(opts, "wait", json_true());
			break;
		case 'p':
			if (jobctl_int(optarg, INT_MIN, INT_MAX, &n) == -1)
				jobctl_usage(cmd, "bad priority: %s", optarg);
			json_object_set_new(opts, "priority", json_integer(n));
			break;
		case OPT_TAG:
			json_object_set_new(opts, "tag", json_string(optarg));
			break;
		case OPT_CLASS:
			if (strcmp(optarg, "io") != 0 &&
			    strcmp(optarg, "cpu") != 0)
				jobctl_usage(cmd, "class must be io or cpu");
			json_object_set_new(opts, "class", json_string(optarg));
			break;
		case OPT_TIMEOUT_MS:
			if (jobctl_int(optarg, 0, INT64_MAX, &n) == -1)
				jobctl_usage(cmd, "bad --timeout-ms: %s",
				    optarg);
			json_object_set_new(opts, "timeout_ms",
			    json_integer(n));
			break;
		default:
			jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	if (optind >= argc)
		jobctl_usage(cmd, "no job type given");
	if (strcmp(argv[optind], "-") == 0) {
		if (optind + 1 != argc)
			jobctl_usage(cmd, "nothing may follow -");
		params = cmd_submit_stdin(cmd);
	} else {
		args = json_object();
		for (i = optind + 1; i < argc; i++)
			cmd_submit_kv(cmd, args, argv[i]);
		params = json_pack("{s:s, s:o}", "type", argv[optind],
		    "args", args);
	}
	json_object_update(params, opts);
	json_decref(opts);

	if ((result = jobctl_call(j, "job.submit", params, NULL)) == NULL)
		return 0;
	if (!json_is_true(json_object_get(params, "wait")) &&
	    !jobctl_is_finished(result)) {
		/* Accepted: the id is what a script wants. */
		if (j->json)
			jobctl_json_line(result);
		else
			printf("%s\n", jobctl_str(json_object_get(result, "id"),
			    buf, sizeof buf));
	} else {
		if (!jobctl_is_done(result))
			jobctl_fail(j, EXIT_NOTDONE);
		jobctl_show(j, result, &count);
	}
	json_decref(result);
	return 0;
}

/*
 * get/wait/cancel ID...: one call per id, each record shown. done_ok:
 * status 0 needs state done; else any end state will do (cancel).
 */
static int
jobctl_per_id(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv, const char *method, int64_t timeout_ms, int done_ok)
{
	json_t	*params, *record;
	int	 i, count = 0;

	if (optind >= argc)
		jobctl_usage(cmd, "no job id given");
	for (i = optind; i < argc; i++) {
		params = json_pack("{s:s}", "id", argv[i]);
		if (timeout_ms >= 0)
			json_object_set_new(params, "timeout_ms",
			    json_integer(timeout_ms));
		if ((record = jobctl_call(j, method, params, argv[i])) == NULL)
			continue;
		if (done_ok ? !jobctl_is_done(record) :
		    !jobctl_is_finished(record))
			jobctl_fail(j, EXIT_NOTDONE);
		jobctl_show(j, record, &count);
		json_decref(record);
	}
	return 0;
}

/* get ID...: a job record. */
static int
cmd_get(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	jobctl_getopt(j, cmd, argc, argv);
	return jobctl_per_id(j, cmd, argc, argv, "job.get", -1, 1);
}

/* wait ID... [--timeout-ms N]: a job record once finished. */
static int
cmd_wait(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
		{ NULL, 0, NULL, 0 }
	};
	int64_t	 timeout_ms = -1;
	int	 ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if (ch == OPT_TIMEOUT_MS) {
			if (jobctl_int(optarg, 0, INT64_MAX, &timeout_ms) == -1)
				jobctl_usage(cmd, "bad --timeout-ms: %s",
				    optarg);
		} else
			jobctl_common_opt(j, cmd, ch, argv);
	}
	return jobctl_per_id(j, cmd, argc, argv, "job.wait", timeout_ms, 1);
}

/* cancel ID...: cancel jobs. */
static int
cmd_cancel(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	jobctl_getopt(j, cmd, argc, argv);
	return jobctl_per_id(j, cmd, argc, argv, "job.cancel", -1, 0);
}

/* list [--state S] [--type T] [--limit N]: jobs in the table. */
static int
cmd_list(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "state", required_argument, NULL, OPT_STATE },
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] =
	    { "ID", "TYPE", "CLASS", "STATE", "SUBMITTED", "RUN", "TAG" };
	static const char *const keys[] =
	    { "id", "type", "class", "state", "submitted_at" };
	struct table	 t;
	const char	*cells[7];
	json_t		*params, *result, *rec;
	int64_t		 n;
	size_t		 i;
	int		 ch, c;
	char		 bufs[7][64];

	params = json_object();
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_STATE:
			json_object_set_new(params, "state",
			    json_string(optarg));
			break;
		case OPT_TYPE:
			json_object_set_new(params, "type",
			    json_string(optarg));
			break;
		case OPT_LIMIT:
			if (jobctl_int(optarg, 1, INT64_MAX, &n) == -1)
				jobctl_usage(cmd, "bad --limit: %s", optarg);
			json_object_set_new(params, "limit", json_integer(n));
			break;
		default:
			jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	if (optind != argc)
		jobctl_usage(cmd, "unexpected argument %s", argv[optind]);
	if ((result = jobctl_call(j, "job.list", params, NULL)) == NULL)
		return 0;
	jobctl_table_init(&t, 0, "lllllrl", head);
	json_array_foreach(json_object_get(result, "jobs"), i, rec) {
		if (j->json) {
			jobctl_json_line(rec);
			continue;
		}
		for (c = 0; c < (int)nitems(keys); c++)
			cells[c] = jobctl_str(json_object_get(rec, keys[c]),
			    bufs[c], sizeof bufs[c]);
		cells[5] = jobctl_ms(json_object_get(rec, "run_ms"), bufs[5],
		    sizeof bufs[5]);
		cells[6] = json_is_string(json_object_get(rec, "tag")) ?
		    json_string_value(json_object_get(rec, "tag")) : "";
		jobctl_table_row(&t, cells);
	}
	jobctl_table_end(&t);
	json_decref(result);
	return 0;
}

/* Whether every member of an object is a scalar. */
static int
cmd_status_flat(const json_t *o)
{
	const char	*k;
	const json_t	*v;

	json_object_foreach((json_t *)o, k, v) {
		if (json_is_object(v) || json_is_array(v))
			return 0;
	}
	return 1;
}

/* Uptime for people: "3d 4h 5m 6s". */
static const char *
cmd_status_uptime(const json_t *v, char *buf, size_t len)
{
	double		 s = json_number_value(v);
	uint64_t	 t = s > 0 ? (uint64_t)s : 0;

	if (t >= 86400)
		snprintf(buf, len, "%" PRIu64 "d %" PRIu64 "h %" PRIu64 "m",
		    t / 86400, t / 3600 % 24, t / 60 % 60);
	else if (t >= 3600)
		snprintf(buf, len, "%" PRIu64 "h %" PRIu64 "m %" PRIu64 "s",
		    t / 3600, t / 60 % 60, t % 60);
	else if (t >= 60)
		snprintf(buf, len, "%" PRIu64 "m %" PRIu64 "s", t / 60, t % 60);
	else
		snprintf(buf, len, "%.1fs", s);
	return buf;
}

/* An array of objects as a small table of its scalar members. */
static void
cmd_status_table(const json_t *a, int indent)
{
	const char	*keys[TABLE_MAXCOLS], *cells[TABLE_MAXCOLS], *k;
	char		*head[TABLE_MAXCOLS], bufs[TABLE_MAXCOLS][64], tmp[64];
	char		 align[TABLE_MAXCOLS + 1], *p;
	const json_t	*o, *v;
	struct table	 t;
	size_t		 i;
	int		 n = 0, c, found;

	json_array_foreach((json_t *)a, i, o) {
		json_object_foreach((json_t *)o, k, v) {
			if (json_is_object(v) || json_is_array(v))
				continue;
			for (found = 0, c = 0; c < n; c++)
				found |= strcmp(keys[c], k) == 0;
			if (!found && n < TABLE_MAXCOLS) {
				align[n] = json_is_number(v) ? 'r' : 'l';
				keys[n++] = k;
			}
		}
	}
	if (n == 0)
		return;
	align[n] = '\0';
	/* Upper-case headers; the first column carries the indent. */
	for (c = 0; c < n; c++) {
		xasprintf(&head[c], "%*s%s", c == 0 ? indent : 0, "", keys[c]);
		for (p = head[c]; *p != '\0'; p++) {
			if (*p >= 'a' && *p <= 'z')
				*p = (char)(*p - 'a' + 'A');
		}
	}
	jobctl_table_init(&t, 0, align, (const char *const *)head);
	json_array_foreach((json_t *)a, i, o) {
		for (c = 0; c < n; c++) {
			v = json_object_get(o, keys[c]);
			cells[c] = jobctl_str(v, bufs[c], sizeof bufs[c]);
		}
		snprintf(tmp, sizeof tmp, "%*s%s", indent, "", cells[0]);
		cells[0] = tmp;
		jobctl_table_row(&t, cells);
	}
	jobctl_table_end(&t);
	for (c = 0; c < n; c++)
		free(head[c]);
}

/*
 * Render any status object compactly: scalars as "key  value", flat
 * objects on one line as k=v pairs, arrays of objects as tables.
 */
static void
cmd_status_render(const json_t *o, int indent)
{
	const char	*k, *k2;
	const json_t	*v, *v2;
	size_t		 i;
	char		 buf[256];
	int		 w = 0;

	/* Values line up in a column one past the longest key. */
	json_object_foreach((json_t *)o, k, v) {
		if ((int)strlen(k) > w)
			w = (int)strlen(k);
	}
	json_object_foreach((json_t *)o, k, v) {
		if (json_is_object(v) && cmd_status_flat(v)) {
			printf("%*s%-*s", indent, "", w, k);
			json_object_foreach((json_t *)v, k2, v2)
				printf(" %s=%s", k2, jobctl_str(v2, buf,
				    sizeof buf));
			putchar('\n');
		} else if (json_is_object(v)) {
			printf("%*s%s:\n", indent, "", k);
			cmd_status_render(v, indent + 2);
		} else if (json_is_array(v) && json_array_size(v) > 0 &&
		    json_is_object(json_array_get(v, 0))) {
			printf("%*s%s:\n", indent, "", k);
			cmd_status_table(v, indent + 2);
		} else if (json_is_array(v)) {
			printf("%*s%-*s", indent, "", w, k);
			json_array_foreach((json_t *)v, i, v2)
				printf(" %s", jobctl_str(v2, buf, sizeof buf));
			putchar('\n');
		} else if (strncmp(k, "uptime", 6) == 0 && json_is_number(v))
			printf("%*s%-*s %s\n", indent, "", w, k,
			    cmd_status_uptime(v, buf, sizeof buf));
		else
			printf("%*s%-*s %s\n", indent, "", w, k,
			    jobctl_str(v, buf, sizeof buf));
	}
}

/* status: a compact view of daemon.status. */
static int
cmd_status(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	json_t	*result;

	if (jobctl_getopt(j, cmd, argc, argv) != argc)
		jobctl_usage(cmd, "unexpected argument %s", argv[optind]);
	if ((result = jobctl_call(j, "daemon.status", NULL, NULL)) == NULL)
		return 0;
	if (j->json)
		jobctl_json_line(result);
	else
		cmd_status_render(result, 0);
	json_decref(result);
	return 0;
}

/* types [TYPE...]: the job types, or one type's arguments. */
static int
cmd_types(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] = { "TYPE", "CLASS", "ARGS" };
	struct table	 t;
	const char	*cells[3], *name, *k;
	json_t		*result, *types, *ty, *v;
	size_t		 i;
	int		 first, a, found;
	char		*list, *tmp, buf[256], cls[64];

	first = jobctl_getopt(j, cmd, argc, argv);
	if ((result = jobctl_call(j, "daemon.types", NULL, NULL)) == NULL)
		return 0;
	types = json_object_get(result, "types");
	if (j->json && first == argc) {
		jobctl_json_line(result);
		json_decref(result);
		return 0;
	}
	jobctl_table_init(&t, 0, "lll", head);
	for (a = first; a < argc; a++) {
		found = 0;
		json_array_foreach(types, i, ty) {
			name = json_string_value(json_object_get(ty, "name"));
			if (name == NULL || strcmp(name, argv[a]) != 0)
				continue;
			found = 1;
			if (j->json) {
				jobctl_json_line(ty);
				continue;
			}
			printf("%s (%s)\n", name, jobctl_str(
			    json_object_get(ty, "class"), buf, sizeof buf));
			json_object_foreach(json_object_get(ty, "args"), k, v)
				printf("  %-18s %s\n", k, jobctl_str(v, buf,
				    sizeof buf));
		}
		if (!found) {
			fprintf(stderr, "jobctl: %s: no such job type\n",
			    argv[a]);
			jobctl_fail(j, EXIT_NOTDONE);
		}
	}
	if (first == argc) {
		json_array_foreach(types, i, ty) {
			list = xstrdup("");
			json_object_foreach(json_object_get(ty, "args"), k, v) {
				xasprintf(&tmp, "%s%s%s", list,
				    *list != '\0' ? " " : "", k);
				free(list);
				list = tmp;
			}
			cells[0] = jobctl_str(json_object_get(ty, "name"), buf,
			    sizeof buf);
			cells[1] = jobctl_str(json_object_get(ty, "class"), cls,
			    sizeof cls);
			cells[2] = list;
			jobctl_table_row(&t, cells);
			free(list);
		}
	}
	jobctl_table_end(&t);
	json_decref(result);
	return 0;
}

/* fetch: GET the URL. */
static json_t *
cmd_fetch_args(struct batch *b, const char *item)
{
	return json_pack("{s:s}", "url", item);
}

/* fetch/download: status, bytes, time and the URL (or file). */
static void
cmd_fetch_report(struct batch *b, const char *item, json_t *record)
{
	struct table	*t = b->arg;
	const json_t	*r = json_object_get(record, "result");
	const char	*cells[4];
	char		 s[32], n[32], ms[32];

	if (b->j->json) {
		jobctl_json_line(record);
		return;
	}
	if (!jobctl_is_done(record)) {
		jobctl_job_error(item, record);
		return;
	}
	cells[0] = jobctl_str(json_object_get(r, "status"), s, sizeof s);
	cells[1] = jobctl_str(json_object_get(r, "bytes"), n, sizeof n);
	cells[2] = jobctl_ms(json_object_get(json_object_get(r, "time_ms"),
	    "total"), ms, sizeof ms);
	if (strcmp(b->type, "download") == 0 &&
	    json_is_string(json_object_get(r, "path")))
		cells[3] = json_string_value(json_object_get(r, "path"));
	else
		cells[3] = item;
	jobctl_table_row(t, cells);
}

/* Run an I/O batch over URLs from the arguments or stdin. */
static int
jobctl_io_batch(struct jobctl *j, const struct jobctl_cmd *cmd,
    struct batch *b, int argc, char **argv, const char *align,
    const char *const *head, const int *widths)
{
	static char	*dash[] = { (char *)"-", NULL };
	struct table	 t;
	int		 i, stream = 0;

	if (argc == 0) {
		if (!jobctl_stdin_items(argc))
			jobctl_usage(cmd, "no URLs given (and stdin is a "
			    "terminal)");
		argv = dash;
		argc = 1;
	}
	for (i = 0; i < argc; i++)
		stream |= strcmp(argv[i], "-") == 0;
	jobctl_table_init(&t, stream, align, head);
	if (stream)
		jobctl_table_widths(&t, widths);
	b->j = j;
	b->arg = &t;
	jobctl_batch_run(b, argv, argc);
	jobctl_table_end(&t);
	return 0;
}

/* fetch URL...: GET each URL. */
static int
cmd_fetch(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] = { "STATUS", "BYTES", "TIME", "URL" };
	static const int widths[] = { 6, 10, 8, 0 };
	struct batch	 b;
	int		 first;

	first = jobctl_getopt(j, cmd, argc, argv);
	memset(&b, 0, sizeof b);
	b.type = "fetch";
	b.args = cmd_fetch_args;
	b.report = cmd_fetch_report;
	return jobctl_io_batch(j, cmd, &b, argc - first, argv + first, "rrrl",
	    head, widths);
}

/* The file name a download gets by default: the URL's last segment. */
static char *
cmd_download_name(const char *url)
{
	const char	*p, *end, *slash;

	if ((p = strstr(url, "://")) != NULL)
		p += 3;
	else
		p = url;
	end = p + strcspn(p, "?#");
	if ((p = memchr(p, '/', (size_t)(end - p))) == NULL)
		return xstrdup("index.html");
	for (slash = p; p < end; p++) {
		if (*p == '/')
			slash = p;
	}
	if (end - slash <= 1 || (end - slash == 2 && slash[1] == '.') ||
	    (end - slash == 3 && slash[1] == '.' && slash[2] == '.'))
		return xstrdup("index.html");
	return xstrndup(slash + 1, (size_t)(end - slash - 1));
}

/* download: url and file name (-o, or the URL's last path segment). */
static json_t *
cmd_download_args(struct batch *b, const char *item)
{
	const char	*name = b->name;
	char		*def = NULL;
	json_t		*args;

	if (name == NULL)
		name = def = cmd_download_name(item);
	args = json_pack("{s:s, s:s}", "url", item, "filename", name);
	free(def);
	return args;
}

/* download [-o NAME] URL...: save each URL in the download directory. */
static int
cmd_download(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] =
	    { "STATUS", "BYTES", "TIME", "FILE" };
	static const int widths[] = { 6, 10, 8, 0 };
	struct batch	 b;
	int		 ch;

	memset(&b, 0, sizeof b);
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "o:", longopts,
	    NULL)) != -1) {
		if (ch == 'o')
			b.name = optarg;
		else
			jobctl_common_opt(j, cmd, ch, argv);
	}
	if (b.name != NULL && (argc - optind != 1 ||
	    strcmp(argv[optind], "-") == 0))
		jobctl_usage(cmd, "-o NAME needs exactly one URL");
	if (b.name != NULL && *b.name == '\0')
		jobctl_usage(cmd, "-o needs a file name");
	b.type = "download";
	b.args = cmd_download_args;
	b.report = cmd_fetch_report;
	return jobctl_io_batch(j, cmd, &b, argc - optind, argv + optind, "rrrl",
	    head, widths);
}

/*
 * A ping target: a URL (anything with "://"), else HOST:PORT or
 * [ADDR]:PORT. NULL when it is neither.
 */
static json_t *
cmd_ping_target(const char *item)
{
	const char	*colon, *host;
	char		*h;
	int64_t		 port;
	size_t		 hlen;
	json_t		*args;

	if (strstr(item, "://") != NULL)
		return json_pack("{s:s}", "url", item);
	if (*item == '[') {
		host = item + 1;
		if ((colon = strchr(host, ']')) == NULL || colon[1] != ':')
			return NULL;
		hlen = (size_t)(colon - host);
		colon++;
	} else {
		host = item;
		if ((colon = strrchr(item, ':')) == NULL ||
		    memchr(item, ':', (size_t)(colon - item)) != NULL)
			return NULL;
		hlen = (size_t)(colon - host);
	}
	if (hlen == 0 || jobctl_int(colon + 1, 1, 65535, &port) == -1)
		return NULL;
	h = xstrndup(host, hlen);
	args = json_pack("{s:s, s:I}", "host", h, "port", (json_int_t)port);
	free(h);
	return args;
}

/* ping: url or host and port. */
static json_t *
cmd_ping_args(struct batch *b, const char *item)
{
	json_t	*args;

	if ((args = cmd_ping_target(item)) == NULL)
		fprintf(stderr, "jobctl: %s: not a URL or HOST:PORT\n", item);
	return args;
}

/* The text of a down target's error: a string or {code, message}. */
static const char *
cmd_ping_error(const json_t *e, char *buf, size_t len)
{
	const char	*code, *msg;

	if (json_is_object(e)) {
		code = json_string_value(json_object_get(e, "code"));
		msg = json_string_value(json_object_get(e, "message"));
		snprintf(buf, len, "%s%s%s", code != NULL ? code : "",
		    code != NULL && msg != NULL ? ": " : "",
		    msg != NULL ? msg : "");
		return buf;
	}
	return e != NULL ? jobctl_str(e, buf, len) : "";
}

/* ping: up/down, latency, HTTP status, target, and why it is down. */
static void
cmd_ping_report(struct batch *b, const char *item, json_t *record)
{
	struct table	*t = b->arg;
	const json_t	*r = json_object_get(record, "result");
	const char	*cells[5];
	char		 ms[32], st[32], err[512];
	int		 up;

	up = json_is_true(json_object_get(r, "up"));
	if (jobctl_is_done(record) && !up)
		jobctl_fail(b->j, EXIT_NOTDONE);
	if (b->j->json) {
		jobctl_json_line(record);
		return;
	}
	if (!jobctl_is_done(record)) {
		jobctl_job_error(item, record);
		return;
	}
	cells[0] = up ? "up" : "down";
	cells[1] = up ? jobctl_ms(json_object_get(r, "latency_ms"), ms,
	    sizeof ms) : "-";
	cells[2] = json_is_integer(json_object_get(r, "status")) ?
	    jobctl_str(json_object_get(r, "status"), st, sizeof st) : "-";
	cells[3] = item;
	cells[4] = up ? "" : cmd_ping_error(json_object_get(r, "error"), err,
	    sizeof err);
	jobctl_table_row(t, cells);
}

/* ping URL|HOST:PORT...: is each target up. */
static int
cmd_ping(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] =
	    { "STATE", "LATENCY", "STATUS", "TARGET", "ERROR" };
	static const int widths[] = { 5, 8, 6, 30, 0 };
	struct batch	 b;
	json_t		*args;
	int		 first, i;

	first = jobctl_getopt(j, cmd, argc, argv);
	/* Bad targets among the arguments are usage errors, up front. */
	for (i = first; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			continue;
		if ((args = cmd_ping_target(argv[i])) == NULL)
			jobctl_usage(cmd, "%s: not a URL or HOST:PORT",
			    argv[i]);
		json_decref(args);
	}
	memset(&b, 0, sizeof b);
	b.type = "ping";
	b.args = cmd_ping_args;
	b.report = cmd_ping_report;
	return jobctl_io_batch(j, cmd, &b, argc - first, argv + first, "lrrll",
	    head, widths);
}

/* help [COMMAND]: the overall help or one command's. */
static int
cmd_help(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	size_t	 i;
	int	 first;

	first = jobctl_getopt(j, cmd, argc, argv);
	if (first == argc) {
		jobctl_help(stdout);
		return 0;
	}
	for (i = 0; i < jobctl_ncmds; i++) {
		if (strcmp(jobctl_cmds[i].name, argv[first]) == 0) {
			jobctl_cmd_help(&jobctl_cmds[i], stdout);
			return 0;
		}
	}
	jobctl_usage(NULL, "unknown command '%s'", argv[first]);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct jobctl_cmd	*cmd = NULL;
	struct jobctl		 j;
	size_t			 i;
	int			 ch;

	memset(&j, 0, sizeof j);
	j.start = now_mono_us();
	log_init("jobctl", LOG_LEVEL_WARN);
	/* A daemon that goes away must not kill us before we can say so. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0;

	while ((ch = getopt_long(argc, argv, "+:s:t:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			j.socket = optarg;
			break;
		case OPT_JSON:
			j.json = 1;
			break;
		case 't':
			if (jobctl_seconds(optarg, &j.timeout_s) == -1)
				jobctl_usage(NULL, "bad timeout: %s", optarg);
			break;
		case 'h':
			jobctl_help(stdout);
			return 0;
		case 'V':
			printf("jobctl %s\n", PACKAGE_VERSION);
			return 0;
		case ':':
			jobctl_usage(NULL, "option %s needs a value",
			    argv[optind - 1]);
		default:
			if (optopt != 0)
				jobctl_usage(NULL, "unknown option -%c",
				    optopt);
			jobctl_usage(NULL, "unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (optind >= argc)
		jobctl_usage(NULL, "no command given");
	for (i = 0; i < jobctl_ncmds; i++) {
		if (strcmp(jobctl_cmds[i].name, argv[optind]) == 0)
			cmd = &jobctl_cmds[i];
	}
	if (cmd == NULL)
		jobctl_usage(NULL, "unknown command '%s'", argv[optind]);
	if (j.socket == NULL)
		j.socket = client_default_socket();

	cmd->handler(&j, cmd, argc - optind, argv + optind);

	client_close(j.client);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "jobctl: stdout: %s\n",
			    strerror(errno));
		jobctl_fail(&j, EXIT_NOTDONE);
	}
	return j.status;
}
