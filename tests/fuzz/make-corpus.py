#!/usr/bin/env python3
"""Write the seed corpus of the libFuzzer targets (tests/fuzz/corpus/<target>/).

Each seed is a real payload shape: the examples and test vectors of
../shared/reference/channels.md and dhis2.md (Twilio and Meta webhooks and
answers, DHIS2 answers for 2.38 to 2.42), the project's fakes
(tests/fakes/) and unit tests, docs/messages.md and .env.example. The
files are committed; run this again after changing it. It rewrites only
the files it names and leaves others (regression-* inputs) alone.
Standard library only.
"""
import hashlib
import hmac
import json
import os
import struct
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def compact(obj, ascii_only=True):
    # Meta escapes non-ASCII as \uXXXX, as json.dumps does by default
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=ascii_only)


# ---- Twilio webhooks (form bodies) -------------------------------------------

SDK_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
SDK_PARAMS = ("CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
              "From=%2B14158675309&To=%2B18005551212")


def form(pairs):
    return urllib.parse.urlencode(pairs)


def twilio_inbound(extra, sid="SMe287c1e7b4f6a1d2c3b4a5f6e7d8c9b0", body="Bonjour"):
    pairs = [("SmsMessageSid", sid), ("NumMedia", "0"), ("SmsSid", sid),
             ("SmsStatus", "received"), ("Body", body),
             ("To", "whatsapp:+14155238886"), ("NumSegments", "1"), ("MessageSid", sid),
             ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
             ("From", "whatsapp:+243810000001"), ("ApiVersion", "2010-04-01"),
             ("ProfileName", "Ibrahima"), ("WaId", "243810000001"), ("MessageType", "text")]
    return form(pairs + list(extra))


def twilio_status(status, code=None, sid="SM29f4a2b1c0d9e8f7a6b5c4d3e2f1a0b9"):
    pairs = [("AccountSid", "AC0123456789abcdef0123456789abcdef"), ("ApiVersion", "2010-04-01"),
             ("ChannelInstallSid", "XE0123456789abcdef0123456789abcdef"),
             ("ChannelPrefix", "whatsapp"), ("ChannelToAddress", "+243810000001"),
             ("From", "whatsapp:+14155238886"), ("MessageSid", sid), ("MessageStatus", status),
             ("SmsSid", sid), ("SmsStatus", status), ("StructuredMessage", "false"),
             ("To", "whatsapp:+243810000001")]
    if code is not None:
        pairs.append(("ErrorCode", str(code)))
    return form(pairs)


