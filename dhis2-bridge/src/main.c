/* ciu-dhis2-bridge: enrols every issued CIU in DHIS2 Tracker. */
#include <stddef.h>

#include "common/cmn_daemon.h"
#include "dhis_bridge.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    dhis_bridge_t *bridge = NULL;
    int r = cmn_daemon_boot(&d, "ciu-dhis2-bridge", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_dhis2));

    if (r == CMN_EXIT_OK) {
        bridge = dhis_bridge_new(&d, &r);
        if (bridge)
            r = dhis_bridge_run(bridge);
    }
    dhis_bridge_destroy(&bridge);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
