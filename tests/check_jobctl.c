/*
 * Integration tests of jobctl: run $JOBCTL_BIN against a real jobd from
 * the harness and check its output and exit status.
 */
#include "config.h"

#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "httpd.h"

extern char	**environ;

#define RUN_MAXARGS	1024

struct run {
	char	*out;
	char	*err;
	int	 code;		/* exit status; -1 if it did not exit */
};

static struct harness *h;

static void
setup(void)
{
	h = harness_start(NULL);
}

static void
teardown(void)
{
	int	 status = harness_stop(h);

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "jobd exit status %d", status);
}

/* Read a whole file into a string. */
static char *
slurp(const char *path)
{
	FILE	*f;
	char	*s;
	long	 n;

	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	s = xmalloc((size_t)n + 1);
	ck_assert_int_eq(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

/*
 * Run jobctl with argv (NULL-terminated), stdin from the string in (NULL:
 * /dev/null), in directory cwd (NULL: ours); collect stdout, stderr and
 * the exit status.
 */
static void
run_argv(struct run *r, const char *in, const char *cwd, char **argv)
{
	char			 dir[] = "/tmp/jobctl-run.XXXXXX";
	char			 pin[64], pout[64], perr[64];
	posix_spawn_file_actions_t fa;
	const char		*bin = getenv("JOBCTL_BIN");
	pid_t			 pid;
	int			 status, fd;

	ck_assert_msg(bin != NULL, "JOBCTL_BIN not set");
	argv[0] = (char *)bin;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pin, sizeof pin, "%s/in", dir);
	snprintf(pout, sizeof pout, "%s/out", dir);
	snprintf(perr, sizeof perr, "%s/err", dir);
	if (in != NULL) {
		fd = open(pin, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, in, strlen(in)),
		    (ssize_t)strlen(in));
		close(fd);
	}

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO,
	    in != NULL ? pin : "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, pout,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, perr,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (cwd != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, cwd);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	while (waitpid(pid, &status, 0) == -1)
		ck_assert_int_eq(errno, EINTR);

	r->out = slurp(pout);
	r->err = slurp(perr);
	r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	unlink(pin);
	unlink(pout);
	unlink(perr);
	rmdir(dir);
}

/* run_argv with the arguments as a NULL-terminated list. */
static void
run(struct run *r, const char *in, const char *cwd, ...)
{
	char	*argv[RUN_MAXARGS];
	va_list	 ap;
	int	 n = 1;

	va_start(ap, cwd);
	while ((argv[n] = va_arg(ap, char *)) != NULL) {
		n++;
		ck_assert_int_lt(n, RUN_MAXARGS);
	}
	va_end(ap);
	run_argv(r, in, cwd, argv);
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Parse every line of out as a JSON object; returns an array of them. */
static json_t *
json_lines(const char *out)
{
	json_t		*a = json_array(), *v;
	json_error_t	 jerr;
	const char	*p = out, *nl;

	while (*p != '\0') {
		nl = strchr(p, '\n');
		ck_assert_msg(nl != NULL, "last line not ended: %s", p);
		v = json_loadb(p, (size_t)(nl - p), 0, &jerr);
		ck_assert_msg(v != NULL, "not JSON (%s): %.*s", jerr.text,
		    (int)(nl - p), p);
		ck_assert_msg(json_is_object(v), "not an object: %.*s",
		    (int)(nl - p), p);
		json_array_append_new(a, v);
		p = nl + 1;
	}
	return a;
}

/* Count the lines of a string. */
static size_t
count_lines(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* The state member of a record. */
static const char *
state_of(const json_t *rec)
{
	const char	*s = json_string_value(json_object_get(rec, "state"));

	ck_assert_ptr_nonnull(s);
	return s;
}

/*
 * Records (stolen) put in the order of their "index" member, which must
 * be 0..n-1, each once.
 */
static json_t *
by_index(json_t *recs, size_t n)
{
	json_t		*out = json_array(), *rec, *idx;
	size_t		 i;

	ck_assert_int_eq(json_array_size(recs), n);
	for (i = 0; i < n; i++)
		json_array_append_new(out, json_null());
	json_array_foreach(recs, i, rec) {
		idx = json_object_get(rec, "index");
		ck_assert_msg(json_is_integer(idx), "no index in record %zu",
		    i);
		ck_assert_int_ge(json_integer_value(idx), 0);
		ck_assert_int_lt(json_integer_value(idx), (json_int_t)n);
		ck_assert_msg(json_is_null(json_array_get(out,
		    (size_t)json_integer_value(idx))), "index %lld twice",
		    (long long)json_integer_value(idx));
		json_array_set(out, (size_t)json_integer_value(idx), rec);
	}
	json_decref(recs);
	return out;
}

/* wc -l -m -c of a file in a UTF-8 locale. */
static void
wc_file(const char *path, uint64_t *lines, uint64_t *chars, uint64_t *bytes)
{
	char		*cmd, *out;
	unsigned long	 l, m, c;
	int		 status;

	xasprintf(&cmd, "LC_ALL=C.UTF-8 wc -l -m -c < '%s'", path);
	out = harness_sh(cmd, &status);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(sscanf(out, "%lu %lu %lu", &l, &m, &c), 3);
	*lines = l;
	*chars = m;
	*bytes = c;
	free(out);
	free(cmd);
}

/* Files for the count tests: valid UTF-8 of every length, and edge cases. */
static const struct {
	const char	*name;
	const char	*data;
	int		 valid;
} count_files[] = {
	{ "ascii.txt", "hello\nworld\n", 1 },
	{ "utf8.txt", "h\xc3\xa9llo w\xc3\xb6rld\n\xe2\x82\xac 100\n"
	    "\xf0\x9f\x98\x80\n", 1 },
	{ "empty.txt", "", 1 },
	{ "nonl.txt", "no newline at the end", 1 },
	{ "blank.txt", "\n\n\n", 1 },
};

/* count: every column equals wc's, in argument order, with --json. */
START_TEST(t_count_matches_wc)
{
	char		 paths[nitems(count_files)][PATH_MAX];
	char		*argv[16];
	struct run	 r;
	json_t		*recs, *rec, *res;
	uint64_t	 l, m, c;
	size_t		 i;
	int		 n = 1;

	argv[n++] = (char *)"-s";
	argv[n++] = (char *)harness_socket(h);
	argv[n++] = (char *)"--json";
	argv[n++] = (char *)"count";
	for (i = 0; i < nitems(count_files); i++) {
		snprintf(paths[i], sizeof paths[i], "%s", harness_file(h,
		    count_files[i].name, count_files[i].data,
		    strlen(count_files[i].data)));
		argv[n++] = paths[i];
	}
	argv[n] = NULL;
	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = by_index(json_lines(r.out), nitems(count_files));
	for (i = 0; i < nitems(count_files); i++) {
		rec = json_array_get(recs, i);
		ck_assert_str_eq(state_of(rec), "done");
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(rec, "args"), "path")), paths[i]);
		res = json_object_get(rec, "result");
		wc_file(paths[i], &l, &m, &c);
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "lines")), l);
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "chars")), m);
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "bytes")), c);
		ck_assert_int_eq(json_is_true(json_object_get(res,
		    "valid_utf8")), count_files[i].valid);
	}
	json_decref(recs);
	run_free(&r);
}
END_TEST

