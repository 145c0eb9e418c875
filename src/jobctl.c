/*
 * jobctl: the command-line client of jobd.
 *
 * Every command is a row of the command table: a name, a handler, a
 * synopsis and its help. Commands that run many jobs (count, fetch,
 * download, ping) go through one batch runner that sends the items as
 * job.map requests of at most BATCH_CHUNK items (and BATCH_CHUNK_BYTES),
 * at most BATCH_MAPS at a time, each on its own connection so that the
 * job.done notifications of a connection belong to its one map. A list
 * of a million URLs on stdin is read as the maps finish, never held
 * whole, and never becomes one giant request.
 */
#include "config.h"

#include <sys/ioctl.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobd.h"

/* Exit statuses (jobctl(1)). */
#define EXIT_NOTDONE	1	/* some job is not done (or a ping is down) */
#define EXIT_USAGE	2
#define EXIT_NODAEMON	3	/* jobd not reachable, or connection lost */

#define BATCH_MAPS	2	/* job.map requests in flight */
#define BATCH_CHUNK	2500	/* items per job.map at most */
/* Request bytes per job.map: well under max_request_bytes' 1 MiB. */
#define BATCH_CHUNK_BYTES (768 * 1024)
#define BATCH_MIN_BYTES	1024	/* max_request_bytes cannot be lower */
#define BATCH_GRACE_MS	10000	/* for the daemon to end a map after -t */
#define MAP_MAX_TIMEOUT_MS (7 * 86400 * 1000)	/* job.map's timeout_ms */
#define BATCH_ID_BASE	((json_int_t)1 << 32)	/* clear of client_call ids */
#define PROGRESS_MS	100	/* bar redraws at most this often */
#define SUBMIT_MAX_STDIN (16 * 1024 * 1024)
#define TABLE_MAXCOLS	10
#define WATCH_POLL_MAX_MS 1000	/* ping --every looks at least this often */

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
	OPT_EVERY,
	OPT_JITTER,
	OPT_KEEP,
	OPT_FLIP_AFTER,
	OPT_COUNT,
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

/* An item taken but not sent yet, or being sent. */
struct batch_item {
	char		*item;		/* owned; NULL once reported */
	json_t		*args;		/* owned */
	size_t		 index;		/* its number among all the items */
	size_t		 size;		/* its args as JSON, in bytes */
};

/* One job.map in flight on its own connection. */
struct batch_map {
	struct client	*client;	/* kept for the next chunk */
	json_int_t	 id;		/* the request's id; 0 = idle */
	struct batch_item *items;	/* BATCH_CHUNK of them */
	size_t		 n;
	size_t		 bytes;		/* the items' args as JSON */
	unsigned char	*seen;		/* items[i] has been reported */
};

/* A finished item kept to be reported in argument order. */
struct batch_done {
	char		*item;
	json_t		*record;	/* NULL: nothing to report */
};

/* The progress bar on stderr. */
struct progress {
	int		 on;		/* stderr is a terminal */
	int		 out_tty;	/* so is stdout */
	int		 shown;		/* a bar is on the screen now */
	int		 dirty;		/* something to redraw */
	uint64_t	 start;		/* mono us */
	uint64_t	 last;		/* last drawn, mono us */
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
	int		 eof;		/* every item has been taken */
	char		*ibuf;		/* stdin, read but not taken */
	size_t		 ipos;
	size_t		 ilen;
	size_t		 isize;
	int		 ieof;

	size_t		 nitems;	/* taken so far */
	size_t		 nreported;
	/* Taken, not yet sent: read ahead, or sent back as too large. */
	struct batch_item *queue;
	size_t		 qhead;
	size_t		 qlen;
	size_t		 chunk_bytes;
	struct batch_map maps[BATCH_MAPS];
	int		 busy;		/* maps in flight */
	int		 expired;	/* -t ran out before all were sent */
	int		 stopped;	/* the daemon refused the batch */
	json_int_t	 seq;
	struct batch_done *done;	/* argv order, when no stdin */
	struct progress	 bar;
};

