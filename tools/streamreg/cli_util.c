#include "cli_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "st_num.h"

void cli_getopt_reset(void)
{
	/* 0, not 1: glibc then re-initialises completely, which the second
	 * getopt pass (after the global options) needs. */
	optind = 0;
	opterr = 0;
}

int cli_getopt(const char *cmd, int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
	/* Each subcommand's table plus --help; the leading ':' makes a missing
	 * value distinguishable from an unknown option. */
	struct option all[16];
	size_t n = 0;
	for (; longopts && longopts[n].name && n < 14; n++)
		all[n] = longopts[n];
	all[n++] = (struct option){"help", no_argument, NULL, 'h'};
	all[n] = (struct option){NULL, 0, NULL, 0};

	char opts[64];
	snprintf(opts, sizeof(opts), ":h%s", shortopts ? shortopts : "");

	int c = getopt_long(argc, argv, opts, all, NULL);
	switch (c) {
	case -1:
		return CLI_OPT_DONE;
	case 'h':
		return CLI_OPT_HELP;
	case ':':
		cli_usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
		return CLI_OPT_ERROR;
	case '?':
		if (optopt > 0 && optopt < 128)
			cli_usage_error(cmd, "unknown option '-%c'", optopt);
		else
			cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		return CLI_OPT_ERROR;
	default:
		return c;
	}
}

int cli_operands(const char *cmd, int argc, char **argv, int want, const char *const *names)
{
	int have = argc - optind;
	if (have < want)
		return cli_usage_error(cmd, "missing %s", names[have]);
	if (have > want)
		return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + want]);
	return CLI_OK;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "streamreg: %s: ", cmd);
	va_start(ap, fmt);
	/* clang 14's analyzer does not see va_start initialise glibc's va_list. */
	vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	va_end(ap);
	fprintf(stderr, " (see 'streamreg %s --help')\n", cmd);
	return CLI_USAGE;
}

__attribute__((format(printf, 4, 0))) static void
lib_error_v(const char *cmd, int err, const char *hint, const char *what_fmt, va_list ap)
{
	char detail[512];
	snprintf(detail, sizeof(detail), "%s", sr_errdetail());

	fprintf(stderr, "streamreg: %s: ", cmd);
	if (what_fmt)
		/* clang 14's analyzer does not see va_start initialise glibc's va_list. */
		vfprintf(stderr, what_fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
	if (err != 0)
		fprintf(stderr, "%s%s", what_fmt ? ": " : "", sr_strerror(err));
	if (detail[0])
		fprintf(stderr, " (%s)", detail);
	if (hint)
		fprintf(stderr, "; %s", hint);
	fputc('\n', stderr);
}

int cli_lib_error(const char *cmd, int err, int status, const char *what_fmt, ...)
{
	va_list ap;
	va_start(ap, what_fmt);
	lib_error_v(cmd, err, NULL, what_fmt, ap);
	va_end(ap);
	return status;
}

int cli_lib_error_hint(const char *cmd, int err, int status, const char *hint, const char *what_fmt,
                       ...)
{
	va_list ap;
	va_start(ap, what_fmt);
	lib_error_v(cmd, err, hint, what_fmt, ap);
	va_end(ap);
	return status;
}

int cli_check_name(const char *cmd, const char *name)
{
	int rc = sr_name_valid(name);
	if (rc == -ENAMETOOLONG)
		return cli_usage_error(cmd, "registry name too long: %zu characters, at most %d",
		                       strlen(name), SR_NAME_MAX);
	if (rc < 0)
		return cli_usage_error(cmd,
		                       "invalid registry name '%s': use 1 to %d characters from "
		                       "A-Z a-z 0-9 _ -, without the leading slash",
		                       name, SR_NAME_MAX);
	return CLI_OK;
}

int cli_parse_uuid(const char *cmd, const char *text, uuid_t out)
{
	if (sr_uuid_parse(text, out) < 0)
		return cli_usage_error(cmd,
		                       "invalid channel UUID '%s' (want 36 characters like "
		                       "123e4567-e89b-12d3-a456-426614174000)",
		                       text);
	return CLI_OK;
}

int cli_parse_u32(const char *cmd, const char *opt, const char *text, uint32_t min, uint32_t max,
                  uint32_t *out)
{
	uint64_t v;
	if (st_parse_u64(text, min, max, &v) < 0)
		return cli_usage_error(cmd, "%s must be a number from %u to %u, not '%s'", opt, min,
		                       max, text);
	*out = (uint32_t)v;
	return CLI_OK;
}

int cli_parse_mode(const char *cmd, const char *text, unsigned *out)
{
	if (st_parse_mode(text, out) < 0)
		return cli_usage_error(
		    cmd, "--mode must be octal permission bits such as 0640, not '%s'", text);
	return CLI_OK;
}

bool cli_is_noreg_error(int err)
{
	switch (-err) {
	case ENOENT:
	case SR_EBADMAGIC:
	case SR_EVERSION:
	case SR_ELAYOUT:
	case SR_ETRUNCATED:
	case SR_ECORRUPT:
		return true;
	default:
		return false;
	}
}

int cli_attach(const char *cmd, const char *name, unsigned flags, sr_registry **out)
{
	int rc = cli_check_name(cmd, name);
	if (rc != CLI_OK)
		return rc;
	rc = sr_registry_attach(name, flags, out);
	if (rc == -ENOENT)
		return cli_lib_error(cmd, 0, CLI_NOREG, "registry '%s' does not exist", name);
	if (rc < 0 && cli_is_noreg_error(rc))
		return cli_lib_error(cmd, rc, CLI_NOREG, "registry '%s' is not usable", name);
	if (rc == -SR_EOWNER)
		return cli_lib_error_hint(cmd, rc, CLI_FAILED,
		                          "run as its owner, or pass --any-owner to write anyway",
		                          "cannot attach registry '%s'", name);
	if (rc < 0)
		return cli_lib_error(cmd, rc, CLI_FAILED, "cannot attach registry '%s'", name);
	return CLI_OK;
}

void cli_format_duration(uint64_t ms, char *buf, size_t len)
{
	uint64_t s = ms / 1000;
	if (ms < 1000)
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%llu.%llus", (unsigned long long)s,
		         (unsigned long long)(ms % 1000 / 100));
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60),
		         (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
		         (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
		         (unsigned long long)(s % 86400 / 3600));
}

void cli_format_wall(int64_t wall_ns, char *buf, size_t len)
{
	if (wall_ns <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	time_t t = (time_t)(wall_ns / 1000000000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "-");
}
