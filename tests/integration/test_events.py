#!/usr/bin/env python3
"""The event stream kept in the store: ciu-tap --since, CSV, and the example consumer.

Usage: test_events.py sqlite|postgres

Four people talk to the bot through the simulator while ciu-tap and the
Python example consumer (docs/examples/count_by_city.py, run with Debian's
python3-zmq and python3-msgpack) listen live:
  A and D register (conversation.started, .completed with duration_ms),
  B cancels at question 3 (conversation.abandoned "birth_year"),
  C stops at question 2 and its session expires (the purge scan announces
    conversation.abandoned "first_name").
Then a consumer that was not running replays the store: every event the
live tap saw is there once, in seq order, with no phone number; --since by
seq, by age and by date select what they say; CSV parses; a replay that
goes live misses nothing and prints nothing twice at the switch; the
example consumer counts registrations per city live and from a replay.
"""
import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
from stack import Person, SOURCE_DIR, check, db_dump, query, run, wait_for  # noqa: E402

EXAMPLE = os.path.join(SOURCE_DIR, "docs", "examples", "count_by_city.py")
DEBIAN_PY = "/usr/bin/python3"  # the example uses Debian's python3-zmq / python3-msgpack
NUMBERS = {"A": "+243810000011", "B": "+243810000012", "C": "+243810000013",
           "D": "+243810000014", "E": "+243810000015", "F": "+243810000016"}


def tap(stack, *args, **kw):
    """Run ciu-tap to completion; (exit code, stdout lines, stderr)."""
    r = subprocess.run([os.path.join(stack.build, "tools", "ciu-tap")] + list(args),
                       cwd=stack.dir, env=stack.env, capture_output=True, text=True,
                       timeout=kw.get("timeout", 60))
    return r.returncode, [l for l in r.stdout.splitlines() if l], r.stderr


def replay(stack, *args):
    code, lines, err = tap(stack, "--since", *args, "--no-follow")
    check(code == 0, "ciu-tap --since %s exited %d: %s" % (args, code, err))
    return [json.loads(l) for l in lines]


def execute(stack, sql):
    """Run one write statement on the stack's store (trusted literals only)."""
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        with con:
            con.execute(sql)
        con.close()
    else:
        query(stack, sql)


def register(p, last, first, year, city, gender, summary, ciu):
    p.say("Bonjour", "Question 1 sur 5")
    p.say(last, "Question 2 sur 5")
    p.say(first, "Question 3 sur 5")
    p.say(year, "Question 4 sur 5")
    p.say(city, "Question 5 sur 5")
    p.say(gender, summary)
    p.say("1", ciu)