/* ping --every: one target's schedule. */
struct watch_target {
	const char	*item;
	char		*id;		/* the schedule; NULL when gone */
	char		*last_job;	/* the last result printed */
	int64_t		 rounds;
	int		 up;		/* the last result */
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
CMD_PROTO(cmd_schedule);
CMD_PROTO(cmd_metrics);
CMD_PROTO(cmd_help);

static const struct jobctl_cmd jobctl_cmds[] = {
	{ "count", cmd_count, "FILE...",
	  "Count the characters, lines and bytes of each file",
	  "Each FILE is read by the daemon's workers (a relative path is\n"
	  "made absolute here first). Columns: chars (UTF-8 code points,\n"
	  "as wc -m), lines (as wc -l), bytes, whether the file is valid\n"
	  "UTF-8; a total line follows when there is more than one file.\n"
	  "'-' reads file names from stdin, one per line. Files from the\n"
	  "arguments are listed in their order once all are counted, from\n"
	  "stdin as they finish; a progress bar is shown on stderr when it\n"
	  "is a terminal. -t SECS bounds the whole batch: files not counted\n"
	  "by then end as timeout.\n"
	  "\nExample:\n  jobctl count /var/log/syslog notes.txt\n"
	  "  find /srv/logs -name '*.log' | jobctl -t 10m count -\n" },
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
	{ "status", cmd_status, "[--watch [--interval DUR] [--count N]]",
	  "Show the daemon's pools, queues and counters",
	  "Without --watch, everything daemon.status says, once. With\n"
	  "--watch, a compact view (pools, queues, job counters, latency\n"
	  "p50/p99 per class, schedules) refreshed every interval: redrawn\n"
	  "in place on a terminal, else one block per interval; until\n"
	  "interrupted, or N views with --count.\n"
	  "\nOptions:\n"
	  "  -w, --watch          refresh until interrupted\n"
	  "  -i, --interval DUR   between views (default 1s; 500ms, 2s, 1m)\n"
	  "  -n, --count N        stop after N views\n"
	  "\nExamples:\n  jobctl status\n"
	  "  jobctl status --watch --interval 2s\n" },
	{ "types", cmd_types, "[TYPE...]",
	  "List the job types, or describe the arguments of some",
	  "\nExamples:\n  jobctl types\n  jobctl types fetch\n" },
	{ "fetch", cmd_fetch, "URL...|-",
	  "GET each URL and show status, bytes, time",
	  "URLs come from the arguments, or from stdin ('-', or none given\n"
	  "and stdin is not a terminal), one per line; blank lines and lines\n"
	  "starting with # are skipped. Results from stdin are printed as\n"
	  "they finish, from the arguments in their order once all are done\n"
	  "(--json: every record as it finishes). HTTP error statuses are\n"
	  "results, not failures. A progress bar is shown on stderr when it\n"
	  "is a terminal; -t SECS bounds the whole batch.\n"
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
	{ "ping", cmd_ping, "[--every DUR [options]] URL|HOST:PORT...|-",
	  "Check whether each target is up, once or every DUR",
	  "A URL is checked over HTTP (HEAD, else GET), HOST:PORT (or\n"
	  "[ADDR]:PORT) by a TCP connect. The exit status is 0 only if every\n"
	  "target is up. Targets may come from stdin as for fetch.\n"
	  "\nWith --every, the daemon checks each target on a schedule and\n"
	  "jobctl prints a line per target for each check, until SIGINT or\n"
	  "SIGTERM (or --count rounds, or -t), then removes its schedules.\n"
	  "AVAIL is the target's state, which changes only after\n"
	  "--flip-after checks in a row agree; UP% is over the last --keep.\n"
	  "The exit status is then 0 if every target's last check was up.\n"
	  "\nOptions:\n"
	  "  --every DUR        check every DUR (at least 100ms; 5s, 1m)\n"
	  "  --jitter DUR       add up to DUR at random to each delay\n"
	  "  --keep N           results kept for UP% (default 10)\n"
	  "  --flip-after N     agreeing checks before AVAIL changes\n"
	  "                     (default 1)\n"
	  "  --count N          stop after N checks of every target\n"
	  "\nExamples:\n"
	  "  jobctl ping https://example.org/ db.internal:5432\n"
	  "  jobctl ping --every 5s --flip-after 3 https://example.org/\n" },
	{ "schedule", cmd_schedule, "add|list|get|rm ...",
	  "Run jobs on a period, and see how they went",
	  "  schedule add [--every DUR] [--jitter DUR] [--keep N]\n"
	  "      [--flip-after N] [--priority N] [--tag TAG] [--class C]\n"
	  "      [--timeout-ms N] TYPE [key=value...] | -\n"
	  "        run a job every DUR (default 1m) plus up to --jitter;\n"
	  "        keep the last N results (default 10); arguments as for\n"
	  "        submit. Prints the schedule's id.\n"
	  "  schedule list\n"
	  "        every schedule: period, runs, and for ping jobs the\n"
	  "        availability (state, up ratio, last latency, since)\n"
	  "  schedule get ID\n"
	  "        one schedule and its kept results, oldest first\n"
	  "  schedule rm ID...\n"
	  "        remove schedules (a run already started goes on)\n"
	  "\nExamples:\n"
	  "  jobctl schedule add --every 30s --keep 120 ping "
	  "url=https://example.org/\n"
	  "  jobctl schedule add --every 1h charcount path=/var/log/syslog\n"
	  "  jobctl schedule list\n"
	  "  jobctl schedule get sched-1\n"
	  "  jobctl schedule rm sched-1\n" },
	{ "metrics", cmd_metrics, "",
	  "Print the daemon's metrics in the Prometheus text format",
	  "The text of daemon.metrics, as is (--json: {\"text\": ...}).\n"
	  "\nExample:\n  jobctl metrics | grep jobd_queue_depth\n" },
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
		/* A long synopsis gets a line of its own. */
		if (strlen(left) > 34)
			fprintf(fp, "  %s\n  %-34s %s\n", left, "",
			    jobctl_cmds[i].summary);
		else
			fprintf(fp, "  %-34s %s\n", left,
			    jobctl_cmds[i].summary);
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

/* A new connection; exits 3 if jobd is not there. */
static struct client *
jobctl_connect_new(struct jobctl *j)
{
	struct client	*c;
	char		*err = NULL;

	if ((c = client_connect(j->socket, &err)) == NULL) {
		fflush(stdout);
		fprintf(stderr, "jobctl: %s%s\n", err != NULL ? err :
		    "cannot connect", strncmp(err != NULL ? err : "",
		    "cannot connect", 14) == 0 ? " (is jobd running?)" : "");
		free(err);
		exit(EXIT_NODAEMON);
	}
	return c;
}

/* The connection, made on first use; exits 3 if jobd is not there. */
static struct client *
jobctl_connect(struct jobctl *j)
{
	if (j->client == NULL)
		j->client = jobctl_connect_new(j);
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

/*
 * The next line of stdin, or NULL: at its end (b->ieof), or, unless
 * wait, when no whole line can be read without blocking. stdin is read
 * with read(2), not stdio, so that what is buffered is known.
 */
static char *
jobctl_stdin_line(struct batch *b, int wait)
{
	struct pollfd	 pfd;
	char		*nl, *line;
	ssize_t		 n;

	for (;;) {
		nl = b->ipos < b->ilen ? memchr(b->ibuf + b->ipos, '\n',
		    b->ilen - b->ipos) : NULL;
		if (nl != NULL) {
			*nl = '\0';
			line = b->ibuf + b->ipos;
			b->ipos = (size_t)(nl - b->ibuf) + 1;
			return line;
		}
		if (b->ieof && b->ipos < b->ilen) {
			/* The last line has no newline: room was kept. */
			b->ibuf[b->ilen] = '\0';
			line = b->ibuf + b->ipos;
			b->ipos = b->ilen;
			return line;
		}
		if (b->ieof)
			return NULL;
		pfd.fd = STDIN_FILENO;
		pfd.events = POLLIN;
		if (!wait && poll(&pfd, 1, 0) < 1)
			return NULL;
		/* Keep the unread part at the start, with room to read. */
		if (b->ipos > 0) {
			memmove(b->ibuf, b->ibuf + b->ipos, b->ilen - b->ipos);
			b->ilen -= b->ipos;
			b->ipos = 0;
		}
		if (b->isize - b->ilen < 4096) {
			b->isize = b->isize == 0 ? 65536 : b->isize * 2;
			b->ibuf = xreallocarray(b->ibuf, b->isize + 1, 1);
		}
		n = read(STDIN_FILENO, b->ibuf + b->ilen, b->isize - b->ilen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			/* A non-blocking stdin (someone else's setting). */
			if (!wait)
				return NULL;
			poll(&pfd, 1, -1);
			continue;
		}
		if (n == -1) {
			fprintf(stderr, "jobctl: stdin: %s\n", strerror(errno));
			jobctl_fail(b->j, EXIT_NOTDONE);
		}
		if (n <= 0)
			b->ieof = 1;
		else
			b->ilen += (size_t)n;
	}
}

/*
 * Take the next item: an argument, or a line of stdin for "-" (blank
 * lines and comments skipped). NULL with b->eof set at the end; NULL
 * without it when !wait and stdin has no line ready.
 */
static char *
jobctl_batch_next(struct batch *b, int wait)
{
	char	*p, *s;

	for (;;) {
		if (b->in_stdin) {
			if ((p = jobctl_stdin_line(b, wait)) == NULL) {
				if (!b->ieof)
					return NULL;
				b->in_stdin = 0;
				continue;
			}
			while (*p == ' ' || *p == '\t')
				p++;
			s = p + strlen(p);
			while (s > p && (s[-1] == '\r' || s[-1] == ' ' ||
			    s[-1] == '\t'))
				*--s = '\0';
			if (*p == '\0' || *p == '#')
				continue;
			return xstrdup(p);
		}
		if (b->argi >= b->argc) {
			b->eof = 1;
			return NULL;
		}
		if (strcmp(b->argv[b->argi], "-") == 0) {
			b->argi++;
			b->in_stdin = 1;
			continue;
		}
		return xstrdup(b->argv[b->argi++]);
	}
}

/* Terminal width of stderr, 80 when it cannot be told. */
static int
jobctl_progress_cols(void)
{
	struct winsize	 ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == -1 || ws.ws_col < 20)
		return 80;
	return ws.ws_col;
}

/* "1:05" or "2:01:05". */
static void
jobctl_progress_eta(char *buf, size_t len, double s)
{
	uint64_t	 t = s > 0 ? (uint64_t)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
		    t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64, t / 60, t % 60);
}

/* Take the bar off the screen, before other output or at the end. */
static void
jobctl_progress_erase(struct progress *p)
{
	if (!p->shown)
		return;
	fflush(stdout);
	fputs("\r\033[K", stderr);
	fflush(stderr);
	p->shown = 0;
	p->dirty = 1;
}

/*
 * Draw "[#####.....]  done/total  pct  rate/s  ETA m:ss" on stderr, at
 * most every PROGRESS_MS; the total is "n+" while stdin is still read.
 */
static void
jobctl_progress_draw(struct batch *b)
{
	struct progress	*p = &b->bar;
	uint64_t	 now = now_mono_us();
	double		 el, rate, frac;
	char		 text[160], eta[32], bar[256];
	int		 cols, w, fill, known = b->eof && b->qhead == b->qlen;

	if (!p->on || (!p->dirty && now - p->last < 1000000) ||
	    now - p->last < PROGRESS_MS * 1000 || b->nitems == 0)
		return;
	el = (double)(now - p->start) / 1e6;
	rate = el > 0 ? (double)b->nreported / el : 0;
	frac = (double)b->nreported / (double)b->nitems;
	if (known && rate > 0 && b->nreported < b->nitems)
		jobctl_progress_eta(eta, sizeof eta,
		    (double)(b->nitems - b->nreported) / rate);
	else
		snprintf(eta, sizeof eta, "-:--");
	if (known)
		snprintf(text, sizeof text, "  %zu/%zu  %3.0f%%  %.*f/s  "
		    "ETA %s", b->nreported, b->nitems, frac * 100,
		    rate < 10 ? 1 : 0, rate, eta);
	else
		snprintf(text, sizeof text, "  %zu/%zu+  %.*f/s", b->nreported,
		    b->nitems, rate < 10 ? 1 : 0, rate);
	cols = jobctl_progress_cols();
	w = cols - 1 - (int)strlen(text) - 2;
	if (w > (int)sizeof bar - 1)
		w = (int)sizeof bar - 1;
	fflush(stdout);
	if (w >= 10 && known) {
		fill = (int)(frac * w);
		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '.', (size_t)(w - fill));
		bar[w] = '\0';
		fprintf(stderr, "\r[%s]%s\033[K", bar, text);
	} else
		fprintf(stderr, "\r%.*s\033[K", cols - 1, text + 2);
	fflush(stderr);
	p->shown = 1;
	p->dirty = 0;
	p->last = now;
}

/* Report a finished item now, or keep it for argument order. */
static void
jobctl_batch_finish(struct batch *b, size_t index, char *item, json_t *record)
{
	b->nreported++;
	b->bar.dirty = 1;
	if (b->done != NULL) {
		b->done[index].item = item;
		b->done[index].record = json_incref(record);
		return;
	}
	if (record != NULL) {
		if (!jobctl_is_done(record))
			jobctl_fail(b->j, EXIT_NOTDONE);
		/* Output on the bar's terminal line would be garbled. */
		if (b->bar.shown && (b->bar.out_tty ||
		    !jobctl_is_done(record)))
			jobctl_progress_erase(&b->bar);
		b->report(b, item, record);
	}
	free(item);
}

/* Free what an item holds. */
static void
jobctl_batch_item_free(struct batch_item *it)
{
	free(it->item);
	json_decref(it->args);
	memset(it, 0, sizeof *it);
}

/* Put items first in the queue, to be sent before anything else. */
static void
jobctl_batch_requeue(struct batch *b, const struct batch_item *items,
    size_t n)
{
	struct batch_item	*q;
	size_t			 rest = b->qlen - b->qhead;

	q = xreallocarray(NULL, n + rest + 1, sizeof *q);
	memcpy(q, items, n * sizeof *q);
	if (rest > 0)
		memcpy(q + n, b->queue + b->qhead, rest * sizeof *q);
	free(b->queue);
	b->queue = q;
	b->qhead = 0;
	b->qlen = n + rest;
}

/* Read the next item into the queue; 0 if there is none (now). */
static int
jobctl_batch_read(struct batch *b, int wait)
{
	struct batch_item	 it;
	json_t			*args;
	char			*item;
	size_t			 index;

	for (;;) {
		if ((item = jobctl_batch_next(b, wait)) == NULL)
			return 0;
		index = b->nitems++;
		if ((args = b->args(b, item)) != NULL)
			break;
		jobctl_fail(b->j, EXIT_NOTDONE);
		jobctl_batch_finish(b, index, item, NULL);
	}
	memset(&it, 0, sizeof it);
	it.item = item;
	it.args = args;
	it.index = index;
	it.size = json_dumpb(args, NULL, 0, JSON_COMPACT) + 1;
	if (b->qhead == b->qlen)
		b->qhead = b->qlen = 0;
	b->queue = xreallocarray(b->queue, b->qlen + 1, sizeof *b->queue);
	b->queue[b->qlen++] = it;
	return 1;
}

/*
 * Fill a map with the next items: at most BATCH_CHUNK, and no more bytes
 * than chunk_bytes unless one item alone is larger. Waits for stdin only
 * for a first item while no map is in flight: a slow writer's lines go
 * out as they come, a file's in full maps. 0 if there is none (now).
 */
static size_t
jobctl_batch_fill(struct batch *b, struct batch_map *m)
{
	struct batch_item	*it;

	if (m->items == NULL) {
		m->items = xcalloc(BATCH_CHUNK, sizeof *m->items);
		m->seen = xcalloc(BATCH_CHUNK, 1);
	}
	m->n = 0;
	m->bytes = 0;
	while (m->n < BATCH_CHUNK) {
		if (b->qhead == b->qlen && (b->eof || !jobctl_batch_read(b,
		    m->n == 0 && b->busy == 0)))
			break;
		it = &b->queue[b->qhead];
		if (m->n > 0 && m->bytes + it->size > b->chunk_bytes)
			break;
		m->bytes += it->size;
		m->seen[m->n] = 0;
		m->items[m->n++] = *it;
		b->qhead++;
	}
	if (b->qhead == b->qlen)
		b->qhead = b->qlen = 0;
	return m->n;
}

/* Send a map's items as one job.map; -1 if the connection failed. */
static int
jobctl_batch_send(struct batch *b, struct batch_map *m)
{
	json_t	*items, *params, *req;
	size_t	 i;
	int	 rv, left;

	items = json_array();
	for (i = 0; i < m->n; i++)
		json_array_append(items, m->items[i].args);
	params = json_pack("{s:s, s:o, s:b, s:b, s:b, s:b}", "type", b->type,
	    "items", items, "ordered", 1, "stream", 1, "progress", 1,
	    /* Interrupting jobctl stops the batch, as ^C stops pool.map. */
	    "cancel_on_disconnect", 1);
	/*
	 * -t bounds the whole batch: what is left of it bounds this map
	 * (up to the 7 days a map's timeout may be).
	 */
	if ((left = jobctl_remaining(b->j)) >= 0 && left <= MAP_MAX_TIMEOUT_MS)
		json_object_set_new(params, "timeout_ms",
		    json_integer(left > 0 ? left : 1));
	if (m->client == NULL)
		m->client = jobctl_connect_new(b->j);
	m->id = BATCH_ID_BASE + ++b->seq;
	req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", m->id,
	    "method", "job.map", "params", params);
	rv = client_send(m->client, req);
	json_decref(req);
	b->busy++;
	return rv;
}

