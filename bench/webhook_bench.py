#!/usr/bin/env python3
"""bench/webhook_bench.py: the real webhook path at a fixed arrival rate (open loop).

Starts the whole stack (SQLite or PostgreSQL) with the Meta channel pointed at the fake Graph
API (tests/fakes/fake_meta.py, statuses off), then plays people through whole conversations
by signed Meta webhooks: a new person starts every 7/RATE seconds and answers each question
THINK seconds after the previous one, so messages arrive at RATE per second whatever the
stack does (open loop: queueing shows up in the latencies instead of slowing the load).

It prints one table: messages sent, webhook acks (status), ack latency p50/p99/max (webhook
POST to its 200), reply latency p50/p99 (webhook POST to the fake receiving the reply; for a
message with two replies, the last), conversations completed, and each daemon's peak RSS.

    bench/webhook_bench.py [--rate 50] [--seconds 20] [--think 1.0] [--backend sqlite|postgres]
                           [--flood 1000]

--flood RATE: the same run twice on one stack, the second time with one more number
sending RATE messages/s (open loop, 64 connections) for the whole run; prints the other
people's reply latency without and with the flood (the flooder is warned once and then
ignored: CIU_FLOOD_MAX_MESSAGES per CIU_FLOOD_WINDOW_SECONDS).

Environment: CIU_BUILD_DIR (default <repo>/build), CIU_TEST_PG_URL_FILE for postgres.
The load generator is Python: a few hundred messages per second is its own ceiling on
this machine; the C load generator (ciu-loadgen) drives the simulator path faster.
"""
import argparse
import heapq
import threading
import http.client
import json
import os
import queue
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
os.environ.setdefault("CIU_BUILD_DIR", os.path.join(ROOT, "build"))

import providers as P  # noqa: E402
from load import flood  # noqa: E402
from stack import DAEMONS, Stack  # noqa: E402

SCRIPT = [("Bonjour", 2), ("Mbengue", 1), ("Ibrahima", 1), ("1997", 1), ("KN", 1), ("1", 1),
          ("1", 1)]


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def peak_rss(stack):
    out = {}
    for name, proc in stack.procs.items():
        try:
            for line in open("/proc/%d/status" % proc.pid):
                if line.startswith("VmHWM:"):
                    out[name] = int(line.split()[1]) // 1024
        except OSError:
            pass
    return out


class Bench:
    def __init__(self, stack, fake, rate, seconds, think, workers=32, prefix="24399"):
        self.stack, self.fake, self.prefix = stack, fake, prefix
        self.rate, self.seconds, self.think = rate, seconds, think
        self.jobs = queue.Queue()
        self.lock = threading.Lock()
        self.acks, self.ack_status = [], {}
        self.sent_at = {}       # (person, k) -> time sent
        self.expect = {}        # person -> list of cumulative reply counts per message
        self.replies = {}       # person -> reply arrival times
        self.done = False
        host, port = stack.base.split("//")[1].split(":")
        self.addr = (host, int(port))
        self.workers = [threading.Thread(target=self.worker, daemon=True) for _ in range(workers)]

    def worker(self):
        conn = http.client.HTTPConnection(*self.addr, timeout=30)
        while True:
            job = self.jobs.get()
            if job is None:
                return
            person, k = job
            text = SCRIPT[k][0]
            body = P.meta_body(P.meta_inbound_payload(messages=[P.meta_text(person, text)]))
            headers = P.meta_headers(body, P.META_APP_SECRET)
            headers["Content-Type"] = "application/json"
            t0 = time.time()
            try:
                conn.request("POST", "/whatsapp/webhook", body, headers)
                r = conn.getresponse()
                r.read()
                status = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(*self.addr, timeout=30)
                status = 0
            t1 = time.time()
            with self.lock:
                self.acks.append(t1 - t0)
                self.ack_status[status] = self.ack_status.get(status, 0) + 1
                self.sent_at[(person, k)] = t0

    def poll_fake(self):
        since = 0
        while not self.done:
            calls = self.fake.calls("messages", since=since)
            now = time.time()
            for c in calls:
                since = max(since, c.get("seq", since))
                if not 200 <= c["status"] < 300 or not (c.get("to") or "").startswith(
                        self.prefix):
                    continue  # a failed call, or a reply to someone else (the flooder)
                with self.lock:
                    self.replies.setdefault(c.get("to"), []).append(c.get("time", now))
            time.sleep(0.05)

    def run(self):
        for w in self.workers:
            w.start()
        poller = threading.Thread(target=self.poll_fake, daemon=True)
        poller.start()
        per_person = len(SCRIPT)
        start = time.time()
        events = []  # (due, person, k)
        n_people = 0
        t = start
        while t < start + self.seconds:
            person = "%s%07d" % (self.prefix, n_people)
            n_people += 1
            for k in range(per_person):
                heapq.heappush(events, (t + k * self.think, person, k))
            t += per_person / float(self.rate)
        total = len(events)
        last_due = max(e[0] for e in events)
        while events:
            due, person, k = heapq.heappop(events)
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            self.jobs.put((person, k))
        for _ in self.workers:
            self.jobs.put(None)
        for w in self.workers:
            w.join()
        sent_end = time.time()  # the last POST answered
        want = n_people * sum(n for _, n in SCRIPT)
        deadline = time.time() + 60
        while time.time() < deadline:
            with self.lock:
                got = sum(len(v) for v in self.replies.values())
            if got >= want:
                break
            time.sleep(0.1)
        self.done = True
        poller.join()
        # reply latency: the last reply of message k arrives as reply number cum[k]
        lat = []
        completed = 0
        for i in range(n_people):
            person = "%s%07d" % (self.prefix, i)
            arr = self.replies.get(person, [])
            cum = 0
            for k, (_, n) in enumerate(SCRIPT):
                cum += n
                if len(arr) >= cum and (person, k) in self.sent_at:
                    lat.append(arr[cum - 1] - self.sent_at[(person, k)])
            if len(arr) >= cum:
                completed += 1
        # achieved rate: every message acknowledged by the time of the last 200 (equals the
        # arrival rate while the stack keeps up, lower once acks queue)
        return {"people": n_people, "messages": total, "seconds": max(sent_end, last_due) - start,
                "acks": self.acks, "status": self.ack_status, "reply": lat,
                "completed": completed, "replies": sum(len(v) for v in self.replies.values()),
                "want": want}


