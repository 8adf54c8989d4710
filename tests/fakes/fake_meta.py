#!/usr/bin/env python3
"""A fake of Meta's WhatsApp Cloud API (Graph API), for integration tests.

    python3 tests/fakes/fake_meta.py --port-file F --token TOKEN --phone-number-id ID \
        --app-secret SECRET [--webhook URL] [--media-dir DIR]
        [--display-phone-number 15550783881] [--waba-id 102290129340398]

Standard library only. Binds 127.0.0.1 port 0, writes "http=<port>" to the port file
(temp file + rename), stops on SIGTERM with exit code 0. See tests/fakes/README.md.

API (as /work/shared/reference/channels.md describes the Cloud API):
  POST /{v}/{phone_number_id}/messages   send (JSON, Bearer) -> 200 {messaging_product, contacts,
                                         messages:[{id: wamid, message_status: accepted}]};
                                         {"status":"read","message_id":...} -> {"success":true}
  POST /{v}/{phone_number_id}/media      multipart upload -> {"id": "<15 digits>"}
  GET  /{v}/{media_id}                   {url, mime_type, sha256, file_size, id, messaging_product}
  GET  /whatsapp_business/attachments/?mid=ID   the bytes (Bearer)
  GET  /{v}/{phone_number_id}[?fields=a,b]   the number's profile (only the fields asked for,
                                         and id; an unknown field is error 100)
After accepting a message it fetches an image "link" (as Meta does) and POSTs signed status
webhooks (sent, delivered, read by default) to --webhook, from a background thread.

The call log, scripted faults, control API and server loop are shared with fake_twilio.py
(imported from it): POST /_control, GET /_control, GET /_calls[?since=SEQ], POST /_reset,
GET /_health.
"""
import argparse
import base64
import email.message
import email.parser
import email.utils
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fake_twilio import (FakeHandler, FakeState, Response, http_fetch, http_post,  # noqa: E402
                         mime_of, norm_to, save_media, serve)

