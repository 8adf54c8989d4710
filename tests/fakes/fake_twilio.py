#!/usr/bin/env python3
"""A fake of Twilio's Programmable Messaging REST API (WhatsApp), for integration tests.

    python3 tests/fakes/fake_twilio.py --port-file F --account-sid AC... --auth-token TOKEN \
        --number +14155238886 [--media-dir DIR]

Standard library only. Binds 127.0.0.1 port 0, writes "http=<port>" to the port file
(temp file + rename), stops on SIGTERM with exit code 0. See tests/fakes/README.md.

API (as /work/shared/reference/channels.md describes Twilio):
  POST /2010-04-01/Accounts/{AccountSid}/Messages.json        send (form-encoded) -> 201
  GET  /2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json  the message, with its last status
  POST /v3/Indicators/Typing.json                             typing / mark read -> {"success":true}
  GET  /2010-04-01/Accounts/{AccountSid}.json                 the account (ciu-admin check)
After accepting a message it fetches each MediaUrl (as Twilio does) and POSTs signed status
callbacks (sent, delivered, read by default) to StatusCallback, from a background thread.

Control (same for fake_meta.py): POST /_control, GET /_control, GET /_calls[?since=SEQ],
POST /_reset, GET /_health.

This file also holds the machinery shared with fake_meta.py (call log, scripted faults,
control API, server loop): the two fakes must behave the same way there.
"""
import argparse
import base64
import collections
import hashlib
import hmac
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ===========================================================================
# Shared machinery (fake_meta.py imports this part)
# ===========================================================================


class ControlError(ValueError):
    """A bad /_control document (answered 400, nothing changed)."""


class BodyError(Exception):
    def __init__(self, status, text):
        Exception.__init__(self, text)
        self.status = status


def norm_to(value):
    """Recipient key for matching faults, rates and per-recipient statuses:
    'whatsapp:+243810000002', '+243810000002' and '243810000002' are the same."""
    v = str(value or "").strip()
    if v.startswith("whatsapp:"):
        v = v[len("whatsapp:"):]
    return v.lstrip("+")


def _int(doc, key, lo, hi, default=None):
    if key not in doc or doc[key] is None:
        return default
    v = doc[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v) or not lo <= v <= hi:
        raise ControlError("%s must be an integer in [%d, %d], got %r" % (key, lo, hi, v))
    return int(v)


FAULT_KEYS = {"count", "to", "path", "status", "code", "message", "details", "error_subcode",
              "retry_after", "delay_ms", "body", "content_type"}


def parse_fault(f, paths):
    if not isinstance(f, dict):
        raise ControlError("a fault must be an object, got %r" % (f,))
    unknown = set(f) - FAULT_KEYS
    if unknown:
        raise ControlError("unknown fault keys %s (known: %s)" % (sorted(unknown),
                                                                 sorted(FAULT_KEYS)))
    out = {"count": _int(f, "count", 1, 10 ** 9, 1),
           "path": f.get("path", "messages")}
    if out["path"] not in paths + ("any",):
        raise ControlError("fault path must be one of %s, got %r" % (paths + ("any",),
                                                                    out["path"]))
    for k in ("status", "code", "error_subcode", "retry_after", "delay_ms"):
        lo, hi = {"status": (100, 599), "retry_after": (0, 86400),
                  "delay_ms": (0, 600000)}.get(k, (-1, 10 ** 9))
        v = _int(f, k, lo, hi)
        if v is not None:
            out[k] = v
    for k in ("to", "message", "details", "body", "content_type"):
        if k in f:
            if not isinstance(f[k], str):
                raise ControlError("fault %s must be a string" % k)
            out[k] = f[k]
    return out


def parse_status_item(item, allowed, extra_keys):
    if isinstance(item, str):
        item = {"status": item}
    if not isinstance(item, dict) or not isinstance(item.get("status"), str):
        raise ControlError("a status item is a name or an object with 'status', got %r" % (item,))
    if item["status"] not in allowed:
        raise ControlError("status must be one of %s, got %r" % (sorted(allowed), item["status"]))
    keys = {"status", "delay_ms"} | set(extra_keys)
    unknown = set(item) - keys
    if unknown:
        raise ControlError("unknown status item keys %s (known: %s)" % (sorted(unknown),
                                                                       sorted(keys)))
    out = dict(item)
    out["delay_ms"] = _int(item, "delay_ms", 0, 600000, 0)
    return out


