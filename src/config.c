/*
 * The configuration: built-in defaults, the INI file (parsed by libinih),
 * -o overrides, and a dump that reads back as an equal configuration.
 *
 * One table describes every key. Defaults, parsing, copying, comparing,
 * freeing and dumping all walk it, so a key added to the table is handled
 * everywhere at once.
 *
 * Loading is transactional: the file is applied to a copy, and the copy
 * replaces the caller's struct only when the whole file is valid.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jobd.h"

struct config	*cfg;

/* Longest line accepted; libinih's stack buffer holds 199 bytes + NUL. */
#define CONFIG_LINE_MAX		199
/* Longest path, so that every dumped "key = path" line fits a line. */
#define CONFIG_PATH_MAX		160
#define CONFIG_SOCKET_MAX	(sizeof ((struct sockaddr_un *)0)->sun_path - 1)
#define CONFIG_GROUP_MAX	64
#define CONFIG_ROOTS_MAX	1024
#define CONFIG_FILE_MAX		(1024 * 1024)
/* Width at which config_dump wraps allowed_roots onto indented lines. */
#define CONFIG_DUMP_WIDTH	150

#define KiB			INT64_C(1024)
#define MiB			(KiB * 1024)
#define GiB			(MiB * 1024)
#define TiB			(GiB * 1024)

enum config_type {
	CONFIG_INT,		/* int, decimal */
	CONFIG_MS,		/* int64_t, decimal */
	CONFIG_SIZE,		/* int64_t, bytes with an optional K/M/G */
	CONFIG_MODE,		/* unsigned int, octal */
	CONFIG_LEVEL,		/* int, a log level name */
	CONFIG_PATH,		/* char *, an absolute path */
	CONFIG_GROUP,		/* char *, a group name or number; NULL if empty */
	CONFIG_SCHEMES,		/* char *, canonical subset of "http,https" */
	CONFIG_ROOTS,		/* allowed_roots and nallowed_roots */
};

#define CONFIG_ZERO_OK	0x1	/* 0 is allowed below min (means "none") */

struct config_key {
	const char	*section;
	const char	*name;
	enum config_type type;
	size_t		 off;
	int64_t		 min;
	int64_t		 max;		/* for paths: the longest length */
	int		 flags;
	const char	*def;		/* parsed like a value from the file */
};

#define OFF(f)	offsetof(struct config, f)
static const struct config_key config_keys[] = {
	{ "daemon", "socket", CONFIG_PATH, OFF(socket),
	  0, CONFIG_SOCKET_MAX, 0, JOBD_DEFAULT_SOCKET },
	{ "daemon", "socket_mode", CONFIG_MODE, OFF(socket_mode),
	  0, 0777, 0, "0660" },
	{ "daemon", "socket_group", CONFIG_GROUP, OFF(socket_group),
	  0, CONFIG_GROUP_MAX, 0, "" },
	{ "daemon", "admin_group", CONFIG_GROUP, OFF(admin_group),
	  0, CONFIG_GROUP_MAX, 0, "" },
	{ "daemon", "log_level", CONFIG_LEVEL, OFF(log_level),
	  0, 0, 0, "info" },
	{ "daemon", "state_dir", CONFIG_PATH, OFF(state_dir),
	  0, CONFIG_PATH_MAX, 0, "/var/lib/jobd" },
	{ "daemon", "result_ttl_s", CONFIG_INT, OFF(result_ttl_s),
	  1, 30 * 86400, 0, "300" },
	{ "daemon", "drain_timeout_s", CONFIG_INT, OFF(drain_timeout_s),
	  0, 3600, 0, "30" },

	{ "io", "threads", CONFIG_INT, OFF(io_threads),
	  1, 64, 0, "1" },
	{ "io", "blocking_threads", CONFIG_INT, OFF(blocking_threads),
	  1, 256, 0, "4" },
	{ "io", "max_transfers", CONFIG_INT, OFF(max_transfers),
	  1, 100000, 0, "1024" },
	{ "io", "max_host_connections", CONFIG_INT, OFF(max_host_connections),
	  0, 100000, 0, "0" },
	{ "io", "download_dir", CONFIG_PATH, OFF(download_dir),
	  0, CONFIG_PATH_MAX, 0, "/var/lib/jobd/downloads" },
	{ "io", "allowed_schemes", CONFIG_SCHEMES, OFF(allowed_schemes),
	  0, 0, 0, "http,https" },
	{ "io", "timeout_ms", CONFIG_MS, OFF(io_timeout_ms),
	  1, 86400000, 0, "30000" },
	{ "io", "max_bytes", CONFIG_SIZE, OFF(io_max_bytes),
	  1, TiB, 0, "64M" },

	{ "cpu", "workers", CONFIG_INT, OFF(cpu_workers),
	  0, 1024, 0, "0" },
	{ "cpu", "max_jobs_per_worker", CONFIG_INT, OFF(max_jobs_per_worker),
	  0, 1000000000, 0, "0" },
	{ "cpu", "memory_limit_mb", CONFIG_INT, OFF(memory_limit_mb),
	  16, 1048576, CONFIG_ZERO_OK, "0" },
	{ "cpu", "timeout_ms", CONFIG_MS, OFF(cpu_timeout_ms),
	  0, 7 * 86400000LL, 0, "0" },
	{ "cpu", "chunk_bytes", CONFIG_SIZE, OFF(chunk_bytes),
	  4 * KiB, 16 * GiB, 0, "64M" },

	{ "limits", "max_connections", CONFIG_INT, OFF(max_connections),
	  1, 1000000, 0, "1024" },
	{ "limits", "max_queued", CONFIG_INT, OFF(max_queued),
	  1, 10000000, 0, "100000" },
	{ "limits", "max_request_bytes", CONFIG_SIZE, OFF(max_request_bytes),
	  KiB, GiB, 0, "1M" },
	{ "limits", "max_output_bytes", CONFIG_SIZE, OFF(max_output_bytes),
	  64 * KiB, 16 * GiB, 0, "16M" },

	{ "files", "allowed_roots", CONFIG_ROOTS, OFF(allowed_roots),
	  0, CONFIG_PATH_MAX, 0, "/" },
};
#undef OFF

