/* ciu-sender: outbound delivery, in order per person. */
#include <stddef.h>

#include "common/cmn_channels.h"
#include "common/cmn_daemon.h"
#include "snd_sender.h"

int main(int argc, char **argv)
{
    cmn_daemon_t d;
    cmn_channels_t ch;
    snd_sender_t *sender = NULL;
    int r = cmn_daemon_boot(&d, "ciu-sender", argc, argv,
                            (long)offsetof(cmn_settings_t, admin_port_sender));

    if (r == CMN_EXIT_OK)
        r = cmn_daemon_channels(&d, &ch);
    if (r == CMN_EXIT_OK) {
        sender = snd_sender_new(&d, &ch);
        r = sender ? snd_sender_run(sender) : CMN_EXIT_UNAVAILABLE;
    }
    snd_sender_destroy(&sender);
    cmn_daemon_shutdown(&d);
    return r == CMN_BOOT_DONE ? CMN_EXIT_OK : r;
}
