/* fuzz_env: the .env file every ciu daemon reads at start.
 *
 * cmn_config_load only reads a .env from a path, so each input is written
 * to one in-memory file (made once, rewritten per input) and loaded through
 * a small table with one entry of each type, an alias and defaults. Inputs
 * that would make the loader open another file (a NAME_FILE variable with
 * a '/' in the input) are skipped, so the fuzzer never reads the machine's
 * files. Checked: documented return values, an integer within its bounds,
 * and the effective-config line on one line with the secret hidden.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/cmn_config.h"
#include "fuzz_util.h"

typedef struct {
    char *name;
    char *token;
    long minutes;
    bool enabled;
    char *url;
} s_cfg_t;

static const cmn_cfg_entry_t s_table[] = {
    {"CIU_FUZZ_NAME", NULL, CMN_CFG_STR, "ciu", 0, 0, offsetof(s_cfg_t, name), "a name"},
    {"CIU_FUZZ_TOKEN", NULL, CMN_CFG_SECRET, NULL, 0, 0, offsetof(s_cfg_t, token), "a secret"},
    {"CIU_FUZZ_MINUTES", NULL, CMN_CFG_INT, "30", 1, 1440, offsetof(s_cfg_t, minutes), "a number"},
    {"CIU_FUZZ_ENABLED", NULL, CMN_CFG_BOOL, "false", 0, 0, offsetof(s_cfg_t, enabled), "a switch"},
    {"CIU_FUZZ_URL", "CIU_FUZZ_OLD_URL", CMN_CFG_STR, NULL, 0, 0, offsetof(s_cfg_t, url),
     "a value with another name"},
};
#define S_N (sizeof(s_table) / sizeof(s_table[0]))

static char s_path[64];
static int s_fd = -1;

/* The .env lives in memory (a memfd), read back through /proc/self/fd:
 * a file on disk would make every run wait for the file system. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    s_fd = memfd_create("ciu-fuzz-env", MFD_CLOEXEC);
    if (s_fd < 0) {
        perror("fuzz_env: memfd_create");
        abort();
    }
    snprintf(s_path, sizeof(s_path), "/proc/self/fd/%d", s_fd);
    return 0;
}

static bool s_has(const uint8_t *data, size_t size, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, needle, n) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    s_cfg_t cfg;
    char *err = NULL;

    if (s_has(data, size, "_FILE") && memchr(data, '/', size))
        return 0;
    FZ_CHECK(ftruncate(s_fd, 0) == 0);
    FZ_CHECK(size == 0 || pwrite(s_fd, data, size, 0) == (ssize_t)size);

    memset(&cfg, 0, sizeof(cfg));
    int r = cmn_config_load(s_table, S_N, &cfg, s_path, &err);
    if (r < 0) {
        FZ_CHECK(r == -EINVAL || r == -ENOMEM);
        if (r == -EINVAL)
            FZ_CHECK(err != NULL && strchr(err, '\n') == NULL);
        FZ_CHECK(cfg.name == NULL && cfg.token == NULL && cfg.url == NULL);
        free(err);
        return 0;
    }
    FZ_CHECK(cfg.name != NULL);
    FZ_CHECK(cfg.minutes >= 1 && cfg.minutes <= 1440);

    char *line = cmn_config_describe(s_table, S_N, &cfg);
    FZ_CHECK(line != NULL);
    FZ_CHECK(strchr(line, '\n') == NULL && strchr(line, '\r') == NULL);
    if (cfg.token && cfg.token[0] != '\0')
        FZ_CHECK(strstr(line, "CIU_FUZZ_TOKEN=***") != NULL);
    free(line);
    cmn_config_free(s_table, S_N, &cfg);
    return 0;
}
