/*
 * count.c: the CPU kernels. charcount counts bytes, UTF-8 code points and
 * newlines and validates UTF-8 (RFC 3629) over byte ranges of a file that
 * are merged afterwards; squares sums i*i over a range of integers.
 *
 * Two implementations of the byte kernel give identical answers: AVX2
 * (counting with compares and SAD sums, validation with the three nibble
 * lookup tables of Keiser and Lemire) chosen at run time when the CPU has
 * it, and a portable one (64-bit SWAR counting, a shift-DFA validator).
 */

#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __x86_64__
#include <immintrin.h>
#define COUNT_HAVE_AVX2	1
#define COUNT_AVX2	__attribute__((target("avx2")))
#else
#define COUNT_HAVE_AVX2	0
#endif

#include "jobd.h"

/* Bytes 0x80..0xBF continue a sequence; the others start one. */
#define COUNT_IS_CONT(b)	(((b) & 0xc0) == 0x80)

/* pread window: big enough to amortise the syscall, small enough for L2. */
size_t	count_window_bytes = 1 << 20;

/*
 * Running state of one range: the counts, and the validator state carried
 * from one window (and one 64-byte block) to the next. Each kernel uses
 * its own part: prev (the last 32 bytes, AVX2) or dfa (SWAR).
 */
struct count_state {
	unsigned char	 prev[32] __attribute__((aligned(32)));
	uint64_t	 chars;
	uint64_t	 lines;
	int		 dfa;
	int		 error;		/* invalid UTF-8 seen */
};

struct count_kernel {
	const char	*name;
	/* Count and validate n bytes, n a multiple of 64. */
	void		 (*feed)(struct count_state *, const unsigned char *,
			     size_t);
	unsigned __int128 (*squares)(uint32_t, uint32_t);
};

/*
 * The validation DFA of the portable kernel. States say what the next
 * byte must be; classes group the bytes that behave alike.
 */
enum {
	DFA_ACCEPT,	/* between sequences */
	DFA_CONT1,	/* one more 80..BF */
	DFA_CONT2,	/* two more 80..BF */
	DFA_CONT3,	/* three more 80..BF */
	DFA_E0,		/* A0..BF, then one more (no overlong 3-byte) */
	DFA_ED,		/* 80..9F, then one more (no surrogates) */
	DFA_F0,		/* 90..BF, then two more (no overlong 4-byte) */
	DFA_F4,		/* 80..8F, then two more (max U+10FFFF) */
	DFA_REJECT,
	DFA_NSTATES
};
enum {
	CL_ASCII, CL_80, CL_90, CL_A0, CL_BAD, CL_L2, CL_E0, CL_L3, CL_ED,
	CL_F0, CL_L4, CL_F4, CL_NCLASSES
};

static const unsigned char count_dfa_class[256] = {
	[0x00 ... 0x7f] = CL_ASCII,
	[0x80 ... 0x8f] = CL_80,
	[0x90 ... 0x9f] = CL_90,
	[0xa0 ... 0xbf] = CL_A0,
	[0xc0 ... 0xc1] = CL_BAD,
	[0xc2 ... 0xdf] = CL_L2,
	[0xe0] = CL_E0,
	[0xe1 ... 0xec] = CL_L3,
	[0xed] = CL_ED,
	[0xee ... 0xef] = CL_L3,
	[0xf0] = CL_F0,
	[0xf1 ... 0xf3] = CL_L4,
	[0xf4] = CL_F4,
	[0xf5 ... 0xff] = CL_BAD,
};

/*
 * The transitions, one 64-bit row per byte class: the next state from
 * state i sits in bits 6i..6i+5, stored as 6 * next so that it is directly
 * the shift that selects the following row. A step is then one shift on
 * the dependency chain: s = row[class[b]] >> (s & 63).
 */
#define DFA_ROW(a, b, c, d, e, f, g, h, i)				\
	((uint64_t)(6 * (a)) | (uint64_t)(6 * (b)) << 6 |		\
	 (uint64_t)(6 * (c)) << 12 | (uint64_t)(6 * (d)) << 18 |	\
	 (uint64_t)(6 * (e)) << 24 | (uint64_t)(6 * (f)) << 30 |	\
	 (uint64_t)(6 * (g)) << 36 | (uint64_t)(6 * (h)) << 42 |	\
	 (uint64_t)(6 * (i)) << 48)