def row(res):
    ms = lambda v: "%.1f" % (v * 1000)  # noqa: E731
    return "| %d | %.0f | %s | %s / %s / %s | %s / %s | %d of %d | %d of %d |" % (
        res["messages"], res["messages"] / res["seconds"], json.dumps(res["status"]),
        ms(pct(res["acks"], 50)), ms(pct(res["acks"], 99)), ms(max(res["acks"] or [0])),
        ms(pct(res["reply"], 50)), ms(pct(res["reply"], 99)), res["completed"], res["people"],
        res["replies"], res["want"])


def main():
    ap = argparse.ArgumentParser(description="webhook path at a fixed arrival rate")
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--think", type=float, default=1.0)
    ap.add_argument("--backend", default="sqlite")
    ap.add_argument("--flood", type=float, default=0,
                    help="messages/s from one flooding number in a second run")
    args = ap.parse_args()

    fake = P.start_meta()
    fake.control(statuses=False)
    env = {"META_ACCESS_TOKEN": P.META_TOKEN, "META_PHONE_NUMBER_ID": P.META_PHONE_NUMBER_ID,
           "META_APP_SECRET": P.META_APP_SECRET, "META_VERIFY_TOKEN": "bench",
           "META_GRAPH_BASE_URL": fake.base, "CIU_META_MAX_MPS": "10000",
           "LOG_LEVEL": "warning", "CIU_RESCAN_MS": "1000"}
    stack = Stack("webhook-bench", args.backend, env)
    flooded = flooder = None
    flooder_number = "243970000001"  # outside both phases' numbers (24399…, 24398…)
    try:
        stack.start()
        res = Bench(stack, fake, args.rate, args.seconds, args.think).run()
        if args.flood:
            out = {}
            th = threading.Thread(target=lambda: out.update(r=flood(
                stack, flooder_number, args.flood, args.seconds)))
            th.start()
            flooded = Bench(stack, fake, args.rate, args.seconds, args.think,
                            prefix="24398").run()
            th.join()
            flooder = out["r"]
        rss = peak_rss(stack)
    finally:
        stack.stop()
        stack.cleanup()
        warned = [c for c in fake.calls("messages") if c.get("to") == flooder_number and
                  "trop de messages" in json.dumps(c.get("json"), ensure_ascii=False)]
        fake.stop()
        fake.cleanup()
    print("webhook bench (%s, Meta webhooks, open loop %.0f msg/s for %.0f s, think %.1f s)" % (
        args.backend, args.rate, args.seconds, args.think))
    print("| messages sent | achieved msg/s | acks by status | ack p50 / p99 / max ms "
          "| reply p50 / p99 ms | conversations completed | replies |")
    print("|---|---|---|---|---|---|---|")
    print(row(res))
    if flooded:
        print(row(flooded) + " (with the flood)")
        n, took, statuses = flooder
        a, b = pct(res["reply"], 99), pct(flooded["reply"], 99)
        print("flood: one number aiming at %.0f msg/s sent %d in %.0f s (%.0f/s, acks %s), "
              "warned %d time(s); the others' reply p99 %.1f ms unflooded, %.1f ms flooded "
              "(x%.2f)" % (args.flood, n, took, n / took, json.dumps(statuses), len(warned),
                           a * 1000, b * 1000, b / a if a else float("nan")))
    print("peak RSS (MB): " + ", ".join("%s %d" % (n, rss.get(n, 0)) for n in DAEMONS))
    ok = all(r["status"].get(200, 0) == r["messages"] and r["replies"] >= r["want"]
             for r in [res] + ([flooded] if flooded else []))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
