#!/usr/bin/env python3
"""PostgreSQL goes away and comes back: ingress answers 503 (never a 202 for
a message it could not store) and /health says so; once the server is back
the daemons reconnect by themselves and the conversation goes on."""
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import providers as P  # noqa: E402
import stack as harness  # noqa: E402
from stack import Person, check, run  # noqa: E402


def postgres_pids(pg_dir):
    """The postmaster of the test server and every process it started."""
    with open(os.path.join(pg_dir, "data", "postmaster.pid")) as f:
        master = int(f.readline())
    kids = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [master] + [int(x) for x in kids.split()]


def main():
    own = harness.OwnPostgres("ciu-pgdown-", "ciu_down")
    pg_dir, url = own.dir, own.url

    def scenario(stack):
        p = Person(stack, "+243810000999")
        p.say("Bonjour", "Question 1 sur 5")
        own.stop()
        status, body = stack.request("GET", "/health")
        check(status == 503 and json.loads(body)["store"] is False,
              "health with the store down: %s %s" % (status, body))
        status, body = stack.request("POST", "/sim/messages",
                                     {"from": "+243810000999", "text": "Mbengue"})
        check(status == 503, "a message that cannot be stored must not get 202: %s" % status)
        # a provider webhook is never acknowledged unless stored: 503, so Meta retries
        body = P.meta_body(P.meta_inbound_payload(messages=[P.meta_text("243810000998", "Hi")]))
        status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body,
                                   P.meta_headers(body, P.META_APP_SECRET))
        check(status == 503, "a Meta webhook not stored was answered %s" % status)
        own.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            status, _ = stack.request("GET", "/health")
            if status == 200:
                break
            time.sleep(0.2)
        check(status == 200, "health did not recover after the store came back")
        # Meta's retry of the same webhook is stored once the store is back
        status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body,
                                   P.meta_headers(body, P.META_APP_SECRET))
        check(status == 200, "the retried Meta webhook was answered %s" % status)
        p.say("Mbengue", "Question 2 sur 5", timeout=30)
        p.say("Ibrahima", "Question 3 sur 5", timeout=30)

        # A server that stops answering (every PostgreSQL process paused, as a half-open
        # connection looks): the webhook is answered 503 within its 5 s deadline instead of
        # hanging, and stored once the server answers again.
        pids = postgres_pids(pg_dir)
        body2 = P.meta_body(P.meta_inbound_payload(
            messages=[P.meta_text("243810000997", "Bonjour")]))
        try:
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            t0 = time.time()
            status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body2,
                                       P.meta_headers(body2, P.META_APP_SECRET), timeout=30)
            took = time.time() - t0
            check(status == 503 and took < 10, "frozen store: %s after %.1f s" % (status, took))
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        deadline = time.time() + 60
        while True:
            status, _, _ = P.post_json(stack.base + "/whatsapp/webhook", body2,
                                       P.meta_headers(body2, P.META_APP_SECRET), timeout=30)
            if status == 200 or time.time() > deadline:
                break
            time.sleep(0.5)
        check(status == 200, "the webhook after the freeze: %s" % status)

    try:
        env = {"DATABASE_URL": url, "META_ACCESS_TOKEN": P.META_TOKEN,
               "META_PHONE_NUMBER_ID": P.META_PHONE_NUMBER_ID,
               "META_APP_SECRET": P.META_APP_SECRET, "META_VERIFY_TOKEN": "v",
               "META_GRAPH_BASE_URL": "http://127.0.0.1:9"}
        return run(scenario, "store-down", "postgres-own", env=env)
    finally:
        own.destroy()


if __name__ == "__main__":
    sys.exit(main())