#define A	DFA_ACCEPT
#define C1	DFA_CONT1
#define C2	DFA_CONT2
#define C3	DFA_CONT3
#define R	DFA_REJECT
static const uint64_t count_dfa_row[CL_NCLASSES] = {
	/* from:	     ACCEPT CONT1 CONT2 CONT3 E0  ED  F0  F4  REJECT */
	[CL_ASCII] = DFA_ROW(A,	    R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_80] =    DFA_ROW(R,	    A,	  C1,	C2,   R,  C1, R,  C2, R),
	[CL_90] =    DFA_ROW(R,	    A,	  C1,	C2,   R,  C1, C2, R,  R),
	[CL_A0] =    DFA_ROW(R,	    A,	  C1,	C2,   C1, R,  C2, R,  R),
	[CL_BAD] =   DFA_ROW(R,	    R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_L2] =    DFA_ROW(C1,    R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_E0] =    DFA_ROW(DFA_E0, R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_L3] =    DFA_ROW(C2,    R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_ED] =    DFA_ROW(DFA_ED, R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_F0] =    DFA_ROW(DFA_F0, R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_L4] =    DFA_ROW(C3,    R,	  R,	R,    R,  R,  R,  R,  R),
	[CL_F4] =    DFA_ROW(DFA_F4, R,	  R,	R,    R,  R,  R,  R,  R),
};
#undef A
#undef C1
#undef C2
#undef C3
#undef R

/* Run the DFA over n bytes. */
static int
count_dfa_run(int state, const unsigned char *p, size_t n)
{
	uint64_t	 s = 6 * (uint64_t)state;
	size_t		 i;

	for (i = 0; i < n; i++)
		s = count_dfa_row[count_dfa_class[p[i]]] >> (s & 63);
	return (int)((s & 63) / 6);
}

/* Count chars and newlines of a few bytes the slow way. */
static void
count_scalar(struct count_state *st, const unsigned char *p, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		st->chars += !COUNT_IS_CONT(p[i]);
		st->lines += p[i] == '\n';
	}
}

#define SWAR_ONES	UINT64_C(0x0101010101010101)
#define SWAR_HIGH	UINT64_C(0x8080808080808080)
#define SWAR_LOW7	UINT64_C(0x7f7f7f7f7f7f7f7f)

/* Sum the eight byte lanes of w. */
static uint64_t
count_swar_hsum(uint64_t w)
{
	w = (w & UINT64_C(0x00ff00ff00ff00ff)) +
	    ((w >> 8) & UINT64_C(0x00ff00ff00ff00ff));
	return (w * UINT64_C(0x0001000100010001)) >> 48;
}

/*
 * Portable kernel: counts eight bytes per 64-bit word. A continuation byte
 * has bit 7 set and bit 6 clear; a newline is a zero byte of w ^ 0x0a..0a,
 * found exactly (no false positives from borrows) by the 7-bit add trick.
 * Per-lane 0/1 flags are summed in byte lanes, one accumulator per word of
 * the block (so the compiler can keep them in vector registers), spilled
 * before any lane can reach 256. Validation runs the DFA only on blocks
 * that are not pure ASCII following a complete sequence.
 */
