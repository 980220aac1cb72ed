/*
 * cli.h — the command line: lunatap [options] SCRIPT [script options] [SCRIPT ...]
 *
 * Options follow tcpdump where tcpdump has one (-r -f -c -w -s). Parsing
 * stops at the first argument that is not an option: it names the first
 * script, and every later argument that names a script (a bundled name or a
 * path to an existing .lua file) starts the next one.
 */
#ifndef LUNATAP_CLI_H
#define LUNATAP_CLI_H

#include "engine.h"

/* What main should do after parsing. */
enum { LT_CLI_RUN, LT_CLI_DONE, LT_CLI_USAGE };

/* Fills cfg from argv. LT_CLI_DONE after --help, --version or
 * --list-scripts (printed); LT_CLI_USAGE after a usage error (printed). */
int lt_cli_parse(lt_config *cfg, int argc, char **argv);

/* The directory holding lua/, dissectors/ and scripts/. */
const char *lt_cli_home(void);

#endif
