#!/usr/bin/env python3
"""End-to-end test of the operator tools: ciu-admin and ciu-tap.

Runs the five real daemons of the build in CIU_BUILD_DIR on loopback (SQLite
in a temporary folder, simulator channel on, every port and ZeroMQ endpoint
picked free), plays two conversations for the same person from two numbers
through the simulator API, and checks what ciu-tap printed and what
ciu-admin reports. Python 3 standard library only. Exits non-zero with a
clear message (and the daemons' logs) on failure; the whole run is bounded
(well under 120 s).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import TestFailure, wait_for  # noqa: E402

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DAEMONS = [  # start order: downstream first, so every wake-up finds its receiver
    ("ciu-sender", "sender"),
    ("ciu-dhis2-bridge", "dhis2-bridge"),
    ("ciu-engine", "ciu-engine"),
    ("ciu-conversation", "conversation"),
    ("ciu-ingress", "ingress"),
]
# (what the person types, the text of the last reply it gets)
ANSWERS = [("Bonjour", "Question 1"), ("Mbengue", "Question 2"), ("Ibrahima", "Question 3"),
           ("1997", "Question 4"), ("DA", "Question 5"), ("1", "MBE · IBR"), ("1", "MBEIBR7DA1")]
CIU = "MBEIBR7DA1"
WARM_UP = [("Bonjour", "Question 1"), ("Kalala", "Question 2"), ("Gedeon", "Question 3"),
           ("1985", "Question 4"), ("KN", "Question 5"), ("2", "KAL · GED"), ("1", "KALGED5KN2")]
WARM_UP_CIU = "KALGED5KN2"
NUMBER_0 = "+243810000789"
NUMBER_1 = "+243810000123"
NUMBER_2 = "+243810000456"
TEST_DEADLINE = time.monotonic() + 110  # whole test


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def remaining(cap):
    """Seconds left, at most cap, never past the whole test's deadline."""
    left = TEST_DEADLINE - time.monotonic()
    check(left > 0, "the test ran past its time budget")
    return min(cap, left)


def closed_port():
    """A loopback port that refuses connections for as long as the returned
    socket stays open (bound, never listening): no other test can take it."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


def make_env(tmp):
    """The environment of every process: nothing inherited from a developer's ciu setup.
    Every port is 0 (the daemons write the ones they got to their --port-file) and
    ZeroMQ runs on ipc sockets in the test's folder, so parallel tests never clash."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CIU_", "LOG_", "TWILIO_", "META_", "DHIS2_"))
           and k not in ("DATABASE_URL", "UIC_SALT", "SESSION_TIMEOUT_MINUTES",
                         "ENABLE_QR_CODE", "WEBHOOK_PATH")}
    sock = os.path.join(tmp, "s")
    os.makedirs(sock, exist_ok=True)
    env.update({
        "CIU_DATA_DIR": os.path.join(tmp, "data"),
        "CIU_SIMULATOR": "true",
        "CIU_SHARE_DIR": os.path.join(SOURCE_DIR, "share"),
        "CIU_HTTP_ADDR": "127.0.0.1",
        "CIU_HTTP_PORT": "0",
        "CIU_CONVERSATION_ADMIN_PORT": "0",
        "CIU_ENGINE_ADMIN_PORT": "0",
        "CIU_DHIS2_ADMIN_PORT": "0",
        "CIU_SENDER_ADMIN_PORT": "0",
        "CIU_INGRESS_ADMIN_PORT": "0",
        "CIU_RESCAN_MS": "500",
        "LOG_LEVEL": "info",
        "CIU_ADMIN_LANG": "en",  # the texts checked here are ciu-admin's English ones
    })
    for var, ep in (("CIU_CONVERSATION_ENDPOINTS", "conversation"),
                    ("CIU_ENGINE_ENDPOINTS", "engine"), ("CIU_DHIS2_ENDPOINTS", "dhis2"),
                    ("CIU_SENDER_ENDPOINTS", "sender"), ("CIU_INGRESS_EVENTS", "ev-ingress"),
                    ("CIU_CONVERSATION_EVENTS", "ev-conversation"),
                    ("CIU_ENGINE_EVENTS", "ev-engine"), ("CIU_DHIS2_EVENTS", "ev-dhis2"),
                    ("CIU_SENDER_EVENTS", "ev-sender")):
        env[var] = "ipc://%s/%s" % (sock, ep)
    return env


