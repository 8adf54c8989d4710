/* ciu-engine: CIU formula, registry, duplicates, QR codes. */
#include <stddef.h>

#include "ciu_engine.h"
#include "common/cmn_daemon.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    ciu_engine_t *engine = NULL;
    int r = cmn_daemon_boot(&d, "ciu-engine", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_engine));

    if (r == CMN_EXIT_OK) {
        engine = ciu_engine_new(&d);
        r = engine ? ciu_engine_run(engine) : CMN_EXIT_UNAVAILABLE;
    }
    ciu_engine_destroy(&engine);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
