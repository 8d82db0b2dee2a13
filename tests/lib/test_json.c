/* JSON of one session and of the registry, checked by python3; Prometheus by promtool. */
#include "support/srt.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void expect_query(const char *json, const char *expr, const char *want)
{
	char out[4096];

	int rc = srt_json_query(json, expr, out, sizeof(out));
	if (rc != 0 || strcmp(out, want) != 0)
		fail_msg("%s: got %s (python status %d), want %s\njson: %.2000s", expr, out, rc,
		         want, json);
}

static void test_session_json_values(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	char ustr[SR_UUID_STR_LEN + 1], want[512];
	sr_session_info info;
	sr_quality q[2] = {{.level = "720p",
	                    .bitrate_kbps = 2500,
	                    .width = 1280,
	                    .height = 720,
	                    .codec = "h264",
	                    .segment_path = "/o/720p/s%05d.ts",
	                    .playlist_path = "/o/720p/index.m3u8"},
	                   {.level = "360p",
	                    .bitrate_kbps = 800,
	                    .width = 640,
	                    .height = 360,
	                    .codec = "h264",
	                    .segment_path = "/o/360p/s%05d.ts",
	                    .playlist_path = "/o/360p/index.m3u8"}};
	char *json = NULL;

	srt_uuid(id);
	sr_uuid_format(id, ustr);
	assert_int_equal(sr_session_insert(fx->reg, id, "/o"), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_IDLE, SR_STATE_STARTING), 0);
	assert_int_equal(sr_session_transition(fx->reg, id, SR_STATE_STARTING, SR_STATE_ACTIVE), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sr_session_add_client(fx->reg, id), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, "one"), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, "two"), 0);
	assert_int_equal(sr_session_set_pid(fx->reg, id, getpid(), 99), 0);
	assert_int_equal(sr_session_set_qualities(fx->reg, id, q, 2), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);

	assert_int_equal(sr_session_info_json(&info, &json), 0);
	assert_non_null(json);
	/* One python run for all the values: starting python is the slow part. */
	snprintf(want, sizeof(want),
	         "[\"%s\", \"active\", 3, 2, \"two\", %ld, true, 2, \"720p\", \"360p\", 1]", ustr,
	         (long)getpid());
	expect_query(json,
	             "[d[\"channel_id\"], d[\"state\"], d[\"clients\"], d[\"error_count\"], "
	             "d[\"last_error\"], d[\"pid\"], "
	             "isinstance(d[\"idle_ms\"], int) and d[\"idle_ms\"] >= 0, "
	             "len(d[\"qualities\"]), d[\"qualities\"][0][\"level\"], "
	             "d[\"qualities\"][1][\"level\"], "
	             "[str(v) for v in d[\"qualities\"][0].values()].count(\"2500\")]",
	             want);
	free(json);
}

/* Strings from outside (ffmpeg's stderr, paths) must be escaped, not pasted. */
static void test_session_json_escaping(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info info;
	char *json = NULL;
	static const char nasty[] = "quote\" backslash\\ newline\n tab\t cr\r ctl\x01\x1f del\x7f "
	                            "utf8 caf\xc3\xa9 </script>";

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, "/dir \"with\" quotes\\"), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, nasty), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(sr_session_info_json(&info, &json), 0);
	expect_query(json,
	             "[d[\"last_error\"] == \"quote\\\" backslash\\\\ newline\\n tab\\t cr\\r "
	             "ctl\\x01\\x1f del\\x7f utf8 caf\\u00e9 </script>\", d[\"output_dir\"]]",
	             "[true, \"/dir \\\"with\\\" quotes\\\\\"]");
	free(json);
}

/* Bytes that are not UTF-8 must still give valid JSON. */
static void test_session_json_invalid_utf8(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info info;
	char *json = NULL;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, "bad \xff\xfe bytes \xc3"), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(sr_session_info_json(&info, &json), 0);
	if (!srt_json_valid(json))
		fail_msg("invalid JSON for non-UTF-8 error text: %s", json);
	expect_query(json, "d[\"last_error\"].startswith(\"bad \")", "true");
	free(json);
}

/* Byte sequences that look like UTF-8 but are not (RFC 3629): each must still give valid JSON. */
static void test_session_json_near_utf8(void **state)
{
	struct srt_fx *fx = *state;
	static const char *const bad[] = {
	    "out of range \xf4\x90\x80\x80 end", "five-byte lead \xf5\x80\x80\x80 end",
	    "surrogate \xed\xa0\x80 end",        "overlong 3 \xe0\x80\xaf end",
	    "overlong 4 \xf0\x80\x80\xaf end",   "overlong 2 \xc0\xaf end",
	    "lead f8 \xf8\x88\x80\x80\x80 end",  "cut \xe2\x82 end",
	    "lone continuation \x80\xbf end",    "max \xf4\x8f\xbf\xbf ok",
	};
	struct srt_json_batch jb = {0};
	uuid_t id;
	sr_session_info info;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	for (size_t i = 0; i < SRT_ARRAY_LEN(bad); i++) {
		char *json = NULL;
		assert_int_equal(sr_session_record_error(fx->reg, id, bad[i]), 0);
		assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
		assert_int_equal(sr_session_info_json(&info, &json), 0);
		srt_json_batch_add(&jb, json);
		free(json);
	}
	assert_true(srt_json_batch_valid(&jb));
}

