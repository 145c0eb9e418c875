/*
 * Tests for config.c: defaults, every key through the file and through -o,
 * sizes, the golden bad files in tests/conf with their exact messages, the
 * shipped etc/jobd.conf, dump/load round trips and transactional loads.
 */
#include "config.h"

#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

static const char *
srcdir(void)
{
	const char	*s = getenv("JOBD_SRCDIR");

	ck_assert_msg(s != NULL && *s != '\0',
	    "JOBD_SRCDIR must point at the source tree (make check sets it)");
	return s;
}

/* Write len bytes to a new temporary file; returns its malloc'ed path. */
static char *
tmp_write(const void *data, size_t len)
{
	char	*path;
	int	 fd;

	xasprintf(&path, "%s/check_config.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp: %s", strerror(errno));
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
	return path;
}

/* Defaults, then text as a file; the error (if any) goes to *err. */
static int
load_text(struct config *c, const char *text, char **err)
{
	char	*path;
	int	 rc;

	config_defaults(c);
	path = tmp_write(text, strlen(text));
	rc = config_load(c, path, 1, err);
	unlink(path);
	free(path);
	return rc;
}

/* Fresh defaults with the -o arguments applied, all of which must work. */
static void
config_with(struct config *c, const char *const *args)
{
	char	*err;

	config_defaults(c);
	for (; *args != NULL; args++) {
		ck_assert_msg(config_set(c, *args, &err) == 0, "%s: %s", *args,
		    err);
		ck_assert_ptr_null(err);
	}
}

START_TEST(test_defaults)
{
	struct config	 c;

	config_defaults(&c);
	ck_assert_ptr_null(c.path);
	ck_assert_str_eq(c.socket, "/run/jobd/jobd.sock");
	ck_assert_uint_eq(c.socket_mode, 0660);
	ck_assert_ptr_null(c.socket_group);
	ck_assert_ptr_null(c.admin_group);
	ck_assert_int_eq(c.max_output_bytes, 16 * 1024 * 1024);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_INFO);
	ck_assert_str_eq(c.state_dir, "/var/lib/jobd");
	ck_assert_int_eq(c.result_ttl_s, 300);
	ck_assert_int_eq(c.drain_timeout_s, 30);
	ck_assert_int_eq(c.io_threads, 1);
	ck_assert_int_eq(c.blocking_threads, 4);
	ck_assert_int_eq(c.max_transfers, 1024);
	ck_assert_int_eq(c.max_host_connections, 0);
	ck_assert_str_eq(c.download_dir, "/var/lib/jobd/downloads");
	ck_assert_str_eq(c.allowed_schemes, "http,https");
	ck_assert_int_eq(c.io_timeout_ms, 30000);
	ck_assert_int_eq(c.io_max_bytes, 64 * 1024 * 1024);
	ck_assert_int_eq(c.cpu_workers, 0);
	ck_assert_int_eq(c.max_jobs_per_worker, 0);
	ck_assert_int_eq(c.memory_limit_mb, 0);
	ck_assert_int_eq(c.cpu_timeout_ms, 0);
	ck_assert_int_eq(c.chunk_bytes, 64 * 1024 * 1024);
	ck_assert_int_eq(c.max_connections, 1024);
	ck_assert_int_eq(c.max_queued, 100000);
	ck_assert_int_eq(c.max_request_bytes, 1024 * 1024);
	ck_assert_int_eq(c.nallowed_roots, 1);
	ck_assert_str_eq(c.allowed_roots[0], "/");
	ck_assert_ptr_null(c.allowed_roots[1]);
	config_free(&c);
	/* Freeing twice is harmless: config_free clears what it frees. */
	config_free(&c);
}
END_TEST

