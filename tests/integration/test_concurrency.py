#!/usr/bin/env python3
"""Two replicas of the conversation and of the engine on one database, many
people writing in bursts.

Usage: test_concurrency.py postgres|sqlite
Each stage's endpoint list names two replicas (CIU_BIND picks each one's
own), so ingress and the conversation shard people between them. Replica 1
of each stage is also configured as if it were alone (its own list holds
only itself), so its scans take every person's pending rows while replica 0
handles its share from the wake-ups: both replicas work on the same people
at the same time, as during a resharding or a takeover. Thirty people send
their whole conversation at once, ten CIUs shared by three numbers each.

Checks: every person gets each reply exactly once and in order, and nothing
more (a marker message is answered next); one registry row per CIU, counting
its three requests; each repeat recorded once as a duplicate; no work left
unfinished; every daemon stops cleanly.
"""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import DAEMONS, Person, Stack, check, query, run, wait_for  # noqa: E402

STAGES = {"ciu-conversation": "CIU_CONVERSATION_ENDPOINTS", "ciu-engine": "CIU_ENGINE_ENDPOINTS"}
LAST = ["Mbengue", "Kalala", "Ngalula", "Tshibanda", "Mukendi", "Ilunga", "Kabila", "Lumumba",
        "Tshisekedi", "Kasongo"]
CITIES = ["DA", "KN", "LU", "MM"]
PEOPLE = 30


class Replicas(Stack):
    """The stack with a second replica of the conversation and of the engine."""

    def __init__(self, *args):
        super().__init__(*args)
        sock = os.path.join(self.dir, "s")
        self.second = {}
        for name, var in STAGES.items():
            eps = ["ipc://%s/%s-%d" % (sock, name, i) for i in range(2)]
            self.env[var] = ",".join(eps)
            # Replica 1 binds its own endpoint and, alone in its list, scans everyone.
            self.second[name + "#1"] = {"CIU_BIND": eps[1], var: eps[1]}

    def start(self):
        for name in DAEMONS:
            self.start_daemon(name)
        for name, env in self.second.items():
            self.start_daemon(name, env)
        for name in list(DAEMONS) + list(self.second):
            self.wait_healthy(name)
        return self

    def stop(self):
        codes = {}
        for name in self.second:
            p = self.procs.get(name)
            if p is not None and p.poll() is None:
                p.terminate()
        for name in self.second:
            p = self.procs.get(name)
            if p is not None:
                p.wait(timeout=30)
                codes[name] = p.returncode
        codes.update(super().stop())
        return codes


def person(i):
    """(number, answers, expected CIU): three numbers per CIU."""
    k = i % 10
    last = LAST[k]
    first, year, city, gender = "Ibrahima", str(1990 + k), CITIES[k % 4], str(1 + k % 2)
    ciu = "%s%s%s%s%s" % (last[:3].upper(), "IBR", year[-1], city, gender)
    return "+2438100%05d" % (1000 + i), ["Bonjour", last, first, year, city, gender, "1"], ciu


def converse(stack, i):
    number, answers, ciu = person(i)
    p = Person(stack, number)
    for text in answers:  # a burst: everything at once
        stack.send(number, text)
    p.read(lambda t: ciu in t, timeout=60)
    p.no_more("CODE", ciu, timeout=60)  # after the code: the code alone (issue 11)
    order = ["bienvenue", "Question 1 sur 5", "Question 2 sur 5", "Question 3 sur 5",
             "Question 4 sur 5", "Question 5 sur 5", "%s · IBR" % ciu[:3], ciu]
    texts = [m["text"] for m in p.replies]
    check(len(texts) == len(order), "%s: %d replies: %r" % (number, len(texts),
                                                            [t[:30] for t in texts]))
    for want, text in zip(order, texts):
        check(want.lower() in text.lower(), "%s: out of order: %r in %r" % (number, want, text))
    ids = [m["id"] for m in p.replies]
    check(len(set(ids)) == len(ids), "%s: a reply delivered twice" % number)
    return ciu


def scenario(stack):
    with concurrent.futures.ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        cius = list(pool.map(lambda i: converse(stack, i), range(PEOPLE)))
    want = {c: cius.count(c) for c in set(cius)}
    check(len(want) == 10, "expected 10 distinct CIUs, got %r" % want)
    reg = {r[0]: int(r[1]) for r in query(stack, "SELECT ciu, request_count FROM registry")}
    check(reg == want, "registry %r, expected one row per CIU counting its requests %r"
          % (reg, want))
    dups = query(stack, "SELECT ciu, count(*) FROM duplicates WHERE kind = "
                        "'same_ciu_other_number' GROUP BY ciu")
    check({c: int(n) for c, n in dups} == {c: n - 1 for c, n in want.items()},
          "duplicates recorded: %r" % dups)
    check(query(stack, "SELECT count(*) FROM dhis2_sync") == [("10",)], "one DHIS2 row per CIU")
    wait_for(lambda: all(query(stack, "SELECT count(*) FROM " + t) == [("0",)] for t in (
        "inbox WHERE status = 0", "ciu_requests", "ciu_done", "outbox WHERE status = 0")),
        what="all work done")
    # The two replicas shared the work (replica 1 also scans everyone's rows, so how they
    # split it is a race: it is printed, not asserted). Every request was handled; its
    # effects exactly once is what the registry, duplicates and replies above check (a
    # transaction retried after a lost race logs its line again).
    for name, line in (("ciu-conversation", "msg=\"step "), ("ciu-engine", "msg=\"CIU ")):
        done = {i: open(stack.logs[i], errors="replace").read().count(line)
                for i in (name, name + "#1")}
        print("%s: work done per replica %r" % (name, done))
    check(sum(open(stack.logs[i], errors="replace").read().count("msg=\"CIU ")
              for i in ("ciu-engine", "ciu-engine#1")) >= PEOPLE,
          "the engines did not handle all %d requests" % PEOPLE)


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "postgres"
    sys.exit(run(scenario, "concurrency", backend, env={"CIU_RESCAN_MS": "50"},
                 stack_class=Replicas))
