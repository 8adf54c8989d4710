#!/usr/bin/env python3
"""ciu-admin, the operator's tool, against a real stack (docs/admin.md).

    test_admin.py sqlite|postgres

Runs the five daemons (harness/stack.py) on a SQLite file or a PostgreSQL
database, plays three conversations through the simulator API (two numbers
get the same CIU: a duplicate), then runs every command the way an operator
would: output lines, --json parsed, exit codes (64 usage, 1 not found, 69
unreachable, 78 bad configuration, 65 not a backup), French with
LANG=fr_FR.UTF-8, --help for each command; check against the fakes of Twilio
and Meta with good and bad credentials; purge on rows aged by SQL (in
batches, keeping the registry and pending work); queues with a stuck reply
that retry gets sent; export read with the csv module; backup and restore
into a new store that then passes check and lookup. No output may hold a
phone number, the salt or a token.
"""
import csv
import io
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import providers as P  # noqa: E402
from dhis2_helpers import TOKEN as DHIS2_TOKEN  # noqa: E402
from dhis2_helpers import FakeDhis2, bridge_env  # noqa: E402
from stack import Person, check, pg_url, query, run, wait_for  # noqa: E402

CIU_A = "MBEIBR7DA1"
CIU_B = "KALGED5KN2"
ANSWERS_A = [("Bonjour", "Question 1"), ("Mbengue", "Question 2"), ("Ibrahima", "Question 3"),
             ("1997", "Question 4"), ("DA", "Question 5"), ("1", "MBE · IBR"), ("1", CIU_A)]
ANSWERS_B = [("Bonjour", "Question 1"), ("Kalala", "Question 2"), ("Gedeon", "Question 3"),
             ("1985", "Question 4"), ("KN", "Question 5"), ("2", "KAL · GED"), ("1", CIU_B)]
NUMBERS = ["+243810000301", "+243810000302", "+243810000303", "+243810000304"]
SALT = "6d1f0c3b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170615e4"
VERIFY_TOKEN = "verify-me-0123456789"
DAY_MS = 86400 * 1000
COMMANDS = ["check", "gen-salt", "migrate", "status", "queues", "lookup", "registry",
            "duplicates", "export", "purge", "backup", "restore", "collisions", "channels",
            "dhis2"]


class Admin:
    """Runs ciu-admin with the stack's settings and keeps every output for the
    privacy check at the end."""

    def __init__(self, stack):
        self.stack = stack
        self.exe = os.path.join(stack.build, "tools", "ciu-admin")
        self.outputs = []

    def __call__(self, *args, env=None, expect=0, lang="en"):
        e = dict(self.stack.env)
        for k in ("LC_ALL", "LC_MESSAGES", "CIU_ADMIN_LANG"):
            e.pop(k, None)
        e["LANG"] = "fr_FR.UTF-8" if lang == "fr" else "C.UTF-8"
        e.update(env or {})
        out = subprocess.run([self.exe] + list(args), cwd=self.stack.dir, env=e,
                             capture_output=True, timeout=90)
        # decoded by hand: text=True would turn the CSV's CRLF into LF
        out.stdout = out.stdout.decode("utf-8")
        out.stderr = out.stderr.decode("utf-8")
        self.outputs.append(out.stdout + out.stderr)
        check(expect is None or out.returncode == expect,
              "ciu-admin %s exited %d (expected %s)\nstdout: %s\nstderr: %s"
              % (" ".join(args), out.returncode, expect, out.stdout, out.stderr))
        return out

    def json(self, *args, **kw):
        out = self(*args, **kw)
        try:
            return json.loads(out.stdout)
        except ValueError:
            raise AssertionError("ciu-admin %s: not JSON: %r" % (" ".join(args), out.stdout))


def sql(stack, statement):
    """Run a write statement on the stack's store (committed)."""
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        try:
            con.execute(statement)
            con.commit()
        finally:
            con.close()
        return
    subprocess.run(["psql", stack.env["DATABASE_URL"], "-v", "ON_ERROR_STOP=1", "-qc",
                    statement], check=True, capture_output=True, text=True)


def count(stack, table, where="1 = 1"):
    return int(query(stack, "SELECT COUNT(*) FROM %s WHERE %s" % (table, where))[0][0])