class Run:
    def __init__(self, build, tmp):
        self.build = build
        self.tmp = tmp
        self.env = make_env(tmp)
        self.base = None  # known once ingress wrote its port file
        self.procs = []  # (name, Popen, log path)

    # --- processes -------------------------------------------------------

    def tool(self, *args, expect=0):
        exe = os.path.join(self.build, "tools", args[0])
        out = subprocess.run([exe] + list(args[1:]), cwd=self.tmp, env=self.env,
                             capture_output=True, text=True, timeout=remaining(20))
        check(expect is None or out.returncode == expect,
              "%s exited %d (expected %s)\nstdout: %s\nstderr: %s"
              % (" ".join(args), out.returncode, expect, out.stdout, out.stderr))
        return out

    def spawn(self, name, argv):
        """Start a process; stdout to <name>.log, stderr there too for daemons and to
        <name>.log.err for the taps (their stdout is the JSON lines under test)."""
        log = os.path.join(self.tmp, name + ".log")
        with open(log, "wb") as out:
            if name.startswith("tap"):
                with open(log + ".err", "wb") as err:
                    p = subprocess.Popen(argv, cwd=self.tmp, env=self.env, stdout=out,
                                         stderr=err)
            else:
                p = subprocess.Popen(argv, cwd=self.tmp, env=self.env, stdout=out,
                                     stderr=subprocess.STDOUT)
        self.procs.append((name, p, log))
        return p

    def start_daemons(self):
        for name, folder in DAEMONS:
            exe = os.path.join(self.build, folder, name)
            check(os.access(exe, os.X_OK), "%s not built (looked for %s)" % (name, exe))
            self.spawn(name, [exe, "--port-file", os.path.join(self.tmp, name + ".ports")])

    def http_port(self):
        """The HTTP port ingress got (port 0), from its port file."""
        path = os.path.join(self.tmp, "ciu-ingress.ports")

        def port():
            self.check_alive()
            if not os.path.exists(path):
                return None
            kv = dict(l.split("=", 1) for l in open(path).read().split() if "=" in l)
            return kv.get("http")
        return wait_for(port, timeout=remaining(20), what="ciu-ingress's port file")

    def check_alive(self):
        for name, p, _ in self.procs:
            if not name.startswith("tap"):
                check(p.poll() is None, "%s exited early with status %s" % (name, p.returncode))

    def stop_all(self):
        for _, p, _ in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for name, p, _ in self.procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print("%s did not stop within 5 s: SIGKILL" % name, file=sys.stderr)
                p.kill()
                p.wait()

    def dump_logs(self):
        for name, _, log in self.procs:
            for path in (log, log + ".err"):
                if os.path.exists(path):
                    with open(path, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                    print("----- %s -----\n%s" % (os.path.basename(path), text[-20000:]),
                          file=sys.stderr)

    # --- HTTP ------------------------------------------------------------

    def http(self, method, path, body=None, timeout=15):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=remaining(timeout)) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def wait_health(self):
        self.base = "http://127.0.0.1:%s" % self.http_port()
        deadline = time.monotonic() + remaining(20)
        last = None
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                status, _ = self.http("GET", "/health", timeout=2)
                if status == 200:
                    return
                last = "status %d" % status
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.1)
        raise TestFailure("ciu-ingress /health never answered 200 (%s)" % last)

    def poll(self, number, cursor, wait):
        q = {"to": number, "wait": str(wait)}
        if cursor:
            q["after"] = cursor
        status, body = self.http("GET", "/sim/messages?" + urllib.parse.urlencode(q),
                                 timeout=wait + 10)
        check(status == 200, "GET /sim/messages answered %d: %r" % (status, body[:200]))
        doc = json.loads(body)
        return doc.get("messages") or [], doc.get("cursor") or cursor

    def procs_alive(self, name):
        return all(p.poll() is None for n, p, _ in self.procs if n == name)

    def converse(self, number, answers=None):
        """Play the whole conversation; returns every reply's text."""
        _, cursor = self.poll(number, None, 0)  # skip anything sent before
        replies = []
        for text, last in answers or ANSWERS:
            status, body = self.http("POST", "/sim/messages", {"from": number, "text": text})
            check(status == 202, "POST /sim/messages %r answered %d: %r" % (text, status, body))
            # The bot may answer with several messages: take them all, up to the last.
            got = []
            deadline = time.monotonic() + remaining(15)
            while not any(last in (m.get("text") or "") for m in got) \
                    and time.monotonic() < deadline:
                more, cursor = self.poll(number, cursor, 5)
                got += more
            check(any(last in (m.get("text") or "") for m in got),
                  "no reply with %r from the bot to %r within 15 s: %r" % (last, text, got))
            replies += [m.get("text") or "" for m in got]
        return replies