/* count: the human table has a header, one row per file, a total. */
START_TEST(t_count_table)
{
	char		 a[PATH_MAX], b[PATH_MAX], file[PATH_MAX], valid[8];
	char		*line, *save;
	unsigned long	 ch, ln, by, tch = 0, tln = 0, tby = 0;
	uint64_t	 l, m, c;
	struct run	 r;
	int		 rows = 0, total = 0;

	snprintf(a, sizeof a, "%s", harness_file(h, "a.txt",
	    count_files[1].data, strlen(count_files[1].data)));
	snprintf(b, sizeof b, "%s", harness_file(h, "b.bin",
	    "ab\xff\xfe" "cd\n", 7));
	run(&r, NULL, NULL, "-s", harness_socket(h), "count", a, b, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	line = strtok_r(r.out, "\n", &save);
	ck_assert_ptr_nonnull(line);
	ck_assert_ptr_nonnull(strstr(line, "CHARS"));
	ck_assert_ptr_nonnull(strstr(line, "FILE"));
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		ck_assert_int_eq(sscanf(line, "%lu %lu %lu %7s %4095s", &ch,
		    &ln, &by, valid, file), 5);
		if (strcmp(file, "total") == 0) {
			ck_assert_int_eq(ch, tch);
			ck_assert_int_eq(ln, tln);
			ck_assert_int_eq(by, tby);
			ck_assert_str_eq(valid, "no");
			total++;
			continue;
		}
		ck_assert_str_eq(file, rows == 0 ? a : b);
		ck_assert_str_eq(valid, rows == 0 ? "yes" : "no");
		if (rows == 0) {
			wc_file(a, &l, &m, &c);
			ck_assert_int_eq(ch, m);
			ck_assert_int_eq(ln, l);
			ck_assert_int_eq(by, c);
		} else {
			ck_assert_int_eq(by, 7);
			ck_assert_int_eq(ln, 1);
		}
		tch += ch;
		tln += ln;
		tby += by;
		rows++;
	}
	ck_assert_int_eq(rows, 2);
	ck_assert_int_eq(total, 1);
	run_free(&r);
}
END_TEST

/* count: a relative path is sent absolute, resolved from jobctl's cwd. */
START_TEST(t_count_relative)
{
	char		 abs[PATH_MAX];
	struct run	 r;
	json_t		*recs, *rec;

	harness_file(h, "rel.txt", "one\ntwo\n", 8);
	ck_assert_ptr_nonnull(realpath(harness_file(h, "rel.txt", "one\ntwo\n",
	    8), abs));
	run(&r, NULL, harness_dir(h), "-s", harness_socket(h), "count",
	    "--json", "rel.txt", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 1);
	rec = json_array_get(recs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec,
	    "args"), "path")), abs);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rec,
	    "result"), "lines")), 2);
	json_decref(recs);
	run_free(&r);
}
END_TEST

/* count: a missing file fails (exit 1, named on stderr), others still count. */
START_TEST(t_count_missing)
{
	char		 good[PATH_MAX], missing[PATH_MAX];
	struct run	 r;

	snprintf(good, sizeof good, "%s", harness_file(h, "good.txt", "x\n",
	    2));
	snprintf(missing, sizeof missing, "%s/no-such-file", harness_dir(h));
	run(&r, NULL, NULL, "-s", harness_socket(h), "count", good, missing,
	    NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_ptr_nonnull(strstr(r.out, good));
	ck_assert_ptr_null(strstr(r.out, "no-such-file"));
	ck_assert_ptr_nonnull(strstr(r.err, "no-such-file"));
	ck_assert_ptr_nonnull(strstr(r.err, "jobctl: "));
	run_free(&r);
}
END_TEST

/* count -: names from stdin, blank lines and comments skipped. */
START_TEST(t_count_stdin)
{
	char		 a[PATH_MAX], b[PATH_MAX], *in;
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 seen_a = 0, seen_b = 0;
	const char	*p;

	snprintf(a, sizeof a, "%s", harness_file(h, "s1.txt", "1\n", 2));
	snprintf(b, sizeof b, "%s", harness_file(h, "s2.txt", "1\n2\n", 4));
	xasprintf(&in, "%s\n\n# a comment\n   %s  \n\n", a, b);
	run(&r, in, NULL, "-s", harness_socket(h), "--json", "count", "-",
	    NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 2);
	json_array_foreach(recs, i, rec) {
		p = json_string_value(json_object_get(json_object_get(rec,
		    "args"), "path"));
		ck_assert_ptr_nonnull(p);
		if (strcmp(p, a) == 0) {
			seen_a++;
			ck_assert_int_eq(json_integer_value(json_object_get(
			    json_object_get(rec, "result"), "lines")), 1);
		} else if (strcmp(p, b) == 0) {
			seen_b++;
			ck_assert_int_eq(json_integer_value(json_object_get(
			    json_object_get(rec, "result"), "lines")), 2);
		}
	}
	ck_assert_int_eq(seen_a, 1);
	ck_assert_int_eq(seen_b, 1);
	json_decref(recs);
	free(in);
	run_free(&r);
}
END_TEST

/*
 * count with many files: every one is answered once; --json lines carry
 * the item's index, which matches its argument.
 */
START_TEST(t_count_many)
{
	enum { NFILES = 7, NARGS = 700 };
	char		 paths[NFILES][PATH_MAX], name[32], data[NFILES + 1];
	char		*argv[NARGS + 8];
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 n = 1;

	for (i = 0; i < NFILES; i++) {
		snprintf(name, sizeof name, "m%zu.txt", i);
		memset(data, '\n', i);
		snprintf(paths[i], sizeof paths[i], "%s", harness_file(h, name,
		    data, i));
	}
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)harness_socket(h);
	argv[n++] = (char *)"--json";
	argv[n++] = (char *)"count";
	for (i = 0; i < NARGS; i++)
		argv[n++] = paths[i % NFILES];
	argv[n] = NULL;
	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = by_index(json_lines(r.out), NARGS);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(rec, "args"), "path")), paths[i % NFILES]);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(rec, "result"), "lines")), i % NFILES);
	}
	json_decref(recs);
	run_free(&r);
}
END_TEST

/*
 * With a queue limit far below the window, the daemon answers -32001 and
 * jobctl submits those items again after the advised delay: all finish.
 */
START_TEST(t_count_overloaded)
{
	static const char *const args[] = { "-o", "limits.max_queued=2",
	    "-o", "cpu.workers=1", NULL };
	struct harness	*hh;
	char		 path[PATH_MAX], *argv[40];
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 n = 1;

	hh = harness_start(args);
	snprintf(path, sizeof path, "%s", harness_file(hh, "o.txt", "a\nb\n",
	    4));
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)harness_socket(hh);
	argv[n++] = (char *)"--json";
	argv[n++] = (char *)"count";
	for (i = 0; i < 12; i++)
		argv[n++] = path;
	argv[n] = NULL;
	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 12);
	json_array_foreach(recs, i, rec)
		ck_assert_str_eq(state_of(rec), "done");
	json_decref(recs);
	run_free(&r);
	i = (size_t)harness_stop(hh);
	ck_assert_int_eq(i, 0);
}
END_TEST

