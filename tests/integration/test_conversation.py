#!/usr/bin/env python3
"""The conversation people actually have, through the real stack.

Usage: test_conversation.py sqlite|postgres
- full names with accents, a full year, a city name and "femme" give the
  right CIU after confirmation; the same person typed differently gets the
  same CIU marked as existing; another number gets it too, recorded as a
  potential duplicate;
- commands (LANGUE, AIDE, RETOUR, RECOMMENCER, ANNULER, CODE), confirmation
  "non", refusals with the question again;
- a burst of messages from one number is handled in order, with no error;
- session expiry says so and starts again, and purges the answers;
- flood protection warns once, then ignores that number only;
- afterwards the store holds no typed answer and no phone number in clear,
  not even in the SQLite file's free pages, and the logs hold neither.
"""
import os
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import Person, check, db_dump, db_file_bytes, query, run, wait_for  # noqa: E402

A = "+243810000101"
B = "+243810000202"
C = "+243810000303"
D = "+243810000404"
E = "+243810000505"
F = "+243810000606"
G = "+243810000707"
NUMBERS = [A, B, C, D, E, F, G]
TYPED = ["Ngalé", "Françoise", "Ngale", "FRANCOISE", "Gédéon", "Kalala", "élodie", "Mukendi",
         "Odette", "Lubumbashii", "Kenzo"]


def time_ms():
    return time.time() * 1000


def settled(stack):
    """Wait until every message is handled and every reply delivered."""
    wait_for(lambda: all(query(stack, "SELECT count(*) FROM " + t) == [("0",)] for t in (
        "inbox WHERE status = 0", "ciu_requests", "ciu_done", "outbox WHERE status = 0")),
        what="all work done")


def happy_path(stack):
    p = Person(stack, A)
    p.say("Bonjour", "Question 1 sur 5")
    p.say("  Ngalé Mukendi ", "Question 2 sur 5")
    p.say("Françoise", "Question 3 sur 5")
    p.say("2001", "Question 4 sur 5")
    p.say("Kinshasa", "Question 5 sur 5")
    p.say("femme", "NGA · FRA · 1 · KN · Femme")
    got = p.say("oui", "NGAFRA1KN2")
    check(not any("déjà" in m["text"] for m in got), "first CIU marked as existing")

    # The same person again, typed differently (case, accents, composed form).
    p.say("salut", "Question 1 sur 5")
    p.say("NGALE", "Question 2 sur 5")
    p.say("francoise", "Question 3 sur 5")
    p.say("1", "Question 4 sur 5")
    p.say("KINSHASA", "Question 5 sur 5")
    p.say("F", "NGA · FRA · 1 · KN · Femme")
    got = p.say("1", "NGAFRA1KN2")
    check(any("déjà" in m["text"] for m in got), "repeat not answered as existing: %r" % got)

    # CODE sends the last CIU again.
    got = p.say("code", "NGAFRA1KN2")

    # Another number, same answers: the same CIU, recorded as a duplicate.
    q = Person(stack, B)
    q.say("Bonjour", "Question 1")
    for text, want in [("Ngale", "Question 2"), ("Francoise", "Question 3"), ("2001", "Question 4"),
                       ("KN", "Question 5"), ("2", "NGA · FRA")]:
        q.say(text, want)
    got = q.say("yes", "NGAFRA1KN2")
    # issue 11: another number gets exactly the reply of a new registration
    check(not any("déjà" in m["text"] for m in got), "enrolment revealed to another number")
    dump = db_dump(stack)
    check("same_ciu_other_number" in dump, "duplicate not recorded:\n" + dump)
    reg = [l for l in dump.splitlines() if l.startswith("registry: ")]
    check(len(reg) == 1, "expected one registration, got %r" % reg)


