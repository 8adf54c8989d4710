/* ciu-conversation: the five questions, languages and commands. */
#include <stddef.h>

#include "common/cmn_daemon.h"
#include "conv_server.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    conv_server_t *server = NULL;
    int r = cmn_daemon_boot(&d, "ciu-conversation", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_conversation));

    if (r == CMN_EXIT_OK) {
        server = conv_server_new(&d);
        r = server ? conv_server_run(server) : CMN_EXIT_UNAVAILABLE;
    }
    conv_server_destroy(&server);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
