/*
 * Service manager notification through libsystemd: READY/RELOADING/
 * STOPPING/STATUS/WATCHDOG, and the listening socket from socket
 * activation. Only the main process notifies: workers never call these.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "jobd.h"

void
notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)ts.tv_sec * 1000000 +
	    (unsigned long long)ts.tv_nsec / 1000);
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	sd_notifyf(0, "STATUS=%s", msg);
	free(msg);
}

int
notify_watchdog_usec(uint64_t *usec)
{
	return sd_watchdog_enabled(0, usec) > 0;
}

void
notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

/* The one stream socket systemd passed us, or -1. */
int
notify_listen_fd(void)
{
	int	 n;

	if ((n = sd_listen_fds(1)) <= 0)
		return -1;
	if (n > 1)
		log_warnx("%s: %d sockets passed, using the first", __func__, n);
	if (sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) <= 0) {
		log_warnx("%s: passed fd is not a listening Unix stream socket",
		    __func__);
		return -1;
	}
	return SD_LISTEN_FDS_START;
}
