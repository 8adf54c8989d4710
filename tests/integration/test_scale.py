#!/usr/bin/env python3
"""Scaling out without hand wiring: replicas that find each other in the store.

Usage: test_scale.py postgres|sqlite

The stack runs with CIU_DISCOVERY=store and every replica configured the
same way (no endpoint lists naming replicas: each binds any free port and
says where it is in the store), as `docker compose up --scale
conversation=3 --scale engine=2 --scale sender=2` does:
  1. the replicas find each other: stage_members lists 3 + 2 + 2 live rows,
     and each one logs its share;
  2. thirty people in bursts get each reply exactly once and in order, one
     registry row per CIU, no work left (the checks of test_concurrency);
     every conversation replica handled a share of the people;
  3. one conversation replica is killed (SIGKILL) while people are mid-way:
     the others drop it after CIU_MEMBER_TTL_MS and take its people over:
     every conversation completes;
  4. a replica that stops cleanly leaves at once (its row is deleted), and
     a new replica joins: three again.
"""
import concurrent.futures
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, HERE)
from stack import DAEMONS, Person, Stack, check, query, run, wait_for  # noqa: E402
from test_concurrency import PEOPLE, converse, person  # noqa: E402

TTL_MS = 1500
REPLICAS = {"ciu-conversation": 3, "ciu-engine": 2, "ciu-sender": 2}
EVENTS = {"ciu-conversation": "CIU_CONVERSATION_EVENTS", "ciu-engine": "CIU_ENGINE_EVENTS",
          "ciu-sender": "CIU_SENDER_EVENTS"}
STAGE = {"ciu-conversation": "conversation", "ciu-engine": "engine", "ciu-sender": "sender"}


def replica_names():
    for name, n in REPLICAS.items():
        for i in range(n):
            yield name if i == 0 else "%s#%d" % (name, i)


class Scaled(Stack):
    """Every replica started with the same settings: any free port, found in the store."""

    def __init__(self, *args):
        super().__init__(*args)
        self.env.update({"CIU_DISCOVERY": "store", "CIU_MEMBER_TTL_MS": str(TTL_MS)})

    def replica_env(self, name):
        base = name.split("#")[0]
        if base not in REPLICAS:
            return None
        return {"CIU_BIND": "tcp://127.0.0.1:*", EVENTS[base]: "tcp://127.0.0.1:*"}

    def start_daemon(self, name, env=None):
        super().start_daemon(name, env or self.replica_env(name))

    def start(self):
        names = ["ciu-ingress", "ciu-dhis2-bridge"] + list(replica_names())
        for name in names:
            self.start_daemon(name)
        for name in names:
            self.wait_healthy(name)
        return self

    def stop(self):
        codes = {}
        extra = [n for n in self.procs if n not in DAEMONS]
        for name in extra:
            p = self.procs[name]
            if p.poll() is None:
                p.terminate()
        for name in extra:
            p = self.procs[name]
            p.wait(timeout=30)
            codes[name] = p.returncode if p.returncode != -signal.SIGKILL else 0
        codes.update(super().stop())
        return codes


def live(stack, stage):
    now = int(time.time() * 1000)
    return query(stack, "SELECT member, endpoint FROM stage_members WHERE stage = ? AND "
                        "heartbeat_ms >= %d ORDER BY member" % (now - TTL_MS), (stage,))


def handled(stack, name):
    return open(stack.logs[name], errors="replace").read().count("msg=\"step ")


