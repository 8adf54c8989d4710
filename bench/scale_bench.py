#!/usr/bin/env python3
"""Does a second replica of each stage help? (make bench; docs/performance.md)

The real webhook path (bench/webhook_run's one_run: ciu-webhook-loadgen, signed Meta
webhooks, replies at its embedded fake Graph API), closed loop, with CIU_DISCOVERY=store and
1, then 2 replicas of the conversation, the engine and the sender (they find each other in
the store, as with `docker compose up --scale`). The configurations are interleaved run by
run, so a slow moment of the machine hits both; it prints each run, then the medians and the
ratio measured in the same run.

    bench/scale_bench.py [--backend postgres|sqlite] [--people N] [--closed C]
                         [--repeat R] [--replicas 1,2]

Needs a built tree (CIU_BUILD_DIR, default build/) and, for PostgreSQL, the test server of
tests/harness/pg.sh (CIU_TEST_PG_URL_FILE, started for you when unset).
"""
import argparse
import importlib.machinery
import importlib.util
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("CIU_BUILD_DIR", os.path.join(ROOT, "build"))
_loader = importlib.machinery.SourceFileLoader("webhook_run",
                                               os.path.join(ROOT, "bench", "webhook_run"))
_spec = importlib.util.spec_from_loader("webhook_run", _loader)
webhook_run = importlib.util.module_from_spec(_spec)
_loader.exec_module(webhook_run)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", default="postgres", choices=["postgres", "sqlite"])
    ap.add_argument("--people", type=int, default=2000)
    ap.add_argument("--closed", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--replicas", default="1,2")
    args = ap.parse_args()
    if args.backend == "postgres" and not os.environ.get("CIU_TEST_PG_URL_FILE"):
        d = "/tmp/ciu-bench-pg"
        subprocess.run([os.path.join(ROOT, "tests", "harness", "pg.sh"), "start", d], check=True,
                       stdout=subprocess.DEVNULL)
        os.environ["CIU_TEST_PG_URL_FILE"] = os.path.join(d, "url")
    counts = [int(x) for x in args.replicas.split(",")]
    mode = ["--closed", str(args.closed), "--people", str(args.people)]
    results = {n: [] for n in counts}
    for r in range(args.repeat):
        for n in counts:
            res = webhook_run.one_run(args.backend, "meta", mode, False, True, replicas=n)
            results[n].append(res)
            print("run %d replicas=%d  %8.1f msg/s  ack p99 %7.1f ms  reply p99 %7.1f ms" % (
                r + 1, n, res["msgs_per_s"], res["ack_p99_ms"], res["reply_p99_ms"]),
                flush=True)
    print("\nscale-out (%s, webhook path, %d people, %d in flight, median of %d runs; "
          "replicas of conversation, engine and sender each)" % (
              args.backend, args.people, args.closed, args.repeat))
    base = None
    for n in counts:
        med = {k: statistics.median(x[k] for x in results[n])
               for k in ("msgs_per_s", "ack_p99_ms", "reply_p99_ms")}
        base = base or med["msgs_per_s"]
        print("RESULT replicas=%d msgs_per_s=%.1f ratio=%.2f ack_p99_ms=%.1f reply_p99_ms=%.1f" % (
            n, med["msgs_per_s"], med["msgs_per_s"] / base, med["ack_p99_ms"],
            med["reply_p99_ms"]))


if __name__ == "__main__":
    main()