static void
count_swar_feed(struct count_state *st, const unsigned char *p, size_t n)
{
	uint64_t	 conts = 0, nls = 0, w, t, any;
	uint64_t	 acc_c[8], acc_n[8];
	size_t		 i, j, blocks = 0;
	int		 dfa = st->dfa;

	memset(acc_c, 0, sizeof acc_c);
	memset(acc_n, 0, sizeof acc_n);
	for (i = 0; i < n; i += 64) {
		any = 0;
		for (j = 0; j < 8; j++) {
			memcpy(&w, p + i + 8 * j, sizeof w);
			any |= w;
			acc_c[j] += ((w & ~(w << 1)) & SWAR_HIGH) >> 7;
			t = w ^ (SWAR_ONES * '\n');
			acc_n[j] += (~(((t & SWAR_LOW7) + SWAR_LOW7) | t) &
			    SWAR_HIGH) >> 7;
		}
		if (dfa != DFA_REJECT &&
		    ((any & SWAR_HIGH) != 0 || dfa != DFA_ACCEPT))
			dfa = count_dfa_run(dfa, p + i, 64);
		/* Each lane gains at most 1 per block. */
		if (++blocks == 255 || i + 64 >= n) {
			for (j = 0; j < 8; j++) {
				conts += count_swar_hsum(acc_c[j]);
				nls += count_swar_hsum(acc_n[j]);
				acc_c[j] = acc_n[j] = 0;
			}
			blocks = 0;
		}
	}
	st->chars += n - conts;
	st->lines += nls;
	st->dfa = dfa;
	if (dfa == DFA_REJECT)
		st->error = 1;
}

/*
 * Squares of a + k for 0 <= k < n (a + n - 1 < 2^32): each square fits in
 * 64 bits, so its two 32-bit halves are summed separately (no carries for
 * up to 2^32 terms) and folded into 128 bits at the end. The inner loop
 * has a fixed trip count so gcc -O2 vectorises it (pmuludq).
 */
static inline __attribute__((always_inline)) unsigned __int128
count_squares_body(uint32_t a, uint32_t n)
{
	uint64_t	 lo = 0, hi = 0, s;
	uint32_t	 k, j, base, x;

	for (k = 0; n - k >= 1024; k += 1024) {
		base = a + k;
		for (j = 0; j < 1024; j++) {
			x = base + j;
			s = (uint64_t)x * x;
			lo += (uint32_t)s;
			hi += s >> 32;
		}
	}
	for (; k < n; k++) {
		x = a + k;
		s = (uint64_t)x * x;
		lo += (uint32_t)s;
		hi += s >> 32;
	}
	return ((unsigned __int128)hi << 32) + lo;
}

static unsigned __int128
count_squares_portable(uint32_t a, uint32_t n)
{
	return count_squares_body(a, n);
}

static const struct count_kernel count_kernel_swar = {
	"swar", count_swar_feed, count_squares_portable
};

#if COUNT_HAVE_AVX2
/*
 * Error bits of the lookup validator. Each table maps a nibble to the set
 * of errors that nibble allows; a pair of bytes (prev1, cur) is in error
 * when all three nibbles (prev1 high, prev1 low, cur high) agree on a bit.
 */
#define E_TOO_SHORT	0x01	/* lead followed by ASCII or another lead */
#define E_TOO_LONG	0x02	/* ASCII followed by a continuation */
#define E_OVERLONG_3	0x04	/* E0 80..9F */
#define E_TOO_LARGE	0x08	/* F4 90..BF, F5..FF + continuation */
#define E_SURROGATE	0x10	/* ED A0..BF */
#define E_OVERLONG_2	0x20	/* C0/C1 + continuation */
#define E_TOO_LARGE_1000 0x40	/* F5..FF 80..8F */
#define E_OVERLONG_4	0x40	/* F0 80..8F (told apart by the low nibble) */
#define E_TWO_CONTS	0x80	/* continuation after continuation */
#define E_CARRY		(E_TOO_SHORT | E_TOO_LONG | E_TWO_CONTS)

#define C8(x)	((char)(unsigned char)(x))	/* flag bytes above 0x7f */
#define COUNT_TABLE(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)	\
	_mm256_setr_epi8(C8(a), C8(b), C8(c), C8(d), C8(e), C8(f), C8(g), \
	    C8(h), C8(i), C8(j), C8(k), C8(l), C8(m), C8(n), C8(o), C8(p), \
	    C8(a), C8(b), C8(c), C8(d), C8(e), C8(f), C8(g), C8(h), C8(i), \
	    C8(j), C8(k), C8(l), C8(m), C8(n), C8(o), C8(p))

/* prev shifted into input by k bytes: byte i is the byte k before it. */
#define COUNT_PREV(input, prev, k)					\
	_mm256_alignr_epi8((input),					\
	    _mm256_permute2x128_si256((prev), (input), 0x21), 16 - (k))

