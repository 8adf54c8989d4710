#!/usr/bin/env python3
"""ciu-dhis2-bridge alone against DHIS2 2.38 to 2.43 (and an unknown 2.44).

Usage: test_dhis2_versions.py [sqlite|postgres]
For each version the fake answers in that version's dialect (search
parameters, envelopes, error shapes) and refuses the other dialect's
parameters, so the bridge must read /api/system/info and speak the right one:
queued registrations (two of them people already in DHIS2, one in lower case
and not enrolled, one enrolled) all sync, each person once, enrolled.
Also: without DHIS2_BASE_URL the bridge keeps rows pending and says so once;
with DHIS2_BASE_URL but a missing or malformed setting it stops at start
with one line naming the variable (exit 78). Potential duplicates: a pair
DHIS2 already holds, one it refuses to merge automatically, one whose other
CIU is not in DHIS2, a flag. Two bridge replicas on one store: each
person once.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from dhis2_helpers import (CIU_ATTR, FakeDhis2, admin, bridge_env, cius, log_text,  # noqa: E402
                           migrate, query, seed_queued, sync_rows, wait_for)
from stack import Stack, TestFailure, check  # noqa: E402

VERSIONS = ["2.38.1", "2.39.3", "2.40.4.1", "2.41.1", "2.42.0", "2.43.0", "2.44.0"]
COUNT = 60


def one_version(backend, version):
    fake = FakeDhis2(version)
    stack = Stack("dhis2-v" + version.replace(".", "-"), backend, bridge_env(fake))
    ok = False
    try:
        migrate(stack)
        all_cius = cius(COUNT, seed=7)
        lower = fake.entity({CIU_ATTR: all_cius[0].lower()})
        enrolled = fake.entity({CIU_ATTR: all_cius[1]}, enrolled=True)
        seed_queued(stack, all_cius)
        stack.start_daemon("ciu-dhis2-bridge")
        stack.wait_healthy("ciu-dhis2-bridge")
        wait_for(lambda: all(r[0] == "synced" for r in sync_rows(stack).values()), 60,
                 "every registration synced with DHIS2 %s" % version)
        rows = sync_rows(stack)
        check(rows[all_cius[0]][1] == lower and str(rows[all_cius[0]][2]) == "1",
              "the lower-case person was not linked: %r" % (rows[all_cius[0]],))
        check(rows[all_cius[1]][1] == enrolled and str(rows[all_cius[1]][2]) == "1",
              "the enrolled person was not linked: %r" % (rows[all_cius[1]],))
        st = fake.state()
        check(len(st["trackedEntities"]) == COUNT, "%d people in DHIS2, expected %d" % (
            len(st["trackedEntities"]), COUNT))
        by_te = {}
        for e in st["enrollments"]:
            by_te[e["trackedEntity"]] = by_te.get(e["trackedEntity"], 0) + 1
        check(len(by_te) == COUNT and set(by_te.values()) == {1},
              "enrollments per person: %r" % sorted(set(by_te.values())))
        text = log_text(stack)
        minor = min(int(version.split(".")[1]), 43)
        check("(API of 2.%d)" % minor in text, "the bridge did not say which API it uses")
        if version == "2.44.0":
            check("which ciu does not know" in text and "(assumed)" in text,
                  "an unknown version was not reported as assumed")
        bad = [c for c in st["log"] if c["status"] >= 400]
        check(not bad, "calls DHIS2 %s refused: %r" % (version, bad[:5]))
        codes = stack.stop()
        check(codes.get("ciu-dhis2-bridge") == 0, "bridge exit code %r" % codes)
        ok = True
        print("DHIS2 %s [%s]: %d synced (2 linked), %d calls" % (version, backend, COUNT,
                                                                 len(st["log"])))
    except Exception:
        stack.stop()
        stack.dump_logs()
        fake.dump()
        raise
    finally:
        fake.stop()
        if ok:
            stack.cleanup()
        else:
            sys.stderr.write("test folder kept: %s\n" % stack.dir)


def duplicates(backend):
    """Potential duplicates: a pair DHIS2 already has (409), a pair DHIS2 will not
    merge automatically, one whose other CIU never reached DHIS2, a flag."""
    fake = FakeDhis2("2.42.0")
    stack = Stack("dhis2-dups", backend, bridge_env(fake, DHIS2_AUTO_MERGE="true"))
    ok = False
    try:
        migrate(stack)
        c = cius(4, seed=300)
        seed_queued(stack, c)
        stack.start_daemon("ciu-dhis2-bridge")
        stack.wait_healthy("ciu-dhis2-bridge")
        wait_for(lambda: all(r[0] == "synced" for r in sync_rows(stack).values()), 30,
                 "registrations synced")
        te = {k: v[1] for k, v in sync_rows(stack).items()}
        status, _ = fake.api("POST", "/api/potentialDuplicates",
                             {"original": te[c[1]], "duplicate": te[c[2]]})
        check(status == 200, "setting up a pair in the fake: %s" % status)
        now = int(time.time() * 1000)
        rows = [("number_other_ciu", c[2], c[1], "u1"), ("number_other_ciu", c[3], c[0], "u2"),
                ("number_other_ciu", c[0], "ZZZZZZ9ZZ9", "u3"),
                ("same_ciu_other_number", c[0], None, "u4")]
        for kind, ciu, other, user in rows:
            other_sql = "NULL" if other is None else "'%s'" % other
            query(stack, "INSERT INTO duplicates (kind, ciu, other_ciu, user_key, created_ms, "
                         "status) VALUES ('%s', '%s', %s, '%s', %d, 'open')"
                  % (kind, ciu, other_sql, user, now))
        def states():
            got = query(stack, "SELECT kind, ciu, other_ciu, status, last_error FROM "
                               "dhis2_duplicates")
            return got if len(got) == 4 and all(r[3] != "pending" for r in got) else None
        got = {(r[1], r[2] or ""): r for r in wait_for(states, 30, "duplicates sent")}
        check(got[(c[2], c[1])][3] == "flagged", "pair already in DHIS2: %r" % (got,))
        r = got[(c[3], c[0])]
        check(r[3] == "flagged" and "cannot be merged automatically" in (r[4] or ""),
              "auto-merge refused by DHIS2 should leave the pair open: %r" % (r,))
        check(got[(c[0], "ZZZZZZ9ZZ9")][3] == "skipped", "pair with a CIU not in DHIS2")
        check(got[(c[0], "")][3] == "flagged", "flag: %r" % (got[(c[0], "")],))
        st = fake.state()
        check(len(st["trackedEntities"]) == 4, "DHIS2 merged people by itself")
        check(len(st["potentialDuplicates"]) == 2 and
              all(d["status"] == "OPEN" for d in st["potentialDuplicates"]),
              "potential duplicates in DHIS2: %r" % st["potentialDuplicates"])
        flagged = [t for t in st["trackedEntities"] if t.get("potentialDuplicate")]
        check([t["trackedEntity"] for t in flagged] == [te[c[0]]], "flagged: %r" % flagged)
        codes = stack.stop()
        check(codes.get("ciu-dhis2-bridge") == 0, "bridge exit code %r" % codes)
        ok = True
        print("duplicates [%s]: pair known (409), auto-merge refused, skipped, flag" % backend)
    except Exception:
        stack.stop()
        stack.dump_logs()
        fake.dump()
        raise
    finally:
        fake.stop()
        if ok:
            stack.cleanup()


def replicas(backend):
    """Two bridges on one store: every registration synced once, both working."""
    fake = FakeDhis2("2.42.0", delay_ms=60)
    stack = Stack("dhis2-replicas", backend, bridge_env(fake, DHIS2_BATCH_SIZE=10,
                                                       DHIS2_CONCURRENCY=2))
    sock = os.path.join(stack.dir, "s")
    stack.env["CIU_DHIS2_ENDPOINTS"] = "ipc://%s/dhis2,ipc://%s/dhis2b" % (sock, sock)
    second = None
    ok = False
    try:
        migrate(stack)
        n = 300
        seed_queued(stack, cius(n, seed=500))
        env2 = dict(stack.env, CIU_BIND="ipc://%s/dhis2b" % sock,
                    CIU_DHIS2_EVENTS="ipc://%s/ev-dhis2b" % sock)
        log2 = open(os.path.join(stack.dir, "bridge-b.log"), "wb")
        second = subprocess.Popen([stack.binary("ciu-dhis2-bridge"), "--port-file",
                                   os.path.join(stack.dir, "b.ports")], cwd=stack.dir, env=env2,
                                  stdout=log2, stderr=subprocess.STDOUT)
        log2.close()
        stack.start_daemon("ciu-dhis2-bridge")
        wait_for(lambda: all(r[0] == "synced" for r in sync_rows(stack).values()), 90,
                 "every registration synced by two bridges")
        st = fake.state()
        values = [t["attributes"].get(CIU_ATTR) for t in st["trackedEntities"]]
        check(len(values) == n and len(set(values)) == n, "%d people for %d CIUs" % (
            len(values), n))
        text_a = log_text(stack)
        text_b = open(os.path.join(stack.dir, "bridge-b.log"), errors="replace").read()
        check("synced: tracked entity" in text_a and "synced: tracked entity" in text_b,
              "one of the two bridges did nothing")
        check(len(query(stack, "SELECT replica FROM dhis2_bridges")) == 2, "bridge states")
        second.terminate()
        check(second.wait(30) == 0, "second bridge exit code")
        codes = stack.stop()
        check(codes.get("ciu-dhis2-bridge") == 0, "bridge exit code %r" % codes)
        ok = True
        print("replicas [%s]: %d registrations, two bridges, each person once" % (backend, n))
    except Exception:
        stack.stop()
        stack.dump_logs()
        fake.dump()
        raise
    finally:
        if second and second.poll() is None:
            second.kill()
            second.wait()
        fake.stop()
        if ok:
            stack.cleanup()


def not_configured(backend):
    stack = Stack("dhis2-off", backend, {"LOG_LEVEL": "info"})
    ok = False
    try:
        migrate(stack)
        seed_queued(stack, cius(5, seed=100))
        stack.start_daemon("ciu-dhis2-bridge")
        stack.wait_healthy("ciu-dhis2-bridge")
        wait_for(lambda: all(r[0] == "pending" for r in sync_rows(stack).values()), 20,
                 "rows accepted as pending")
        seed_queued(stack, cius(3, seed=200))
        wait_for(lambda: len(sync_rows(stack)) == 8 and
                 all(r[0] == "pending" for r in sync_rows(stack).values()), 20,
                 "later rows accepted as pending")
        text = log_text(stack)
        check(text.count("DHIS2 not configured") == 1, "'not configured' said %d times" %
              text.count("DHIS2 not configured"))
        code, out, err = admin(stack, "dhis2", "status")
        check(code == 0 and "not configured" in out and "pending:          8" in out,
              "status without DHIS2: %s %s" % (out, err))
        state = query(stack, "SELECT state FROM dhis2_bridges")
        check([tuple(s) for s in state] == [("not_configured",)], "bridge state %r" % state)
        codes = stack.stop()
        check(codes.get("ciu-dhis2-bridge") == 0, "bridge exit code %r" % codes)
        ok = True
        print("not configured [%s]: rows kept pending, said once" % backend)
    except Exception:
        stack.stop()
        stack.dump_logs()
        raise
    finally:
        if ok:
            stack.cleanup()


def bad_settings(backend):
    fake = FakeDhis2()
    try:
        cases = [("DHIS2_PROGRAM", ""), ("DHIS2_TRACKED_ENTITY_TYPE", "not-a-uid"),
                 ("DHIS2_API_TOKEN", ""), ("DHIS2_ORG_UNIT_MAP", "/nonexistent/map.tsv"),
                 ("DHIS2_GENDER_VALUES", "1=Male,7=Other")]
        for var, value in cases:
            stack = Stack("dhis2-bad", backend, bridge_env(fake, **{var: value}))
            try:
                exe = stack.binary("ciu-dhis2-bridge")
                p = subprocess.run([exe], cwd=stack.dir, env=stack.env, capture_output=True,
                                   text=True, timeout=60)
                lines = [l for l in (p.stdout + p.stderr).splitlines() if "level=error" in l]
                want = "DHIS2_API_TOKEN" if var == "DHIS2_API_TOKEN" else var
                check(p.returncode == 78, "%s=%r: exit %d, expected 78" % (var, value,
                                                                           p.returncode))
                check(len(lines) == 1 and want in lines[0],
                      "%s=%r: expected one error line naming it, got %r" % (var, value, lines))
            finally:
                stack.cleanup()
        print("bad settings: the bridge stops at start naming the variable (%d cases)" %
              len(cases))
    finally:
        fake.stop()


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    try:
        for v in VERSIONS:
            one_version(backend, v)
        duplicates(backend)
        replicas(backend)
        not_configured(backend)
        bad_settings(backend)
    except TestFailure as e:
        print("FAIL dhis2-versions [%s]: %s" % (backend, e))
        print("dhis2-versions [%s]: 0 passed, 1 failed" % backend)
        return 1
    print("dhis2-versions [%s]: 1 passed, 0 failed" % backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
