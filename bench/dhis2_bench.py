#!/usr/bin/env python3
"""bench/dhis2_bench.py: ciu-dhis2-bridge's registrations per second against a slow DHIS2.

Starts the fake DHIS2 (tests/fakes/fake_dhis2.py) answering every call after
--delay-ms (default 250 ms, about what a DHIS2 server takes for one tracker
import whatever its size), queues --count registrations in a fresh store
(as ciu-engine does), starts ciu-dhis2-bridge alone and times how long it
takes until every one is synced, checking that each person exists once in
DHIS2, enrolled. Prints one RESULT line.

    bench/dhis2_bench.py [--count N] [--delay-ms MS] [--batch N] [--concurrency N]
                         [--version 2.42.0] [--min-rate R]

Environment: CIU_BUILD_DIR (default <repo>/build). Exit status 0 when every
registration was synced (and the rate is at least --min-rate, if given).
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
os.environ.setdefault("CIU_BUILD_DIR", os.path.join(ROOT, "build"))

from dhis2_helpers import (FakeDhis2, bridge_env, cius, log_text, migrate, query,  # noqa: E402
                           seed_queued, wait_for)
from stack import Stack  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="DHIS2 bridge throughput against a slow fake")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--delay-ms", type=int, default=250)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--version", default="2.42.0")
    ap.add_argument("--min-rate", type=float, default=0)
    args = ap.parse_args()

    fake = FakeDhis2(args.version, delay_ms=args.delay_ms)
    env = bridge_env(fake, DHIS2_BATCH_SIZE=args.batch, DHIS2_CONCURRENCY=args.concurrency,
                     DHIS2_TIMEOUT_SECONDS=30, DHIS2_LEASE_SECONDS=90, LOG_LEVEL="info")
    stack = Stack("dhis2-bench", "sqlite", env)
    ok = False
    try:
        migrate(stack)
        seed_queued(stack, cius(args.count))
        t0 = time.time()
        stack.start_daemon("ciu-dhis2-bridge")

        def synced():
            n = query(stack, "SELECT COUNT(*) FROM dhis2_sync WHERE status = 'synced'")[0][0]
            return int(n) >= args.count and n

        wait_for(synced, timeout=max(120, args.count / 20), what="every registration synced",
                 interval=0.02)
        elapsed = time.time() - t0
        st = fake.state()
        people = {}
        for te in st["trackedEntities"]:
            c = next(iter(v for k, v in te["attributes"].items() if k == "lZGmxYbs97q"), None)
            people[c] = people.get(c, 0) + 1
        twice = [c for c, n in people.items() if n > 1]
        enrolled = {e["trackedEntity"] for e in st["enrollments"]}
        missing = [te["trackedEntity"] for te in st["trackedEntities"]
                   if te["trackedEntity"] not in enrolled]
        rate = args.count / elapsed
        print("dhis2 bench: %d registrations synced in %.2f s against a DHIS2 %s answering in "
              "%d ms (batches of %d, %d calls in flight): %.0f registrations/s; %d imports, "
              "%d searches" % (args.count, elapsed, args.version, args.delay_ms, args.batch,
                               args.concurrency, rate, st["counts"]["imports"],
                               st["counts"]["searches"]))
        print("RESULT dhis2_registrations_per_s=%.1f dhis2_seconds=%.2f dhis2_count=%d "
              "dhis2_delay_ms=%d" % (rate, elapsed, args.count, args.delay_ms))
        ok = len(people) == args.count and not twice and not missing
        if not ok:
            print("dhis2 bench: FAILED: %d people in DHIS2 (expected %d), %d twice, %d not "
                  "enrolled" % (len(people), args.count, len(twice), len(missing)))
        if args.min_rate and rate < args.min_rate:
            print("dhis2 bench: FAILED: %.0f registrations/s is below %.0f" % (rate,
                                                                             args.min_rate))
            ok = False
    except Exception as e:  # noqa: BLE001 - report, then clean up
        print("dhis2 bench: FAILED: %s: %s" % (type(e).__name__, e))
        sys.stderr.write(log_text(stack)[-4000:])
        fake.dump()
    finally:
        stack.stop()
        fake.stop()
        if ok:
            stack.cleanup()
        else:
            print("dhis2 bench: kept %s" % stack.dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