static const char *config_sections[] = {
	"daemon", "io", "cpu", "limits", "files"
};

/* State of one file being parsed; libinih's reader and handler share it. */
struct config_parse {
	struct config	*c;
	const char	*file;
	const char	*buf;
	size_t		 len;
	size_t		 pos;
	int		 lineno;	/* line last handed to libinih */
	int		 cont;		/* that line continues the previous key */
	int		 prev_key;	/* a key was seen since the last [section] */
	int		 seen[nitems(config_keys)];	/* line each key was set on */
	int		 roots_line;
	int		 errline;
	char		*err;		/* earliest error, "file:line: ..." */
};

#define FIELD(c, k, t)	((t *)(void *)((char *)(c) + (k)->off))
#define CFIELD(c, k, t)	((const t *)(const void *)((const char *)(c) + (k)->off))

/* Copy s into buf for a message: control bytes escaped, long text cut. */
static const char *
config_esc(char *buf, size_t len, const char *s)
{
	size_t	 o = 0;
	char	 tmp[8];

	for (; *s != '\0'; s++) {
		unsigned char	 ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			snprintf(tmp, sizeof tmp, "\\x%02x", ch);
		else if (ch == '"' || ch == '\\')
			snprintf(tmp, sizeof tmp, "\\%c", ch);
		else
			snprintf(tmp, sizeof tmp, "%c", ch);
		if (o + strlen(tmp) + 4 >= len) {
			strcpy(buf + o, "...");
			return buf;
		}
		strcpy(buf + o, tmp);
		o += strlen(tmp);
	}
	buf[o] = '\0';
	return buf;
}

/* Format a byte count with the largest suffix that divides it. */
static const char *
config_fmt_size(char *buf, size_t len, int64_t n)
{
	if (n != 0 && n % GiB == 0)
		snprintf(buf, len, "%" PRId64 "G", n / GiB);
	else if (n != 0 && n % MiB == 0)
		snprintf(buf, len, "%" PRId64 "M", n / MiB);
	else if (n != 0 && n % KiB == 0)
		snprintf(buf, len, "%" PRId64 "K", n / KiB);
	else
		snprintf(buf, len, "%" PRId64, n);
	return buf;
}

/* Trim leading and trailing white space in place. */
static char *
config_trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Cut an inline comment off a value from the file: a '#' or ';' that
 * starts the value or follows white space. libinih handles ';' itself
 * (only after white space); '#' is ours, so both builds behave alike.
 */
static void
config_strip_comment(char *v)
{
	char	*s;

	for (s = v; *s != '\0'; s++) {
		if ((*s == '#' || *s == ';') &&
		    (s == v || isspace((unsigned char)s[-1]))) {
			*s = '\0';
			break;
		}
	}
	config_trim(v);
}