def scenario(stack):
    # 1. they find each other
    for name, n in REPLICAS.items():
        rows = wait_for(lambda: len(live(stack, STAGE[name])) == n and live(stack, STAGE[name]),
                        what="%d live %s replicas in stage_members" % (n, STAGE[name]))
        check(all(ep.startswith("tcp://127.0.0.1:") and not ep.endswith(":*") and
                  not ep.endswith(":0") for _, ep in rows), "advertised endpoints: %r" % rows)
    for name in replica_names():
        wait_for(lambda: "replicas of this stage: %d" % REPLICAS[name.split("#")[0]] in
                 open(stack.logs[name], errors="replace").read(),
                 what="%s to log its share" % name)

    # 2. thirty people at once, spread over the replicas
    with concurrent.futures.ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        cius = list(pool.map(lambda i: converse(stack, i), range(PEOPLE)))
    want = {c: cius.count(c) for c in set(cius)}
    reg = {r[0]: int(r[1]) for r in query(stack, "SELECT ciu, request_count FROM registry")}
    check(reg == want, "registry %r, expected %r" % (reg, want))
    wait_for(lambda: all(query(stack, "SELECT count(*) FROM " + t) == [("0",)] for t in (
        "inbox WHERE status = 0", "ciu_requests", "ciu_done", "outbox WHERE status = 0")),
        what="all work done")
    convs = [n for n in replica_names() if n.startswith("ciu-conversation")]
    share = {n: handled(stack, n) for n in convs}
    print("conversation steps per replica: %r" % share)
    check(all(v > 0 for v in share.values()), "a replica got no people: %r" % share)

    # 3. a replica dies mid-conversation: the others take its people over
    victim = convs[1]
    people = [Person(stack, "+24382%07d" % i) for i in range(12)]
    for p in people:
        p.say("Bonjour", "Question 1 sur 5")
        p.say("Kabila", "Question 2 sur 5")
    stack.kill(victim)
    killed = time.time()
    for p in people:  # their next answers are sent at once, some to a dead replica's share
        stack.send(p.number, "Joseph")
    for p in people:
        p.read(lambda t: "Question 3 sur 5" in t, timeout=30)
    took = time.time() - killed
    print("people of the killed replica answered again after %.1f s (TTL %d ms)" % (
        took, TTL_MS))
    check(len(live(stack, "conversation")) == 2, "the dead replica is still listed")
    for p in people:
        p.say("1990", "Question 4 sur 5")
        p.say("DA", "Question 5 sur 5")
        p.say("1", "KAB · JOS · 0 · DA · Homme")
        p.say("1", "KABJOS0DA1")
        texts = [m["text"] for m in p.replies]
        check(sum("Question 3 sur 5" in t for t in texts) == 1,
              "%s: question 3 asked %d times" % (p.number, sum("Question 3" in t for t in texts)))

    # 4. a clean stop leaves at once; a new replica joins
    stop = convs[2]
    stack.procs[stop].send_signal(signal.SIGTERM)
    check(stack.procs[stop].wait(timeout=30) == 0, "%s did not stop cleanly" % stop)
    check(len(query(stack, "SELECT member FROM stage_members WHERE stage = 'conversation'")) <= 2,
          "a stopped replica left its row")
    stack.start_daemon(victim)
    stack.wait_healthy(victim)
    wait_for(lambda: len(live(stack, "conversation")) == 2, what="the new replica to join")
    # ciu-tap without --connect hears every replica (their PUB endpoints come
    # from the store): a new conversation, wherever it is handled, is seen.
    tap = subprocess.Popen([os.path.join(stack.build, "tools", "ciu-tap"), "--count", "1",
                            "--timeout", "30", "conversation.started"], cwd=stack.dir,
                           env=stack.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    first = tap.stderr.readline()
    check("subscribed to" in first, "ciu-tap did not subscribe: %r" % first)
    for i in range(20):  # subscriptions are asynchronous: new people until one is heard
        Person(stack, "+2438300000%02d" % i).say("Bonjour", "Question 1 sur 5")
        if tap.poll() is not None:
            break
    out, err = tap.communicate(timeout=30)
    check(tap.returncode == 0 and "conversation.started" in out,
          "ciu-tap heard no replica: %d %r %r" % (tap.returncode, out, err[-300:]))
    check(first.count("tcp://127.0.0.1:") >= 4, "ciu-tap did not subscribe to every replica "
          "(2 conversation, 2 engine, 2 sender): %r" % first)


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "postgres"
    sys.exit(run(scenario, "scale", backend, env={"CIU_RESCAN_MS": "200"}, stack_class=Scaled))