/* squares: sum and count against the closed form, both outputs. */
START_TEST(t_squares)
{
	static const struct {
		const char	*from, *to;
		int64_t		 a, b;
	} cases[] = {
		{ "1", "10", 1, 10 },
		{ "-3", "3", -3, 3 },
		{ "0", "0", 0, 0 },
		{ "-7", "-2", -7, -2 },
		{ "1", "1000000", 1, 1000000 },
		{ "4294967000", "4294967296", INT64_C(4294967000),
		    INT64_C(4294967296) },
	};
	unsigned __int128 sum;
	char		 want[64], line[128];
	struct run	 r;
	json_t		*recs, *res;
	size_t		 i;
	int64_t		 x;

	for (i = 0; i < nitems(cases); i++) {
		sum = 0;
		for (x = cases[i].a; x <= cases[i].b; x++)
			sum += (unsigned __int128)((__int128)x * x);
		u128_to_dec(sum, want, sizeof want);

		run(&r, NULL, NULL, "-s", harness_socket(h), "--json",
		    "squares", cases[i].from, cases[i].to, NULL);
		ck_assert_msg(r.code == 0, "%s..%s exit %d: %s", cases[i].from,
		    cases[i].to, r.code, r.err);
		recs = json_lines(r.out);
		ck_assert_int_eq(json_array_size(recs), 1);
		res = json_object_get(json_array_get(recs, 0), "result");
		ck_assert_str_eq(json_string_value(json_object_get(res, "sum")),
		    want);
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "count")), cases[i].b - cases[i].a + 1);
		json_decref(recs);
		run_free(&r);

		run(&r, NULL, NULL, "-s", harness_socket(h), "squares",
		    cases[i].from, cases[i].to, NULL);
		ck_assert_int_eq(r.code, 0);
		snprintf(line, sizeof line, "sum     %s\n", want);
		ck_assert_msg(strstr(r.out, line) != NULL, "no '%s' in %s",
		    want, r.out);
		run_free(&r);
	}
}
END_TEST

/* squares --values lists each square. */
START_TEST(t_squares_values)
{
	struct run	 r;
	json_t		*recs, *vals;
	size_t		 i;

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "squares",
	    "-2", "3", "--values", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	vals = json_object_get(json_object_get(json_array_get(recs, 0),
	    "result"), "values");
	ck_assert_int_eq(json_array_size(vals), 6);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(json_integer_value(json_array_get(vals, i)),
		    ((int)i - 2) * ((int)i - 2));
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "squares", "1", "4",
	    "-v", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "values  1 4 9 16\n"));
	run_free(&r);
}
END_TEST

/* submit -w: key=value parsed as JSON when it is, options in the record. */
START_TEST(t_submit_kv)
{
	char		 path[PATH_MAX], *kv;
	struct run	 r;
	json_t		*recs, *rec, *args, *res;

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "submit", "-w",
	    "--tag", "t-one", "--priority", "7", "squares", "from=2", "to=4",
	    "values=true", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 1);
	rec = json_array_get(recs, 0);
	ck_assert_str_eq(state_of(rec), "done");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "tag")),
	    "t-one");
	ck_assert_int_eq(json_integer_value(json_object_get(rec, "priority")),
	    7);
	args = json_object_get(rec, "args");
	ck_assert(json_is_integer(json_object_get(args, "from")));
	ck_assert(json_is_true(json_object_get(args, "values")));
	res = json_object_get(rec, "result");
	ck_assert_str_eq(json_string_value(json_object_get(res, "sum")), "29");
	ck_assert_int_eq(json_array_size(json_object_get(res, "values")), 3);
	json_decref(recs);
	run_free(&r);

	/* A value that is not JSON is a string. */
	snprintf(path, sizeof path, "%s", harness_file(h, "kv.txt", "abc\n",
	    4));
	xasprintf(&kv, "path=%s", path);
	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "submit",
	    "--wait", "charcount", kv, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	rec = json_array_get(recs, 0);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec,
	    "args"), "path")), path);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rec,
	    "result"), "chars")), 4);
	json_decref(recs);
	free(kv);
	run_free(&r);
}
END_TEST

/* submit -: the job from stdin; command-line options override it. */
START_TEST(t_submit_stdin)
{
	struct run	 r;
	json_t		*recs, *rec;

	run(&r, "{\"type\": \"squares\", \"args\": {\"from\": 1, \"to\": 3},\n"
	    " \"tag\": \"from-stdin\"}\n", NULL, "-s", harness_socket(h),
	    "--json", "submit", "-w", "--priority", "3", "-", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	rec = json_array_get(recs, 0);
	ck_assert_str_eq(state_of(rec), "done");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "tag")),
	    "from-stdin");
	ck_assert_int_eq(json_integer_value(json_object_get(rec, "priority")),
	    3);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec,
	    "result"), "sum")), "14");
	json_decref(recs);
	run_free(&r);

	run(&r, "[1, 2]", NULL, "-s", harness_socket(h), "submit", "-", NULL);
	ck_assert_int_eq(r.code, 2);
	run_free(&r);
}
END_TEST

/* The job a human sees: id on submit, then get/wait/cancel by id. */
START_TEST(t_submit_get_wait_cancel)
{
	struct run	 r;
	json_t		*recs;
	char		*id, *nl;

	run(&r, NULL, NULL, "-s", harness_socket(h), "submit", "spin",
	    "ms=60000", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_eq(count_lines(r.out), 1);
	id = xstrdup(r.out);
	nl = strchr(id, '\n');
	*nl = '\0';
	ck_assert_int_gt(strlen(id), 0);
	run_free(&r);

	/* Not done yet: exit 1, the record as it stands. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "get", id,
	    NULL);
	ck_assert_int_eq(r.code, 1);
	recs = json_lines(r.out);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(recs,
	    0), "id")), id);
	ck_assert(strcmp(state_of(json_array_get(recs, 0)), "queued") == 0 ||
	    strcmp(state_of(json_array_get(recs, 0)), "running") == 0);
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "wait",
	    "--timeout-ms", "100", id, NULL);
	ck_assert_int_eq(r.code, 1);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 1);
	ck_assert(strcmp(state_of(json_array_get(recs, 0)), "queued") == 0 ||
	    strcmp(state_of(json_array_get(recs, 0)), "running") == 0);
	json_decref(recs);
	run_free(&r);

	/* Cancel: an end state, so exit 0; the human record says so. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "cancel", id, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_ptr_nonnull(strstr(r.out, "cancelled"));
	ck_assert_ptr_nonnull(strstr(r.out, id));
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "wait", id,
	    NULL);
	ck_assert_int_eq(r.code, 1);
	recs = json_lines(r.out);
	ck_assert_str_eq(state_of(json_array_get(recs, 0)), "cancelled");
	json_decref(recs);
	run_free(&r);
	free(id);
}
END_TEST

/* Protocol errors: "jobctl: message (code)" on stderr, exit 1. */
START_TEST(t_rpc_errors)
{
	struct run	 r;

	run(&r, NULL, NULL, "-s", harness_socket(h), "submit", "-w",
	    "no-such-type", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "jobctl: ") == r.err, "%s", r.err);
	ck_assert_msg(strstr(r.err, "(-32602)") != NULL, "%s", r.err);
	ck_assert_str_eq(r.out, "");
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "get", "no-such-job",
	    NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32002)") != NULL, "%s", r.err);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "submit", "-w",
	    "squares", "from=1", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32602)") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "to: ") != NULL, "%s", r.err);
	run_free(&r);
}
END_TEST

