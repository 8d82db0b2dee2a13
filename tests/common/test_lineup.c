/* The tools' one lineup parser: valid playlists, every refusal names its
 * line, lavfi generators only, no blocking on a FIFO. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "st_lineup.h"

#define ID1 "0b0e5d1c-4c1f-4d8e-9a3e-2f5b8c7d6e1a"
#define ID2 "9f8e7d6c-5b4a-4321-8fed-cba987654321"

static int parse(const char *text, struct st_lineup *l, char *err, size_t errlen)
{
	return st_lineup_parse(text, strlen(text), 0, l, err, errlen);
}

/* Assert that text is refused with a message naming want (e.g. "line 3:"). */
static void refused(const char *text, const char *want)
{
	struct st_lineup l = {0};
	char err[512] = "";
	int rc = parse(text, &l, err, sizeof err);
	if (rc == 0 || !strstr(err, want))
		print_error("input:\n%s\ngot rc %d err \"%s\", want \"%s\"\n", text, rc, err, want);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, want));
	assert_null(l.ch);
	assert_int_equal(l.n, 0);
}

static void test_valid(void **state)
{
	(void)state;
	const char *text =
	    "\xEF\xBB\xBF#EXTM3U x-tvg-url=\"http://e/epg.xml\"\r\n"
	    "\r\n"
	    "# a comment\n"
	    "#EXTINF:-1 tvg-id=\"" ID2 "\" tvg-name=\"Two\" group-title=\"News\",Channel Two\r\n"
	    "#EXTVLCOPT:http-user-agent=x\n"
	    "  http://example.com/two.m3u8  \n"
	    "#EXTINF:0 tvg-id=\"" ID1 "\",\n"
	    "lavfi:testsrc=size=160x90:rate=10\n";
	struct st_lineup l;
	char err[256];
	assert_int_equal(parse(text, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 2);
	/* sorted by id */
	assert_string_equal(l.ch[0].id_str, ID1);
	assert_string_equal(l.ch[0].input, "lavfi:testsrc=size=160x90:rate=10");
	assert_int_equal(l.ch[0].kind, ST_INPUT_LAVFI);
	assert_int_equal(l.ch[0].line, 7);
	assert_string_equal(l.ch[0].name, ID1); /* no name at all: the id */
	assert_string_equal(l.ch[1].id_str, ID2);
	assert_string_equal(l.ch[1].name, "Channel Two");
	assert_string_equal(l.ch[1].input, "http://example.com/two.m3u8");
	assert_int_equal(l.ch[1].kind, ST_INPUT_URL);
	uuid_t id;
	uuid_parse(ID2, id);
	assert_ptr_equal(st_lineup_find(&l, id), &l.ch[1]);
	uuid_parse("00000000-0000-4000-8000-000000000000", id);
	assert_null(st_lineup_find(&l, id));
	st_lineup_free(&l);
	st_lineup_free(&l); /* twice is harmless */
}

static void test_upper_case_id_is_normalised(void **state)
{
	(void)state;
	struct st_lineup l;
	char err[256];
	assert_int_equal(
	    parse("#EXTM3U\n#EXTINF:-1 tvg-id=\"0B0E5D1C-4C1F-4D8E-9A3E-2F5B8C7D6E1A\","
	          "X\n/srv/video.ts\n",
	          &l, err, sizeof err),
	    0);
	assert_string_equal(l.ch[0].id_str, ID1);
	assert_int_equal(l.ch[0].kind, ST_INPUT_FILE);
	st_lineup_free(&l);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("", "line 1: empty lineup");
	refused("http://x/\n", "line 1: an M3U lineup must begin with #EXTM3U");
	refused("#EXTM3Ux\n", "line 1:");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\n-i /etc/passwd\n",
	        "line 3: input begins with '-'");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\n-filter_complex x\n", "line 3:");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"not-a-uuid\",A\nhttp://x/\n",
	        "line 2: tvg-id \"not-a-uuid\" is not a UUID");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"../../etc/passwd\",A\nhttp://x/\n", "line 2:");
	refused("#EXTM3U\n#EXTINF:-1 tvg-name=\"x\",A\nhttp://x/\n",
	        "line 2: #EXTINF without tvg-id");
	refused("#EXTM3U\n\n#EXTINF:-1 tvg-id=" ID1 ",A\nhttp://x/\n",
	        "line 3, column 19: attribute "
	        "value must be in double quotes");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\" A\nhttp://x/\n", "line 2,");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1, "line 2: unterminated");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\"\nhttp://x/\n",
	        "line 2: #EXTINF has no ','");
	refused("#EXTM3U\n#EXTINF:abc tvg-id=\"" ID1 "\",A\nhttp://x/\n", "line 2: #EXTINF needs a "
	                                                                  "duration");
	refused("#EXTM3U\nhttp://x/\n", "line 2: input without a preceding #EXTINF");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\n#EXTINF:-1 tvg-id=\"" ID2
	        "\",B\nhttp://x/\n",
	        "line 3: #EXTINF on line 2 has no input line");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\n", "line 2: #EXTINF has no input line");
	refused("#EXTM3U\n", "the lineup lists no channel");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://x/\n#EXTINF:-1 tvg-id=\"" ID1
	        "\",B\nhttp://y/\n",
	        "line 4: tvg-id " ID1 " already used on line 2");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nvideo.ts\n",
	        "line 3: unsupported input");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nconcat:/a|/b\n", "line 3: unsupported");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nfile:relative.ts\n",
	        "line 3: file input "
	        "must be an absolute");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nlavfi:\n", "line 3: empty lavfi graph");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://\n",
	        "line 3: URL without a host");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\" tvg-id=\"" ID2 "\",A\nhttp://x/\n",
	        "line 2: tvg-id given twice");
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://x/\x01y\n", "line 3, column 10: "
	                                                                      "control character");
}