/* Release a map's items once it is answered. */
static void
jobctl_batch_idle(struct batch *b, struct batch_map *m)
{
	size_t	 i;

	for (i = 0; i < m->n; i++)
		jobctl_batch_item_free(&m->items[i]);
	m->n = 0;
	m->id = 0;
	b->busy--;
}

/* Report one item's record, once. */
static void
jobctl_batch_record(struct batch *b, struct batch_map *m, size_t i,
    json_t *record)
{
	struct batch_item	*it = &m->items[i];
	char			*item;

	if (m->seen[i])
		return;
	m->seen[i] = 1;
	/* The index among all items, not within this map. */
	json_object_set_new(record, "index", json_integer((json_int_t)
	    it->index));
	/* Records of items that never became jobs have no args. */
	if (json_object_get(record, "args") == NULL)
		json_object_set(record, "args", it->args);
	item = it->item;
	it->item = NULL;
	jobctl_batch_finish(b, it->index, item, record);
}

/*
 * The daemon refused a map. A request over max_request_bytes (the
 * daemon then hangs up) goes again in smaller maps; otherwise every
 * item of the map is reported failed and no more maps are sent.
 */
static void
jobctl_batch_refused(struct batch *b, struct batch_map *m,
    const json_t *error)
{
	size_t	 i;

	if (json_integer_value(json_object_get(error, "code")) ==
	    RPC_TOO_LARGE && m->n > 1) {
		b->chunk_bytes = m->bytes / 2 > BATCH_MIN_BYTES ?
		    m->bytes / 2 : BATCH_MIN_BYTES;
		jobctl_batch_requeue(b, m->items, m->n);
		memset(m->items, 0, m->n * sizeof *m->items);
		m->n = 0;
		client_close(m->client);
		m->client = NULL;
		jobctl_batch_idle(b, m);
		return;
	}
	jobctl_progress_erase(&b->bar);
	if (!b->stopped)
		jobctl_rpc_error(m->n == 1 ? m->items[0].item : b->type, error);
	b->stopped = 1;
	jobctl_fail(b->j, EXIT_NOTDONE);
	for (i = 0; i < m->n; i++) {
		if (!m->seen[i]) {
			m->seen[i] = 1;
			jobctl_batch_finish(b, m->items[i].index,
			    m->items[i].item, NULL);
			m->items[i].item = NULL;
		}
	}
	if (json_integer_value(json_object_get(error, "code")) ==
	    RPC_TOO_LARGE) {
		client_close(m->client);
		m->client = NULL;
	}
	jobctl_batch_idle(b, m);
}