def twilio():
    t = "fuzz_twilio_form"
    # the SDKs' vectors: URL, X-Twilio-Signature, body (AuthToken 12345)
    write(t, "sdk-vector", "%s\nRSOYDt4T1cUTdK1PDd93/VVr8B8=\n%s" % (SDK_URL, SDK_PARAMS))
    write(t, "sdk-vector-add-port",
          "%s\nkvajT1Ptam85bY51eRf/AJRuM3w=\n%s" % (SDK_URL, SDK_PARAMS))
    write(t, "sdk-vector-strip-port",
          "https://mycompany.com:1234/myapp.php?foo=1&bar=2\nRSOYDt4T1cUTdK1PDd93/VVr8B8=\n%s"
          % SDK_PARAMS)
    write(t, "sdk-vector-http-port",
          "http://mycompany.com:1234/myapp.php?foo=1&bar=2\nZmvh+3yNM1Phv2jhDCwEM3q5ebU=\n%s"
          % SDK_PARAMS)
    write(t, "sdk-vector-http-80",
          "http://mycompany.com/myapp.php?foo=1&bar=2\n0ZXoZLH/DfblKGATFgpif+LLRf4=\n%s"
          % SDK_PARAMS)
    write(t, "sdk-vector-repeated-keys",
          "%s\nIK+Dwps556ElfBT0I3Rgjkr1wJU=\n"
          "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234" % SDK_URL)
    write(t, "sdk-vector-body-sha256",
          "https://mycompany.com/myapp.php?foo=1&bar=2&bodySHA256="
          "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620\n"
          "a9nBmqA0ju/hNViExpshrM61xv4=\n")
    # courier's waReceiveValid (channels.md), then our own shapes
    write(t, "courier-wa-receive-valid",
          "SmsMessageSid=SMe287&NumMedia=0&SmsSid=SMe287&SmsStatus=received&Body=Msg"
          "&To=whatsapp:%2B12028831111&NumSegments=1&MessageSid=SMe287&AccountSid=acctid"
          "&From=whatsapp:%2B14133881111&ApiVersion=2010-04-01")
    write(t, "inbound-text", twilio_inbound([]))
    write(t, "inbound-accents", twilio_inbound([], body="Mbengué N´Djili Kinshasa-Est"))
    write(t, "inbound-button", twilio_inbound(
        [("ButtonText", "Oui"), ("ButtonPayload", "1"), ("MessageType", "button"),
         ("OriginalRepliedMessageSid", "SM11111111111111111111111111111111"),
         ("OriginalRepliedMessageSender", "whatsapp:+14155238886")], body="Oui"))
    write(t, "inbound-interactive", twilio_inbound(
        [("ButtonText", "Femme"), ("MessageType", "interactive")], body="Femme"))
    write(t, "inbound-media", twilio_inbound(
        [("NumMedia", "1"), ("MediaContentType0", "audio/ogg"),
         ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1")],
        sid="MM5f0e1d2c3b4a59687766554433221100", body=""))
    write(t, "inbound-image", twilio_inbound(
        [("NumMedia", "1"), ("MediaContentType0", "image/jpeg"),
         ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM2/Media/ME2")],
        sid="MM6f0e1d2c3b4a59687766554433221100", body=""))
    write(t, "inbound-location", twilio_inbound(
        [("Latitude", "-4.325"), ("Longitude", "15.322"), ("Address", "Gombe"),
         ("Label", "Kinshasa")], body=""))
    write(t, "inbound-referral", twilio_inbound(
        [("ReferralNumMedia", "0"), ("ReferralBody", "Get your CIU"),
         ("ReferralHeadline", "CIU"), ("ReferralSourceId", "123"),
         ("ReferralSourceType", "ad"), ("ReferralSourceUrl", "https://fb.me/x"),
         ("ReferralCtwaClid", "ARAkLkA8rmlFeiCktEJQ-QTwRiyYHAFDLMNDBH0CD3qpjd0HR4irJ6LEkR7JwFF4"),
         ("Forwarded", "true"), ("FrequentlyForwarded", "false"),
         ("ChannelMetadata", '{"type":"whatsapp","data":{"context":{"ProfileName":"A",'
                             '"WaId":"243810000001"}}}')]))
    write(t, "inbound-user-id", form(
        [("MessageSid", "SM7f0e1d2c3b4a59687766554433221100"),
         ("From", "whatsapp:US.13491208655302741918"), ("Body", "Bonjour"),
         ("ExternalUserId", "whatsapp:ID.13491208655302741918"), ("SmsStatus", "received")]))
    write(t, "inbound-waid-only", form(
        [("MessageSid", "SM8f0e1d2c3b4a59687766554433221100"), ("WaId", "243810000001"),
         ("Body", "1997")]))
    write(t, "inbound-long-text", twilio_inbound([], body="é" * 2100))
    write(t, "inbound-get-query", "MessageSid=SM1&From=whatsapp%3A%2B243810000001&Body=DA&"
                                  "Empty=&NoValue&&Body=second")
    for st, code in (("sent", None), ("delivered", None), ("read", None),
                     ("failed", 63016), ("undelivered", 30008), ("queued", None),
                     ("canceled", None), ("partially_delivered", None)):
        write(t, "status-%s" % st, twilio_status(st, code))
    write(t, "status-failed-stop", twilio_status("failed", 21610))
    write(t, "status-rate-limit", twilio_status("failed", 63018))


# ---- Meta webhooks (JSON bodies) ---------------------------------------------

def meta_envelope(value):
    value = dict({"messaging_product": "whatsapp",
                  "metadata": {"display_phone_number": "15550783881",
                               "phone_number_id": "106540352242922"}}, **value)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages",
                                                             "value": value}]}]}


