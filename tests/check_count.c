/*
 * check_count.c: the charcount and squares kernels against simple,
 * obviously correct reference implementations, for both kernels (each
 * test runs once per kernel, by _i), on whole buffers and on files split
 * into ranges at many cut sets and merged.
 */

#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"

static const char *const kernels[] = { "swar", "avx2" };
#define NKERNELS	((int)nitems(kernels))

static size_t	 default_window;

/* Undo what a test changed, in case tests do not fork. */
static void
setup(void)
{
	count_window_bytes = default_window;
	ck_assert_int_eq(count_set_kernel(NULL), 0);
}

/* Select kernel i; avx2 only where the CPU has it (else swar runs). */
static void
use_kernel(int i)
{
	int	 have;

	if (strcmp(kernels[i], "avx2") == 0) {
		__builtin_cpu_init();
		have = __builtin_cpu_supports("avx2");
		ck_assert_int_eq(count_set_kernel("avx2"), have ? 0 : -1);
		if (!have) {
			ck_assert_int_eq(count_set_kernel("swar"), 0);
			return;
		}
	} else
		ck_assert_int_eq(count_set_kernel(kernels[i]), 0);
	ck_assert_str_eq(count_kernel_name(), kernels[i]);
}

/* A small deterministic PRNG (xorshift64*), so failures replay. */
static uint64_t	 rng_state;

static void
rng_seed(uint64_t seed)
{
	const char	*env = getenv("CHECK_COUNT_SEED");

	if (env != NULL)
		seed ^= strtoull(env, NULL, 0);
	rng_state = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
}

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t
rng_below(size_t n)
{
	return n == 0 ? 0 : (size_t)(rng() % n);
}

/*
 * The reference: one byte at a time, decoding each sequence to its code
 * point and checking RFC 3629's rules on the number itself.
 */
static int
ref_valid(const unsigned char *p, size_t n)
{
	size_t		 i = 0, len, k;
	uint32_t	 cp, min;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] < 0xc0)
			return 0;		/* stray continuation */
		if (p[i] < 0xe0) {
			len = 2;
			cp = p[i] & 0x1f;
			min = 0x80;
		} else if (p[i] < 0xf0) {
			len = 3;
			cp = p[i] & 0x0f;
			min = 0x800;
		} else if (p[i] < 0xf8) {
			len = 4;
			cp = p[i] & 0x07;
			min = 0x10000;
		} else
			return 0;		/* 5/6-byte forms, FE, FF */
		if (n - i < len)
			return 0;		/* truncated */
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min)
			return 0;		/* overlong */
		if (cp >= 0xd800 && cp <= 0xdfff)
			return 0;		/* surrogate */
		if (cp > 0x10ffff)
			return 0;
		i += len;
	}
	return 1;
}

static void
ref_count(const unsigned char *p, size_t n, struct count_result *r)
{
	size_t	 i;

	memset(r, 0, sizeof *r);
	r->bytes = n;
	for (i = 0; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			r->chars++;
		if (p[i] == '\n')
			r->lines++;
	}
	r->valid = ref_valid(p, n);
}

/* Append the UTF-8 encoding of cp (any value < 2^21, even invalid ones). */
static size_t
encode(uint32_t cp, unsigned char *out)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | (cp >> 6));
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | (cp >> 12));
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | (cp >> 18));
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A random valid code point, mixing 1-4 byte forms and their edges. */
static uint32_t
random_cp(void)
{
	static const uint32_t	 edges[] = {
		0x00, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd,
		0xffff, 0x10000, 0x10ffff, 0xfeff, '\n', 0xa0, 0x2028
	};
	uint32_t		 cp;

	switch (rng_below(20)) {
	case 0: case 1: case 2: case 3: case 4: case 5: case 6:
		return (uint32_t)(0x20 + rng_below(0x5f));
	case 7:
		return '\n';
	case 8: case 9: case 10:
		return (uint32_t)(0x80 + rng_below(0x800 - 0x80));
	case 11: case 12: case 13:
		do {
			cp = (uint32_t)(0x800 + rng_below(0x10000 - 0x800));
		} while (cp >= 0xd800 && cp <= 0xdfff);
		return cp;
	case 14: case 15: case 16:
		return (uint32_t)(0x10000 + rng_below(0x110000 - 0x10000));
	default:
		return edges[rng_below(nitems(edges))];
	}
}

/* Fill exactly n bytes of random valid UTF-8. */
static void
random_valid(unsigned char *p, size_t n)
{
	unsigned char	 tmp[4];
	size_t		 i = 0, len;

	while (i < n) {
		len = encode(random_cp(), tmp);
		if (len > n - i) {
			p[i++] = 'x';
			continue;
		}
		memcpy(p + i, tmp, len);
		i += len;
	}
}