static int
config_known_section(const char *s)
{
	size_t	 i;

	for (i = 0; i < nitems(config_sections); i++) {
		if (strcmp(s, config_sections[i]) == 0)
			return 1;
	}
	return 0;
}

static const struct config_key *
config_find(const char *section, const char *name)
{
	size_t	 i;

	for (i = 0; i < nitems(config_keys); i++) {
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	}
	return NULL;
}

/* Parse a decimal integer within the key's range. */
static char *
config_parse_int(const struct config_key *k, const char *v, int64_t *out)
{
	char		 q[128], *end;
	long long	 n;
	char		*reason;

	errno = 0;
	n = 0;
	if ((isdigit((unsigned char)v[0]) || v[0] == '-') &&
	    (n = strtoll(v, &end, 10), errno == 0) && *end == '\0' &&
	    ((n >= k->min && n <= k->max) ||
	    (n == 0 && (k->flags & CONFIG_ZERO_OK)))) {
		*out = n;
		return NULL;
	}
	if (k->flags & CONFIG_ZERO_OK)
		xasprintf(&reason, "expected 0 or an integer between %" PRId64
		    " and %" PRId64 ", got \"%s\"", k->min, k->max,
		    config_esc(q, sizeof q, v));
	else
		xasprintf(&reason, "expected an integer between %" PRId64
		    " and %" PRId64 ", got \"%s\"", k->min, k->max,
		    config_esc(q, sizeof q, v));
	return reason;
}

/* Parse a size: bytes, or a number with a K, M or G (binary) suffix. */
static char *
config_parse_size(const struct config_key *k, const char *v, int64_t *out)
{
	char		 q[128], lo[32], hi[32], *end;
	long long	 n;
	int		 shift = 0;
	char		*reason;

	if (!isdigit((unsigned char)v[0]))
		goto bad;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno != 0)
		goto bad;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		goto bad;
	}
	if (shift != 0 && end[1] != '\0')
		goto bad;
	if (n > (k->max >> shift))
		goto bad;
	n <<= shift;
	if (n < k->min)
		goto bad;
	*out = n;
	return NULL;

bad:
	xasprintf(&reason, "expected a size between %s and %s (bytes, or a "
	    "number with a K, M or G suffix), got \"%s\"",
	    config_fmt_size(lo, sizeof lo, k->min),
	    config_fmt_size(hi, sizeof hi, k->max), config_esc(q, sizeof q, v));
	return reason;
}

/* Parse an octal socket mode: nothing outside 0777, not world-writable. */
static char *
config_parse_mode(const char *v, unsigned int *out)
{
	char		 q[128], *reason;
	unsigned long	 n;

	if (v[0] == '\0' || strspn(v, "01234567") != strlen(v)) {
		xasprintf(&reason, "expected an octal mode such as 0660, "
		    "got \"%s\"", config_esc(q, sizeof q, v));
		return reason;
	}
	errno = 0;
	n = strtoul(v, NULL, 8);
	if (errno != 0 || (n & ~0777UL) != 0) {
		xasprintf(&reason, "expected a mode within 0777, got \"%s\"",
		    config_esc(q, sizeof q, v));
		return reason;
	}
	if (n & 0002) {
		xasprintf(&reason, "expected a mode that is not world-writable, "
		    "got \"%s\"", config_esc(q, sizeof q, v));
		return reason;
	}
	*out = (unsigned int)n;
	return NULL;
}

/* Check an absolute path of at most max bytes; NULL if fine. */
static char *
config_check_path(const char *v, size_t max)
{
	char		 q[128], *reason;
	const char	*s;

	if (v[0] != '/') {
		xasprintf(&reason, "expected an absolute path, got \"%s\"",
		    config_esc(q, sizeof q, v));
		return reason;
	}
	if (strlen(v) > max) {
		xasprintf(&reason, "expected a path of at most %zu bytes, "
		    "got %zu bytes", max, strlen(v));
		return reason;
	}
	for (s = v; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f) {
			xasprintf(&reason, "expected a path without control "
			    "characters, got \"%s\"", config_esc(q, sizeof q, v));
			return reason;
		}
		/* It would read back as a comment (only -o can get here). */
		if ((*s == '#' || *s == ';') && s > v &&
		    isspace((unsigned char)s[-1])) {
			xasprintf(&reason, "expected a path without \" #\" or "
			    "\" ;\", got \"%s\"", config_esc(q, sizeof q, v));
			return reason;
		}
	}
	return NULL;
}