/* Errors of the 32 bytes in input, given the 32 before them. */
COUNT_AVX2 static inline __m256i
count_avx2_check(__m256i input, __m256i prev)
{
	const __m256i	 t1 = COUNT_TABLE(
	    /* 0_______ */
	    E_TOO_LONG, E_TOO_LONG, E_TOO_LONG, E_TOO_LONG,
	    E_TOO_LONG, E_TOO_LONG, E_TOO_LONG, E_TOO_LONG,
	    /* 10______ */
	    E_TWO_CONTS, E_TWO_CONTS, E_TWO_CONTS, E_TWO_CONTS,
	    /* 1100 */
	    E_TOO_SHORT | E_OVERLONG_2,
	    /* 1101 */
	    E_TOO_SHORT,
	    /* 1110 */
	    E_TOO_SHORT | E_OVERLONG_3 | E_SURROGATE,
	    /* 1111 */
	    E_TOO_SHORT | E_TOO_LARGE | E_TOO_LARGE_1000 | E_OVERLONG_4);
	const __m256i	 t2 = COUNT_TABLE(
	    /* ____0000 */
	    E_CARRY | E_OVERLONG_3 | E_OVERLONG_2 | E_OVERLONG_4,
	    /* ____0001 */
	    E_CARRY | E_OVERLONG_2,
	    /* ____001_ */
	    E_CARRY, E_CARRY,
	    /* ____0100 */
	    E_CARRY | E_TOO_LARGE,
	    /* ____0101 .. ____1100 */
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    /* ____1101 */
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000 | E_SURROGATE,
	    /* ____111_ */
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000,
	    E_CARRY | E_TOO_LARGE | E_TOO_LARGE_1000);
	const __m256i	 t3 = COUNT_TABLE(
	    /* 0_______ */
	    E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT,
	    E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT,
	    /* 1000____ */
	    E_TOO_LONG | E_OVERLONG_2 | E_TWO_CONTS | E_OVERLONG_3 |
	    E_TOO_LARGE_1000 | E_OVERLONG_4,
	    /* 1001____ */
	    E_TOO_LONG | E_OVERLONG_2 | E_TWO_CONTS | E_OVERLONG_3 |
	    E_TOO_LARGE,
	    /* 101_____ */
	    E_TOO_LONG | E_OVERLONG_2 | E_TWO_CONTS | E_SURROGATE |
	    E_TOO_LARGE,
	    E_TOO_LONG | E_OVERLONG_2 | E_TWO_CONTS | E_SURROGATE |
	    E_TOO_LARGE,
	    /* 11______ */
	    E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT, E_TOO_SHORT);
	const __m256i	 low = _mm256_set1_epi8(0x0f);
	__m256i		 prev1, prev2, prev3, sc, must23;

	prev1 = COUNT_PREV(input, prev, 1);
	sc = _mm256_and_si256(
	    _mm256_and_si256(
		_mm256_shuffle_epi8(t1,
		    _mm256_and_si256(_mm256_srli_epi16(prev1, 4), low)),
		_mm256_shuffle_epi8(t2, _mm256_and_si256(prev1, low))),
	    _mm256_shuffle_epi8(t3,
		_mm256_and_si256(_mm256_srli_epi16(input, 4), low)));

	/*
	 * Two continuations in a row are right exactly where the byte two
	 * back is a 3/4-byte lead (E0..FF) or three back a 4-byte lead
	 * (F0..FF): the saturated subtraction leaves bit 7 set only then.
	 */
	prev2 = COUNT_PREV(input, prev, 2);
	prev3 = COUNT_PREV(input, prev, 3);
	must23 = _mm256_or_si256(
	    _mm256_subs_epu8(prev2, _mm256_set1_epi8((char)(0xe0 - 0x80))),
	    _mm256_subs_epu8(prev3, _mm256_set1_epi8((char)(0xf0 - 0x80))));
	must23 = _mm256_and_si256(must23, _mm256_set1_epi8((char)0x80));
	return _mm256_xor_si256(must23, sc);
}

/* Nonzero where the last bytes start a sequence they do not finish. */
COUNT_AVX2 static inline __m256i
count_avx2_incomplete(__m256i input)
{
	const __m256i	 max = _mm256_setr_epi8(
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	    (char)0xef, (char)0xdf, (char)0xbf);

	return _mm256_subs_epu8(input, max);
}