def now_ms():
    return int(time.time() * 1000)


def closed_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def converse(stack, number, answers):
    p = Person(stack, number)
    for text, expect in answers:
        p.say(text, expect)


# ---------------------------------------------------------------------------


def help_and_usage(admin):
    for cmd in COMMANDS:
        out = admin(cmd, "--help")
        check(out.stdout.startswith("usage: ciu-admin %s" % cmd),
              "%s --help does not print its usage: %r" % (cmd, out.stdout[:200]))
    out = admin("check", "--help", lang="fr")
    check(out.stdout.startswith("usage : ciu-admin check") or "Tout ce qu" in out.stdout,
          "check --help in French: %r" % out.stdout)
    for args in (["no-such-command"], ["lookup"], ["lookup", "NOTACIU123"], ["purge", "--days",
                 "x"], ["queues", "retry", "5"], ["queues", "retry", "--stage", "nope"],
                 ["export", "--since", "2026-02-30"], ["check", "--bogus"], ["backup"],
                 ["restore", "a", "b"]):
        out = admin(*args, expect=64)
        check(out.stderr.startswith("ciu-admin:"), "%s: no one-line error: %r" % (args, out.stderr))


def lookup(admin, stack):
    out = admin("lookup", CIU_A.lower())
    for pattern in (r"CIU:\s+%s" % CIU_A, r"requests:\s+2\b", r"numbers:\s+2\b",
                    r"duplicate \d+:.*same_ciu_other_number", r"replies sent:\s+\d+"):
        check(re.search(pattern, out.stdout), "lookup: no %r in %r" % (pattern, out.stdout))
    j = admin.json("lookup", "--json", CIU_A)
    check(j["registered"] is True and j["request_count"] == 2 and j["numbers"] == 2
          and any(d["kind"] == "same_ciu_other_number" for d in j["duplicates"])
          and j["replies"]["sent"] >= 14 and re.match(r"\d{4}-\d\d-\d\dT", j["first_seen"]),
          "lookup --json: %r" % j)
    out = admin("lookup", "ZZZZZZ0ZZ1", expect=1)
    check("not registered" in out.stdout, "lookup unknown: %r" % out.stdout)
    check(admin.json("lookup", "--json", "ZZZZZZ0ZZ1", expect=1) ==
          {"ciu": "ZZZZZZ0ZZ1", "registered": False}, "lookup --json unknown")
    out = admin("lookup", CIU_B, lang="fr")
    check(re.search(r"demandes\s*:", out.stdout) and "premi" in out.stdout,
          "lookup in French: %r" % out.stdout)
    return j


def duplicates(admin):
    dups = admin.json("duplicates", "--json")
    same = [d for d in dups if d["kind"] == "same_ciu_other_number" and d["ciu"] == CIU_A]
    check(same, "no open duplicate for %s: %r" % (CIU_A, dups))
    out = admin("duplicates", "reviewed", str(same[0]["id"]))
    check("marked reviewed" in out.stdout, "duplicates reviewed: %r" % out.stdout)
    check(all(d["id"] != same[0]["id"] for d in admin.json("duplicates", "--json")),
          "a reviewed duplicate is still listed as open")
    admin("duplicates", "reviewed", "999999", expect=1)
    admin("duplicates", "resolve", "999999", expect=1)
    out = admin("duplicates", lang="fr")
    check("doublon" in out.stdout, "duplicates in French: %r" % out.stdout)


def export(admin, stack):
    out = admin("export")
    rows = list(csv.reader(io.StringIO(out.stdout, newline="")))
    check(rows[0] == ["ciu", "city", "gender", "birth_year_digit", "first_requested",
                      "last_requested", "request_count", "dhis2_status",
                      "dhis2_tracked_entity"], "export header: %r" % rows[0])
    check("\r\n" in out.stdout, "export lines do not end with CRLF (RFC 4180)")
    by = {r[0]: r for r in rows[1:]}
    check(set(by) == {CIU_A, CIU_B}, "export rows: %r" % rows)
    check(by[CIU_A][1:4] == ["DA", "1", "7"] and by[CIU_A][6] == "2"
          and by[CIU_B][1:4] == ["KN", "2", "5"] and by[CIU_B][6] == "1"
          and re.fullmatch(r"\d{4}-\d\d-\d\d", by[CIU_A][4]), "export fields: %r" % by)
    path = os.path.join(stack.dir, "export.csv")
    admin("export", "--output", path, "--since", "2000-01-01")
    with open(path, newline="") as f:
        check(list(csv.reader(f)) == rows, "export --output differs from the standard output")
    out = admin("export", "--since", "2100-01-01")
    check(len(list(csv.reader(io.StringIO(out.stdout)))) == 1, "export --since the future")