def parse_statuses(v, allowed, extra_keys, default_order):
    """{"statuses": ...}: true/null = default order, false or [] = off, a list = the order,
    or an object {order, by_to:{recipient: order}, parallel, retries, retry_ms}."""
    cfg = {"order": [parse_status_item(s, allowed, extra_keys) for s in default_order],
           "by_to": {}, "parallel": False, "retries": 0, "retry_ms": 0}
    if v is None or v is True:
        return cfg
    if v is False:
        v = []
    if isinstance(v, list):
        v = {"order": v}
    if not isinstance(v, dict):
        raise ControlError("statuses must be true, false, a list or an object")
    unknown = set(v) - {"order", "by_to", "parallel", "retries", "retry_ms", "enabled"}
    if unknown:
        raise ControlError("unknown statuses keys %s" % sorted(unknown))

    def order(lst):
        if not isinstance(lst, list):
            raise ControlError("a status order is a list")
        return [parse_status_item(s, allowed, extra_keys) for s in lst]
    if "order" in v:
        cfg["order"] = order(v["order"])
    if v.get("enabled") is False:
        cfg["order"] = []
    by_to = v.get("by_to") or {}
    if not isinstance(by_to, dict):
        raise ControlError("statuses.by_to is an object {recipient: order}")
    cfg["by_to"] = {norm_to(k): order(lst) for k, lst in by_to.items()}
    cfg["parallel"] = bool(v.get("parallel", False))
    cfg["retries"] = _int(v, "retries", 0, 10, 0)
    cfg["retry_ms"] = _int(v, "retry_ms", 0, 600000, 0)
    return cfg


class FakeState:
    """What /_control can change, the FIFO of faults and the log of calls."""

    PATHS = ("messages",)              # fault "path" values (request kinds)
    STATUSES = ("sent", "delivered", "read", "failed")
    STATUS_ITEM_KEYS = ()
    DEFAULT_ORDER = ("sent", "delivered", "read")
    SETTING_ALIASES = {}               # control key -> settings key
    EXTRA_KEYS = ()                    # other control keys this fake accepts

    def __init__(self, settings):
        self.initial = dict(settings)
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.seq = 0
        self.in_flight = 0
        self.reset()

    def reset(self):
        with self.lock:
            self.calls = []
            self.faults = []
            self.delay_ms = 0
            self.down = False
            self.max_mps = 0
            self.pair_rate_ms = 0
            self.statuses = parse_statuses(None, self.STATUSES, self.STATUS_ITEM_KEYS,
                                           self.DEFAULT_ORDER)
            self.settings = dict(self.initial)
            self.recent = collections.deque()
            self.last_by_to = {}

    def snapshot(self):
        with self.lock:
            s = {"faults": [dict(f) for f in self.faults], "delay_ms": self.delay_ms,
                 "down": self.down, "max_mps": self.max_mps, "statuses": self.statuses,
                 "in_flight": self.in_flight}
            if "pair_rate_ms" in self.EXTRA_KEYS:
                s["pair_rate_ms"] = self.pair_rate_ms
            s.update(self.settings)
            return json.loads(json.dumps(s))

    def control(self, doc):
        if not isinstance(doc, dict):
            raise ControlError("the control document is a JSON object")
        known = ({"faults", "append_faults", "delay_ms", "down", "max_mps", "statuses",
                  "resolve"}
                 | set(self.SETTING_ALIASES) | set(self.EXTRA_KEYS))
        unknown = set(doc) - known
        if unknown:
            raise ControlError("unknown control keys %s (known: %s)" % (sorted(unknown),
                                                                       sorted(known)))
        # validate everything first, then apply: a bad document changes nothing
        new = {}
        for key in ("faults", "append_faults"):
            if key in doc:
                if not isinstance(doc[key], list):
                    raise ControlError("%s must be a list" % key)
                new[key] = [parse_fault(f, self.PATHS) for f in doc[key]]
        for key in ("delay_ms", "max_mps", "pair_rate_ms"):
            if key in doc:
                new[key] = _int(doc, key, 0, 10 ** 7, 0)
        if "down" in doc:
            if not isinstance(doc["down"], bool):
                raise ControlError("down must be true or false")
            new["down"] = doc["down"]
        if "statuses" in doc:
            new["statuses"] = parse_statuses(doc["statuses"], self.STATUSES,
                                             self.STATUS_ITEM_KEYS, self.DEFAULT_ORDER)
        if "resolve" in doc:
            if not isinstance(doc["resolve"], dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in doc["resolve"].items()):
                raise ControlError("resolve must map \"host[:port]\" to \"127.0.0.1:port\"")
            RESOLVE.clear()
            RESOLVE.update(doc["resolve"])
        settings = {}
        for key, target in self.SETTING_ALIASES.items():
            if key in doc:
                v = doc[key]
                if v is not None and not isinstance(v, str):
                    raise ControlError("%s must be a string or null" % key)
                settings[target] = v
        with self.lock:
            if "faults" in new:
                self.faults = new["faults"]
            if "append_faults" in new:
                self.faults += new["append_faults"]
            for key in ("delay_ms", "max_mps", "pair_rate_ms", "down", "statuses"):
                if key in new:
                    setattr(self, key, new[key])
            self.settings.update(settings)
        return self.snapshot()

    def setting(self, key):
        with self.lock:
            return self.settings.get(key)

    def take_fault(self, kind, to):
        """The first scripted fault matching this request (FIFO order), consumed."""
        with self.lock:
            for i, f in enumerate(self.faults):
                if f["path"] not in (kind, "any"):
                    continue
                if "to" in f and norm_to(f["to"]) != norm_to(to):
                    continue
                f["count"] -= 1
                used = dict(f)
                if f["count"] <= 0:
                    del self.faults[i]
                del used["count"]
                return used
        return None

    def admit(self, to, t):
        """Throughput checks for an otherwise valid send: None (accepted and counted),
        'mps' (over max_mps in the last second) or 'pair' (same recipient inside
        pair_rate_ms)."""
        key = norm_to(to)
        with self.lock:
            while self.recent and self.recent[0] <= t - 1.0:
                self.recent.popleft()
            if self.max_mps and len(self.recent) >= self.max_mps:
                return "mps"
            last = self.last_by_to.get(key)
            if self.pair_rate_ms and last is not None and (t - last) * 1000 < self.pair_rate_ms:
                return "pair"
            self.recent.append(t)
            self.last_by_to[key] = t
            return None

    def order_for(self, to):
        with self.lock:
            cfg = self.statuses
            order = cfg["by_to"].get(norm_to(to), cfg["order"])
            return [dict(i) for i in order], dict(cfg)

    def record(self, call):
        with self.lock:
            self.seq += 1
            call["seq"] = self.seq
            self.calls.append(call)
        return call

    def finish(self, call):
        """Mark an accepted call's background work (media fetch, statuses) as over."""
        with self.lock:
            call["done"] = True

    def attach(self, call, key, item):
        with self.lock:
            call.setdefault(key, []).append(item)

    def calls_json(self, since=0):
        with self.lock:
            return json.dumps([c for c in self.calls if c["seq"] > since],
                              ensure_ascii=False).encode("utf-8")

    def sleep_ms(self, ms):
        """A configured delay; cut short by SIGTERM. True if the fake is stopping."""
        if ms and ms > 0:
            return self.stop.wait(ms / 1000.0)
        return self.stop.is_set()


