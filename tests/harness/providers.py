"""Fake WhatsApp providers for integration tests, and what the real providers send.

- start_twilio() / start_meta(): run tests/fakes/fake_twilio.py or fake_meta.py as a
  subprocess (port 0, --port-file, readiness by polling the file; no fixed sleep), then
  control() / calls() / wait_calls() / reset() / stop() on the returned object.
- twilio_signature(), twilio_validate(), meta_signature(): the providers' webhook signatures.
- twilio_inbound_form(), meta_inbound_payload() and the meta_* message builders: inbound
  webhooks as Twilio and Meta send them (see /work/shared/reference/channels.md).
- post_form(), post_json(), http_get(): plain HTTP returning (status, headers, body).

Standard library only; the same rules as stack.py (loopback, port files, deadlines).
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import SOURCE_DIR, TestFailure, check  # noqa: E402,F401

FAKES_DIR = os.path.join(SOURCE_DIR, "tests", "fakes")

# Test credentials: obviously fake, the right shapes.
TWILIO_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
TWILIO_AUTH_TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"
TWILIO_NUMBER = "+14155238886"
META_TOKEN = "EAAtestTOKEN0000000000000000000000"
META_PHONE_NUMBER_ID = "106540352242922"
META_DISPLAY_NUMBER = "15550783881"
META_WABA_ID = "102290129340398"
META_APP_SECRET = "0123456789abcdef0123456789abcdef"
META_VERSION = "v25.0"


# ---------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------

def _request(method, url, data=None, headers=None, timeout=20):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def _pairs(params):
    if params is None:
        return []
    return list(params.items()) if isinstance(params, dict) else list(params)


def post_form(url, params, headers=None, timeout=20):
    """POST application/x-www-form-urlencoded; params: dict or (name, value) pairs.
    Returns (status, headers, body bytes); HTTP errors are returned, not raised."""
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    h.update(headers or {})
    return _request("POST", url, urllib.parse.urlencode(_pairs(params)).encode("utf-8"), h,
                    timeout)


def post_json(url, body_bytes, headers=None, timeout=20):
    """POST raw JSON bytes (sign exactly these bytes). Returns (status, headers, body)."""
    if not isinstance(body_bytes, (bytes, bytearray)):
        body_bytes = meta_body(body_bytes)
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return _request("POST", url, bytes(body_bytes), h, timeout)


def http_get(url, headers=None, timeout=20):
    return _request("GET", url, None, headers, timeout)


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

def twilio_signature(url, params, token):
    """X-Twilio-Signature as twilio-python/twilio-node compute it: the full URL as called,
    then each parameter name in sorted order followed by its values, de-duplicated and
    sorted (repeated keys), no separators; HMAC-SHA1 with the auth token; base64.
    params: dict or list of (name, value) pairs; [] for GET or the bodySHA256 variant."""
    pairs = _pairs(params)
    s = url
    for name in sorted(set(k for k, _ in pairs)):
        for value in sorted(set(v for k, v in pairs if k == name)):
            s += name + value
    mac = hmac.new(token.encode("utf-8"), s.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def twilio_body_hash(body_bytes):
    """bodySHA256 for JSON webhooks: lowercase hex SHA-256 of the raw body."""
    return hashlib.sha256(body_bytes).hexdigest()


def _url_port_variants(url):
    """twilio-python: the URL with any port removed, and the URL with its port (the
    scheme's default added when there is none)."""
    u = urllib.parse.urlsplit(url)
    host = u.hostname or ""
    userinfo = u.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    port = u.port or {"https": 443, "http": 80}.get(u.scheme)
    without = urllib.parse.urlunsplit((u.scheme, prefix + host, u.path, u.query, u.fragment))
    with_port = urllib.parse.urlunsplit((u.scheme, "%s%s:%s" % (prefix, host, port), u.path,
                                         u.query, u.fragment)) if port else url
    return [without, with_port]


def twilio_validate(url, params, signature, token):
    """Validate as twilio-python's RequestValidator does: the signature may be over the URL
    without its port or with it (default port added). If params is the raw body (bytes or
    str) and the URL carries bodySHA256, the body hash must match and only the URL is
    signed."""
    valid_body = True
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    if isinstance(params, (bytes, bytearray, str)):
        raw = params.encode("utf-8") if isinstance(params, str) else bytes(params)
        if "bodySHA256" in query:
            valid_body = hmac.compare_digest(twilio_body_hash(raw), query["bodySHA256"][0])
        params = []
    ok = any(hmac.compare_digest(twilio_signature(u, params, token), signature or "")
             for u in _url_port_variants(url))
    return valid_body and ok


def twilio_headers(url, params, token):
    return {"X-Twilio-Signature": twilio_signature(url, params, token)}


def meta_signature(body_bytes, secret):
    """Lowercase hex HMAC-SHA256 of the raw body with the app secret (the header value is
    "sha256=" + this)."""
    return hmac.new(secret.encode("utf-8"), bytes(body_bytes), hashlib.sha256).hexdigest()


def meta_headers(body_bytes, secret):
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=" + meta_signature(body_bytes, secret)}


def meta_verify(body_bytes, header, secret):
    return (isinstance(header, str) and len(header) == 71 and header.startswith("sha256=")
            and hmac.compare_digest(header[7:], meta_signature(body_bytes, secret)))


# ---------------------------------------------------------------------------
# Inbound webhooks as the providers send them
# ---------------------------------------------------------------------------

def _digits(number):
    n = str(number)
    if n.startswith("whatsapp:"):
        n = n[len("whatsapp:"):]
    return n.lstrip("+")


def _is_user_id(s):
    return len(s) > 3 and s[2] == "." and s[:2].isalpha() and s[:2].isupper()


def twilio_sid(prefix="SM"):
    return prefix + secrets.token_hex(16)


def twilio_inbound_form(from_number, body, message_sid=None, to=TWILIO_NUMBER,
                        account_sid=TWILIO_ACCOUNT_SID, profile_name="Test User",
                        button_text=None, button_payload=None, **extra):
    """The form Twilio POSTs for an inbound WhatsApp message (a dict, in Twilio's order).
    from_number: '+243810000001', '243810000001', 'whatsapp:+243...' or a business-scoped
    user id ('US.1234...', sent as whatsapp:US.1234 with ExternalUserId and no WaId).
    extra: more fields verbatim (MediaUrl0=..., ButtonText=..., Latitude=...)."""
    sid = message_sid or twilio_sid()
    n = _digits(from_number)
    user_id = _is_user_id(n)
    form = {"SmsMessageSid": sid, "NumMedia": "0", "ProfileName": profile_name,
            "MessageType": "text", "SmsSid": sid}
    if not user_id:
        form["WaId"] = n
    form.update({"SmsStatus": "received", "Body": body,
                 "To": to if str(to).startswith("whatsapp:") else "whatsapp:" + to,
                 "NumSegments": "1", "ReferralNumMedia": "0", "MessageSid": sid,
                 "AccountSid": account_sid,
                 "From": "whatsapp:" + (n if user_id else "+" + n),
                 "ApiVersion": "2010-04-01"})
    if user_id:
        form["ExternalUserId"] = "whatsapp:" + n
    if button_text is not None:
        form["ButtonText"] = button_text
        form["MessageType"] = "interactive"
    if button_payload is not None:
        form["ButtonPayload"] = button_payload
    if profile_name is None:
        del form["ProfileName"]
    form.update({k: str(v) for k, v in extra.items()})
    if any(k.startswith("MediaUrl") for k in extra) and "NumMedia" not in extra:
        form["NumMedia"] = str(sum(1 for k in extra if k.startswith("MediaUrl")))
    return form


def twilio_status_form(message_sid, status, to, from_=TWILIO_NUMBER,
                       account_sid=TWILIO_ACCOUNT_SID, error_code=None, **extra):
    """A status callback form as the fake (and Twilio) sends it."""
    form = {"AccountSid": account_sid, "ApiVersion": "2010-04-01",
            "ChannelPrefix": "whatsapp", "ChannelToAddress": "+" + _digits(to),
            "From": "whatsapp:+" + _digits(from_), "MessageSid": message_sid,
            "MessageStatus": status, "SmsSid": message_sid, "SmsStatus": status,
            "StructuredMessage": "false", "To": "whatsapp:+" + _digits(to)}
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    form.update({k: str(v) for k, v in extra.items()})
    return form


class MetaMessage(dict):
    """A messages[] entry; remembers the sender's profile for the contacts[] block."""
    contact = None


def meta_wamid():
    raw = b"\x1c\x18\x0c" + secrets.token_bytes(12) + b"\x15\x02\x00\x12\x18\x14" + \
        secrets.token_hex(10).upper().encode("ascii") + b"\x00"
    return "wamid." + base64.b64encode(raw).decode("ascii")


def _meta_msg(from_, kind, payload, wamid=None, timestamp=None, name="Test User",
              context=None, user_id=None, with_from=True):
    m = MetaMessage()
    wa_id = _digits(from_) if from_ is not None else None
    if with_from and wa_id is not None:
        m["from"] = wa_id
    if user_id:
        m["from_user_id"] = user_id
    m["id"] = wamid or meta_wamid()
    m["timestamp"] = str(int(timestamp if timestamp is not None else time.time()))
    m["type"] = kind
    if context:
        m["context"] = context
    m[kind] = payload
    contact = {"profile": {"name": name}}
    if wa_id is not None:
        contact["wa_id"] = wa_id
    if user_id:
        contact["user_id"] = user_id
    m.contact = contact
    return m


def _context(context_id):
    return {"from": META_DISPLAY_NUMBER, "id": context_id} if context_id else None


def meta_text(from_, body, **kw):
    return _meta_msg(from_, "text", {"body": body}, **kw)


def meta_list_reply(from_, row_id, title, description=None, context_id=None, **kw):
    reply = {"id": row_id, "title": title}
    if description is not None:
        reply["description"] = description
    return _meta_msg(from_, "interactive", {"type": "list_reply", "list_reply": reply},
                     context=_context(context_id or meta_wamid()), **kw)


def meta_button_reply(from_, button_id, title, context_id=None, **kw):
    return _meta_msg(from_, "interactive",
                     {"type": "button_reply", "button_reply": {"id": button_id, "title": title}},
                     context=_context(context_id or meta_wamid()), **kw)


def meta_button(from_, text, payload, context_id=None, **kw):
    """A template quick-reply tap (type "button")."""
    return _meta_msg(from_, "button", {"payload": payload, "text": text},
                     context=_context(context_id or meta_wamid()), **kw)


def meta_image(from_, media_id, mime_type="image/jpeg", sha256=None, caption=None, **kw):
    img = {"mime_type": mime_type,
           "sha256": sha256 or base64.b64encode(secrets.token_bytes(32)).decode("ascii"),
           "id": media_id}
    if caption is not None:
        img["caption"] = caption
    return _meta_msg(from_, "image", img, **kw)


def meta_reaction(from_, message_id, emoji, **kw):
    return _meta_msg(from_, "reaction", {"message_id": message_id, "emoji": emoji}, **kw)


def meta_system(from_, body="User A changed from +1 to +2", new_wa_id=None,
                kind="user_changed_number", **kw):
    """A system message; it arrives without contacts[]."""
    sysobj = {"body": body, "type": kind}
    if new_wa_id is not None:
        sysobj["wa_id"] = new_wa_id
    m = _meta_msg(from_, "system", sysobj, **kw)
    m.contact = None
    return m


def meta_username_text(user_id, body, username=None, **kw):
    """A message from someone known only by a WhatsApp username: no "from", only
    "from_user_id"; contacts[] has user_id and no wa_id."""
    m = _meta_msg(None, "text", {"body": body}, user_id=user_id, **kw)
    if username is not None:
        m.contact["profile"]["username"] = username
    return m


def meta_status(wamid, status, recipient_id, code=None, title=None, details=None,
                timestamp=None):
    st = {"id": wamid, "status": status,
          "timestamp": str(int(timestamp if timestamp is not None else time.time())),
          "recipient_id": _digits(recipient_id)}
    if status in ("sent", "delivered"):
        st["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service",
                         "type": "free_customer_service"}
    if status == "failed" or code is not None:
        code = code or 131026
        title = title or "Message undeliverable"
        st["errors"] = [{"code": code, "title": title, "message": title,
                         "error_data": {"details": details or title},
                         "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/"
                                 "support/error-codes/"}]
    return st


def meta_inbound_payload(messages=(), statuses=(), contacts=True,
                         phone_number_id=META_PHONE_NUMBER_ID,
                         display_phone_number=META_DISPLAY_NUMBER, waba_id=META_WABA_ID,
                         errors=None):
    """The JSON Meta POSTs to the webhook (a dict; meta_body() gives the bytes to sign).
    contacts=True derives contacts[] from the messages (not for system messages), False
    leaves it out, a list is used as given."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": display_phone_number,
                          "phone_number_id": phone_number_id}}
    if contacts is True:
        found, seen = [], set()
        for m in messages:
            c = getattr(m, "contact", None)
            if c is None:
                continue
            key = (c.get("wa_id"), c.get("user_id"))
            if key not in seen:
                seen.add(key)
                found.append(c)
        if found:
            value["contacts"] = found
    elif contacts:
        value["contacts"] = list(contacts)
    if messages:
        value["messages"] = [dict(m) for m in messages]
    if statuses:
        value["statuses"] = list(statuses)
    if errors:
        value["errors"] = list(errors)
    return {"object": "whatsapp_business_account",
            "entry": [{"id": waba_id, "changes": [{"field": "messages", "value": value}]}]}


def meta_body(payload):
    """Bytes as Meta sends them: compact, non-ASCII as \\uXXXX escapes."""
    return json.dumps(payload, separators=(",", ":")).encode("ascii")


def meta_verify_url(url, verify_token, challenge="1158201444", mode="subscribe"):
    q = urllib.parse.urlencode({"hub.mode": mode, "hub.challenge": challenge,
                                "hub.verify_token": verify_token})
    return url + ("&" if "?" in url else "?") + q


def multipart_body(fields, files):
    """fields: {name: value}; files: [(name, filename, content_type, bytes)].
    Returns (body bytes, Content-Type header)."""
    boundary = "----ciu" + secrets.token_hex(12)
    out = b""
    for name, value in fields.items():
        out += ('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                % (boundary, name, value)).encode("utf-8")
    for name, filename, ctype, data in files:
        head = '--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n' % (
            boundary, name, filename)
        if ctype is not None:
            head += "Content-Type: %s\r\n" % ctype
        out += head.encode("utf-8") + b"\r\n" + data + b"\r\n"
    out += ("--%s--\r\n" % boundary).encode("ascii")
    return out, "multipart/form-data; boundary=" + boundary


# ---------------------------------------------------------------------------
# The fakes as subprocesses
# ---------------------------------------------------------------------------

def read_port_file(path):
    """'http=PORT' lines (the daemons' format) or a bare port number; None if not yet."""
    try:
        text = open(path).read()
    except OSError:
        return None
    for tok in text.split():
        k, _, v = tok.rpartition("=")
        if k in ("", "http") and v.isdigit():
            return int(v)
    return None


class FakeProvider:
    SCRIPT = None
    NAME = "fake"

    def __init__(self, args, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="ciu-%s-" % self.NAME)
        self.own_dir = workdir is None
        os.makedirs(self.dir, exist_ok=True)
        self.port_file = os.path.join(self.dir, self.NAME + ".port")
        self.log_path = os.path.join(self.dir, self.NAME + ".log")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(FAKES_DIR, self.SCRIPT), "--port-file",
             self.port_file] + args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.port = None
        self.base = None

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise TestFailure("%s exited with %s at start:\n%s" % (
                    self.NAME, self.proc.returncode, self.log_tail()))
            port = read_port_file(self.port_file)
            if port:
                self.port = port
                self.base = "http://127.0.0.1:%d" % port
                return self
            time.sleep(0.02)
        raise TestFailure("%s did not write its port file in %ss" % (self.NAME, timeout))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            self.cleanup()
        return False

    def url(self, path):
        return self.base + path

    def _json(self, method, path, doc=None):
        data = json.dumps(doc).encode("utf-8") if doc is not None else None
        status, _, body = _request(method, self.url(path), data,
                                   {"Content-Type": "application/json"}, timeout=20)
        try:
            parsed = json.loads(body.decode("utf-8")) if body else None
        except ValueError:
            parsed = body
        if status != 200:
            raise TestFailure("%s %s %s -> %s %r" % (self.NAME, method, path, status, parsed))
        return parsed

    def control(self, doc=None, **kw):
        """POST /_control: e.g. control(faults=[{"status": 503, "count": 3}]),
        control(down=True), control({"statuses": ["read", "sent"]}). Returns the state."""
        d = dict(doc or {})
        d.update(kw)
        return self._json("POST", "/_control", d)

    def state(self):
        return self._json("GET", "/_control")

    def reset(self):
        return self._json("POST", "/_reset", {})

    def calls(self, kind=None, since=0):
        """Every API request so far (oldest first); kind: 'messages', 'media', 'read',
        'typing', ... to filter."""
        got = self._json("GET", "/_calls?since=%d" % since)
        return [c for c in got if kind is None or c.get("kind") == kind]

    def wait_calls(self, predicate, timeout=10, kind=None):
        """Poll /_calls until predicate(calls) is true; returns the calls."""
        deadline = time.time() + timeout
        calls = []
        while True:
            calls = self.calls(kind)
            if predicate(calls):
                return calls
            if time.time() >= deadline:
                raise TestFailure("%s: condition not met within %ss; calls: %s" % (
                    self.NAME, timeout, json.dumps(calls, ensure_ascii=False)[-3000:]))
            time.sleep(0.02)

    def accepted(self):
        """The sends the fake accepted (2xx), oldest first."""
        return [c for c in self.calls("messages") if 200 <= c["status"] < 300]

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code (0 for a clean stop)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_tail(self, lines=40):
        try:
            return "\n".join(open(self.log_path, errors="replace").read().splitlines()[-lines:])
        except OSError:
            return ""

    def cleanup(self):
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class FakeTwilio(FakeProvider):
    SCRIPT = "fake_twilio.py"
    NAME = "fake_twilio"

    def __init__(self, account_sid=TWILIO_ACCOUNT_SID, auth_token=TWILIO_AUTH_TOKEN,
                 number=TWILIO_NUMBER, media_dir=None, workdir=None):
        self.account_sid, self.auth_token, self.number = account_sid, auth_token, number
        self.media_dir = media_dir
        args = ["--account-sid", account_sid, "--auth-token", auth_token, "--number", number]
        if media_dir:
            args += ["--media-dir", media_dir]
        FakeProvider.__init__(self, args, workdir)

    @property
    def messages_url(self):
        return self.url("/2010-04-01/Accounts/%s/Messages.json" % self.account_sid)

    def auth_header(self, sid=None, token=None):
        raw = "%s:%s" % (sid or self.account_sid, token or self.auth_token)
        return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}

    def send(self, to, body=None, media_url=None, status_callback=None, from_=None,
             auth=None, **extra):
        """POST a message the way a gateway would: (status, headers, parsed JSON)."""
        params = [("To", to if to.startswith("whatsapp:") else "whatsapp:" + to),
                  ("From", from_ or "whatsapp:" + self.number)]
        if body is not None:
            params.append(("Body", body))
        for u in ([media_url] if isinstance(media_url, str) else media_url or []):
            params.append(("MediaUrl", u))
        if status_callback:
            params.append(("StatusCallback", status_callback))
        params += [(k, str(v)) for k, v in extra.items()]
        status, headers, data = post_form(self.messages_url, params,
                                          auth if auth is not None else self.auth_header())
        return status, headers, json.loads(data.decode("utf-8")) if data else None