/* One key set to one value, and where the result lands. */
enum field_type { F_INT, F_I64, F_UINT, F_STR };
static const struct key_case {
	const char	*section;
	const char	*key;
	const char	*value;
	enum field_type	 type;
	size_t		 off;
	int64_t		 num;
	const char	*str;		/* F_STR; NULL for a NULL field */
} key_cases[] = {
#define OFF(f)	offsetof(struct config, f)
	{ "daemon", "socket", "/tmp/j.sock", F_STR, OFF(socket), 0,
	  "/tmp/j.sock" },
	{ "daemon", "socket", "/run/x//", F_STR, OFF(socket), 0, "/run/x" },
	{ "daemon", "socket_mode", "0600", F_UINT, OFF(socket_mode), 0600,
	  NULL },
	{ "daemon", "socket_mode", "770", F_UINT, OFF(socket_mode), 0770,
	  NULL },
	{ "daemon", "socket_mode", "0", F_UINT, OFF(socket_mode), 0, NULL },
	{ "daemon", "socket_group", "jobd", F_STR, OFF(socket_group), 0,
	  "jobd" },
	{ "daemon", "socket_group", "1234", F_STR, OFF(socket_group), 0,
	  "1234" },
	{ "daemon", "socket_group", "", F_STR, OFF(socket_group), 0, NULL },
	{ "daemon", "admin_group", "wheel", F_STR, OFF(admin_group), 0,
	  "wheel" },
	{ "daemon", "admin_group", "", F_STR, OFF(admin_group), 0, NULL },
	{ "daemon", "log_level", "debug", F_INT, OFF(log_level),
	  LOG_LEVEL_DEBUG, NULL },
	{ "daemon", "log_level", "err", F_INT, OFF(log_level),
	  LOG_LEVEL_ERR, NULL },
	{ "daemon", "log_level", "warn", F_INT, OFF(log_level),
	  LOG_LEVEL_WARN, NULL },
	{ "daemon", "state_dir", "/srv/jobd", F_STR, OFF(state_dir), 0,
	  "/srv/jobd" },
	{ "daemon", "result_ttl_s", "2592000", F_INT, OFF(result_ttl_s),
	  2592000, NULL },
	{ "daemon", "result_ttl_s", "1", F_INT, OFF(result_ttl_s), 1, NULL },
	{ "daemon", "drain_timeout_s", "0", F_INT, OFF(drain_timeout_s), 0,
	  NULL },
	{ "daemon", "drain_timeout_s", "3600", F_INT, OFF(drain_timeout_s),
	  3600, NULL },
	{ "io", "threads", "64", F_INT, OFF(io_threads), 64, NULL },
	{ "io", "blocking_threads", "256", F_INT, OFF(blocking_threads), 256,
	  NULL },
	{ "io", "max_transfers", "100000", F_INT, OFF(max_transfers), 100000,
	  NULL },
	{ "io", "max_host_connections", "6", F_INT, OFF(max_host_connections),
	  6, NULL },
	{ "io", "download_dir", "/srv/dl", F_STR, OFF(download_dir), 0,
	  "/srv/dl" },
	{ "io", "allowed_schemes", "https", F_STR, OFF(allowed_schemes), 0,
	  "https" },
	{ "io", "allowed_schemes", "HTTPS, http", F_STR, OFF(allowed_schemes),
	  0, "http,https" },
	{ "io", "allowed_schemes", "http,http", F_STR, OFF(allowed_schemes), 0,
	  "http" },
	{ "io", "timeout_ms", "86400000", F_I64, OFF(io_timeout_ms), 86400000,
	  NULL },
	{ "io", "max_bytes", "1G", F_I64, OFF(io_max_bytes), 1 << 30, NULL },
	{ "io", "max_bytes", "1024G", F_I64, OFF(io_max_bytes),
	  INT64_C(1) << 40, NULL },
	{ "cpu", "workers", "1024", F_INT, OFF(cpu_workers), 1024, NULL },
	{ "cpu", "max_jobs_per_worker", "1000", F_INT, OFF(max_jobs_per_worker),
	  1000, NULL },
	{ "cpu", "memory_limit_mb", "16", F_INT, OFF(memory_limit_mb), 16,
	  NULL },
	{ "cpu", "memory_limit_mb", "1048576", F_INT, OFF(memory_limit_mb),
	  1048576, NULL },
	{ "cpu", "timeout_ms", "604800000", F_I64, OFF(cpu_timeout_ms),
	  604800000, NULL },
	{ "cpu", "chunk_bytes", "4K", F_I64, OFF(chunk_bytes), 4096, NULL },
	{ "cpu", "chunk_bytes", "16G", F_I64, OFF(chunk_bytes),
	  INT64_C(16) << 30, NULL },
	{ "limits", "max_connections", "1", F_INT, OFF(max_connections), 1,
	  NULL },
	{ "limits", "max_queued", "10000000", F_INT, OFF(max_queued), 10000000,
	  NULL },
	{ "limits", "max_output_bytes", "64K", F_I64, OFF(max_output_bytes),
	  64 * 1024, NULL },
	{ "limits", "max_output_bytes", "1G", F_I64, OFF(max_output_bytes),
	  1024 * 1024 * 1024, NULL },
	{ "limits", "max_request_bytes", "1K", F_I64, OFF(max_request_bytes),
	  1024, NULL },
	{ "limits", "max_request_bytes", "1G", F_I64, OFF(max_request_bytes),
	  1 << 30, NULL },
#undef OFF
};

/* Defaults with the case's field set by hand, to compare against. */
static void
key_case_expect(struct config *e, const struct key_case *k)
{
	void	*p = (char *)e + k->off;

	config_defaults(e);
	switch (k->type) {
	case F_INT:
		*(int *)p = (int)k->num;
		break;
	case F_I64:
		*(int64_t *)p = k->num;
		break;
	case F_UINT:
		*(unsigned int *)p = (unsigned int)k->num;
		break;
	case F_STR:
		free(*(char **)p);
		*(char **)p = k->str != NULL ? xstrdup(k->str) : NULL;
		break;
	}
}

/* The field holds the case's value, and nothing else changed. */
static void
key_case_check(const struct config *c, const struct key_case *k)
{
	struct config	 e;
	const void	*p = (const char *)c + k->off;

	switch (k->type) {
	case F_INT:
		ck_assert_int_eq(*(const int *)p, k->num);
		break;
	case F_I64:
		ck_assert_int_eq(*(const int64_t *)p, k->num);
		break;
	case F_UINT:
		ck_assert_uint_eq(*(const unsigned int *)p, (uint64_t)k->num);
		break;
	case F_STR:
		if (k->str == NULL)
			ck_assert_ptr_null(*(char *const *)p);
		else
			ck_assert_str_eq(*(char *const *)p, k->str);
		break;
	}
	key_case_expect(&e, k);
	ck_assert_msg(config_equal(&e, c), "%s.%s=%s changed other keys",
	    k->section, k->key, k->value);
	config_free(&e);
}