/* An unlinked temporary file holding p[0..n). */
static int
temp_file(const unsigned char *p, size_t n)
{
	char		 path[4096];
	const char	*dir = getenv("TMPDIR");
	ssize_t		 w;
	size_t		 done = 0;
	int		 fd;

	snprintf(path, sizeof path, "%s/check_count.XXXXXX",
	    dir != NULL ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	while (done < n) {
		w = write(fd, p + done, n - done);
		ck_assert_msg(w > 0, "write: %s", strerror(errno));
		done += (size_t)w;
	}
	return fd;
}

static int
cmp_size(const void *a, const void *b)
{
	size_t	 x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Merge results[lo..hi) in a random grouping, to exercise associativity. */
static void
merge_tree(const struct count_result *rr, size_t lo, size_t hi,
    struct count_result *out)
{
	struct count_result	 right;
	size_t			 mid;

	if (hi - lo == 1) {
		*out = rr[lo];
		return;
	}
	mid = lo + 1 + rng_below(hi - lo - 1);
	merge_tree(rr, lo, mid, out);
	merge_tree(rr, mid, hi, &right);
	count_merge(out, &right);
}

static void
describe_cuts(char *buf, size_t size, const size_t *cuts, size_t ncuts)
{
	size_t	 i, used = 0;
	int	 w;

	buf[0] = '\0';
	for (i = 0; i < ncuts && used + 24 < size; i++) {
		w = snprintf(buf + used, size - used, "%s%zu", i ? "," : "",
		    cuts[i]);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/*
 * Count the file fd (the n bytes of p) as ranges cut at cuts (sorted in
 * place; duplicates give empty ranges) and check, against the reference:
 * each range's counts, its lead_skip/tail_extra where the file is valid,
 * and the merged answer, merged left to right and in a random grouping.
 */
static void
check_split(int fd, const unsigned char *p, size_t n, size_t *cuts,
    size_t ncuts, const char *what)
{
	struct count_result	*rr, ref, sub, acc, tree;
	char			 desc[512];
	size_t			 i, a, b, m = ncuts + 1, lead, next;

	qsort(cuts, ncuts, sizeof *cuts, cmp_size);
	describe_cuts(desc, sizeof desc, cuts, ncuts);
	ref_count(p, n, &ref);
	rr = calloc(m, sizeof *rr);
	ck_assert_ptr_nonnull(rr);
	memset(&acc, 0, sizeof acc);	/* a zeroed acc is empty */

	for (i = 0, a = 0; i < m; i++, a = b) {
		b = i < ncuts ? cuts[i] : n;
		ck_assert_msg(count_range(fd, a, b - a, n, &rr[i]) == 0,
		    "%s: count_range %zu+%zu failed", what, a, b - a);
		ref_count(p + a, b - a, &sub);
		ck_assert_msg(rr[i].bytes == sub.bytes &&
		    rr[i].chars == sub.chars && rr[i].lines == sub.lines,
		    "%s: range [%zu,%zu) counts %llu/%llu/%llu, want "
		    "%llu/%llu/%llu (cuts %s)", what, a, b,
		    (unsigned long long)rr[i].bytes,
		    (unsigned long long)rr[i].chars,
		    (unsigned long long)rr[i].lines,
		    (unsigned long long)sub.bytes,
		    (unsigned long long)sub.chars,
		    (unsigned long long)sub.lines, desc);
		ck_assert_msg(rr[i].lead_skip <= 3 && rr[i].tail_extra <= 3,
		    "%s: range [%zu,%zu) lead_skip %u tail_extra %u", what,
		    a, b, rr[i].lead_skip, rr[i].tail_extra);
		if (ref.valid) {
			/* Sequence boundaries are where the bytes say. */
			for (lead = 0; a != 0 && a + lead < b &&
			    (p[a + lead] & 0xc0) == 0x80; lead++)
				;
			for (next = b; next < n && (p[next] & 0xc0) == 0x80;
			    next++)
				;
			ck_assert_msg(rr[i].valid, "%s: range [%zu,%zu) of a "
			    "valid file is invalid (cuts %s)", what, a, b,
			    desc);
			ck_assert_msg(rr[i].lead_skip == lead,
			    "%s: range [%zu,%zu) lead_skip %u, want %zu "
			    "(cuts %s)", what, a, b, rr[i].lead_skip, lead,
			    desc);
			ck_assert_msg(rr[i].tail_extra ==
			    (lead == b - a ? 0 : next - b),
			    "%s: range [%zu,%zu) tail_extra %u, want %zu "
			    "(cuts %s)", what, a, b, rr[i].tail_extra,
			    lead == b - a ? 0 : next - b, desc);
		}
		count_merge(&acc, &rr[i]);
	}
	merge_tree(rr, 0, m, &tree);
	free(rr);

	ck_assert_msg(acc.bytes == ref.bytes && acc.chars == ref.chars &&
	    acc.lines == ref.lines && acc.valid == ref.valid,
	    "%s: merged %llu/%llu/%llu valid %d, want %llu/%llu/%llu valid %d "
	    "(n %zu, cuts %s)", what,
	    (unsigned long long)acc.bytes, (unsigned long long)acc.chars,
	    (unsigned long long)acc.lines, acc.valid,
	    (unsigned long long)ref.bytes, (unsigned long long)ref.chars,
	    (unsigned long long)ref.lines, ref.valid, n, desc);
	ck_assert_msg(acc.lead_skip == 0 && acc.tail_extra == 0,
	    "%s: merged lead_skip %u tail_extra %u (cuts %s)", what,
	    acc.lead_skip, acc.tail_extra, desc);
	ck_assert_msg(tree.bytes == ref.bytes && tree.chars == ref.chars &&
	    tree.lines == ref.lines && tree.valid == ref.valid &&
	    tree.lead_skip == 0 && tree.tail_extra == 0,
	    "%s: tree-merged valid %d lead %u tail %u, want valid %d (cuts %s)",
	    what, tree.valid, tree.lead_skip, tree.tail_extra, ref.valid,
	    desc);
}

/* count_buffer against the reference. */
static void
check_buffer(const unsigned char *p, size_t n, const char *what)
{
	struct count_result	 r, ref;

	count_buffer(p, n, &r);
	ref_count(p, n, &ref);
	ck_assert_msg(r.bytes == ref.bytes && r.chars == ref.chars &&
	    r.lines == ref.lines && r.valid == ref.valid,
	    "%s: count_buffer(n=%zu) %llu/%llu/%llu valid %d, want "
	    "%llu/%llu/%llu valid %d", what, n,
	    (unsigned long long)r.bytes, (unsigned long long)r.chars,
	    (unsigned long long)r.lines, r.valid,
	    (unsigned long long)ref.bytes, (unsigned long long)ref.chars,
	    (unsigned long long)ref.lines, ref.valid);
	ck_assert_uint_eq(r.lead_skip, 0);
	ck_assert_uint_eq(r.tail_extra, 0);
}

/* Every way to cut p[0..n) into ranges (n small). */
static void
check_all_splits(const unsigned char *p, size_t n, const char *what)
{
	size_t		 cuts[16], ncuts, i;
	unsigned long	 mask;
	int		 fd;

	ck_assert_uint_le(n, 16);
	fd = temp_file(p, n);
	for (mask = 0; n > 0 && mask < 1UL << (n - 1); mask++) {
		for (i = 0, ncuts = 0; i + 1 < n; i++) {
			if (mask & (1UL << i))
				cuts[ncuts++] = i + 1;
		}
		check_split(fd, p, n, cuts, ncuts, what);
	}
	close(fd);
}

/* Random cut sets, half of them inside multi-byte sequences. */
static void
check_random_splits(const unsigned char *p, size_t n, int sets,
    size_t maxcuts, const char *what)
{
	size_t	*cuts, ncuts, i, c;
	int	 fd, s;

	fd = temp_file(p, n);
	cuts = calloc(maxcuts + 1, sizeof *cuts);
	ck_assert_ptr_nonnull(cuts);
	for (s = 0; s < sets; s++) {
		ncuts = 1 + rng_below(maxcuts);
		for (i = 0; i < ncuts; i++) {
			c = rng_below(n + 1);
			if (rng_below(2)) {
				/* Move the cut just after a lead byte. */
				while (c < n && p[c] < 0xc0)
					c++;
				if (c < n)
					c += 1 + rng_below(3);
				if (c > n)
					c = n;
			}
			cuts[i] = c;
		}
		check_split(fd, p, n, cuts, ncuts, what);
	}
	free(cuts);
	close(fd);
}

/* Fixed sequences, valid and invalid, and what RFC 3629 says of them. */
static const struct {
	const char	*s;
	int		 valid;
	const char	*what;
} seqs[] = {
	{ "", 1, "empty" },
	{ "a", 1, "ascii" },
	{ "\x7f", 1, "U+7F" },
	{ "\xc2\x80", 1, "U+80" },
	{ "\xdf\xbf", 1, "U+7FF" },
	{ "\xe0\xa0\x80", 1, "U+800" },
	{ "\xe2\x82\xac", 1, "euro" },
	{ "\xed\x9f\xbf", 1, "U+D7FF" },
	{ "\xee\x80\x80", 1, "U+E000" },
	{ "\xef\xbf\xbf", 1, "U+FFFF" },
	{ "\xf0\x90\x80\x80", 1, "U+10000" },
	{ "\xf0\x9f\x98\x80", 1, "emoji" },
	{ "\xf3\xbf\xbf\xbf", 1, "U+FFFFF" },
	{ "\xf4\x8f\xbf\xbf", 1, "U+10FFFF" },
	{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\n", 1, "mixed" },
	/* Overlong forms. */
	{ "\xc0\x80", 0, "overlong NUL" },
	{ "\xc0\xaf", 0, "overlong /" },
	{ "\xc1\xbf", 0, "overlong 2-byte" },
	{ "\xe0\x80\x80", 0, "overlong 3-byte NUL" },
	{ "\xe0\x9f\xbf", 0, "overlong 3-byte max" },
	{ "\xf0\x80\x80\x80", 0, "overlong 4-byte NUL" },
	{ "\xf0\x8f\xbf\xbf", 0, "overlong 4-byte max" },
	/* Surrogates. */
	{ "\xed\xa0\x80", 0, "U+D800" },
	{ "\xed\xaf\xbf", 0, "U+DBFF" },
	{ "\xed\xb0\x80", 0, "U+DC00" },
	{ "\xed\xbf\xbf", 0, "U+DFFF" },
	{ "\xed\xa0\xbd\xed\xb8\x80", 0, "CESU pair" },
	/* Beyond U+10FFFF. */
	{ "\xf4\x90\x80\x80", 0, "U+110000" },
	{ "\xf4\xbf\xbf\xbf", 0, "F4 BF" },
	{ "\xf5\x80\x80\x80", 0, "F5" },
	{ "\xf7\xbf\xbf\xbf", 0, "U+1FFFFF" },
	{ "\xf8\x88\x80\x80\x80", 0, "5-byte" },
	{ "\xfc\x84\x80\x80\x80\x80", 0, "6-byte" },
	{ "\xfe", 0, "FE" },
	{ "\xff", 0, "FF" },
	{ "\xc0", 0, "C0 alone" },
	{ "\xc1", 0, "C1 alone" },
	{ "\xf5", 0, "F5 alone" },
	/* Truncated. */
	{ "\xc3", 0, "2-byte missing 1" },
	{ "\xe2\x82", 0, "3-byte missing 1" },
	{ "\xe2", 0, "3-byte missing 2" },
	{ "\xf0\x9f\x98", 0, "4-byte missing 1" },
	{ "\xf0\x9f", 0, "4-byte missing 2" },
	{ "\xf0", 0, "4-byte missing 3" },
	{ "\xc3" "a", 0, "2-byte cut by ascii" },
	{ "\xe2\x82" "a", 0, "3-byte cut by ascii" },
	{ "\xf0\x9f\x98" "a", 0, "4-byte cut by ascii" },
	{ "\xe2\xc3\xa9", 0, "3-byte cut by lead" },
	{ "\xf0\x9f\xe2\x82\xac", 0, "4-byte cut by lead" },
	/* Stray continuations. */
	{ "\x80", 0, "lone 80" },
	{ "\xbf", 0, "lone BF" },
	{ "a\x80", 0, "ascii 80" },
	{ "\xc3\xa9\xa9", 0, "2-byte + extra" },
	{ "\xe2\x82\xac\x80", 0, "3-byte + extra" },
	{ "\xf0\x9f\x98\x80\x80", 0, "4-byte + 4th continuation" },
	{ "\x80\x80\x80\x80", 0, "four continuations" },
};

START_TEST(test_table)
{
	unsigned char	 buf[256], *s;
	char		 what[128];
	size_t		 n, pre, i;
	int		 fd;

	use_kernel(_i);
	for (i = 0; i < nitems(seqs); i++) {
		s = (unsigned char *)seqs[i].s;
		n = strlen(seqs[i].s);
		ck_assert_msg(ref_valid(s, n) == seqs[i].valid,
		    "reference disagrees on %s", seqs[i].what);
		check_buffer(s, n, seqs[i].what);
		check_all_splits(s, n, seqs[i].what);

		/* "x" + seq + "y", cut every way. */
		buf[0] = 'x';
		memcpy(buf + 1, s, n);
		buf[n + 1] = 'y';
		snprintf(what, sizeof what, "x %s y", seqs[i].what);
		check_all_splits(buf, n + 2, what);

		/* At every offset of the 64-byte blocks, alone and doubled. */
		for (pre = 0; pre < 130; pre++) {
			memset(buf, 'a', pre);
			memcpy(buf + pre, s, n);
			snprintf(what, sizeof what, "%zu + %s", pre,
			    seqs[i].what);
			check_buffer(buf, pre + n, what);
			memcpy(buf + pre + n, s, n);
			memset(buf + pre + 2 * n, '\n', 5);
			check_buffer(buf, pre + 2 * n + 5, what);
			check_buffer(buf, pre + 2 * n, what);
		}

		/* In the middle of a file, whole and cut at random. */
		memset(buf, 'a', sizeof buf);
		memcpy(buf + 100, s, n);
		fd = temp_file(buf, sizeof buf);
		{
			size_t	 cuts[4];
			int	 k;

			for (k = 0; k < 20; k++) {
				cuts[0] = 100 + rng_below(n + 1);
				cuts[1] = 100 + rng_below(n + 1);
				cuts[2] = rng_below(sizeof buf + 1);
				cuts[3] = 99 + rng_below(n + 3);
				check_split(fd, buf, sizeof buf, cuts, 4,
				    seqs[i].what);
			}
		}
		close(fd);
	}
}
END_TEST

/* Every tail length after the 64-byte blocks, and errors in the tail. */
START_TEST(test_tails)
{
	unsigned char	 buf[300];
	size_t		 n, pos;
	int		 fd;
	size_t		 none[1];

	use_kernel(_i);
	rng_seed(1);
	for (n = 0; n <= 260; n++) {
		random_valid(buf, n);
		check_buffer(buf, n, "valid");
		fd = temp_file(buf, n);
		check_split(fd, buf, n, none, 0, "valid whole");
		close(fd);

		if (n == 0)
			continue;
		/* A 4-byte sequence ending exactly at n, then cut short. */
		if (n >= 4) {
			encode(0x1f600, buf + n - 4);
			check_buffer(buf, n, "4-byte at end");
			check_buffer(buf, n - 1, "4-byte cut at end");
			check_buffer(buf, n - 2, "4-byte cut at end");
			check_buffer(buf, n - 3, "4-byte cut at end");
			fd = temp_file(buf, n - 1);
			check_split(fd, buf, n - 1, none, 0, "truncated file");
			close(fd);
		}
		/* A stray byte at the end and at a random place. */
		buf[n - 1] = 0x80;
		check_buffer(buf, n, "stray at end");
		random_valid(buf, n);
		pos = rng_below(n);
		buf[pos] = (unsigned char)(0x80 + rng_below(0x80));
		check_buffer(buf, n, "random byte");
		/* All continuation bytes, all leads. */
		memset(buf, 0x80, n);
		check_buffer(buf, n, "all 80");
		memset(buf, 0xe2, n);
		check_buffer(buf, n, "all E2");
	}
}
END_TEST

/*
 * Long runs of one byte or pattern: every lane of the SIMD/SWAR byte
 * accumulators counts on every block, so a late spill would overflow.
 */
START_TEST(test_runs)
{
	static const char *const pats[] = {
		"a", "\n", "\x80", "\xc3", "\xff", "\xc3\xa9",
		"\xe2\x82\xac", "\xf0\x9f\x98\x80", "\n\xc3\xa9", "\x00",
	};
	unsigned char	*buf;
	size_t		 n = 300000 + 61, cuts[3], i, plen;
	size_t		 k;
	int		 fd;

	use_kernel(_i);
	rng_seed(8);
	buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	for (k = 0; k < nitems(pats); k++) {
		plen = strlen(pats[k]);
		if (plen == 0)
			plen = 1;		/* the NUL pattern */
		for (i = 0; i < n; i++)
			buf[i] = (unsigned char)pats[k][i % plen];
		check_buffer(buf, n, pats[k]);
		check_buffer(buf, n - n % plen, pats[k]);
		fd = temp_file(buf, n);
		cuts[0] = rng_below(n);
		cuts[1] = rng_below(n);
		cuts[2] = 127 * 64 + rng_below(8);
		check_split(fd, buf, n, cuts, 3, pats[k]);
		close(fd);
	}
	free(buf);
}
END_TEST

/* Random valid text, with windows small enough to cross many times. */
START_TEST(test_random_valid)
{
	static const size_t	 windows[] = { 128, 192, 4096, 65536 };
	unsigned char		*buf;
	size_t			 n, w;
	int			 round;

	use_kernel(_i);
	rng_seed(2);
	for (round = 0; round < 12; round++) {
		n = round < 4 ? rng_below(300) : 1000 + rng_below(100000);
		buf = malloc(n + 1);
		ck_assert_ptr_nonnull(buf);
		random_valid(buf, n);
		ck_assert(ref_valid(buf, n));
		check_buffer(buf, n, "random valid");
		for (w = 0; w < nitems(windows); w++) {
			count_window_bytes = windows[w];
			check_random_splits(buf, n, 10, 1 + rng_below(40),
			    "random valid");
		}
		free(buf);
	}
}
END_TEST

/* Random bytes: mostly invalid, some with few high bytes. */
START_TEST(test_random_bytes)
{
	unsigned char	*buf;
	size_t		 n, i;
	int		 round, valid = 0;

	use_kernel(_i);
	rng_seed(3);
	count_window_bytes = 256;
	for (round = 0; round < 200; round++) {
		n = rng_below(round < 150 ? 64 : 5000);
		buf = malloc(n + 1);
		ck_assert_ptr_nonnull(buf);
		for (i = 0; i < n; i++) {
			switch (round % 4) {
			case 0:
				buf[i] = (unsigned char)rng();
				break;
			case 1:	/* only high bytes */
				buf[i] = (unsigned char)(0x80 | rng());
				break;
			case 2:	/* leads and continuations of every kind */
				buf[i] = (unsigned char)
				    (rng_below(4) ? 0x80 + rng_below(0x40) :
				    0xc0 + rng_below(0x40));
				break;
			default: /* mostly ASCII */
				buf[i] = (unsigned char)(rng_below(50) ?
				    rng_below(0x80) : 0x80 + rng_below(0x80));
				break;
			}
		}
		valid += ref_valid(buf, n);
		check_buffer(buf, n, "random bytes");
		check_random_splits(buf, n, 8, 1 + rng_below(10),
		    "random bytes");
		free(buf);
	}
	/* Not all of them can be valid, or nothing invalid was tested. */
	ck_assert_int_lt(valid, 100);
}
END_TEST

/*
 * Valid text with one defect planted, cut around it: stray, extra and
 * missing continuations, invalid encodings, a truncated end.
 */
START_TEST(test_adversarial)
{
	static const char *const bad[] = {
		"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x9f\xbf",
		"\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x8f\xbf\xbf",
		"\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
		"\xfe", "\xff", "\xc3", "\xe2\x82", "\xf0\x9f\x98",
	};
	unsigned char	*buf, *mut;
	size_t		 n, m, pos, i, cuts[8], k, blen;
	int		 round, fd, invalid = 0;

	use_kernel(_i);
	rng_seed(4);
	count_window_bytes = 128;
	for (round = 0; round < 300; round++) {
		n = 1 + rng_below(round < 200 ? 200 : 3000);
		buf = malloc(n);
		mut = malloc(n + 8);
		ck_assert_ptr_nonnull(buf);
		ck_assert_ptr_nonnull(mut);
		random_valid(buf, n);
		pos = rng_below(n + 1);
		switch (round % 5) {
		case 0:		/* insert a bad form */
			k = rng_below(nitems(bad));
			blen = strlen(bad[k]);
			memcpy(mut, buf, pos);
			memcpy(mut + pos, bad[k], blen);
			memcpy(mut + pos + blen, buf + pos, n - pos);
			m = n + blen;
			break;
		case 1:		/* a continuation after a whole sequence */
			while (pos < n && buf[pos] < 0xc0)
				pos++;
			if (pos < n)
				pos += buf[pos] >= 0xf0 ? 4 :
				    buf[pos] >= 0xe0 ? 3 : 2;
			memcpy(mut, buf, pos);
			mut[pos] = (unsigned char)(0x80 + rng_below(0x40));
			memcpy(mut + pos + 1, buf + pos, n - pos);
			m = n + 1;
			break;
		case 2:		/* drop a continuation */
			while (pos < n && (buf[pos] & 0xc0) != 0x80)
				pos++;
			memcpy(mut, buf, n);
			m = n;
			if (pos < n) {
				memmove(mut + pos, mut + pos + 1, n - pos - 1);
				m = n - 1;
			}
			break;
		case 3:		/* overwrite one byte */
			memcpy(mut, buf, n);
			m = n;
			if (pos < n)
				mut[pos] = (unsigned char)
				    (0x80 + rng_below(0x80));
			break;
		default:	/* end in the middle of a sequence */
			memcpy(mut, buf, n);
			encode(0x10000 + (uint32_t)rng_below(0x100000),
			    mut + n);
			m = n + 1 + rng_below(3);
			pos = n;
			break;
		}
		invalid += !ref_valid(mut, m);
		check_buffer(mut, m, "adversarial");

		/* Cuts right around the defect, and elsewhere. */
		fd = temp_file(mut, m);
		for (k = 0; k < 10; k++) {
			for (i = 0; i < nitems(cuts); i++) {
				cuts[i] = i < 5 ? pos + rng_below(8) :
				    rng_below(m + 1);
				if (i < 5 && cuts[i] >= 3)
					cuts[i] -= 3;
				if (cuts[i] > m)
					cuts[i] = m;
			}
			check_split(fd, mut, m, cuts,
			    1 + rng_below(nitems(cuts)), "adversarial");
		}
		close(fd);
		free(buf);
		free(mut);
	}
	ck_assert_int_gt(invalid, 200);
}
END_TEST

/* Hand-checked boundary cases, with exact lead_skip/tail_extra. */
START_TEST(test_edges)
{
	struct count_result	 r, acc, a, b;
	const unsigned char	*emoji = (const unsigned char *)
	    "\xf0\x9f\x98\x80";
	unsigned char		 big[300];
	size_t			 cuts[4];
	int			 fd, i;

	use_kernel(_i);

	/* Empty file, empty buffer. */
	fd = temp_file(NULL, 0);
	ck_assert_int_eq(count_range(fd, 0, 0, 0, &r), 0);
	ck_assert(r.bytes == 0 && r.chars == 0 && r.lines == 0 && r.valid);
	close(fd);
	count_buffer(big, 0, &r);
	ck_assert(r.bytes == 0 && r.chars == 0 && r.valid);

	/* A 4-byte sequence as four 1-byte ranges. */
	fd = temp_file(emoji, 4);
	ck_assert_int_eq(count_range(fd, 0, 1, 4, &r), 0);
	ck_assert(r.valid && r.chars == 1 && r.lead_skip == 0 &&
	    r.tail_extra == 3);
	acc = r;
	for (i = 1; i < 4; i++) {
		ck_assert_int_eq(count_range(fd, (uint64_t)i, 1, 4, &r), 0);
		ck_assert(r.valid && r.chars == 0 && r.lead_skip == 1 &&
		    r.tail_extra == 0);
		count_merge(&acc, &r);
		ck_assert_uint_eq(acc.tail_extra, (unsigned int)(3 - i));
	}
	ck_assert(acc.valid && acc.bytes == 4 && acc.chars == 1);
	/* The middle two merged first: still owed, passed on. */
	ck_assert_int_eq(count_range(fd, 1, 1, 4, &a), 0);
	ck_assert_int_eq(count_range(fd, 2, 2, 4, &b), 0);
	ck_assert(b.lead_skip == 2 && b.tail_extra == 0);
	count_merge(&a, &b);
	ck_assert(a.valid && a.lead_skip == 3 && a.bytes == 3);
	ck_assert_int_eq(count_range(fd, 0, 1, 4, &acc), 0);
	count_merge(&acc, &a);
	ck_assert(acc.valid && acc.lead_skip == 0 && acc.tail_extra == 0);
	/* A first range never skips: leading continuations are errors. */
	ck_assert_int_eq(count_range(fd, 1, 3, 4, &r), 0);
	ck_assert(r.valid && r.lead_skip == 3);
	close(fd);
	fd = temp_file(emoji + 1, 3);
	ck_assert_int_eq(count_range(fd, 0, 3, 3, &r), 0);
	ck_assert(!r.valid && r.lead_skip == 0);
	close(fd);

	/* A sequence cut at end of file: only 1 of the 2 bytes exists. */
	fd = temp_file((const unsigned char *)"a\xe2\x82", 3);
	ck_assert_int_eq(count_range(fd, 0, 2, 3, &a), 0);
	ck_assert(!a.valid && a.tail_extra == 1);
	ck_assert_int_eq(count_range(fd, 2, 1, 3, &b), 0);
	ck_assert(b.valid && b.lead_skip == 1);
	count_merge(&a, &b);
	ck_assert(!a.valid);
	close(fd);

	/* Stray continuation right at a boundary; the same byte owed. */
	fd = temp_file((const unsigned char *)"ab\x80" "cd", 5);
	cuts[0] = 2;
	check_split(fd, (const unsigned char *)"ab\x80" "cd", 5, cuts, 1,
	    "stray at cut");
	ck_assert_int_eq(count_range(fd, 2, 3, 5, &r), 0);
	ck_assert(r.valid && r.lead_skip == 1);	/* only the merge can tell */
	close(fd);

	/* A 4th continuation: the skip stops at 3, the 4th is an error. */
	memcpy(big, "\xf0\x9f\x98\x80\x80z", 6);
	fd = temp_file(big, 6);
	ck_assert_int_eq(count_range(fd, 1, 5, 6, &r), 0);
	ck_assert(!r.valid && r.lead_skip == 3);
	ck_assert_int_eq(count_range(fd, 0, 1, 6, &a), 0);
	ck_assert_int_eq(count_range(fd, 1, 3, 6, &b), 0);
	ck_assert(b.valid && b.lead_skip == 3);
	count_merge(&a, &b);
	ck_assert(a.valid && a.tail_extra == 0);
	ck_assert_int_eq(count_range(fd, 4, 2, 6, &b), 0);
	ck_assert(b.valid && b.lead_skip == 1);
	count_merge(&a, &b);
	ck_assert(!a.valid);
	/* Four owed continuations can never be valid, whatever came before. */
	ck_assert_int_eq(count_range(fd, 1, 1, 6, &a), 0);
	ck_assert_int_eq(count_range(fd, 2, 3, 6, &b), 0);
	ck_assert(a.valid && b.valid && b.lead_skip == 3);
	count_merge(&a, &b);
	ck_assert(!a.valid);
	close(fd);

	/* Empty ranges anywhere are neutral; a zeroed acc is empty. */
	random_valid(big, sizeof big);
	fd = temp_file(big, sizeof big);
	cuts[0] = cuts[1] = 150;
	cuts[2] = 0;
	cuts[3] = sizeof big;
	check_split(fd, big, sizeof big, cuts, 4, "empty ranges");
	memset(&acc, 0, sizeof acc);
	ck_assert_int_eq(count_range(fd, 150, 0, sizeof big, &r), 0);
	ck_assert(r.valid && r.bytes == 0);
	count_merge(&acc, &r);
	ck_assert_int_eq(count_range(fd, 0, sizeof big, sizeof big, &r), 0);
	count_merge(&acc, &r);
	ck_assert(acc.valid && acc.bytes == sizeof big);

	/* Errors: outside the file, a file shorter than said, a bad fd. */
	errno = 0;
	ck_assert_int_eq(count_range(fd, 10, sizeof big, sizeof big, &r), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(count_range(fd, sizeof big + 1, 0, sizeof big, &r),
	    -1);
	ck_assert_int_eq(count_range(fd, 0, sizeof big + 10,
	    sizeof big + 10, &r), -1);
	ck_assert_int_eq(errno, EIO);
	close(fd);
	ck_assert_int_eq(count_range(fd, 0, 10, 10, &r), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

/* Bigger than the default window, cut near window boundaries. */
START_TEST(test_big)
{
	unsigned char	*buf;
	size_t		 n = (3 << 20) + 17, cuts[12], i, w;
	int		 fd, k;

	use_kernel(_i);
	rng_seed(5);
	buf = malloc(n);
	ck_assert_ptr_nonnull(buf);
	random_valid(buf, n);
	check_buffer(buf, n, "big");
	fd = temp_file(buf, n);
	w = count_window_bytes;
	for (k = 0; k < 6; k++) {
		for (i = 0; i < nitems(cuts); i++)
		{
			cuts[i] = i < 6 ? (1 + rng_below(3)) * w - 70 +
			    rng_below(140) : rng_below(n + 1);
			if (cuts[i] > n)
				cuts[i] = n;
		}
		check_split(fd, buf, n, cuts, nitems(cuts), "big");
	}
	/* One defect near the end of the second window. */
	buf[2 * w + 5] = 0xff;
	close(fd);
	fd = temp_file(buf, n);
	cuts[0] = w + 3;
	check_split(fd, buf, n, cuts, 1, "big, invalid");
	close(fd);
	free(buf);
}
END_TEST

/* JOBD_COUNT_KERNEL picks the kernel; unknown names fall back. */
START_TEST(test_env)
{
	__builtin_cpu_init();
	setenv("JOBD_COUNT_KERNEL", "swar", 1);
	ck_assert_int_eq(count_set_kernel(NULL), 0);
	ck_assert_str_eq(count_kernel_name(), "swar");
	setenv("JOBD_COUNT_KERNEL", "avx2", 1);
	ck_assert_int_eq(count_set_kernel(NULL), 0);
	ck_assert_str_eq(count_kernel_name(),
	    __builtin_cpu_supports("avx2") ? "avx2" : "swar");
	setenv("JOBD_COUNT_KERNEL", "nonsense", 1);
	ck_assert_int_eq(count_set_kernel(NULL), 0);
	ck_assert_str_eq(count_kernel_name(),
	    __builtin_cpu_supports("avx2") ? "avx2" : "swar");
	ck_assert_int_eq(count_set_kernel("nonsense"), -1);
}
END_TEST

/* Sum of i^2 for 1..n by the closed form (n <= 2^32 fits 128 bits). */
static unsigned __int128
closed(uint64_t n)
{
	unsigned __int128	 m = n;

	return m * (m + 1) * (2 * m + 1) / 6;
}

/* The oracle: by the closed form, folding negatives by hand. */
static unsigned __int128
ref_squares(int64_t from, int64_t to)
{
	if (from > to)
		return 0;
	if (to < 0)
		return ref_squares(-to, -from);
	if (from < 0)
		return closed((uint64_t)-from) + closed((uint64_t)to);
	return closed((uint64_t)to) - (from > 0 ? closed((uint64_t)from - 1) :
	    0);
}

static void
check_squares(int64_t from, int64_t to)
{
	char	 got[U128_DEC_SIZE], want[U128_DEC_SIZE];

	u128_to_dec(squares_sum(from, to), got, sizeof got);
	u128_to_dec(ref_squares(from, to), want, sizeof want);
	ck_assert_msg(strcmp(got, want) == 0,
	    "squares(%lld, %lld) = %s, want %s", (long long)from,
	    (long long)to, got, want);
}

START_TEST(test_squares)
{
	static const int64_t	 L = SQUARES_LIMIT;
	static const int64_t	 ranges[][2] = {
		{ 0, 0 }, { 1, 1 }, { -1, -1 }, { 0, 10 }, { -10, 10 },
		{ -10, -3 }, { -3, 7 }, { 7, -3 }, { 1, 0 }, { 5, 4 },
		{ 1, 1000 }, { -1000, 999 }, { 1, 1025 }, { 1, 2047 },
		{ L, L }, { -L, -L }, { L - 1, L }, { -L, -L + 1 },
		{ L - 5000, L }, { -L, -L + 5000 }, { -L, -L + 1023 },
		{ L - 1, L - 1 }, { L, L - 1 }, { -L + 1, -L },
		{ 0, 5000000 }, { -3000000, 4000000 },
		{ (INT64_C(1) << 31) - 2000, (INT64_C(1) << 31) + 2000 },
		{ 0, L }, { -L, 0 }, { -L, L },
	};
	char	 want[U128_DEC_SIZE];
	size_t	 i;
	int	 k;
	int64_t	 a, len;

	use_kernel(_i);
	rng_seed(6);
	/* The oracle itself, on the sum everyone knows. */
	u128_to_dec(ref_squares(1, 10), want, sizeof want);
	ck_assert_str_eq(want, "385");
	u128_to_dec(ref_squares(-L, L), want, sizeof want);
	ck_assert_str_eq(want, "52818775027956302470837174272");

	for (i = 0; i < nitems(ranges); i++)
		check_squares(ranges[i][0], ranges[i][1]);
	for (k = 0; k < 300; k++) {
		len = (int64_t)rng_below(k < 200 ? 3000 : 300000);
		a = (int64_t)(rng() % (uint64_t)(2 * L + 1)) - L;
		if (k % 3 == 0)
			a = L - (int64_t)rng_below(5000);
		else if (k % 3 == 1)
			a = -(int64_t)rng_below(2000);
		if (a + len > L)
			len = L - a;
		check_squares(a, a + len);
		check_squares(-a - len, -a);
	}
}
END_TEST

/* Parse a decimal string into 128 bits (for the round trip). */
static unsigned __int128
dec_to_u128(const char *s)
{
	unsigned __int128	 v = 0;

	for (; *s != '\0'; s++)
		v = v * 10 + (unsigned __int128)(*s - '0');
	return v;
}

START_TEST(test_u128)
{
	static const struct {
		unsigned __int128	 v;
		const char		*s;
	} known[] = {
		{ 0, "0" },
		{ 1, "1" },
		{ 9, "9" },
		{ 10, "10" },
		{ UINT64_MAX, "18446744073709551615" },
		{ (unsigned __int128)1 << 64, "18446744073709551616" },
		{ (unsigned __int128)10000000000000000000ULL,
		    "10000000000000000000" },
		{ (unsigned __int128)10000000000000000000ULL * 10,
		    "100000000000000000000" },
		{ (unsigned __int128)1 << 127,
		    "170141183460469231731687303715884105728" },
		{ ~(unsigned __int128)0,
		    "340282366920938463463374607431768211455" },
	};
	char			 buf[U128_DEC_SIZE];
	unsigned __int128	 v;
	size_t			 i;
	int			 k;

	for (i = 0; i < nitems(known); i++) {
		memset(buf, 'x', sizeof buf);
		u128_to_dec(known[i].v, buf, sizeof buf);
		ck_assert_str_eq(buf, known[i].s);
	}
	/* Truncation is like snprintf's. */
	u128_to_dec((unsigned __int128)1 << 64, buf, 5);
	ck_assert_str_eq(buf, "1844");
	u128_to_dec(12345, buf, 1);
	ck_assert_str_eq(buf, "");
	rng_seed(7);
	for (k = 0; k < 10000; k++) {
		v = ((unsigned __int128)rng() << 64 | rng()) >> rng_below(128);
		u128_to_dec(v, buf, sizeof buf);
		ck_assert_msg(dec_to_u128(buf) == v, "round trip of %s", buf);
		ck_assert(buf[0] != '0' || buf[1] == '\0');
	}
}
END_TEST

static Suite *
count_suite(void)
{
	Suite	*s = suite_create("count");
	TCase	*tc;

	tc = tcase_create("charcount");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_table, 0, NKERNELS);
	tcase_add_loop_test(tc, test_tails, 0, NKERNELS);
	tcase_add_loop_test(tc, test_runs, 0, NKERNELS);
	tcase_add_loop_test(tc, test_random_valid, 0, NKERNELS);
	tcase_add_loop_test(tc, test_random_bytes, 0, NKERNELS);
	tcase_add_loop_test(tc, test_adversarial, 0, NKERNELS);
	tcase_add_loop_test(tc, test_edges, 0, NKERNELS);
	tcase_add_loop_test(tc, test_big, 0, NKERNELS);
	tcase_add_test(tc, test_env);
	suite_add_tcase(s, tc);

	tc = tcase_create("squares");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 600);
	tcase_add_loop_test(tc, test_squares, 0, NKERNELS);
	tcase_add_test(tc, test_u128);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	default_window = count_window_bytes;
	sr = srunner_create(count_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
