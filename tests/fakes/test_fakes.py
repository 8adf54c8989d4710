#!/usr/bin/env python3
"""Self-test of the provider fakes and tests/harness/providers.py; needs no C build.

    python3 tests/fakes/test_fakes.py [name-substring ...]

Checks the signature helpers against the official vectors (twilio-python / twilio-node,
courier), then starts fake_twilio.py and fake_meta.py and drives them over HTTP: valid and
invalid sends, limits, media, scripted faults, status callbacks/webhooks, /_calls, SIGTERM.
A small local HTTP server plays the gateway (serves media, receives callbacks).
Prints one line per test and "N passed, M failed"; exit code 0 only if all pass.
"""
import hashlib
import json
import os
import re
import shutil
import struct
import sys
import tempfile
import threading
import time
import traceback
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import providers as P  # noqa: E402
from stack import TestFailure, check  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def eq(got, want, what):
    check(got == want, "%s: got %r, want %r" % (what, got, want))


def png_bytes(n=8):
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(0 if (x + y) % 2 else 255 for x in range(n))
                    for y in range(n))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png_bytes()


class Receiver:
    """Plays the gateway: serves media and records the callbacks/webhooks it receives."""

    def __init__(self):
        self.cond = threading.Condition()
        self.posts = []
        rx = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, status, body, ctype):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/qr.png":
                    self.reply(200, PNG, "image/png")
                elif self.path == "/page":
                    self.reply(200, b"<html></html>", "text/html")
                else:
                    self.reply(404, b"not found", "text/plain")

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rx.cond:
                    rx.posts.append({"path": self.path, "headers": dict(self.headers.items()),
                                     "body": body})
                    rx.cond.notify_all()
                if self.path.startswith("/cb500"):
                    self.reply(500, b"oops", "text/plain")
                else:
                    self.reply(200, b'<?xml version="1.0" encoding="UTF-8"?><Response/>',
                               "text/xml")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, pred, timeout=15):
        """Wait until pred(posts) holds; returns the posts."""
        deadline = time.time() + timeout
        with self.cond:
            while not pred(self.posts):
                left = deadline - time.time()
                check(left > 0, "receiver: condition not met; got %r" % [
                    (p["path"], p["body"][:200]) for p in self.posts])
                self.cond.wait(left)
            return list(self.posts)

    def on(self, prefix):
        with self.cond:
            return [p for p in self.posts if p["path"].startswith(prefix)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


ENV = {}


def twilio():
    return ENV["twilio"]


def meta():
    return ENV["meta"]


def rx():
    return ENV["rx"]


def form_of(post):
    from urllib.parse import parse_qsl
    return parse_qsl(post["body"].decode("utf-8"), keep_blank_values=True)


def err_code(resp):
    return resp["error"]["code"]


# ---------------------------------------------------------------------------
# Signatures (no process needed)
# ---------------------------------------------------------------------------

VEC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VEC_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
              ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")]
H1 = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
H2 = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@test
def twilio_signature_vectors():
    sig, val = P.twilio_signature, P.twilio_validate
    eq(sig(VEC_URL, VEC_PARAMS, "12345"), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "row 1")
    eq(sig(VEC_URL, dict(VEC_PARAMS), "12345"),
       "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "row 1, params as a dict")
    check(val(VEC_URL, VEC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"), "row 1 validates")
    url443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    eq(sig(url443, VEC_PARAMS, "12345"), "kvajT1Ptam85bY51eRf/AJRuM3w=", "add-port :443")
    check(val(VEC_URL, VEC_PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w=", "12345"),
          "the :443 signature validates on the URL without port")
    check(val("https://mycompany.com:1234/myapp.php?foo=1&bar=2", VEC_PARAMS,
              "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"), ":1234 validates via stripped port")
    url1234 = "http://mycompany.com:1234/myapp.php?foo=1&bar=2"
    eq(sig(url1234, VEC_PARAMS, "12345"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", "explicit port kept")
    check(val(url1234, VEC_PARAMS, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", "12345"),
          "http :1234 validates as-is")
    eq(sig("http://mycompany.com:80/myapp.php?foo=1&bar=2", VEC_PARAMS, "12345"),
       "0ZXoZLH/DfblKGATFgpif+LLRf4=", "http :80")
    check(val("http://mycompany.com/myapp.php?foo=1&bar=2", VEC_PARAMS,
              "0ZXoZLH/DfblKGATFgpif+LLRf4=", "12345"), "http validates via added :80")
    rep = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"),
           ("Digits", "1234")]
    eq(sig(VEC_URL, rep, "12345"), "IK+Dwps556ElfBT0I3Rgjkr1wJU=", "repeated keys")
    # the string the SDKs sign for repeated keys: values de-duplicated and sorted
    import base64
    import hmac
    s = VEC_URL + "Digits1234Digits5678SidCA123SidAccountAC123"
    eq(base64.b64encode(hmac.new(b"12345", s.encode(), hashlib.sha1).digest()).decode(),
       "IK+Dwps556ElfBT0I3Rgjkr1wJU=", "repeated keys, string to sign")
    body = '{"property": "value", "boolean": true}'
    eq(P.twilio_body_hash(body.encode()), H1, "bodySHA256")
    burl = VEC_URL + "&bodySHA256=" + H1
    eq(sig(burl, [], "12345"), "a9nBmqA0ju/hNViExpshrM61xv4=", "JSON body URL")
    check(val(burl, body, "a9nBmqA0ju/hNViExpshrM61xv4=", "12345"), "JSON body validates")
    check(not val(burl, body + " ", "a9nBmqA0ju/hNViExpshrM61xv4=", "12345"),
          "a changed body must fail the bodySHA256 check")
    eq(P.twilio_body_hash(b"{}"), H2, "bodySHA256 of {}")
    check(sig(VEC_URL + "&bodySHA256=" + H2, [], "12345") != "Ldidvp12m26NI7eqEvxnEpkd9Hc=",
          "{} vector must not match without the port")
    eq(sig("https://mycompany.com:443/myapp.php?foo=1&bar=2&bodySHA256=" + H2, [], "12345"),
       "Ldidvp12m26NI7eqEvxnEpkd9Hc=", "{} vector on the :443 URL")
    check(val(VEC_URL + "&bodySHA256=" + H2, "{}", "Ldidvp12m26NI7eqEvxnEpkd9Hc=", "12345"),
          "{} vector validates via the add-port variant")
    eq(sig("https://mycompany.com/myapp.php?bodySHA256=" + H1, [], "12345"),
       "y77kIzt2vzLz71DgmJGsen2scGs=", "bodySHA256 only (node)")
    check(not val(VEC_URL, VEC_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12346"), "wrong token")
    check(not val(VEC_URL, VEC_PARAMS[:-1], "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "12345"),
          "a missing parameter must fail")


@test
def meta_signature_vectors():
    eq(P.meta_signature(b"hello world", "sesame"),
       "f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17", "courier vector 1")
    eq(P.meta_signature(b"hello world2", "sesame"),
       "60905fdf409d0b4f721e99f6f25b31567a68a6b45e933d814e17a246be4c5a53", "courier vector 2")
    h = "sha256=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17"
    check(P.meta_verify(b"hello world", h, "sesame"), "header verifies")
    check(not P.meta_verify(b"hello world", h[:-1], "sesame"), "70-char header refused")
    check(not P.meta_verify(b"hello world", "sha1=" + h[7:] + "xx", "sesame"), "bad prefix")
    check(not P.meta_verify(b"hello world!", h, "sesame"), "other body refused")


@test
def inbound_builders():
    f = P.twilio_inbound_form("+243810000001", "Bonjour", message_sid="SM" + "a" * 32)
    for k, v in [("MessageSid", "SM" + "a" * 32), ("SmsMessageSid", "SM" + "a" * 32),
                 ("SmsSid", "SM" + "a" * 32), ("AccountSid", P.TWILIO_ACCOUNT_SID),
                 ("From", "whatsapp:+243810000001"), ("To", "whatsapp:" + P.TWILIO_NUMBER),
                 ("Body", "Bonjour"), ("NumMedia", "0"), ("WaId", "243810000001"),
                 ("ProfileName", "Test User"), ("ApiVersion", "2010-04-01")]:
        eq(f.get(k), v, "twilio form " + k)
    check("ButtonText" not in f, "no ButtonText unless given")
    f = P.twilio_inbound_form("243810000001", "1", ButtonText="Oui", ButtonPayload="yes")
    eq((f["ButtonText"], f["ButtonPayload"]), ("Oui", "yes"), "button fields via extra")
    f = P.twilio_inbound_form("243810000001", "1", button_text="Oui", button_payload="yes")
    eq((f["ButtonText"], f["ButtonPayload"]), ("Oui", "yes"), "button fields via keywords")
    check(re.match(r"^SM[0-9a-f]{32}$", f["MessageSid"]), "generated MessageSid")
    f = P.twilio_inbound_form("US.13491208655302741918", "hi")
    eq(f["From"], "whatsapp:US.13491208655302741918", "BSUID From")
    check("WaId" not in f, "no WaId for a BSUID")

    msgs = [P.meta_text("+243810000001", "Bonjour é", name="Ana"),
            P.meta_list_reply("243810000002", "r1", "Kinshasa", description="KN"),
            P.meta_button_reply("243810000001", "yes", "Oui"),
            P.meta_button("243810000001", "Oui", "YES"),
            P.meta_image("243810000001", "123456789012345", caption="x"),
            P.meta_reaction("243810000001", "wamid.X", "👍"),
            P.meta_system("243810000003"),
            P.meta_username_text("US.13491208655302741918", "hi", username="@ana")]
    pl = P.meta_inbound_payload(messages=msgs,
                                statuses=[P.meta_status("wamid.Y", "read", "243810000001")])
    v = pl["entry"][0]["changes"][0]["value"]
    eq(pl["object"], "whatsapp_business_account", "object")
    eq(v["metadata"]["phone_number_id"], P.META_PHONE_NUMBER_ID, "metadata")
    eq([m["type"] for m in v["messages"]],
       ["text", "interactive", "interactive", "button", "image", "reaction", "system", "text"],
       "message types")
    eq(v["messages"][0]["from"], "243810000001", "from is digits")
    check(isinstance(v["messages"][0]["timestamp"], str), "timestamp is a string")
    eq(v["messages"][1]["interactive"], {"type": "list_reply", "list_reply": {
        "id": "r1", "title": "Kinshasa", "description": "KN"}}, "list_reply")
    check("context" in v["messages"][1], "list_reply has a context")
    eq(v["messages"][2]["interactive"]["button_reply"], {"id": "yes", "title": "Oui"},
       "button_reply")
    eq(v["messages"][3]["button"], {"payload": "YES", "text": "Oui"}, "button")
    u = v["messages"][7]
    check("from" not in u and u["from_user_id"] == "US.13491208655302741918", "username-only")
    ids = [(c.get("wa_id"), c.get("user_id")) for c in v["contacts"]]
    eq(ids, [("243810000001", None), ("243810000002", None),
             (None, "US.13491208655302741918")], "contacts (none for the system message)")
    eq(v["contacts"][0]["profile"]["name"], "Ana", "profile name")
    eq(v["statuses"][0]["status"], "read", "status")
    raw = P.meta_body(pl)
    check(b"\\u00e9" in raw and b"\\ud83d\\udc4d" in raw, "non-ASCII escaped as \\uXXXX")
    raw.decode("ascii")
    pl = P.meta_inbound_payload(messages=[P.meta_system("243810000003")])
    check("contacts" not in pl["entry"][0]["changes"][0]["value"], "system: no contacts")


# ---------------------------------------------------------------------------
# fake_twilio
# ---------------------------------------------------------------------------

def twilio_resp(status, resp, want_status, want_code=None, what=""):
    eq(status, want_status, "%s HTTP status (%r)" % (what, resp))
    if want_code is not None:
        eq(resp.get("code"), want_code, what + " code")
        eq(resp.get("status"), want_status, what + " body status")
        eq(resp.get("more_info"), "https://www.twilio.com/docs/errors/%d" % want_code,
           what + " more_info")


@test
def twilio_send_media_and_callbacks():
    tw, r = twilio(), rx()
    cb = r.base + "/cb?uuid=u1&action=callback"
    status, headers, res = tw.send("+243810000001", "Votre code : MBEIBR7DA1",
                                   media_url=r.base + "/qr.png", status_callback=cb)
    twilio_resp(status, res, 201, what="send")
    check(re.match(r"^SM[0-9a-f]{32}$", res["sid"]), "sid %r" % res["sid"])
    for k, v in [("status", "queued"), ("to", "whatsapp:+243810000001"),
                 ("from", "whatsapp:" + P.TWILIO_NUMBER), ("body", "Votre code : MBEIBR7DA1"),
                 ("num_media", "1"), ("error_code", None), ("account_sid", P.TWILIO_ACCOUNT_SID),
                 ("direction", "outbound-api")]:
        eq(res[k], v, "resource " + k)
    check(re.match(r"^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d \+0000$", res["date_created"]),
          "date_created %r" % res["date_created"])
    eq(res["uri"], "/2010-04-01/Accounts/%s/Messages/%s.json" % (P.TWILIO_ACCOUNT_SID,
                                                                  res["sid"]), "uri")
    posts = r.wait(lambda ps: len([p for p in ps if "uuid=u1" in p["path"]]) >= 3)
    posts = [p for p in posts if "uuid=u1" in p["path"]]
    eq([dict(form_of(p))["MessageStatus"] for p in posts], ["sent", "delivered", "read"],
       "callback order")
    for p in posts:
        pairs = form_of(p)
        f = dict(pairs)
        check(P.twilio_validate(r.base + p["path"], pairs, p["headers"]["X-Twilio-Signature"],
                                P.TWILIO_AUTH_TOKEN), "callback signature")
        eq(P.twilio_signature(r.base + p["path"], pairs, P.TWILIO_AUTH_TOKEN),
           p["headers"]["X-Twilio-Signature"], "exact signature")
        for k, v in [("MessageSid", res["sid"]), ("SmsSid", res["sid"]),
                     ("SmsStatus", f["MessageStatus"]), ("AccountSid", P.TWILIO_ACCOUNT_SID),
                     ("From", "whatsapp:" + P.TWILIO_NUMBER), ("To", "whatsapp:+243810000001"),
                     ("ApiVersion", "2010-04-01"), ("ChannelPrefix", "whatsapp")]:
            eq(f.get(k), v, "callback " + k)
        check("ErrorCode" not in f, "no ErrorCode on success")
    calls = tw.wait_calls(lambda cs: cs and cs[-1].get("done"), kind="messages")
    c = calls[-1]
    eq(c["form"]["To"], "whatsapp:+243810000001", "recorded form")
    eq(c["form"]["MediaUrl"], r.base + "/qr.png", "recorded MediaUrl")
    eq(c["status"], 201, "recorded status")
    eq(c["response"]["sid"], res["sid"], "recorded answer")
    m = c["media"][0]
    eq((m["status"], m["content_type"], m["length"], m["sha256"]),
       (200, "image/png", len(PNG), hashlib.sha256(PNG).hexdigest()), "media fetch record")
    saved = os.path.join(tw.media_dir, res["sid"] + ".png")
    eq(m["saved_as"], saved, "saved_as")
    eq(open(saved, "rb").read(), PNG, "saved bytes")
    eq([(x["status"], x["http_status"]) for x in c["callbacks"]],
       [("sent", 200), ("delivered", 200), ("read", 200)], "recorded callback answers")
    status, _, data = P.http_get(tw.url(res["uri"]), tw.auth_header())
    eq((status, json.loads(data)["status"]), (200, "read"), "GET message shows last status")


@test
def twilio_refusals():
    tw = twilio()
    status, headers, res = tw.send("+243810000001", "x", auth=tw.auth_header(token="wrong"))
    eq(status, 401, "bad token")
    eq(res, {"code": 20003, "message": "Authenticate",
             "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401},
       "401 body")
    status, _, res = tw.send("+243810000001", "x", auth={})
    twilio_resp(status, res, 401, 20003, "no auth")
    other = "AC" + "f" * 32
    st, _, data = P.post_form(tw.url("/2010-04-01/Accounts/%s/Messages.json" % other),
                              {"To": "whatsapp:+243810000001", "From": "whatsapp:" +
                               P.TWILIO_NUMBER, "Body": "x"}, tw.auth_header())
    twilio_resp(st, json.loads(data), 404, 20404, "other account in path")
    cases = [
        (dict(to="whatsapp:243810000001"), 400, 21211, "To without +"),
        (dict(to="whatsapp:+2438"), 400, 21211, "To too short"),
        (dict(to="whatsapp:+2438100000011234"), 400, 21211, "To too long"),
        (dict(to="+243810000001", extra_to=True), 400, 21211, "To without whatsapp:"),
        (dict(from_=P.TWILIO_NUMBER), 400, 21212, "From without whatsapp:"),
        (dict(from_="whatsapp:+14155550000"), 400, 63007, "From not our number"),
        (dict(body="é" * 1601), 400, 21617, "Body of 1601 characters"),
        (dict(body=""), 400, 21602, "no Body and no MediaUrl"),
        (dict(body=None), 400, 21602, "Body missing"),
        (dict(media_url=["ftp://x/y.png"]), 400, 21620, "bad MediaUrl"),
        (dict(media_url=["http://127.0.0.1:1/%d.png" % i for i in range(11)]), 400, 21623,
         "11 MediaUrl"),
        (dict(status_callback="not a url"), 400, 21609, "bad StatusCallback"),
    ]
    for kw, want_status, want_code, what in cases:
        to = kw.pop("to", "whatsapp:+243810000001")
        if kw.pop("extra_to", False):
            params = [("To", to), ("From", "whatsapp:" + P.TWILIO_NUMBER), ("Body", "x")]
            st, _, data = P.post_form(tw.messages_url, params, tw.auth_header())
            res = json.loads(data)
        else:
            body = kw.pop("body", "x")
            st, _, res = tw.send(to, body, **kw)
        twilio_resp(st, res, want_status, want_code, what)
    st, _, data = P.post_form(tw.messages_url, {"From": "whatsapp:" + P.TWILIO_NUMBER,
                                                "Body": "x"}, tw.auth_header())
    twilio_resp(st, json.loads(data), 400, 21604, "To missing")
    st, _, res = tw.send("+243810000001", "😀" * 1600)
    twilio_resp(st, res, 201, what="1600 code points (emoji)")
    st, _, res = tw.send("+243810000001", None, media_url=rx().base + "/qr.png")
    twilio_resp(st, res, 201, what="media without Body")
    calls = tw.calls("messages")
    eq(calls[0]["status"], 401, "first recorded call is the 401")
    check(all("response" in c and "time" in c and "headers" in c for c in calls),
          "calls carry response, time and headers")


@test
def twilio_faults_and_control():
    tw = twilio()
    st = tw.control(faults=[{"status": 503, "count": 2},
                            {"status": 429, "retry_after": 2, "code": 20429, "count": 1},
                            {"status": 400, "code": 21610, "to": "+243810000002"}])
    eq(len(st["faults"]), 3, "faults scripted")
    got = []
    for to in ["+243810000001"] * 4 + ["+243810000002", "+243810000002"]:
        status, headers, res = tw.send(to, "x")
        got.append((status, res.get("code"), headers.get("Retry-After")))
    eq(got, [(503, 20503, None), (503, 20503, None), (429, 20429, "2"), (201, None, None),
             (400, 21610, None), (201, None, None)], "fault sequence")
    eq(tw.state()["faults"], [], "faults consumed")
    calls = tw.calls("messages")
    eq(calls[2]["fault"]["retry_after"], 2, "fault recorded in /_calls")
    eq(calls[2]["response_headers"].get("Retry-After"), "2", "Retry-After recorded")
    tw.control(faults=[{"delay_ms": 300}])
    t0 = time.time()
    status, _, _ = tw.send("+243810000001", "slow")
    check(status == 201 and time.time() - t0 >= 0.3, "a delay-only fault answers slowly")
    tw.control(faults=[{"body": "<html>bad gateway</html>", "status": 502,
                        "content_type": "text/html"}])
    status, headers, data = P.post_form(tw.messages_url, {"To": "whatsapp:+243810000001",
                                        "From": "whatsapp:" + P.TWILIO_NUMBER, "Body": "x"},
                                        tw.auth_header())
    eq((status, data, headers.get("Content-Type")), (502, b"<html>bad gateway</html>",
                                                     "text/html"), "raw body fault")
    tw.control(down=True)
    status, _, res = tw.send("+243810000001", "x")
    twilio_resp(status, res, 503, 20503, "down")
    tw.control(down=False, auth_token="rotated")
    status, _, res = tw.send("+243810000001", "x")
    eq(status, 401, "old token refused after rotation")
    status, _, res = tw.send("+243810000001", "x", auth=tw.auth_header(token="rotated"))
    eq(status, 201, "new token accepted")
    tw.reset()
    eq(tw.calls(), [], "/_reset clears the calls")
    eq(tw.state()["auth_token"], P.TWILIO_AUTH_TOKEN, "/_reset restores the token")
    tw.control(max_mps=2)
    codes = [tw.send("+24381000000%d" % i, "x")[0] for i in range(3)]
    eq(codes, [201, 201, 429], "max_mps=2")
    eq(tw.calls()[-1]["response"]["code"], 20429, "max_mps answer code")
    tw.reset()
    for bad in [{"nope": 1}, {"faults": [{"status": 99}]}, {"faults": [{"sttus": 500}]},
                {"statuses": ["bogus"]}, {"pair_rate_ms": 10}, {"down": "yes"}]:
        st, _, data = P.post_json(tw.url("/_control"), json.dumps(bad).encode())
        eq(st, 400, "control %r refused" % bad)
    eq(tw.state()["faults"], [], "a refused control document changes nothing")


@test
def twilio_status_variants():
    tw, r = twilio(), rx()

    def send(tag, **kw):
        status, _, res = tw.send("+243810000009", "x", status_callback=r.base + "/cb?t=" + tag,
                                 **kw)
        eq(status, 201, "send " + tag)
        tw.wait_calls(lambda cs: any(c.get("sid") == res["sid"] and c.get("done")
                                     for c in cs), kind="messages")
        return [dict(form_of(p)) for p in r.on("/cb?t=" + tag)], res
    tw.control(statuses=["read", "sent", "delivered"])
    forms, _ = send("order")
    eq([f["MessageStatus"] for f in forms], ["read", "sent", "delivered"], "custom order")
    tw.control(statuses=["sent", {"status": "failed", "error_code": 63016}])
    forms, _ = send("fail")
    eq([(f["MessageStatus"], f.get("ErrorCode")) for f in forms],
       [("sent", None), ("failed", "63016")], "failed with ErrorCode")
    tw.control(statuses={"order": ["undelivered"]})
    forms, _ = send("undel")
    eq([(f["MessageStatus"], f.get("ErrorCode")) for f in forms], [("undelivered", "30008")],
       "undelivered has a default ErrorCode")
    tw.control(statuses=False)
    forms, _ = send("off")
    eq(forms, [], "statuses off: no callback")
    tw.control(statuses={"order": ["sent"], "by_to": {"243810000009": ["delivered"]}})
    forms, _ = send("byto")
    eq([f["MessageStatus"] for f in forms], ["delivered"], "per-recipient order")
    tw.control(statuses=None)
    forms, _ = send("media404", media_url=r.base + "/missing.png")
    eq([(f["MessageStatus"], f.get("ErrorCode")) for f in forms], [("failed", "63019")],
       "media 404 -> failed 63019")
    c = [c for c in tw.calls("messages") if c.get("media")][-1]
    eq((c["media"][0]["status"], c["media"][0]["error_code"]), (404, 63019), "media record")
    forms, _ = send("mediahtml", media_url=r.base + "/page")
    eq([f.get("ErrorCode") for f in forms], ["63021"], "text/html media -> 63021")
    tw.control(statuses={"order": ["sent"], "retries": 1})
    status, _, res = tw.send("+243810000009", "x", status_callback=r.base + "/cb500")
    calls = tw.wait_calls(lambda cs: any(c.get("sid") == res["sid"] and c.get("done")
                                         for c in cs), kind="messages")
    c = [c for c in calls if c.get("sid") == res["sid"]][0]
    eq([(x["attempt"], x["http_status"]) for x in c["callbacks"]], [(0, 500), (1, 500)],
       "a 500 answer is recorded and retried")
    tw.reset()


# ---------------------------------------------------------------------------
# fake_meta
# ---------------------------------------------------------------------------

def text(to, body, **kw):
    d = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
         "type": "text", "text": {"body": body}}
    d.update(kw)
    return d


def invalid(status, res, what):
    eq(status, 400, what + " HTTP status (%r)" % (res,))
    e = res["error"]
    eq((e["code"], e["type"], e["message"]), (100, "OAuthException", "(#100) Invalid parameter"),
       what + " error")
    eq(e["error_data"]["messaging_product"], "whatsapp", what + " error_data")
    check(e["error_data"]["details"], what + " details")
    check(e["fbtrace_id"].startswith("A"), what + " fbtrace_id")


def lst(sections, button="Choisir", body="Votre ville ?", **kw):
    it = {"type": "list", "body": {"text": body},
          "action": {"button": button, "sections": sections}}
    it.update(kw)
    return {"messaging_product": "whatsapp", "to": "243810000001", "type": "interactive",
            "interactive": it}


def rows(n, start=0, **kw):
    out = []
    for i in range(start, start + n):
        r = {"id": "r%d" % i, "title": "Ville %d" % i}
        r.update(kw)
        out.append(r)
    return out


def btns(*titles, ids=None):
    ids = ids or ["b%d" % i for i in range(len(titles))]
    return {"messaging_product": "whatsapp", "to": "243810000001", "type": "interactive",
            "interactive": {"type": "button", "body": {"text": "Confirmer ?"},
                            "action": {"buttons": [{"type": "reply",
                                                    "reply": {"id": i, "title": t}}
                                                   for i, t in zip(ids, titles)]}}}


@test
def meta_send_and_webhooks():
    me, r = meta(), rx()
    me.control(webhook=r.base + "/wh")
    status, _, res = me.send(text("243810000001", "Bonjour é ✓"))
    eq(status, 200, "send (%r)" % res)
    eq(res["messaging_product"], "whatsapp", "messaging_product")
    eq(res["contacts"], [{"input": "243810000001", "wa_id": "243810000001"}], "contacts")
    wamid = res["messages"][0]["id"]
    check(re.match(r"^wamid\.[A-Za-z0-9+/=]{20,}$", wamid), "wamid %r" % wamid)
    eq(res["messages"][0]["message_status"], "accepted", "message_status")
    posts = r.wait(lambda ps: len([p for p in ps if p["path"] == "/wh"
                                   and wamid.encode() in p["body"]]) >= 3)
    posts = [p for p in posts if p["path"] == "/wh" and wamid.encode() in p["body"]]
    got = []
    for p in posts:
        check(P.meta_verify(p["body"], p["headers"]["X-Hub-Signature-256"], P.META_APP_SECRET),
              "webhook signature")
        doc = json.loads(p["body"])
        eq(doc["object"], "whatsapp_business_account", "object")
        eq(doc["entry"][0]["id"], P.META_WABA_ID, "entry id")
        ch = doc["entry"][0]["changes"][0]
        eq(ch["field"], "messages", "field")
        v = ch["value"]
        eq(v["metadata"], {"display_phone_number": P.META_DISPLAY_NUMBER,
                           "phone_number_id": P.META_PHONE_NUMBER_ID}, "metadata")
        s = v["statuses"][0]
        eq((s["id"], s["recipient_id"]), (wamid, "243810000001"), "status id/recipient")
        check(isinstance(s["timestamp"], str) and s["timestamp"].isdigit(), "timestamp string")
        got.append(s["status"])
    eq(got, ["sent", "delivered", "read"], "webhook order")
    status, _, res = me.send(text("+243810000002", "x"))
    eq(res["contacts"], [{"input": "+243810000002", "wa_id": "243810000002"}],
       "a leading + is accepted; wa_id is digits")
    status, _, res = me.send({"messaging_product": "whatsapp", "recipient":
                              "US.13491208655302741918", "type": "text", "text": {"body": "x"}})
    eq((status, res["contacts"]), (200, [{"input": "US.13491208655302741918",
                                          "user_id": "US.13491208655302741918"}]), "recipient")
    calls = me.wait_calls(lambda cs: len(cs) >= 3 and all(c.get("done") for c in cs),
                          kind="messages")
    c = calls[0]
    eq(c["json"]["text"]["body"], "Bonjour é ✓", "recorded JSON body")
    eq(c["headers"].get("Authorization"), "Bearer " + P.META_TOKEN, "recorded header")
    eq([x["http_status"] for x in c["callbacks"]], [200, 200, 200], "webhook answers recorded")
    eq(c["version"], P.META_VERSION, "recorded version")
    st, _, res = me.send({"messaging_product": "whatsapp", "status": "read",
                          "message_id": "wamid.ABC", "typing_indicator": {"type": "text"}})
    eq((st, res), (200, {"success": True}), "mark as read")
    eq(me.calls()[-1]["kind"], "read", "read kind")
    me.reset()


@test
def meta_refusals():
    me = meta()
    st, headers, res = me.send(text("243810000001", "x"), token="expired")
    eq(st, 401, "bad token")
    e = res["error"]
    eq((e["type"], e["code"], e["error_subcode"]), ("OAuthException", 190, 463), "401 body")
    check(e["message"].startswith("Error validating access token: Session has expired"),
          "401 message %r" % e["message"])
    check(re.match(r"^A[A-Za-z0-9_-]{10,}$", e["fbtrace_id"]), "fbtrace_id")
    st, _, data = P.post_json(me.messages_url(), json.dumps(text("243810000001", "x")).encode())
    eq((st, json.loads(data)["error"]["code"]), (401, 190), "no token")
    for v in ("v25", "25.0", "v25.1", "latest"):
        st, _, res = me.send(text("243810000001", "x"), version=v)
        eq((st, err_code(res)), (400, 100), "version %s" % v)
        check("Unknown path components" in res["error"]["message"], "unknown path message")
    st, _, data = P.post_json(me.url("/v25.0/999999999999999/messages"),
                              json.dumps(text("243810000001", "x")).encode(), me.auth_header())
    eq((st, json.loads(data)["error"]["code"]), (400, 100), "unknown phone number id")
    st, _, data = P.post_json(me.messages_url(), b"{not json", me.auth_header())
    invalid(st, json.loads(data), "not JSON")

    e20 = "😀" * 20
    cases = [
        ({"to": "243810000001", "type": "text", "text": {"body": "x"}}, False,
         "no messaging_product"),
        (text("243810000001", "x", messaging_product="sms"), False, "messaging_product sms"),
        (text("243810000001", "x", recipient_type="group"), False, "recipient_type group"),
        (text("2438100000a1", "x"), False, "to with a letter"),
        (text("243810000001", ""), False, "empty text"),
        (text("243810000001", "é" * 4097), False, "text of 4097"),
        (text("243810000001", "😀" * 4096), True, "text of 4096 emoji"),
        (text("243810000001", "x", type="audio", audio={"id": "1"}), False, "type audio"),
        (lst([{"title": "A", "rows": rows(10)}]), True, "list of 10 rows"),
        (lst([{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5, 6)}]), False,
         "11 rows in total"),
        (lst([{"rows": rows(3)}]), True, "one section without title"),
        (lst([{"title": "A", "rows": rows(2)}, {"rows": rows(2, 2)}]), False,
         "two sections, one without title"),
        (lst([{"title": "S" * 25, "rows": rows(1)}]), False, "section title 25"),
        (lst([{"title": "S" * 24, "rows": rows(1)}]), True, "section title 24"),
        (lst([{"title": "s%d" % i, "rows": rows(1, i)} for i in range(11)]), False,
         "11 sections"),
        (lst([{"rows": rows(1)}], button="B" * 21), False, "list button 21"),
        (lst([{"rows": rows(1)}], button=e20), True, "list button of 20 emoji"),
        (lst([{"rows": rows(1)}], button=""), False, "empty list button"),
        (lst([{"rows": [{"id": "i" * 201, "title": "t"}]}]), False, "row id 201"),
        (lst([{"rows": [{"id": "i" * 200, "title": "t"}]}]), True, "row id 200"),
        (lst([{"rows": [{"id": "a", "title": "T" * 25}]}]), False, "row title 25"),
        (lst([{"rows": [{"id": "a", "title": ""}]}]), False, "empty row title"),
        (lst([{"rows": [{"id": "a", "title": "t", "description": "d" * 73}]}]), False,
         "row description 73"),
        (lst([{"rows": [{"id": "a", "title": "t", "description": "d" * 72}]}]), True,
         "row description 72"),
        (lst([{"rows": [{"id": "a", "title": "t"}, {"id": "a", "title": "u"}]}]), False,
         "duplicate row ids"),
        (lst([{"rows": rows(1)}], header={"type": "text", "text": "h" * 61}), False,
         "header 61"),
        (lst([{"rows": rows(1)}], header={"type": "text", "text": "h" * 60},
             footer={"text": "f" * 60}), True, "header and footer 60"),
        (lst([{"rows": rows(1)}], footer={"text": "f" * 61}), False, "footer 61"),
        (lst([{"rows": rows(1)}], body="b" * 1025), False, "list body 1025"),
        (lst([{"rows": rows(1)}], header={"type": "image", "image": {"link": "http://x/y"}}),
         False, "list with an image header"),
        (btns("Oui", "Non", "Peut-être"), True, "3 buttons"),
        (btns("a", "b", "c", "d"), False, "4 buttons"),
        (btns(), False, "0 buttons"),
        (btns("T" * 21), False, "button title 21"),
        (btns(e20), True, "button title of 20 emoji"),
        (btns("  "), False, "blank button title"),
        (btns("Oui", "Oui"), False, "duplicate titles"),
        (btns("Oui", "Non", ids=["x", "x"]), False, "duplicate ids"),
        (btns("Oui", ids=["i" * 257]), False, "button id 257"),
        (btns("Oui", ids=["i" * 256]), True, "button id 256"),
        (btns("Oui", ids=[" x"]), False, "button id with a leading space"),
        ({"messaging_product": "whatsapp", "to": "243810000001", "type": "image",
          "image": {"id": "123456789012345"}}, False, "image id not uploaded"),
        ({"messaging_product": "whatsapp", "to": "243810000001", "type": "image",
          "image": {}}, False, "image with neither id nor link"),
        ({"messaging_product": "whatsapp", "to": "243810000001", "type": "image",
          "image": {"link": "https://x/y.png", "caption": "c" * 1025}}, False, "caption 1025"),
    ]
    bad_button_type = btns("Oui")
    bad_button_type["interactive"]["action"]["buttons"][0]["type"] = "url"
    cases.append((bad_button_type, False, "button type url"))
    me.control(statuses=False)
    for doc, ok, what in cases:
        st, _, res = me.send(doc)
        if ok:
            eq(st, 200, what + " (%r)" % (res,))
        else:
            invalid(st, res, what)
    me.reset()


@test
def meta_media():
    me, r = meta(), rx()
    me.control(webhook=r.base + "/whm")
    st, _, res = me.upload(PNG, "image/png", "qr.png")
    eq(st, 200, "upload (%r)" % (res,))
    mid = res["id"]
    check(re.match(r"^[1-9][0-9]{14}$", mid), "15-digit media id %r" % mid)
    saved = os.path.join(me.media_dir, mid + ".png")
    eq(open(saved, "rb").read(), PNG, "saved upload")
    c = me.calls("media")[-1]
    eq(c["upload"]["sha256"], hashlib.sha256(PNG).hexdigest(), "upload recorded")
    f = [p for p in c["multipart"] if p["name"] == "file"][0]
    eq((f["filename"], f["content_type"], f["length"]), ("qr.png", "image/png", len(PNG)),
       "multipart file summary")
    check("data" not in f and "value" not in f, "no bytes in /_calls")
    eq([p.get("value") for p in c["multipart"] if p["name"] == "messaging_product"],
       ["whatsapp"], "multipart field")
    st, _, res = me.send({"messaging_product": "whatsapp", "to": "243810000001",
                          "type": "image", "image": {"id": mid, "caption": "Votre QR"}})
    eq(st, 200, "send the uploaded image (%r)" % (res,))
    st, _, data = P.http_get(me.url("/%s/%s" % (P.META_VERSION, mid)), me.auth_header())
    info = json.loads(data)
    eq((st, info["mime_type"], info["file_size"], info["id"]), (200, "image/png", len(PNG), mid),
       "media info")
    st, headers, data = P.http_get(info["url"], me.auth_header())
    eq((st, data, headers.get("Content-Type")), (200, PNG, "image/png"), "media download")
    st, _, data = P.http_get(info["url"])
    eq(st, 401, "download needs the token")

    st, _, res = me.upload(PNG, "application/octet-stream", "qr.bin")
    invalid(st, res, "octet-stream upload")
    check("application/octet-stream" in res["error"]["error_data"]["details"], "says the type")
    st, _, res = me.upload(PNG, None, "qr")
    invalid(st, res, "file part without Content-Type")
    st, _, res = me.upload(PNG, "image/png", messaging_product=None)
    invalid(st, res, "no messaging_product")
    big = PNG + b"\0" * (5 * 1024 * 1024 + 1 - len(PNG))
    st, _, res = me.upload(big, "image/png", "big.png")
    eq((st, err_code(res)), (400, 131053), "image over 5 MB")
    check(res["error"]["message"].startswith("(#131053)"), "131053 message")
    st, _, res = me.upload(b"GIF89a....", "image/png", "x.png")
    eq((st, err_code(res)), (400, 131053), "png label on non-PNG bytes")
    st, _, res = me.upload(b"\xff\xd8\xff\xe0" + b"\0" * 100, "image/jpeg", "x.jpg")
    eq(st, 200, "jpeg upload")
    st, _, data = P.post_json(me.media_url(), b"{}", me.auth_header())
    invalid(st, json.loads(data), "JSON instead of multipart")

    me.control(faults=[{"status": 400, "code": 131056, "count": 1},
                       {"path": "media", "status": 500, "count": 1}])
    st, _, res = me.upload(PNG, "image/png")
    eq((st, err_code(res)), (500, 1), "media fault (the messages fault is skipped)")
    st, _, res = me.upload(PNG, "image/png")
    eq(st, 200, "after the media fault")
    eq(len(me.state()["faults"]), 1, "the messages fault is still queued")

    me.control(faults=[])
    st, _, res = me.send({"messaging_product": "whatsapp", "to": "243810000003",
                          "type": "image", "image": {"link": r.base + "/qr.png"}})
    eq(st, 200, "image by link")
    w1 = res["messages"][0]["id"]
    st, _, res = me.send({"messaging_product": "whatsapp", "to": "243810000003",
                          "type": "image", "image": {"link": r.base + "/missing.png"}})
    w2 = res["messages"][0]["id"]
    calls = me.wait_calls(lambda cs: sum(1 for c in cs if c.get("wamid") in (w1, w2)
                                         and c.get("done")) == 2, kind="messages")
    by = {c["wamid"]: c for c in calls if c.get("wamid") in (w1, w2)}
    eq((by[w1]["media"][0]["status"], by[w1]["media"][0]["sha256"]),
       (200, hashlib.sha256(PNG).hexdigest()), "link fetched")
    eq([x["status"] for x in by[w1]["callbacks"]], ["sent", "delivered", "read"], "link ok")
    eq(by[w2]["media"][0]["status"], 404, "missing link fetched")
    fails = [x["payload"]["entry"][0]["changes"][0]["value"]["statuses"][0]
             for x in by[w2]["callbacks"]]
    eq([(s["status"], s["errors"][0]["code"]) for s in fails], [("failed", 131053)],
       "unreachable link -> failed 131053")
    me.reset()


@test
def meta_faults_and_rates():
    me = meta()
    me.control(faults=[{"status": 429, "code": 4, "retry_after": 2, "count": 1},
                       {"status": 400, "code": 131056, "to": "243810000002", "count": 2},
                       {"status": 503, "count": 1, "to": "243810000001"}])
    got = []
    for to in ["243810000001", "243810000002", "243810000001", "243810000002",
               "243810000002", "243810000001"]:
        st, headers, res = me.send(text(to, "x"))
        got.append((st, res["error"]["code"] if "error" in res else None,
                    headers.get("Retry-After")))
    eq(got, [(429, 4, "2"), (400, 131056, None), (503, 2, None), (400, 131056, None),
             (200, None, None), (200, None, None)], "fault sequence")
    c = [c for c in me.calls("messages") if c["status"] == 400][0]
    e = c["response"]["error"]
    eq((e["error_subcode"], e["type"]), (2494055, "OAuthException"), "131056 subcode")
    check(e["message"].startswith("(#131056)"), "131056 message")
    eq(c["fault"]["to"], "243810000002", "fault recorded")
    me.control(faults=[{"status": 429, "code": 130429, "retry_after": 1}])
    st, headers, res = me.send(text("243810000001", "x"))
    eq((st, err_code(res), headers.get("Retry-After")), (429, 130429, "1"), "scripted 429")
    me.control(faults=[{"status": 500}])
    st, _, res = me.send({"messaging_product": "whatsapp", "status": "read",
                          "message_id": "wamid.X"})
    eq(st, 200, "a messages fault does not hit a read receipt")
    eq(len(me.state()["faults"]), 1, "still queued")
    me.reset()

    me.control(pair_rate_ms=60000)
    codes = []
    for to in ["243810000001", "243810000001", "243810000002"]:
        st, _, res = me.send(text(to, "x"))
        codes.append((st, res["error"]["code"] if "error" in res else None))
    eq(codes, [(200, None), (400, 131056), (200, None)], "pair rate")
    me.reset()
    me.control(max_mps=2)
    codes = []
    for i in range(3):
        st, _, res = me.send(text("24381000001%d" % i, "x"))
        codes.append((st, res["error"]["code"] if "error" in res else None))
    eq(codes, [(200, None), (200, None), (400, 130429)], "max_mps")
    me.reset()
    me.control(down=True)
    st, _, res = me.send(text("243810000001", "x"))
    eq((st, err_code(res)), (503, 2), "down")
    me.control(down=False, token="rotated", delay_ms=200)
    t0 = time.time()
    st, _, res = me.send(text("243810000001", "x"))
    eq((st, err_code(res)), (401, 190), "old token after rotation")
    check(time.time() - t0 >= 0.2, "delay_ms applies to every answer")
    st, _, res = me.send(text("243810000001", "x"), token="rotated")
    eq(st, 200, "new token")
    me.reset()
    eq(me.state()["token"], P.META_TOKEN, "reset restores the token")


@test
def meta_status_variants():
    me, r = meta(), rx()
    me.control(webhook=r.base + "/whs")

    def send(**ctl):
        me.control(**ctl)
        st, _, res = me.send(text("243810000005", "x"))
        eq(st, 200, "send")
        w = res["messages"][0]["id"]
        calls = me.wait_calls(lambda cs: any(c.get("wamid") == w and c.get("done")
                                             for c in cs), kind="messages")
        c = [c for c in calls if c.get("wamid") == w][0]
        posts = [p for p in r.on("/whs") if w.encode() in p["body"]]
        eq(len(posts), len(c["callbacks"]), "every webhook recorded")
        return [json.loads(p["body"])["entry"][0]["changes"][0]["value"]["statuses"][0]
                for p in posts], posts
    sts, _ = send(statuses=["read", "sent", "delivered"])
    eq([s["status"] for s in sts], ["read", "sent", "delivered"], "custom order")
    sts, posts = send(statuses=["sent", {"status": "failed", "code": 131026,
                                         "details": "Numéro injoignable ✓"}])
    eq([s["status"] for s in sts], ["sent", "failed"], "failed order")
    err = sts[1]["errors"][0]
    eq((err["code"], err["title"], err["error_data"]["details"]),
       (131026, "Message undeliverable", "Numéro injoignable ✓"), "failed errors[]")
    raw = posts[1]["body"]
    check(b"\\u00e9" in raw and b"\\u2713" in raw, "non-ASCII as \\uXXXX in the raw body")
    raw.decode("ascii")
    check(P.meta_verify(raw, posts[1]["headers"]["X-Hub-Signature-256"], P.META_APP_SECRET),
          "signature over the escaped bytes")
    sts, _ = send(statuses=False)
    eq(sts, [], "statuses off")
    sts, _ = send(statuses={"order": ["sent"], "by_to": {"+243810000005": ["read"]}})
    eq([s["status"] for s in sts], ["read"], "per-recipient order")
    sts, _ = send(statuses=None, app_secret="other-secret")
    check(all(P.meta_verify(p["body"], p["headers"]["X-Hub-Signature-256"], "other-secret")
              for p in r.on("/whs")[-3:]), "webhooks signed with the rotated app secret")
    me.reset()


@test
def sigterm_stops_cleanly():
    work = tempfile.mkdtemp(prefix="ciu-fake-sigterm-")
    try:
        fk = P.start_meta(workdir=work)
        fk.control(delay_ms=600000)

        def pending():
            try:
                fk.send(text("243810000001", "x"))
            except Exception:  # noqa: BLE001 - the fake closes the connection on SIGTERM
                pass
        t = threading.Thread(target=pending, daemon=True)
        t.start()
        deadline = time.time() + 10
        while fk.state()["in_flight"] < 1:
            check(time.time() < deadline, "the delayed request never arrived")
            time.sleep(0.02)
        t0 = time.time()
        rc = fk.stop(timeout=10)
        eq(rc, 0, "exit code on SIGTERM with an answer pending")
        check(time.time() - t0 < 10, "stopped promptly")
        fk = P.start_twilio(workdir=work)
        eq(fk.stop(), 0, "twilio exit code on SIGTERM")
        pf = open(fk.port_file).read()
        check(re.match(r"^http=\d+\n$", pf), "port file %r" % pf)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@test
def twilio_account():
    """GET /2010-04-01/Accounts/{sid}.json: what ciu-admin check calls."""
    tw = twilio()
    url = tw.url("/2010-04-01/Accounts/%s.json" % tw.account_sid)
    st, _, data = P.http_get(url, tw.auth_header())
    res = json.loads(data)
    eq(st, 200, "account with good credentials")
    for k, v in [("sid", tw.account_sid), ("status", "active"), ("type", "Full"),
                 ("uri", "/2010-04-01/Accounts/%s.json" % tw.account_sid)]:
        eq(res.get(k), v, "account " + k)
    check("auth_token" not in res and res.get("friendly_name"), "account fields %r" % res)
    st, headers, data = P.http_get(url, tw.auth_header(token="wrong" * 6))
    twilio_resp(st, json.loads(data), 401, 20003, "account, wrong token")
    check("Basic" in headers.get("WWW-Authenticate", ""), "401 WWW-Authenticate")
    st, _, data = P.http_get(url)
    twilio_resp(st, json.loads(data), 401, 20003, "account, no credentials")
    other = tw.url("/2010-04-01/Accounts/AC%s.json" % ("f" * 32))
    st, _, data = P.http_get(other, tw.auth_header())
    twilio_resp(st, json.loads(data), 404, 20404, "another account")
    tw.control(account_status="suspended")
    st, _, data = P.http_get(url, tw.auth_header())
    eq((st, json.loads(data)["status"]), (200, "suspended"), "suspended account")
    eq([c["kind"] for c in tw.calls()][-1], "account", "call kind")


@test
def meta_phone_number_fields():
    """GET /{v}/{phone_number_id}?fields=...: what ciu-admin check calls."""
    me = meta()
    url = me.url("/%s/%s?fields=display_phone_number,verified_name" % (P.META_VERSION,
                                                                        me.phone_number_id))
    st, _, data = P.http_get(url, me.auth_header())
    eq((st, json.loads(data)), (200, {"display_phone_number": P.META_DISPLAY_NUMBER,
                                      "verified_name": "CIU Test",
                                      "id": me.phone_number_id}), "fields asked for, and id")
    st, _, data = P.http_get(url, me.auth_header(token="EAAexpired"))
    e = json.loads(data)["error"]
    eq((st, e["code"], e["type"]), (401, 190, "OAuthException"), "wrong token")
    st, _, data = P.http_get(me.url("/%s/%s?fields=nope" % (P.META_VERSION,
                                                           me.phone_number_id)),
                             me.auth_header())
    e = json.loads(data)["error"]
    eq((st, e["code"]), (400, 100), "unknown field")
    check("nonexisting field (nope)" in e["message"], "unknown field message %r" % e["message"])
    st, _, data = P.http_get(me.url("/%s/999999999999999?fields=verified_name"
                                    % P.META_VERSION), me.auth_header())
    eq((st, json.loads(data)["error"]["code"]), (400, 100), "unknown phone number id")


def main():
    only = sys.argv[1:]
    tests = [t for t in TESTS if not only or any(o in t.__name__ for o in only)]
    work = tempfile.mkdtemp(prefix="ciu-test-fakes-")
    passed = failed = 0
    try:
        ENV["rx"] = Receiver()
        ENV["twilio"] = P.start_twilio(media_dir=os.path.join(work, "twilio-media"),
                                       workdir=os.path.join(work, "tw"))
        ENV["meta"] = P.start_meta(media_dir=os.path.join(work, "meta-media"),
                                   workdir=os.path.join(work, "me"))
    except Exception:  # noqa: BLE001 - the tests that need them fail and say so
        traceback.print_exc()
    for fn in tests:
        try:
            for name in ("twilio", "meta"):
                if name in ENV:
                    ENV[name].reset()
            fn()
            passed += 1
            print("ok   %s" % fn.__name__)
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            print("FAIL %s: %s: %s" % (fn.__name__, type(e).__name__, e))
            if not isinstance(e, TestFailure):
                traceback.print_exc()
        sys.stdout.flush()
    codes = {}
    for name in ("twilio", "meta"):
        if name in ENV:
            codes[name] = ENV[name].stop()
            if failed:
                sys.stderr.write("---- %s log ----\n%s\n" % (name, ENV[name].log_tail(30)))
    if "rx" in ENV:
        ENV["rx"].close()
    if any(c != 0 for c in codes.values()):
        failed += 1
        print("FAIL fakes exit codes on SIGTERM: %r" % codes)
    if failed:
        sys.stderr.write("test folder kept: %s\n" % work)
    else:
        shutil.rmtree(work, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
