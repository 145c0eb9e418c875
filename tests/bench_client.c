/*
 * The C side of scripts/bench: a pipelining JSON-RPC client for jobd, and
 * the two C baselines (a plain single-process mmap read of a file, the
 * memory limit of charcount; a single-threaded loop summing squares).
 * Each mode prints one line of "key=value" fields, the first being
 * elapsed=SECONDS, measured inside the program so that process start-up
 * is not counted (the Python baselines time themselves the same way).
 *
 *   bench_client rpc [-p] SOCKET FILE [WINDOW]
 *	Sends every line of FILE (JSON-RPC requests, each with an id) on
 *	one connection, keeping at most WINDOW requests unanswered (0, the
 *	default: no limit), and waits for as many response lines. The
 *	timer runs from connect to the last response byte; the responses
 *	are checked afterwards: rpc_errors counts JSON-RPC errors, done the
 *	"state":"done" job records (a job.map response holds many). -p
 *	prints the responses too, after that line.
 *   bench_client mmapread FILE
 *	Maps FILE and reads every 64-bit word of it once.
 *   bench_client squares FROM TO
 *	Sums i*i for FROM <= i <= TO (0 <= FROM <= TO <= 2^32) in one loop.
 *
 * Not a test: it is built only for `make bench`.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Print a message with errno's and exit. */
static void __attribute__((noreturn, format(printf, 1, 2)))
bench_die(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	fputs("bench_client: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (saved != 0)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	exit(1);
}

/* Monotonic time in seconds. */
static double
bench_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) this process has used. */
static double
bench_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Read a whole file into memory. */
static char *
bench_slurp(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		bench_die("open %s", path);
	if (fstat(fd, &st) == -1)
		bench_die("fstat %s", path);
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		bench_die("malloc");
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			bench_die("read %s", path);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Count the occurrences of a string in a buffer. */
static size_t
bench_occurrences(const char *buf, size_t len, const char *what)
{
	size_t		 n = 0, wlen = strlen(what);
	const char	*p = buf, *end = buf + len, *q;

	while ((q = memmem(p, (size_t)(end - p), what, wlen)) != NULL) {
		n++;
		p = q + wlen;
	}
	return n;
}

/* Send every request of a file, pipelined, and wait for the answers. */
static int
bench_rpc(const char *sockpath, const char *file, size_t window, int print)
{
	struct sockaddr_un	 sun;
	struct pollfd		 pfd;
	char			*req, *in = NULL, *nl;
	size_t			 reqlen, off = 0, nreq = 0, sent = 0, got = 0;
	size_t			 inlen = 0, insize = 0, chunk, i, j;
	ssize_t			 n;
	double			 t0, t1, cpu0, cpu;
	int			 fd;

	req = bench_slurp(file, &reqlen);
	for (i = 0; i < reqlen; i++)
		if (req[i] == '\n')
			nreq++;
	if (nreq == 0 || req[reqlen - 1] != '\n')
		bench_die("%s: no requests, or no newline at its end", file);
	if (window == 0)
		window = nreq;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(sockpath) >= sizeof sun.sun_path)
		bench_die("socket path too long");
	strcpy(sun.sun_path, sockpath);

	cpu0 = bench_cpu();
	t0 = bench_now();
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		bench_die("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		bench_die("connect %s", sockpath);

	while (got < nreq) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (off < reqlen && sent - got < window)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, 120 * 1000) <= 0)
			bench_die("poll (timeout or error) with %zu of %zu "
			    "answers", got, nreq);

		if (pfd.revents & POLLOUT) {
			/* Up to the window, in writes of at most 256 KiB. */
			chunk = 0;
			for (i = off, j = sent; i < reqlen && j < got + window &&
			    chunk < 256 * 1024; i = (size_t)(nl - req) + 1) {
				nl = memchr(req + i, '\n', reqlen - i);
				chunk = (size_t)(nl - req) + 1 - off;
				j++;
			}
			n = write(fd, req + off, chunk);
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				bench_die("write");
			/* Count the requests now written whole. */
			if (n > 0) {
				for (nl = req + off; (nl = memchr(nl, '\n',
				    (size_t)(req + off + n - nl))) != NULL; nl++)
					sent++;
				off += (size_t)n;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			if (insize - inlen < 1024 * 1024) {
				insize = insize == 0 ? 4 << 20 : insize * 2;
				if ((in = realloc(in, insize)) == NULL)
					bench_die("realloc");
			}
			n = read(fd, in + inlen, insize - inlen);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (n == -1)
				bench_die("read");
			if (n == 0)
				bench_die("the daemon closed the connection "
				    "after %zu of %zu answers", got, nreq);
			for (nl = in + inlen; (nl = memchr(nl, '\n',
			    (size_t)(in + inlen + n - nl))) != NULL; nl++)
				got++;
			inlen += (size_t)n;
		}
	}
	t1 = bench_now();
	cpu = bench_cpu() - cpu0;
	close(fd);

	printf("elapsed=%.6f requests=%zu responses=%zu rpc_errors=%zu "
	    "done=%zu bytes_in=%zu client_cpu=%.3f\n", t1 - t0, nreq, got,
	    bench_occurrences(in, inlen, "\"error\":{\"code\":-3"),
	    bench_occurrences(in, inlen, "\"state\":\"done\""), inlen, cpu);
	if (bench_occurrences(in, inlen, "\"error\":{\"code\":-3") != 0) {
		nl = memmem(in, inlen, "\"error\":{\"code\":-3", 18);
		fprintf(stderr, "bench_client: first error: %.300s\n", nl);
	}
	if (print)
		fwrite(in, 1, inlen, stdout);
	free(in);
	free(req);
	return 0;
}