def check_cmd(admin, stack):
    """check on the simulator-only stack, then against the fakes."""
    out = admin("check")
    for item in ("configuration", "store", "UIC_SALT", "DHIS2"):
        check(re.search(r"^ok +%s: " % item, out.stdout, re.M),
              "check: no ok line for %s: %r" % (item, out.stdout))
    j = admin.json("check", "--json")
    check(j["ok"] is True and all(set(i) == {"item", "status", "detail"} for i in j["items"]),
          "check --json: %r" % j)
    out = admin("check", lang="fr")
    check("ok    configuration" in out.stdout and "toutes les variables" in out.stdout,
          "check in French: %r" % out.stdout)
    j = admin.json("check", "--json", lang="fr")
    check(any(i["item"] == "store" for i in j["items"]), "check --json keys stay English")

    admin("check", env={"SESSION_TIMEOUT_MINUTES": "abc"}, expect=78)
    out = admin("check", env={"UIC_SALT": "change-me-change-me-change-me-change-me"}, expect=78)
    check(re.search(r"^FAIL +UIC_SALT: ", out.stdout, re.M), "placeholder salt: %r" % out.stdout)
    out = admin("check", env={"CIU_DATA_DIR": os.path.join(stack.dir, "empty"),
                              "DATABASE_URL": ""}, expect=78)
    check("ciu-admin migrate" in out.stdout, "check without a store: %r" % out.stdout)
    out = admin("check", env={"CIU_ADMIN_PASSWORD": "short"})
    check(re.search(r"^warn +CIU_ADMIN_PASSWORD", out.stdout, re.M), "short password")
    if stack.backend == "postgres":
        sock, port = closed_port()
        out = admin("check", env={"DATABASE_URL": "postgresql://ciu:pw@127.0.0.1:%d/x?"
                                                  "connect_timeout=2" % port}, expect=69)
        sock.close()
        check(re.search(r"^FAIL +store: ", out.stdout, re.M), "store down: %r" % out.stdout)

    # DHIS2: the checks of `dhis2 check`, prefixed, in the same report
    fake = FakeDhis2()
    try:
        out = admin("check", env=bridge_env(fake))
        for name in ("reachable", "authentication", "program", "dry run"):
            check(re.search(r"^ok +DHIS2 %s: " % name, out.stdout, re.M),
                  "check with DHIS2: no ok line for %s: %r" % (name, out.stdout))
        out = admin("check", env=bridge_env(fake, DHIS2_API_TOKEN="d2p_wrong"), expect=78)
        check(re.search(r"^FAIL +DHIS2 authentication: .*DHIS2_API_TOKEN", out.stdout, re.M),
              "check with a wrong DHIS2 token: %r" % out.stdout)
        sock, port = closed_port()
        out = admin("check", env=bridge_env(fake, DHIS2_BASE_URL="http://127.0.0.1:%d" % port),
                    expect=69)
        sock.close()
        check(re.search(r"^FAIL +DHIS2 reachable: ", out.stdout, re.M),
              "check with DHIS2 down: %r" % out.stdout)
    finally:
        fake.stop()

    media = os.path.join(stack.dir, "media")
    tw = P.start_twilio(media_dir=media, workdir=os.path.join(stack.dir, "fake-twilio"))
    me = P.start_meta(media_dir=media, workdir=os.path.join(stack.dir, "fake-meta"))
    try:
        twilio = {"TWILIO_ACCOUNT_SID": P.TWILIO_ACCOUNT_SID,
                  "TWILIO_AUTH_TOKEN": P.TWILIO_AUTH_TOKEN,
                  "TWILIO_WHATSAPP_NUMBER": "whatsapp:" + P.TWILIO_NUMBER,
                  "TWILIO_API_BASE_URL": tw.base, "PUBLIC_BASE_URL": stack.base}
        out = admin("check", env=twilio)
        check(re.search(r"^ok +Twilio: .*accepted", out.stdout, re.M)
              and re.search(r"^ok +webhook: ", out.stdout, re.M), "check Twilio: %r" % out.stdout)
        check(tw.calls("account"), "check made no call to Twilio's account")
        out = admin("check", env=dict(twilio, TWILIO_AUTH_TOKEN="0" * 32), expect=78)
        check(re.search(r"^FAIL +Twilio: .*TWILIO_AUTH_TOKEN", out.stdout, re.M)
              and "20003" in out.stdout, "check Twilio, wrong token: %r" % out.stdout)
        sock, port = closed_port()
        out = admin("check", env=dict(twilio, TWILIO_API_BASE_URL="http://127.0.0.1:%d" % port),
                    expect=69)
        check(re.search(r"^FAIL +Twilio: .*does not answer", out.stdout, re.M),
              "check Twilio down: %r" % out.stdout)
        out = admin("check", env=dict(twilio, PUBLIC_BASE_URL="http://127.0.0.1:%d" % port),
                    expect=69)
        sock.close()
        check(re.search(r"^FAIL +webhook: ", out.stdout, re.M), "webhook down: %r" % out.stdout)

        # Meta: ciu-ingress must know the verify token to answer the handshake.
        meta = {"META_ACCESS_TOKEN": P.META_TOKEN, "META_PHONE_NUMBER_ID": P.META_PHONE_NUMBER_ID,
                "META_APP_SECRET": P.META_APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN,
                "META_GRAPH_BASE_URL": me.base}
        stack.kill("ciu-ingress", signal.SIGTERM)
        stack.start_daemon("ciu-ingress", env=meta)
        stack.wait_healthy("ciu-ingress")
        meta["PUBLIC_BASE_URL"] = stack.base
        out = admin("check", env=meta)
        check(re.search(r"^ok +Meta: .*accepted", out.stdout, re.M)
              and re.search(r"^ok +webhook: .*challenge", out.stdout, re.M),
              "check Meta: %r" % out.stdout)
        check(P.META_DISPLAY_NUMBER not in out.stdout, "check shows the bot's whole number")
        out = admin("check", env=dict(meta, META_ACCESS_TOKEN="EAAwrong0000"), expect=78)
        check(re.search(r"^FAIL +Meta: .*META_ACCESS_TOKEN", out.stdout, re.M)
              and "190" in out.stdout, "check Meta, wrong token: %r" % out.stdout)
        out = admin("check", env=dict(meta, META_VERIFY_TOKEN="another-token-000"), expect=78)
        check(re.search(r"^FAIL +webhook: .*META_VERIFY_TOKEN", out.stdout, re.M),
              "check Meta, other verify token: %r" % out.stdout)
        out = admin("check", env=dict(meta, META_ACCESS_TOKEN="EAAwrong0000"), expect=78,
                    lang="fr")
        check(re.search(r"^FAIL +Meta\s: .*META_ACCESS_TOKEN", out.stdout, re.M),
              "check Meta in French: %r" % out.stdout)
        stack.kill("ciu-ingress", signal.SIGTERM)
        stack.start_daemon("ciu-ingress")
        stack.wait_healthy("ciu-ingress")
    finally:
        tw.stop()
        me.stop()


