#!/usr/bin/env python3
"""Fault tests under load: the real stack keeps its promises while a background
load of whole conversations (tests/harness/load.py: signed Meta webhooks, one
CIU per person) goes through it and things break.

Usage: test_faults.py kill sqlite|postgres | outages | pg_restart | disk_full | flood | knobs

- kill: each daemon in turn killed with SIGKILL and restarted mid-load (the
  sender while a provider call is in flight): every conversation completes,
  replies in order, each CIU issued and synced to DHIS2 once, every message
  handled; a reply sent twice only for a call in flight at the kill, and no
  more than send_resends_total counted.
- outages (PostgreSQL): the provider answers 503, then 429 with Retry-After,
  while DHIS2 answers 503: retries back off (gaps grow, Retry-After waited),
  only probes reach DHIS2 while its circuit is open; afterwards everything is
  delivered in order per person and synced, nobody created twice. The outages
  last ~12 s + ~8 s instead of "a minute" or "several minutes": what a longer
  outage adds is more of the same backoff (its cap is unit-tested in
  test_snd_provider / test_dhis), and make test must stay short.
- pg_restart: PostgreSQL (a server of this test's own) restarted mid-load:
  webhooks during the outage get 503, never 200; every webhook answered 200 is
  handled in the end; every daemon is still the same process and resumed.
- disk_full (SQLite): the data folder is a small tmpfs that gets full: webhooks
  are refused (503) with a plain "disk full" log line, everything acknowledged
  is handled once space is back, PRAGMA integrity_check says ok.
- flood (SQLite): one number sending as fast as it can (aiming at 1,000/s)
  while 20 others hold their conversations: the flooder is warned once,
  everyone else completes. Their reply p99 flooded and unflooded is printed,
  not asserted (timing belongs to bench/webhook_bench.py --flood).
- knobs: CIU_HTTP_MAX_CONN_PER_IP refuses the connection over the limit and
  frees the slot when one closes; CIU_SQLITE_SYNCHRONOUS=normal runs.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import providers as P  # noqa: E402
import stack as harness  # noqa: E402
from dhis2_helpers import CIU_ATTR, FakeDhis2, bridge_env, metrics  # noqa: E402
from load import Load, flood, pct, reply_text  # noqa: E402
from stack import DAEMONS, Person, Stack, check, query, run, wait_for  # noqa: E402

FLOOD_WARNING = "trop de messages"
# The background load: people playing whole conversations, and their arrival rate in
# messages/s. The sanitizer build on 2 shared cores keeps up with about this much on SQLite
# (docs/testing.md); CIU_FAULTS_PEOPLE / CIU_FAULTS_RATE override it to measure.
PEOPLE = int(os.environ.get("CIU_FAULTS_PEOPLE", "60"))
RATE = float(os.environ.get("CIU_FAULTS_RATE", "30"))


def meta_env(fake):
    return {"META_ACCESS_TOKEN": P.META_TOKEN, "META_PHONE_NUMBER_ID": P.META_PHONE_NUMBER_ID,
            "META_APP_SECRET": P.META_APP_SECRET, "META_VERIFY_TOKEN": "faults",
            "META_GRAPH_BASE_URL": fake.base, "CIU_META_MAX_MPS": "10000", "LOG_LEVEL": "info"}


def log_text(stack, name):
    return open(stack.logs[name], errors="replace").read()


def pids(stack):
    return {n: p.pid for n, p in stack.procs.items() if p.poll() is None}


def all_handled(stack):
    """Nothing left unfinished in the store: every message handled, every reply sent."""
    wait_for(lambda: all(query(stack, "SELECT count(*) FROM " + t) == [("0",)] for t in (
        "inbox WHERE status = 0", "ciu_requests", "ciu_done", "outbox WHERE status IN (0, 3)")),
        timeout=60, what="all work done")


def cius_once(stack, load):
    """The registry holds each person's CIU once, asked for once."""
    reg = {r[0]: r[1] for r in query(stack, "SELECT ciu, request_count FROM registry")}
    want = {load.script[n][1] for n in load.numbers}
    check(set(reg) >= want and all(reg[c] == "1" for c in want),
          "registry: %d of %d CIUs, counts %r" % (len(want & set(reg)), len(want),
                                                 sorted(set(reg[c] for c in want if c in reg))))


