/* The one JSON escaper (src/shared/json_escape.c) that the library and the
 * tools share: pinned bytes, hostile and random input checked by Python's
 * JSON parser, and every short byte string checked against a UTF-8 decoder
 * written here from the definition (RFC 3629), not from the escaper's
 * tables. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json_escape.h"

/* Room for the longest hostile case with every byte grown to six. */
struct out {
	char buf[512];
	size_t len;
	unsigned calls;
};

static void sink(void *ctx, const char *p, size_t n)
{
	struct out *o = ctx;
	assert_true(o->len + n < sizeof o->buf);
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	o->buf[o->len] = '\0';
	o->calls++;
}

static const char *json_n(const char *s, size_t max)
{
	static struct out o;
	memset(&o, 0, sizeof o);
	sr__json_string(sink, &o, s, max);
	return o.buf;
}

static const char *json(const char *s)
{
	return json_n(s, (size_t)-1);
}

static void test_pinned(void **state)
{
	(void)state;
	assert_string_equal(json(""), "\"\"");
	assert_string_equal(json("plain"), "\"plain\"");
	assert_string_equal(json("a\"b\\c/d"), "\"a\\\"b\\\\c/d\"");
	assert_string_equal(json("l1\nl2\x01\x1f\x7f"), "\"l1\\u000al2\\u0001\\u001f\\u007f\"");
	assert_string_equal(json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"),
	                    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
	/* issue 11 item 9: an ffmpeg error with invalid UTF-8 must still parse */
	assert_string_equal(json("bad \xff\xfe end"), "\"bad \\ufffd\\ufffd end\"");
	assert_string_equal(json("overlong \xc0\xaf"), "\"overlong \\ufffd\\ufffd\"");
	assert_string_equal(json("overlong \xe0\x80\xaf"), "\"overlong \\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(json("surrogate \xed\xa0\x80"), "\"surrogate \\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(json("cut \xe2\x82"), "\"cut \\ufffd\\ufffd\"");
	assert_string_equal(json("big \xf4\x90\x80\x80"), "\"big \\ufffd\\ufffd\\ufffd\\ufffd\"");
	/* a bad lead byte does not swallow the valid text after it */
	assert_string_equal(json("\xe2"
	                         "a\xc3\xa9"),
	                    "\"\\ufffda\xc3\xa9\"");
	/* max bounds the read of a field with no NUL; a NUL ends it early */
	assert_string_equal(json_n("abcdef", 3), "\"abc\"");
	assert_string_equal(json_n("abcdef", 0), "\"\"");
	assert_string_equal(json_n("ab\0cd", 5), "\"ab\"");
	/* a sequence cut by max is not valid UTF-8 */
	assert_string_equal(json_n("caf\xc3\xa9", 4), "\"caf\\ufffd\"");
	assert_string_equal(json_n("\xf0\x9f\x98\x80", 3), "\"\\ufffd\\ufffd\\ufffd\"");
	/* plain text goes to the sink in one run, not a byte at a time */
	static struct out o;
	memset(&o, 0, sizeof o);
	sr__json_string(sink, &o, "a plain line of text", (size_t)-1);
	assert_int_equal(o.calls, 3);
}

/* Every control character, as \u00XX with lower-case hex. */
static void test_controls(void **state)
{
	(void)state;
	for (unsigned c = 1; c < 0x80; c++) {
		char in[2] = {(char)c, 0}, want[16];
		if (c >= 0x20 && c != 0x7f)
			continue;
		snprintf(want, sizeof want, "\"\\u%04x\"", c);
		assert_string_equal(json(in), want);
	}
}

/* The length of the character at in (n bytes left) and its code point in
 * *v, or 0 if the bytes there are not one. */
static size_t decode1(const unsigned char *in, size_t n, uint32_t *v)
{
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	unsigned b = in[0];
	size_t len = b < 0x80             ? 1
	             : (b & 0xe0) == 0xc0 ? 2
	             : (b & 0xf0) == 0xe0 ? 3
	             : (b & 0xf8) == 0xf0 ? 4
	                                  : 0;
	if (len == 0 || len > n)
		return 0;
	*v = len == 1 ? b : len == 2 ? b & 0x1f : len == 3 ? b & 0x0f : b & 0x07;
	for (size_t j = 1; j < len; j++) {
		if ((in[j] & 0xc0) != 0x80)
			return 0;
		*v = *v << 6 | (in[j] & 0x3fu);
	}
	if (*v < least[len] || (*v >= 0xd800 && *v <= 0xdfff) || *v > 0x10ffff)
		return 0;
	return len;
}

/* What the escaper must output for in: its code points, from a decoder that
 * follows the definition, with U+FFFD for each byte outside a character. */
static size_t expect(const unsigned char *in, size_t n, uint32_t *cp)
{
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		size_t len = decode1(in + i, n - i, &cp[k]);
		if (len == 0)
			cp[k] = 0xfffd;
		k++;
		i += len ? len : 1;
	}
	return k;
}

/* Parse out as a JSON string (RFC 8259) into code points; false if it is
 * not one, or holds a raw control character or DEL. */