/* Add the byte lanes of a (each < 256) into the four 64-bit lanes of sum. */
COUNT_AVX2 static inline __m256i
count_avx2_spill(__m256i sum, __m256i a)
{
	return _mm256_add_epi64(sum,
	    _mm256_sad_epu8(a, _mm256_setzero_si256()));
}

COUNT_AVX2 static inline uint64_t
count_avx2_hsum(__m256i v)
{
	__m128i	 s;

	s = _mm_add_epi64(_mm256_castsi256_si128(v),
	    _mm256_extracti128_si256(v, 1));
	return (uint64_t)_mm_cvtsi128_si64(s) +
	    (uint64_t)_mm_extract_epi64(s, 1);
}

/*
 * The AVX2 loop, for 64-byte blocks. Counting: a byte starts a code point
 * when, as a signed byte, it is > -65 (not 0x80..0xBF); compare masks are
 * -1, so subtracting them counts, up to 127 blocks (2 per block per lane)
 * before a SAD spill. Validation: pure-ASCII blocks only need the previous
 * block to have ended on a complete sequence; the others go through the
 * lookup check. With validate set, returns early (how far it got) once an
 * error is found, so the caller finishes counting only.
 */
COUNT_AVX2 static inline __attribute__((always_inline)) size_t
count_avx2_loop(struct count_state *st, const unsigned char *p, size_t n,
    int validate)
{
	const __m256i	 notcont = _mm256_set1_epi8(-65);
	const __m256i	 nl = _mm256_set1_epi8('\n');
	__m256i		 prev, err, in0, in1, acc_c, acc_n, sum_c, sum_n;
	size_t		 i, end;

	prev = _mm256_load_si256((const __m256i *)st->prev);
	err = _mm256_setzero_si256();
	sum_c = sum_n = _mm256_setzero_si256();

	for (i = 0; i < n; i = end) {
		end = i + 127 * 64;
		if (end > n)
			end = n;
		acc_c = acc_n = _mm256_setzero_si256();
		for (; i < end; i += 64) {
			in0 = _mm256_loadu_si256((const __m256i *)(p + i));
			in1 = _mm256_loadu_si256((const __m256i *)(p + i + 32));
			acc_c = _mm256_sub_epi8(acc_c,
			    _mm256_cmpgt_epi8(in0, notcont));
			acc_c = _mm256_sub_epi8(acc_c,
			    _mm256_cmpgt_epi8(in1, notcont));
			acc_n = _mm256_sub_epi8(acc_n,
			    _mm256_cmpeq_epi8(in0, nl));
			acc_n = _mm256_sub_epi8(acc_n,
			    _mm256_cmpeq_epi8(in1, nl));
			if (!validate)
				continue;
			if (_mm256_movemask_epi8(
			    _mm256_or_si256(in0, in1)) == 0) {
				/* Only the last block's end can be wrong. */
				err = _mm256_or_si256(err,
				    count_avx2_incomplete(prev));
			} else {
				err = _mm256_or_si256(err,
				    count_avx2_check(in0, prev));
				err = _mm256_or_si256(err,
				    count_avx2_check(in1, in0));
			}
			prev = in1;
		}
		sum_c = count_avx2_spill(sum_c, acc_c);
		sum_n = count_avx2_spill(sum_n, acc_n);
		if (validate && !_mm256_testz_si256(err, err)) {
			st->error = 1;
			break;
		}
	}
	st->chars += count_avx2_hsum(sum_c);
	st->lines += count_avx2_hsum(sum_n);
	if (validate)
		_mm256_store_si256((__m256i *)st->prev, prev);
	return i;
}

COUNT_AVX2 static void
count_avx2_feed(struct count_state *st, const unsigned char *p, size_t n)
{
	size_t	 done = 0;

	if (!st->error)
		done = count_avx2_loop(st, p, n, 1);
	if (done < n)
		count_avx2_loop(st, p + done, n - done, 0);
}

COUNT_AVX2 static unsigned __int128
count_squares_avx2(uint32_t a, uint32_t n)
{
	return count_squares_body(a, n);
}