def meta_message(mtype, payload, sender="243810000001", mid="wamid.HBgLMjQzODEwMDAwMDAxFQIAEhgg",
                 **extra):
    m = {"from": sender, "id": mid, "timestamp": "1749416383", "type": mtype}
    if payload is not None:
        m[mtype] = payload
    m.update(extra)
    return m


def meta_inbound(messages, contacts=None):
    if contacts is None:
        contacts = [{"profile": {"name": "Sheena Nelson"}, "wa_id": "243810000001"}]
    return meta_envelope({"contacts": contacts, "messages": messages})


def meta_status(status, errors=None, wamid="wamid.HBgLMjQzODEwMDAwMDAxFQIAERgSQzA"):
    s = {"id": wamid, "status": status, "timestamp": "1749416400",
         "recipient_id": "243810000001"}
    if status in ("sent", "delivered"):
        s["conversation"] = {"id": "c0ffee", "origin": {"type": "service"}}
        s["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service",
                        "type": "free_customer_service"}
    if errors:
        s["errors"] = errors
    return meta_envelope({"statuses": [s]})


def meta():
    t = "fuzz_meta_webhook"
    seeds = {
        "reference-text": meta_inbound([meta_message(
            "text", {"body": "Does it come in another color?"}, sender="16505551234")],
            [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}]),
        "text-accents": meta_inbound([meta_message("text", {"body": "Mbengué"})]),
        "list-reply": meta_inbound([meta_message(
            "interactive", {"type": "list_reply", "list_reply": {
                "id": "2", "title": "Femme", "description": "Mwasi"}},
            context={"from": "15550783881", "id": "wamid.Q"})]),
        "button-reply": meta_inbound([meta_message(
            "interactive", {"type": "button_reply", "button_reply": {"id": "1",
                                                                     "title": "Oui"}})]),
        "nfm-reply": meta_inbound([meta_message(
            "interactive", {"type": "nfm_reply", "nfm_reply": {
                "name": "flow", "body": "Sent", "response_json": "{\"a\":1}"}})]),
        "template-button": meta_inbound([meta_message("button", {"text": "Oui",
                                                                 "payload": "1"})]),
        "image": meta_inbound([meta_message("image", {
            "id": "1479537139650973", "mime_type": "image/jpeg",
            "sha256": "4dZtMH5qMwfjW8GUrWTfVGL0vL4VdlTvKXIXJZ/8nbI=", "caption": "moi"})]),
        "voice": meta_inbound([meta_message("audio", {
            "id": "1479537139650974", "mime_type": "audio/ogg; codecs=opus",
            "sha256": "x", "voice": True})]),
        "location": meta_inbound([meta_message("location", {
            "latitude": -4.325, "longitude": 15.322, "name": "Gombe",
            "address": "Kinshasa"})]),
        "reaction": meta_inbound([meta_message("reaction", {"message_id": "wamid.X",
                                                            "emoji": "\U0001F44D"})]),
        "unsupported": meta_inbound([meta_message(
            "unsupported", None, errors=[{"code": 131051, "title": "Message type unknown",
                                          "message": "Message type unknown",
                                          "error_data": {"details": "Message type is "
                                                                    "currently not supported."}}])]),
        "system": meta_envelope({"messages": [{"id": "wamid.sys", "timestamp": "1",
                                               "type": "system",
                                               "system": {"body": "changed number"}}]}),
        "user-id-only": meta_inbound(
            [{"from_user_id": "US.13491208655302741918", "id": "wamid.U", "timestamp": "1",
              "type": "text", "text": {"body": "Bonjour"}}],
            [{"profile": {"name": "A"}, "user_id": "US.13491208655302741918"}]),
        "contact-user-id": meta_inbound(
            [{"id": "wamid.V", "timestamp": "1", "type": "text", "text": {"body": "1"}}],
            [{"profile": {"name": "A"}, "user_id": "US.13491208655302741919"}]),
        "several": {"object": "whatsapp_business_account", "entry": [
            meta_inbound([meta_message("text", {"body": "Mbengue"}, mid="wamid.1"),
                          meta_message("text", {"body": "Ibrahima"}, mid="wamid.2",
                                       sender="243810000002")])["entry"][0],
            meta_status("read")["entry"][0]]},
        "status-sent": meta_status("sent"),
        "status-delivered": meta_status("delivered"),
        "status-read": meta_status("read"),
        "status-failed": meta_status("failed", [{
            "code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]),
        "status-failed-media": meta_status("failed", [{
            "code": 131014, "title": "Request for url https://URL.jpg failed with error: 404 "
                                     "(Not Found)"}]),
        "status-deleted": meta_status("deleted"),
        "value-errors": meta_envelope({"errors": [{"code": 130429, "title": "Rate limit hit"}]}),
    }
    for name, obj in seeds.items():
        write(t, name, compact(obj))
    write(t, "text-long", compact(meta_inbound([meta_message("text", {"body": "é" * 2100})]),
                                  ascii_only=False))
    # the signature vector of courier's TestSigning (secret "sesame")
    write(t, "courier-signing",
          "sha256=f39034b29165ec6a5104d9aef27266484ab26c8caa7bca8bcb2dd02e8be61b17\nhello world")
    body = compact(meta_inbound([meta_message("text", {"body": "Bonjour"})]))
    sig = hmac.new(b"sesame", body.encode(), hashlib.sha256).hexdigest()
    write(t, "signed-text", "sha256=%s\n%s" % (sig, body))
    write(t, "not-json", '{"entry": ["Kabila Joseph')


# ---- msgpack envelopes (docs/messages.md) ------------------------------------

def mp(obj):
    """The subset of msgpack cmn_msg uses: map, str, int, bool, nil."""
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return bytes([obj])
        if 0 <= obj < 1 << 32:
            return b"\xce" + struct.pack(">I", obj)
        if obj >= 0:
            return b"\xcf" + struct.pack(">Q", obj)
        if obj >= -32:
            return struct.pack(">b", obj)
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, str):
        b = obj.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b
    if isinstance(obj, dict):
        assert len(obj) < 16
        return bytes([0x80 | len(obj)]) + b"".join(mp(k) + mp(v) for k, v in obj.items())
    raise TypeError(obj)


USER = "ecdba0c42ca634f7969cacb583ddc10ad362f1b419f20254d6a465f61bdd3299"
TRACE = "01JGMZ5QZS4E8W1HYF6R0PKD3M"


def envelope(mtype, mid, ts, **fields):
    m = {"v": 1, "type": mtype, "id": mid, "ts": ts, "trace": TRACE}
    m.update(fields)
    return m


def msgs():
    t = "fuzz_msg"
    seeds = {
        "inbound": envelope("inbound", "01JGMZ5R0A7Q3M9XKD2T4VBN6C", 1735725600123,
                            user=USER, channel="sim", row=1042),
        "ciu-request": envelope("ciu.request", "01JGMZ5R3N2B8V6CXW0QK4TD9H", 1735725600161,
                                user=USER, channel="sim", row=77),
        "outbound": envelope("outbound", "01JGMZ5R9D6T1K3WQ8XN2CF5A7", 1735725600232,
                             user=USER, channel="twilio", row=5310),
        "dhis2-sync": envelope("dhis2.sync", "01JGMZ5RB1X7N2Q4W6E8R0T2Y4", 1735725600250,
                               ciu="MBEIBR7DA1", row=12),
        "message-received": envelope("message.received", "01JGMZ5R0B00000000000000AA",
                                     1735725600124, user=USER, channel="meta", detail="text"),
        "ciu-issued-existing": envelope("ciu.issued", "01JGMZ5R5C00000000000000AB",
                                        1735725600200, user=USER, channel="sim",
                                        ciu="MBEIBR7DA1", existing=True),
        "ciu-duplicate": envelope("ciu.duplicate", "01JGMZ5R5D00000000000000AC", 1735725600201,
                                  user=USER, ciu="MBEIBR7DA1", detail="same_answers"),
        "message-failed": envelope("message.failed", "01JGMZ5R5E00000000000000AD",
                                   1735725600300, user=USER, channel="meta", row=5311,
                                   detail="131026"),
        "channel-paused": envelope("channel.paused", "01JGMZ5R5F00000000000000AE",
                                   1735725600400, channel="meta", detail="190"),
        "unknown-key": envelope("dhis2.pending", "01JGMZ5R5G00000000000000AF", 1735725600500,
                                row=12, ciu="MBEIBR7DA1", extra=None),
        "newer-version": dict(envelope("outbound", "01JGMZ5R5H00000000000000AG", 1, row=1),
                              v=2),
        "negative-ts": envelope("outbound", "01JGMZ5R5J00000000000000AH", -5),
    }
    for name, obj in seeds.items():
        write(t, name, mp(obj))
    # framing the decoder must refuse (test_msg.c)
    write(t, "truncated-map", bytes([0x85, 0xa1, ord("v")]))
    write(t, "map32-huge", b"\xdf\xff\xff\xff\xff")
    write(t, "array32-huge", b"\xdd\x7f\xff\xff\xff\xc0")
    write(t, "two-objects", mp(envelope("outbound", "01JGMZ5R5K00000000000000AJ", 1)) + b"\xc0")


# ---- answers to the five questions -------------------------------------------

def answers():
    t = "fuzz_answers"
    seeds = {
        "readme": "Mbengue\nIbrahima\n1997\nDA\n1",
        "accents": "  N\u00b4Djili-Mbuyi \nÉlodie\n2001.\nMbuji-Mayi\nfemme",
        "lingala": "Nsimba\nƆkɛlɔ\n8\nKin\nmwasi",
        "swahili": "Kabila\nJoseph\n1971\nLubumbashi\nmwanaume",
        "english": "O'Neil\nMary-Ann\n1985\nGoma\nwoman",
        "nordic": "Øyvind\nŁukasz\n1990\nKN\nother",
        "ligatures": "Œdipe\nßtraße\n1900\nÉlisabethville\ntrans",
        "arabic-digits": "محمد\n\u0661\u0669\u0669\u0667\n٣\nkinshasa\n3",
        "emoji": "\U0001F600\nJean 2\n97\nXYZ\nnyingine",
        "zero-width": "\u200bMbengue\u00ad\nIbra\u200dhima\n 1997 \nd a\n\u00a01\u2003",
        "too-long": "A" * 120 + "\nB\n1997\nDA\n1",
        "dashes": "Mbengue\u2013Diop\nIbrahima\u2212Seydou\n2026\nBukavu\nH",
        "fullwidth": "ＭＢＥＮＧＵＥ\nⅠbrahima\n１９９７\nＤＡ\n２",
        "empty": "\n\n\n\n",
    }
    for name, text in seeds.items():
        write(t, name, text)
    write(t, "bad-utf8", b"Mb\xc3engue\n\xff\xfe\n19\xe297\nD\x80A\n\xc0\xaf")


# ---- .env ---------------------------------------------------------------------

def env():
    t = "fuzz_env"
    write(t, "example", """# .env for ciu (see docs/configuration.md)
CIU_FUZZ_NAME=ciu-demo
CIU_FUZZ_TOKEN=s3cr3t-t0ken
CIU_FUZZ_MINUTES=30
CIU_FUZZ_ENABLED=true
CIU_FUZZ_URL=https://ciu.example.org/webhooks
""")
    write(t, "quotes-and-export", """export CIU_FUZZ_NAME="Ciu \\"demo\\"\\n second line"
CIU_FUZZ_TOKEN='single # not a comment'
  CIU_FUZZ_MINUTES = 1440   # trailing comment
CIU_FUZZ_ENABLED=on
CIU_FUZZ_OLD_URL=http://old.example.org/
""")
    write(t, "compose-empty", "CIU_FUZZ_MINUTES=\nCIU_FUZZ_ENABLED=\nCIU_FUZZ_NAME=\n")
    write(t, "bad-int", "CIU_FUZZ_MINUTES=abc\n")
    write(t, "out-of-range", "CIU_FUZZ_MINUTES=99999999999999999999\n")
    write(t, "bad-bool", "CIU_FUZZ_ENABLED=maybe\r\n")
    write(t, "both-file", "CIU_FUZZ_TOKEN=x\nCIU_FUZZ_TOKEN_FILE=token.txt\n")
    write(t, "file-missing", "CIU_FUZZ_NAME_FILE=no-such-file\n")
    write(t, "unterminated", "CIU_FUZZ_NAME=\"open quote\nCIU_FUZZ_URL='x\n=novalue\n9BAD=1\n")
    write(t, "repeated", "CIU_FUZZ_NAME=one\nCIU_FUZZ_NAME=two\nCIU_FUZZ_URL=a b  c\t\n")
    # the project's own example, as operators copy it
    example = os.path.join(ROOT, "deploy", ".env.example")
    if os.path.exists(example):
        with open(example, "rb") as f:
            write(t, "deploy-env-example", f.read())


# ---- DHIS2 answers (dhis2.md) -------------------------------------------------

def dhis2():
    t = "fuzz_dhis2"
    attr = lambda a, v: {"attribute": a, "value": v}  # noqa: E731
    seeds = {
        "system-info-2.41": {"version": "2.41.1", "revision": "abc1234",
                             "buildTime": "2024-06-01T10:00:00.000", "serverDate":
                             "2024-06-02T10:00:00.000", "serverTimeZoneId": "Etc/UTC",
                             "contextPath": "https://play.dhis2.org/41", "systemId": "x",
                             "systemName": "DHIS 2", "calendar": "iso8601",
                             "dateFormat": "yyyy-mm-dd"},
        "system-info-2.40.4.1": {"version": "2.40.4.1", "revision": "def5678"},
        "system-info-snapshot": {"version": "2.42-SNAPSHOT"},
        "system-info-2.37": {"version": "2.37.9"},
        "search-2.42": {"pager": {"page": 1, "pageSize": 2}, "trackedEntities": [
            {"trackedEntity": "F8yKM85NbxW", "trackedEntityType": "nEenWmSyUEp",
             "orgUnit": "DiszpKrYNg8", "createdAt": "2019-08-21T13:25:38.022",
             "updatedAt": "2019-08-21T13:31:33.410", "inactive": False, "deleted": False,
             "potentialDuplicate": False,
             "attributes": [{"attribute": "lZGmxYbs97q", "displayName": "CIU",
                             "valueType": "TEXT", "value": "mbeibr7da1",
                             "createdAt": "x", "updatedAt": "x", "storedBy": "bridge"},
                            attr("w75KJ2mc4zz", "John")],
             "enrollments": [{"enrollment": "MNWZ6hnuhSw", "program": "IpHINAT79UW",
                              "status": "ACTIVE", "orgUnit": "DiszpKrYNg8"}]}]},
        "search-2.41": {"pager": {"page": 1, "pageSize": 2}, "page": 1, "pageSize": 2,
                        "trackedEntities": [
                            {"trackedEntity": "Kj6vYde4LHh", "orgUnit": "ImspTQPwCqd",
                             "attributes": [attr("lZGmxYbs97q", "NGAFRA1KN2")],
                             "enrollments": [{"enrollment": "Abcdefghij1",
                                              "program": "IpHINAT79UW", "deleted": True},
                                             {"enrollment": "Abcdefghij2",
                                              "program": "Other000001"}]}]},
        "search-2.40": {"instances": [{"trackedEntity": "F8yKM85NbxW", "orgUnit":
                                       "DiszpKrYNg8", "attributes":
                                       [attr("lZGmxYbs97q", "MBEIBR7DA1")]}],
                        "page": 1, "pageSize": 2},
        "search-empty": {"pager": {"page": 1, "pageSize": 2}, "trackedEntities": []},
        "search-deprecated": {"trackedEntityInstances": [{
            "trackedEntityInstance": "F8yKM85NbxW", "trackedEntityType": "nEenWmSyUEp",
            "orgUnit": "DiszpKrYNg8", "attributes": [attr("lZGmxYbs97q", "MBEIBR7DA1")]}]},
        "import-ok": {"status": "OK", "validationReport": {"errorReports": []},
                      "stats": {"created": 2, "updated": 0, "deleted": 0, "ignored": 0,
                                "total": 2},
                      "bundleReport": {"typeReportMap": {
                          "TRACKED_ENTITY": {"trackerType": "TRACKED_ENTITY", "stats": {
                              "created": 1, "updated": 0, "deleted": 0, "ignored": 0,
                              "total": 1}, "objectReports": [
                              {"trackerType": "TRACKED_ENTITY", "uid": "Kj6vYde4LHh",
                               "errorReports": []}]},
                          "ENROLLMENT": {"trackerType": "ENROLLMENT", "stats": {},
                                         "objectReports": [{"trackerType": "ENROLLMENT",
                                                            "uid": "MNWZ6hnuhSw",
                                                            "errorReports": []}]},
                          "EVENT": {}, "RELATIONSHIP": {}}}},
        "import-e1064": {"status": "ERROR", "validationReport": {
            "errorReports": [{"message": "Non-unique attribute value `AB12345678` for "
                                         "attribute `lZGmxYbs97q`.",
                              "errorCode": "E1064", "trackerType": "TRACKED_ENTITY",
                              "uid": "Kj6vYde4LHh", "args": ["AB12345678", "lZGmxYbs97q"]}],
            "warningReports": []},
            "stats": {"created": 0, "updated": 0, "deleted": 0, "ignored": 2, "total": 2}},
        "import-object-mode": {"status": "OK", "validationReport": {"errorReports": [
            {"message": "User has no write access to OrganisationUnit: x",
             "errorCode": "E1000", "trackerType": "ENROLLMENT", "uid": "MNWZ6hnuhSw"}]},
            "stats": {"created": 1, "ignored": 1, "total": 2},
            "bundleReport": {"typeReportMap": {"TRACKED_ENTITY": {"objectReports": [
                {"uid": "F8yKM85NbxW", "errorReports": []},
                {"uid": "Kj6vYde4LHh", "errorReports": [{"errorCode": "E1000"}]}]}}}},
        "async-job": {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK",
                      "message": "Tracker job added", "response": {
                          "id": "cHh2OCTJvRw",
                          "location": "https://host/api/tracker/jobs/cHh2OCTJvRw"}},
        "webmessage-409": {"httpStatus": "Conflict", "httpStatusCode": 409, "status": "ERROR",
                           "message": "Either Program or Tracked entity type should be "
                                      "specified", "devMessage": "IllegalQueryException"},
        "duplicate-stored": {"id": "Y0moqFplrX4", "created": "2024-05-01T10:00:00.000",
                             "lastUpdated": "2024-05-01T10:00:00.000",
                             "original": "Kj6vYde4LHh", "duplicate": "F8yKM85NbxW",
                             "status": "OPEN", "createdByUserName": "bridge"},
        "entity-for-flag": {"trackedEntity": "Kj6vYde4LHh", "trackedEntityType": "nEenWmSyUEp",
                            "orgUnit": "DiszpKrYNg8", "inactive": True,
                            "geometry": {"type": "Point", "coordinates": [1, 2]},
                            "attributes": []},
        "system-id": {"codes": ["Y0moqFplrX4", "Kj6vYde4LHh"]},
        "me": {"id": "xE7jOejl9FI", "username": "admin", "authorities": ["ALL"],
               "organisationUnits": [{"id": "ImspTQPwCqd"}]},
    }
    for name, obj in seeds.items():
        write(t, name, json.dumps(obj, indent=1 if name.startswith("import") else None))
    write(t, "proxy-502", "<html>\n<head><title>502 Bad Gateway</title></head>\n"
                          "<body><center><h1>502 Bad Gateway</h1></center></body>\n</html>\n")
    write(t, "pong", '"pong"')


# ---- provider answers to ciu-sender ------------------------------------------

def provider():
    t = "fuzz_provider"

    def meta_err(code, message, subcode=None, details=None):
        e = {"message": message, "type": "OAuthException", "code": code,
             "fbtrace_id": "A4O5nQx2kT3vbdKpxs2Sywk"}
        if subcode is not None:
            e["error_subcode"] = subcode
        if details is not None:
            e["error_data"] = {"messaging_product": "whatsapp", "details": details}
        return {"error": e}

    def tw_err(status, code, message):
        return {"code": code, "message": message,
                "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}

    seeds = {
        "twilio-created": (201, None, {
            "sid": "SM29f4a2b1c0d9e8f7a6b5c4d3e2f1a0b9", "account_sid": "AC0",
            "to": "whatsapp:+243810000001", "from": "whatsapp:+14155238886",
            "messaging_service_sid": None, "body": "Hello", "status": "queued",
            "num_segments": "1", "num_media": "0", "direction": "outbound-api",
            "error_code": None, "error_message": None,
            "date_created": "Tue, 27 Nov 2018 16:14:39 +0000",
            "uri": "/2010-04-01/Accounts/AC0/Messages/SM29f4.json"}),
        "twilio-21211": (400, None, tw_err(400, 21211, "Invalid 'To' Phone Number")),
        "twilio-20429": (429, 2, tw_err(429, 20429, "Too Many Requests")),
        "twilio-20003": (401, None, tw_err(401, 20003, "Authenticate")),
        "twilio-63016": (400, None, tw_err(400, 63016, "Outside the allowed window")),
        "twilio-rfc9457": (400, None, {"type": "https://www.twilio.com/docs/errors/21211",
                                       "title": "Invalid 'To' Phone Number", "status": 400,
                                       "code": 21211, "detail": "x", "instance": "/x"}),
        "meta-accepted": (200, None, {
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+243810000001", "wa_id": "243810000001"}],
            "messages": [{"id": "wamid.HBgLMjQzODEwMDAwMDAxFQIAERgSQzA",
                          "message_status": "accepted"}]}),
        "meta-held": (200, None, {"messaging_product": "whatsapp", "messages": [
            {"id": "wamid.HBg", "message_status": "held_for_quality_assessment"}]}),
        "meta-131056": (400, None, meta_err(131056, "(#131056) (Business Account, Consumer "
                                                    "Account) pair rate limit hit",
                                            2494055, "Message failed to send because there "
                                                     "were too many messages")),
        "meta-130429": (403, None, meta_err(130429, "(#130429) Rate limit hit")),
        "meta-80007": (400, 60, meta_err(80007, "(#80007) Rate limit issues")),
        "meta-4": (429, 3, meta_err(4, "(#4) Application request limit reached")),
        "meta-190": (401, None, meta_err(190, "Error validating access token: Session has "
                                              "expired", 463)),
        "meta-131026": (400, None, meta_err(131026, "Message undeliverable", None,
                                            "Message Undeliverable.")),
        "meta-131047": (400, None, meta_err(131047, "Re-engagement message")),
        "meta-131053": (400, None, meta_err(131053, "Media upload error")),
        "meta-131000": (500, None, meta_err(131000, "Something went wrong")),
        "meta-368": (403, None, meta_err(368, "Temporarily blocked for policies violations")),
        "meta-media-id": (200, None, {"id": "1479537139650973"}),
        "meta-read": (200, None, {"success": True}),
    }
    for name, (status, retry, obj) in seeds.items():
        head = "%d" % status if retry is None else "%d %d" % (status, retry)
        write(t, name, "%s\n%s" % (head, compact(obj)))
    write(t, "no-answer", "0\n")
    write(t, "proxy-503", "503 120\n<html><body>Service Unavailable</body></html>")
    write(t, "no-header", compact({"error": {"code": 100, "message": "Invalid parameter"}}))


if __name__ == "__main__":
    twilio()
    meta()
    msgs()
    answers()
    env()
    dhis2()
    provider()