def synced_once(stack, dhis2, load, timeout=90):
    """Every CIU synced to DHIS2, and each person exists there exactly once."""
    want = {load.script[n][1] for n in load.numbers}
    wait_for(lambda: {r[0] for r in query(stack, "SELECT ciu FROM dhis2_sync WHERE status = "
                                                 "'synced'")} >= want,
             timeout, "every CIU synced to DHIS2")
    tes = {}
    for te in dhis2.state()["trackedEntities"]:
        c = te["attributes"].get(CIU_ATTR, "").upper()
        tes[c] = tes.get(c, 0) + 1
    twice = {c: k for c, k in tes.items() if k != 1}
    check(not twice and set(tes) >= want, "DHIS2: created twice %r, missing %d" % (
        twice, len(want - set(tes))))


def sender_resends(stack):
    """Replies the sender counted as possibly sent twice (a call in flight when it was killed,
    or left unanswered by a slow provider): outbox.resends, which outlives the process; the
    running sender's send_resends_total is printed beside it."""
    stored = int(query(stack, "SELECT COALESCE(SUM(resends), 0) FROM outbox")[0][0])
    metric = int(metrics(stack, "ciu-sender").get("ciu_send_resends_total", 0))
    print("resends counted: outbox.resends %d, send_resends_total of the running sender %d" % (
        stored, metric))
    return stored


def with_fakes(name, backend, scenario, env=None, dhis2=False, stack_class=None):
    """Run scenario(stack, fake, dhis2) with the fake Graph API (and DHIS2)."""
    fake = P.start_meta()
    fake.control(statuses=False)
    d = FakeDhis2("2.41.1") if dhis2 else None
    e = meta_env(fake)
    if d:
        e.update(bridge_env(d))
    e.update(env or {})

    def test(stack):
        try:
            scenario(stack, fake, d)
        except Exception:
            if d:
                d.dump()
            with open(os.path.join(stack.dir, "fake_calls.json"), "w") as f:
                json.dump(fake.calls(), f)  # kept with the logs for a look
            raise
    try:
        return run(test, "faults-" + name, backend, e, stack_class=stack_class)
    finally:
        fake.stop()
        fake.cleanup()
        if d:
            d.stop()


# ---- kill each daemon in turn ------------------------------------------------------------

def kill_scenario(stack, fake, dhis2):
    load = Load(stack, fake, people=PEOPLE, rate=RATE).start()
    t0 = time.time()
    try:
        for name in ("ciu-conversation", "ciu-engine", "ciu-dhis2-bridge", "ciu-sender",
                     "ciu-ingress"):
            load.wait_progress(25)
            if name == "ciu-sender":
                # a provider call in flight at the kill: it may be sent again (counted)
                fake.control(delay_ms=400)
                wait_for(lambda: fake.state()["in_flight"] > 0, 20, "a provider call in flight")
            check(stack.kill(name) == -signal.SIGKILL, "%s not killed" % name)
            if name == "ciu-sender":
                fake.control(delay_ms=0)
            stack.restart(name)
            print("%5.1f s: %s killed and restarted (%d replies so far)" % (
                time.time() - t0, name, load.replies_count()))
        load.wait_done(150)
    finally:
        load.stop()
    print(load.summary())
    all_handled(stack)
    dups = load.check(resends=sender_resends(stack))
    print("replies delivered twice: %d" % dups)
    cius_once(stack, load)
    synced_once(stack, dhis2, load)


# ---- provider and DHIS2 down ---------------------------------------------------------------

