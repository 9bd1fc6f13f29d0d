/* ipf — command-line tool, a thin client of the public API (DESIGN.md §5).
 * Subcommands live in tools/cmd_*.c and register in the table below. */
#include "ipf_tool.h"

#include <stdio.h>
#include <string.h>

static const ipf_cmd CMDS[] = {
    {"version", cmd_version, "print the library version"},
    IPF_TOOL_COMMANDS
};

int cmd_version(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("{\"version\": \"%s\", \"abi\": %u}\n", ipf_version_string(), ipf_abi_version());
    return 0;
}

static void usage(void) {
    fprintf(stderr, "usage: ipf COMMAND [options]\ncommands:\n");
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        fprintf(stderr, "  %-14s %s\n", CMDS[i].name, CMDS[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof CMDS / sizeof CMDS[0]; i++)
        if (!strcmp(argv[1], CMDS[i].name)) return CMDS[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ipf: unknown command '%s'\n", argv[1]);
    usage();
    return 2;
}