/* The map's answer: records of the items not streamed (none, normally). */
static void
jobctl_batch_answer(struct batch *b, struct batch_map *m, json_t *msg)
{
	json_t	*error, *results, *rec;
	size_t	 i;

	if ((error = json_object_get(msg, "error")) != NULL) {
		jobctl_batch_refused(b, m, error);
		return;
	}
	results = json_object_get(json_object_get(msg, "result"), "results");
	for (i = 0; i < m->n; i++) {
		if (m->seen[i])
			continue;
		rec = json_array_get(results, i);
		if (json_is_object(rec))
			jobctl_batch_record(b, m, i, rec);
		else {
			jobctl_progress_erase(&b->bar);
			fprintf(stderr, "jobctl: %s: no record in the answer\n",
			    m->items[i].item);
			jobctl_fail(b->j, EXIT_NOTDONE);
			m->seen[i] = 1;
			jobctl_batch_finish(b, m->items[i].index,
			    m->items[i].item, NULL);
			m->items[i].item = NULL;
		}
	}
	jobctl_batch_idle(b, m);
}

/* Handle one message of a map's connection. */
static void
jobctl_batch_message(struct batch *b, struct batch_map *m, json_t *msg)
{
	const char	*method;
	json_t		*params, *id, *index;
	json_int_t	 i;

	if ((method = json_string_value(json_object_get(msg, "method")))
	    != NULL) {
		params = json_object_get(msg, "params");
		if (strcmp(method, "job.done") == 0 && json_is_object(params)) {
			index = json_object_get(params, "index");
			i = json_integer_value(index);
			if (json_is_integer(index) && i >= 0 &&
			    (size_t)i < m->n)
				jobctl_batch_record(b, m, (size_t)i, params);
		} else if (strcmp(method, "job.progress") == 0)
			b->bar.dirty = 1;
		return;
	}
	id = json_object_get(msg, "id");
	if (m->id != 0 && ((json_is_integer(id) &&
	    json_integer_value(id) == m->id) || (json_is_null(id) &&
	    json_object_get(msg, "error") != NULL)))
		jobctl_batch_answer(b, m, msg);
}

/* A map's connection failed: its answer may still be there to read. */
static void
jobctl_batch_broken(struct batch *b, struct batch_map *m, int saved_errno)
{
	json_t	*msg;

	while (m->id != 0 && (msg = client_recv(m->client, 1000)) != NULL) {
		jobctl_batch_message(b, m, msg);
		json_decref(msg);
	}
	if (m->id != 0) {
		jobctl_progress_erase(&b->bar);
		jobctl_lost(b->j, saved_errno, (size_t)(b->nitems -
		    b->nreported));
	}
}

/* Read every message waiting on the maps' connections; how many. */
static int
jobctl_batch_drain(struct batch *b)
{
	struct batch_map	*m;
	json_t			*msg;
	int			 n = 0, saved;

	for (m = b->maps; m < b->maps + BATCH_MAPS; m++) {
		while (m->id != 0) {
			if ((msg = client_recv(m->client, 0)) == NULL) {
				saved = errno;
				if (saved != ETIMEDOUT)
					jobctl_batch_broken(b, m, saved);
				break;
			}
			jobctl_batch_message(b, m, msg);
			json_decref(msg);
			n++;
			if (ferror(stdout))
				return n;
		}
	}
	return n;
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
 * Run every item through job.map, BATCH_MAPS maps at a time. Items from
 * the arguments are reported in their order once all are done (--json:
 * as they finish); items from stdin as they finish. -t becomes the maps'
 * timeout, so items unfinished by then end as timeout.
 */
static void
jobctl_batch_run(struct batch *b, char **argv, int argc)
{
	struct pollfd		 pfd[BATCH_MAPS + 1];
	struct batch_map	*m;
	uint64_t		 deadline = 0, now;
	int			 i, n, wait_ms, left, idle;

	b->argv = argv;
	b->argc = argc;
	b->done = NULL;
	b->chunk_bytes = BATCH_CHUNK_BYTES;
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0)
			break;
	}
	if (i == argc && argc > 0 && !b->j->json)
		b->done = xcalloc((size_t)argc, sizeof *b->done);
	b->bar.on = isatty(STDERR_FILENO);
	b->bar.out_tty = isatty(STDOUT_FILENO);
	b->bar.start = b->bar.last = now_mono_us();
	if (b->j->timeout_s > 0)
		deadline = b->j->start + (uint64_t)(b->j->timeout_s * 1e6) +
		    (uint64_t)BATCH_GRACE_MS * 1000;
	/* Fail now, not after reading stdin, when jobd is not there. */
	b->maps[0].client = jobctl_connect_new(b->j);

	for (;;) {
		for (m = b->maps; m < b->maps + BATCH_MAPS && !b->stopped;
		    m++) {
			if (m->id != 0)
				continue;
			if (b->eof && b->qhead == b->qlen)
				break;
			if (jobctl_remaining(b->j) == 0) {
				b->expired = 1;
				break;
			}
			if (jobctl_batch_fill(b, m) == 0)
				break;
			if (jobctl_batch_send(b, m) == -1)
				jobctl_batch_broken(b, m, errno);
		}
		if (b->busy == 0)
			break;
		if (jobctl_batch_drain(b) > 0) {
			if (ferror(stdout))
				break;		/* the reader went away */
			jobctl_progress_draw(b);
			continue;
		}
		jobctl_progress_draw(b);
		/* Results reach a pipe as they come, not at the end. */
		fflush(stdout);

		wait_ms = -1;
		if (deadline != 0) {
			now = now_mono_us();
			if (now >= deadline) {
				jobctl_progress_erase(&b->bar);
				jobctl_lost(b->j, ETIMEDOUT,
				    (size_t)(b->nitems - b->nreported));
			}
			left = (int)((deadline - now) / 1000 + 1);
			wait_ms = left;
		}
		if (b->bar.on && (wait_ms == -1 || wait_ms > PROGRESS_MS))
			wait_ms = PROGRESS_MS;
		for (n = idle = 0, m = b->maps; m < b->maps + BATCH_MAPS;
		    m++) {
			if (m->id == 0) {
				idle = 1;
				continue;
			}
			pfd[n].fd = client_fd(m->client);
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		/* Lines that come while a map runs make the next one. */
		if (idle && b->in_stdin && !b->ieof && !b->stopped &&
		    !b->expired) {
			pfd[n].fd = STDIN_FILENO;
			pfd[n].events = POLLIN;
			pfd[n++].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, wait_ms) == -1 && errno != EINTR)
			fatal("%s: poll", __func__);
	}

	jobctl_progress_erase(&b->bar);
	if (b->done != NULL)
		jobctl_batch_flush(b);
	free(b->ibuf);
	b->ibuf = NULL;
	if (b->expired) {
		fflush(stdout);
		fprintf(stderr, "jobctl: timed out after %gs before every item "
		    "was submitted\n", b->j->timeout_s);
		jobctl_fail(b->j, EXIT_NOTDONE);
	}
	for (i = 0; i < BATCH_MAPS; i++) {
		m = &b->maps[i];
		if (m->id != 0)
			jobctl_batch_idle(b, m);
		for (; m->n > 0; m->n--)
			jobctl_batch_item_free(&m->items[m->n - 1]);
		free(m->items);
		free(m->seen);
		client_close(m->client);
		memset(m, 0, sizeof *m);
	}
	for (; b->qhead < b->qlen; b->qhead++)
		jobctl_batch_item_free(&b->queue[b->qhead]);
	free(b->queue);
	b->queue = NULL;
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

/*
 * What every batch report does first: a --json line, or the error of an
 * item that is not done. 1 when the record is a row for the table.
 */