START_TEST(test_key_file)
{
	const struct key_case	*k = &key_cases[_i];
	struct config		 c;
	char			*text, *err;

	xasprintf(&text, "# %s\n[%s]\n%s = %s\n", k->key, k->section, k->key,
	    k->value);
	ck_assert_msg(load_text(&c, text, &err) == 0, "%s", err);
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(c.path);
	key_case_check(&c, k);
	config_free(&c);
	free(text);
}
END_TEST

START_TEST(test_key_set)
{
	const struct key_case	*k = &key_cases[_i];
	struct config		 c;
	char			*arg, *err;

	xasprintf(&arg, "%s.%s=%s", k->section, k->key, k->value);
	config_defaults(&c);
	ck_assert_msg(config_set(&c, arg, &err) == 0, "%s", err);
	ck_assert_ptr_null(err);
	key_case_check(&c, k);
	config_free(&c);
	free(arg);
}
END_TEST

/* Every key of the dump is covered by at least one case above. */
START_TEST(test_key_coverage)
{
	struct config	 c;
	char		*buf = NULL, *line, *save, key[64], section[32] = "";
	size_t		 len = 0, i, nkeys = 0;
	FILE		*f;

	config_defaults(&c);
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(config_dump(&c, f), 0);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '[') {
			ck_assert_int_eq(sscanf(line, "[%31[a-z]]", section), 1);
			continue;
		}
		if (line[0] == '#' || sscanf(line, "%63[a-z_] =", key) != 1)
			continue;
		nkeys++;
		if (strcmp(key, "allowed_roots") == 0)
			continue;	/* test_roots */
		for (i = 0; i < nitems(key_cases); i++) {
			if (strcmp(key_cases[i].section, section) == 0 &&
			    strcmp(key_cases[i].key, key) == 0)
				break;
		}
		ck_assert_msg(i < nitems(key_cases), "no case for %s.%s",
		    section, key);
	}
	/*
	 * The contract's keys plus socket_group, admin_group, drain_timeout_s
	 * and max_output_bytes.
	 */
	ck_assert_uint_eq(nkeys, 26);
	free(buf);
	config_free(&c);
}
END_TEST

/* Sizes: plain bytes or K, M, G (binary), for io.max_bytes. */
static const struct {
	const char	*value;
	int64_t		 bytes;		/* -1: rejected */
} size_cases[] = {
	{ "1", 1 },
	{ "512", 512 },
	{ "1K", 1024 },
	{ "1k", 1024 },
	{ "3k", 3 * 1024 },
	{ "64M", 64 << 20 },
	{ "5m", 5 << 20 },
	{ "2G", INT64_C(2) << 30 },
	{ "1024G", INT64_C(1) << 40 },
	{ "1099511627776", INT64_C(1) << 40 },
	{ "0", -1 },
	{ "1025G", -1 },
	{ "1099511627777", -1 },
	{ "1T", -1 },
	{ "1.5M", -1 },
	{ "M", -1 },
	{ "", -1 },
	{ "-1K", -1 },
	{ "+1K", -1 },
	{ "1KB", -1 },
	{ "1KiB", -1 },
	{ "1 K", -1 },
	{ "0x10", -1 },
	{ "99999999999999999999", -1 },
	{ "9007199254740992G", -1 },
};

START_TEST(test_sizes)
{
	struct config	 c;
	char		*arg, *err, *want;
	int		 rc;

	xasprintf(&arg, "io.max_bytes=%s", size_cases[_i].value);
	config_defaults(&c);
	rc = config_set(&c, arg, &err);
	if (size_cases[_i].bytes == -1) {
		ck_assert_int_eq(rc, -1);
		xasprintf(&want, "-o %s: expected a size between 1 and 1024G "
		    "(bytes, or a number with a K, M or G suffix), got \"%s\"",
		    arg, size_cases[_i].value);
		ck_assert_str_eq(err, want);
		ck_assert_int_eq(c.io_max_bytes, 64 << 20);
		free(want);
		free(err);
	} else {
		ck_assert_msg(rc == 0, "%s", err);
		ck_assert_int_eq(c.io_max_bytes, size_cases[_i].bytes);
	}
	config_free(&c);
	free(arg);
}
END_TEST