static void test_nul_byte(void **state)
{
	(void)state;
	const char text[] = "#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://x/\0-i\n";
	struct st_lineup l = {0};
	char err[256] = "";
	assert_int_equal(st_lineup_parse(text, sizeof text - 1, 0, &l, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "line 3, column 10: control character 0x00"));
}

static void test_long_line(void **state)
{
	(void)state;
	size_t n = ST_LINE_MAX + 100;
	const char *head = "#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://";
	size_t h = strlen(head);
	char *text = malloc(h + n + 1);
	assert_non_null(text);
	memcpy(text, head, h);
	memset(text + h, 'a', n);
	text[h + n] = '\0';
	struct st_lineup l = {0};
	char err[256] = "";
	assert_int_equal(st_lineup_parse(text, strlen(text), 0, &l, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "line 3: longer than"));
	free(text);
}

static void test_input_classify(void **state)
{
	(void)state;
	const char *why;
	assert_int_equal(st_input_classify("rtsp://cam/stream", &why), ST_INPUT_URL);
	assert_int_equal(st_input_classify("UDP://239.0.0.1:1234", &why), ST_INPUT_URL);
	assert_int_equal(st_input_classify("srt://h:9000", &why), ST_INPUT_URL);
	assert_int_equal(st_input_classify("/srv/a b.mp4", &why), ST_INPUT_FILE);
	assert_int_equal(st_input_classify("file:/srv/a.mp4", &why), ST_INPUT_FILE);
	assert_int_equal(st_input_classify("lavfi:testsrc", &why), ST_INPUT_LAVFI);
	assert_int_equal(st_input_classify("-y", &why), ST_INPUT_BAD);
	assert_non_null(strstr(why, "option"));
	assert_int_equal(st_input_classify("pipe:0", &why), ST_INPUT_BAD);
	assert_int_equal(st_input_classify("", &why), ST_INPUT_BAD);
	assert_int_equal(st_input_classify("ftp://x/", NULL), ST_INPUT_BAD);
}

static void test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/st_lineup_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nhttp://x/\n\nbogus\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	struct st_lineup l = {0};
	char err[512] = "";
	assert_int_equal(st_lineup_load(path, 0, &l, err, sizeof err), -EINVAL);
	/* the file name and the line number, for the operator */
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, "line 5: input without a preceding #EXTINF"));
	unlink(path);
	assert_int_equal(st_lineup_load(path, 0, &l, err, sizeof err), -ENOENT);
	assert_int_equal(st_lineup_load("/tmp", 0, &l, err, sizeof err), -EINVAL);
}

/* Mutated playlists never crash the parser and never let an option-like
 * input through: a cheap in-suite cousin of the fuzzer, with a fixed seed so
 * a failure can be replayed. */