static int
batch_row(struct batch *b, const char *item, json_t *record)
{
	if (b->j->json) {
		jobctl_json_line(record);
		return 0;
	}
	if (!jobctl_is_done(record)) {
		jobctl_job_error(item, record);
		return 0;
	}
	return 1;
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

	if (!batch_row(b, item, record))
		return;
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

/* The options every job takes (submit, schedule add); 0 if not one. */
static int
cmd_job_opt(const struct jobctl_cmd *cmd, int ch, json_t *opts)
{
	int64_t	 n;

	switch (ch) {
	case 'p':
		if (jobctl_int(optarg, INT_MIN, INT_MAX, &n) == -1)
			jobctl_usage(cmd, "bad priority: %s", optarg);
		json_object_set_new(opts, "priority", json_integer(n));
		return 1;
	case OPT_TAG:
		json_object_set_new(opts, "tag", json_string(optarg));
		return 1;
	case OPT_CLASS:
		if (strcmp(optarg, "io") != 0 && strcmp(optarg, "cpu") != 0)
			jobctl_usage(cmd, "class must be io or cpu");
		json_object_set_new(opts, "class", json_string(optarg));
		return 1;
	case OPT_TIMEOUT_MS:
		if (jobctl_int(optarg, 0, INT64_MAX, &n) == -1)
			jobctl_usage(cmd, "bad --timeout-ms: %s", optarg);
		json_object_set_new(opts, "timeout_ms", json_integer(n));
		return 1;
	}
	return 0;
}

/*
 * The job the operands describe, TYPE key=value... or - (a JSON job on
 * stdin), with the options (taken) over it.
 */
static json_t *
cmd_job(const struct jobctl_cmd *cmd, int argc, char **argv, json_t *opts)
{
	json_t	*job, *args;
	int	 i;

	if (optind >= argc)
		jobctl_usage(cmd, "no job type given");
	if (strcmp(argv[optind], "-") == 0) {
		if (optind + 1 != argc)
			jobctl_usage(cmd, "nothing may follow -");
		job = cmd_submit_stdin(cmd);
	} else {
		args = json_object();
		for (i = optind + 1; i < argc; i++)
			cmd_submit_kv(cmd, args, argv[i]);
		job = json_pack("{s:s, s:o}", "type", argv[optind],
		    "args", args);
	}
	json_object_update(job, opts);
	json_decref(opts);
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
	json_t		*params, *opts, *result;
	int		 ch, count = 0;
	char		 buf[64];

	opts = json_object();
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "wp:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'w':
			json_object_set_new(opts, "wait", json_true());
			break;
		default:
			if (!cmd_job_opt(cmd, ch, opts))
				jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	params = cmd_job(cmd, argc, argv, opts);

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

/* Print an object's scalar members as "key value" pairs. */
static void
cmd_status_pairs(const char *label, const json_t *o)
{
	const char	*k, *sep = "";
	const json_t	*v;
	char		 buf[64];

	printf("%-11s", label);
	json_object_foreach((json_t *)o, k, v) {
		if (!json_is_object(v) && !json_is_array(v)) {
			printf("%s%s %s", sep, k, jobctl_str(v, buf,
			    sizeof buf));
			sep = "  ";
		}
	}
	putchar('\n');
}

/* A member as text, in its own buffer. */
#define ST(o, k, b)	jobctl_str(json_object_get((o), (k)), (b), sizeof (b))

/* The compact view of status --watch: one line per subject. */
static void
cmd_status_compact(const json_t *st)
{
	static const char *const wstates[] = { "busy", "idle", "starting",
	    "down" };
	const json_t	*pools, *io, *cpu, *w, *lat, *c, *sc;
	const char	*k, *s, *label;
	size_t		 i, n, cnt, other, nworkers;
	char		 b1[64], b2[64], b3[64], b4[64], b5[64], now[32];
	time_t		 t = time(NULL);
	struct tm	 tm;

	localtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%d %H:%M:%S", &tm);
	printf("jobd %s  pid %s  up %s  connections %s  maps %s%s  [%s]\n",
	    ST(st, "version", b1), ST(st, "pid", b2),
	    json_is_number(json_object_get(st, "uptime_s")) ?
	    cmd_status_uptime(json_object_get(st, "uptime_s"), b3,
	    sizeof b3) : "-", ST(st, "connections", b4), ST(st, "maps", b5),
	    json_is_true(json_object_get(st, "draining")) ? "  DRAINING" : "",
	    now);
	cmd_status_pairs("queues", json_object_get(st, "queues"));
	cmd_status_pairs("jobs", json_object_get(st, "jobs"));
	cmd_status_pairs("totals", json_object_get(st, "totals"));

	pools = json_object_get(st, "pools");
	io = json_object_get(pools, "io");
	printf("%-11sthreads %s  in flight %s/%s  completed %s\n", "io pool",
	    ST(io, "threads", b1), ST(io, "in_flight", b2),
	    ST(io, "max_transfers", b3), ST(io, "completed", b4));
	cpu = json_object_get(pools, "cpu");
	nworkers = json_array_size(json_object_get(cpu, "workers"));
	printf("%-11sworkers %zu:", "cpu pool", nworkers);
	other = nworkers;
	for (n = 0; n < nitems(wstates); n++) {
		cnt = 0;
		json_array_foreach(json_object_get(cpu, "workers"), i, w) {
			s = json_string_value(json_object_get(w, "state"));
			if (s != NULL && strcmp(s, wstates[n]) == 0)
				cnt++;
		}
		other -= cnt;
		/* busy and idle always; the others when there are some. */
		if (cnt > 0 || n < 2)
			printf(" %s %zu", wstates[n], cnt);
	}
	if (other > 0)
		printf(" other %zu", other);
	printf("  tasks queued %s  restarts", ST(cpu, "tasks_queued", b1));
	json_object_foreach(json_object_get(cpu, "restarts"), k, c)
		printf(" %s %s", k, jobctl_str(c, b1, sizeof b1));
	putchar('\n');

	lat = json_object_get(json_object_get(st, "latency"), "class");
	label = "latency";
	json_object_foreach((json_t *)lat, k, c) {
		printf("%-11s%-4s count %s", label, k, ST(c, "count", b1));
		if (json_is_number(json_object_get(c, "p50_ms")))
			printf("  p50 %s  p99 %s", jobctl_ms(json_object_get(c,
			    "p50_ms"), b2, sizeof b2), jobctl_ms(
			    json_object_get(c, "p99_ms"), b3, sizeof b3));
		putchar('\n');
		label = "";
	}
	sc = json_object_get(st, "schedules");
	printf("%-11scount %s  up %s  down %s\n", "schedules",
	    ST(sc, "count", b1), ST(sc, "up", b2), ST(sc, "down", b3));
}
#undef ST

/* SIGINT or SIGTERM, once: a loop that watches should end cleanly. */
static volatile sig_atomic_t jobctl_stop;

static void
jobctl_on_signal(int sig)
{
	jobctl_stop = sig;
}

/* Catch the first SIGINT/SIGTERM; a second one ends jobctl at once. */
static void
jobctl_catch_signals(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = jobctl_on_signal;
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Sleep until a mono time (us), or until a signal asks us to stop. */
static void
jobctl_sleep_until(uint64_t until)
{
	uint64_t	 now;

	while (!jobctl_stop && (now = now_mono_us()) < until)
		poll(NULL, 0, (int)((until - now) / 1000 + 1));
}

/* Parse a duration option into milliseconds, or exit 2. */
static int64_t
jobctl_dur_ms(const struct jobctl_cmd *cmd, const char *opt, const char *s)
{
	double	 secs;

	if (jobctl_seconds(s, &secs) == -1)
		jobctl_usage(cmd, "bad %s: %s", opt, s);
	return (int64_t)llround(secs * 1000);
}

/* Parse a count option, at least min, or exit 2. */
static int64_t
jobctl_count_opt(const struct jobctl_cmd *cmd, const char *opt, const char *s,
    int64_t min)
{
	int64_t	 n;

	if (jobctl_int(s, min, INT_MAX, &n) == -1)
		jobctl_usage(cmd, "bad %s: %s", opt, s);
	return n;
}

/*
 * status [--watch [--interval DUR] [--count N]]: daemon.status once, or
 * a compact view again and again.
 */
static int
cmd_status(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*result;
	int64_t		 interval = 1000, count = 0, shown = 0;
	uint64_t	 next;
	int		 ch, watch = 0, tty, opts = 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "wi:n:",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			watch = 1;
			break;
		case 'i':
			interval = jobctl_dur_ms(cmd, "--interval", optarg);
			opts = 1;
			break;
		case 'n':
			count = jobctl_count_opt(cmd, "--count", optarg, 1);
			opts = 1;
			break;
		default:
			jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	if (optind != argc)
		jobctl_usage(cmd, "unexpected argument %s", argv[optind]);
	if (opts && !watch)
		jobctl_usage(cmd, "--interval and --count go with --watch");
	if (!watch) {
		if ((result = jobctl_call(j, "daemon.status", NULL,
		    NULL)) == NULL)
			return 0;
		if (j->json)
			jobctl_json_line(result);
		else
			cmd_status_render(result, 0);
		json_decref(result);
		return 0;
	}

	/* -t bounds a single call, not the watch. */
	j->timeout_s = 0;
	tty = isatty(STDOUT_FILENO);
	jobctl_catch_signals();
	for (next = now_mono_us(); !jobctl_stop; ) {
		if ((result = jobctl_call(j, "daemon.status", NULL,
		    NULL)) == NULL)
			return 0;
		if (j->json)
			jobctl_json_line(result);
		else {
			if (tty)
				fputs("\033[H\033[2J", stdout);
			else if (shown > 0)
				putchar('\n');
			cmd_status_compact(result);
		}
		json_decref(result);
		if (fflush(stdout) == EOF)
			break;
		if (++shown == count)
			break;
		next += (uint64_t)interval * 1000;
		jobctl_sleep_until(next);
	}
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

	if (!batch_row(b, item, record))
		return;
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
	if (!batch_row(b, item, record))
		return;
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

/* The time of day of an RFC 3339 stamp: "23:30:05.787". */
static const char *
cmd_ping_time(const json_t *v, char *buf, size_t len)
{
	const char	*s = json_string_value(v), *t;

	if (s == NULL || (t = strchr(s, 'T')) == NULL)
		return "-";
	snprintf(buf, len, "%.*s", (int)strcspn(t + 1, "Z+"), t + 1);
	return buf;
}

/* ping --every: print one kept result of a target's schedule. */
static void
cmd_ping_watch_line(struct jobctl *j, struct table *t,
    struct watch_target *w, const json_t *e, const json_t *av)
{
	const json_t	*r = json_object_get(e, "result");
	const char	*cells[8], *state;
	char		 tm[32], ms[32], st[32], ratio[16], err[512];
	json_t		*line;
	int		 done;

	state = json_string_value(json_object_get(e, "state"));
	done = state != NULL && strcmp(state, "done") == 0;
	w->up = done && json_is_true(json_object_get(r, "up"));
	if (j->json) {
		line = json_deep_copy(e);
		json_object_set_new(line, "schedule", json_string(w->id));
		json_object_set_new(line, "target", json_string(w->item));
		json_object_set(line, "availability", (json_t *)av);
		jobctl_json_line(line);
		json_decref(line);
		return;
	}
	cells[0] = cmd_ping_time(json_object_get(e, "finished_at"), tm,
	    sizeof tm);
	cells[1] = !done ? (state != NULL ? state : "?") : w->up ? "up" :
	    "down";
	cells[2] = w->up ? jobctl_ms(json_object_get(r, "latency_ms"), ms,
	    sizeof ms) : "-";
	cells[3] = json_is_integer(json_object_get(r, "status")) ?
	    jobctl_str(json_object_get(r, "status"), st, sizeof st) : "-";
	cells[4] = json_is_string(json_object_get(av, "state")) ?
	    json_string_value(json_object_get(av, "state")) : "-";
	if (json_is_number(json_object_get(av, "up_ratio"))) {
		snprintf(ratio, sizeof ratio, "%.0f%%", 100 *
		    json_number_value(json_object_get(av, "up_ratio")));
		cells[5] = ratio;
	} else
		cells[5] = "-";
	cells[6] = w->item;
	if (w->up)
		cells[7] = "";
	else if (done)
		cells[7] = cmd_ping_error(json_object_get(r, "error"), err,
		    sizeof err);
	else
		cells[7] = cmd_ping_error(json_object_get(e, "error"), err,
		    sizeof err);
	jobctl_table_row(t, cells);
}

/* ping --every: print a target's results newer than the last printed. */
static void
cmd_ping_watch_poll(struct jobctl *j, struct table *t,
    struct watch_target *w, int64_t count)
{
	json_t		*res, *results, *e, *av;
	const char	*job;
	size_t		 i, first = 0;

	res = jobctl_call(j, "schedule.get", json_pack("{s:s}", "id", w->id),
	    w->item);
	if (res == NULL) {
		/* Removed behind our back: nothing left to remove. */
		free(w->id);
		w->id = NULL;
		return;
	}
	results = json_object_get(res, "results");
	av = json_object_get(res, "availability");
	/* Results after the last one printed (all, if it left the ring). */
	if (w->last_job != NULL) {
		json_array_foreach(results, i, e) {
			job = json_string_value(json_object_get(e, "job"));
			if (job != NULL && strcmp(job, w->last_job) == 0)
				first = i + 1;
		}
	}
	for (i = first; i < json_array_size(results); i++) {
		if (count > 0 && w->rounds >= count)
			break;
		e = json_array_get(results, i);
		if ((job = json_string_value(json_object_get(e, "job"))) ==
		    NULL)
			continue;
		cmd_ping_watch_line(j, t, w, e, av);
		free(w->last_job);
		w->last_job = xstrdup(job);
		w->rounds++;
	}
	json_decref(res);
}

/*
 * ping --every DUR: one schedule per target; a line per check of each
 * target until SIGINT/SIGTERM, -t or --count rounds; then the schedules
 * are removed. Exit 0 if every target's last check was up.
 */
static int
cmd_ping_watch(struct jobctl *j, char **targets, int n, json_t *sparams,
    int64_t count)
{
	static const char *const head[] = { "TIME", "RESULT", "LATENCY",
	    "STATUS", "AVAIL", "UP%", "TARGET", "ERROR" };
	static const int widths[] = { 12, 6, 8, 6, 7, 4, 30, 0 };
	struct watch_target	*w;
	struct table		 t;
	json_t			*params, *res;
	int64_t			 every = json_integer_value(json_object_get(
				     sparams, "every_ms"));
	uint64_t		 deadline = 0, next;
	int			 i, poll_ms, left, all, added;

	if (j->timeout_s > 0)
		deadline = j->start + (uint64_t)(j->timeout_s * 1e6);
	/* -t ends the watch; the calls themselves wait as long as needed. */
	j->timeout_s = 0;
	poll_ms = (int)(every / 4);
	if (poll_ms < 50)
		poll_ms = 50;
	if (poll_ms > WATCH_POLL_MAX_MS)
		poll_ms = WATCH_POLL_MAX_MS;
	w = xcalloc((size_t)n, sizeof *w);
	jobctl_catch_signals();

	for (i = 0; i < n && !jobctl_stop; i++) {
		w[i].item = targets[i];
		params = json_deep_copy(sparams);
		json_object_set_new(params, "job", json_pack("{s:s, s:o}",
		    "type", "ping", "args", cmd_ping_target(targets[i])));
		if ((res = jobctl_call(j, "schedule.add", params,
		    targets[i])) == NULL)
			break;
		if (json_is_string(json_object_get(res, "id")))
			w[i].id = xstrdup(json_string_value(json_object_get(res,
			    "id")));
		json_decref(res);
		if (w[i].id == NULL) {
			jobctl_fail(j, EXIT_NOTDONE);
			break;
		}
	}

	added = i;
	jobctl_table_init(&t, 1, "lllrllll", head);
	jobctl_table_widths(&t, widths);
	next = now_mono_us();
	/* Watch only when every target has its schedule. */
	while (added == n && !jobctl_stop) {
		all = 1;
		left = 0;
		for (i = 0; i < n; i++) {
			if (w[i].id == NULL)
				continue;
			cmd_ping_watch_poll(j, &t, &w[i], count);
			if (w[i].id != NULL)
				left++;
			if (count == 0 || w[i].rounds < count)
				all = 0;
		}
		fflush(stdout);
		if (left == 0 || all || ferror(stdout))
			break;
		next += (uint64_t)poll_ms * 1000;
		if (deadline != 0 && next >= deadline) {
			jobctl_sleep_until(deadline);
			break;
		}
		jobctl_sleep_until(next);
	}
	jobctl_table_end(&t);

	for (i = 0; i < added; i++) {
		if (w[i].id != NULL) {
			res = jobctl_call(j, "schedule.remove", json_pack(
			    "{s:s}", "id", w[i].id), w[i].item);
			json_decref(res);
		}
		if (!w[i].up)
			jobctl_fail(j, EXIT_NOTDONE);
		free(w[i].id);
		free(w[i].last_job);
	}
	free(w);
	return 0;
}

/* ping [--every DUR ...] URL|HOST:PORT...: is each target up. */
static int
cmd_ping(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "every", required_argument, NULL, OPT_EVERY },
		{ "jitter", required_argument, NULL, OPT_JITTER },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "flip-after", required_argument, NULL, OPT_FLIP_AFTER },
		{ "count", required_argument, NULL, OPT_COUNT },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const head[] =
	    { "STATE", "LATENCY", "STATUS", "TARGET", "ERROR" };
	static const int widths[] = { 5, 8, 6, 30, 0 };
	struct batch	 b;
	json_t		*args, *sparams;
	int64_t		 count = 0;
	int		 ch, i, every = 0, extra = 0, rv;

	sparams = json_object();
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_EVERY:
			json_object_set_new(sparams, "every_ms", json_integer(
			    jobctl_dur_ms(cmd, "--every", optarg)));
			every = 1;
			break;
		case OPT_JITTER:
			json_object_set_new(sparams, "jitter_ms", json_integer(
			    jobctl_dur_ms(cmd, "--jitter", optarg)));
			extra = 1;
			break;
		case OPT_KEEP:
			json_object_set_new(sparams, "keep", json_integer(
			    jobctl_count_opt(cmd, "--keep", optarg, 1)));
			extra = 1;
			break;
		case OPT_FLIP_AFTER:
			json_object_set_new(sparams, "flip_after", json_integer(
			    jobctl_count_opt(cmd, "--flip-after", optarg, 1)));
			extra = 1;
			break;
		case OPT_COUNT:
			count = jobctl_count_opt(cmd, "--count", optarg, 1);
			extra = 1;
			break;
		default:
			jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	if (extra && !every)
		jobctl_usage(cmd, "--jitter, --keep, --flip-after and --count "
		    "go with --every");
	/* Bad targets among the arguments are usage errors, up front. */
	for (i = optind; i < argc; i++) {
		if (strcmp(argv[i], "-") == 0) {
			if (every)
				jobctl_usage(cmd, "--every takes its targets "
				    "from the arguments only");
			continue;
		}
		if ((args = cmd_ping_target(argv[i])) == NULL)
			jobctl_usage(cmd, "%s: not a URL or HOST:PORT",
			    argv[i]);
		json_decref(args);
	}
	if (every) {
		if (optind == argc)
			jobctl_usage(cmd, "no targets given");
		rv = cmd_ping_watch(j, argv + optind, argc - optind, sparams,
		    count);
		json_decref(sparams);
		return rv;
	}
	json_decref(sparams);
	memset(&b, 0, sizeof b);
	b.type = "ping";
	b.args = cmd_ping_args;
	b.report = cmd_ping_report;
	return jobctl_io_batch(j, cmd, &b, argc - optind, argv + optind,
	    "lrrll", head, widths);
}

/* A duration in milliseconds for people: "500ms", "5s", "2m", "1.5s". */
static const char *
cmd_schedule_dur(const json_t *v, char *buf, size_t len)
{
	json_int_t	 ms;

	if (!json_is_integer(v))
		return "-";
	ms = json_integer_value(v);
	if (ms >= 3600000 && ms % 3600000 == 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "h", ms / 3600000);
	else if (ms >= 60000 && ms % 60000 == 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "m", ms / 60000);
	else if (ms >= 1000 && ms % 1000 == 0)
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "s", ms / 1000);
	else if (ms >= 1000)
		snprintf(buf, len, "%.1fs", (double)ms / 1000);
	else
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT "ms", ms);
	return buf;
}