/* list: filters and limit, table and JSON lines. */
START_TEST(t_list)
{
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 k;

	for (k = 0; k < 3; k++) {
		run(&r, NULL, NULL, "-s", harness_socket(h), "squares", "1",
		    "5", NULL);
		ck_assert_int_eq(r.code, 0);
		run_free(&r);
	}
	run(&r, NULL, NULL, "-s", harness_socket(h), "submit", "-w", "nope",
	    NULL);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "list",
	    "--type", "squares", "--state", "done", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 3);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(json_string_value(json_object_get(rec,
		    "type")), "squares");
		ck_assert_str_eq(state_of(rec), "done");
	}
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "list", "--json",
	    "--limit", "2", NULL);
	ck_assert_int_eq(r.code, 0);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 2);
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "list", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_int_eq(strncmp(r.out, "ID", 2), 0);
	ck_assert_int_eq(count_lines(r.out), 4);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "list", "--state",
	    "bogus", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32602)") != NULL, "%s", r.err);
	run_free(&r);
}
END_TEST

/* status and types, human and JSON. */
START_TEST(t_status_types)
{
	struct run	 r;
	json_t		*recs, *types, *t;
	size_t		 i;
	int		 seen = 0;

	run(&r, NULL, NULL, "-s", harness_socket(h), "status", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_gt(count_lines(r.out), 1);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "status", NULL);
	ck_assert_int_eq(r.code, 0);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 1);
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "types", NULL);
	ck_assert_int_eq(r.code, 0);
	recs = json_lines(r.out);
	types = json_object_get(json_array_get(recs, 0), "types");
	json_array_foreach(types, i, t) {
		if (strcmp(json_string_value(json_object_get(t, "name")),
		    "squares") == 0)
			seen++;
	}
	ck_assert_int_eq(seen, 1);
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "types", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "charcount"));
	ck_assert_ptr_nonnull(strstr(r.out, "squares"));
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "types", "squares", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "from"));
	ck_assert_ptr_nonnull(strstr(r.out, "to"));
	run_free(&r);
}
END_TEST

/* -t: give up waiting, exit 1, and say so. */
START_TEST(t_timeout)
{
	struct run	 r;

	run(&r, NULL, NULL, "-s", harness_socket(h), "-t", "0.3", "submit",
	    "-w", "spin", "ms=3000", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "timed out") != NULL, "%s", r.err);
	run_free(&r);
}
END_TEST

/*
 * A loopback port that refuses connections: bound, never listening, kept
 * open so nothing else takes it. Returns the port; *fd to close.
 */
static int
closed_port(int *fd)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(*fd, 0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sin, sizeof sin), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/*
 * fetch with URLs on stdin (no arguments, stdin not a terminal): more
 * than the in-flight window, comments and blank lines skipped, each URL
 * answered exactly once.
 */
START_TEST(t_fetch_stdin)
{
	enum { NURLS = 600 };
	char		*in = NULL, *tmp, seen[NURLS];
	const char	*url;
	struct run	 r;
	json_t		*recs, *rec, *res;
	size_t		 i;
	int		 port, n;

	port = httpd_start();
	in = xstrdup("# URLs for the test\n\n");
	for (i = 0; i < NURLS; i++) {
		xasprintf(&tmp, "%s  http://127.0.0.1:%d/fixed?i=%zu  \n%s", in,
		    port, i, i % 50 == 0 ? "\n# more\n" : "");
		free(in);
		in = tmp;
	}
	run(&r, in, NULL, "-s", harness_socket(h), "--json", "fetch", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), NURLS);
	memset(seen, 0, sizeof seen);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(state_of(rec), "done");
		res = json_object_get(rec, "result");
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "status")), 200);
		ck_assert_int_eq(json_integer_value(json_object_get(res,
		    "bytes")), strlen(HTTPD_FIXED_BODY));
		url = json_string_value(json_object_get(json_object_get(rec,
		    "args"), "url"));
		ck_assert_ptr_nonnull(url);
		ck_assert_int_eq(sscanf(strstr(url, "?i="), "?i=%d", &n), 1);
		ck_assert(n >= 0 && n < NURLS);
		ck_assert_int_eq(seen[n], 0);
		seen[n] = 1;
	}
	ck_assert_int_ge(httpd_hits("/fixed"), NURLS);
	json_decref(recs);
	free(in);
	run_free(&r);
	httpd_stop();
}
END_TEST

/* fetch URL...: a table in argument order; a failure on stderr, exit 1. */
START_TEST(t_fetch_args)
{
	char		 ok[128], err503[128], refused[128], row[256];
	struct run	 r;
	int		 port, fd;
	const char	*p503;

	port = httpd_start();
	snprintf(ok, sizeof ok, "http://127.0.0.1:%d/fixed", port);
	snprintf(err503, sizeof err503, "http://127.0.0.1:%d/status?code=503",
	    port);
	snprintf(refused, sizeof refused, "http://127.0.0.1:%d/", closed_port(
	    &fd));
	run(&r, NULL, NULL, "-s", harness_socket(h), "fetch", ok, err503,
	    NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_eq(strncmp(r.out, "STATUS", 6), 0);
	snprintf(row, sizeof row, "%zu", strlen(HTTPD_FIXED_BODY));
	ck_assert_ptr_nonnull(strstr(r.out, row));
	ck_assert_ptr_nonnull(p503 = strstr(r.out, "503"));
	ck_assert_ptr_nonnull(strstr(r.out, ok));
	ck_assert(strstr(r.out, ok) < p503);	/* argument order */
	ck_assert_int_eq(count_lines(r.out), 3);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "fetch", ok, refused,
	    NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_msg(strstr(r.err, refused) != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "failed (connect_failed)") != NULL, "%s",
	    r.err);
	run_free(&r);
	close(fd);
	httpd_stop();
}
END_TEST

/* ping: up targets exit 0; one down (from stdin "-") makes it 1. */
START_TEST(t_ping)
{
	char		 hp[64], url[128], down[64], *in;
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 port, fd, ups = 0, downs = 0;

	port = httpd_start();
	snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/fixed", port);
	snprintf(down, sizeof down, "127.0.0.1:%d", closed_port(&fd));

	run(&r, NULL, NULL, "-s", harness_socket(h), "ping", hp, url, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s %s", r.code, r.out, r.err);
	ck_assert_int_eq(count_lines(r.out), 3);
	ck_assert_ptr_nonnull(strstr(r.out, "\nup "));
	ck_assert_ptr_null(strstr(r.out, "down"));
	run_free(&r);

	xasprintf(&in, "%s\n# down below\n%s\n", hp, down);
	run(&r, in, NULL, "-s", harness_socket(h), "--json", "ping", "-",
	    NULL);
	ck_assert_int_eq(r.code, 1);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 2);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(state_of(rec), "done");
		if (json_is_true(json_object_get(json_object_get(rec, "result"),
		    "up"))) {
			ups++;
			ck_assert_int_eq(json_integer_value(json_object_get(
			    json_object_get(rec, "args"), "port")), port);
		} else
			downs++;
	}
	ck_assert_int_eq(ups, 1);
	ck_assert_int_eq(downs, 1);
	json_decref(recs);
	free(in);
	run_free(&r);
	close(fd);
	httpd_stop();
}
END_TEST

/* download: -o names the file; by default the URL's last segment. */
START_TEST(t_download)
{
	char		 url[128], bytes[128], path[PATH_MAX], *got;
	struct run	 r;
	struct stat	 st;
	int		 port;

	port = httpd_start();
	snprintf(url, sizeof url, "http://127.0.0.1:%d/fixed", port);
	snprintf(bytes, sizeof bytes, "http://127.0.0.1:%d/bytes?n=5000",
	    port);

	run(&r, NULL, NULL, "-s", harness_socket(h), "download", "-o",
	    "got.txt", url, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	snprintf(path, sizeof path, "%s/downloads/got.txt", harness_dir(h));
	ck_assert_ptr_nonnull(strstr(r.out, "got.txt"));
	got = slurp(path);
	ck_assert_str_eq(got, HTTPD_FIXED_BODY);
	free(got);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "download", bytes, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	snprintf(path, sizeof path, "%s/downloads/bytes", harness_dir(h));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 5000);
	run_free(&r);
	httpd_stop();
}
END_TEST

