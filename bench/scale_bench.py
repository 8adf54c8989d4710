#!/usr/bin/env python3
"""Does a second replica of each stage help? (make bench; docs/performance.md)

Starts the stack with CIU_DISCOVERY=store (replicas find each other in the
store, as with `docker compose up --scale`) with 1, then 2 replicas of the
conversation, the engine and the sender, plays the same closed-loop load
with ciu-loadgen (simulator path) against each, and prints one line per
configuration plus the ratio measured in the same run, for --repeat runs
and their medians.

    bench/scale_bench.py [--backend postgres|sqlite] [--people N]
                         [--concurrency C] [--repeat R] [--replicas 1,2]

Needs a built tree (CIU_BUILD_DIR, default build/) and, for PostgreSQL, the
test server of tests/harness/pg.sh (CIU_TEST_PG_URL_FILE, started for you
when unset). Prints "RESULT replicas=N msgs_per_s=..." lines.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import stack as harness  # noqa: E402

STAGES = {"ciu-conversation": "CIU_CONVERSATION_EVENTS", "ciu-engine": "CIU_ENGINE_EVENTS",
          "ciu-sender": "CIU_SENDER_EVENTS"}


class Replicated(harness.Stack):
    def __init__(self, name, backend, replicas):
        super().__init__(name, backend, {"CIU_DISCOVERY": "store", "LOG_LEVEL": "warning",
                                         "CIU_MEMBER_TTL_MS": "3000"})
        self.replicas = replicas

    def names(self):
        out = ["ciu-ingress", "ciu-dhis2-bridge"]
        for base in STAGES:
            out += [base if i == 0 else "%s#%d" % (base, i) for i in range(self.replicas)]
        return out

    def start_daemon(self, name, env=None):
        base = name.split("#")[0]
        if base in STAGES:
            env = {"CIU_BIND": "tcp://127.0.0.1:*", STAGES[base]: "tcp://127.0.0.1:*"}
        super().start_daemon(name, env)

    def start(self):
        for n in self.names():
            self.start_daemon(n)
        for n in self.names():
            self.wait_healthy(n)
        harness.wait_for(lambda: all(
            len(harness.query(self, "SELECT member FROM stage_members WHERE stage = '%s'" % s))
            == self.replicas for s in ("conversation", "engine", "sender")),
            what="replicas registered")
        return self

    def stop(self):
        for n, p in self.procs.items():
            if p.poll() is None:
                p.terminate()
        for p in self.procs.values():
            p.wait(timeout=30)
        return {}


def one_run(args, replicas, run_no):
    st = Replicated("scale-bench-%d-%d" % (replicas, run_no), args.backend, replicas)
    try:
        st.start()
        out = subprocess.run([os.path.join(harness.build_dir(), "tools", "ciu-loadgen"), "--url",
                              st.base, "--people", str(args.people), "--concurrency",
                              str(args.concurrency), "--duration", "300"],
                             capture_output=True, text=True, timeout=400).stdout
        m = re.search(r"RESULT (.*)", out)
        if not m:
            raise SystemExit("scale_bench: no RESULT from ciu-loadgen:\n" + out)
        return dict((k, float(v)) for k, v in (kv.split("=") for kv in m.group(1).split()))
    finally:
        st.stop()
        st.cleanup()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="postgres", choices=["postgres", "sqlite"])
    ap.add_argument("--people", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--replicas", default="1,2")
    args = ap.parse_args()
    if args.backend == "postgres" and not os.environ.get("CIU_TEST_PG_URL_FILE"):
        d = "/tmp/ciu-bench-pg"
        subprocess.run([os.path.join(ROOT, "tests", "harness", "pg.sh"), "start", d], check=True,
                       stdout=subprocess.DEVNULL)
        os.environ["CIU_TEST_PG_URL_FILE"] = os.path.join(d, "url")
    counts = [int(x) for x in args.replicas.split(",")]
    results = {n: [] for n in counts}
    for r in range(args.repeat):
        for n in counts:  # interleaved, so a slow moment of the machine hits both
            res = one_run(args, n, r)
            results[n].append(res)
            print("run %d replicas=%d  %8.1f msg/s  ack p99 %7.1f ms  reply p99 %7.1f ms" % (
                r + 1, n, res["msgs_per_s"], res["ack_p99_ms"], res["reply_p99_ms"]), flush=True)
    print("\nscale-out (%s, %d people, concurrency %d, median of %d runs; replicas of "
          "conversation, engine and sender each)" % (args.backend, args.people,
                                                      args.concurrency, args.repeat))
    base = None
    for n in counts:
        med = {k: statistics.median(x[k] for x in results[n]) for k in results[n][0]}
        base = base or med["msgs_per_s"]
        print("RESULT replicas=%d msgs_per_s=%.1f ratio=%.2f ack_p99_ms=%.1f reply_p99_ms=%.1f" % (
            n, med["msgs_per_s"], med["msgs_per_s"] / base, med["ack_p99_ms"],
            med["reply_p99_ms"]))


if __name__ == "__main__":
    main()