class Response:
    def __init__(self, status, body, content_type="application/json", headers=None, after=None):
        self.status = status
        self.body = body                       # dict/list (JSON) or bytes
        self.content_type = content_type
        self.headers = headers or {}
        self.after = after                     # run in a background thread once answered


# Like curl --resolve: {"ciu.example.org": "127.0.0.1:8123"} sends requests for that
# public origin to a local address (the Host header keeps the public name), so a test
# can give ciu a public URL before its port-0 listener exists. Set with control(resolve=).
RESOLVE = {}


def resolve(url, headers):
    """The URL to connect to and the headers (Host added when rewritten)."""
    u = urllib.parse.urlsplit(url)
    target = RESOLVE.get(u.netloc)
    if not target:
        return url, dict(headers or {})
    h = dict(headers or {})
    h["Host"] = u.netloc
    return urllib.parse.urlunsplit(("http", target, u.path, u.query, u.fragment)), h


def http_post(url, body, headers, timeout=15):
    """POST for callbacks/webhooks: (status, body text, error)."""
    url, headers = resolve(url, headers)
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(4096).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as e:
        return e.code, e.read(4096).decode("utf-8", "replace"), None
    except Exception as e:  # noqa: BLE001 - any failure is recorded, never raised
        return None, None, "%s: %s" % (type(e).__name__, e)


def http_fetch(url, limit, headers=None, timeout=15):
    """GET a media URL as the provider would: a record plus the bytes (or None)."""
    rec = {"url": url, "time": time.time(), "status": None, "content_type": None,
           "length": None, "sha256": None, "error": None}
    data = None
    url, headers = resolve(url, headers)
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            rec["status"] = r.status
            rec["content_type"] = r.headers.get("Content-Type")
            data = r.read(limit + 1)
    except urllib.error.HTTPError as e:
        rec["status"] = e.code
        rec["content_type"] = e.headers.get("Content-Type")
        rec["error"] = "HTTP %d %s" % (e.code, e.reason)
        e.read()
    except Exception as e:  # noqa: BLE001
        rec["error"] = "%s: %s" % (type(e).__name__, e)
    if data is not None:
        rec["length"] = len(data)
        rec["sha256"] = hashlib.sha256(data).hexdigest()
        if len(data) > limit:
            rec["error"] = "more than %d bytes" % limit
    return rec, data