class FakeMeta(FakeProvider):
    SCRIPT = "fake_meta.py"
    NAME = "fake_meta"

    def __init__(self, token=META_TOKEN, phone_number_id=META_PHONE_NUMBER_ID,
                 app_secret=META_APP_SECRET, webhook=None, media_dir=None, workdir=None):
        self.token, self.phone_number_id, self.app_secret = token, phone_number_id, app_secret
        self.media_dir = media_dir
        args = ["--token", token, "--phone-number-id", phone_number_id, "--app-secret",
                app_secret, "--display-phone-number", META_DISPLAY_NUMBER,
                "--waba-id", META_WABA_ID]
        if webhook:
            args += ["--webhook", webhook]
        if media_dir:
            args += ["--media-dir", media_dir]
        FakeProvider.__init__(self, args, workdir)

    def messages_url(self, version=META_VERSION):
        return self.url("/%s/%s/messages" % (version, self.phone_number_id))

    def media_url(self, version=META_VERSION):
        return self.url("/%s/%s/media" % (version, self.phone_number_id))

    def auth_header(self, token=None):
        return {"Authorization": "Bearer " + (token or self.token)}

    def send(self, doc, token=None, version=META_VERSION):
        """POST a message body (dict): (status, headers, parsed JSON)."""
        status, headers, data = post_json(self.messages_url(version),
                                          json.dumps(doc).encode("utf-8"),
                                          self.auth_header(token))
        return status, headers, json.loads(data.decode("utf-8")) if data else None

    def upload(self, data, content_type="image/png", filename="qr.png", token=None,
               messaging_product="whatsapp", version=META_VERSION):
        fields = {"messaging_product": messaging_product} if messaging_product else {}
        if content_type:
            fields["type"] = content_type
        body, ctype = multipart_body(fields, [("file", filename, content_type, data)])
        h = self.auth_header(token)
        h["Content-Type"] = ctype
        status, headers, resp = _request("POST", self.media_url(version), body, h)
        return status, headers, json.loads(resp.decode("utf-8")) if resp else None


def start_twilio(**kw):
    """Start fake_twilio.py and wait for its port file. Keywords: account_sid, auth_token,
    number, media_dir, workdir."""
    return FakeTwilio(**kw).wait_ready()


def start_meta(**kw):
    """Start fake_meta.py and wait for its port file. Keywords: token, phone_number_id,
    app_secret, webhook, media_dir, workdir."""
    return FakeMeta(**kw).wait_ready()