def scenario(stack):
    # --- listeners, live from the start -----------------------------------------
    live_out = open(os.path.join(stack.dir, "tap-live.jsonl"), "w")
    live = subprocess.Popen([os.path.join(stack.build, "tools", "ciu-tap")], cwd=stack.dir,
                            env=stack.env, stdout=live_out, stderr=subprocess.DEVNULL)
    consumer = subprocess.Popen([DEBIAN_PY, EXAMPLE, "--connect", stack.env["CIU_ENGINE_EVENTS"],
                                 "--max", "2", "--every", "0.5"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    check(consumer.stdout.readline().strip() == '{"total": 0, "cities": {}}',
          "the example consumer did not start")

    def live_events():
        with open(live_out.name) as f:
            return [json.loads(l) for l in f if l.strip()]

    # ZeroMQ subscriptions are asynchronous: talk until the live tap hears us
    # (E's AIDE starts a conversation too: five are started in all).
    warm = Person(stack, NUMBERS["E"])
    warm.say("AIDE", "")
    wait_for(lambda: any(e["type"] == "message.received" for e in live_events()),
             what="the live tap to receive events")

    # --- four people -------------------------------------------------------------
    register(Person(stack, NUMBERS["A"]), "Mbengue", "Ibrahima", "1997", "DA", "1",
             "MBE · IBR · 7 · DA · Homme", "MBEIBR7DA1")
    b = Person(stack, NUMBERS["B"])
    b.say("Bonjour", "Question 1 sur 5")
    b.say("Kabila", "Question 2 sur 5")
    b.say("Joseph", "Question 3 sur 5")
    b.say("ANNULER", "")
    c = Person(stack, NUMBERS["C"])
    c.say("Bonjour", "Question 1 sur 5")
    c.say("Tshisekedi", "Question 2 sur 5")
    register(Person(stack, NUMBERS["D"]), "Ngalula", "Francine", "1991", "Kinshasa", "2",
             "NGA · FRA · 1 · KN · Femme", "NGAFRA1KN2")

    # C's session expires: as if its last message was three hours ago (the
    # conversation's periodic scan then announces the abandonment, once).
    stack_user = query(stack, "SELECT user_key FROM sessions WHERE step = 2")
    check(len(stack_user) == 1, "expected C alone at question 2: %r" % stack_user)
    old = int(time.time() * 1000) - 3 * 3600 * 1000
    execute(stack, "UPDATE sessions SET updated_ms = %d WHERE user_key = '%s'" % (
        old, stack_user[0][0]))
    wait_for(lambda: query(stack, "SELECT count(*) FROM events WHERE type = "
                                  "'conversation.abandoned' AND detail = 'first_name'") == [("1",)],
             what="the expired conversation to be announced as abandoned")

    # --- the example consumer counted the two registrations live ------------------
    out, err = consumer.communicate(timeout=30)
    check(consumer.returncode == 0, "example consumer exited %d: %s" % (consumer.returncode, err))
    final = json.loads(out.strip().splitlines()[-1])
    check(final == {"total": 2, "cities": {"DA": 1, "KN": 1}},
          "example consumer counted %r" % final)

    # --- a replay of everything kept ---------------------------------------------
    evs = replay(stack, "0")
    seqs = [e["seq"] for e in evs]
    check(seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq not increasing: %r" % seqs)
    ids = [e["id"] for e in evs]
    check(len(set(ids)) == len(ids), "an event is kept twice")
    by_type = {}
    for e in evs:
        by_type.setdefault(e["type"], []).append(e)
    count = {t: len(v) for t, v in by_type.items()}
    check(count.get("conversation.started") == 5, "started (A-E): %r" % count)
    check(count.get("conversation.completed") == 2, "completed: %r" % count)
    check(count.get("ciu.issued") == 2 and count.get("ciu.requested") == 2, "ciu: %r" % count)
    check(sorted(e["detail"] for e in by_type["conversation.abandoned"]) ==
          ["birth_year", "first_name"], "abandoned: %r" % by_type.get("conversation.abandoned"))
    for e in by_type["conversation.completed"]:
        check(e.get("duration_ms", 0) > 0 and e.get("user"), "completed without duration: %r" % e)
    received = [e for e in evs if e["type"] == "message.received"]
    processed = query(stack, "SELECT count(*) FROM inbox")[0][0]
    check(len(received) == int(processed), "message.received kept %d, inbox holds %s" % (
        len(received), processed))
    check(all(e["type"].split(".")[0] in ("message", "conversation", "ciu", "dhis2", "channel")
              for e in evs), "unknown types")

    # Everything heard live is kept, once (the live tap may still be catching up).
    kept = set(ids)
    wait_for(lambda: {e["id"] for e in live_events()} >= kept, what="the live tap to catch up")
    heard = live_events()
    check(len(heard) == len({e["id"] for e in heard}), "the live tap printed an event twice")
    missing = [e for e in heard if e["id"] not in kept]
    check(not missing, "heard live but not kept: %r" % missing[:3])

    # No phone number in the events, live or kept.
    dump = db_dump(stack)
    stream = open(live_out.name).read()
    for n in NUMBERS.values():
        for text in (dump, stream, json.dumps(evs)):
            check(n not in text and n[1:] not in text, "phone number %s in the events" % n)

    # --- --since selects -----------------------------------------------------------
    cut = by_type["conversation.completed"][0]["seq"]
    after = replay(stack, str(cut))
    check([e["seq"] for e in after] == [s for s in seqs if s > cut], "--since SEQ selects wrongly")
    check(len(replay(stack, "1h")) == len(evs), "--since 1h should replay everything")
    check(len(replay(stack, "2000-01-01")) == len(evs), "--since 2000-01-01 replays everything")
    check(replay(stack, "2999-01-01T00:00") == [], "--since a future date replays nothing")
    only = replay(stack, "0", "conversation.")
    check(len(only) == 9 and all(e["type"].startswith("conversation.") for e in only),
          "prefix filter: %r" % [e["type"] for e in only])

    # CSV with a header, parsed by Python's csv module.
    code, lines, err = tap(stack, "--since", "0", "--no-follow", "--format", "csv",
                           "conversation.")
    check(code == 0, "csv replay exited %d: %s" % (code, err))
    rows = list(csv.DictReader(io.StringIO("\n".join(lines) + "\n")))
    check(lines[0].startswith("seq,type,id,ts,"), "csv header: %r" % lines[0])
    check([r["id"] for r in rows] == [e["id"] for e in only], "csv rows differ from JSON")
    check(all(r["duration_ms"] for r in rows if r["type"] == "conversation.completed"),
          "csv duration_ms missing")

    # Usage errors.
    for bad in (["--since", "yesterday"], ["--no-follow"], ["--format", "xml"]):
        code, _, err = tap(stack, *bad)
        check(code == 64 and "ciu-tap:" in err, "%r: exit %d %r" % (bad, code, err))

    # --- replay, then live: nothing missed, nothing twice ------------------------
    last = seqs[-1]
    conv_after = len([e for e in only if e["seq"] > cut])
    follow = subprocess.Popen([os.path.join(stack.build, "tools", "ciu-tap"), "--since", str(cut),
                               "--count", str(conv_after + 1), "conversation."], cwd=stack.dir,
                              env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    # wait until it has replayed (it says so) before the new event happens
    line = follow.stderr.readline()
    while line and "replayed up to seq" not in line:
        line = follow.stderr.readline()
    check("replayed up to seq %d" % last in line or "replayed up to seq" in line,
          "ciu-tap did not replay: %r" % line)
    Person(stack, NUMBERS["F"]).say("Bonjour", "Question 1 sur 5")  # conversation.started, live
    out, err = follow.communicate(timeout=30)
    check(follow.returncode == 0, "replay+live tap exited %d: %s" % (follow.returncode, err))
    got = [json.loads(l) for l in out.splitlines() if l]
    check(len(got) == conv_after + 1, "replay+live printed %d events, expected %d" % (
        len(got), conv_after + 1))
    check(len({e["id"] for e in got}) == len(got), "an event printed twice at the switch")
    check(got[-1]["type"] == "conversation.started" and "seq" not in got[-1],
          "the live event did not arrive after the replay: %r" % got[-1])

    # The example consumer fed from a replay counts the same registrations.
    code, lines, err = tap(stack, "--since", "0", "--no-follow", "ciu.issued")
    r = subprocess.run([DEBIAN_PY, EXAMPLE, "--connect", stack.env["CIU_ENGINE_EVENTS"],
                        "--replay", "-", "--max", "2"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, "example consumer (replay) exited %d: %s" % (r.returncode, r.stderr))
    check(json.loads(r.stdout.splitlines()[-1]) == final, "replayed count differs: %r" % r.stdout)

    # Kept events go after CIU_RETENTION_DAYS: the conversation's purge (every
    # CIU_RETENTION_INTERVAL_S, 1 s here) deletes an event from a year ago and
    # keeps today's.
    execute(stack, "INSERT INTO events (id, type, ts_ms) VALUES ('old-event', "
                   "'conversation.started', %d)" % (int(time.time() * 1000) - 365 * 86400000))
    wait_for(lambda: query(stack, "SELECT count(*) FROM events WHERE id = 'old-event'") ==
             [("0",)], what="the retention purge to delete a year-old event")
    check(len(replay(stack, "0")) >= len(evs), "the purge deleted recent events")

    live.terminate()
    live.wait(timeout=10)
    live_out.close()


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    sys.exit(run(scenario, "events", backend, env={"CIU_RETENTION_DAYS": "30",
                                                   "CIU_RETENTION_INTERVAL_S": "1"}))