def mime_of(content_type):
    return (content_type or "").split(";")[0].strip().lower()


def save_media(media_dir, name, content_type, data):
    if not media_dir or data is None:
        return None
    ext = {"image/png": ".png", "image/jpeg": ".jpg"}.get(mime_of(content_type), ".bin")
    path = os.path.join(media_dir, name + ext)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return path


def run_after(after):
    threading.Thread(target=after, daemon=True).start()


class FakeHandler(BaseHTTPRequestHandler):
    """Reads every request fully, serves /_* control paths, and hands the rest to
    api(method, call) in a subclass, which returns a Response."""

    protocol_version = "HTTP/1.1"
    server_version = "fake"
    sys_version = ""
    MAX_BODY = 1 << 20
    NAME = "fake"

    @property
    def state(self):
        return self.server.state

    def log_message(self, fmt, *args):
        if getattr(self, "url_path", "").startswith("/_"):
            return                      # the control API would drown the log
        sys.stderr.write("%s %s %s\n" % (self.NAME, time.strftime("%H:%M:%S"), fmt % args))

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline(100)
                try:
                    n = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise BodyError(400, "bad chunk size")
                if n == 0:
                    while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                if len(out) + n > self.MAX_BODY:
                    raise BodyError(413, "body larger than %d bytes" % self.MAX_BODY)
                out += self.rfile.read(n)
                self.rfile.readline(10)
        try:
            n = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise BodyError(400, "bad Content-Length")
        if n < 0:
            raise BodyError(400, "bad Content-Length")
        if n > self.MAX_BODY:
            raise BodyError(413, "body larger than %d bytes" % self.MAX_BODY)
        return self.rfile.read(n) if n else b""

    def send(self, status, body, content_type="application/json", headers=None):
        if not isinstance(body, (bytes, bytearray)):
            body = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self, method):
        self.t0 = time.time()
        u = urllib.parse.urlsplit(self.path)
        self.url_path = u.path
        self.query = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        try:
            self.body = self.read_body()
        except BodyError as e:
            self.close_connection = True
            self.send(e.status, {"error": str(e)})
            return
        if self.url_path.startswith("/_"):
            self.control_route(method)
            return
        call = {"time": self.t0, "method": method, "path": self.url_path,
                "query": {k: v[0] if len(v) == 1 else v for k, v in self.query.items()},
                "headers": dict(self.headers.items()), "kind": "other", "to": None,
                "body_bytes": len(self.body)}
        st = self.state
        with st.lock:
            st.in_flight += 1
        try:
            if st.sleep_ms(st.delay_ms):
                self.close_connection = True
                return
            with st.lock:
                down = st.down
            if down:
                resp = self.error_response(503, None, {})
            else:
                resp = self.api(method, call)
        finally:
            with st.lock:
                st.in_flight -= 1
        call["status"] = resp.status
        call["response_headers"] = dict(resp.headers)
        if isinstance(resp.body, (bytes, bytearray)):
            try:
                call["response"] = json.loads(resp.body.decode("utf-8"))
            except ValueError:
                call["response"] = resp.body[:2000].decode("utf-8", "replace")
        else:
            call["response"] = resp.body
        call["duration_ms"] = int((time.time() - self.t0) * 1000)
        st.record(call)
        self.send(resp.status, resp.body, resp.content_type, resp.headers)
        if resp.after is not None:
            run_after(resp.after)

    def fault_response(self, kind, to, call):
        """Apply the first matching scripted fault: a Response, or None to go on (none
        matched, or a delay-only fault). None also when the fake is stopping."""
        f = self.state.take_fault(kind, to)
        if f is None:
            return None
        call["fault"] = f
        if self.state.sleep_ms(f.get("delay_ms", 0)):
            return self.error_response(503, None, {})
        if "status" not in f and "code" not in f and "body" not in f:
            return None
        headers = {}
        if "retry_after" in f:
            headers["Retry-After"] = str(f["retry_after"])
        if "body" in f:
            return Response(f.get("status", 500), f["body"].encode("utf-8"),
                            f.get("content_type", "application/json"), headers)
        status = f.get("status") or self.status_for_code(f["code"])
        resp = self.error_response(status, f.get("code"), f)
        resp.headers.update(headers)
        return resp

    def control_route(self, method):
        p, st = self.url_path, self.state
        if p == "/_health" and method == "GET":
            self.send(200, {"ok": True})
        elif p == "/_calls" and method == "GET":
            try:
                since = int((self.query.get("since") or ["0"])[0])
            except ValueError:
                since = 0
            self.send(200, st.calls_json(since), "application/json; charset=utf-8")
        elif p == "/_control" and method == "GET":
            self.send(200, st.snapshot())
        elif p == "/_control" and method == "POST":
            try:
                doc = json.loads(self.body.decode("utf-8") or "{}")
                self.send(200, st.control(doc))
            except (ValueError, ControlError) as e:
                self.send(400, {"error": str(e)})
        elif p == "/_reset" and method == "POST":
            st.reset()
            self.send(200, {"ok": True})
        else:
            self.send(404, {"error": "unknown control path %s %s" % (method, p)})

    def deliver_statuses(self, order, cfg, post):
        """Send the configured statuses: post(item, attempt) -> HTTP status or None.
        In order, each after its delay_ms and only once the previous one is answered;
        or all at once with "parallel". A non-2xx answer is retried "retries" times,
        retry_ms apart."""
        st = self.state

        def one(item):
            if st.sleep_ms(item.get("delay_ms", 0)):
                return True
            for attempt in range(cfg["retries"] + 1):
                status = post(item, attempt)
                if status is not None and 200 <= status < 300:
                    break
                if attempt < cfg["retries"] and st.sleep_ms(cfg["retry_ms"]):
                    return True
            return st.stop.is_set()
        if cfg["parallel"]:
            threads = [threading.Thread(target=one, args=(item,), daemon=True)
                       for item in order]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            return
        for item in order:
            if one(item):
                return

    # subclasses
    def api(self, method, call):
        raise NotImplementedError

    def error_response(self, status, code, fault):
        raise NotImplementedError

    def status_for_code(self, code):
        return 400


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("http=%d\n" % port)
    os.replace(tmp, path)


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False      # else server_close() waits for idle keep-alive clients
    request_queue_size = 256    # a gateway opens many connections at once (listen backlog)