/* A ping schedule's availability: state, up ratio, latency, since. */
static void
cmd_schedule_avail(const json_t *av, const char **state, char *ratio,
    size_t rlen, char *lat, size_t llen)
{
	*state = json_is_string(json_object_get(av, "state")) ?
	    json_string_value(json_object_get(av, "state")) : "-";
	if (json_is_number(json_object_get(av, "up_ratio")))
		snprintf(ratio, rlen, "%.0f%%", 100 *
		    json_number_value(json_object_get(av, "up_ratio")));
	else
		snprintf(ratio, rlen, "-");
	if (jobctl_ms(json_object_get(av, "last_latency_ms"), lat, llen) !=
	    lat)
		snprintf(lat, llen, "-");
}

/* schedule add [options] TYPE key=value... | -: a new schedule. */
static int
cmd_schedule_add(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct option longopts[] = {
		COMMON_LONGOPTS,
		{ "every", required_argument, NULL, OPT_EVERY },
		{ "jitter", required_argument, NULL, OPT_JITTER },
		{ "keep", required_argument, NULL, OPT_KEEP },
		{ "flip-after", required_argument, NULL, OPT_FLIP_AFTER },
		{ "priority", required_argument, NULL, 'p' },
		{ "tag", required_argument, NULL, OPT_TAG },
		{ "class", required_argument, NULL, OPT_CLASS },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT_MS },
		{ NULL, 0, NULL, 0 }
	};
	json_t		*params, *job, *opts, *res;
	int		 ch;
	char		 buf[64];

	params = json_pack("{s:I}", "every_ms", (json_int_t)60000);
	opts = json_object();
	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS "p:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_EVERY:
			json_object_set_new(params, "every_ms", json_integer(
			    jobctl_dur_ms(cmd, "--every", optarg)));
			break;
		case OPT_JITTER:
			json_object_set_new(params, "jitter_ms", json_integer(
			    jobctl_dur_ms(cmd, "--jitter", optarg)));
			break;
		case OPT_KEEP:
			json_object_set_new(params, "keep", json_integer(
			    jobctl_count_opt(cmd, "--keep", optarg, 1)));
			break;
		case OPT_FLIP_AFTER:
			json_object_set_new(params, "flip_after", json_integer(
			    jobctl_count_opt(cmd, "--flip-after", optarg, 1)));
			break;
		default:
			if (!cmd_job_opt(cmd, ch, opts))
				jobctl_common_opt(j, cmd, ch, argv);
		}
	}
	job = cmd_job(cmd, argc, argv, opts);
	json_object_del(job, "wait");
	json_object_set_new(params, "job", job);

	if ((res = jobctl_call(j, "schedule.add", params, NULL)) == NULL)
		return 0;
	if (j->json)
		jobctl_json_line(res);
	else
		printf("%s\n", jobctl_str(json_object_get(res, "id"), buf,
		    sizeof buf));
	json_decref(res);
	return 0;
}

