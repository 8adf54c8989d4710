#!/usr/bin/env python3
"""A whole conversation through the five real daemons, via the simulator API.

Usage: test_e2e.py sqlite|postgres
A first-time writer is greeted whatever they write, the five answers lead to
a confirmation, and "1" gets the CIU MBEIBR7DA1; every reply arrives once,
in order; the events and the store show what an operator would expect.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import Person, check, query, run, wait_for  # noqa: E402

NUMBER = "+243810000001"


def scenario(stack):
    p = Person(stack, NUMBER)
    got = p.say("Bonjour", "Question 1 sur 5")
    check(any("bienvenue" in m["text"].lower() for m in got), "no welcome: %r" % got)
    p.say("Mbengue", "Question 2 sur 5")
    p.say("Ibrahima", "Question 3 sur 5")
    p.say("1997", "Question 4 sur 5")
    p.say("DA", "Question 5 sur 5")
    got = p.say("1", "MBE · IBR · 7 · DA · Homme")
    got = p.say("1", "MBEIBR7DA1")
    # Nothing more is on its way: the answer to CODE comes next.
    p.no_more("CODE", "MBEIBR7DA1")  # after the code: the code alone (issue 11)
    texts = [m["text"] for m in p.replies]
    # welcome, q1..q5, confirmation, CIU: each exactly once, in this order.
    order = ["bienvenue", "Question 1 sur 5", "Question 2 sur 5", "Question 3 sur 5",
             "Question 4 sur 5", "Question 5 sur 5", "MBE · IBR · 7 · DA · Homme", "MBEIBR7DA1"]
    check(len(texts) == len(order), "expected %d replies, got %d: %r" % (
        len(order), len(texts), [t[:40] for t in texts]))
    for want, text in zip(order, texts):
        check(want.lower() in text.lower(), "reply out of order: wanted %r in %r" % (want, text))
    ids = [m["id"] for m in p.replies]
    check(len(set(ids)) == len(ids), "a reply was delivered twice: %r" % ids)
    # A second reader from the start sees the same history (cursor semantics).
    msgs, _ = stack.poll(NUMBER, None, wait=0)
    check([m["id"] for m in msgs][:len(ids)] == ids, "history differs from what was streamed")
    # The store: one registration, one DHIS2 enrolment accepted by the bridge
    # and waiting (no DHIS2_BASE_URL in this stack: it stays pending).
    check(query(stack, "SELECT ciu, request_count FROM registry") == [("MBEIBR7DA1", "1")],
          "registry: %r" % query(stack, "SELECT * FROM registry"))
    rows = wait_for(lambda: [r for r in query(stack, "SELECT status FROM dhis2_sync WHERE ciu = ?",
                                              ("MBEIBR7DA1",)) if r[0] != "queued"],
                    what="the bridge to accept the DHIS2 enrolment")
    check(rows == [("pending",)], "DHIS2 enrolment: %r, expected [('pending',)]" % rows)
    for table in ("inbox WHERE status = 0", "ciu_requests", "ciu_done", "outbox WHERE status = 0"):
        check(query(stack, "SELECT count(*) FROM " + table) == [("0",)],
              "unfinished work left in %s" % table)


VALGRIND = ["valgrind", "-q", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite"]

if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    under_valgrind = len(sys.argv) > 2 and sys.argv[2] == "valgrind"
    sys.exit(run(scenario, "e2e-valgrind" if under_valgrind else "e2e", backend,
                 wrapper=VALGRIND if under_valgrind else None))