/* Rows of a human table (after its header): the last column of each. */
static json_t *
table_last_col(const char *out)
{
	json_t		*a = json_array();
	const char	*p = out, *nl, *sp;
	int		 first = 1;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		ck_assert_ptr_nonnull(nl);
		if (first) {
			first = 0;
			continue;
		}
		for (sp = nl; sp > p && sp[-1] != ' '; sp--)
			;
		json_array_append_new(a, json_stringn(sp, (size_t)(nl - sp)));
	}
	return a;
}

/*
 * More files than one job.map takes (BATCH_CHUNK): the human table is in
 * argument order across maps, and --json gives each index once.
 */
START_TEST(t_batch_chunks)
{
	enum { NARGS = 6000 };
	char		 path[3][PATH_MAX], name[32];
	char		**argv;
	struct run	 r;
	json_t		*rows, *recs, *rec;
	size_t		 i;
	int		 n = 1;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "c%zu.txt", i);
		snprintf(path[i], sizeof path[i], "%s", harness_file(h, name,
		    "\n\n\n", i));
	}
	argv = xcalloc(NARGS + 8, sizeof *argv);
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)harness_socket(h);
	argv[n++] = (char *)"count";
	for (i = 0; i < NARGS; i++)
		argv[n++] = path[i % 3];
	argv[n] = NULL;
	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	rows = table_last_col(r.out);
	ck_assert_int_eq(json_array_size(rows), NARGS + 1);
	for (i = 0; i < NARGS; i++)
		ck_assert_str_eq(json_string_value(json_array_get(rows, i)),
		    path[i % 3]);
	ck_assert_str_eq(json_string_value(json_array_get(rows, NARGS)),
	    "total");
	json_decref(rows);
	run_free(&r);

	/* The same from stdin, as JSON lines: each index once, right file. */
	argv[3] = (char *)"--json";
	argv[4] = (char *)"count";
	argv[5] = (char *)"-";
	argv[6] = NULL;
	{
		char	*in = xstrdup(""), *tmp;

		for (i = 0; i < NARGS; i++) {
			xasprintf(&tmp, "%s%s\n", in, path[i % 3]);
			free(in);
			in = tmp;
		}
		run_argv(&r, in, NULL, argv);
		free(in);
	}
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = by_index(json_lines(r.out), NARGS);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(json_string_value(json_object_get(
		    json_object_get(rec, "args"), "path")), path[i % 3]);
		ck_assert_int_eq(json_integer_value(json_object_get(
		    json_object_get(rec, "result"), "lines")), i % 3);
	}
	json_decref(recs);
	run_free(&r);
	free(argv);
}
END_TEST

/*
 * A daemon whose max_request_bytes is far below jobctl's map size: the
 * maps it refuses are sent again smaller, and every item is done.
 */
START_TEST(t_batch_request_too_large)
{
	static const char *const args[] = { "-o",
	    "limits.max_request_bytes=2K", NULL };
	struct harness	*hh;
	char		 path[PATH_MAX], *in = xstrdup(""), *tmp;
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;

	hh = harness_start(args);
	snprintf(path, sizeof path, "%s", harness_file(hh, "t.txt", "x\n",
	    2));
	for (i = 0; i < 300; i++) {
		xasprintf(&tmp, "%s%s\n", in, path);
		free(in);
		in = tmp;
	}
	run(&r, in, NULL, "-s", harness_socket(hh), "--json", "count", "-",
	    NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = by_index(json_lines(r.out), 300);
	json_array_foreach(recs, i, rec)
		ck_assert_str_eq(state_of(rec), "done");
	json_decref(recs);
	run_free(&r);
	free(in);

	/* One item alone over the limit: named, exit 1. */
	xasprintf(&in, "/%0*d\n", 3000, 7);
	run(&r, in, NULL, "-s", harness_socket(hh), "count", "-", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32005)") != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "0007") != NULL, "%s", r.err);
	run_free(&r);
	free(in);
	ck_assert_int_eq(harness_stop(hh), 0);
}
END_TEST

/*
 * --json prints records as they finish (a slow first URL comes last);
 * the human table keeps argument order.
 */
START_TEST(t_batch_stream_order)
{
	char		 slow[128], fast[128];
	struct run	 r;
	json_t		*recs, *rows;
	int		 port;

	port = httpd_start();
	snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow?ms=2000", port);
	snprintf(fast, sizeof fast, "http://127.0.0.1:%d/fixed", port);
	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "fetch", slow,
	    fast, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
	    recs, 0), "index")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
	    json_array_get(recs, 0), "args"), "url")), fast);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(
	    recs, 1), "index")), 0);
	json_decref(recs);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "fetch", slow, fast,
	    NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	rows = table_last_col(r.out);
	ck_assert_int_eq(json_array_size(rows), 2);
	ck_assert_str_eq(json_string_value(json_array_get(rows, 0)), slow);
	ck_assert_str_eq(json_string_value(json_array_get(rows, 1)), fast);
	json_decref(rows);
	run_free(&r);
	httpd_stop();
}
END_TEST

/*
 * -t bounds the whole batch: it becomes the map's timeout, so the items
 * unfinished by then end as timeout (the others done), and exit 1.
 */
START_TEST(t_batch_timeout)
{
	char		 slow[128], fast[128];
	struct run	 r;
	json_t		*recs, *rec;
	size_t		 i;
	int		 port;

	port = httpd_start();
	snprintf(slow, sizeof slow, "http://127.0.0.1:%d/slow?ms=20000",
	    port);
	snprintf(fast, sizeof fast, "http://127.0.0.1:%d/fixed", port);
	run(&r, NULL, NULL, "-s", harness_socket(h), "-t", "1", "--json",
	    "fetch", slow, fast, slow, NULL);
	ck_assert_int_eq(r.code, 1);
	recs = by_index(json_lines(r.out), 3);
	json_array_foreach(recs, i, rec) {
		ck_assert_str_eq(state_of(rec), i == 1 ? "done" : "timeout");
		if (i != 1)
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(rec, "error"), "code")),
			    "timeout");
	}
	json_decref(recs);
	run_free(&r);

	/* People see the timed-out items on stderr, the rest in the table. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "fetch", "-t", "0.5",
	    fast, slow, NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_int_eq(count_lines(r.out), 2);
	ck_assert_ptr_nonnull(strstr(r.out, fast));
	ck_assert_msg(strstr(r.err, slow) != NULL, "%s", r.err);
	ck_assert_msg(strstr(r.err, "timeout") != NULL, "%s", r.err);
	run_free(&r);
	httpd_stop();
}
END_TEST

/*
 * Run jobctl with stderr on a pseudo-terminal (stdout to a file): what
 * the terminal got, and stdout.
 */
