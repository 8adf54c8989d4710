#!/usr/bin/env python3
"""The HTTP front door answers bad requests clearly and loses nothing.

Malformed JSON and missing fields get 400 with a JSON error (and a log
line), bodies over 64 KiB get 413, unknown paths 404, wrong methods 405;
/health answers (and /metrics on the admin port only); a body never reaches the log; the chat page is served; non-text messages
are accepted; /media tokens that do not exist are 404.

The simulator is a local training tool (issue 11): its routes answer only
the Host names of CIU_SIM_ALLOWED_HOSTS (loopback names by default, any
port), 403 with a JSON error and a log line otherwise (DNS rebinding), and
POST only application/json, 415 otherwise (a plain form post from another
site). The provider webhooks are not concerned (they are signed).
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import Person, check, run  # noqa: E402


def raw_request(stack, method, path, headers, body=None):
    """A request with exactly these headers (urllib always sets Host)."""
    port = int(stack.base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def local_only(stack):
    sim = b'{"from": "+243810000002", "text": "Bonjour"}'
    for host in ["localhost", "localhost:8000", "127.0.0.1:1", "[::1]:8000", "LOCALHOST:9"]:
        status, body = raw_request(stack, "GET", "/sim/messages?to=%2B243810000002&wait=0",
                                   {"Host": host})
        check(status == 200, "Host %r should be allowed: %s %s" % (host, status, body))
    for host in ["evil.example", "evil.example:8000", "127.0.0.1.evil.example", "localhost.",
                 "[::1]x", "localhost:", ""]:
        for method, path, body in [("GET", "/sim/", None), ("GET", "/", None),
                                   ("GET", "/sim/messages?to=%2B243810000002", None),
                                   ("POST", "/sim/messages", sim)]:
            h = {"Content-Type": "application/json"} if body else {}
            h["Host"] = host
            status, data = raw_request(stack, method, path, h, body)
            check(status == 403, "Host %r %s %s: expected 403, got %s" % (host, method, path,
                                                                         status))
            check("CIU_SIM_ALLOWED_HOSTS" in json.loads(data)["error"], "403 without JSON error")
    log = open(stack.logs["ciu-ingress"], errors="replace").read()
    check("403 GET /sim/: Host 'evil.example' is not in CIU_SIM_ALLOWED_HOSTS" in log,
          "a refused Host is not logged")
    for ctype in [None, "text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonp"]:
        h = {"Host": "127.0.0.1"}
        if ctype:
            h["Content-Type"] = ctype
        status, data = raw_request(stack, "POST", "/sim/messages", h, sim)
        check(status == 415, "Content-Type %r: expected 415, got %s" % (ctype, status))
        check("error" in json.loads(data), "415 without JSON error")
    for ctype in ["application/json", "application/json; charset=utf-8", "Application/JSON"]:
        status, data = raw_request(stack, "POST", "/sim/messages",
                                   {"Host": "localhost", "Content-Type": ctype}, sim)
        check(status == 202, "Content-Type %r: expected 202, got %s %s" % (ctype, status, data))
    # /health and the provider webhooks are not the simulator's: no Host check
    status, _ = raw_request(stack, "GET", "/health", {"Host": "ciu.example.org"})
    check(status == 200, "/health with a public Host: %s" % status)
    status, _ = raw_request(stack, "POST", "/whatsapp/webhook",
                            {"Host": "ciu.example.org",
                             "Content-Type": "application/x-www-form-urlencoded"}, b"a=b")
    check(status not in (415,), "the webhook must not require JSON: %s" % status)


def scenario(stack):
    local_only(stack)
    def post(raw, ctype="application/json"):
        return stack.request("POST", "/sim/messages", raw=raw, headers={"Content-Type": ctype})

    for raw, why in [(b"{not json", "malformed"), (b"[]", "not an object"),
                     (b'{"text": "hi"}', "no from"), (b'{"from": "+243810000001"}', "no text"),
                     (b'{"from": 243810000001, "text": "x"}', "from not a string"),
                     (b'{"from": "0810000001", "text": "x"}', "not E.164"),
                     (b'{"from": "+243810000001", "text": 5}', "text not a string"),
                     (b'{"from": "+243810000001", "text": "x", "type": "fax"}', "bad type")]:
        status, body = post(raw)
        check(status == 400, "%s: expected 400, got %s" % (why, status))
        check("error" in json.loads(body), "%s: no JSON error body" % why)
    log = open(stack.logs["ciu-ingress"], errors="replace").read()
    check("400 POST /sim/messages" in log, "400s are not logged")

    status, _ = post(b'{"from": "+243810000001", "text": "' + b"x" * 70000 + b'"}')
    check(status == 413, "70 kB body: expected 413, got %s" % status)
    status, _ = stack.request("GET", "/nope")
    check(status == 404, "unknown path: expected 404, got %s" % status)
    status, _ = stack.request("DELETE", "/sim/messages")
    check(status == 405, "DELETE: expected 405, got %s" % status)
    status, _ = stack.request("GET", "/sim/messages?to=abc")
    check(status == 400, "bad 'to': expected 400, got %s" % status)
    status, _ = stack.request("GET", "/sim/messages?to=%2B243810000001&after=xyz")
    check(status == 400, "bad cursor: expected 400, got %s" % status)
    status, _ = stack.request("GET", "/media/qr/" + "ab" * 32 + ".png")
    check(status == 404, "unknown media token: expected 404, got %s" % status)
    status, _ = stack.request("GET", "/media/qr/../../etc/passwd")
    check(status == 404, "path traversal: expected 404, got %s" % status)

    status, body = stack.request("GET", "/health")
    doc = json.loads(body)
    check(status == 200 and doc["store"] is True, "health: %s %s" % (status, body))
    # /metrics is on ingress's admin port only, never on the public one
    status, body = stack.request("GET", "/metrics")
    check(status == 404, "metrics on the public port: %s" % status)
    admin = stack.ports("ciu-ingress")["admin"]
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % admin, timeout=5) as r:
        check(r.status == 200 and b"ciu_inbound_messages_total" in r.read(), "admin metrics")
    # a body fragment (a name) never reaches the log, only where the JSON broke
    post(b'{"from": "+243810000001", "text": "Kabila Joseph')
    log = open(stack.logs["ciu-ingress"], errors="replace").read()
    check("Kabila" not in log, "a request body fragment was logged")
    status, body = stack.request("GET", "/sim/")
    check(status == 200 and b"<html" in body.lower(), "chat page not served: %s" % status)

    # Nothing was stored for the refused requests; a good one still works,
    # and a non-text message gets "please answer in text" + the question.
    p = Person(stack, "+243810000001")
    got = p.say("Bonjour", "Question 1 sur 5")
    check(len(got) == 2, "the refused requests produced replies: %r" % [m["text"][:30] for m in got])
    got = p.say(None, "Question 1 sur 5", kind="image")
    check(len(got) == 2, "image: expected a text-only notice and the question: %r" % got)
    # long-poll returns within the wait when nothing comes
    msgs, cur = stack.poll("+243899999999", None, wait=1)
    check(msgs == [] and cur == "0", "empty mailbox: %r %r" % (msgs, cur))

    # a long-poll still waiting when ingress stops: answered, nothing leaked (the
    # sanitizer build's exit code, checked by run(), says so)
    threading.Thread(target=lambda: stack.poll("+243899999998", None, wait=30),
                     daemon=True).start()

    def waiting():
        with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % admin, timeout=5) as r:
            return b"ciu_sim_polls_waiting 1" in r.read()
    deadline = time.time() + 10
    while not waiting():
        check(time.time() < deadline, "the long-poll never waited")
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(run(scenario, "http", "sqlite"))