/* Copy a path without its trailing slashes (but keep "/"). */
static char *
config_path_dup(const char *v)
{
	size_t	 len = strlen(v);

	while (len > 1 && v[len - 1] == '/')
		len--;
	return xstrndup(v, len);
}

/* Check a group name (as useradd takes them) or a numeric gid. */
static char *
config_check_group(const char *v)
{
	char		 q[128], *reason;
	const char	*s;
	size_t		 len = strlen(v);

	for (s = v; *s != '\0'; s++) {
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' &&
		    *s != '.' && !(*s == '$' && s[1] == '\0'))
			break;
	}
	if (*s != '\0' || v[0] == '-' || len > CONFIG_GROUP_MAX) {
		xasprintf(&reason, "expected a group name or number, "
		    "got \"%s\"", config_esc(q, sizeof q, v));
		return reason;
	}
	return NULL;
}

/* Parse a comma-separated subset of http,https into canonical form. */
static char *
config_parse_schemes(const char *v, char **out)
{
	char	 q[128], *copy, *s, *word, *reason;
	int	 http = 0, https = 0, bad = 0;

	copy = s = xstrdup(v);
	while ((word = strsep(&s, ",")) != NULL) {
		word = config_trim(word);
		if (strcasecmp(word, "http") == 0)
			http = 1;
		else if (strcasecmp(word, "https") == 0)
			https = 1;
		else
			bad = 1;
	}
	free(copy);
	if (bad) {
		xasprintf(&reason, "expected a comma-separated subset of "
		    "http, https, got \"%s\"", config_esc(q, sizeof q, v));
		return reason;
	}
	if (http && https)
		*out = xstrdup("http,https");
	else
		*out = xstrdup(http ? "http" : "https");
	return NULL;
}

/*
 * Parse space-separated absolute paths into a new NULL-terminated array,
 * after the n paths of old when appending (a continuation line).
 */
static char *
config_parse_roots(const char *v, char **old, int nold, char ***out,
    int *nout)
{
	char	 q[128], *copy, *s, *word, *reason = NULL, **list;
	int	 i, n = 0;

	list = xcalloc(CONFIG_ROOTS_MAX + 1, sizeof *list);
	for (i = 0; i < nold; i++)
		list[n++] = xstrdup(old[i]);
	copy = s = xstrdup(v);
	while ((word = strsep(&s, " \t")) != NULL) {
		if (*word == '\0')
			continue;
		if (word[0] != '/') {
			xasprintf(&reason, "expected space-separated absolute "
			    "paths, got \"%s\"", config_esc(q, sizeof q, word));
			break;
		}
		if ((reason = config_check_path(word, CONFIG_PATH_MAX)) != NULL)
			break;
		if (n == CONFIG_ROOTS_MAX) {
			xasprintf(&reason, "expected at most %d paths",
			    CONFIG_ROOTS_MAX);
			break;
		}
		list[n++] = config_path_dup(word);
	}
	free(copy);
	if (reason != NULL) {
		for (i = 0; i < n; i++)
			free(list[i]);
		free(list);
		return reason;
	}
	*out = list;
	*nout = n;
	return NULL;
}

static void
config_free_roots(char **roots)
{
	char	**r;

	if (roots == NULL)
		return;
	for (r = roots; *r != NULL; r++)
		free(*r);
	free(roots);
}

/*
 * Apply one value to c; cont appends a continuation line (allowed_roots
 * only). Either the key is set or c is untouched and the reason returned.
 */