/* schedule list: every schedule, one row (--json: one object) each. */
static int
cmd_schedule_list(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] = { "ID", "TYPE", "EVERY", "RUNS",
	    "KEPT", "AVAIL", "UP%", "LATENCY", "SINCE", "ARGS" };
	struct table	 t;
	const char	*cells[10], *since;
	json_t		*res, *s, *job;
	size_t		 i;
	char		 b[7][64], args[256];

	if (jobctl_getopt(j, cmd, argc, argv) != argc)
		jobctl_usage(cmd, "unexpected argument %s", argv[optind]);
	if ((res = jobctl_call(j, "schedule.list", NULL, NULL)) == NULL)
		return 0;
	jobctl_table_init(&t, 0, "llrrrlrrll", head);
	json_array_foreach(json_object_get(res, "schedules"), i, s) {
		if (j->json) {
			jobctl_json_line(s);
			continue;
		}
		job = json_object_get(s, "job");
		cells[0] = jobctl_str(json_object_get(s, "id"), b[0],
		    sizeof b[0]);
		cells[1] = jobctl_str(json_object_get(job, "type"), b[1],
		    sizeof b[1]);
		cells[2] = cmd_schedule_dur(json_object_get(s, "every_ms"),
		    b[2], sizeof b[2]);
		cells[3] = jobctl_str(json_object_get(s, "runs"), b[3],
		    sizeof b[3]);
		cells[4] = jobctl_str(json_object_get(s, "kept"), b[4],
		    sizeof b[4]);
		if (json_is_object(json_object_get(s, "availability"))) {
			cmd_schedule_avail(json_object_get(s, "availability"),
			    &cells[5], b[5], sizeof b[5], b[6], sizeof b[6]);
			cells[6] = b[5];
			cells[7] = b[6];
			since = json_string_value(json_object_get(
			    json_object_get(s, "availability"), "since"));
			cells[8] = since != NULL ? since : "-";
		} else
			cells[5] = cells[6] = cells[7] = cells[8] = "-";
		cells[9] = jobctl_str(json_object_get(job, "args"), args,
		    sizeof args);
		jobctl_table_row(&t, cells);
	}
	jobctl_table_end(&t);
	json_decref(res);
	return 0;
}

