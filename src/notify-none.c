/*
 * Service manager notification when built without libsystemd: nothing to
 * tell, no inherited sockets.
 */
#include "config.h"

#include "jobd.h"

void
notify_ready(void)
{
}

void
notify_reloading(void)
{
}

void
notify_stopping(void)
{
}

void
notify_status(const char *fmt, ...)
{
}

int
notify_watchdog_usec(uint64_t *usec)
{
	return 0;
}

void
notify_watchdog(void)
{
}

int
notify_listen_fd(void)
{
	return -1;
}