def serve(handler_cls, state, port_file, name):
    server = FakeServer(("127.0.0.1", 0), handler_cls)
    server.state = state
    done = threading.Event()

    def on_signal(signum, frame):
        done.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    write_port_file(port_file, port)
    sys.stderr.write("%s: listening on 127.0.0.1:%d\n" % (name, port))
    sys.stderr.flush()
    done.wait()
    state.stop.set()          # ends configured delays and background deliveries
    server.shutdown()
    server.server_close()
    sys.stderr.write("%s: stopped\n" % name)
    return 0


# ===========================================================================
# Twilio
# ===========================================================================

API_VERSION = "2010-04-01"
MESSAGES_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
MESSAGE_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages/([A-Za-z0-9]+)\.json$")
ACCOUNT_RE = re.compile(r"^/2010-04-01/Accounts/([^/]+)\.json$")
TYPING_PATH = "/v3/Indicators/Typing.json"
WA_NUMBER_RE = re.compile(r"^whatsapp:\+[0-9]{8,15}$")
WA_BSUID_RE = re.compile(r"^whatsapp:[A-Z]{2}\.[0-9A-Za-z]{1,64}$")
URL_RE = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MAX_BODY_CHARS = 1600
MAX_MEDIA = 10
IMAGE_LIMIT = 5 * 1024 * 1024
MEDIA_TOTAL_LIMIT = 16 * 1024 * 1024
# what WhatsApp-over-Twilio accepts at a MediaUrl (else 63021 in the status callback)
MEDIA_TYPES = {"image/jpeg", "image/jpg", "image/png", "audio/ogg", "audio/mpeg", "audio/amr",
               "audio/mp4", "audio/aac", "video/mp4", "video/3gpp", "application/pdf",
               "text/vcard", "text/x-vcard"}

TWILIO_MESSAGES = {
    20001: "Invalid parameter",
    20003: "Authenticate",
    20004: "Method not allowed",
    20404: "The requested resource %(path)s was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number: %(to)s",
    21212: "Invalid 'From' Phone Number: %(from)s",
    21408: "Permission to send an SMS has not been enabled for the region indicated by "
           "the 'To' number: %(to)s",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21609: "Invalid StatusCallback url",
    21610: "Attempt to send to unsubscribed recipient",
    21612: "The 'To' phone number: %(to)s, is not currently reachable using the 'From' "
           "phone number: %(from)s via WhatsApp.",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21620: "Invalid media URL(s)",
    21623: "Number of media files exceeds allowed limit",
    63007: "Twilio could not find a Channel with the specified From address",
    63016: "Failed to send freeform message because you are outside the allowed window. "
           "If you are using WhatsApp, please use a Message Template.",
    63017: "Rate limit exceeded",
    63018: "Rate limit exceeded for Channel",
    63038: "Account exceeded the daily messages limit",
}
CODE_STATUS = {20003: 401, 20004: 405, 20404: 404, 20429: 429, 20500: 500, 20503: 503}
STATUS_CODE = {401: 20003, 404: 20404, 405: 20004, 429: 20429, 500: 20500, 503: 20503}
DEFAULT_ERROR_CODE = {"failed": 30008, "undelivered": 30008}


