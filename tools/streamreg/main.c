/* `streamreg`: the operators' command for a streamreg registry. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "monitor.h"

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct cli_command commands[] = {
    {"create", cmd_create, "create a registry"},
    {"destroy", cmd_destroy, "remove a registry"},
    {"check", cmd_check, "validate a registry; --recover reclaims what dead processes left"},
    {"add", cmd_add, "add a channel session (state idle)"},
    {"del", cmd_del, "delete a channel session"},
    {"state", cmd_state, "move a session to another state, if the state machine allows it"},
    {"error", cmd_error, "record an error on a session"},
    {"show", cmd_show, "show one session"},
    {"ls", cmd_ls, "list the sessions"},
    {"hold", cmd_hold, "hold a viewer on a channel while running; print its state changes"},
    {"top", cli_top, "live full-screen view of the sessions"},
    {"stats", cli_stats, "registry totals as text, JSON or Prometheus metrics"},
};

static void print_usage(FILE *out)
{
	fputs("Usage: streamreg COMMAND NAME [ARGS...] [OPTIONS]\n"
	      "       streamreg --help | --version | help COMMAND\n"
	      "\n"
	      "Manage a streamreg registry: the shared-memory table of live streaming\n"
	      "sessions.  NAME is the registry's name: the file /dev/shm/NAME, or\n"
	      "$STREAMREG_DIR/NAME when STREAMREG_DIR names another directory (a tmpfs\n"
	      "mounted with huge=within_size gives big registries 2 MiB pages).\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fputs("\n"
	      "Exit status: 0 ok, 1 the operation failed, 2 usage error,\n"
	      "3 the registry is missing or invalid.\n"
	      "Run 'streamreg COMMAND --help' for a command's arguments.\n",
	      out);
}

static const struct cli_command *find_command(const char *name)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int run_help(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stdout);
		return CLI_OK;
	}
	const struct cli_command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "streamreg: help: unknown command '%s' (see 'streamreg --help')\n",
		        argv[1]);
		return CLI_USAGE;
	}
	char help_opt[] = "--help";
	char *sub[] = {argv[1], help_opt, NULL};
	optind = 0;
	opterr = 1;
	return c->run(2, sub);
}

static int run(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	opterr = 0;
	/* '+' stops at the command name: options after it belong to the command. */
	int c;
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			print_usage(stdout);
			return CLI_OK;
		case 'V':
			printf("streamreg %d.%d (segment layout %d)\n", SR_VERSION_MAJOR,
			       SR_VERSION_MINOR, SR_LAYOUT_VERSION);
			return CLI_OK;
		default:
			fprintf(stderr, "streamreg: unknown option '%s' (see 'streamreg --help')\n",
			        argv[optind - 1]);
			return CLI_USAGE;
		}
	}
	if (optind >= argc) {
		fputs("streamreg: missing command (see 'streamreg --help')\n", stderr);
		return CLI_USAGE;
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	if (strcmp(sub_argv[0], "help") == 0)
		return run_help(sub_argc, sub_argv);
	const struct cli_command *cmd = find_command(sub_argv[0]);
	if (!cmd) {
		fprintf(stderr, "streamreg: unknown command '%s' (see 'streamreg --help')\n",
		        sub_argv[0]);
		return CLI_USAGE;
	}
	/* The monitor commands parse with their own getopt calls: hand them a
	 * fresh parser with glibc's default error messages. */
	optind = 0;
	opterr = 1;
	return cmd->run(sub_argc, sub_argv);
}

int main(int argc, char **argv)
{
	int status = run(argc, argv);
	/* Output lost to a full disk must not pass for success in a script. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		perror("streamreg: writing output");
		return status ? status : CLI_FAILED;
	}
	return status;
}
