/* lunatap — a Lua-scriptable packet dissection engine. */
#include "cli.h"
#include "engine.h"

#include <stdlib.h>

int main(int argc, char **argv)
{
    static lt_config cfg;
    int rc = lt_cli_parse(&cfg, argc, argv);
    if (rc == LT_CLI_DONE)
        return LT_EXIT_OK;
    if (rc == LT_CLI_USAGE)
        return LT_EXIT_USAGE;
    rc = lt_engine_run(&cfg);
    for (int i = 0; i < cfg.nscripts; i++)
        free((char *)cfg.scripts[i].path);
    return rc;
}