static char *
config_apply(struct config *c, const struct config_key *k, const char *v,
    int cont)
{
	char		 q[128], **roots = NULL, *s = NULL, *reason;
	int64_t		 n = 0;
	unsigned int	 mode = 0;
	int		 level, nroots = 0;

	switch (k->type) {
	case CONFIG_INT:
		if ((reason = config_parse_int(k, v, &n)) != NULL)
			return reason;
		*FIELD(c, k, int) = (int)n;
		break;
	case CONFIG_MS:
		if ((reason = config_parse_int(k, v, &n)) != NULL)
			return reason;
		*FIELD(c, k, int64_t) = n;
		break;
	case CONFIG_SIZE:
		if ((reason = config_parse_size(k, v, &n)) != NULL)
			return reason;
		*FIELD(c, k, int64_t) = n;
		break;
	case CONFIG_MODE:
		if ((reason = config_parse_mode(v, &mode)) != NULL)
			return reason;
		*FIELD(c, k, unsigned int) = mode;
		break;
	case CONFIG_LEVEL:
		/* log.c's names: err, warn, info, debug. */
		if ((level = log_parse_level(v)) == -1) {
			xasprintf(&reason, "expected one of err, warn, info, "
			    "debug, got \"%s\"", config_esc(q, sizeof q, v));
			return reason;
		}
		*FIELD(c, k, int) = level;
		break;
	case CONFIG_PATH:
		if ((reason = config_check_path(v, (size_t)k->max)) != NULL)
			return reason;
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = config_path_dup(v);
		break;
	case CONFIG_GROUP:
		if (*v != '\0' && (reason = config_check_group(v)) != NULL)
			return reason;
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = *v == '\0' ? NULL : xstrdup(v);
		break;
	case CONFIG_SCHEMES:
		if ((reason = config_parse_schemes(v, &s)) != NULL)
			return reason;
		free(*FIELD(c, k, char *));
		*FIELD(c, k, char *) = s;
		break;
	case CONFIG_ROOTS:
		if (cont)
			reason = config_parse_roots(v, c->allowed_roots,
			    c->nallowed_roots, &roots, &nroots);
		else
			reason = config_parse_roots(v, NULL, 0, &roots,
			    &nroots);
		if (reason != NULL)
			return reason;
		config_free_roots(c->allowed_roots);
		c->allowed_roots = roots;
		c->nallowed_roots = nroots;
		break;
	}
	return NULL;
}

/* Deep copy src into dst (dst's old contents are not freed). */
static void
config_copy(struct config *dst, const struct config *src)
{
	const struct config_key	*k;
	char			**p;
	int			 i;

	*dst = *src;
	if (src->path != NULL)
		dst->path = xstrdup(src->path);
	for (k = config_keys; k < config_keys + nitems(config_keys); k++) {
		switch (k->type) {
		case CONFIG_PATH:
		case CONFIG_GROUP:
		case CONFIG_SCHEMES:
			p = FIELD(dst, k, char *);
			if (*p != NULL)
				*p = xstrdup(*p);
			break;
		default:
			break;
		}
	}
	if (src->allowed_roots != NULL) {
		dst->allowed_roots = xcalloc((size_t)src->nallowed_roots + 1,
		    sizeof *dst->allowed_roots);
		for (i = 0; i < src->nallowed_roots; i++)
			dst->allowed_roots[i] = xstrdup(src->allowed_roots[i]);
	}
}

/*
 * Fill c with the built-in defaults. c's old contents are not freed:
 * call it on a fresh struct (or after config_free).
 */
void
config_defaults(struct config *c)
{
	const struct config_key	*k;
	char			*reason;

	memset(c, 0, sizeof *c);
	for (k = config_keys; k < config_keys + nitems(config_keys); k++) {
		if ((reason = config_apply(c, k, k->def, 0)) != NULL)
			fatalx("%s: default %s.%s: %s", __func__, k->section,
			    k->name, reason);
	}
}

/* Free what c holds (not c itself); c can be freed again after. */
void
config_free(struct config *c)
{
	const struct config_key	*k;

	for (k = config_keys; k < config_keys + nitems(config_keys); k++) {
		switch (k->type) {
		case CONFIG_PATH:
		case CONFIG_GROUP:
		case CONFIG_SCHEMES:
			free(*FIELD(c, k, char *));
			*FIELD(c, k, char *) = NULL;
			break;
		default:
			break;
		}
	}
	config_free_roots(c->allowed_roots);
	c->allowed_roots = NULL;
	c->nallowed_roots = 0;
	free(c->path);
	c->path = NULL;
}