static void test_mutations(void **state)
{
	(void)state;
	static const char base[] = "#EXTM3U\n"
	                           "#EXTINF:-1 tvg-id=\"" ID1 "\" tvg-name=\"One\",One\n"
	                           "lavfi:testsrc\n"
	                           "# comment\n"
	                           "#EXTINF:-1 tvg-id=\"" ID2 "\",Two\n"
	                           "http://example.com/two\n";
	static const char alphabet[] = "-\"=,#:\n\r\t ./\0abc019EXTINF";
	unsigned seed = 12345;
	int accepted = 0, refused_count = 0;
	char buf[sizeof base + 16];
	for (int iter = 0; iter < 20000; iter++) {
		size_t len = sizeof base - 1;
		memcpy(buf, base, len);
		int muts = (int)(rand_r(&seed) % 4);
		for (int m = 0; m < muts; m++) {
			size_t at = rand_r(&seed) % len;
			char ch = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
			switch (rand_r(&seed) % 3) {
			case 0:
				buf[at] = ch;
				break;
			case 1:
				if (len + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = ch;
					len++;
				}
				break;
			default:
				memmove(buf + at, buf + at + 1, len - at - 1);
				len--;
			}
		}
		struct st_lineup l = {0};
		char err[256] = "";
		int rc = st_lineup_parse(buf, len, 0, &l, err, sizeof err);
		if (rc == 0) {
			accepted++;
			assert_true(l.n >= 1);
			for (size_t i = 0; i < l.n; i++) {
				assert_true(l.ch[i].input[0] != '-');
				assert_int_not_equal(l.ch[i].kind, ST_INPUT_BAD);
			}
			st_lineup_free(&l);
		} else {
			refused_count++;
			assert_int_equal(rc, -EINVAL);
			assert_non_null(strstr(err, "line "));
		}
	}
	assert_true(accepted > 0);
	assert_true(refused_count > 0);
}