static const struct count_kernel count_kernel_avx2 = {
	"avx2", count_avx2_feed, count_squares_avx2
};
#endif

static const struct count_kernel *count_kernel;

/* Whether the CPU (and OS) can run the AVX2 kernel. */
static int
count_have_avx2(void)
{
#if COUNT_HAVE_AVX2
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2");
#else
	return 0;
#endif
}

/* Find a kernel by name; NULL if unknown or not supported here. */
static const struct count_kernel *
count_find_kernel(const char *name)
{
	if (strcmp(name, "swar") == 0)
		return &count_kernel_swar;
#if COUNT_HAVE_AVX2
	if (strcmp(name, "avx2") == 0 && count_have_avx2())
		return &count_kernel_avx2;
#endif
	return NULL;
}

/* The best kernel, unless JOBD_COUNT_KERNEL names one. */
static const struct count_kernel *
count_default_kernel(void)
{
	const struct count_kernel	*k;
	const char			*env;

	env = getenv("JOBD_COUNT_KERNEL");
	if (env != NULL && *env != '\0') {
		if ((k = count_find_kernel(env)) != NULL)
			return k;
		log_warnx("%s: JOBD_COUNT_KERNEL=%s is not available here",
		    __func__, env);
	}
#if COUNT_HAVE_AVX2
	if (count_have_avx2())
		return &count_kernel_avx2;
#endif
	return &count_kernel_swar;
}

/* The kernel in use, chosen on first use. */
static const struct count_kernel *
count_get_kernel(void)
{
	const struct count_kernel	*k;

	k = __atomic_load_n(&count_kernel, __ATOMIC_ACQUIRE);
	if (k == NULL) {
		k = count_default_kernel();
		__atomic_store_n(&count_kernel, k, __ATOMIC_RELEASE);
	}
	return k;
}

int
count_set_kernel(const char *name)
{
	const struct count_kernel	*k;

	if (name == NULL)
		k = count_default_kernel();
	else if ((k = count_find_kernel(name)) == NULL)
		return -1;
	__atomic_store_n(&count_kernel, k, __ATOMIC_RELEASE);
	return 0;
}

const char *
count_kernel_name(void)
{
	return count_get_kernel()->name;
}

/*
 * Start a range whose first skip bytes are continuations owed to the range
 * before. Rather than skipping them, pretend the stream so far ended with
 * a lead byte that wants exactly that many continuations of any value
 * (C2, E1, F1): both validators then accept them and flag one more.
 */
static void
count_state_init(struct count_state *st, unsigned int skip)
{
	static const unsigned char	 fake_lead[4] = { 0, 0xc2, 0xe1, 0xf1 };
	static const int		 fake_dfa[4] = {
		DFA_ACCEPT, DFA_CONT1, DFA_CONT2, DFA_CONT3
	};

	memset(st, 0, sizeof *st);
	st->prev[sizeof st->prev - 1] = fake_lead[skip];
	st->dfa = fake_dfa[skip];
}

/*
 * Finish a stream: p[0..n) are the last bytes of the range (n < 64),
 * p[n..n+extra) the bytes read past its end to finish its last sequence.
 * They are validated in a zero-padded block; the zeros after them make a
 * sequence that is still incomplete an error (TOO_SHORT / DFA reject).
 */
static void
count_finish(const struct count_kernel *k, struct count_state *st,
    const unsigned char *p, size_t n, size_t extra)
{
	unsigned char	 pad[128] __attribute__((aligned(64)));
	uint64_t	 chars, lines;

	memset(pad, 0, sizeof pad);
	memcpy(pad, p, n + extra);
	count_scalar(st, p, n);
	chars = st->chars;
	lines = st->lines;
	k->feed(st, pad, n + extra < 64 ? 64 : 128);
	st->chars = chars;
	st->lines = lines;
}

/* Number of continuation bytes at the start of p, at most 3. */
static unsigned int
count_lead_conts(const unsigned char *p, size_t n)
{
	unsigned int	 i;

	for (i = 0; i < 3 && i < n; i++) {
		if (!COUNT_IS_CONT(p[i]))
			break;
	}
	return i;
}

