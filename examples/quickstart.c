/* examples/quickstart.c: create a registry, register a channel, count a
 * viewer, request a start, and read it all back.  Every call is checked.
 * Build, at the top of this tree after `bash scripts/setup.sh`:
 *   cc -Iinclude -o quickstart examples/quickstart.c -Lbuild/src -lstreamreg \
 *      -Wl,-rpath,"$PWD/build/src"
 * or, once `cmake --install build && ldconfig` put the library on the system:
 *   cc -o quickstart quickstart.c $(pkg-config --cflags --libs streamreg)
 * Run:   ./quickstart [REGISTRY-NAME]    (default: quickstart-PID) */
#include <stdio.h>
#include <unistd.h>

#include <streamreg.h>

static int report(const char *what, int rc)
{
	fprintf(stderr, "%s: %s: %s (%s)\n", what, sr_err_name(rc), sr_strerror(rc),
	        sr_errdetail());
	return rc;
}

/* One viewer's request: register the channel if needed, count the viewer,
 * ask for a start (of all the workers that try, exactly one wins). */
static int request(sr_registry *reg)
{
	uuid_t ch = {0};
	sr_session_ref ref;
	int rc = sr_uuid_parse("5e7a0000-0000-4000-8000-000000000001", ch);
	if (rc < 0)
		return report("parse", rc);
	if ((rc = sr_session_find_or_insert(reg, ch, "/var/tmp/hls/ch1", &ref)) < 0)
		return report("insert", rc);
	printf("channel %s\n", rc == 1 ? "inserted" : "was there");

	int viewers = sr_ref_add_client(reg, ref); /* the new total comes back */
	if (viewers < 0)
		return report("add viewer", viewers);
	sr_state found = SR_STATE_IDLE;
	rc = sr_ref_transition(reg, ref, SR_STATE_IDLE, SR_STATE_STARTING, &found);
	if (rc == -SR_ESTATE)
		printf("viewers %d, channel already %s\n", viewers, sr_state_name(found));
	else if (rc < 0)
		return report("request a start", rc);
	else
		printf("viewers %d, start requested\n", viewers);

	/* What every process attached to the registry now sees. */
	sr_session_info info;
	if ((rc = sr_ref_snapshot(reg, ref, &info)) < 0)
		return report("snapshot", rc);
	printf("state %s, viewers %u, start requests %llu\n", sr_state_name(info.state),
	       info.clients, (unsigned long long)info.transitions[SR_STATE_STARTING]);

	if ((rc = sr_ref_remove_client(reg, ref)) < 0) /* the viewer left */
		return report("remove viewer", rc);
	printf("viewers %d after the viewer left\n", rc);
	return 0;
}

int main(int argc, char **argv)
{
	char name[SR_NAME_MAX + 1];
	if (argc > 1)
		snprintf(name, sizeof name, "%s", argv[1]);
	else
		snprintf(name, sizeof name, "quickstart-%d", (int)getpid());

	sr_registry *reg = NULL;
	int rc = sr_registry_create(name, NULL, &reg); /* or sr_registry_attach() */
	if (rc < 0) {
		report("create", rc);
		return 1;
	}
	printf("created registry %s\n", name);
	int failed = request(reg) < 0;
	sr_registry_close(reg);
	if ((rc = sr_registry_unlink(name)) < 0) {
		report("unlink", rc);
		return 1;
	}
	printf("removed registry %s\n", name);
	return failed;
}
