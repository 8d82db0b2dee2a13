/* A user's first program: create, insert, count a viewer, read it back. */
#include <stdio.h>
#include <streamreg.h>

int main(int argc, char **argv)
{
	sr_registry *reg;
	uuid_t id;
	uint32_t clients = 0;
	if (argc != 2)
		return 2;
	int rc = sr_registry_create(argv[1], NULL, &reg);
	if (rc) {
		fprintf(stderr, "create: %s\n", sr_strerror(rc));
		return 1;
	}
	uuid_generate(id);
	if ((rc = sr_session_insert(reg, id, NULL)) || (rc = sr_session_add_client(reg, id)) ||
	    (rc = sr_session_get_clients(reg, id, &clients)))
		fprintf(stderr, "session: %s\n", sr_strerror(rc));
	sr_registry_close(reg);
	sr_registry_unlink(argv[1]);
	return rc || clients != 1;
}