VERSION_RE = re.compile(r"^v[0-9]+\.0$")
EDGE_RE = re.compile(r"^/([^/]+)/([^/]+)/(messages|media)/?$")
NODE_RE = re.compile(r"^/([^/]+)/([^/]+)/?$")
ATTACH_PATH = "/whatsapp_business/attachments/"
PHONE_RE = re.compile(r"^\+?[0-9]{5,15}$")
USER_ID_RE = re.compile(r"^[A-Z]{2}\.[0-9A-Za-z]{1,64}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MB = 1024 * 1024
MEDIA_LIMITS = {
    "image/jpeg": 5 * MB, "image/png": 5 * MB,
    "audio/aac": 16 * MB, "audio/mp4": 16 * MB, "audio/mpeg": 16 * MB, "audio/amr": 16 * MB,
    "audio/ogg": 16 * MB, "video/mp4": 16 * MB, "video/3gpp": 16 * MB,
    "text/plain": 100 * MB, "application/pdf": 100 * MB, "application/msword": 100 * MB,
    "application/vnd.ms-excel": 100 * MB, "application/vnd.ms-powerpoint": 100 * MB,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 * MB,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": 100 * MB,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 * MB,
    "image/webp": 500 * 1024,
}
MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
IMAGE_TYPES = ("image/jpeg", "image/png")

TITLES = {
    0: "AuthException", 1: "An unknown error occurred", 2: "Service temporarily unavailable",
    4: "Application request limit reached", 10: "Application does not have permission for "
    "this action", 100: "Invalid parameter", 190: "Access token has expired",
    368: "Temporarily blocked for policies violations", 80007: "Rate limit issues",
    130429: "Rate limit hit", 131000: "Something went wrong",
    131008: "Required parameter is missing", 131009: "Parameter value is not valid",
    131026: "Message undeliverable", 131047: "Re-engagement message",
    131048: "Spam rate limit hit", 131051: "Unsupported message type",
    131052: "Media download error", 131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    133016: "Account register deregister rate limit exceeded",
}
DETAILS = {
    130429: "Cloud API message throughput has been reached.",
    131026: "Message Undeliverable.",
    131047: "Message failed to send because more than 24 hours have passed since the "
            "customer last replied to this number.",
    131056: "Message failed to send because there were too many messages sent from this "
            "phone number to the same phone number in a short period of time.",
}
SUBCODES = {190: 463, 131056: 2494055}
CODE_STATUS = {190: 401, 4: 429, 10: 403, 368: 403, 1: 500, 2: 503}
STATUS_CODE = {401: 190, 403: 10, 429: 4, 500: 1, 503: 2}
ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


class Invalid(Exception):
    """A request body Meta would refuse with (#100) Invalid parameter."""


def meta_signature(body, secret):
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def fbtrace():
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    return "A" + "".join(secrets.choice(alphabet) for _ in range(22))


def meta_error(code, message=None, subcode=None, details=None, type_="OAuthException"):
    e = {"message": message or "(#%d) %s" % (code, TITLES.get(code, "Unknown error")),
         "type": type_, "code": code}
    if subcode is not None:
        e["error_subcode"] = subcode
    if details is not None:
        e["error_data"] = {"messaging_product": "whatsapp", "details": details}
    e["fbtrace_id"] = fbtrace()
    return {"error": e}


def expired_message():
    def pdt(t):
        return time.strftime("%A, %d-%b-%y %H:%M:%S PDT", time.gmtime(t - 7 * 3600))
    now = time.time()
    return ("Error validating access token: Session has expired on %s. The current time is %s."
            % (pdt(now - 86400), pdt(now)))


def make_wamid(recipient):
    """wamid.<base64>, built the way real ones decode (recipient, then a random id)."""
    r = recipient.encode("utf-8")[:200]
    raw = (b"\x1c\x18" + bytes([len(r)]) + r + b"\x15\x02\x00\x11\x18\x12"
           + secrets.token_hex(9).upper().encode("ascii") + b"\x00")
    return "wamid." + base64.b64encode(raw).decode("ascii")


def parse_multipart(body, content_type):
    """multipart/form-data -> [{name, filename, content_type, headers, data}] (binary-safe)."""
    holder = email.message.Message()
    holder["Content-Type"] = content_type or ""
    boundary = holder.get_param("boundary")
    if not boundary:
        raise ValueError("multipart/form-data without a boundary")
    delim = b"\r\n--" + email.utils.collapse_rfc2231_value(boundary).encode("latin-1")
    sections = (b"\r\n" + body).split(delim)
    if len(sections) < 2:
        raise ValueError("the multipart boundary does not occur in the body")
    parts = []
    for sec in sections[1:]:
        if sec.startswith(b"--"):
            return parts
        nl = sec.find(b"\r\n")
        if nl < 0:
            raise ValueError("a multipart part has no header block")
        sec = sec[nl + 2:]
        if sec.startswith(b"\r\n"):
            head, content = b"", sec[2:]
        else:
            head, sep, content = sec.partition(b"\r\n\r\n")
            if not sep:
                raise ValueError("a multipart part has no blank line after its headers")
        h = email.parser.HeaderParser().parsestr(head.decode("utf-8", "replace"))
        name = h.get_param("name", header="content-disposition")
        filename = h.get_filename()
        parts.append({
            "name": email.utils.collapse_rfc2231_value(name) if name else None,
            "filename": filename, "content_type": h.get("Content-Type"),
            "headers": dict(h.items()), "data": content})
    raise ValueError("the multipart body has no closing boundary")


# ---- request validation (Meta's documented limits; characters = code points) -------------

def _bad(msg):
    raise Invalid(msg)


def _obj(v, name):
    if not isinstance(v, dict):
        _bad("%s must be an object" % name)
    return v


def _text(v, name, hi, required=True):
    if v is None and not required:
        return
    if not isinstance(v, str):
        _bad("%s is required and must be a string" % name)
    if required and not v.strip():
        _bad("%s must not be empty" % name)
    if len(v) > hi:
        _bad("%s is %d characters long; the limit is %d" % (name, len(v), hi))


def _media_obj(v, name, has_media):
    v = _obj(v, name)
    if ("id" in v) == ("link" in v):
        _bad("%s needs exactly one of id and link" % name)
    if "id" in v:
        if not isinstance(v["id"], str) or not has_media(v["id"]):
            _bad("%s.id %r is not a media id uploaded to this phone number" % (name, v["id"]))
    elif not isinstance(v["link"], str) or not URL_RE.match(v["link"]):
        _bad("%s.link must be an http(s) URL" % name)


def validate_interactive(it, has_media):
    it = _obj(it, "interactive")
    kind = it.get("type")
    if kind not in ("list", "button"):
        _bad("interactive.type must be list or button (the kinds this fake checks), got %r"
             % (kind,))
    _text(_obj(it.get("body"), "interactive.body").get("text"), "interactive.body.text", 1024)
    if "footer" in it:
        _text(_obj(it["footer"], "interactive.footer").get("text"), "interactive.footer.text",
              60)
    header = it.get("header")
    if header is not None:
        header = _obj(header, "interactive.header")
        htype = header.get("type")
        if htype == "text":
            _text(header.get("text"), "interactive.header.text", 60)
        elif kind == "button" and htype in ("image", "video", "document"):
            _media_obj(header.get(htype), "interactive.header.%s" % htype, has_media)
        else:
            _bad("interactive.header.type %r is not allowed for a %s message" % (htype, kind))
    action = _obj(it.get("action"), "interactive.action")
    if kind == "list":
        _text(action.get("button"), "interactive.action.button", 20)
        sections = action.get("sections")
        if not isinstance(sections, list) or not sections:
            _bad("interactive.action.sections must be a non-empty list")
        if len(sections) > 10:
            _bad("interactive.action.sections has %d sections; the limit is 10" % len(sections))
        rows_total, ids = 0, set()
        for i, sec in enumerate(sections):
            name = "interactive.action.sections[%d]" % i
            sec = _obj(sec, name)
            _text(sec.get("title"), name + ".title", 24, required=len(sections) > 1)
            rows = sec.get("rows")
            if not isinstance(rows, list) or not rows:
                _bad("%s.rows must be a non-empty list" % name)
            for j, row in enumerate(rows):
                rname = "%s.rows[%d]" % (name, j)
                row = _obj(row, rname)
                _text(row.get("id"), rname + ".id", 200)
                if row["id"] in ids:
                    _bad("%s.id %r is not unique" % (rname, row["id"]))
                ids.add(row["id"])
                _text(row.get("title"), rname + ".title", 24)
                _text(row.get("description"), rname + ".description", 72, required=False)
            rows_total += len(rows)
        if rows_total > 10:
            _bad("the list has %d rows in total; the limit is 10" % rows_total)
    else:
        buttons = action.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            _bad("interactive.action.buttons must have 1 to 3 buttons, got %s"
                 % (len(buttons) if isinstance(buttons, list) else repr(buttons)))
        ids, titles = set(), set()
        for i, b in enumerate(buttons):
            name = "interactive.action.buttons[%d]" % i
            b = _obj(b, name)
            if b.get("type") != "reply":
                _bad("%s.type must be \"reply\"" % name)
            reply = _obj(b.get("reply"), name + ".reply")
            _text(reply.get("id"), name + ".reply.id", 256)
            if reply["id"] != reply["id"].strip():
                _bad("%s.reply.id must not start or end with spaces" % name)
            _text(reply.get("title"), name + ".reply.title", 20)
            if reply["id"] in ids:
                _bad("%s.reply.id %r is not unique" % (name, reply["id"]))
            if reply["title"] in titles:
                _bad("%s.reply.title %r is not unique" % (name, reply["title"]))
            ids.add(reply["id"])
            titles.add(reply["title"])


def validate_message(doc, has_media):
    """Raise Invalid(details) if Meta would refuse this send."""
    doc = _obj(doc, "the request body")
    if doc.get("messaging_product") != "whatsapp":
        _bad('messaging_product must be "whatsapp"')
    if doc.get("recipient_type", "individual") != "individual":
        _bad('recipient_type must be "individual"')
    to, rcp = doc.get("to"), doc.get("recipient")
    if (to is None) == (rcp is None):
        _bad("exactly one of to and recipient is required")
    if to is not None and (not isinstance(to, str) or not PHONE_RE.match(to)):
        _bad("to must be the recipient's phone number in digits, got %r" % (to,))
    if rcp is not None and (not isinstance(rcp, str) or not USER_ID_RE.match(rcp)):
        _bad("recipient must be a business-scoped user id such as US.13491208655302741918")
    if "context" in doc:
        ctx = _obj(doc["context"], "context")
        if not isinstance(ctx.get("message_id"), str) or not ctx["message_id"]:
            _bad("context.message_id must be a message id")
    kind = doc.get("type", "text")
    if kind == "text":
        text = _obj(doc.get("text"), "text")
        _text(text.get("body"), "text.body", 4096)
        if "preview_url" in text and not isinstance(text["preview_url"], bool):
            _bad("text.preview_url must be true or false")
    elif kind == "image":
        _media_obj(doc.get("image"), "image", has_media)
        _text(doc["image"].get("caption"), "image.caption", 1024, required=False)
    elif kind == "interactive":
        validate_interactive(doc.get("interactive"), has_media)
    elif kind == "template":
        tpl = _obj(doc.get("template"), "template")
        _text(tpl.get("name"), "template.name", 512)
        _text(_obj(tpl.get("language"), "template.language").get("code"),
              "template.language.code", 16)
    else:
        _bad("type must be text, image, interactive or template (the types this fake knows), "
             "got %r" % (kind,))


class MetaState(FakeState):
    PATHS = ("messages", "read", "media")
    STATUSES = ("sent", "delivered", "read", "failed", "deleted")
    STATUS_ITEM_KEYS = ("code", "title", "message", "details", "fields")
    SETTING_ALIASES = {"token": "token", "auth_token": "token", "access_token": "token",
                       "app_secret": "app_secret", "webhook": "webhook"}
    EXTRA_KEYS = ("pair_rate_ms",)

    def __init__(self, settings, phone_number_id, display, waba_id, media_dir):
        self.phone_number_id = phone_number_id
        self.display = display
        self.waba_id = waba_id
        self.media_dir = media_dir
        self.media = {}                # id -> {data, mime_type, sha256, ...} (kept on /_reset)
        FakeState.__init__(self, settings)

    def has_media(self, media_id):
        with self.lock:
            return media_id in self.media


class MetaHandler(FakeHandler):
    NAME = "fake_meta"
    MAX_BODY = 110 * MB

    # ---- errors -------------------------------------------------------------

    def status_for_code(self, code):
        return CODE_STATUS.get(code, 400)

    def error_response(self, status, code, fault, type_="OAuthException"):
        fault = fault or {}
        if code is None:
            code = STATUS_CODE.get(status, 2 if status >= 500 else 100)
        message = fault.get("message")
        if code == 190 and not message:
            message = expired_message()
        details = fault.get("details", DETAILS.get(code, TITLES.get(code) if code >= 1000
                                                   else None))
        body = meta_error(code, message, fault.get("error_subcode", SUBCODES.get(code)),
                          details, type_)
        headers = {"x-fb-trace-id": body["error"]["fbtrace_id"][1:12],
                   "x-fb-request-id": body["error"]["fbtrace_id"]}
        if status == 401:
            headers["WWW-Authenticate"] = ('OAuth "Facebook Platform" "invalid_token" "%s"'
                                           % body["error"]["message"])
        return Response(status, body, headers=headers)

    def invalid(self, details):
        return self.error_response(400, 100, {"message": "(#100) Invalid parameter",
                                              "details": details})

    def unknown_path(self):
        return self.error_response(400, 100, {"message": "Unknown path components: %s"
                                              % self.url_path, "details": None})

    def unsupported(self, method, obj_id):
        return self.error_response(400, 100, {
            "message": "Unsupported %s request. Object with ID '%s' does not exist, cannot be "
                       "loaded due to missing permissions, or does not support this operation. "
                       "Please read the Graph API documentation at "
                       "https://developers.facebook.com/docs/graph-api" % (method.lower(), obj_id),
            "error_subcode": 33, "details": None}, type_="GraphMethodException")

    def authorized(self):
        auth = self.headers.get("Authorization") or ""
        tok = None
        if auth[:7].lower() == "bearer ":
            tok = auth[7:].strip()
        elif auth[:6].lower() == "oauth ":
            tok = auth[6:].strip()
        elif "access_token" in self.query:
            tok = self.query["access_token"][0]
        expected = self.state.setting("token") or ""
        return bool(tok) and bool(expected) and hmac.compare_digest(tok.encode(),
                                                                    expected.encode())

    # ---- routes -------------------------------------------------------------

    def api(self, method, call):
        st = self.state
        if self.url_path in (ATTACH_PATH, ATTACH_PATH[:-1]):
            call["kind"] = "media_download"
            return self.download(method)
        edge = EDGE_RE.match(self.url_path)
        node = NODE_RE.match(self.url_path)
        if edge:
            version, obj_id, what = edge.groups()
        elif node:
            version, obj_id, what = node.group(1), node.group(2), None
        else:
            return self.unknown_path()
        call["version"] = version
        if not VERSION_RE.match(version):
            return self.unknown_path()
        if not self.authorized():
            return self.error_response(401, 190, None)
        if what is None:
            call["kind"] = "node"
            return self.node(method, obj_id)
        call["kind"] = "media" if what == "media" else "messages"
        if method != "POST":
            return self.unsupported(method, obj_id)
        if obj_id != st.phone_number_id:
            return self.unsupported(method, obj_id)
        if what == "media":
            return self.upload(call)
        return self.messages(call)

    def node(self, method, obj_id):
        st = self.state
        with st.lock:
            m = st.media.get(obj_id)
            if m is not None and method == "DELETE":
                del st.media[obj_id]
                return Response(200, {"success": True})
        if method == "GET" and m is not None:
            host = self.headers.get("Host") or "127.0.0.1"
            return Response(200, {
                "messaging_product": "whatsapp",
                "url": "http://%s%s?mid=%s&ext=%d&hash=%s" % (host, ATTACH_PATH, obj_id,
                                                              int(time.time()),
                                                              secrets.token_urlsafe(12)),
                "mime_type": m["mime_type"], "sha256": m["sha256"],
                "file_size": m["file_size"], "id": obj_id})
        if method == "GET" and obj_id == st.phone_number_id:
            node = {"verified_name": "CIU Test", "code_verification_status": "VERIFIED",
                    "display_phone_number": st.display, "quality_rating": "GREEN",
                    "platform_type": "CLOUD_API", "throughput": {"level": "STANDARD"},
                    "id": obj_id}
            fields = [f for f in ",".join(self.query.get("fields", [])).split(",") if f]
            for f in fields:
                if f not in node:
                    return self.error_response(400, 100, {
                        "message": "(#100) Tried accessing nonexisting field (%s) on node type "
                                   "(WhatsAppBusinessPhoneNumber)" % f, "details": None})
            if fields:
                node = {k: v for k, v in node.items() if k in fields or k == "id"}
            return Response(200, node)
        return self.unsupported(method, obj_id)

    def download(self, method):
        if method != "GET":
            return self.unknown_path()
        if not self.authorized():
            return self.error_response(401, 190, None)
        mid = (self.query.get("mid") or [""])[0]
        with self.state.lock:
            m = self.state.media.get(mid)
        if m is None:
            return Response(404, {"error": "not found"})
        return Response(200, m["data"], m["mime_type"])

    # ---- send ---------------------------------------------------------------

    def messages(self, call):
        st = self.state
        try:
            doc = json.loads(self.body.decode("utf-8"))
        except ValueError:
            doc = None
            call["body_text"] = self.body[:2000].decode("utf-8", "replace")
        call["json"] = doc
        is_read = isinstance(doc, dict) and doc.get("status") == "read"
        call["kind"] = "read" if is_read else "messages"
        to = None
        if isinstance(doc, dict):
            to = doc.get("to") if doc.get("to") is not None else doc.get("recipient")
        call["to"] = norm_to(to) if isinstance(to, str) else None
        fault = self.fault_response(call["kind"], to if isinstance(to, str) else None, call)
        if fault is not None:
            return fault
        if doc is None:
            return self.invalid("the request body is not valid JSON")
        if is_read:
            if doc.get("messaging_product") != "whatsapp":
                return self.invalid('messaging_product must be "whatsapp"')
            if not isinstance(doc.get("message_id"), str) or \
                    not doc["message_id"].startswith("wamid."):
                return self.invalid("message_id must be the wamid of a received message")
            ti = doc.get("typing_indicator")
            if ti is not None and (not isinstance(ti, dict) or ti.get("type") != "text"):
                return self.invalid('typing_indicator must be {"type":"text"}')
            return Response(200, {"success": True})
        try:
            validate_message(doc, st.has_media)
        except Invalid as e:
            return self.invalid(str(e))
        verdict = st.admit(to, time.time())
        if verdict == "mps":
            return self.error_response(400, 130429, None)
        if verdict == "pair":
            return self.error_response(400, 131056, None)
        wamid = make_wamid(norm_to(to))
        if doc.get("to") is not None:
            contact = {"input": to, "wa_id": norm_to(to)}
        else:
            contact = {"input": to, "user_id": to}
        call["wamid"] = wamid
        call["media"], call["callbacks"] = [], []
        link = doc["image"].get("link") if doc.get("type") == "image" else None
        return Response(200, {"messaging_product": "whatsapp", "contacts": [contact],
                              "messages": [{"id": wamid, "message_status": "accepted"}]},
                        after=lambda: self.deliver(call, wamid, contact, link))

    # ---- upload -------------------------------------------------------------

    def upload(self, call):
        st = self.state
        ctype = self.headers.get("Content-Type")
        parts, perr = None, None
        if mime_of(ctype) != "multipart/form-data":
            perr = "the request must be multipart/form-data, got %r" % (ctype,)
        else:
            try:
                parts = parse_multipart(self.body, ctype)
            except ValueError as e:
                perr = str(e)
        if parts is not None:
            call["multipart"] = [
                {"name": p["name"], "filename": p["filename"], "content_type": p["content_type"],
                 "length": len(p["data"]), "sha256": hashlib.sha256(p["data"]).hexdigest()}
                if p["filename"] is not None or len(p["data"]) > 256 else
                {"name": p["name"], "content_type": p["content_type"],
                 "value": p["data"].decode("utf-8", "replace")}
                for p in parts]
        fault = self.fault_response("media", None, call)
        if fault is not None:
            return fault
        if perr:
            return self.invalid(perr)
        fields = {p["name"]: p for p in parts}
        mp = fields.get("messaging_product")
        if mp is None or mp["data"] != b"whatsapp":
            return self.invalid('messaging_product must be "whatsapp"')
        f = fields.get("file")
        if f is None:
            return self.invalid("the file part is required")
        ftype = mime_of(f["content_type"])
        if ftype not in MEDIA_LIMITS:
            return self.invalid("Param file must be a file with one of the following types: %s. "
                                "Received file of type '%s'." % (", ".join(MEDIA_LIMITS),
                                                                 ftype or "(none)"))
        data = f["data"]
        if not data:
            return self.invalid("the file is empty")
        if len(data) > MEDIA_LIMITS[ftype]:
            return self.error_response(400, 131053, {
                "details": "Uploaded media size (%d bytes) exceeds the limit of %d bytes for %s"
                           % (len(data), MEDIA_LIMITS[ftype], ftype)})
        if ftype in MAGIC and not data.startswith(MAGIC[ftype]):
            return self.error_response(400, 131053, {
                "details": "The file's content is not %s" % ftype})
        media_id = str(secrets.randbelow(9 * 10 ** 14) + 10 ** 14)
        sha = hashlib.sha256(data).hexdigest()
        saved = save_media(st.media_dir, media_id, ftype, data)
        with st.lock:
            st.media[media_id] = {"data": data, "mime_type": ftype, "sha256": sha,
                                  "file_size": len(data), "filename": f["filename"]}
        call["media_id"] = media_id
        call["upload"] = {"id": media_id, "mime_type": ftype, "length": len(data),
                          "sha256": sha, "saved_as": saved}
        return Response(200, {"id": media_id})

    # ---- after the answer: link fetch, then status webhooks --------------------

    def deliver(self, call, wamid, contact, link):
        try:
            self._deliver(call, wamid, contact, link)
        finally:
            self.state.finish(call)

    def _deliver(self, call, wamid, contact, link):
        st = self.state
        failure = None
        if link:
            rec, data = http_fetch(link, 100 * MB, {"User-Agent": "WhatsApp/2.0"})
            ctype = mime_of(rec["content_type"])
            if rec["error"] and not rec["status"]:
                failure = "Request for url %s failed with error: %s" % (link, rec["error"])
            elif not rec["status"] or rec["status"] >= 400:
                failure = "Request for url %s failed with error: %s" % (link, rec["error"])
            elif ctype not in IMAGE_TYPES:
                failure = "Media type %r of %s is not supported for image" % (ctype, link)
            elif len(data or b"") > MEDIA_LIMITS[ctype] or not data:
                failure = "Media at %s is empty or larger than %d bytes" % (
                    link, MEDIA_LIMITS[ctype])
            else:
                rec["saved_as"] = save_media(st.media_dir, "link-" + hashlib.sha1(
                    wamid.encode()).hexdigest()[:20], ctype, data)
            if failure:
                rec["error_code"] = 131053
            st.attach(call, "media", rec)
        url = st.setting("webhook")
        if not url or st.stop.is_set():
            return
        recipient = contact.get("wa_id") or contact.get("user_id")
        order, cfg = st.order_for(recipient)
        if failure:
            order = [{"status": "failed", "code": 131053, "details": failure, "delay_ms": 0}]
        conversation = secrets.token_hex(16)
        self.deliver_statuses(order, cfg, lambda item, attempt: self.webhook(
            call, url, wamid, recipient, conversation, item, attempt))

    def webhook(self, call, url, wamid, recipient, conversation, item, attempt):
        st = self.state
        now = int(time.time())
        status = {"id": wamid, "status": item["status"], "timestamp": str(now),
                  "recipient_id": recipient}
        if item["status"] in ("sent", "delivered"):
            status["conversation"] = {"id": conversation, "origin": {"type": "service"}}
            if item["status"] == "sent":
                status["conversation"]["expiration_timestamp"] = str(now + 86400)
            status["pricing"] = {"billable": False, "pricing_model": "PMP",
                                 "category": "service", "type": "free_customer_service"}
        if item["status"] == "failed":
            code = item.get("code", 131026)
            title = item.get("title", TITLES.get(code, "Unknown error"))
            status["errors"] = [{"code": code, "title": title,
                                 "message": item.get("message", title),
                                 "error_data": {"details": item.get(
                                     "details", DETAILS.get(code, title))},
                                 "href": ERROR_HREF}]
        status.update(item.get("fields") or {})
        payload = {"object": "whatsapp_business_account", "entry": [{
            "id": st.waba_id, "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": st.display,
                             "phone_number_id": st.phone_number_id},
                "statuses": [status]}}]}]}
        # Meta escapes non-ASCII as \uXXXX (lowercase hex): json.dumps's default
        body = json.dumps(payload, separators=(",", ":")).encode("ascii")
        secret = (st.setting("app_secret") or "").encode("utf-8")
        sig = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": sig,
                   "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest(),
                   "User-Agent": "facebookexternalua"}
        t = time.time()
        http_status, text, error = http_post(url, body, headers, timeout=20)
        st.attach(call, "callbacks", {
            "status": item["status"], "url": url, "payload": payload, "signature": sig,
            "attempt": attempt, "time": t, "http_status": http_status, "response": text,
            "error": error})
        return http_status


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--phone-number-id", required=True)
    ap.add_argument("--app-secret", required=True)
    ap.add_argument("--webhook")
    ap.add_argument("--media-dir")
    ap.add_argument("--display-phone-number", default="15550783881")
    ap.add_argument("--waba-id", default="102290129340398")
    a = ap.parse_args(argv)
    if a.media_dir:
        os.makedirs(a.media_dir, exist_ok=True)
    state = MetaState({"token": a.token, "app_secret": a.app_secret, "webhook": a.webhook},
                      a.phone_number_id, a.display_phone_number, a.waba_id, a.media_dir)
    return serve(MetaHandler, state, a.port_file, "fake_meta")


if __name__ == "__main__":
    sys.exit(main())