/* Read every word of a file through a private mapping. */
static int
bench_mmapread(const char *path)
{
	struct stat		 st;
	const uint64_t		*w;
	const unsigned char	*tail;
	uint64_t		 a0 = 0, a1 = 0, a2 = 0, a3 = 0;
	size_t			 words, i;
	double			 t0, t1;
	void			*map;
	int			 fd;

	t0 = bench_now();
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		bench_die("open %s", path);
	if (fstat(fd, &st) == -1)
		bench_die("fstat %s", path);
	if (st.st_size == 0)
		bench_die("%s is empty", path);
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		bench_die("mmap %s", path);
	madvise(map, (size_t)st.st_size, MADV_SEQUENTIAL);
	w = map;
	words = (size_t)st.st_size / 8;
	/* Four independent sums, which gcc vectorises. */
	for (i = 0; i + 4 <= words; i += 4) {
		a0 += w[i];
		a1 += w[i + 1];
		a2 += w[i + 2];
		a3 += w[i + 3];
	}
	for (; i < words; i++)
		a0 += w[i];
	tail = (const unsigned char *)map + words * 8;
	for (i = 0; i < (size_t)st.st_size % 8; i++)
		a0 += tail[i];
	munmap(map, (size_t)st.st_size);
	close(fd);
	t1 = bench_now();
	printf("elapsed=%.6f bytes=%jd gbps=%.2f sum=%" PRIx64 "\n", t1 - t0,
	    (intmax_t)st.st_size, (double)st.st_size / (t1 - t0) / 1e9,
	    a0 + a1 + a2 + a3);
	return 0;
}

/* Print an unsigned 128-bit integer in decimal. */
static void
bench_print_u128(unsigned __int128 v)
{
	char	 buf[48], *p = buf + sizeof buf - 1;

	*p = '\0';
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	fputs(p, stdout);
}

/* Sum the squares of a range in one plain loop. */
static int
bench_squares(const char *from, const char *to)
{
	unsigned __int128	 sum = 0;
	uint64_t		 a, b, i;
	double			 t0, t1;
	char			*end;

	errno = 0;
	a = strtoull(from, &end, 10);
	if (errno != 0 || *end != '\0')
		bench_die("bad FROM %s", from);
	b = strtoull(to, &end, 10);
	if (errno != 0 || *end != '\0' || b < a || b > (1ULL << 32))
		bench_die("bad TO %s", to);
	t0 = bench_now();
	for (i = a; i <= b; i++)
		sum += (unsigned __int128)i * i;
	t1 = bench_now();
	printf("elapsed=%.6f count=%" PRIu64 " sum=", t1 - t0, b - a + 1);
	bench_print_u128(sum);
	putchar('\n');
	return 0;
}

int
main(int argc, char **argv)
{
	int	 print = 0;

	if (argc >= 3 && strcmp(argv[1], "rpc") == 0 &&
	    strcmp(argv[2], "-p") == 0) {
		print = 1;
		argv[2] = argv[1];	/* drop the -p */
		argv++;
		argc--;
	}
	if (argc >= 4 && argc <= 5 && strcmp(argv[1], "rpc") == 0)
		return bench_rpc(argv[2], argv[3],
		    argc == 5 ? strtoul(argv[4], NULL, 10) : 0, print);
	if (argc == 3 && strcmp(argv[1], "mmapread") == 0)
		return bench_mmapread(argv[2]);
	if (argc == 4 && strcmp(argv[1], "squares") == 0)
		return bench_squares(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_client rpc [-p] SOCKET FILE [WINDOW]\n"
	    "       bench_client mmapread FILE\n"
	    "       bench_client squares FROM TO\n");
	return 2;
}