def queues(admin, stack):
    user = query(stack, "SELECT user_key FROM outbox ORDER BY id LIMIT 1")[0][0]
    t = now_ms()
    sql(stack, "INSERT INTO outbox (msg_id, channel, user_key, body, status, attempts, next_ms, "
               "created_ms, trace, last_error) VALUES ('stuck-1', 'sim', '%s', 'stuck reply "
               "body', 0, 2, %d, %d, 'trace-stuck', 'provider said no')"
        % (user, t + DAY_MS, t - 3600 * 1000))
    rid = int(query(stack, "SELECT id FROM outbox WHERE msg_id = 'stuck-1'")[0][0])
    j = admin.json("queues", "--json")
    sender = [s for s in j["stages"] if s["stage"] == "sender"][0]
    row = [r for r in sender["stuck_rows"] if r["id"] == rid]
    check(sender["pending"] >= 1 and sender["waiting_retry"] >= 1 and row
          and row[0]["status"] == "retry later" and row[0]["attempts"] == 2
          and row[0]["last_error"] == "provider said no" and row[0]["age_s"] >= 3500,
          "queues --json: %r" % sender)
    out = admin("queues")
    check(re.search(r"id %d: retry later, 2 attempts" % rid, out.stdout),
          "queues: no stuck row %d: %r" % (rid, out.stdout))
    check("stuck reply body" not in out.stdout, "queues shows a message body")
    out = admin("queues", lang="fr")
    check("ÉTAPE" in out.stdout or "tentatives" in out.stdout, "queues in French: %r" % out.stdout)
    admin("queues", "retry", "--stage", "sender", "999999", expect=1)
    out = admin("queues", "retry", "--stage", "sender", str(rid))
    check("due now" in out.stdout, "queues retry: %r" % out.stdout)
    wait_for(lambda: query(stack, "SELECT status FROM outbox WHERE id = %d" % rid)[0][0] == "1",
             timeout=30, what="the retried reply to be sent")
    out = admin("queues", "retry", "--stage", "engine")
    check("nothing to re-schedule" in out.stdout, "queues retry engine: %r" % out.stdout)
    j = admin.json("queues", "--json")
    check(all(r["id"] != rid for s in j["stages"] for r in s["stuck_rows"]),
          "the sent row is still listed as stuck")