/*
 * How many bytes past p[n - 1] the last sequence starting in the last
 * three bytes wants. Leads that are never valid (C0, C1, F5..FF) want
 * nothing more: the range is invalid whatever follows.
 */
static unsigned int
count_need(const unsigned char *p, size_t n)
{
	unsigned int	 j, len;
	unsigned char	 b;

	for (j = 1; j <= 3 && j <= n; j++) {
		b = p[n - j];
		if (COUNT_IS_CONT(b))
			continue;
		if (b < 0x80 || b > 0xf4)
			len = 1;
		else if (b < 0xe0)
			len = 2;
		else if (b < 0xf0)
			len = 3;
		else
			len = 4;
		return len > j ? len - j : 0;
	}
	return 0;
}

/* Fill a result from a finished state. */
static void
count_result_set(struct count_result *r, const struct count_state *st,
    uint64_t bytes, unsigned int skip, unsigned int extra)
{
	memset(r, 0, sizeof *r);
	r->bytes = bytes;
	r->chars = st->chars;
	r->lines = st->lines;
	r->valid = !st->error;
	r->lead_skip = skip;
	r->tail_extra = extra;
}

void
count_buffer(const unsigned char *p, size_t n, struct count_result *r)
{
	const struct count_kernel	*k = count_get_kernel();
	struct count_state		 st;
	size_t				 full = n & ~(size_t)63;

	count_state_init(&st, 0);
	k->feed(&st, p, full);
	count_finish(k, &st, p + full, n - full, 0);
	count_result_set(r, &st, n, 0, 0);
}

/* pread exactly n bytes unless the file ends first; -1 on error. */
static ssize_t
count_read(int fd, unsigned char *buf, size_t n, uint64_t off)
{
	size_t	 done = 0;
	ssize_t	 got;

	while (done < n) {
		got = pread(fd, buf + done, n - done, (off_t)(off + done));
		if (got == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == 0)
			break;
		done += (size_t)got;
	}
	return (ssize_t)done;
}

int
count_range(int fd, uint64_t off, uint64_t len, uint64_t fsize,
    struct count_result *r)
{
	const struct count_kernel	*k = count_get_kernel();
	struct count_state		 st;
	unsigned char			*buf = NULL;
	uint64_t			 pos, left;
	size_t				 win, want, full, ahead, bufsize;
	ssize_t				 got;
	unsigned int			 skip = 0, extra = 0;
	int				 error;

	if (off > fsize || len > fsize - off) {
		log_warnx("%s: range %llu+%llu is outside a file of %llu bytes",
		    __func__, (unsigned long long)off,
		    (unsigned long long)len, (unsigned long long)fsize);
		errno = EINVAL;
		return -1;
	}
	count_state_init(&st, 0);
	if (len == 0) {
		count_result_set(r, &st, 0, 0, 0);
		return 0;
	}

	win = count_window_bytes & ~(size_t)63;
	if (win < 128)
		win = 128;
	bufsize = (len < win ? (size_t)len : win) + 64;
	if ((error = posix_memalign((void **)&buf, 64, bufsize)) != 0) {
		errno = error;
		log_warn("%s: posix_memalign %zu", __func__, bufsize);
		return -1;
	}

	for (pos = off, left = len; left > 0; pos += want, left -= want) {
		if (left > win) {
			/*
			 * Keep at least 64 bytes for the last window, so the
			 * bytes that decide the lookahead are in it.
			 */
			want = left - win < 64 ? win - 64 : win;
			ahead = 0;
		} else {
			want = left;
			ahead = fsize - (pos + want);
			if (ahead > 3)
				ahead = 3;
		}
		if ((got = count_read(fd, buf, want + ahead, pos)) == -1) {
			log_warn("%s: pread %zu at %llu", __func__,
			    want + ahead, (unsigned long long)pos);
			goto fail;
		}
		if ((size_t)got < want) {
			log_warnx("%s: file ended at %llu, before %llu (it "
			    "shrank?)", __func__,
			    (unsigned long long)(pos + (uint64_t)got),
			    (unsigned long long)(off + len));
			errno = EIO;
			goto fail;
		}
		ahead = (size_t)got - want;

		if (pos == off && off != 0) {
			skip = count_lead_conts(buf, want);
			count_state_init(&st, skip);
		}
		full = want & ~(size_t)63;
		k->feed(&st, buf, full);
		if (want == left) {
			extra = count_need(buf, want);
			if (extra > ahead)
				extra = (unsigned int)ahead;
			count_finish(k, &st, buf + full, want - full, extra);
		}
	}
	free(buf);
	count_result_set(r, &st, len, skip, extra);
	return 0;

fail:
	error = errno;
	free(buf);
	errno = error;
	return -1;
}