/* Bad -o arguments and their exact messages. */
static const struct {
	const char	*arg;
	const char	*msg;
} set_bad[] = {
	{ "io.threads=x",
	  "-o io.threads=x: expected an integer between 1 and 64, got \"x\"" },
	{ "io.threads=0",
	  "-o io.threads=0: expected an integer between 1 and 64, got \"0\"" },
	{ "io.threads=65",
	  "-o io.threads=65: expected an integer between 1 and 64, got \"65\"" },
	{ "io.threads=",
	  "-o io.threads=: expected an integer between 1 and 64, got \"\"" },
	{ "io.threads=4x",
	  "-o io.threads=4x: expected an integer between 1 and 64, got \"4x\"" },
	{ "io.threads=99999999999999999999",
	  "-o io.threads=99999999999999999999: expected an integer between 1 "
	  "and 64, got \"99999999999999999999\"" },
	{ "io.blocking_threads=257",
	  "-o io.blocking_threads=257: expected an integer between 1 and 256, "
	  "got \"257\"" },
	{ "io.max_transfers=100001",
	  "-o io.max_transfers=100001: expected an integer between 1 and "
	  "100000, got \"100001\"" },
	{ "io.max_host_connections=-1",
	  "-o io.max_host_connections=-1: expected an integer between 0 and "
	  "100000, got \"-1\"" },
	{ "io.timeout_ms=0",
	  "-o io.timeout_ms=0: expected an integer between 1 and 86400000, "
	  "got \"0\"" },
	{ "daemon.result_ttl_s=2592001",
	  "-o daemon.result_ttl_s=2592001: expected an integer between 1 and "
	  "2592000, got \"2592001\"" },
	{ "daemon.drain_timeout_s=3601",
	  "-o daemon.drain_timeout_s=3601: expected an integer between 0 and "
	  "3600, got \"3601\"" },
	{ "cpu.workers=-1",
	  "-o cpu.workers=-1: expected an integer between 0 and 1024, "
	  "got \"-1\"" },
	{ "cpu.max_jobs_per_worker=1000000001",
	  "-o cpu.max_jobs_per_worker=1000000001: expected an integer between "
	  "0 and 1000000000, got \"1000000001\"" },
	{ "cpu.memory_limit_mb=15",
	  "-o cpu.memory_limit_mb=15: expected 0 or an integer between 16 and "
	  "1048576, got \"15\"" },
	{ "cpu.timeout_ms=604800001",
	  "-o cpu.timeout_ms=604800001: expected an integer between 0 and "
	  "604800000, got \"604800001\"" },
	{ "cpu.chunk_bytes=4095",
	  "-o cpu.chunk_bytes=4095: expected a size between 4K and 16G (bytes, "
	  "or a number with a K, M or G suffix), got \"4095\"" },
	{ "limits.max_connections=0",
	  "-o limits.max_connections=0: expected an integer between 1 and "
	  "1000000, got \"0\"" },
	{ "limits.max_queued=10000001",
	  "-o limits.max_queued=10000001: expected an integer between 1 and "
	  "10000000, got \"10000001\"" },
	{ "limits.max_request_bytes=1023",
	  "-o limits.max_request_bytes=1023: expected a size between 1K and 1G "
	  "(bytes, or a number with a K, M or G suffix), got \"1023\"" },
	{ "daemon.socket_mode=0662",
	  "-o daemon.socket_mode=0662: expected a mode that is not "
	  "world-writable, got \"0662\"" },
	{ "daemon.socket_mode=1660",
	  "-o daemon.socket_mode=1660: expected a mode within 0777, "
	  "got \"1660\"" },
	{ "daemon.socket_mode=0668",
	  "-o daemon.socket_mode=0668: expected an octal mode such as 0660, "
	  "got \"0668\"" },
	{ "daemon.socket_mode=",
	  "-o daemon.socket_mode=: expected an octal mode such as 0660, "
	  "got \"\"" },
	{ "daemon.log_level=trace",
	  "-o daemon.log_level=trace: expected one of err, warn, info, debug, "
	  "got \"trace\"" },
	{ "daemon.socket=jobd.sock",
	  "-o daemon.socket=jobd.sock: expected an absolute path, "
	  "got \"jobd.sock\"" },
	{ "daemon.socket=/run/jobd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  "-o daemon.socket=/run/jobd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: expected "
	  "a path of at most 107 bytes, got 109 bytes" },
	{ "daemon.state_dir=",
	  "-o daemon.state_dir=: expected an absolute path, got \"\"" },
	{ "daemon.state_dir=/srv/a\tb",
	  "-o daemon.state_dir=/srv/a\\x09b: expected a path without control "
	  "characters, got \"/srv/a\\x09b\"" },
	{ "daemon.state_dir=/srv/a #b",
	  "-o daemon.state_dir=/srv/a #b: expected a path without \" #\" or "
	  "\" ;\", got \"/srv/a #b\"" },
	{ "io.download_dir=downloads",
	  "-o io.download_dir=downloads: expected an absolute path, "
	  "got \"downloads\"" },
	{ "daemon.socket_group=-jobd",
	  "-o daemon.socket_group=-jobd: expected a group name or number, "
	  "got \"-jobd\"" },
	{ "daemon.socket_group=a:b",
	  "-o daemon.socket_group=a:b: expected a group name or number, "
	  "got \"a:b\"" },
	{ "io.allowed_schemes=ftp",
	  "-o io.allowed_schemes=ftp: expected a comma-separated subset of "
	  "http, https, got \"ftp\"" },
	{ "io.allowed_schemes=",
	  "-o io.allowed_schemes=: expected a comma-separated subset of "
	  "http, https, got \"\"" },
	{ "io.allowed_schemes=http,,https",
	  "-o io.allowed_schemes=http,,https: expected a comma-separated "
	  "subset of http, https, got \"http,,https\"" },
	{ "files.allowed_roots=/srv tmp",
	  "-o files.allowed_roots=/srv tmp: expected space-separated absolute "
	  "paths, got \"tmp\"" },
	{ "files.allowed_roots=",
	  "-o files.allowed_roots=: expected at least one absolute path" },
	{ "io.threads",
	  "-o io.threads: expected SECTION.KEY=VALUE" },
	{ "threads=4",
	  "-o threads=4: expected SECTION.KEY=VALUE" },
	{ ".threads=4",
	  "-o .threads=4: expected SECTION.KEY=VALUE" },
	{ "io.=4",
	  "-o io.=4: expected SECTION.KEY=VALUE" },
	{ "bogus.threads=4",
	  "-o bogus.threads=4: unknown section [bogus]" },
	{ "io.thread=4",
	  "-o io.thread=4: unknown key \"thread\" in [io]" },
	{ "cpu.threads=4",
	  "-o cpu.threads=4: unknown key \"threads\" in [cpu]" },
	{ "io.threads.x=4",
	  "-o io.threads.x=4: unknown key \"threads.x\" in [io]" },
};

