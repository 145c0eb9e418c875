/*
 * Allocation that never returns NULL: running out of memory is fatal.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"

unsigned long	 xmalloc_fail_after;
static unsigned long xmalloc_count;

/* Abort on failure, or when the test seam says this one fails. */
static void *
xmalloc_check(void *p, size_t size)
{
	if (xmalloc_fail_after != 0 && ++xmalloc_count >= xmalloc_fail_after)
		p = NULL;
	if (p == NULL)
		fatalx("out of memory allocating %zu bytes", size);
	return p;
}

void *
xmalloc(size_t size)
{
	if (size == 0)
		fatalx("%s: zero size", __func__);
	return xmalloc_check(malloc(size), size);
}

void *
xcalloc(size_t nmemb, size_t size)
{
	if (nmemb == 0 || size == 0)
		fatalx("%s: zero size", __func__);
	return xmalloc_check(calloc(nmemb, size), nmemb * size);
}

void *
xreallocarray(void *ptr, size_t nmemb, size_t size)
{
	size_t	 total;

	if (nmemb == 0 || size == 0)
		fatalx("%s: zero size", __func__);
	if (__builtin_mul_overflow(nmemb, size, &total))
		fatalx("%s: %zu * %zu overflows", __func__, nmemb, size);
	return xmalloc_check(realloc(ptr, total), total);
}

char *
xstrdup(const char *s)
{
	return xmalloc_check(strdup(s), strlen(s) + 1);
}

char *
xstrndup(const char *s, size_t n)
{
	return xmalloc_check(strndup(s, n), n + 1);
}

int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	 n;

	n = vasprintf(ret, fmt, ap);
	if (n == -1)
		fatalx("%s: vasprintf failed", __func__);
	xmalloc_check(*ret, (size_t)n + 1);
	return n;
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return n;
}
