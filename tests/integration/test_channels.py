#!/usr/bin/env python3
"""WhatsApp for real: whole conversations through signed Twilio and Meta webhooks,
replies delivered to fakes of their REST APIs (tests/fakes/), over real HTTP on loopback.

Usage: test_channels.py twilio|meta sqlite|postgres

Twilio: forged, missing and replayed signatures; a conversation ending in the CIU with its
QR image fetched from the MediaUrl; the same MessageSid twice at once and again later;
status callbacks (also out of order) recorded and never moving back; the provider failing
(503, then 429 with Retry-After) then recovering, everything delivered in order, nothing
twice; refused credentials pause the channel with one log line and it resumes by itself.

Meta: the verification GET; forged body signature; a conversation with the gender question
as a list and the confirmation as buttons, answered by their ids, ending with the QR image
uploaded once and sent by id; two people's messages and a status in one POST; a
username-only person; 131056 for one recipient retried for that person only; 190 pauses
and resumes; the sender killed with SIGKILL mid-send.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
import providers as P  # noqa: E402
from load import reply_text  # noqa: E402
from stack import build_dir, check, run  # noqa: E402

PUBLIC = "https://ciu.test"  # PUBLIC_BASE_URL; the fakes resolve it to the ingress port
VERIFY_TOKEN = "verify-me-please"


# ---- helpers -------------------------------------------------------------------------

def sql(stack, query):
    """Rows of a query (tuples of strings) on either backend."""
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        try:
            return [tuple("" if v is None else str(v) for v in r) for r in con.execute(query)]
        finally:
            con.close()
    out = subprocess.run(["psql", stack.env["DATABASE_URL"], "-At", "-F", "\t", "-c", query],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(line.split("\t")) for line in out.splitlines() if line]


def wait_for(cond, what, timeout=30):
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        check(time.time() < deadline, "timed out waiting for " + what)
        time.sleep(0.05)


def log_text(stack, name):
    return open(stack.logs[name], errors="replace").read()


def sent_texts(calls, to, field):
    """Texts of the accepted sends to one recipient, in the order the fake accepted them."""
    out = []
    for c in calls:
        if c.get("kind") != "messages" or not 200 <= c["status"] < 300:
            continue
        if (c.get("to") or "") != to.lstrip("+"):
            continue
        out.append(field(c))
    return out


class Channel:
    """What differs between Twilio and Meta in a conversation."""

    def __init__(self, stack, fake):
        self.stack, self.fake = stack, fake

    def replies(self, number):
        return sent_texts(self.fake.calls(), number, self.field)

    def expect(self, number, count, last=None, timeout=30):
        """Wait until `count` replies reached `number` (the last containing `last`)."""
        def ok():
            got = self.replies(number)
            return got if len(got) >= count and (last is None or last.lower() in got[-1].lower()
                                                 ) else None
        return wait_for(ok, "%d replies to %s ending with %r (have %r)" % (
            count, number, last, self.replies(number)[-3:]), timeout)


class Twilio(Channel):
    field = staticmethod(reply_text)

    def post(self, params, path="/whatsapp/webhook", signature=None, token=None):
        url = PUBLIC + path
        sig = signature if signature is not None else P.twilio_signature(
            url, params, token or P.TWILIO_AUTH_TOKEN)
        headers = {"X-Twilio-Signature": sig} if sig else {}
        return P.post_form(self.stack.base + path, params, headers)

    def say(self, number, text, **kw):
        status, headers, body = self.post(P.twilio_inbound_form(number, text, **kw))
        check(status == 200, "Twilio webhook answered %s: %r" % (status, body))
        check(b"<Response/>" in body and "xml" in headers.get("Content-Type", ""),
              "not an empty TwiML answer: %r %r" % (headers.get("Content-Type"), body))


class Meta(Channel):
    field = staticmethod(reply_text)

    def post_payload(self, payload, secret=None):
        body = P.meta_body(payload)
        return P.post_json(self.stack.base + "/whatsapp/webhook", body,
                           P.meta_headers(body, secret or P.META_APP_SECRET))

    def say(self, number, text=None, message=None):
        msg = message or P.meta_text(number.lstrip("+"), text)
        status, _, body = self.post_payload(P.meta_inbound_payload(messages=[msg]))
        check(status == 200, "Meta webhook answered %s: %r" % (status, body))


def conversation_order_ok(texts, want):
    check(len(texts) == len(want), "expected %d replies, got %d: %r" % (
        len(want), len(texts), [t[:50] for t in texts]))
    for w, t in zip(want, texts):
        check(w.lower() in t.lower(), "reply out of order: wanted %r in %r" % (w, t))


# ---- Twilio ---------------------------------------------------------------------------

def twilio_scenario(fake):
    def scenario(stack):
        fake.control(resolve={"ciu.test": "127.0.0.1:%s" % stack.base.rsplit(":", 1)[1]})
        tw = Twilio(stack, fake)
        me = "+243810000001"
        form = P.twilio_inbound_form(me, "Bonjour")
        # forged, missing, wrong-token and wrong-URL signatures: 403, nothing stored
        for sig, token in (("", None), ("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", None), (None, "wrong")):
            status, _, _ = tw.post(form, signature=sig, token=token)
            check(status == 403, "forged Twilio webhook answered %s" % status)
        status, _, _ = P.post_form(stack.base + "/whatsapp/webhook", form, {
            "X-Twilio-Signature": P.twilio_signature("https://evil.test/whatsapp/webhook", form,
                                                     P.TWILIO_AUTH_TOKEN)})
        check(status == 403, "signature over another URL answered %s" % status)
        # a captured signature replayed on another body
        other_form = P.twilio_inbound_form(me, "Autre texte")
        status, _, _ = P.post_form(stack.base + "/whatsapp/webhook", other_form, {
            "X-Twilio-Signature": P.twilio_signature(PUBLIC + "/whatsapp/webhook", form,
                                                     P.TWILIO_AUTH_TOKEN)})
        check(status == 403, "replayed signature answered %s" % status)
        check(sql(stack, "SELECT COUNT(*) FROM inbox")[0][0] == "0", "a forged message was stored")

        # one bad message in a burst of good ones: it alone is refused (400), the others
        # are stored and answered (bad bytes are caught at the edge, before the store)
        burst = ["+2438200000%02d" % i for i in range(12)]
        answers = {}

        def post_one(n):
            answers[n] = tw.post(P.twilio_inbound_form(n, "Bonjour"))[0]

        def post_bad():
            # not UTF-8: refused before its signature is even looked at
            raw = b"MessageSid=SMbad&From=whatsapp%3A%2B243820000099&Body=%FF%FE"
            answers["bad"] = P._request("POST", stack.base + "/whatsapp/webhook", raw, {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": "c2lnbmF0dXJlIG5vdCBjaGVja2Vk"})[0]
        threads = [threading.Thread(target=post_one, args=(n,)) for n in burst]
        threads.append(threading.Thread(target=post_bad))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(answers.pop("bad") == 400, "the bad message was not refused")
        check(all(v == 200 for v in answers.values()), "good messages refused: %r" % answers)
        for n in burst:
            tw.expect(n, 2, "Question 1 sur 5")

        # a whole conversation; the same MessageSid again is answered and processed once
        tw.say(me, "Bonjour")
        tw.expect(me, 2, "Question 1 sur 5")
        tw.say(me, "Mbengue")
        tw.expect(me, 3, "Question 2 sur 5")
        sid = P.twilio_sid()
        barrier = threading.Barrier(2)
        results = []

        def twice():
            barrier.wait()
            results.append(tw.post(P.twilio_inbound_form(me, "Ibrahima", message_sid=sid))[0])
        threads = [threading.Thread(target=twice) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(results == [200, 200], "concurrent duplicates answered %r" % results)
        tw.expect(me, 4, "Question 3 sur 5")
        tw.say(me, "1997")
        tw.expect(me, 5, "Question 4 sur 5")
        # the redelivery minutes later (the inbox keeps provider ids): still one row
        status = tw.post(P.twilio_inbound_form(me, "Ibrahima", message_sid=sid))[0]
        check(status == 200, "late duplicate answered %s" % status)
        check(sql(stack, "SELECT COUNT(*) FROM inbox WHERE provider_id = '%s'" % sid)[0][0] == "1",
              "a duplicate MessageSid made a second inbox row")
        tw.say(me, "Kinshasa")
        tw.expect(me, 6, "Question 5 sur 5")
        tw.say(me, "1")
        tw.expect(me, 7, "MBE · IBR · 7 · KN · Homme")
        tw.say(me, "1", ButtonText="Oui", ButtonPayload="1")  # a button answers by its payload
        texts = tw.expect(me, 8, "MBEIBR7KN1")
        conversation_order_ok(texts, ["bienvenue", "Question 1 sur 5", "Question 2 sur 5",
                                      "Question 3 sur 5", "Question 4 sur 5", "Question 5 sur 5",
                                      "MBE · IBR · 7 · KN · Homme", "MBEIBR7KN1"])
        # the QR image went as MediaUrl under PUBLIC_BASE_URL, and Twilio could fetch it
        calls = fake.wait_calls(lambda cs: any(c.get("done") and c.get("media") for c in cs),
                                kind="messages", timeout=30)
        media = [m for c in calls for m in c.get("media") or []]
        check(media and media[0]["status"] == 200 and media[0]["content_type"] == "image/png",
              "QR image not fetched: %r" % media)
        check(media[0]["url"].startswith(PUBLIC + "/media/qr/"), "MediaUrl %r" % media[0]["url"])
        decoded = subprocess.run(["zbarimg", "-q", "--raw", media[0]["saved_as"]],
                                 capture_output=True, text=True).stdout.strip()
        check(decoded == "MBEIBR7KN1", "QR decodes to %r" % decoded)
        # StatusCallbacks (sent, delivered, read) recorded for every reply, signed by the fake
        accepted = len([c for c in fake.calls("messages") if c["status"] == 201])
        wait_for(lambda: sql(stack, "SELECT COUNT(*) FROM deliveries WHERE status = 'read'")[0][0]
                 == str(accepted), "%d replies read" % accepted)
        check(sql(stack, "SELECT COUNT(*) FROM outbox WHERE status = 1 AND to_addr IS NULL")[0][0]
              == str(accepted), "sent replies keep the number or are not marked sent")

        # statuses out of order: the furthest one stays
        other = "+243810000002"
        fake.control(statuses=["read", "sent", "delivered"])
        tw.say(other, "Bonjour")
        tw.expect(other, 2)
        wait_for(lambda: all(c.get("done") for c in fake.calls("messages")), "callbacks done")
        # the fake calls back right after answering, before the sender has recorded the
        # provider id in the outbox: wait until both replies are recorded and reported
        q = ("SELECT d.status FROM deliveries d JOIN outbox o ON o.provider_id = "
             "d.provider_id WHERE o.user_key = (SELECT user_key FROM outbox WHERE "
             "provider_id = '%s')" % fake.calls("messages")[-1]["sid"])
        rows = wait_for(lambda: len(sql(stack, q)) >= 2 and sql(stack, q), "the statuses recorded")
        check(all(r[0] == "read" for r in rows), "a status moved back: %r" % rows)
        fake.control(statuses=True)

        # the provider down for a while (503, then 429 with Retry-After): delivered after,
        # in order, nothing twice
        third = "+243810000003"
        fake.control(faults=[{"status": 503, "count": 3},
                             {"status": 429, "code": 20429, "retry_after": 1, "count": 1}])
        tw.say(third, "Bonjour")
        tw.say(third, "Mbengue")
        texts = tw.expect(third, 3, "Question 2 sur 5", timeout=60)
        conversation_order_ok(texts, ["bienvenue", "Question 1 sur 5", "Question 2 sur 5"])
        failed = [c for c in fake.calls("messages") if c["status"] >= 400]
        check(len(failed) == 4, "expected 4 refused calls, got %d" % len(failed))

        # a permanent refusal: failed with the provider's code, shown to the operator
        bad = "+243810000009"
        fake.control(faults=[{"status": 400, "code": 21211, "to": bad[1:], "count": 2}])
        tw.say(bad, "Bonjour")
        wait_for(lambda: sql(stack, "SELECT COUNT(*) FROM outbox WHERE status = 2 AND "
                                    "error_code = '21211'")[0][0] == "2", "two failed replies")
        admin = subprocess.run([os.path.join(stack.build, "tools", "ciu-admin"), "channels"],
                               cwd=stack.dir, env=stack.env, capture_output=True, text=True)
        check(admin.returncode == 0 and "21211" in admin.stdout and "twilio" in admin.stdout,
              "ciu-admin channels: %s %s" % (admin.stdout, admin.stderr))
        check(bad[1:] not in admin.stdout, "ciu-admin shows a phone number")

        # bad credentials: one log line, the channel pauses, nothing fails; resumes by itself
        fourth = "+243810000004"
        fake.control(auth_token="rotated-token-0000000000000000")
        tw.say(fourth, "Bonjour")
        wait_for(lambda: "channel twilio paused" in log_text(stack, "ciu-sender"),
                 "the pause log line")
        wait_for(lambda: sql(stack, "SELECT paused FROM channel_state WHERE channel = 'twilio'")
                 == [("1",)], "channel_state paused")
        probes_before = len([c for c in fake.calls("messages") if c["status"] == 401])
        wait_for(lambda: len([c for c in fake.calls("messages") if c["status"] == 401])
                 > probes_before, "a probe while paused", timeout=20)
        fake.control(auth_token=P.TWILIO_AUTH_TOKEN)
        tw.expect(fourth, 2, "Question 1 sur 5", timeout=30)
        log = log_text(stack, "ciu-sender")
        check(log.count("channel twilio paused") == 1, "the pause was logged %d times" %
              log.count("channel twilio paused"))
        check("channel twilio resumed" in log, "no resume line")
        check(sql(stack, "SELECT COUNT(*) FROM outbox WHERE status = 2")[0][0] == "2",
              "a reply failed while the channel was paused")
        # every accepted send matches exactly one outbox row: nothing sent twice
        wait_for(lambda: sql(stack, "SELECT COUNT(*) FROM outbox WHERE status IN (0, 3)")[0][0]
                 == "0", "every reply recorded")
        sids = [c["sid"] for c in fake.calls("messages") if c["status"] == 201]
        check(len(sids) == len(set(sids)) and
              int(sql(stack, "SELECT COUNT(*) FROM outbox WHERE status = 1")[0][0]) == len(sids),
              "sends and sent rows differ")
    return scenario


# ---- Meta -----------------------------------------------------------------------------

def meta_scenario(fake):
    def scenario(stack):
        fake.control(webhook=stack.base + "/whatsapp/webhook")
        me = Meta(stack, fake)
        # the verification GET
        status, _, body = P.http_get(P.meta_verify_url(stack.base + "/whatsapp/webhook",
                                                       VERIFY_TOKEN, "4242"))
        check(status == 200 and body == b"4242", "verification: %s %r" % (status, body))
        status, _, _ = P.http_get(P.meta_verify_url(stack.base + "/whatsapp/webhook", "nope"))
        check(status == 403, "a wrong verify token answered %s" % status)
        # a forged body
        status, _, _ = me.post_payload(P.meta_inbound_payload(
            messages=[P.meta_text("243810000001", "Bonjour")]), secret="not-the-secret")
        check(status == 403, "forged Meta webhook answered %s" % status)
        check(sql(stack, "SELECT COUNT(*) FROM inbox")[0][0] == "0", "a forged message was stored")

        # a message written to another number of the same Meta app: not ours to answer
        stranger = "+243810000007"
        status, _, _ = me.post_payload(P.meta_inbound_payload(
            messages=[P.meta_text(stranger[1:], "Bonjour")], phone_number_id="999999999999"))
        check(status == 200, "another number's webhook answered %s" % status)
        me.say(stranger, "Bonjour")  # the marker: this one is ours
        me.expect(stranger, 2, "Question 1 sur 5")
        wait_for(lambda: "messages written to another number than ours ignored" in
                 log_text(stack, "ciu-ingress"), "the ignored line")
        check(len(me.replies(stranger)) == 2, "answered a message to another number: %r" %
              me.replies(stranger))

        a, b = "+243810000001", "+243810000002"
        # two people in one POST, and a status for nothing we sent (ignored safely)
        status, _, _ = me.post_payload(P.meta_inbound_payload(
            messages=[P.meta_text(a[1:], "Bonjour"), P.meta_text(b[1:], "Hello")],
            statuses=[P.meta_status("wamid.unknown", "delivered", a[1:])]))
        check(status == 200, "batch POST answered %s" % status)
        me.expect(a, 2, "Question 1 sur 5")
        me.expect(b, 2)
        me.say(a, "Mbengue")
        me.say(a, "Ibrahima")
        me.say(a, "1997")
        me.say(a, "KN")
        texts = me.expect(a, 6, "Question 5 sur 5")
        check(texts[-1].startswith("[list]"), "gender question not a list: %r" % texts[-1])
        gender = [c for c in fake.calls("messages") if c.get("to") == a[1:]][-1]["json"]
        rows = gender["interactive"]["action"]["sections"][0]["rows"]
        check([r["id"] for r in rows] == ["1", "2", "3", "4"], "list rows %r" % rows)
        me.say(a, message=P.meta_list_reply(a[1:], "2", rows[1]["title"]))
        texts = me.expect(a, 7, "MBE · IBR · 7 · KN · Femme")
        check(texts[-1].startswith("[button]"), "confirmation not buttons: %r" % texts[-1])
        me.say(a, message=P.meta_button_reply(a[1:], "1", "Oui"))
        texts = me.expect(a, 8, "MBEIBR7KN2")
        check(texts[-1].startswith("[image]"), "CIU not sent as an image: %r" % texts[-1])
        uploads = [c for c in fake.calls("media") if c["status"] == 200]
        check(len(uploads) == 1, "expected one upload, got %d" % len(uploads))
        img = [c for c in fake.calls("messages") if c.get("to") == a[1:]][-1]["json"]["image"]
        check(img["id"] == uploads[0]["media_id"], "image not sent by the uploaded id")
        decoded = subprocess.run(["zbarimg", "-q", "--raw", uploads[0]["upload"]["saved_as"]],
                                 capture_output=True, text=True).stdout.strip()
        check(decoded == "MBEIBR7KN2", "uploaded QR decodes to %r" % decoded)
        wait_for(lambda: sql(stack, "SELECT COUNT(*) FROM deliveries WHERE status = 'read'")[0][0]
                 == str(len([c for c in fake.calls("messages") if c["status"] == 200])),
                 "every reply read")

        # a person known by username only (no phone number): answered through the user id
        uid = "US.13491208655302741918"
        me.say("", message=P.meta_username_text(uid, "Bonjour"))
        wait_for(lambda: [c for c in fake.calls("messages")
                          if c["status"] == 200 and c["json"].get("recipient") == uid],
                 "a reply to the username-only person")

        # 131056 for one recipient: that person waits >= 6 s, the other is not held back
        c, d = "+243810000003", "+243810000004"
        fake.control(faults=[{"status": 400, "code": 131056, "to": c[1:], "count": 1}])
        t0 = time.time()
        me.say(c, "Bonjour")
        me.say(d, "Bonjour")
        me.expect(d, 2)
        fast = time.time() - t0
        me.expect(c, 2, timeout=60)
        slow = time.time() - t0
        check(fast < 5 and slow >= 6, "pair rate: other %.1fs, limited %.1fs" % (fast, slow))

        # 190 (expired token): paused with one log line, resumes when the token works
        e = "+243810000005"
        fake.control(token="another-token-0000000000000000000")
        me.say(e, "Bonjour")
        wait_for(lambda: "channel meta paused" in log_text(stack, "ciu-sender"), "pause line")
        fake.control(token=P.META_TOKEN)
        me.expect(e, 2, timeout=30)
        log = log_text(stack, "ciu-sender")
        check(log.count("channel meta paused") == 1, "pause logged %d times" %
              log.count("channel meta paused"))

        # the sender killed mid-send: the row comes back after its lease, delivered
        f = "+243810000006"
        fake.control(delay_ms=3000)
        me.say(f, "Bonjour")
        wait_for(lambda: fake.state().get("in_flight", 0) > 0, "a call in flight")
        stack.kill("ciu-sender")
        fake.control(delay_ms=0)
        stack.restart("ciu-sender")
        texts = me.expect(f, 2, timeout=60)
        check(all("Question 1 sur 5" not in t for t in texts[:1]), "order broken: %r" % texts)
        dup = int(sql(stack, "SELECT COALESCE(SUM(resends), 0) FROM outbox")[0][0])
        accepted = [x for x in fake.calls("messages") if x["status"] == 200 and
                    x.get("to") == f[1:]]
        check(len(accepted) - dup <= 2 and dup <= 1, "sends after a kill: %d accepted, %d "
              "resends" % (len(accepted), dup))
    return scenario


def config_errors(build):
    """A channel half configured stops ingress and the sender at start: exit 78 (do not
    restart) and one line naming the variable."""
    import tempfile
    for daemon, folder in (("ciu-ingress", "ingress"), ("ciu-sender", "sender")):
        d = tempfile.mkdtemp(prefix="ciu-cfg-")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CIU_", "TWILIO_", "META_", "DHIS2_"))}
        env.update({"CIU_DATA_DIR": d, "CIU_SIMULATOR": "true", "CIU_HTTP_PORT": "0",
                    "CIU_INGRESS_ADMIN_PORT": "0", "CIU_SENDER_ADMIN_PORT": "0",
                    "CIU_SENDER_ENDPOINTS": "ipc://%s/s" % d,
                    "CIU_SENDER_EVENTS": "ipc://%s/e" % d,
                    "CIU_INGRESS_EVENTS": "ipc://%s/i" % d,
                    "CIU_CONVERSATION_ENDPOINTS": "ipc://%s/c" % d,
                    "TWILIO_AUTH_TOKEN": "set-but-no-sid"})
        out = subprocess.run([os.path.join(build, folder, daemon)], cwd=d, env=env,
                             capture_output=True, text=True, timeout=60)
        errors = [l for l in (out.stdout + out.stderr).splitlines() if "level=error" in l]
        check(out.returncode == 78, "%s exited %s on a bad channel setting" % (
            daemon, out.returncode))
        check(len(errors) == 1 and "TWILIO_ACCOUNT_SID" in errors[0],
              "%s: expected one error line naming TWILIO_ACCOUNT_SID: %r" % (daemon, errors))
        subprocess.run(["rm", "-rf", d])


def main():
    channel = sys.argv[1] if len(sys.argv) > 1 else "twilio"
    backend = sys.argv[2] if len(sys.argv) > 2 else "sqlite"
    env = {"PUBLIC_BASE_URL": PUBLIC, "ENABLE_QR_CODE": "true", "CIU_SEND_LEASE_SECONDS": "5"}
    media = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ciu-media-%d" % os.getpid())
    os.makedirs(media, exist_ok=True)
    if channel == "twilio":
        config_errors(build_dir())
        fake = P.start_twilio(media_dir=media)
        env.update({"TWILIO_ACCOUNT_SID": P.TWILIO_ACCOUNT_SID,
                    "TWILIO_AUTH_TOKEN": P.TWILIO_AUTH_TOKEN,
                    "TWILIO_WHATSAPP_NUMBER": "whatsapp:" + P.TWILIO_NUMBER,
                    "TWILIO_API_BASE_URL": fake.base})
        scenario = twilio_scenario(fake)
    else:
        fake = P.start_meta(media_dir=media)
        env.update({"META_ACCESS_TOKEN": P.META_TOKEN,
                    "META_PHONE_NUMBER_ID": P.META_PHONE_NUMBER_ID,
                    "META_APP_SECRET": P.META_APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN,
                    "META_GRAPH_BASE_URL": fake.base})
        scenario = meta_scenario(fake)
    try:
        rc = run(scenario, "channels-" + channel, backend, env=env)
    finally:
        fake.stop()
        if rc_ok(fake):
            fake.cleanup()
    return rc


def rc_ok(fake):
    return fake.proc.returncode in (0, -signal.SIGTERM)


if __name__ == "__main__":
    sys.exit(main())