static void
run_pty(struct run *r, char **argv)
{
	char			 dir[] = "/tmp/jobctl-pty.XXXXXX", pout[64];
	char			 tty[256], buf[4096];
	posix_spawn_file_actions_t fa;
	const char		*bin = getenv("JOBCTL_BIN");
	struct winsize		 ws = { .ws_row = 24, .ws_col = 100 };
	size_t			 len = 0, cap = 4096;
	pid_t			 pid;
	ssize_t			 n;
	int			 master, slave, status;

	ck_assert_msg(bin != NULL, "JOBCTL_BIN not set");
	argv[0] = (char *)bin;
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pout, sizeof pout, "%s/out", dir);
	ck_assert_int_eq(openpty(&master, &slave, tty, NULL, &ws), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
	    O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, pout,
	    O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, slave, STDERR_FILENO);
	posix_spawn_file_actions_addclose(&fa, master);
	ck_assert_int_eq(posix_spawn(&pid, bin, &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(slave);

	/* Read the terminal until every writer is gone (EIO). */
	r->err = xmalloc(cap);
	for (;;) {
		n = read(master, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			r->err = xreallocarray(r->err, cap, 1);
		}
		memcpy(r->err + len, buf, (size_t)n);
		len += (size_t)n;
	}
	r->err[len] = '\0';
	close(master);
	while (waitpid(pid, &status, 0) == -1)
		ck_assert_int_eq(errno, EINTR);
	r->out = slurp(pout);
	r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	unlink(pout);
	rmdir(dir);
}

/*
 * The progress bar: drawn on a terminal (done/total, rate, ETA) and
 * erased at the end; never on stderr that is not a terminal.
 */
START_TEST(t_progress)
{
	char		 urls[4][128], *argv[16];
	struct run	 r;
	size_t		 i;
	int		 port, n = 1;
	const char	*last;

	port = httpd_start();
	argv[n++] = (char *)"-s";
	argv[n++] = (char *)harness_socket(h);
	argv[n++] = (char *)"fetch";
	for (i = 0; i < 4; i++) {
		snprintf(urls[i], sizeof urls[i],
		    "http://127.0.0.1:%d/slow?ms=%zu", port, 400 * (i + 1));
		argv[n++] = urls[i];
	}
	argv[n] = NULL;
	run_pty(&r, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_eq(count_lines(r.out), 5);
	ck_assert_msg(strstr(r.err, "\r[") != NULL, "no bar: %s", r.err);
	ck_assert_msg(strstr(r.err, "/4 ") != NULL, "no total: %s", r.err);
	ck_assert_msg(strstr(r.err, "/s") != NULL, "no rate: %s", r.err);
	ck_assert_msg(strstr(r.err, "ETA") != NULL, "no ETA: %s", r.err);
	/* It ends erased: the last thing written is "\r\e[K". */
	last = r.err + strlen(r.err);
	ck_assert_int_ge(strlen(r.err), 4);
	ck_assert_msg(strcmp(last - 4, "\r\033[K") == 0, "not erased: %s",
	    r.err);
	ck_assert_ptr_null(strchr(r.err, '\n'));
	run_free(&r);

	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_str_eq(r.err, "");
	ck_assert_int_eq(count_lines(r.out), 5);
	run_free(&r);
	httpd_stop();
}
END_TEST

/* The schedules the daemon has, as a JSON array. */
static json_t *
schedules(struct harness *hh)
{
	json_t	*resp, *a;

	resp = harness_call(hh, "schedule.list", NULL);
	a = json_incref(json_object_get(harness_ok(resp), "schedules"));
	json_decref(resp);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* schedule add/list/get/rm, human and JSON; the ring stays bounded. */
START_TEST(t_schedule)
{
	struct run	 r;
	json_t		*recs, *s;
	char		*id, *nl, want[128];
	int		 tries;

	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "add",
	    "--every", "150ms", "--keep", "3", "--tag", "sq", "squares",
	    "from=1", "to=10", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_eq(count_lines(r.out), 1);
	id = xstrdup(r.out);
	nl = strchr(id, '\n');
	*nl = '\0';
	run_free(&r);

	/* Wait for more runs than it keeps. */
	for (tries = 0; tries < 200; tries++) {
		run(&r, NULL, NULL, "-s", harness_socket(h), "--json",
		    "schedule", "get", id, NULL);
		ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
		recs = json_lines(r.out);
		s = json_array_get(recs, 0);
		ck_assert_str_eq(json_string_value(json_object_get(s, "id")),
		    id);
		ck_assert_int_le(json_array_size(json_object_get(s, "results")),
		    3);
		ck_assert_int_eq(json_integer_value(json_object_get(s,
		    "every_ms")), 150);
		if (json_integer_value(json_object_get(s, "runs")) > 4) {
			ck_assert_int_eq(json_array_size(json_object_get(s,
			    "results")), 3);
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(json_array_get(json_object_get(s,
			    "results"), 2), "result"), "sum")), "385");
			json_decref(recs);
			run_free(&r);
			break;
		}
		json_decref(recs);
		run_free(&r);
		usleep(100000);
	}
	ck_assert_int_lt(tries, 200);

	/* Human get: the settings and the results table. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "get", id,
	    NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "every        150ms"));
	ck_assert_ptr_nonnull(strstr(r.out, "\nresults:\n"));
	ck_assert_ptr_nonnull(strstr(r.out, "{\"count\":10,\"sum\":\"385\"}"));
	run_free(&r);

	/* list: a row with the id, type and period; JSON with the job. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "list", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_int_eq(strncmp(r.out, "ID", 2), 0);
	ck_assert_int_eq(count_lines(r.out), 2);
	snprintf(want, sizeof want, "\n%s  squares  150ms", id);
	ck_assert_msg(strstr(r.out, want) != NULL, "%s", r.out);
	run_free(&r);
	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "schedule",
	    "list", NULL);
	ck_assert_int_eq(r.code, 0);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 1);
	s = json_object_get(json_array_get(recs, 0), "job");
	ck_assert_str_eq(json_string_value(json_object_get(s, "tag")), "sq");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(s,
	    "args"), "to")), 10);
	json_decref(recs);
	run_free(&r);

	/* rm: gone; a second rm is an unknown id. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "rm", id,
	    NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	snprintf(want, sizeof want, "%s removed\n", id);
	ck_assert_str_eq(r.out, want);
	run_free(&r);
	s = schedules(h);
	ck_assert_int_eq(json_array_size(s), 0);
	json_decref(s);
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "rm", id,
	    NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32002)") != NULL, "%s", r.err);
	run_free(&r);

	/* What the daemon refuses: exit 1, nothing added. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "add",
	    "--every", "1s", "no-such-type", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "(-32602)") != NULL, "%s", r.err);
	run_free(&r);
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "add",
	    "--every", "50ms", "sleep", "ms=1", NULL);
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "every_ms") != NULL, "%s", r.err);
	run_free(&r);
	s = schedules(h);
	ck_assert_int_eq(json_array_size(s), 0);
	json_decref(s);
	free(id);
}
END_TEST

/* schedule list of a ping: the availability columns. */
START_TEST(t_schedule_ping)
{
	char		 port_arg[32];
	struct run	 r;
	json_t		*recs, *av;
	int		 port, tries;

	port = httpd_start();
	snprintf(port_arg, sizeof port_arg, "port=%d", port);
	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "schedule",
	    "add", "--every", "200ms", "--flip-after", "2", "ping",
	    "host=127.0.0.1", port_arg, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	run_free(&r);
	for (tries = 0; tries < 200; tries++) {
		run(&r, NULL, NULL, "-s", harness_socket(h), "--json",
		    "schedule", "list", NULL);
		recs = json_lines(r.out);
		av = json_object_get(json_array_get(recs, 0), "availability");
		ck_assert_ptr_nonnull(av);
		if (strcmp(json_string_value(json_object_get(av, "state")),
		    "up") == 0) {
			json_decref(recs);
			run_free(&r);
			break;
		}
		json_decref(recs);
		run_free(&r);
		usleep(100000);
	}
	ck_assert_int_lt(tries, 200);
	run(&r, NULL, NULL, "-s", harness_socket(h), "schedule", "list", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_msg(strstr(r.out, "  up     100%") != NULL, "%s", r.out);
	ck_assert_msg(strstr(r.out, "ms  20") != NULL, "no latency, since: %s",
	    r.out);
	run_free(&r);
	httpd_stop();
}
END_TEST

/*
 * ping --every --count 2: two lines per target, then its schedules are
 * removed; exit 1 when a target's last check was down.
 */
START_TEST(t_ping_every)
{
	char		 up[64], down[64];
	struct run	 r;
	json_t		*recs, *rec, *s;
	size_t		 i;
	int		 port, fd, nup = 0, ndown = 0;
	const char	*target;

	port = httpd_start();
	snprintf(up, sizeof up, "127.0.0.1:%d", port);
	snprintf(down, sizeof down, "127.0.0.1:%d", closed_port(&fd));

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "ping",
	    "--every", "200ms", "--count", "2", up, down, NULL);
	ck_assert_int_eq(r.code, 1);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 4);
	json_array_foreach(recs, i, rec) {
		target = json_string_value(json_object_get(rec, "target"));
		ck_assert_ptr_nonnull(target);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(rec,
		    "schedule")));
		ck_assert_str_eq(state_of(rec), "done");
		if (strcmp(target, up) == 0) {
			nup++;
			ck_assert(json_is_true(json_object_get(json_object_get(
			    rec, "result"), "up")));
			ck_assert_str_eq(json_string_value(json_object_get(
			    json_object_get(rec, "availability"), "state")),
			    "up");
		} else {
			ck_assert_str_eq(target, down);
			ndown++;
			ck_assert(json_is_false(json_object_get(json_object_get(
			    rec, "result"), "up")));
		}
	}
	ck_assert_int_eq(nup, 2);
	ck_assert_int_eq(ndown, 2);
	json_decref(recs);
	run_free(&r);
	s = schedules(h);
	ck_assert_int_eq(json_array_size(s), 0);
	json_decref(s);

	/* Human: a header and a row per check; all up, exit 0. */
	run(&r, NULL, NULL, "-s", harness_socket(h), "ping", "--every",
	    "150ms", "--count", "2", up, NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_int_eq(count_lines(r.out), 3);
	ck_assert_int_eq(strncmp(r.out, "TIME", 4), 0);
	ck_assert_ptr_nonnull(strstr(r.out, up));
	run_free(&r);
	s = schedules(h);
	ck_assert_int_eq(json_array_size(s), 0);
	json_decref(s);
	close(fd);
	httpd_stop();
}
END_TEST

