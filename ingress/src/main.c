/* ciu-ingress: HTTP webhooks, the simulator channel, media, health. */
#include <stdio.h>

#include "common/cmn_daemon.h"
#include "common/cmn_log.h"
#include "ing_server.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    ing_server_t *server = NULL;
    int r = cmn_daemon_boot(&d, "ciu-ingress", argc, argv, -1);

    if (r == CMN_EXIT_OK) {
        server = ing_server_new(&d);
        r = server ? ing_server_run(server) : CMN_EXIT_UNAVAILABLE;
    }
    ing_server_destroy(&server);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