/* Compare two strings either of which may be NULL. */
static int
config_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Whether a and b set every key alike (the path they came from aside). */
int
config_equal(const struct config *a, const struct config *b)
{
	const struct config_key	*k;
	int			 i;

	for (k = config_keys; k < config_keys + nitems(config_keys); k++) {
		switch (k->type) {
		case CONFIG_INT:
		case CONFIG_LEVEL:
			if (*CFIELD(a, k, int) != *CFIELD(b, k, int))
				return 0;
			break;
		case CONFIG_MS:
		case CONFIG_SIZE:
			if (*CFIELD(a, k, int64_t) != *CFIELD(b, k, int64_t))
				return 0;
			break;
		case CONFIG_MODE:
			if (*CFIELD(a, k, unsigned int) !=
			    *CFIELD(b, k, unsigned int))
				return 0;
			break;
		case CONFIG_PATH:
		case CONFIG_GROUP:
		case CONFIG_SCHEMES:
			if (!config_streq(*CFIELD(a, k, char *),
			    *CFIELD(b, k, char *)))
				return 0;
			break;
		case CONFIG_ROOTS:
			if (a->nallowed_roots != b->nallowed_roots)
				return 0;
			for (i = 0; i < a->nallowed_roots; i++) {
				if (strcmp(a->allowed_roots[i],
				    b->allowed_roots[i]) != 0)
					return 0;
			}
			break;
		}
	}
	return 1;
}