def gaps_by_person(calls, status_ok):
    """{recipient: [(time, status)]} of the calls the predicate selects, in order."""
    out = {}
    for c in calls:
        if status_ok(c["status"]):
            out.setdefault(c.get("to"), []).append((c["time"], c["status"],
                                                    (c.get("response_headers") or {})))
    return out


def outages_scenario(stack, fake, dhis2):
    load = Load(stack, fake, people=PEOPLE, rate=RATE).start()
    try:
        load.wait_progress(40)
        seq0 = fake.calls()[-1]["seq"] if fake.calls() else 0
        # provider 5xx (Meta behind a failing edge) and DHIS2 down at once
        dhis2.fault(503, -1, "/api/")
        fake.control(faults=[{"status": 503, "code": 2, "count": 100000}])
        t_down = time.time()
        wait_for(lambda: "circuit open" in log_text(stack, "ciu-dhis2-bridge"), 30,
                 "the DHIS2 circuit to open")
        n_dhis2 = len(dhis2.state()["log"])
        wait_for(lambda: time.time() - t_down >= 12, 20, "12 s of provider 5xx")
        # then 429 with Retry-After: 2 s for every call
        fake.control(faults=[{"status": 429, "code": 130429, "retry_after": 2,
                                          "count": 100000}])
        t_429 = time.time()
        wait_for(lambda: time.time() - t_429 >= 8, 12, "8 s of 429")
        fake.control(faults=[])
        dhis2_calls = dhis2.state()["log"][n_dhis2:]
        dhis2.clear_faults()
        load.wait_done(150)
    finally:
        load.stop()
    print(load.summary())
    calls = [c for c in fake.calls("messages") if c["seq"] > seq0]
    # 503: each person's retries back off (1 s, 2 s, 4 s ... with jitter in [d/2, d])
    refused = gaps_by_person(calls, lambda s: s == 503)
    checked = 0
    for to, tries in refused.items():
        for j in range(1, len(tries)):
            gap = tries[j][0] - tries[j - 1][0]
            floor = 0.5 * min(2 ** (j - 1), 300) * 0.9
            check(gap >= floor, "%s: retry %d after %.2f s, backoff wants >= %.2f s" % (
                to, j, gap, floor))
            checked += 1
    check(checked >= 10, "too few retries during the 5xx outage to check backoff: %d" % checked)
    # 429 + Retry-After: 2: the next call to that person waits at least 2 s
    by_to = gaps_by_person(calls, lambda s: True)
    waited = 0
    for to, tries in by_to.items():
        for j in range(len(tries) - 1):
            if tries[j][1] == 429:
                gap = tries[j + 1][0] - tries[j][0]
                check(gap >= 1.9, "%s: called again %.2f s after a 429 with Retry-After: 2"
                      % (to, gap))
                waited += 1
    check(waited >= 5, "too few 429s followed by a retry: %d" % waited)
    # DHIS2: only the breaker's probes while it was down
    check(dhis2_calls and all(c["path"] == "/api/system/info" for c in dhis2_calls),
          "calls other than probes reached DHIS2 while its circuit was open: %r" %
          [c["path"] for c in dhis2_calls if c["path"] != "/api/system/info"][:5])
    check(log_text(stack, "ciu-dhis2-bridge").count("DHIS2 unreachable") == 1,
          "the DHIS2 outage was not logged exactly once")
    print("backoff checked on %d retries after 503, Retry-After on %d; %d DHIS2 probes" % (
        checked, waited, len(dhis2_calls)))
    all_handled(stack)
    load.check(resends=sender_resends(stack))
    cius_once(stack, load)
    synced_once(stack, dhis2, load)


# ---- PostgreSQL restarted ------------------------------------------------------------------