/* ping --every until SIGTERM/SIGINT: the schedules are removed first. */
START_TEST(t_ping_every_signal)
{
	static const int sigs[] = { SIGTERM, SIGINT };
	char			 up[64], out[] = "/tmp/jobctl-sig.XXXXXX";
	char			*argv[] = { NULL, (char *)"-s",
				    (char *)harness_socket(h), (char *)"ping",
				    (char *)"--every", (char *)"100ms", up,
				    NULL };
	posix_spawn_file_actions_t fa;
	json_t			*s;
	pid_t			 pid;
	size_t			 k;
	int			 port, status, tries, fd;

	port = httpd_start();
	snprintf(up, sizeof up, "127.0.0.1:%d", port);
	argv[0] = getenv("JOBCTL_BIN");
	ck_assert_ptr_nonnull(argv[0]);
	fd = mkstemp(out);
	ck_assert_int_ge(fd, 0);
	for (k = 0; k < nitems(sigs); k++) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, STDOUT_FILENO);
		ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv,
		    environ), 0);
		posix_spawn_file_actions_destroy(&fa);
		for (tries = 0; tries < 200; tries++) {
			s = schedules(h);
			if (json_array_size(s) == 1 &&
			    json_integer_value(json_object_get(
			    json_array_get(s, 0), "runs")) > 1) {
				json_decref(s);
				break;
			}
			json_decref(s);
			usleep(50000);
		}
		ck_assert_int_lt(tries, 200);
		ck_assert_int_eq(kill(pid, sigs[k]), 0);
		while (waitpid(pid, &status, 0) == -1)
			ck_assert_int_eq(errno, EINTR);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "status %d", status);
		s = schedules(h);
		ck_assert_int_eq(json_array_size(s), 0);
		json_decref(s);
	}
	close(fd);
	unlink(out);
	httpd_stop();
}
END_TEST

/* status --watch --count 2: two compact blocks; --json two objects. */
START_TEST(t_status_watch)
{
	struct run	 r;
	json_t		*recs;
	const char	*p;
	int		 blocks = 0;

	run(&r, NULL, NULL, "-s", harness_socket(h), "status", "--watch",
	    "--interval", "100ms", "--count", "2", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	for (p = r.out; (p = strstr(p, "jobd ")) != NULL; p++) {
		ck_assert(p == r.out || p[-1] == '\n');
		blocks++;
	}
	ck_assert_int_eq(blocks, 2);
	ck_assert_ptr_nonnull(strstr(r.out, "\n\njobd "));
	ck_assert_ptr_nonnull(strstr(r.out, "\ncpu pool   workers "));
	ck_assert_ptr_nonnull(strstr(r.out, "\nio pool    threads "));
	ck_assert_ptr_nonnull(strstr(r.out, "\nlatency    io   count "));
	ck_assert_ptr_nonnull(strstr(r.out, "\nschedules  count 0"));
	ck_assert_ptr_null(strchr(r.out, '\033'));
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "status", "-w",
	    "-i", "50ms", "-n", "2", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	recs = json_lines(r.out);
	ck_assert_int_eq(json_array_size(recs), 2);
	ck_assert_ptr_nonnull(json_object_get(json_array_get(recs, 1),
	    "pools"));
	json_decref(recs);
	run_free(&r);
}
END_TEST

/* metrics: the daemon's text as is. */
START_TEST(t_metrics)
{
	struct run	 r;
	json_t		*recs, *resp;

	run(&r, NULL, NULL, "-s", harness_socket(h), "metrics", NULL);
	ck_assert_msg(r.code == 0, "exit %d: %s", r.code, r.err);
	ck_assert_msg(strstr(r.out, "\njobd_up 1\n") != NULL, "%s", r.out);
	resp = harness_call(h, "daemon.metrics", NULL);
	ck_assert_int_eq(strncmp(r.out, json_string_value(json_object_get(
	    harness_ok(resp), "text")), 40), 0);
	json_decref(resp);
	run_free(&r);

	run(&r, NULL, NULL, "-s", harness_socket(h), "--json", "metrics",
	    NULL);
	ck_assert_int_eq(r.code, 0);
	recs = json_lines(r.out);
	ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
	    json_array_get(recs, 0), "text")), "jobd_up 1\n"));
	json_decref(recs);
	run_free(&r);
}
END_TEST