/* Record an error at line; the earliest line wins. */
static void
config_error_at(struct config_parse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
config_error_at(struct config_parse *p, int line, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	if (p->err != NULL && p->errline <= line)
		return;
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	free(p->err);
	xasprintf(&p->err, "%s:%d: %s", p->file, line, msg);
	free(msg);
	p->errline = line;
}

/*
 * Look at a line the way libinih will (its rules for comments, sections
 * and continuation lines), to catch an unknown [section] even when it
 * holds no keys and to know whether the handler sees a continuation.
 */
static void
config_classify(struct config_parse *p, char *line)
{
	char		 q[128], *start, *s, *end;
	int		 was_space = 0;

	p->cont = 0;
	start = line;
	if (p->lineno == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	while (isspace((unsigned char)*start))
		start++;
	if (*start == '\0' || *start == ';' || *start == '#')
		return;
	if (p->prev_key && start > line) {
		p->cont = 1;
		return;
	}
	if (*start != '[')
		return;
	/* libinih ends the name at ']' or at a ';' comment after space. */
	for (end = start + 1; *end != '\0' && *end != ']'; end++) {
		if (was_space && *end == ';')
			break;
		was_space = isspace((unsigned char)*end);
	}
	if (*end != ']')
		return;		/* libinih reports the syntax error */
	p->prev_key = 0;
	s = xstrndup(start + 1, (size_t)(end - start - 1));
	if (!config_known_section(config_trim(s)))
		config_error_at(p, p->lineno, "[%s]: unknown section",
		    config_esc(q, sizeof q, config_trim(s)));
	free(s);
}

/* libinih's reader: the next line of the buffer, counted and checked. */
static char *
config_reader(char *str, int num, void *arg)
{
	struct config_parse	*p = arg;
	const char		*line, *nl;
	size_t			 len, max;

	if (p->pos >= p->len || num < 2)
		return NULL;
	line = p->buf + p->pos;
	nl = memchr(line, '\n', p->len - p->pos);
	len = nl != NULL ? (size_t)(nl - line) : p->len - p->pos;
	p->pos += len + (nl != NULL);
	p->lineno++;
	p->cont = 0;
	str[0] = '\0';

	max = (size_t)num - 1;
	if (max > CONFIG_LINE_MAX)
		max = CONFIG_LINE_MAX;
	if (memchr(line, '\0', len) != NULL)
		config_error_at(p, p->lineno, "line contains a NUL byte");
	else if (len > max)
		config_error_at(p, p->lineno, "line longer than %zu bytes", max);
	else {
		memcpy(str, line, len);
		str[len] = '\0';
		config_classify(p, str);
	}
	return str;
}

/* libinih's handler: one key = value (or continuation) line. */
static int
config_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct config_parse	*p = arg;
	const struct config_key	*k;
	char			 qs[128], qn[128], *secbuf, *sec, *v = NULL;
	char			*reason;
	size_t			 i;
	int			 cont = p->cont, ok = 0;

	if (!cont)
		p->prev_key = 1;
	if (p->err != NULL)
		return 1;	/* only the first error is reported */

	secbuf = xstrdup(section);
	sec = config_trim(secbuf);
	config_esc(qs, sizeof qs, sec);
	config_esc(qn, sizeof qn, name);
	if (*sec == '\0') {
		config_error_at(p, p->lineno, "%s: key outside any [section]",
		    qn);
		goto out;
	}
	if (*name == '\0') {
		config_error_at(p, p->lineno, "[%s]: missing key name before "
		    "\"=\"", qs);
		goto out;
	}
	if ((k = config_find(sec, name)) == NULL) {
		config_error_at(p, p->lineno, "[%s] %s: unknown %s", qs, qn,
		    config_known_section(sec) ? "key" : "section");
		goto out;
	}
	i = (size_t)(k - config_keys);
	if (cont && k->type != CONFIG_ROOTS) {
		config_error_at(p, p->lineno, "[%s] %s: only [files] "
		    "allowed_roots may continue on an indented line", qs, qn);
		goto out;
	}
	if (!cont && p->seen[i] != 0) {
		config_error_at(p, p->lineno, "[%s] %s: duplicate key (first "
		    "set on line %d)", qs, qn, p->seen[i]);
		goto out;
	}
	v = xstrdup(value);
	config_strip_comment(v);
	if ((reason = config_apply(p->c, k, v, cont)) != NULL) {
		config_error_at(p, p->lineno, "[%s] %s: %s", qs, qn, reason);
		free(reason);
		goto out;
	}
	if (!cont) {
		p->seen[i] = p->lineno;
		if (k->type == CONFIG_ROOTS)
			p->roots_line = p->lineno;
	}
	ok = 1;
out:
	free(v);
	free(secbuf);
	return ok;
}

/* The text of line n of the buffer, for a syntax error. */
static char *
config_line(const char *buf, size_t len, int n)
{
	const char	*s = buf, *end = buf + len, *nl;

	while (--n > 0 && (nl = memchr(s, '\n', (size_t)(end - s))) != NULL)
		s = nl + 1;
	nl = memchr(s, '\n', (size_t)(end - s));
	return xstrndup(s, nl != NULL ? (size_t)(nl - s) : (size_t)(end - s));
}

/* Read a whole (small) config file; -1 with *err set. */
static int
config_read(const char *path, char **buf, size_t *len, int must_exist,
    char **err)
{
	FILE	*f;
	size_t	 n;

	*buf = NULL;
	*len = 0;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && !must_exist)
			return 0;
		xasprintf(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	*buf = xmalloc(CONFIG_FILE_MAX + 1);
	n = fread(*buf, 1, CONFIG_FILE_MAX + 1, f);
	if (ferror(f)) {
		xasprintf(err, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (n > CONFIG_FILE_MAX) {
		xasprintf(err, "%s: file larger than %d bytes", path,
		    CONFIG_FILE_MAX);
		goto fail;
	}
	fclose(f);
	*len = n;
	return 0;

fail:
	fclose(f);
	free(*buf);
	*buf = NULL;
	return -1;
}

/*
 * Load the INI file at path over c. must_exist=0: a missing file leaves c
 * as it is. On error c is untouched and *err holds the message.
 */
int
config_load(struct config *c, const char *path, int must_exist, char **err)
{
	struct config_parse	 p;
	struct config		 tmp;
	char			 q[256], *buf, *line;
	size_t			 len;
	int			 r;

	*err = NULL;
	if (config_read(path, &buf, &len, must_exist, err) == -1)
		return -1;
	if (buf == NULL)
		return 0;	/* missing, and that is fine */

	config_copy(&tmp, c);
	memset(&p, 0, sizeof p);
	p.c = &tmp;
	p.file = path;
	p.buf = buf;
	p.len = len;
	r = ini_parse_stream(config_reader, &p, config_handler, &p);
	if (r == -1 || r == -2)
		fatalx("%s: ini_parse_stream returned %d", __func__, r);
	if (r > 0) {
		/* Our own errors are on record; anything else is syntax. */
		line = config_line(buf, len, r);
		config_error_at(&p, r, "expected \"[section]\" or \"key = "
		    "value\", got \"%s\"", config_esc(q, sizeof q,
		    config_trim(line)));
		free(line);
	}
	if (p.roots_line != 0 && tmp.nallowed_roots == 0)
		config_error_at(&p, p.roots_line, "[files] allowed_roots: "
		    "expected at least one absolute path");
	free(buf);

	if (p.err != NULL) {
		config_free(&tmp);
		*err = p.err;
		return -1;
	}
	free(tmp.path);
	tmp.path = xstrdup(path);
	config_free(c);
	*c = tmp;
	return 0;
}

/* Apply one -o "section.key=value"; on error c is untouched. */
int
config_set(struct config *c, const char *arg, char **err)
{
	const struct config_key	*k;
	struct config		 tmp;
	char			 qa[256], qs[128], qk[128], *lhs, *sec, *key;
	char			*dot, *v, *vcopy, *reason = NULL;
	const char		*eq;

	*err = NULL;
	config_esc(qa, sizeof qa, arg);
	if ((eq = strchr(arg, '=')) == NULL) {
		xasprintf(err, "-o %s: expected SECTION.KEY=VALUE", qa);
		return -1;
	}
	lhs = xstrndup(arg, (size_t)(eq - arg));
	sec = config_trim(lhs);
	if ((dot = strchr(sec, '.')) == NULL || dot == sec ||
	    dot[1] == '\0') {
		xasprintf(err, "-o %s: expected SECTION.KEY=VALUE", qa);
		free(lhs);
		return -1;
	}
	*dot = '\0';
	key = dot + 1;
	config_esc(qs, sizeof qs, sec);
	config_esc(qk, sizeof qk, key);
	if (!config_known_section(sec)) {
		xasprintf(err, "-o %s: unknown section [%s]", qa, qs);
		free(lhs);
		return -1;
	}
	if ((k = config_find(sec, key)) == NULL) {
		xasprintf(err, "-o %s: unknown key \"%s\" in [%s]", qa, qk, qs);
		free(lhs);
		return -1;
	}
	free(lhs);

	vcopy = xstrdup(eq + 1);
	v = config_trim(vcopy);
	config_copy(&tmp, c);
	reason = config_apply(&tmp, k, v, 0);
	free(vcopy);
	if (reason == NULL && k->type == CONFIG_ROOTS &&
	    tmp.nallowed_roots == 0)
		reason = xstrdup("expected at least one absolute path");
	if (reason != NULL) {
		xasprintf(err, "-o %s: %s", qa, reason);
		free(reason);
		config_free(&tmp);
		return -1;
	}
	config_free(c);
	*c = tmp;
	return 0;
}

/* The number of CPU workers to run: workers, or one per online CPU. */
int
config_cpu_workers(const struct config *c)
{
	long	 n;

	if (c->cpu_workers > 0)
		return c->cpu_workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > 1024)
		n = 1024;
	return (int)n;
}

/* Print c as an INI file that config_load reads back as equal. */
int
config_dump(const struct config *c, FILE *f)
{
	const struct config_key	*k;
	const char		*section = NULL, *s;
	char			 buf[32];
	size_t			 col, len;
	int			 i;

	fprintf(f, "# jobd configuration%s%s\n", c->path != NULL ?
	    ", from " : " (built-in defaults)", c->path != NULL ? c->path : "");
	for (k = config_keys; k < config_keys + nitems(config_keys); k++) {
		if (section == NULL || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(f, "\n[%s]\n", section);
		}
		switch (k->type) {
		case CONFIG_INT:
			fprintf(f, "%s = %d\n", k->name, *CFIELD(c, k, int));
			break;
		case CONFIG_MS:
			fprintf(f, "%s = %" PRId64 "\n", k->name,
			    *CFIELD(c, k, int64_t));
			break;
		case CONFIG_SIZE:
			fprintf(f, "%s = %s\n", k->name, config_fmt_size(buf,
			    sizeof buf, *CFIELD(c, k, int64_t)));
			break;
		case CONFIG_MODE:
			fprintf(f, "%s = %04o\n", k->name,
			    *CFIELD(c, k, unsigned int));
			break;
		case CONFIG_LEVEL:
			fprintf(f, "%s = %s\n", k->name,
			    log_level_name(*CFIELD(c, k, int)));
			break;
		case CONFIG_PATH:
		case CONFIG_GROUP:
		case CONFIG_SCHEMES:
			s = *CFIELD(c, k, char *);
			if (s == NULL || *s == '\0')
				fprintf(f, "%s =\n", k->name);
			else
				fprintf(f, "%s = %s\n", k->name, s);
			break;
		case CONFIG_ROOTS:
			/* Long lists go on indented continuation lines. */
			col = (size_t)fprintf(f, "%s =", k->name);
			for (i = 0; i < c->nallowed_roots; i++) {
				len = strlen(c->allowed_roots[i]);
				if (i > 0 && col + 1 + len > CONFIG_DUMP_WIDTH) {
					fprintf(f, "\n\t%s", c->allowed_roots[i]);
					col = 8 + len;
				} else {
					fprintf(f, " %s", c->allowed_roots[i]);
					col += 1 + len;
				}
			}
			fputc('\n', f);
			break;
		}
	}
	if (fflush(f) == EOF || ferror(f))
		return -1;
	return 0;
}