/*
 * Merging is associative, so ranges may be merged in any grouping as long
 * as the order is kept. A range made only of continuation bytes owed to
 * an earlier one (lead_skip == bytes) passes the debt on.
 */
void
count_merge(struct count_result *acc, const struct count_result *next)
{
	unsigned int	 skip, extra;
	int		 ok;

	/*
	 * An empty range changes nothing, but is valid: merged into an acc
	 * that starts zeroed (valid 0) it must still make it valid.
	 */
	if (acc->bytes == 0) {
		*acc = *next;
		return;
	}
	if (next->bytes == 0)
		return;

	if (acc->tail_extra >= next->bytes) {
		/* acc's last sequence runs over all of next. */
		ok = next->lead_skip == next->bytes;
		skip = acc->lead_skip;
		extra = acc->tail_extra - (unsigned int)next->bytes;
	} else if (acc->lead_skip == acc->bytes) {
		/* acc is only owed continuations; next's run adds to them. */
		skip = acc->lead_skip + next->lead_skip;
		ok = skip <= 3;
		extra = next->tail_extra;
	} else {
		ok = next->lead_skip == acc->tail_extra;
		skip = acc->lead_skip;
		extra = next->tail_extra;
	}

	acc->bytes += next->bytes;
	acc->chars += next->chars;
	acc->lines += next->lines;
	acc->valid = acc->valid && next->valid && ok;
	acc->lead_skip = skip;
	acc->tail_extra = extra;
}

/* Sum of i*i for a <= i <= b, 0 <= a, b <= 2^32. */
static unsigned __int128
squares_positive(const struct count_kernel *k, uint64_t a, uint64_t b)
{
	unsigned __int128	 sum = 0;
	uint64_t		 n;

	if (a > b)
		return 0;
	if (b == (uint64_t)SQUARES_LIMIT) {
		/* (2^32)^2 = 2^64 does not fit the 64-bit squares. */
		sum += (unsigned __int128)1 << 64;
		if (a == b)
			return sum;
		b--;
	}
	/* Now b < 2^32; blocks of at most 2^31 terms keep n in 32 bits. */
	while (a <= b) {
		n = b - a + 1;
		if (n > UINT64_C(1) << 31)
			n = UINT64_C(1) << 31;
		sum += k->squares((uint32_t)a, (uint32_t)n);
		a += n;
	}
	return sum;
}

/*
 * Iterate for real (this is the benchmark's CPU burn): negative values are
 * folded onto positive ones, since (-i)^2 == i^2.
 */
unsigned __int128
squares_sum(int64_t from, int64_t to)
{
	const struct count_kernel	*k = count_get_kernel();
	unsigned __int128		 sum = 0;

	if (from > to || from < -SQUARES_LIMIT || to > SQUARES_LIMIT)
		return 0;
	if (from < 0) {
		/* The negative part [from, min(to, -1)] mirrored. */
		sum += squares_positive(k, (uint64_t)(to < 0 ? -to : 1),
		    (uint64_t)-from);
		if (to < 0)
			return sum;
		from = 0;
	}
	return sum + squares_positive(k, (uint64_t)from, (uint64_t)to);
}

void
u128_to_dec(unsigned __int128 v, char *buf, size_t size)
{
	char	 tmp[40], *p = tmp + sizeof tmp;
	size_t	 len;

	*--p = '\0';
	do {
		*--p = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v != 0);
	if (size == 0)
		return;
	len = (size_t)(tmp + sizeof tmp - 1 - p);
	if (len >= size)
		len = size - 1;
	memcpy(buf, p, len);
	buf[len] = '\0';
}