def pg_restart_main():
    own = harness.OwnPostgres("ciu-pgrestart-", "ciu_restart")

    def scenario(stack, fake, dhis2):
        before = pids(stack)
        load = Load(stack, fake, people=PEOPLE, rate=RATE).start()
        try:
            load.wait_progress(40)
            with load.lock:
                n_log = len(load.log)
            own.stop()
            t_stop = time.time()
            # a webhook while the server is down is refused, never acknowledged
            body = P.meta_body(P.meta_inbound_payload(
                messages=[P.meta_text("243839999999", "Bonjour")]))
            status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body,
                                       P.meta_headers(body, P.META_APP_SECRET))
            check(status == 503, "a webhook with PostgreSQL down answered %s" % status)
            wait_for(lambda: any(s != 200 for _, _, _, s in load.log[n_log:]), 20,
                     "the load to meet the outage")
            own.start()
            print("PostgreSQL down for %.1f s" % (time.time() - t_stop))
            load.wait_done(150)
        finally:
            load.stop()
        print(load.summary())
        during = [s for t, _, _, s in load.log if t >= t_stop]
        print("load webhooks from the stop on: %d, refused %d" % (
            len(during), sum(1 for s in during if s != 200)))
        after = pids(stack)
        check(after == before, "a daemon died or was replaced: %r -> %r" % (before, after))
        for name in DAEMONS:
            stack.wait_healthy(name, timeout=30)
        # the refused webhook, retried by the provider, is stored now
        status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body,
                                   P.meta_headers(body, P.META_APP_SECRET))
        check(status == 200, "the retried webhook answered %s" % status)
        all_handled(stack)
        load.check(resends=sender_resends(stack))
        cius_once(stack, load)

    try:
        return with_fakes("pg-restart", "postgres-own", scenario, env={"DATABASE_URL": own.url})
    finally:
        own.destroy()


# ---- SQLite disk full ------------------------------------------------------------------------

MOUNTED = []  # the tmpfs data folders still mounted


class TmpfsStack(Stack):
    """The stack with its data folder on a tmpfs of a few megabytes."""
    SIZE = "24m"

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        os.makedirs(self.data)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0750" % self.SIZE,
                        "ciu-faults", self.data], check=True)
        MOUNTED.append(self)

    def cleanup(self):
        self.unmount()
        super().cleanup()

    def unmount(self):
        """Unmount the tmpfs (a copy of what it held is kept beside it when the test failed)."""
        if os.path.ismount(self.data):
            if os.path.exists(os.path.join(self.data, "ciu.db")):
                shutil.copytree(self.data, self.data + "-copy", dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("filler"))
            subprocess.run(["umount", self.data])
            MOUNTED.remove(self)


def fill(path):
    """Write zeros to path until the file system is full; returns the bytes written."""
    n = 0
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                n += f.write(chunk)
        except OSError:
            pass
        try:
            while True:
                n += f.write(b"\0" * 512)
        except OSError:
            pass
    return n