def purge(admin, stack):
    t = now_ms()
    old = t - 100 * DAY_MS
    # 2500 old events: three batches of at most 1000
    if stack.backend == "sqlite":
        sql(stack, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                   "2500) INSERT INTO events (id, type, ts_ms) SELECT 'ev' || i, 'test.old', %d "
                   "FROM n" % old)
    else:
        sql(stack, "INSERT INTO events (id, type, ts_ms) SELECT 'ev' || i, 'test.old', %d FROM "
                   "generate_series(1, 2500) AS i" % old)
    sql(stack, "INSERT INTO events (id, type, ts_ms) VALUES ('new', 'test.new', %d)" % t)
    sql(stack, "UPDATE inbox SET received_ms = %d WHERE status = 1" % old)
    sql(stack, "UPDATE outbox SET created_ms = %d WHERE status IN (1, 2)" % old)
    sql(stack, "UPDATE sim_messages SET created_ms = %d" % old)
    sql(stack, "UPDATE sessions SET updated_ms = %d" % old)
    user = query(stack, "SELECT user_key FROM outbox ORDER BY id LIMIT 1")[0][0]
    # an old reply still in flight (leased for a day): unfinished work stays
    sql(stack, "INSERT INTO outbox (msg_id, channel, user_key, body, status, attempts, next_ms, "
               "created_ms, trace, lease_ms) VALUES ('inflight-old', 'sim', 'nobody', 'x', 3, 1, "
               "%d, %d, 't', %d)" % (old, old, t + DAY_MS))
    before = {tb: count(stack, tb) for tb in ("registry", "duplicates", "dhis2_sync",
                                              "number_cius", "user_cius", "events", "inbox")}
    processed = count(stack, "inbox", "status = 1")
    check(processed > 0 and count(stack, "outbox", "status = 1") > 0, "nothing to purge?")

    j = admin.json("purge", "--dry-run", "--json")
    check(j["dry_run"] is True and j["deleted"]["events"] == 2500
          and j["deleted"]["inbox"] == processed and j["deleted"]["outbox"] > 0,
          "purge --dry-run: %r (processed inbox rows: %d)" % (j, processed))
    check(count(stack, "events") == before["events"], "purge --dry-run deleted rows")
    out = admin("purge", env={"CIU_RETENTION_DAYS": "0"})
    check("nothing is deleted" in out.stdout and count(stack, "events") == before["events"],
          "CIU_RETENTION_DAYS=0: %r" % out.stdout)
    out = admin("purge", "--days", "30")
    check(re.search(r"events\s+2500", out.stdout) and re.search(r"total\s+\d+", out.stdout),
          "purge: %r" % out.stdout)
    check(count(stack, "events", "type = 'test.old'") == 0
          and count(stack, "events", "type = 'test.new'") == 1
          and count(stack, "inbox", "status = 1") == 0
          and count(stack, "outbox", "msg_id = 'inflight-old'") == 1
          and count(stack, "outbox", "status IN (1, 2)") == 0 and count(stack, "sessions") == 0
          and count(stack, "sim_messages") == 0, "purge left old rows or took pending ones")
    for tb in ("registry", "duplicates", "dhis2_sync", "number_cius", "user_cius"):
        check(count(stack, tb) == before[tb], "purge deleted rows of %s" % tb)
    j = admin.json("purge", "--json")
    check(j["total"] == 0, "a second purge found more: %r" % j)
    out = admin("purge", "--dry-run", lang="fr")
    check("supprimerait" in out.stdout, "purge in French: %r" % out.stdout)
    sql(stack, "DELETE FROM outbox WHERE msg_id = 'inflight-old'")
    # the bot still works after a purge (sessions gone: a new conversation)
    converse(stack, NUMBERS[3], ANSWERS_B)