def commands_and_refusals(stack):
    p = Person(stack, C)
    p.say("Hi", "Question 1 sur 5")
    p.say("Mbengue2", "chiffres")                     # digits refused, question again
    got = p.read(lambda t: "Question 1 sur 5" in t) if not any(
        "Question 1 sur 5" in m["text"] for m in p.replies[-2:]) else []
    p.say("😀", "Question 1 sur 5")                   # no Latin letter
    p.say("Gédéon", "Question 2 sur 5")
    p.say("RETOUR", "Question 1 sur 5")               # back
    p.say("Gédéon", "Question 2 sur 5")
    p.say("aide", "AIDE")                             # help lists the commands
    p.say("Kalala", "Question 3 sur 5")
    p.say("97", "Question 3 sur 5")                   # two digits: refused
    p.say("1850", "Question 3 sur 5")                 # out of range
    p.say("1985", "Question 4 sur 5")
    p.say("Paris", "Question 4 sur 5")                # unknown city: hint + question
    p.say("Lubumbashi", "Question 5 sur 5")
    p.say("LANGUE", "English")                        # language menu
    p.say("2", "Question 5 of 5")                     # now in English
    p.say("man", "GED · KAL · 5 ·")
    p.say("no", "Question 1 of 5")                    # "no" starts the questions again
    p.say("RECOMMENCER", "Question 1 of 5")
    p.say("ANNULER", "ancel")                         # cancelled (in English)
    got = p.say("Bonjour", "Question 1")              # a new conversation
    p.say(None, "Question 1", kind="audio")           # non-text: please answer in text
    p.say("x" * 1200, "Question 1")                   # too long
    texts = " ".join(m["text"] for m in p.replies)
    check("text message" in texts or "écrit" in texts, "no text-only notice")


def burst(stack):
    """A double-tapping person on a bursty network: everything at once."""
    p = Person(stack, D)
    for text in ["Bonjour", "Mbengue", "Ibrahima", "1997", "DA", "1", "1"]:
        stack.send(D, text)
    p.read(lambda t: "MBEIBR7DA1" in t, timeout=30)
    p.no_more("CODE", "MBEIBR7DA1")  # after the code: the code alone (issue 11)
    order = ["bienvenue", "Question 1 sur 5", "Question 2 sur 5", "Question 3 sur 5",
             "Question 4 sur 5", "Question 5 sur 5", "MBE · IBR · 7 · DA · Homme", "MBEIBR7DA1"]
    texts = [m["text"] for m in p.replies]
    check(len(texts) == len(order), "burst: %d replies: %r" % (len(texts), [t[:30] for t in texts]))
    for want, text in zip(order, texts):
        check(want.lower() in text.lower(), "burst out of order: %r in %r" % (want, text))


def expiry(stack):
    p = Person(stack, E)
    p.say("Bonjour", "Question 1 sur 5")
    p.say("Mbengue", "Question 2 sur 5")
    # Fifteen minutes pass: move the session's clock back (the store is ours).
    sql = "UPDATE sessions SET updated_ms = updated_ms - 16 * 60000"
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=10)
        con.execute(sql)
        con.commit()
        con.close()
    else:
        subprocess.run(["psql", stack.env["DATABASE_URL"], "-c", sql], check=True,
                       capture_output=True)
    # The periodic scan purges the answers of expired sessions.
    wait_for(lambda: query(stack, "SELECT count(*) FROM sessions WHERE c_last IS NOT NULL AND "
                                  "updated_ms < ?", (int(time_ms()) - 15 * 60000,)) == [("0",)],
             what="the answers of the expired session to be purged")
    dump = db_dump(stack)
    check("'MBE'" not in dump and "|MBE|" not in dump, "expired answers not purged:\n" + dump)
    got = p.say("Ibrahima", "Question 1 sur 5")
    check(any("expiré" in m["text"] for m in got), "expiry not announced: %r" % got)