def twilio_signature(url, params, token):
    """X-Twilio-Signature as the official SDKs compute it: the URL, then for each sorted
    parameter name its sorted, de-duplicated values as name+value; HMAC-SHA1, base64.
    params: list of (name, value) pairs or a dict."""
    pairs = list(params.items()) if isinstance(params, dict) else list(params or [])
    s = url
    for name in sorted(set(k for k, _ in pairs)):
        for value in sorted(set(v for k, v in pairs if k == name)):
            s += name + value
    mac = hmac.new(token.encode("utf-8"), s.encode("utf-8"), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def twilio_date(t):
    return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(t))


def twilio_error(status, code, path="", to="", from_="", message=None):
    msg = message or TWILIO_MESSAGES.get(code, "Error %d" % code)
    if "%(" in msg:
        msg = msg % {"path": path, "to": to, "from": from_}
    return {"code": code, "message": msg,
            "more_info": "https://www.twilio.com/docs/errors/%d" % code, "status": status}


class TwilioState(FakeState):
    PATHS = ("messages", "typing")
    STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed", "undelivered",
                "accepted", "scheduled", "canceled", "partially_delivered")
    STATUS_ITEM_KEYS = ("error_code", "params")
    SETTING_ALIASES = {"auth_token": "auth_token", "token": "auth_token",
                       "status_callback": "status_callback", "account_status": "account_status"}

    def __init__(self, settings, account_sid, number, media_dir):
        self.account_sid = account_sid
        self.number = number
        self.media_dir = media_dir
        self.install_sid = "XE" + secrets.token_hex(16)
        self.created = time.time()
        self.messages = {}             # sid -> resource (kept across /_reset)
        FakeState.__init__(self, settings)