START_TEST(test_set_bad)
{
	struct config	 c, d;
	char		*err = NULL;

	config_defaults(&c);
	config_defaults(&d);
	ck_assert_int_eq(config_set(&c, set_bad[_i].arg, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, set_bad[_i].msg);
	/* A rejected override leaves the config as it was. */
	ck_assert(config_equal(&c, &d));
	free(err);
	config_free(&c);
	config_free(&d);
}
END_TEST

START_TEST(test_set_misc)
{
	struct config	 c;
	char		*err;

	config_defaults(&c);
	/* White space around the key and the value is not part of them. */
	ck_assert_int_eq(config_set(&c, " io.threads = 5 ", &err), 0);
	ck_assert_int_eq(c.io_threads, 5);
	/* A later override wins; '=' in a value is kept. */
	ck_assert_int_eq(config_set(&c, "io.threads=6", &err), 0);
	ck_assert_int_eq(c.io_threads, 6);
	ck_assert_int_eq(config_set(&c, "daemon.state_dir=/srv/a=b", &err), 0);
	ck_assert_str_eq(c.state_dir, "/srv/a=b");
	/* -o values are literal: no comment stripping. */
	ck_assert_int_eq(config_set(&c, "daemon.state_dir=/srv/a#b", &err), 0);
	ck_assert_str_eq(c.state_dir, "/srv/a#b");
	ck_assert_int_eq(config_set(&c, "daemon.socket_group=", &err), 0);
	ck_assert_ptr_null(c.socket_group);
	config_free(&c);
}
END_TEST

START_TEST(test_roots)
{
	static const struct {
		const char	*text;
		int		 n;
		const char	*roots[4];
	} cases[] = {
		{ "[files]\nallowed_roots = /srv\n", 1, { "/srv" } },
		{ "[files]\nallowed_roots = /srv/ /home\t/tmp//\n", 3,
		  { "/srv", "/home", "/tmp" } },
		{ "[files]\nallowed_roots =\n  /a\n\n  /b ; c\n", 2,
		  { "/a", "/b" } },
		{ "[files]\nallowed_roots = /a\n\t/b /c\n\t/d\n", 4,
		  { "/a", "/b", "/c", "/d" } },
		{ "[files]\nallowed_roots = / /\n", 2, { "/", "/" } },
	};
	struct config	 c;
	char		*err;
	int		 i, j;

	for (i = 0; i < (int)nitems(cases); i++) {
		ck_assert_msg(load_text(&c, cases[i].text, &err) == 0, "%s",
		    err);
		ck_assert_int_eq(c.nallowed_roots, cases[i].n);
		for (j = 0; j < cases[i].n; j++)
			ck_assert_str_eq(c.allowed_roots[j], cases[i].roots[j]);
		ck_assert_ptr_null(c.allowed_roots[cases[i].n]);
		config_free(&c);
	}
	config_defaults(&c);
	ck_assert_int_eq(config_set(&c, "files.allowed_roots=/a /b", &err), 0);
	ck_assert_int_eq(c.nallowed_roots, 2);
	ck_assert_str_eq(c.allowed_roots[1], "/b");
	ck_assert_ptr_null(c.allowed_roots[2]);
	config_free(&c);
}
END_TEST

/* The golden bad files and the exact message each must give. */
static const struct {
	const char	*file;
	const char	*msg;		/* after "PATH:" */
} golden[] = {
	{ "bad-section.conf", "5: [deamon]: unknown section" },
	{ "bad-key.conf", "4: [io] thread: unknown key" },
	{ "bad-int.conf", "3: [io] threads: expected an integer between 1 and "
	  "64, got \"x\"" },
	{ "bad-range.conf", "4: [cpu] workers: expected an integer between 0 "
	  "and 1024, got \"1025\"" },
	{ "bad-range-zero.conf", "3: [cpu] memory_limit_mb: expected 0 or an "
	  "integer between 16 and 1048576, got \"8\"" },
	{ "bad-size.conf", "3: [io] max_bytes: expected a size between 1 and "
	  "1024G (bytes, or a number with a K, M or G suffix), got \"64MB\"" },
	{ "bad-mode.conf", "3: [daemon] socket_mode: expected a mode that is "
	  "not world-writable, got \"0666\"" },
	{ "bad-mode-bits.conf", "3: [daemon] socket_mode: expected a mode "
	  "within 0777, got \"01770\"" },
	{ "bad-mode-syntax.conf", "3: [daemon] socket_mode: expected an octal "
	  "mode such as 0660, got \"rw-rw----\"" },
	{ "bad-level.conf", "3: [daemon] log_level: expected one of err, warn, "
	  "info, debug, got \"verbose\"" },
	{ "bad-scheme.conf", "3: [io] allowed_schemes: expected a "
	  "comma-separated subset of http, https, got \"http,ftp\"" },
	{ "bad-path.conf", "3: [daemon] state_dir: expected an absolute path, "
	  "got \"var/lib/jobd\"" },
	{ "bad-roots.conf", "3: [files] allowed_roots: expected "
	  "space-separated absolute paths, got \"data\"" },
	{ "bad-roots-empty.conf", "3: [files] allowed_roots: expected at least "
	  "one absolute path" },
	{ "bad-group.conf", "3: [daemon] socket_group: expected a group name "
	  "or number, got \"job users\"" },
	{ "bad-syntax.conf", "3: expected \"[section]\" or \"key = value\", "
	  "got \"threads 4\"" },
	{ "bad-header.conf", "2: expected \"[section]\" or \"key = value\", "
	  "got \"[io\"" },
	{ "bad-dup.conf", "7: [io] threads: duplicate key (first set on "
	  "line 3)" },
	{ "bad-nosection.conf", "2: threads: key outside any [section]" },
	{ "bad-cont.conf", "4: [io] threads: only [files] allowed_roots may "
	  "continue on an indented line" },
	{ "bad-hash.conf", "3: [io] threads: expected an integer between 1 and "
	  "64, got \"4#four\"" },
	{ "bad-noname.conf", "3: [io]: missing key name before \"=\"" },
	{ "bad-order-value.conf", "3: [io] threads: expected an integer "
	  "between 1 and 64, got \"0\"" },
	{ "bad-order-syntax.conf", "3: expected \"[section]\" or \"key = "
	  "value\", got \"nonsense\"" },
	{ "bad-order-section.conf", "2: [bogus]: unknown section" },
};

START_TEST(test_golden)
{
	struct config	 c, d;
	char		*path, *want, *err = NULL;

	xasprintf(&path, "%s/tests/conf/%s", srcdir(), golden[_i].file);
	xasprintf(&want, "%s:%s", path, golden[_i].msg);
	/* Start from non-defaults to see that a failed load changes nothing. */
	config_with(&c, (const char *const[]){ "io.threads=9",
	    "files.allowed_roots=/x /y", NULL });
	config_with(&d, (const char *const[]){ "io.threads=9",
	    "files.allowed_roots=/x /y", NULL });
	ck_assert_int_eq(config_load(&c, path, 1, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, want);
	ck_assert(config_equal(&c, &d));
	ck_assert_ptr_null(c.path);
	free(err);
	free(want);
	free(path);
	config_free(&c);
	config_free(&d);
}
END_TEST

START_TEST(test_good)
{
	struct config	 c;
	char		*path, *err;

	xasprintf(&path, "%s/tests/conf/good.conf", srcdir());
	config_defaults(&c);
	ck_assert_msg(config_load(&c, path, 1, &err) == 0, "%s", err);
	ck_assert_str_eq(c.path, path);
	ck_assert_int_eq(c.log_level, LOG_LEVEL_DEBUG);
	ck_assert_uint_eq(c.socket_mode, 0600);
	ck_assert_ptr_null(c.socket_group);
	ck_assert_str_eq(c.state_dir, "/srv/jobd");
	ck_assert_int_eq(c.io_threads, 4);
	ck_assert_int_eq(c.io_max_bytes, 2 << 20);
	ck_assert_str_eq(c.allowed_schemes, "http,https");
	ck_assert_int_eq(c.nallowed_roots, 4);
	ck_assert_str_eq(c.allowed_roots[0], "/srv/a");
	ck_assert_str_eq(c.allowed_roots[1], "/srv/b");
	ck_assert_str_eq(c.allowed_roots[2], "/srv/c");
	ck_assert_str_eq(c.allowed_roots[3], "/srv/d");
	ck_assert_int_eq(c.cpu_workers, 3);
	/* Keys the file does not name keep their defaults. */
	ck_assert_int_eq(c.max_transfers, 1024);
	ck_assert_str_eq(c.socket, "/run/jobd/jobd.sock");
	/* -o is applied after the file and wins. */
	ck_assert_int_eq(config_set(&c, "io.threads=2", &err), 0);
	ck_assert_int_eq(c.io_threads, 2);
	config_free(&c);
	free(path);
}
END_TEST

/* Files libinih and the reader must cope with, built byte by byte. */
#define RAW(s)	s, sizeof(s) - 1
static const struct {
	const char	*name;
	const char	*data;
	size_t		 len;
	const char	*msg;		/* NULL: loads, with threads = 7 */
} raw_cases[] = {
	{ "crlf", RAW("# x\r\n[io]\r\nthreads = 7\r\n"), NULL },
	{ "bom", RAW("\xef\xbb\xbf[io]\nthreads = 7\n"), NULL },
	{ "no final newline", RAW("[io]\nthreads = 7"), NULL },
	{ "empty", RAW(""), NULL },
	{ "semicolon comment", RAW("[io]\nthreads = 7 ;c\n"), NULL },
	{ "tab comment", RAW("[io]\nthreads = 7\t#c\n"), NULL },
	{ "nul", RAW("[io]\n\nthreads = 7\0\n"), "3: line contains a NUL byte" },
	{ "upper-case section", RAW("[IO]\nthreads = 7\n"),
	  "1: [IO]: unknown section" },
	{ "upper-case key", RAW("[io]\nThreads = 7\n"),
	  "2: [io] Threads: unknown key" },
	{ "control character in a name", RAW("[io]\nthr\x01" "ads = 7\n"),
	  "2: [io] thr\\x01ads: unknown key" },
	{ "bom not at the start", RAW("[io]\n\xef\xbb\xbfthreads = 7\n"),
	  "2: [io] \xef\xbb\xbfthreads: unknown key" },
};
#undef RAW

START_TEST(test_raw)
{
	struct config	 c;
	char		*path, *want, *err = NULL;
	int		 rc;

	path = tmp_write(raw_cases[_i].data, raw_cases[_i].len);
	config_defaults(&c);
	rc = config_load(&c, path, 1, &err);
	if (raw_cases[_i].msg == NULL) {
		ck_assert_msg(rc == 0, "%s: %s", raw_cases[_i].name, err);
		ck_assert_int_eq(c.io_threads, raw_cases[_i].len == 0 ? 1 : 7);
	} else {
		ck_assert_int_eq(rc, -1);
		xasprintf(&want, "%s:%s", path, raw_cases[_i].msg);
		ck_assert_str_eq(err, want);
		free(want);
		free(err);
	}
	config_free(&c);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_long_line)
{
	struct config	 c;
	char		 text[512], *path, *want, *err;
	size_t		 n;

	/* 199 bytes is the longest line; 200 is refused. */
	n = (size_t)snprintf(text, sizeof text, "[daemon]\nstate_dir = /");
	memset(text + n, 'a', 186);
	strcpy(text + n + 186, "\n");
	ck_assert_uint_eq(strlen(strchr(text, '\n') + 1), 199 + 1);
	path = tmp_write(text, strlen(text));
	config_defaults(&c);
	ck_assert_int_eq(config_load(&c, path, 1, &err), -1);
	/* Fits the line, but not the 160-byte path limit. */
	xasprintf(&want, "%s:2: [daemon] state_dir: expected a path of at most "
	    "160 bytes, got 187 bytes", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	unlink(path);
	free(path);

	strcpy(text + strlen(text) - 1, "a\n[io]\nthreads = x\n");
	path = tmp_write(text, strlen(text));
	ck_assert_int_eq(config_load(&c, path, 1, &err), -1);
	xasprintf(&want, "%s:2: line longer than 199 bytes", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	unlink(path);
	free(path);
	config_free(&c);
}
END_TEST

START_TEST(test_files)
{
	struct config	 c, d;
	char		*path, *want, *err, *big;
	size_t		 n = 1024 * 1024 + 1, i;

	config_defaults(&c);
	config_defaults(&d);
	xasprintf(&path, "%s/tests/conf/does-not-exist.conf", srcdir());

	/* A missing file is an error only when it must exist. */
	ck_assert_int_eq(config_load(&c, path, 1, &err), -1);
	xasprintf(&want, "%s: No such file or directory", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	ck_assert_int_eq(config_load(&c, path, 0, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_ptr_null(c.path);
	ck_assert(config_equal(&c, &d));
	free(path);

	/* Other errors are errors either way. */
	xasprintf(&path, "%s/tests/conf", srcdir());
	ck_assert_int_eq(config_load(&c, path, 0, &err), -1);
	xasprintf(&want, "%s: Is a directory", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	free(path);

	big = xmalloc(n);
	memset(big, '#', n);
	for (i = 99; i < n; i += 100)
		big[i] = '\n';
	path = tmp_write(big, n);
	ck_assert_int_eq(config_load(&c, path, 0, &err), -1);
	xasprintf(&want, "%s: file larger than 1048576 bytes", path);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	unlink(path);
	free(path);
	/* Exactly 1 MiB of comments is fine. */
	path = tmp_write(big, n - 1);
	ck_assert_msg(config_load(&c, path, 0, &err) == 0, "%s", err);
	unlink(path);
	free(path);
	free(big);

	ck_assert(config_equal(&c, &d));
	config_free(&c);
	config_free(&d);
}
END_TEST

START_TEST(test_shipped)
{
	struct config	 c, d;
	char		*path, *err;

	xasprintf(&path, "%s/etc/jobd.conf", srcdir());
	config_with(&c, (const char *const[]){ "io.threads=9", NULL });
	config_defaults(&d);
	ck_assert_msg(config_load(&c, path, 1, &err) == 0, "%s", err);
	/* It sets every key to its default (io.threads=9 is overwritten). */
	ck_assert(config_equal(&c, &d));
	config_free(&c);
	config_free(&d);
	free(path);
}
END_TEST

/* Dump, load the dump into fresh defaults, compare. */
static void
round_trip(const struct config *c)
{
	struct config	 d;
	char		*buf = NULL, *path, *err, *line, *save;
	size_t		 len = 0;
	FILE		*f;

	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(config_dump(c, f), 0);
	fclose(f);
	path = tmp_write(buf, len);
	config_defaults(&d);
	ck_assert_msg(config_load(&d, path, 1, &err) == 0, "%s\n%s", err, buf);
	ck_assert_msg(config_equal(c, &d), "dump does not read back:\n%s", buf);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		ck_assert_uint_le(strlen(line), 199);
	config_free(&d);
	unlink(path);
	free(path);
	free(buf);
}

START_TEST(test_dump)
{
	static const char *const custom[] = {
		"daemon.socket=/tmp/jobd test.sock",
		"daemon.socket_mode=0",
		"daemon.socket_group=wheel",
		"daemon.log_level=err",
		"daemon.state_dir=/srv/state",
		"daemon.result_ttl_s=86400",
		"daemon.drain_timeout_s=0",
		"io.threads=8",
		"io.blocking_threads=16",
		"io.max_transfers=5",
		"io.max_host_connections=2",
		"io.download_dir=/srv/dl",
		"io.allowed_schemes=https",
		"io.timeout_ms=1500",
		"io.max_bytes=1000001",
		"cpu.workers=12",
		"cpu.max_jobs_per_worker=100",
		"cpu.memory_limit_mb=512",
		"cpu.timeout_ms=60000",
		"cpu.chunk_bytes=12345678",
		"limits.max_connections=10",
		"limits.max_queued=20",
		"limits.max_request_bytes=3000K",
		"files.allowed_roots=/srv /home/x",
		NULL
	};
	struct config	 c, d;
	char		*buf = NULL, *roots, *arg, *err;
	size_t		 len = 0;
	FILE		*f;
	int		 i;

	config_defaults(&c);
	ck_assert_ptr_nonnull(f = open_memstream(&buf, &len));
	ck_assert_int_eq(config_dump(&c, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "\n[daemon]\nsocket = /run/jobd/"
	    "jobd.sock\nsocket_mode = 0660\nsocket_group =\nadmin_group =\n"
	    "log_level = info\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nmax_bytes = 64M\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\nmax_request_bytes = 1M\n"));
	ck_assert_ptr_nonnull(strstr(buf, "\n[files]\nallowed_roots = /\n"));
	free(buf);
	round_trip(&c);
	config_free(&c);

	config_with(&c, custom);
	config_defaults(&d);
	ck_assert(!config_equal(&c, &d));
	round_trip(&c);
	config_free(&c);
	config_free(&d);

	/* Many long roots wrap onto continuation lines and read back. */
	roots = xstrdup("files.allowed_roots=");
	for (i = 0; i < 60; i++) {
		xasprintf(&arg, "%s /srv/%03d/%.*s", roots, i, 10 + i * 2,
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		free(roots);
		roots = arg;
	}
	config_defaults(&c);
	ck_assert_msg(config_set(&c, roots, &err) == 0, "%s", err);
	ck_assert_int_eq(c.nallowed_roots, 60);
	round_trip(&c);
	config_free(&c);
	free(roots);
}
END_TEST

START_TEST(test_cpu_workers)
{
	struct config	 c;
	long		 n = sysconf(_SC_NPROCESSORS_ONLN);
	char		*err;

	config_defaults(&c);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(config_cpu_workers(&c), n > 1024 ? 1024 : n);
	ck_assert_int_eq(config_set(&c, "cpu.workers=3", &err), 0);
	ck_assert_int_eq(config_cpu_workers(&c), 3);
	config_free(&c);
}
END_TEST

/* Reload as the daemon does it: load into a fresh struct, swap on success. */
START_TEST(test_reload)
{
	struct config	*cur, *next;
	char		*path, *err;

	cur = xcalloc(1, sizeof *cur);
	config_defaults(cur);
	path = tmp_write("[io]\nthreads = 3\n", 17);
	ck_assert_int_eq(config_load(cur, path, 1, &err), 0);
	ck_assert_int_eq(cur->io_threads, 3);

	/* The file goes bad: the new struct is thrown away. */
	unlink(path);
	free(path);
	path = tmp_write("[io]\nthreads = 4\nmax_transfers = 0\n", 35);
	next = xcalloc(1, sizeof *next);
	config_defaults(next);
	ck_assert_int_eq(config_load(next, path, 1, &err), -1);
	free(err);
	config_free(next);
	free(next);
	ck_assert_int_eq(cur->io_threads, 3);
	ck_assert_int_eq(cur->max_transfers, 1024);

	config_free(cur);
	free(cur);
	unlink(path);
	free(path);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, test_defaults);
	tcase_add_loop_test(tc, test_key_file, 0, nitems(key_cases));
	tcase_add_loop_test(tc, test_key_set, 0, nitems(key_cases));
	tcase_add_test(tc, test_key_coverage);
	tcase_add_loop_test(tc, test_sizes, 0, nitems(size_cases));
	tcase_add_loop_test(tc, test_set_bad, 0, nitems(set_bad));
	tcase_add_test(tc, test_set_misc);
	tcase_add_test(tc, test_roots);
	tcase_add_loop_test(tc, test_golden, 0, nitems(golden));
	tcase_add_test(tc, test_good);
	tcase_add_loop_test(tc, test_raw, 0, nitems(raw_cases));
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_shipped);
	tcase_add_test(tc, test_dump);
	tcase_add_test(tc, test_cpu_workers);
	tcase_add_test(tc, test_reload);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
