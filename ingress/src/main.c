/* ciu-ingress: HTTP webhooks, the simulator channel, media, health. */
#include <stddef.h>

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"
#include "ing_server.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    cmn_channels_t ch;
    ing_server_t *server = NULL;
    int r = cmn_daemon_boot(&d, "ciu-ingress", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_ingress));

    if (r == CMN_EXIT_OK)
        r = cmn_daemon_channels(&d, &ch);
    if (r == CMN_EXIT_OK) {
        server = ing_server_new(&d, &ch);
        r = server ? ing_server_run(server) : CMN_EXIT_UNAVAILABLE;
    }
    ing_server_destroy(&server);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