static void test_session_json_every_state(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info info;
	char *json = NULL;

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	/* All five documents in one array, checked by one python run. */
	char all[65536] = "[";
	for (int s = 0; s < SR_STATE_COUNT; s++) {
		info.state = (sr_state)s;
		assert_int_equal(sr_session_info_json(&info, &json), 0);
		assert_true(strlen(all) + strlen(json) + 2 < sizeof(all));
		strcat(all, s ? "," : "");
		strcat(all, json);
		free(json);
		json = NULL;
	}
	strcat(all, "]");
	expect_query(all, "[s[\"state\"] for s in d]",
	             "[\"idle\", \"starting\", \"active\", \"stopping\", \"failed\"]");
	/* A hand-made info with garbage must not crash the renderer either. */
	memset(&info, 0xff, sizeof(info));
	int rc = sr_session_info_json(&info, &json);
	if (rc == 0) {
		assert_true(srt_json_valid(json));
		free(json);
	} else {
		assert_int_equal(rc, -EINVAL);
	}
}

static void test_registry_json(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t ids[3];
	char *json = NULL, expr[1024];

	assert_int_equal(sr_registry_json(fx->reg, &json), 0);
	expect_query(json, "d", "[]");
	free(json);
	json = NULL;

	for (int i = 0; i < 3; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx->reg, ids[i], NULL), 0);
	}
	assert_int_equal(sr_session_add_client(fx->reg, ids[1]), 0);
	assert_int_equal(sr_session_transition(fx->reg, ids[2], SR_STATE_IDLE, SR_STATE_STARTING),
	                 0);
	assert_int_equal(sr_registry_json(fx->reg, &json), 0);
	char id1[SR_UUID_STR_LEN + 1], id2[SR_UUID_STR_LEN + 1];
	sr_uuid_format(ids[1], id1);
	sr_uuid_format(ids[2], id2);
	snprintf(expr, sizeof(expr),
	         "[len(d), [s[\"clients\"] for s in d if s[\"channel_id\"] == \"%s\"], "
	         "[s[\"state\"] for s in d if s[\"channel_id\"] == \"%s\"], "
	         "sorted(k for k in [\"channel_id\", \"state\", \"clients\", \"idle_ms\", "
	         "\"error_count\", \"last_error\", \"qualities\", \"pid\"] "
	         "if all(k in s for s in d))]",
	         id1, id2);
	expect_query(json, expr,
	             "[3, [1], [\"starting\"], [\"channel_id\", \"clients\", \"error_count\", "
	             "\"idle_ms\", \"last_error\", \"pid\", \"qualities\", \"state\"]]");
	free(json);
}

static void test_prometheus(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	char *text = NULL, ustr[SR_UUID_STR_LEN + 1];

	srt_uuid(id);
	sr_uuid_format(id, ustr);
	assert_int_equal(sr_session_insert(fx->reg, id, NULL), 0);
	assert_int_equal(sr_session_add_client(fx->reg, id), 0);
	assert_int_equal(sr_session_record_error(fx->reg, id, "x"), 0);
	/* One active channel too, which has an uptime. */
	uuid_t act;
	char astr[SR_UUID_STR_LEN + 1];
	srt_uuid(act);
	sr_uuid_format(act, astr);
	assert_int_equal(sr_session_insert(fx->reg, act, NULL), 0);
	assert_int_equal(sr_session_set_state(fx->reg, act, SR_STATE_STARTING, NULL), 0);
	assert_int_equal(sr_session_set_state(fx->reg, act, SR_STATE_ACTIVE, NULL), 0);
	assert_int_equal(sr_registry_prometheus(fx->reg, &text), 0);
	assert_non_null(strstr(text, astr));
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE"));
	assert_non_null(strstr(text, ustr));
	if (access("/usr/bin/promtool", X_OK) == 0) {
		int rc = srt_pipe_to("promtool check metrics >/dev/null 2>&1", text);
		if (rc != 0) {
			srt_pipe_to("promtool check metrics >&2", text);
			fail_msg("promtool check metrics failed (%d) on:\n%s", rc, text);
		}
	}
	free(text);
}