def disk_full_scenario(stack, fake, dhis2):
    before = pids(stack)
    filler = os.path.join(stack.data, "filler")
    load = Load(stack, fake, people=30, rate=20).start()
    probes = []

    def probe(i):
        """A new message with a long text (grows the WAL); its status."""
        number = "24384%07d" % i
        body = P.meta_body(P.meta_inbound_payload(messages=[P.meta_text(number, "x" * 3000)]))
        status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body,
                                   P.meta_headers(body, P.META_APP_SECRET))
        probes.append((number, body, status))
        return status
    try:
        load.wait_progress(30)
        with load.lock:
            n_log = len(load.log)
        print("filled %d bytes" % fill(filler))
        t_full = time.time()
        wait_for(lambda: probe(len(probes)) == 503, 60, "a webhook refused with the disk full",
                 interval=0.01)
        print("first refusal %.1f s after the disk was full, after %d probes" % (
            time.time() - t_full, len(probes)))
        wait_for(lambda: "disk full" in log_text(stack, "ciu-ingress"), 10, "a disk full line")
        # the load meets it too: refused, retried (never acknowledged and lost)
        wait_for(lambda: sum(1 for _, _, _, s in load.log[n_log:] if s != 200) >= 10, 30,
                 "the load to be refused")
        # space comes back: new webhooks are stored again, and the load completes
        os.unlink(filler)
        wait_for(lambda: probe(len(probes)) == 200, 60, "a webhook stored after space is back",
                 interval=0.2)
        load.wait_done(150)
    finally:
        load.stop()
        if os.path.exists(filler):
            os.unlink(filler)
    print(load.summary())
    log = log_text(stack, "ciu-ingress")
    line = [l for l in log.splitlines() if "disk full" in l][0]
    print("ingress said: " + line[:300])
    check("SQLITE_FULL" in log, "no log line naming SQLITE_FULL")
    for name in DAEMONS:
        lines = [l for l in log_text(stack, name).splitlines()
                 if "full" in l and "level=error" in l or "level=warn" in l and "full" in l]
        print("%s: %d lines about the full disk%s" % (name, len(lines),
                                                      (", e.g. " + lines[0][:240]) if lines else ""))
    # every refused probe retried (as the provider would), every acknowledged one handled
    for number, body, status in probes:
        if status != 200:
            wait_for(lambda: P.post_json(stack.base + "/whatsapp/webhook", body,
                                         P.meta_headers(body, P.META_APP_SECRET))[0] == 200,
                     30, "a refused webhook stored on retry")
    all_handled(stack)
    got = {r[0] for r in query(stack, "SELECT provider_id FROM inbox")}
    want = {json.loads(b)["entry"][0]["changes"][0]["value"]["messages"][0]["id"]
            for _, b, _ in probes}
    check(want <= got, "%d probes missing from the inbox" % len(want - got))
    check(pids(stack) == before, "a daemon died on the full disk")
    load.check(resends=sender_resends(stack))
    cius_once(stack, load)
    con = sqlite3.connect(os.path.join(stack.data, "ciu.db"))
    ok = con.execute("PRAGMA integrity_check").fetchall()
    con.close()
    check(ok == [("ok",)], "integrity_check: %r" % ok[:5])


def disk_full_main():
    if os.geteuid() != 0 and not os.environ.get("CIU_FAULTS_UNSHARED"):
        # a private mount namespace where we may mount a tmpfs (the daemons run in it too)
        os.environ["CIU_FAULTS_UNSHARED"] = "1"
        os.execvp("unshare", ["unshare", "--user", "--map-root-user", "--mount",
                              sys.executable] + sys.argv)
    try:
        return with_fakes("disk-full", "sqlite", disk_full_scenario, stack_class=TmpfsStack)
    finally:
        for st in list(MOUNTED):  # a failed test keeps its folder, not a mount
            st.unmount()


# ---- one number flooding ---------------------------------------------------------------------

