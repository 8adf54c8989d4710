#!/usr/bin/env python3
"""DHIS2 down, slow, refusing the token; the bridge killed mid-request: nothing
is lost and nobody is created twice.

Usage: test_dhis2_faults.py sqlite|postgres
- DHIS2 answering 503 (nginx in front of a dead DHIS2): the circuit opens
  with one log line, then only /api/system/info probes reach it, one per
  DHIS2_BREAKER_SECONDS; when it is back, everything queued meanwhile syncs;
- an import that DHIS2 commits but whose answer never comes (timeout): the
  retry finds the person and does not create a second one;
- ciu-dhis2-bridge killed with SIGKILL while its import is in flight, then
  restarted: the registration syncs once;
- a token DHIS2 refuses (401): one log line, the registration waits, and syncs
  once the token works again, without a restart.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from dhis2_helpers import (TOKEN, FakeDhis2, bridge_env, log_text, metrics, register,  # noqa
                           sync_rows, wait_for)
from stack import Person, check, run  # noqa: E402

PEOPLE = [  # number, answers, CIU
    ("+243820000001", ["Mbengue", "Ibrahima", "1997", "DA", "1"], "MBEIBR7DA1"),
    ("+243820000002", ["Ngale", "Francoise", "2001", "KN", "2"], "NGAFRA1KN2"),
    ("+243820000003", ["Lukusa", "Marie", "1990", "KN", "2"], "LUKMAR0KN2"),
    ("+243820000004", ["Kalala", "Gedeon", "1985", "LU", "1"], "KALGED5LU1"),
    ("+243820000005", ["Ilunga", "Paul", "1980", "KN", "1"], "ILUPAU0KN1"),
    ("+243820000006", ["Tshibanda", "Ruth", "1975", "LU", "2"], "TSHRUT5LU2"),
    ("+243820000007", ["Mutombo", "Jean", "1999", "KN", "1"], "MUTJEA9KN1"),
]


def status(stack, ciu):
    row = sync_rows(stack).get(ciu)
    return row[0] if row else None


def wait_synced(stack, cius, timeout=40):
    wait_for(lambda: all(status(stack, c) == "synced" for c in cius), timeout,
             "%s synced" % ", ".join(cius))


def once_each(fake, cius):
    for c in cius:
        tes = fake.entities_with(c)
        check(len(tes) == 1, "%s: %d people in DHIS2 (created twice or lost)" % (c, len(tes)))
        check(len(fake.enrolled(tes[0]["trackedEntity"])) == 1, "%s: not enrolled once" % c)


def scenario(stack, fake):
    people = [Person(stack, n) for n, _, _ in PEOPLE]

    def reg(i):
        register(people[i], PEOPLE[i][1], PEOPLE[i][2])
        return PEOPLE[i][2]

    first = reg(0)
    wait_synced(stack, [first])

    # DHIS2 down behind its proxy: 503 for everything
    fake.fault(503, -1, "/api/")
    down = [reg(1), reg(2)]
    wait_for(lambda: "circuit open" in log_text(stack), 30, "the circuit to open")
    log_at = len(log_text(stack))
    n0 = len(fake.state()["log"])
    faults0 = fake.state()["counts"]["faults"]
    # three more probes, one per second: nothing but probes reaches DHIS2
    wait_for(lambda: fake.state()["counts"]["faults"] >= faults0 + 3, 20, "three probes")
    calls = fake.state()["log"][n0:]
    check(calls and all(c["path"] == "/api/system/info" for c in calls),
          "calls other than probes while the circuit is open: %r" % calls)
    check(all(status(stack, c) == "pending" for c in down), "rows not kept pending")
    m = metrics(stack)
    check(m.get("ciu_dhis2_circuit_state") == 1, "circuit_state metric: %r" %
          m.get("ciu_dhis2_circuit_state"))
    check(m.get("ciu_dhis2_backlog", 0) >= 2, "backlog metric: %r" % m.get("ciu_dhis2_backlog"))
    fake.clear_faults()
    wait_synced(stack, down)
    text = log_text(stack)
    check(text.count("DHIS2 unreachable") == 1, "the outage was logged %d times" %
          text.count("DHIS2 unreachable"))
    check("reachable again" in text[log_at:], "no line saying DHIS2 is back")
    once_each(fake, [first] + down)

    # the import is committed but its answer never comes: the bridge times out
    fake.hold("/api/tracker", 1, "POST")
    lost = reg(3)
    wait_for(lambda: fake.entities_with(lost), 30, "the import committed")
    wait_synced(stack, [lost])
    fake.release()
    once_each(fake, [lost])
    check(str(sync_rows(stack)[lost][2]) == "0", "our own person counted as an existing one")

    # killed with SIGKILL while its import is in flight, then restarted
    fake.hold("/api/tracker", 1, "POST")
    killed = reg(4)
    wait_for(lambda: fake.state()["held"] == 1, 30, "the import in flight")
    check(stack.kill("ciu-dhis2-bridge") == -signal.SIGKILL, "bridge not killed")
    fake.release()
    stack.restart("ciu-dhis2-bridge")
    wait_synced(stack, [killed], 60)  # after the dead bridge's lease expires
    once_each(fake, [killed])

    # the token is refused (revoked, expired): paused, one line; fixed: resumes
    before = log_text(stack).count("refuses the credentials")
    fake.config(token="d2p_rotatedTokenNotKnownToTheBridge000000000000000000")
    refused = reg(5)
    wait_for(lambda: log_text(stack).count("refuses the credentials") > before, 30,
             "the pause to be logged")
    u0 = fake.state()["counts"]["unauthorized"]
    wait_for(lambda: fake.state()["counts"]["unauthorized"] >= u0 + 3, 20, "three probes")
    check(log_text(stack).count("refuses the credentials") == before + 1,
          "the refusal was logged more than once")
    check(status(stack, refused) == "pending", "registration not kept while paused")
    check(metrics(stack).get("ciu_dhis2_circuit_state") == 2, "circuit_state is not paused")
    fake.config(token=TOKEN)
    wait_synced(stack, [refused])
    check("credentials accepted, resuming" in log_text(stack), "no line saying it resumed")

    # and everything still works
    last = reg(6)
    all_cius = [p[2] for p in PEOPLE]
    wait_synced(stack, [last])
    once_each(fake, all_cius)
    check(len(fake.state()["trackedEntities"]) == len(all_cius), "extra people in DHIS2")
    rows = sync_rows(stack)
    check(all(rows[c][0] == "synced" for c in all_cius), "not all synced: %r" % rows)


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    fake = FakeDhis2("2.41.1")
    env = bridge_env(fake, CIU_FLOOD_MAX_MESSAGES=1000)

    def test(stack):
        try:
            scenario(stack, fake)
        except Exception:
            fake.dump()
            raise

    try:
        return run(test, "dhis2-faults", backend, env)
    finally:
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
