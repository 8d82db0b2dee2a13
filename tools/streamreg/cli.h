/* The subcommands of `streamreg`; each takes argv with argv[0] = its name
 * and returns the exit status (see cli_util.h). */
#ifndef SR_TOOLS_CLI_H
#define SR_TOOLS_CLI_H

int cmd_create(int argc, char **argv);
int cmd_destroy(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_add(int argc, char **argv);
int cmd_del(int argc, char **argv);
int cmd_state(int argc, char **argv);
int cmd_error(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_hold(int argc, char **argv);

#endif