def flood_scenario(stack, fake, dhis2):
    # without a flood: the reference figure
    calm = Load(stack, fake, people=20, rate=20, first=0).start()
    try:
        calm.wait_done(90)
    finally:
        calm.stop()
    calm.check(resends=sender_resends(stack))
    # the same again, with one number flooding meanwhile
    flooder = "243850000001"
    stop = threading.Event()
    loud = Load(stack, fake, people=20, rate=20, first=20, prefix="2438301").start()
    try:
        sent, took, statuses = flood(stack, flooder, 1000, 6, stop)
        loud.wait_done(120)
    finally:
        stop.set()
        loud.stop()
    loud.check(resends=sender_resends(stack))
    print("flooder: %d messages in %.1f s (%.0f/s), acks %r" % (sent, took, sent / took,
                                                                 statuses))
    wait_for(lambda: [c for c in fake.calls("messages") if c.get("to") == flooder and
                      FLOOD_WARNING in reply_text(c)], 60, "the flood warning")
    all_handled(stack)
    warned = [c for c in fake.calls("messages") if c.get("to") == flooder and
              FLOOD_WARNING in reply_text(c)]
    check(len(warned) == 1, "the flooder was warned %d times" % len(warned))
    replies = [reply_text(c) for c in fake.calls("messages") if c.get("to") == flooder and
               200 <= c["status"] < 300]
    # answers to its first 20 messages (CIU_FLOOD_MAX_MESSAGES, at most 2 replies each), the
    # warning, then nothing: every later message is dropped
    check(len(replies) <= 2 * 20 + 1 and FLOOD_WARNING in replies[-1],
          "the flooder got %d replies, the last %r" % (len(replies), replies[-1][:60]))
    shed = int(metrics(stack, "ciu-ingress").get("ciu_webhook_flood_shed_total", 0))
    stored = int(query(stack, "SELECT count(*) FROM inbox WHERE channel = 'meta'")[0][0]) - 40 * 7
    print("flooder's messages: %d dropped by ingress before the store, %d stored" % (
        shed, stored))
    check(shed > 0 and stored <= 2 * 20 + 5, "ingress stored %d of the flooder's messages" % stored)
    a, b = pct(calm.reply_latencies(), 99), pct(loud.reply_latencies(), 99)
    print("others' reply p99: %.0f ms unflooded, %.0f ms flooded (x%.1f); p50 %.0f / %.0f ms" % (
        a * 1000, b * 1000, b / a if a else 0, pct(calm.reply_latencies(), 50) * 1000,
        pct(loud.reply_latencies(), 50) * 1000))


# ---- knobs -----------------------------------------------------------------------------------

def knobs_scenario(stack, fake, dhis2):
    port = int(stack.base.rsplit(":", 1)[1])
    check("at most 4 connections per client address" in log_text(stack, "ciu-ingress"),
          "the limit is not in ingress's start line")

    def health(sock):
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ConnectionResetError, socket.timeout):
            pass
        return data

    held = []
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        check(health(s).startswith(b"HTTP/1.1 200"), "a connection under the limit refused")
        held.append(s)
    extra = socket.create_connection(("127.0.0.1", port), timeout=5)
    check(health(extra) == b"", "the 5th connection from one address was served")
    extra.close()
    held.pop().close()

    def fifth_served():
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        ok = health(s).startswith(b"HTTP/1.1 200")
        s.close()
        return ok
    wait_for(fifth_served, 10, "a freed slot to serve a new connection", interval=0.1)
    for s in held:
        s.close()
    # SQLite synchronous=NORMAL: the whole path works
    check("CIU_SQLITE_SYNCHRONOUS=normal" in log_text(stack, "ciu-conversation"),
          "the setting is not in the effective configuration")
    load = Load(stack, fake, people=5, rate=20).start()
    try:
        load.wait_done(60)
    finally:
        load.stop()
    load.check(resends=sender_resends(stack))


def main():
    what = sys.argv[1] if len(sys.argv) > 1 else "kill"
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    if what == "kill":
        # a short lease: the reply in flight at the kill comes back within seconds
        return with_fakes("kill", backend, kill_scenario, dhis2=True,
                          env={"CIU_SEND_LEASE_SECONDS": "5"})
    if what == "outages":
        return with_fakes("outages", "postgres", outages_scenario, dhis2=True)
    if what == "pg_restart":
        return pg_restart_main()
    if what == "disk_full":
        return disk_full_main()
    if what == "flood":
        return with_fakes("flood", "sqlite", flood_scenario)
    if what == "knobs":
        return with_fakes("knobs", "sqlite", knobs_scenario,
                          env={"CIU_HTTP_MAX_CONN_PER_IP": "4", "CIU_SQLITE_SYNCHRONOUS": "normal"})
    print("usage: test_faults.py kill sqlite|postgres | outages | pg_restart | disk_full | "
          "flood | knobs")
    return 2


if __name__ == "__main__":
    sys.exit(main())
