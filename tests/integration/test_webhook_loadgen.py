#!/usr/bin/env python3
"""Smoke test of the webhook bench, so it cannot rot (ctest bench_webhook_smoke).

    test_webhook_loadgen.py [meta|twilio]

Runs bench/webhook_run on SQLite in open loop at a low rate for about 3 s: the real five
daemons of CIU_BUILD_DIR, webhooks signed by ciu-webhook-loadgen (Meta JSON or Twilio forms),
replies (and Meta's QR uploads) received by its embedded fake provider API. Checks that every
conversation completed with no error, that the RESULT line parses and its counts add up (7
webhooks and 8 replies per person, 1 QR upload per person on Meta, none on Twilio, whose image
goes by URL), and that the table was printed. No timing is asserted: speed is measured by make
bench, never in tests.
"""
import os
import subprocess
import sys

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def fail(msg, out=""):
    sys.stdout.write(out)
    print("FAIL bench_webhook_smoke: %s" % msg)
    print("bench_webhook_smoke: 0 passed, 1 failed")
    return 1


def main():
    channel = sys.argv[1] if len(sys.argv) > 1 else "meta"
    cmd = [sys.executable, os.path.join(SOURCE_DIR, "bench", "webhook_run"), "--backend",
           "sqlite", "--channel", channel, "--modes", "open", "--rate", "20", "--seconds", "3",
           "--think", "0.3"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as e:
        return fail("bench/webhook_run did not end within 240 s", str(e.stdout or ""))
    out = r.stdout + r.stderr
    if r.returncode != 0:
        return fail("bench/webhook_run exited %d" % r.returncode, out)
    lines = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    if len(lines) != 1:
        return fail("expected one RESULT line, got %d" % len(lines), out)
    try:
        res = {k: float(v) for k, v in (f.split("=", 1) for f in lines[0].split()[1:])}
    except ValueError:
        return fail("RESULT line does not parse: %r" % lines[0], out)
    for key in ("msgs_per_s", "convs_per_s", "ack_p50_ms", "ack_p99_ms", "reply_p50_ms",
                "reply_p99_ms", "people", "completed", "errors"):
        if key not in res:
            return fail("RESULT has no %s" % key, out)
    n = res["people"]
    want = {"completed": n, "errors": 0, "sent": 7 * n, "acked": 7 * n, "replies": 8 * n,
            "uploads": n if channel == "meta" else 0}
    bad = {k: (res.get(k), v) for k, v in want.items() if res.get(k) != v}
    if n < 1 or bad:
        return fail("counts (got, want): %r" % bad, out)
    if "| conversations completed |" not in r.stdout:
        return fail("no table printed", out)
    print("bench_webhook_smoke: %s, %d people, every conversation completed" % (channel, n))
    print("bench_webhook_smoke: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
