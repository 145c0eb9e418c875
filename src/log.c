/*
 * Logging: stderr in the foreground, with sd-daemon priority prefixes
 * ("<3>") when stderr is the journal. libevent's own messages come here too.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "jobd.h"

static const char *log_name = "jobd";
static int	 log_level = LOG_LEVEL_INFO;
static int	 log_journal;		/* stderr is connected to the journal */

static const char *log_names[] = { "err", "warn", "info", "debug" };
static const int log_prio[] = { 3, 4, 6, 7 };	/* syslog priorities */

static void	 log_vwrite(int, const char *, va_list, int);
static void	 log_event_cb(int, const char *);

/* Set up logging: name for messages, level. */
void
log_init(const char *name, int level)
{
	const char	*js;

	log_name = name;
	log_level = level;
	/* systemd sets JOURNAL_STREAM=dev:inode when stderr is the journal. */
	if ((js = getenv("JOURNAL_STREAM")) != NULL && *js != '\0')
		log_journal = 1;
	event_set_log_callback(log_event_cb);
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

int
log_parse_level(const char *s)
{
	size_t	 i;

	for (i = 0; i < nitems(log_names); i++) {
		if (strcasecmp(s, log_names[i]) == 0)
			return (int)i;
	}
	return -1;
}

const char *
log_level_name(int level)
{
	if (level < 0 || (size_t)level >= nitems(log_names))
		return "?";
	return log_names[level];
}

/* Write one message; errno text appended when want_errno. */
static void
log_vwrite(int level, const char *fmt, va_list ap, int want_errno)
{
	char	 msg[1024];
	int	 saved = errno;

	if (level > log_level)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal) {
		if (want_errno)
			fprintf(stderr, "<%d>%s: %s\n", log_prio[level], msg,
			    strerror(saved));
		else
			fprintf(stderr, "<%d>%s\n", log_prio[level], msg);
	} else {
		if (want_errno)
			fprintf(stderr, "%s[%ld]: %s: %s\n", log_name,
			    (long)getpid(), msg, strerror(saved));
		else
			fprintf(stderr, "%s[%ld]: %s\n", log_name,
			    (long)getpid(), msg);
	}
	errno = saved;
}

#define LOG_FUNC(fn, level, want_errno)			\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list	 ap;					\
							\
	va_start(ap, fmt);				\
	log_vwrite(level, fmt, ap, want_errno);		\
	va_end(ap);					\
}
LOG_FUNC(log_warn, LOG_LEVEL_WARN, 1)
LOG_FUNC(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FUNC(log_info, LOG_LEVEL_INFO, 0)
LOG_FUNC(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERR, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

/* Route libevent's messages into ours. */
static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}