/* Enough channels to grow every buffer; every channel appears, and promtool accepts it. */
static void test_prometheus_many(void **state)
{
	enum { N = 70 };
	struct srt_fx fx;
	uuid_t ids[N];
	char *text = NULL, ustr[SR_UUID_STR_LEN + 1];

	(void)state;
	assert_int_equal(srt_create(&fx, 100, 0, 0), 0);
	for (int i = 0; i < N; i++) {
		srt_uuid(ids[i]);
		assert_int_equal(sr_session_insert(fx.reg, ids[i], NULL), 0);
		for (int k = 0; k < i % 3; k++)
			assert_int_equal(sr_session_add_client(fx.reg, ids[i]), 0);
		if (i % 5)
			assert_int_equal(
			    sr_session_set_state(fx.reg, ids[i], SR_STATE_STARTING, NULL), 0);
		if (i % 5 > 1)
			assert_int_equal(
			    sr_session_set_state(fx.reg, ids[i], SR_STATE_ACTIVE, NULL), 0);
	}
	assert_int_equal(sr_registry_prometheus(fx.reg, &text), 0);
	for (int i = 0; i < N; i++) {
		sr_uuid_format(ids[i], ustr);
		if (!strstr(text, ustr))
			fail_msg("channel %d (%s) missing from the metrics", i, ustr);
	}
	if (access("/usr/bin/promtool", X_OK) == 0)
		assert_int_equal(srt_pipe_to("promtool check metrics >/dev/null 2>&1", text), 0);
	free(text);
	sr_registry_close(fx.reg);
	srt_cleanup_names();
}

/* Field names of `typedef struct NAME {...} NAME;` in the public header, as a
 * python list literal: the JSON must carry every one, whatever the header
 * gains later. */
static void struct_fields(const char *name, char *out, size_t len)
{
	FILE *f = fopen(SRT_PUBLIC_HEADER, "r");
	assert_non_null(f);
	char line[512], open_[128];
	snprintf(open_, sizeof(open_), "typedef struct %s {", name);
	bool inside = false;
	size_t used = 0;
	out[used++] = '[';
	while (fgets(line, sizeof(line), f)) {
		if (!inside) {
			inside = strstr(line, open_) != NULL;
			continue;
		}
		if (line[0] == '}')
			break;
		/* "	type name[...];  / * comment * /": the name ends at ';' or '['. */
		char *end = strpbrk(line, ";[");
		char *comment = strstr(line, "/*");
		if (!end || (comment && comment < end))
			continue;
		char *start = end;
		while (start > line && (isalnum((unsigned char)start[-1]) || start[-1] == '_'))
			start--;
		int n = snprintf(out + used, len - used, "%s\"%.*s\"", used > 1 ? "," : "",
		                 (int)(end - start), start);
		assert_true(n > 0 && (size_t)n < len - used);
		used += (size_t)n;
	}
	fclose(f);
	assert_true(used > 1);
	assert_true(used + 2 < len);
	out[used++] = ']';
	out[used] = '\0';
}

static void test_json_has_every_field(void **state)
{
	struct srt_fx *fx = *state;
	uuid_t id;
	sr_session_info info;
	sr_quality q = {.level = "720p", .bitrate_kbps = 1, .width = 2, .height = 3};
	char *json = NULL, fields[2048], expr[4096], out[4096];

	srt_uuid(id);
	assert_int_equal(sr_session_insert(fx->reg, id, "/o"), 0);
	assert_int_equal(sr_session_set_qualities(fx->reg, id, &q, 1), 0);
	assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_STARTING, NULL), 0);
	assert_int_equal(sr_session_set_state(fx->reg, id, SR_STATE_ACTIVE, NULL), 0);
	assert_int_equal(sr_session_snapshot(fx->reg, id, &info), 0);
	assert_int_equal(sr_session_info_json(&info, &json), 0);

	/* Session fields missing from the object, then variant fields missing
	 * from the variant; both lists must be empty. */
	struct_fields("sr_session_info", fields, sizeof(fields));
	char qfields[1024];
	struct_fields("sr_quality", qfields, sizeof(qfields));
	snprintf(expr, sizeof(expr),
	         "[[k for k in %s if k not in d], [k for k in %s if k not in d[\"qualities\"][0]]]",
	         fields, qfields);
	int rc = srt_json_query(json, expr, out, sizeof(out));
	if (rc != 0 || strcmp(out, "[[], []]") != 0)
		fail_msg("fields missing from the JSON: %s (python status %d)\njson: %s", out, rc,
		         json);
	/* The values are the struct's, not placeholders. */
	char want[256];
	snprintf(want, sizeof(want), "[%llu, %llu, %llu, 1, 2, 3]",
	         (unsigned long long)info.created_mono_ns, (unsigned long long)info.started_mono_ns,
	         (unsigned long long)info.last_access_mono_ns);
	expect_query(json,
	             "[d[\"created_mono_ns\"], d[\"started_mono_ns\"], d[\"last_access_mono_ns\"], "
	             "d[\"n_qualities\"], d[\"qualities\"][0][\"width\"], "
	             "d[\"qualities\"][0][\"height\"]]",
	             want);
	free(json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_session_json_values, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_session_json_escaping, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_session_json_invalid_utf8, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_session_json_near_utf8, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_session_json_every_state, srt_setup_small,
	                                    srt_teardown),
	    cmocka_unit_test_setup_teardown(test_registry_json, srt_setup_small, srt_teardown),
	    cmocka_unit_test_setup_teardown(test_prometheus, srt_setup_small, srt_teardown),
	    cmocka_unit_test(test_prometheus_many),
	    cmocka_unit_test_setup_teardown(test_json_has_every_field, srt_setup_small,
	                                    srt_teardown),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	srt_cleanup_names();
	return rc;
}
