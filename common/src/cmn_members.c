/* cmn_members: replicas that find each other through the store. See cmn_members.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cmn_crypto.h"
#include "common/cmn_members.h"
#include "common/cmn_str.h"

#define S_EP_MAX 512
#define S_LIST_MAX (CMN_BUS_MAX_REPLICAS * S_EP_MAX)

struct cmn_members {
    char stage[32];
    char id[128];
    char endpoint[S_EP_MAX];
    char events[S_EP_MAX];
    int64_t ttl_ms;
    int64_t started_ms;
};

cmn_members_t *cmn_members_new(const char *stage, const char *endpoint, int64_t ttl_ms)
{
    cmn_members_t *m;
    char host[64] = "", rnd[CMN_ID_LEN];

    if (stage == NULL || endpoint == NULL || ttl_ms <= 0 || strlen(stage) >= sizeof(m->stage) ||
        strlen(endpoint) >= sizeof(m->endpoint))
        return NULL;
    m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    gethostname(host, sizeof(host) - 1);
    if (cmn_id_new(rnd) < 0) {
        free(m);
        return NULL;
    }
    /* host and pid say who it is in `ciu-admin queues`; the random part
     * keeps a restarted process with the same pid a new member */
    snprintf(m->id, sizeof(m->id), "%s:%ld:%s", host[0] ? host : "?", (long)getpid(), rnd + 10);
    cmn_strlcpy(m->stage, stage, sizeof(m->stage));
    cmn_strlcpy(m->endpoint, endpoint, sizeof(m->endpoint));
    m->ttl_ms = ttl_ms;
    return m;
}

void cmn_members_destroy(cmn_members_t **p)
{
    if (p == NULL || *p == NULL)
        return;
    free(*p);
    *p = NULL;
}

void cmn_members_set_events(cmn_members_t *m, const char *events)
{
    if (m != NULL && events != NULL)
        cmn_strlcpy(m->events, events, sizeof(m->events));
}

const char *cmn_members_id(const cmn_members_t *m)
{
    return m ? m->id : "";
}

int cmn_members_beat(cmn_members_t *m, cmn_store_t *st, int64_t now_ms, size_t *ret_index,
                     size_t *ret_count)
{
    cmn_rows_t *rows = NULL;
    int r;

    if (m == NULL || st == NULL)
        return -EINVAL;
    if (m->started_ms == 0)
        m->started_ms = now_ms;
    cmn_param_t p[] = {P_TEXT(m->stage),  P_TEXT(m->id),        P_TEXT(m->endpoint),
                       P_TEXT(m->events), P_INT(m->started_ms), P_INT(now_ms)};
    r = cmn_store_exec(st,
                       "INSERT INTO stage_members (stage, member, endpoint, events, started_ms, "
                       "heartbeat_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (stage, member) "
                       "DO UPDATE SET endpoint = excluded.endpoint, events = excluded.events, "
                       "heartbeat_ms = excluded.heartbeat_ms",
                       p, 6, NULL);
    if (r < 0)
        return r;
    cmn_param_t q[] = {P_TEXT(m->stage), P_INT(now_ms - m->ttl_ms)};
    r = cmn_store_query(st,
                        "SELECT member FROM stage_members WHERE stage = $1 AND heartbeat_ms >= $2 "
                        "ORDER BY member",
                        q, 2, &rows);
    if (r < 0)
        return r;
    int n = cmn_rows_count(rows);
    for (int i = 0; i < n; i++) {
        if (strcmp(cmn_rows_get(rows, i, 0), m->id) == 0) {
            *ret_index = (size_t)i;
            *ret_count = n > CMN_BUS_MAX_REPLICAS ? CMN_BUS_MAX_REPLICAS : (size_t)n;
            break;
        }
    }
    cmn_rows_destroy(&rows);
    return 0;
}

int cmn_members_leave(cmn_members_t *m, cmn_store_t *st)
{
    if (m == NULL || st == NULL)
        return -EINVAL;
    cmn_param_t p[] = {P_TEXT(m->stage), P_TEXT(m->id)};
    return cmn_store_exec(st, "DELETE FROM stage_members WHERE stage = $1 AND member = $2", p, 2,
                          NULL);
}

