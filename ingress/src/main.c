/* ciu-ingress: HTTP webhooks, the simulator channel, media, health. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"
#include "common/cmn_log.h"
#include "ing_server.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    ing_server_t *server = NULL;
    int r = cmn_daemon_boot(&d, "ciu-ingress", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_ingress));

    if (r == CMN_EXIT_OK) {
        cmn_channels_t ch;
        char *err = NULL;
        if (cmn_channels_load(&d.settings, &ch, &err) < 0) {
            log_error("config", NULL, "%s", err);
            free(err);
            r = CMN_EXIT_CONFIG;
            goto out;
        }
        if (d.settings.insecure_skip_signature)
            log_warn("config", NULL, "CIU_INSECURE_SKIP_SIGNATURE=true: webhook signatures are "
                                     "NOT checked; anyone who can reach this port can forge "
                                     "messages (local tests only)");
        server = ing_server_new(&d, &ch);
        r = server ? ing_server_run(server) : CMN_EXIT_UNAVAILABLE;
    }
out:
    ing_server_destroy(&server);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