/* One kept result of a schedule, for people. */
static const char *
cmd_schedule_result(const json_t *e, char *buf, size_t len)
{
	const json_t	*r = json_object_get(e, "result");
	char		 ms[32];

	if (json_object_get(e, "error") != NULL)
		return cmd_ping_error(json_object_get(e, "error"), buf, len);
	if (json_is_boolean(json_object_get(r, "up"))) {
		if (!json_is_true(json_object_get(r, "up")))
			return cmd_ping_error(json_object_get(r, "error"), buf,
			    len);
		snprintf(buf, len, "up %s", jobctl_ms(json_object_get(r,
		    "latency_ms"), ms, sizeof ms));
		if (json_is_integer(json_object_get(r, "status")))
			snprintf(buf + strlen(buf), len - strlen(buf),
			    " %" JSON_INTEGER_FORMAT, json_integer_value(
			    json_object_get(r, "status")));
		return buf;
	}
	return jobctl_str(r, buf, len);
}

/* schedule get ID...: a schedule and its kept results. */
static int
cmd_schedule_get(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const char *const head[] = { "  FINISHED", "JOB", "STATE",
	    "RUN", "RESULT" };
	struct table	 t;
	const char	*cells[5], *state;
	json_t		*s, *job, *av, *e;
	size_t		 i;
	int		 a, first, count = 0;
	char		 b[6][256];

	first = jobctl_getopt(j, cmd, argc, argv);
	if (first == argc)
		jobctl_usage(cmd, "schedule get: no schedule id given");
	for (a = first; a < argc; a++) {
		if ((s = jobctl_call(j, "schedule.get", json_pack("{s:s}",
		    "id", argv[a]), argv[a])) == NULL)
			continue;
		if (j->json) {
			jobctl_json_line(s);
			json_decref(s);
			continue;
		}
		if (count++ > 0)
			putchar('\n');
		job = json_object_get(s, "job");
		printf("%-12s %s\n", "id", jobctl_str(json_object_get(s, "id"),
		    b[0], sizeof b[0]));
		printf("%-12s %s\n", "type", jobctl_str(json_object_get(job,
		    "type"), b[0], sizeof b[0]));
		printf("%-12s %s\n", "args", jobctl_str(json_object_get(job,
		    "args"), b[0], sizeof b[0]));
		printf("%-12s %s (jitter %s)\n", "every", cmd_schedule_dur(
		    json_object_get(s, "every_ms"), b[0], sizeof b[0]),
		    cmd_schedule_dur(json_object_get(s, "jitter_ms"), b[1],
		    sizeof b[1]));
		printf("%-12s %s (kept %s)\n", "keep", jobctl_str(
		    json_object_get(s, "keep"), b[0], sizeof b[0]), jobctl_str(
		    json_object_get(s, "kept"), b[1], sizeof b[1]));
		printf("%-12s %s (skipped %s)\n", "runs", jobctl_str(
		    json_object_get(s, "runs"), b[0], sizeof b[0]), jobctl_str(
		    json_object_get(s, "skipped"), b[1], sizeof b[1]));
		printf("%-12s %s\n", "created_at", jobctl_str(json_object_get(s,
		    "created_at"), b[0], sizeof b[0]));
		printf("%-12s %s\n", "next_run_in", jobctl_ms(json_object_get(s,
		    "next_run_in_ms"), b[0], sizeof b[0]));
		printf("%-12s %s\n", "running", json_is_string(json_object_get(
		    s, "running")) ? json_string_value(json_object_get(s,
		    "running")) : "-");
		if (json_is_object(av = json_object_get(s, "availability"))) {
			cmd_schedule_avail(av, &state, b[0], sizeof b[0], b[1],
			    sizeof b[1]);
			printf("%-12s %s, %s up, last latency %s, since %s "
			    "(flip after %s)\n", "availability", state, b[0],
			    b[1], json_is_string(json_object_get(av, "since")) ?
			    json_string_value(json_object_get(av, "since")) :
			    "-", jobctl_str(json_object_get(s, "flip_after"),
			    b[2], sizeof b[2]));
		}
		jobctl_table_init(&t, 0, "lllrl", head);
		json_array_foreach(json_object_get(s, "results"), i, e) {
			snprintf(b[0], sizeof b[0], "  %s", jobctl_str(
			    json_object_get(e, "finished_at"), b[5],
			    sizeof b[5]));
			cells[0] = b[0];
			cells[1] = jobctl_str(json_object_get(e, "job"), b[1],
			    sizeof b[1]);
			cells[2] = jobctl_str(json_object_get(e, "state"), b[2],
			    sizeof b[2]);
			cells[3] = jobctl_ms(json_object_get(e, "run_ms"), b[3],
			    sizeof b[3]);
			cells[4] = cmd_schedule_result(e, b[4], sizeof b[4]);
			jobctl_table_row(&t, cells);
		}
		if (t.nrows > 0)
			printf("results:\n");
		jobctl_table_end(&t);
		json_decref(s);
	}
	return 0;
}

/* schedule rm ID...: remove schedules. */
static int
cmd_schedule_rm(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	json_t	*res;
	int	 a, first;

	first = jobctl_getopt(j, cmd, argc, argv);
	if (first == argc)
		jobctl_usage(cmd, "schedule rm: no schedule id given");
	for (a = first; a < argc; a++) {
		if ((res = jobctl_call(j, "schedule.remove", json_pack("{s:s}",
		    "id", argv[a]), argv[a])) == NULL)
			continue;
		if (j->json)
			jobctl_json_line(res);
		else
			printf("%s removed\n", argv[a]);
		json_decref(res);
	}
	return 0;
}

/* schedule add|list|get|rm: recurring jobs. */
static int
cmd_schedule(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	static const struct {
		const char	*name;
		const char	*alias;
		int		 (*fn)(struct jobctl *,
				     const struct jobctl_cmd *, int, char **);
	} subs[] = {
		{ "add", NULL, cmd_schedule_add },
		{ "list", "ls", cmd_schedule_list },
		{ "get", "show", cmd_schedule_get },
		{ "rm", "remove", cmd_schedule_rm },
	};
	size_t	 i;

	if (argc < 2)
		jobctl_usage(cmd, "no schedule command given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)
		jobctl_common_opt(j, cmd, 'h', argv);
	for (i = 0; i < nitems(subs); i++) {
		if (strcmp(argv[1], subs[i].name) == 0 ||
		    (subs[i].alias != NULL &&
		    strcmp(argv[1], subs[i].alias) == 0))
			return subs[i].fn(j, cmd, argc - 1, argv + 1);
	}
	jobctl_usage(cmd, "unknown schedule command '%s'", argv[1]);
}

/* metrics: daemon.metrics' text as it is. */
static int
cmd_metrics(struct jobctl *j, const struct jobctl_cmd *cmd, int argc,
    char **argv)
{
	json_t		*res;
	const char	*text;

	if (jobctl_getopt(j, cmd, argc, argv) != argc)
		jobctl_usage(cmd, "unexpected argument %s", argv[optind]);
	if ((res = jobctl_call(j, "daemon.metrics", NULL, NULL)) == NULL)
		return 0;
	text = json_string_value(json_object_get(res, "text"));
	if (j->json)
		jobctl_json_line(res);
	else if (text != NULL)
		fputs(text, stdout);
	else {
		fprintf(stderr, "jobctl: daemon.metrics: no text in the "
		    "answer\n");
		jobctl_fail(j, EXIT_NOTDONE);
	}
	json_decref(res);
	return 0;
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