int cmn_members_endpoints(cmn_store_t *st, const char *stage, int64_t now_ms, int64_t ttl_ms,
                          bool events, char **ret)
{
    cmn_rows_t *rows = NULL;
    cmn_str_t list = CMN_STR_INIT(S_LIST_MAX);
    cmn_param_t p[] = {P_TEXT(stage), P_INT(now_ms - ttl_ms)};
    int r = cmn_store_query(st,
                            events ? "SELECT events FROM stage_members WHERE stage = $1 AND "
                                     "heartbeat_ms >= $2 AND events <> '' ORDER BY member"
                                   : "SELECT endpoint FROM stage_members WHERE stage = $1 AND "
                                     "heartbeat_ms >= $2 ORDER BY member",
                            p, 2, &rows);
    for (int i = 0; r == 0 && i < cmn_rows_count(rows) && i < CMN_BUS_MAX_REPLICAS; i++) {
        if (i > 0)
            r = cmn_str_appends(&list, ",");
        if (r == 0)
            r = cmn_str_appends(&list, cmn_rows_get(rows, i, 0));
    }
    cmn_rows_destroy(&rows);
    if (r == 0 && list.len == 0)
        r = cmn_str_appends(&list, "");
    if (r < 0) {
        cmn_str_free(&list);
        return r;
    }
    *ret = list.buf ? cmn_str_steal(&list) : strdup("");
    return *ret ? 0 : -ENOMEM;
}

int cmn_members_refresh_push(cmn_store_t *st, cmn_push_t *push, const char *stage, int64_t now_ms,
                             int64_t ttl_ms)
{
    char *eps = NULL;
    int r = cmn_members_endpoints(st, stage, now_ms, ttl_ms, false, &eps);
    if (r == 0 && !cmn_push_same(push, eps))
        r = cmn_push_set(push, eps) == 0 ? 1 : -EIO;
    free(eps);
    return r;
}

int cmn_members_refresh_sub(cmn_store_t *st, cmn_sub_t *sub, const char *stage, int64_t now_ms,
                            int64_t ttl_ms)
{
    char *eps = NULL;
    int r = cmn_members_endpoints(st, stage, now_ms, ttl_ms, true, &eps);
    for (char *save = NULL, *ep = r == 0 ? strtok_r(eps, ",", &save) : NULL; ep;
         ep = strtok_r(NULL, ",", &save)) {
        int c = cmn_sub_connect(sub, ep);
        if (c < 0)
            r = c;
    }
    free(eps);
    return r;
}

/* This machine's address as others reach it: its host name's first IPv4. */
static int s_own_address(char *out, size_t len)
{
    char host[256] = "";
    struct addrinfo hints, *res = NULL;
    int r;

    if (gethostname(host, sizeof(host) - 1) != 0)
        return -errno;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    r = getaddrinfo(host, NULL, &hints, &res);
    if (r != 0 || res == NULL)
        return -EHOSTUNREACH;
    const struct sockaddr_in *a = (const struct sockaddr_in *)res->ai_addr;
    r = inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)len) ? 0 : -errno;
    freeaddrinfo(res);
    return r;
}

int cmn_members_advertise(const char *bound, const char *advertise_host, char *out, size_t len)
{
    const char *wild[] = {"tcp://0.0.0.0:", "tcp://*:"};
    char host[256];

    for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
        size_t n = strlen(wild[i]);
        if (strncmp(bound, wild[i], n) != 0)
            continue;
        if (advertise_host && *advertise_host) {
            cmn_strlcpy(host, advertise_host, sizeof(host));
        } else {
            int r = s_own_address(host, sizeof(host));
            if (r < 0)
                return r;
        }
        if ((size_t)snprintf(out, len, "tcp://%s:%s", host, bound + n) >= len)
            return -E2BIG;
        return 0;
    }
    if (strlen(bound) >= len)
        return -E2BIG;
    cmn_strlcpy(out, bound, len);
    return 0;
}