/* No daemon: exit 3 and the message, from -s or $JOBD_SOCKET. */
START_TEST(t_no_daemon)
{
	static const char *const cmds[] = { "status", "list", "squares" };
	char		 want[512];
	const char	*sock = "/tmp/jobctl-test-no-such-dir/jobd.sock";
	struct run	 r;
	size_t		 i;

	snprintf(want, sizeof want, "jobctl: cannot connect to %s: No such "
	    "file or directory (is jobd running?)\n", sock);
	for (i = 0; i < nitems(cmds); i++) {
		if (strcmp(cmds[i], "squares") == 0)
			run(&r, NULL, NULL, "-s", sock, "squares", "1", "2",
			    NULL);
		else
			run(&r, NULL, NULL, "-s", sock, cmds[i], NULL);
		ck_assert_int_eq(r.code, 3);
		ck_assert_str_eq(r.err, want);
		ck_assert_str_eq(r.out, "");
		run_free(&r);
	}
	setenv("JOBD_SOCKET", sock, 1);
	run(&r, NULL, NULL, "status", NULL);
	unsetenv("JOBD_SOCKET");
	ck_assert_int_eq(r.code, 3);
	ck_assert_str_eq(r.err, want);
	run_free(&r);
}
END_TEST

/* Usage errors: exit 2 before any connection is tried. */
static const char *const usage_cases[][8] = {
	{ NULL },
	{ "frobnicate", NULL },
	{ "--bogus", "status", NULL },
	{ "-t", NULL },
	{ "-t", "never", "status", NULL },
	{ "count", NULL },
	{ "count", "--bogus", "x", NULL },
	{ "squares", "1", NULL },
	{ "squares", "1", "2", "3", NULL },
	{ "squares", "one", "2", NULL },
	{ "squares", "1", "2", "--frob", NULL },
	{ "submit", NULL },
	{ "submit", "squares", "novalue", NULL },
	{ "submit", "squares", "=1", NULL },
	{ "submit", "--priority", "high", "squares", NULL },
	{ "submit", "--class", "gpu", "squares", NULL },
	{ "submit", "-", "extra", NULL },
	{ "get", NULL },
	{ "wait", "--timeout-ms", "soon", "x", NULL },
	{ "cancel", NULL },
	{ "list", "--limit", "0", NULL },
	{ "list", "extra", NULL },
	{ "status", "extra", NULL },
	{ "download", "-o", "f", "http://127.0.0.1/a", "http://127.0.0.1/b",
	    NULL },
	{ "ping", "no-port-here", NULL },
	{ "ping", "127.0.0.1:99999", NULL },
	{ "help", "frobnicate", NULL },
	{ "ping", "--keep", "3", "127.0.0.1:80", NULL },
	{ "ping", "--count", "1", "127.0.0.1:80", NULL },
	{ "ping", "--every", "soon", "127.0.0.1:80", NULL },
	{ "ping", "--every", "1s", "-", NULL },
	{ "ping", "--every", "1s", NULL },
	{ "ping", "--every", "1s", "--keep", "0", "127.0.0.1:80", NULL },
	{ "schedule", NULL },
	{ "schedule", "frob", NULL },
	{ "schedule", "add", NULL },
	{ "schedule", "add", "--every", "x", "sleep", NULL },
	{ "schedule", "add", "sleep", "novalue", NULL },
	{ "schedule", "get", NULL },
	{ "schedule", "rm", NULL },
	{ "schedule", "list", "extra", NULL },
	{ "status", "--count", "2", NULL },
	{ "status", "--watch", "--interval", "0", NULL },
	{ "status", "--watch", "--count", "0", NULL },
	{ "metrics", "extra", NULL },
};

START_TEST(t_usage)
{
	const char	*sock = "/tmp/jobctl-test-no-such-dir/jobd.sock";
	char		*argv[16];
	struct run	 r;
	int		 n = 1, k;

	argv[n++] = (char *)"-s";
	argv[n++] = (char *)sock;
	for (k = 0; usage_cases[_i][k] != NULL; k++)
		argv[n++] = (char *)usage_cases[_i][k];
	argv[n] = NULL;
	run_argv(&r, NULL, NULL, argv);
	ck_assert_msg(r.code == 2, "case %d (%s ...): exit %d, %s", _i,
	    usage_cases[_i][0] ? usage_cases[_i][0] : "", r.code, r.err);
	ck_assert_msg(strncmp(r.err, "jobctl: ", 8) == 0, "%s", r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "-h"));
	ck_assert_str_eq(r.out, "");
	run_free(&r);
}
END_TEST

/* Help: overall lists every command; each command's has an example. */
START_TEST(t_help)
{
	static const char *const cmds[] = { "count", "squares", "submit",
	    "get", "wait", "cancel", "list", "status", "types", "fetch",
	    "download", "ping", "schedule", "metrics", "help" };
	char		 want[64];
	struct run	 r;
	size_t		 i;

	run(&r, NULL, NULL, "-h", NULL);
	ck_assert_int_eq(r.code, 0);
	for (i = 0; i < nitems(cmds); i++) {
		snprintf(want, sizeof want, "\n  %s ", cmds[i]);
		ck_assert_msg(strstr(r.out, want) != NULL, "no %s in help",
		    cmds[i]);
	}
	run_free(&r);
	for (i = 0; i < nitems(cmds); i++) {
		run(&r, NULL, NULL, cmds[i], "-h", NULL);
		ck_assert_int_eq(r.code, 0);
		snprintf(want, sizeof want, "usage: jobctl %s", cmds[i]);
		ck_assert_msg(strncmp(r.out, want, strlen(want)) == 0, "%s",
		    r.out);
		ck_assert_msg(strstr(r.out, "Example") != NULL, "%s", r.out);
		run_free(&r);
	}
	run(&r, NULL, NULL, "--version", NULL);
	ck_assert_int_eq(r.code, 0);
	ck_assert_str_eq(r.out, "jobctl " PACKAGE_VERSION "\n");
	run_free(&r);
}
END_TEST

static Suite *
jobctl_suite(void)
{
	Suite	*s = suite_create("jobctl");
	TCase	*tc;

	tc = tcase_create("offline");
	tcase_add_loop_test(tc, t_usage, 0, (int)nitems(usage_cases));
	tcase_add_test(tc, t_help);
	tcase_add_test(tc, t_no_daemon);
	suite_add_tcase(s, tc);

	tc = tcase_create("daemon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_count_matches_wc);
	tcase_add_test(tc, t_count_table);
	tcase_add_test(tc, t_count_relative);
	tcase_add_test(tc, t_count_missing);
	tcase_add_test(tc, t_count_stdin);
	tcase_add_test(tc, t_count_many);
	tcase_add_test(tc, t_count_overloaded);
	tcase_add_test(tc, t_squares);
	tcase_add_test(tc, t_squares_values);
	tcase_add_test(tc, t_submit_kv);
	tcase_add_test(tc, t_submit_stdin);
	tcase_add_test(tc, t_submit_get_wait_cancel);
	tcase_add_test(tc, t_rpc_errors);
	tcase_add_test(tc, t_list);
	tcase_add_test(tc, t_status_types);
	tcase_add_test(tc, t_timeout);
	tcase_add_test(tc, t_fetch_stdin);
	tcase_add_test(tc, t_fetch_args);
	tcase_add_test(tc, t_ping);
	tcase_add_test(tc, t_download);
	tcase_add_test(tc, t_batch_chunks);
	tcase_add_test(tc, t_batch_request_too_large);
	tcase_add_test(tc, t_batch_stream_order);
	tcase_add_test(tc, t_batch_timeout);
	tcase_add_test(tc, t_progress);
	tcase_add_test(tc, t_schedule);
	tcase_add_test(tc, t_schedule_ping);
	tcase_add_test(tc, t_ping_every);
	tcase_add_test(tc, t_ping_every_signal);
	tcase_add_test(tc, t_status_watch);
	tcase_add_test(tc, t_metrics);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(jobctl_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