static bool parse(const char *out, size_t n, uint32_t *cp, size_t *k)
{
	const unsigned char *p = (const unsigned char *)out, *end = p + n;
	*k = 0;
	if (n < 2 || p[0] != '"' || end[-1] != '"')
		return false;
	for (p++, end--; p < end;) {
		if (*p == '\\') {
			static const char simple[] = "\"\\/bfnrt", value[] = "\"\\/\b\f\n\r\t";
			const char *e = p + 1 < end ? strchr(simple, p[1]) : NULL;
			if (e && p[1]) {
				cp[(*k)++] = (unsigned char)value[e - simple];
				p += 2;
				continue;
			}
			unsigned v = 0;
			if (end - p < 6 || p[1] != 'u')
				return false;
			for (int j = 2; j < 6; j++) {
				unsigned h = p[j];
				if (h >= '0' && h <= '9')
					v = v << 4 | (h - '0');
				else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
					v = v << 4 | ((h | 0x20) - 'a' + 10);
				else
					return false;
			}
			/* the escaper never needs a surrogate pair */
			if (v >= 0xd800 && v <= 0xdfff)
				return false;
			cp[(*k)++] = v;
			p += 6;
		} else if (*p < 0x20 || *p == 0x7f || *p == '"') {
			return false;
		} else {
			size_t len = 1;
			while (p + len < end && (p[len] & 0xc0) == 0x80 && len < 4)
				len++;
			/* raw bytes must be exactly one valid character */
			if (decode1(p, len, &cp[*k]) != len)
				return false;
			(*k)++;
			p += len;
		}
	}
	return true;
}

static void check(const unsigned char *in, size_t n)
{
	uint32_t want[8], got[64];
	size_t nw = expect(in, n, want), ng;
	const char *out = json_n((const char *)in, n);
	if (!parse(out, strlen(out), got, &ng) || ng != nw ||
	    memcmp(got, want, nw * sizeof *want) != 0) {
		char hex[32] = "";
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 2 * i, 3, "%02x", in[i]);
		fail_msg("input %s gave %s", hex, out);
	}
}

/* Every string of one and two bytes, every three-byte one that starts with a
 * lead byte, and four-byte ones from F0..F4 over the edge bytes: overlong
 * forms, surrogates, past U+10FFFF, cut sequences, stray continuations. */
static void test_every_short_string(void **state)
{
	(void)state;
	static const unsigned char edge[] = {0x01, 0x1f, 0x20, 0x22, 0x5c, 0x7e, 0x7f, 0x80,
	                                     0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
	                                     0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff};
	unsigned char s[4];
	for (unsigned a = 1; a < 256; a++) {
		s[0] = (unsigned char)a;
		check(s, 1);
		for (unsigned b = 1; b < 256; b++) {
			s[1] = (unsigned char)b;
			check(s, 2);
			for (unsigned c = 1; a >= 0xc0 && c < 256; c++) {
				s[2] = (unsigned char)c;
				check(s, 3);
			}
			for (size_t c = 0; a >= 0xf0 && a <= 0xf4 && c < sizeof edge; c++)
				for (size_t d = 0; d < sizeof edge; d++) {
					s[2] = edge[c];
					s[3] = edge[d];
					check(s, 4);
				}
		}
	}
}

/* The cases, a line each, to Python's json.loads and UTF-8 decoder. */
static void emit(FILE *py, const char *s, size_t n, size_t max)
{
	for (size_t i = 0; i < n; i++)
		fprintf(py, "%02x", (unsigned char)s[i]);
	fprintf(py, " %zu %s\n", max, json_n(s, max));
}

static void test_python_parses(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t n, max;
	} hostile[] = {
#define H(lit, max) {lit, sizeof lit - 1, max}
	    H("ctl \x01\x08\x09\x0a\x0c\x0d\x1b\x1f del \x7f", 64),
	    H("quote\" back\\slash </script>", 64),
	    H("bad \xff\xfe bytes \xc3", 64),
	    H("range \xf4\x90\x80\x80 five \xf5\x80\x80\x80 f8 \xf8\x88\x80\x80\x80", 64),
	    H("surrogates \xed\xa0\x80\xed\xbf\xbf pair \xed\xa0\xbd\xed\xb8\x80", 64),
	    H("overlong \xc0\xaf \xc1\xbf \xe0\x80\xaf \xf0\x80\x80\xaf \xe0\x9f\xbf", 64),
	    H("cut \xe2\x82 \xf0\x9f\x98 lone \x80\xbf end", 64),
	    H("nul \0 after nul \xff", 64),
	    H("cut by max \xe2\x82\xac", 12),
	    H("max \xf4\x8f\xbf\xbf \xc2\x80\xc2\x9f \xef\xbf\xbf \xef\xbb\xbf ok", 64),
#undef H
	};
	/* A checker that exits early must fail the test, not kill it. */
	signal(SIGPIPE, SIG_IGN);
	fflush(NULL);
	FILE *py = popen("python3 " JSON_ESCAPE_CHECK, "w");
	assert_non_null(py);
	for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
		emit(py, hostile[i].s, hostile[i].n, hostile[i].max);
	/* Random strings over bytes chosen to sit near the edges of UTF-8. */
	static const char pool[] =
	    "a\"\\\x01\x1f\x7f\x80\xbf\xc0\xc2\xdf\xe0\xed\xef\xf0\xf4\xf5\xff"
	    "\xa0\x90\x8f\x9f";
	uint64_t x = 0x9e3779b97f4a7c15u;
	for (int i = 0; i < 20000; i++) {
		char s[8];
		size_t n = 1 + i % sizeof s;
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			s[j] = pool[x % (sizeof pool - 1)];
		}
		emit(py, s, n, n);
	}
	assert_int_equal(pclose(py), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pinned),
	    cmocka_unit_test(test_controls),
	    cmocka_unit_test(test_every_short_string),
	    cmocka_unit_test(test_python_parses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