def flood(stack):
    p = Person(stack, F)
    for i in range(35):
        stack.send(F, "Bonjour %d" % i)
    p.read(lambda t: "trop de messages" in t, timeout=20)
    settled(stack)  # all 35 handled, every reply delivered
    msgs, _ = stack.poll(F, None, wait=0)
    warnings = [m for m in msgs if "trop de messages" in m["text"]]
    check(len(warnings) == 1, "expected one flood warning, got %d" % len(warnings))
    before = len(msgs)
    stack.send(F, "encore")
    settled(stack)  # handled: ignored
    msgs, _ = stack.poll(F, None, wait=0)
    check(len(msgs) == before, "a blocked number got an answer")
    other = Person(stack, "+243810000999")
    other.say("Bonjour", "Question 1 sur 5")          # others are not affected


def after_the_code(stack):
    """Issue 11: a city typo gets a suggestion (only its code is stored);
    after the code, thanks get a closing in the person's language, CODE
    answers in it, NEW starts a new registration."""
    p = Person(stack, G)
    p.say("language", "English")
    p.say("2", "Question 1 of 5")
    p.say("Mukendi", "Question 2 of 5")
    p.say("Odette", "Question 3 of 5")
    p.say("1988", "Question 4 of 5")
    p.say("Lubumbashii", "Did you mean")
    p.say("1", "Question 5 of 5")
    p.say("2", "MUK · ODE · 8 · LU · Woman")
    p.say("yes", "MUKODE8LU2")
    p.say("merci", "You are welcome")
    p.say("thanks", "You are welcome")
    p.no_more("CODE", "Your CIU is: *MUKODE8LU2*")
    check(not any("Question 1" in m["text"] for m in p.replies[-3:]),
          "thanks taken as a new registration: %r" % [m["text"][:30] for m in p.replies])
    p.say("NEW", "Question 1 of 5")
    # A family on one phone: ANOTHER registers a child, not a suspected
    # duplicate; CODE lists both codes.
    p.say("ANOTHER", "another person")
    for text, want in [("Mukendi", "Question 2"), ("Kenzo", "Question 3"), ("2019", "Question 4"),
                       ("KN", "Question 5"), ("1", "MUK · KEN · 9 · KN · Man")]:
        p.say(text, want)
    p.say("1", "MUKKEN9KN1")
    p.say("CODE", "MUKODE8LU2*\n*MUKKEN9KN1")
    check(query(stack, "SELECT count(*) FROM duplicates WHERE kind = 'number_other_ciu'")
          == [("0",)], "a child registered with ANOTHER flagged as a duplicate")


def privacy(stack):
    settled(stack)
    if stack.backend == "sqlite":  # erased pages leave the WAL at the next checkpoint
        wait_for(lambda: not any(t.encode() in db_file_bytes(stack)
                                 for t in TYPED + [n[1:] for n in NUMBERS]),
                 what="the WAL checkpoint")
    dump = db_dump(stack)
    for n in NUMBERS:
        check(n[1:] not in dump, "phone number %s stored in clear:\n%s" % (n, dump))
    for t in TYPED:
        check(t not in dump, "typed answer %r still in the store" % t)
    if stack.backend == "sqlite":
        raw = db_file_bytes(stack)
        for t in TYPED:
            check(t.encode() not in raw, "typed answer %r lingers in the SQLite file" % t)
        for n in NUMBERS:
            check(n[1:].encode() not in raw, "number %s lingers in the SQLite file" % n)
    for name, path in stack.logs.items():
        log = open(path, errors="replace").read()
        for n in NUMBERS:
            check(n[1:] not in log, "%s logs the number %s in clear" % (name, n))
        for t in TYPED:
            check(t not in log, "%s logs the answer %r" % (name, t))


def scenario(stack):
    happy_path(stack)
    commands_and_refusals(stack)
    burst(stack)
    expiry(stack)
    flood(stack)
    after_the_code(stack)
    privacy(stack)


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    sys.exit(run(scenario, "conversation", backend,
                 env={"CIU_FLOOD_MAX_MESSAGES": "30", "CIU_FLOOD_WINDOW_SECONDS": "60"}))