def backup_restore(admin, stack, before):
    path = os.path.join(stack.dir, "ciu.backup")
    out = admin("backup", path)
    check(os.path.exists(path) and "backup written" in out.stdout, "backup: %r" % out.stdout)
    check(os.stat(path).st_mode & 0o077 == 0, "the backup is readable by others")
    admin("backup", path, expect=73)
    bogus = os.path.join(stack.dir, "bogus.backup")
    with open(bogus, "wb") as f:
        f.write(b"not a backup at all" * 100)
    # the live store is in use by the daemons: restore refuses
    out = admin("restore", path, expect=69)
    check("in use" in out.stderr, "restore into the live store: %r" % out.stderr)
    if stack.backend == "sqlite":
        env = {"CIU_DATA_DIR": os.path.join(stack.dir, "restored")}
    else:
        env = {"DATABASE_URL": pg_url("ciu_admin_restore_%d" % os.getpid())}
    admin("restore", bogus, env=env, expect=65)
    out = admin("restore", path, env=env)
    check("restored" in out.stdout, "restore: %r" % out.stdout)
    out = admin("check", env=env)
    check(re.search(r"^ok +store: .*up to date", out.stdout, re.M),
          "check on the restored store: %r" % out.stdout)
    after = admin.json("lookup", "--json", CIU_A, env=env)
    for k in ("first_seen", "last_seen", "request_count", "numbers", "duplicates"):
        check(after[k] == before[k], "restored lookup %s: %r, was %r" % (k, after[k], before[k]))
    check(admin("export", env=env).stdout == admin("export").stdout,
          "the restored store exports something else")


def scenario(stack):
    admin = Admin(stack)
    converse(stack, NUMBERS[0], ANSWERS_A)
    converse(stack, NUMBERS[1], ANSWERS_A)
    converse(stack, NUMBERS[3], ANSWERS_B)
    wait_for(lambda: count(stack, "outbox", "status = 0") == 0
             and count(stack, "registry") == 2, what="every reply sent")
    help_and_usage(admin)
    found = lookup(admin, stack)
    duplicates(admin)
    found = admin.json("lookup", "--json", CIU_A)
    export(admin, stack)
    check_cmd(admin, stack)
    queues(admin, stack)
    backup_restore(admin, stack, found)
    purge(admin, stack)
    text = "\n".join(admin.outputs)
    for secret in [n.lstrip("+") for n in NUMBERS] + [n[4:] for n in NUMBERS] + [
            SALT, P.TWILIO_AUTH_TOKEN, P.META_TOKEN, VERIFY_TOKEN, P.META_APP_SECRET, DHIS2_TOKEN]:
        check(secret not in text, "ciu-admin printed %r (a number or a secret)" % secret)


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    return run(scenario, "admin", backend, env={"UIC_SALT": SALT, "CIU_RESCAN_MS": "200"})


if __name__ == "__main__":
    sys.exit(main())