def tap_lines(r, name):
    """The JSON lines a tap printed so far (a last partial line is left out)."""
    with open(os.path.join(r.tmp, name + ".log"), encoding="utf-8") as f:
        text = f.read()
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def run(r):
    # gen-salt: 64 hex digits, different every time, no settings needed.
    s1 = r.tool("ciu-admin", "gen-salt").stdout
    s2 = r.tool("ciu-admin", "gen-salt").stdout
    check(re.fullmatch(r"[0-9a-f]{64}\n", s1), "gen-salt printed %r, not 64 hex digits" % s1)
    check(s1 != s2, "gen-salt printed the same salt twice")

    # Before migrate, the SQLite store does not exist: status says so (69).
    out = r.tool("ciu-admin", "status", expect=69)
    check(out.stderr.count("\n") == 1 and "ciu-admin:" in out.stderr,
          "status without a store should print one line: %r" % out.stderr)
    out = r.tool("ciu-admin", "migrate")
    m = re.search(r"schema version (\d+)", out.stdout)
    check(m and int(m.group(1)) >= 1, "migrate printed %r, no schema version >= 1" % out.stdout)
    out = r.tool("ciu-admin", "migrate")
    check("up to date" in out.stdout, "second migrate should be a no-op: %r" % out.stdout)
    r.tool("ciu-admin", "no-such-command", expect=64)
    r.tool("ciu-admin", "--help")

    r.start_daemons()
    r.wait_health()

    tap = os.path.join(r.build, "tools", "ciu-tap")
    tap_all = r.spawn("tap-all", [tap, "--count", "100000", "--timeout", "20"])
    tap_issued = r.spawn("tap-issued", [tap, "--count", "3", "--timeout", "20", "ciu.issued"])
    for name in ("tap-all", "tap-issued"):
        wait_for(lambda: b"subscribed" in open(os.path.join(r.tmp, name + ".log.err"), "rb").read()
                 or check(r.procs_alive(name), "%s exited before subscribing" % name),
                 timeout=remaining(10), what="%s to subscribe" % name)
    # PUB/SUB drops what is published before a subscriber is connected: a
    # first conversation (another person, another CIU) shows both taps are.
    sent = len(r.converse(NUMBER_0, WARM_UP))
    wait_for(lambda: tap_lines(r, "tap-issued") and tap_lines(r, "tap-all"),
             timeout=remaining(10), what="the taps to print the first conversation's events")

    replies = r.converse(NUMBER_1)
    check(any(CIU in t for t in replies),
          "the CIU %s is in no reply to %s:\n%s" % (CIU, NUMBER_1, "\n".join(replies)))
    sent += len(replies)

    replies = r.converse(NUMBER_2)
    check(any(CIU in t for t in replies),
          "the CIU %s is in no reply to %s:\n%s" % (CIU, NUMBER_2, "\n".join(replies)))
    sent += len(replies)

    # ciu-tap ciu.issued --count 3 exits 0 by itself after the three issuances.
    try:
        rc = tap_issued.wait(timeout=remaining(15))
    except subprocess.TimeoutExpired:
        raise TestFailure("ciu-tap --count 3 ciu.issued did not exit after three CIUs")
    check(rc == 0, "ciu-tap --count 3 ciu.issued exited %d" % rc)
    issued = tap_lines(r, "tap-issued")
    check(len(issued) == 3 and all(e["type"] == "ciu.issued" for e in issued),
          "ciu-tap ciu.issued printed %r" % issued)
    check([(e.get("ciu"), e.get("existing")) for e in issued]
          == [(WARM_UP_CIU, False), (CIU, False), (CIU, True)],
          "expected the first conversation's CIU, then %s new and existing: %r" % (CIU, issued))

    # The full tap stops cleanly on SIGTERM, once it printed the last events.
    wait_for(lambda: sum(e["type"] == "message.sent" for e in tap_lines(r, "tap-all")) == sent,
             timeout=remaining(10), what="the %d message.sent events" % sent)
    tap_all.send_signal(signal.SIGTERM)
    try:
        rc = tap_all.wait(timeout=5)
    except subprocess.TimeoutExpired:
        raise TestFailure("ciu-tap did not stop within 5 s of SIGTERM")
    check(rc == 0, "ciu-tap exited %d on SIGTERM" % rc)
    with open(os.path.join(r.tmp, "tap-all.log"), encoding="utf-8") as f:
        raw = f.read()
    events = []
    for line in raw.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            raise TestFailure("ciu-tap printed a line that is not JSON: %r" % line)
    for e in events:
        check(isinstance(e, dict) and e.get("v") == 1 and e.get("type") and e.get("id")
              and isinstance(e.get("ts"), int), "event without v/type/id/ts: %r" % e)
    types = {e["type"] for e in events}
    for t in ("message.received", "message.processed", "ciu.requested", "ciu.issued",
              "ciu.duplicate", "message.sent"):
        check(t in types, "ciu-tap saw no %s event (saw %s)" % (t, sorted(types)))
    check(any(e["type"] == "ciu.issued" and e.get("ciu") == CIU for e in events),
          "no ciu.issued event with \"ciu\": %r" % CIU)
    check(any(e["type"] == "ciu.duplicate" and e.get("ciu") == CIU
              and e.get("detail") == "same_ciu_other_number" for e in events),
          "no ciu.duplicate same_ciu_other_number event for %s" % CIU)
    for number in (NUMBER_1, NUMBER_2):
        check(number.lstrip("+") not in raw,
              "ciu-tap output contains the phone number %s" % number)

    # ciu-admin on the live store.
    out = r.tool("ciu-admin", "duplicates", "--json")
    dups = json.loads(out.stdout)
    same = [d for d in dups if d["kind"] == "same_ciu_other_number" and d["ciu"] == CIU]
    check(same, "duplicates --json lists no same_ciu_other_number for %s: %s" % (CIU, out.stdout))
    d = same[0]
    check(d["status"] == "open" and re.fullmatch(r"[0-9a-f]{12}", d["user"])
          and re.fullmatch(r"[0-9a-f]{12}", d["other_user"] or "")
          and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", d["created"]),
          "unexpected duplicate entry: %r" % d)
    for number in (NUMBER_1, NUMBER_2):
        check(number.lstrip("+") not in out.stdout, "duplicates output shows a phone number")
    out = r.tool("ciu-admin", "duplicates")
    check(CIU in out.stdout and "same_ciu_other_number" in out.stdout,
          "duplicates (text) does not list the duplicate: %r" % out.stdout)

    out = r.tool("ciu-admin", "registry", CIU.lower())
    check(re.search(r"request count:\s+2\b", out.stdout),
          "registry %s does not show request count 2: %r" % (CIU.lower(), out.stdout))
    out = r.tool("ciu-admin", "registry", "--json", CIU)
    reg = json.loads(out.stdout)
    check(reg.get("request_count") == 2 and reg.get("registered") is True,
          "registry --json: %r" % reg)
    out = r.tool("ciu-admin", "registry", "ZZZZZZ0ZZ1", expect=1)
    check("not registered" in out.stdout, "unknown CIU: %r" % out.stdout)
    # issue 11: something that is not a CIU is said so, not "not registered"
    for bad in ("foo", "ZZZZZZ0ZZ9", "MBEIBR7KN12", "1BEIBR7KN1"):
        out = r.tool("ciu-admin", "registry", bad, expect=64)
        check("not a valid CIU" in out.stderr + out.stdout and "not registered" not in out.stdout,
              "registry %s: %r %r" % (bad, out.stdout, out.stderr))

    out = r.tool("ciu-admin", "status")
    check(re.search(r"registry size:\s+2\b", out.stdout) and "duplicates open:" in out.stdout,
          "status output unexpected: %r" % out.stdout)
    st = json.loads(r.tool("ciu-admin", "status", "--json").stdout)
    check(st["schema_version"] >= 1 and st["registry"]["size"] == 2
          and st["duplicates"]["open"] >= 1, "status --json unexpected: %r" % st)

    # Resolve it: the open list no longer shows it, --all does.
    r.tool("ciu-admin", "duplicates", "resolve", str(d["id"]))
    open_now = json.loads(r.tool("ciu-admin", "duplicates", "--json").stdout)
    check(all(x["id"] != d["id"] for x in open_now), "resolved duplicate still listed as open")
    all_now = json.loads(r.tool("ciu-admin", "duplicates", "--json", "--all").stdout)
    check(any(x["id"] == d["id"] and x["status"] == "reviewed" for x in all_now),
          "resolved duplicate not listed as reviewed with --all")
    r.tool("ciu-admin", "duplicates", "resolve", "999999", expect=1)
    r.tool("ciu-admin", "duplicates", "resolve", "abc", expect=64)

    # Unreachable PostgreSQL: one line, exit 69. Bad configuration: exit 78.
    saved = dict(r.env)
    closed, port = closed_port()
    r.env["DATABASE_URL"] = "postgresql://ciu:secret@127.0.0.1:%d/ciu?connect_timeout=2" % port
    out = r.tool("ciu-admin", "status", expect=69)
    closed.close()
    check("secret" not in out.stderr, "the password leaked into the error: %r" % out.stderr)
    r.env = dict(saved)
    r.env["LOG_LEVEL"] = "loud"
    r.tool("ciu-admin", "status", expect=78)
    r.env = saved
    r.check_alive()


def main():
    build = os.environ.get("CIU_BUILD_DIR")
    if not build or not os.path.isdir(build):
        print("test_tools: set CIU_BUILD_DIR to the build folder", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="ciu-tools-")
    r = Run(os.path.abspath(build), tmp)
    ok = False
    why = None
    try:
        run(r)
        ok = True
    except TestFailure as e:
        why = str(e)
    except Exception:  # any crash of the test is a failure too
        why = traceback.format_exc()
    finally:
        r.stop_all()
        if not ok:
            r.dump_logs()
            print("test folder kept: %s" % tmp, file=sys.stderr)
            print("FAIL: %s" % why, file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if ok:
        print("test_tools: OK")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