class TwilioHandler(FakeHandler):
    NAME = "fake_twilio"

    # ---- errors -------------------------------------------------------------

    def status_for_code(self, code):
        return CODE_STATUS.get(code, 400)

    def error_response(self, status, code, fault, **kw):
        if code is None:
            code = STATUS_CODE.get(status, 20500 if status >= 500 else 20001)
        body = twilio_error(status, code, path=self.url_path,
                            message=(fault or {}).get("message"), **kw)
        if fault and fault.get("details"):
            body["details"] = fault["details"]
        headers = {"Twilio-Request-Id": "RQ" + secrets.token_hex(16)}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return Response(status, body, headers=headers)

    def authorized(self):
        auth = self.headers.get("Authorization") or ""
        if not auth.lower().startswith("basic "):
            return False
        try:
            user, _, pw = base64.b64decode(auth[6:].strip(), validate=True).decode(
                "utf-8").partition(":")
        except ValueError:
            return False
        token = self.state.setting("auth_token") or ""
        return (hmac.compare_digest(user.encode(), self.state.account_sid.encode())
                and hmac.compare_digest(pw.encode(), token.encode()))

    # ---- routes -------------------------------------------------------------

    def api(self, method, call):
        st = self.state
        m_list = MESSAGES_RE.match(self.url_path)
        m_one = MESSAGE_RE.match(self.url_path)
        m_account = ACCOUNT_RE.match(self.url_path)
        if m_account:
            call["kind"] = "account"
            if not self.authorized():
                return self.error_response(401, 20003, None)
            return self.account(method, m_account.group(1))
        if m_list:
            call["kind"] = "messages"
        elif m_one:
            call["kind"] = "fetch"
        elif self.url_path == TYPING_PATH:
            call["kind"] = "typing"
        else:
            return self.error_response(404, 20404, None)
        if not self.authorized():
            return self.error_response(401, 20003, None)
        if call["kind"] == "typing":
            return self.typing(method, call)
        sid = (m_list or m_one).group(1)
        if sid != st.account_sid:
            return self.error_response(404, 20404, None)
        if m_one:
            if method != "GET":
                return self.error_response(405, 20004, None)
            with st.lock:
                res = st.messages.get(m_one.group(2))
                res = json.loads(json.dumps(res)) if res else None
            if res is None:
                return self.error_response(404, 20404, None)
            return Response(200, res)
        if method != "POST":
            return self.error_response(405, 20004, None)
        return self.send_message(call)

    def account(self, method, sid):
        """The Account resource, as GET /2010-04-01/Accounts/{sid}.json answers it (the
        auth_token field is left out: nothing here needs it)."""
        st = self.state
        if method != "GET":
            return self.error_response(405, 20004, None)
        if sid != st.account_sid:
            return self.error_response(404, 20404, None)
        uri = "/2010-04-01/Accounts/%s" % sid
        return Response(200, {
            "sid": sid, "owner_account_sid": sid, "friendly_name": "ciu test account",
            "status": st.setting("account_status") or "active", "type": "Full",
            "date_created": twilio_date(st.created), "date_updated": twilio_date(st.created),
            "uri": uri + ".json",
            "subresource_uris": {"messages": uri + "/Messages.json",
                                 "balance": uri + "/Balance.json"}})

    def parse_form(self, call):
        ctype = mime_of(self.headers.get("Content-Type"))
        pairs = []
        if ctype == "application/x-www-form-urlencoded":
            try:
                pairs = urllib.parse.parse_qsl(self.body.decode("utf-8"), keep_blank_values=True)
            except UnicodeDecodeError:
                pairs = None
        form = {}
        for k, v in pairs or []:
            if k in form:
                form[k] = (form[k] if isinstance(form[k], list) else [form[k]]) + [v]
            else:
                form[k] = v
        call["form"] = form
        if ctype != "application/x-www-form-urlencoded":
            call["body_text"] = self.body[:2000].decode("utf-8", "replace")
        return pairs

    def typing(self, method, call):
        if method != "POST":
            return self.error_response(405, 20004, None)
        doc = None
        if mime_of(self.headers.get("Content-Type")) == "application/json":
            try:
                doc = json.loads(self.body.decode("utf-8"))
            except ValueError:
                doc = None
            call["json"] = doc
        else:
            pairs = self.parse_form(call) or []
            doc = dict(pairs)
        fault = self.fault_response("typing", None, call)
        if fault is not None:
            return fault
        if not isinstance(doc, dict) or str(doc.get("channel", "")).upper() != "WHATSAPP" \
                or not re.match(r"^(SM|MM)[0-9a-f]{32}$", str(doc.get("messageId", ""))):
            return self.error_response(400, 20001, {
                "message": "Invalid parameter: want channel WHATSAPP and messageId SM..."})
        return Response(200, {"success": True})

    def send_message(self, call):
        st = self.state
        pairs = self.parse_form(call)
        if pairs is None:
            return self.error_response(400, 20001, {"message": "Body is not UTF-8"})
        form = {}
        media = []
        for k, v in pairs:
            if k == "MediaUrl":
                media.append(v)
            else:
                form[k] = v
        to = form.get("To", "")
        from_ = form.get("From")
        call["to"] = norm_to(to) or None
        fault = self.fault_response("messages", to, call)
        if fault is not None:
            return fault

        def err(code, message=None):
            return self.error_response(400, code, {"message": message} if message else None,
                                       to=to, from_=from_ or "")
        mg = form.get("MessagingServiceSid")
        if not to:
            return err(21604)
        if not (WA_NUMBER_RE.match(to) or WA_BSUID_RE.match(to)):
            return err(21211)
        if from_ is None or from_ == "":
            if not mg:
                return err(21603)
            if not re.match(r"^MG[0-9a-fA-F]{32}$", mg):
                return err(20001, message="Invalid MessagingServiceSid")
            from_ = "whatsapp:" + st.number
        elif not WA_NUMBER_RE.match(from_):
            return err(21212)
        elif from_ != "whatsapp:" + st.number:
            return err(63007)
        body = form.get("Body", "")
        if not body and not media and not form.get("ContentSid"):
            return err(21602)
        if len(body) > MAX_BODY_CHARS:
            return err(21617)
        if len(media) > MAX_MEDIA:
            return err(21623)
        if any(not URL_RE.match(u) for u in media):
            return err(21620)
        callback = form.get("StatusCallback") or st.setting("status_callback")
        if callback and not URL_RE.match(callback):
            return err(21609)
        t = time.time()
        if st.admit(to, t) == "mps":
            return self.error_response(429, 20429, None)
        sid = "SM" + secrets.token_hex(16)
        uri = "/2010-04-01/Accounts/%s/Messages/%s.json" % (st.account_sid, sid)
        res = {
            "sid": sid, "account_sid": st.account_sid, "api_version": API_VERSION,
            "to": to, "from": from_, "messaging_service_sid": mg or None, "body": body,
            "status": "accepted" if mg and not form.get("From") else "queued",
            "num_segments": "1", "num_media": str(len(media)), "direction": "outbound-api",
            "price": None, "price_unit": "USD", "error_code": None, "error_message": None,
            "date_created": twilio_date(t), "date_updated": twilio_date(t), "date_sent": None,
            "uri": uri,
            "subresource_uris": {"media": uri[:-5] + "/Media.json",
                                 "feedback": uri[:-5] + "/Feedback.json"},
        }
        with st.lock:
            st.messages[sid] = res
        call["sid"] = sid
        call["media"], call["callbacks"] = [], []
        reply = json.loads(json.dumps(res))
        return Response(201, reply, headers={"Twilio-Request-Id": "RQ" + secrets.token_hex(16)},
                        after=lambda: self.deliver(call, res, media, callback))

    # ---- after the answer: media fetch, then status callbacks ------------------

    def deliver(self, call, res, media, callback):
        try:
            self._deliver(call, res, media, callback)
        finally:
            self.state.finish(call)

    def _deliver(self, call, res, media, callback):
        st = self.state
        failure = None
        total = 0
        for i, url in enumerate(media):
            rec, data = http_fetch(url, MEDIA_TOTAL_LIMIT, {"User-Agent": "TwilioProxy/1.1"})
            ctype = mime_of(rec["content_type"])
            code = None
            if rec["error"] or not rec["status"] or rec["status"] >= 400 or not data:
                code = 63019
            elif ctype not in MEDIA_TYPES:
                code = 63021
            elif (ctype.startswith("image/") and len(data) > IMAGE_LIMIT) \
                    or total + len(data) > MEDIA_TOTAL_LIMIT:
                code = 63034
            total += len(data or b"")
            if code is None:
                name = res["sid"] if i == 0 else "%s-%d" % (res["sid"], i)
                rec["saved_as"] = save_media(st.media_dir, name, ctype, data)
            else:
                rec["error_code"] = code
                failure = failure or code
            st.attach(call, "media", rec)
            if st.stop.is_set():
                return
        if not callback:
            return
        order, cfg = st.order_for(res["to"])
        if failure:
            order = [{"status": "failed", "error_code": failure, "delay_ms": 0}]
        callback = urllib.parse.urldefrag(callback)[0]    # #rc=... overrides are never sent
        self.deliver_statuses(order, cfg, lambda item, attempt: self.callback(
            call, res, callback, item, attempt))

    def callback(self, call, res, url, item, attempt):
        """POST one signed status callback; returns the HTTP status (None on error)."""
        st = self.state
        status = item["status"]
        params = [("AccountSid", st.account_sid), ("ApiVersion", API_VERSION),
                  ("ChannelInstallSid", st.install_sid), ("ChannelPrefix", "whatsapp"),
                  ("ChannelToAddress", res["to"][len("whatsapp:"):]), ("From", res["from"]),
                  ("MessageSid", res["sid"]), ("MessageStatus", status),
                  ("SmsSid", res["sid"]), ("SmsStatus", status),
                  ("StructuredMessage", "false"), ("To", res["to"])]
        code = item.get("error_code", DEFAULT_ERROR_CODE.get(status))
        if code is not None:
            params.append(("ErrorCode", str(code)))
        for k, v in (item.get("params") or {}).items():
            params.append((k, str(v)))
        body = urllib.parse.urlencode(params).encode("ascii")
        sig = twilio_signature(url, params, st.setting("auth_token") or "")
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "X-Twilio-Signature": sig, "User-Agent": "TwilioProxy/1.1",
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        t = time.time()
        http_status, text, error = http_post(url, body, headers)
        st.attach(call, "callbacks", {
            "status": status, "url": url, "params": dict(params), "signature": sig,
            "attempt": attempt, "time": t, "http_status": http_status,
            "response": text, "error": error})
        with st.lock:
            res["status"] = status
            if code is not None:
                res["error_code"] = int(code)
        return http_status


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--account-sid", required=True)
    ap.add_argument("--auth-token", required=True)
    ap.add_argument("--number", required=True, help="WhatsApp sender, +E.164")
    ap.add_argument("--media-dir")
    a = ap.parse_args(argv)
    if not re.match(r"^\+[0-9]{8,15}$", a.number):
        ap.error("--number must be +<8-15 digits>")
    if a.media_dir:
        os.makedirs(a.media_dir, exist_ok=True)
    state = TwilioState({"auth_token": a.auth_token, "status_callback": None,
                         "account_status": "active"},
                        a.account_sid, a.number, a.media_dir)
    return serve(TwilioHandler, state, a.port_file, "fake_twilio")


if __name__ == "__main__":
    sys.exit(main())