static void test_lookup_many_playlist_order(void **state)
{
	(void)state;
	/* Ids in descending order, so the sorted index differs from the file. */
	char *text = malloc(64 * 1024);
	size_t len = (size_t)sprintf(text, "#EXTM3U\n");
	for (int i = 200; i > 0; i--)
		len += (size_t)sprintf(
		    text + len,
		    "#EXTINF:-1 tvg-id=\"%08x-0000-4000-8000-000000000000\",C%d\nhttp://h/%d\n",
		    i * 7, i, i);
	struct st_lineup l;
	char err[256];
	assert_int_equal(st_lineup_parse(text, len, 0, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 200);
	assert_string_equal(l.ch[l.order[0]].name, "C200");
	assert_string_equal(l.ch[l.order[199]].name, "C1");
	for (size_t i = 1; i < l.n; i++)
		assert_true(memcmp(l.ch[i - 1].id, l.ch[i].id, sizeof(uuid_t)) < 0);
	for (int i = 1; i <= 200; i++) {
		char idtext[64];
		uuid_t id;
		snprintf(idtext, sizeof idtext, "%08x-0000-4000-8000-000000000000", i * 7);
		uuid_parse(idtext, id);
		const struct st_channel *c = st_lineup_find(&l, id);
		assert_non_null(c);
		char want[16];
		snprintf(want, sizeof want, "C%d", i);
		assert_string_equal(c->name, want);
		snprintf(idtext, sizeof idtext, "%08x-0000-4000-8000-000000000000", i * 7 + 1);
		uuid_parse(idtext, id);
		assert_null(st_lineup_find(&l, id));
	}
	st_lineup_free(&l);
	free(text);
}

static void lavfi_case(const char *graph, unsigned flags, int want_ok, const char *want_msg)
{
	char text[1024];
	snprintf(text, sizeof text, "#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",L\nlavfi:%s\n", graph);
	struct st_lineup l = {0};
	char err[512] = "";
	int rc = st_lineup_parse(text, strlen(text), flags, &l, err, sizeof err);
	if ((rc == 0) != want_ok || (want_msg && !strstr(err, want_msg)))
		fail_msg("lavfi:%s flags %u: rc %d err \"%s\"", graph, flags, rc, err);
	st_lineup_free(&l);
}

/* Issue 11 item 7: lavfi graphs get around the scheme and path rules unless
 * only generator sources are allowed. */
static void test_lavfi_generators_only(void **state)
{
	(void)state;
	lavfi_case("testsrc2=size=640x360:rate=25", 0, 1, NULL);
	lavfi_case("testsrc", 0, 1, NULL);
	lavfi_case("testsrc=size=160x90:rate=10[out0];sine=frequency=440[out1]", 0, 1, NULL);
	lavfi_case("smptehdbars=size=640x360:rate=25", 0, 1, NULL);
	lavfi_case("life=size=320x180:rate=25:mold=10:ratio=0.1:death_color=#203040", 0, 1, NULL);
	lavfi_case("anullsrc=r=48000", 0, 1, NULL);
	lavfi_case("movie=/etc/passwd", 0, 0, "not a generator source");
	lavfi_case("amovie=/etc/passwd", 0, 0, "not a generator source");
	lavfi_case("testsrc,subtitles=/etc/passwd", 0, 0, "not a generator source");
	lavfi_case("testsrc;movie=/etc/passwd[out1]", 0, 0, "not a generator source");
	lavfi_case("[in]movie=/etc/passwd", 0, 0, "not a generator source");
	lavfi_case("life=/etc/passwd", 0, 0, "key=value");
	lavfi_case("life=f=/etc/passwd", 0, 0, "may not name a file");
	lavfi_case("life=size=1x1:filename=/etc/passwd", 0, 0, "may not name a file");
	lavfi_case("testsrc=size='1x1,movie=/etc/passwd'", 0, 0, "quotes");
	lavfi_case("testsrc=size=1x1\\,movie=/etc/passwd", 0, 0, "quotes");
	lavfi_case("testsrc,,sine", 0, 0, "empty filter");
	lavfi_case("[unclosed", 0, 0, "unclosed");
	lavfi_case("testsrc[out0]x", 0, 0, "after a lavfi filter");
	/* the operator's explicit choice */
	lavfi_case("movie=/srv/loop.mp4", ST_LINEUP_LAVFI_ANY, 1, NULL);
	assert_int_equal(st_lavfi_allowed("sine", NULL), 0);
	const char *why = NULL;
	assert_int_equal(st_lavfi_allowed("movie=x", &why), -1);
	assert_non_null(why);
}

/* Issue 11 item 9: the server's parser used to accept what the reaper
 * refused (and the reverse); these are the cases where they disagreed. */
static void test_one_rule_for_both_tools(void **state)
{
	(void)state;
	refused("#EXTM3U\n#EXTINF:-1 tvg-id=\"" ID1 "\",A\nconcat:/etc/passwd\n",
	        "line 3: unsupported input");
	refused("#EXTM3U\n", "lists no channel");
	refused("#EXTM3U\n# only comments\n", "lists no channel");
	/* 5,000 channels: under the one channel limit */
	size_t cap = 5000 * 96 + 16, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	len += (size_t)snprintf(text, cap, "#EXTM3U\n");
	for (unsigned i = 0; i < 5000; i++)
		len += (size_t)snprintf(text + len, cap - len,
		                        "#EXTINF:-1 tvg-id=\"%08x-0000-4000-8000-000000000000\",C\n"
		                        "http://h/%u\n",
		                        i, i);
	struct st_lineup l = {0};
	char err[256] = "";
	assert_int_equal(st_lineup_parse(text, len, 0, &l, err, sizeof err), 0);
	assert_int_equal(l.n, 5000);
	st_lineup_free(&l);
	free(text);
}

static void on_alarm(int sig)
{
	(void)sig;
	static const char msg[] = "st_lineup_load blocked on a FIFO\n";
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(1);
}

/* Issue 11 item 3: a FIFO (no writer) is refused at once, not waited on. */
static void test_fifo_refused_without_blocking(void **state)
{
	(void)state;
	char dir[] = "/tmp/st_fifo_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/lineup.m3u", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	signal(SIGALRM, on_alarm);
	alarm(20); /* a generous bound on an event: open() returning at all */
	struct st_lineup l = {0};
	char err[512] = "";
	int rc = st_lineup_load(path, 0, &l, err, sizeof err);
	alarm(0);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	assert_int_equal(st_lineup_load("/dev/null", 0, &l, err, sizeof err), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_valid),
	    cmocka_unit_test(test_upper_case_id_is_normalised),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_nul_byte),
	    cmocka_unit_test(test_long_line),
	    cmocka_unit_test(test_input_classify),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_mutations),
	    cmocka_unit_test(test_lookup_many_playlist_order),
	    cmocka_unit_test(test_lavfi_generators_only),
	    cmocka_unit_test(test_one_rule_for_both_tools),
	    cmocka_unit_test(test_fifo_refused_without_blocking),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
