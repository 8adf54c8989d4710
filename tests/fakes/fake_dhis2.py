#!/usr/bin/env python3
"""A fake DHIS2 Tracker server for the ciu tests (Python 3 standard library only).

It behaves as ../../../shared/reference/dhis2.md (and docs/dhis2.md) describe,
in the dialect of the version it announces (--version, 2.38 .. 2.43):

- auth: `Authorization: ApiToken <token>` or Basic; 401 otherwise (/api/ping
  is open); /api/system/info, /api/me;
- metadata for `ciu-admin dhis2 check`: trackedEntityTypes, programs,
  trackedEntityAttributes, organisationUnits (Sierra Leone demo UIDs);
- GET /api/tracker/trackedEntities: exactly one of program/trackedEntityType
  (409 up to 2.40, 400 from 2.41), org unit parameters per version (orgUnit +
  ouMode up to 2.40; either set in 2.41, both = 400; orgUnits + orgUnitMode
  from 2.42), eq/in/like filters compared case-insensitively, paging, the
  `instances` (<= 2.40) or `trackedEntities` envelope, enrollments only when
  asked for in `fields`;
- POST /api/tracker: async by default (a job, report 404 until done);
  async=false answers the ImportReport, 200 for OK, 409 for ERROR;
  atomicMode ALL (all or nothing) or OBJECT (per-object errors, HTTP 200);
  importStrategy CREATE / UPDATE / CREATE_AND_UPDATE; E1064 uniqueness
  (exact equality, the entity's own value excluded, duplicates inside one
  payload caught), E1000 org unit outside the user's capture scope, E1002 /
  E1080 / E1063 / E1081, E1041, E1048 (<= 2.41) or 400 (>= 2.42) for a bad
  UID, E5000 for a child of a refused object, potentialDuplicate copied;
- /api/potentialDuplicates: POST (409 for a pair already marked), GET, PUT
  ?status=, POST /{id}/merge (AUTO; 403 without F_TRACKED_ENTITY_MERGE;
  409 when both are enrolled in the same program).

Control endpoints (no auth) for tests:
  GET  /_fake/state            everything it holds, and counters
  POST /_fake/config           {"version", "token", "user", "password",
                                "delay_ms", "ciu_unique", "authorities": [...]}
  POST /_fake/fault            {"status": 503, "count": N (-1: until cleared),
                                "path": "/api/", "method": "POST", "body": "...",
                                "delay_ms": N}
  POST /_fake/fault/clear
  POST /_fake/hold             {"path": "/api/tracker", "count": 1}: such a request
                                is processed (committed), then its answer is held
  POST /_fake/release          answer the held requests
  POST /_fake/entity           {"trackedEntity", "orgUnit", "attributes": {uid: value},
                                "enrolled": bool}: put a person straight into the database
  POST /_fake/reset            forget all data (not the configuration)

Usage: fake_dhis2.py [--port 0] [--port-file FILE] [--version 2.42.0]
                     [--token TOKEN] [--user U --password P] [--delay-ms N]
"""
import argparse
import base64
import copy
import datetime
import json
import os
import random
import re
import string
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
ALNUM = string.ascii_letters + string.digits

# Sierra Leone demo metadata (reference/dhis2.md, 2026 additions).
TET = "nEenWmSyUEp"
PROGRAM = "IpHINAT79UW"
CIU_ATTR = "lZGmxYbs97q"
GENDER_ATTR = "cejWyOfXge6"
BIRTH_ATTR = "yBirthDig01"
FIRST_NAME = "w75KJ2mc4zz"
ROOT = "ImspTQPwCqd"       # Sierra Leone
BO = "O6uvpzGd5pu"         # Bo (capture scope of the user)
NGELEHUN = "DiszpKrYNg8"   # Ngelehun CHC, under Bo, in the program
BADJIA = "YuQRtpLP10I"     # Badjia, under Bo, not in the program (E1041)
BOMBALI = "fdc6uOvgoji"    # Bombali: outside the user's capture scope (E1000)
OTHER_TET = "bVkFYAvoUCP"  # a second type (E1022)


def now_local():
    return datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def new_uid():
    return random.choice(string.ascii_letters) + "".join(random.choice(ALNUM) for _ in range(10))


class Fake:
    def __init__(self, version, token, user, password, delay_ms):
        self.lock = threading.RLock()
        self.version = version
        self.token = token
        self.user = user
        self.password = password
        self.delay_ms = delay_ms
        self.authorities = ["F_TRACKED_ENTITY_INSTANCE_ADD", "F_TRACKED_ENTITY_MERGE"]
        self.ciu_unique = True
        self.faults = []
        self.holds = []          # [{"path", "count"}]
        self.held = 0
        self.release_event = threading.Event()
        self.reset()
        self.org_units = {
            ROOT: {"name": "Sierra Leone", "path": "/" + ROOT},
            BO: {"name": "Bo", "path": "/%s/%s" % (ROOT, BO)},
            NGELEHUN: {"name": "Ngelehun CHC", "path": "/%s/%s/%s" % (ROOT, BO, NGELEHUN)},
            BADJIA: {"name": "Badjia", "path": "/%s/%s/%s" % (ROOT, BO, BADJIA)},
            BOMBALI: {"name": "Bombali", "path": "/%s/%s" % (ROOT, BOMBALI)},
        }
        self.capture = [BO]
        self.program_org_units = [NGELEHUN, BO, BOMBALI]

    def reset(self):
        self.tes = {}            # uid -> tracked entity
        self.enrollments = {}    # uid -> enrollment
        self.duplicates = {}     # id -> potential duplicate
        self.jobs = {}           # id -> {"done": bool, "report": {...}}
        self.counts = {"requests": 0, "searches": 0, "imports": 0, "unauthorized": 0,
                       "faults": 0, "duplicates_posted": 0, "merges": 0}
        self.log = []

    # ---- version dialect ---------------------------------------------------

    @property
    def minor(self):
        m = re.match(r"^2\.(\d+)", self.version)
        return int(m.group(1)) if m else 43

    # ---- metadata ----------------------------------------------------------

    def attributes(self):
        return {
            CIU_ATTR: {"id": CIU_ATTR, "name": "CIU", "valueType": "TEXT",
                       "unique": self.ciu_unique, "orgunitScope": False, "generated": False},
            GENDER_ATTR: {"id": GENDER_ATTR, "name": "Gender", "valueType": "TEXT",
                          "unique": False, "optionSet": {"id": "pC3N9N77UmT"}},
            BIRTH_ATTR: {"id": BIRTH_ATTR, "name": "Birth year digit", "valueType": "TEXT",
                         "unique": False},
            FIRST_NAME: {"id": FIRST_NAME, "name": "First name", "valueType": "TEXT",
                         "unique": False},
        }

    def tet_attrs(self):
        return [CIU_ATTR, GENDER_ATTR, BIRTH_ATTR, FIRST_NAME]

    def in_capture(self, ou):
        parts = self.org_units.get(ou, {}).get("path", "").split("/")
        return any(c in parts for c in self.capture)

    def descendants(self, roots):
        out = set()
        for ou, meta in self.org_units.items():
            parts = meta["path"].split("/")
            if any(r in parts for r in roots):
                out.add(ou)
        return out


def error_text(fake, text):
    # 2.42 added the trailing period to validation messages.
    return text + ("." if fake.minor >= 42 else "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-dhis2"

    def log_message(self, fmt, *args):  # quiet
        pass

    # ---- plumbing ------------------------------------------------------------

    @property
    def fake(self):
        return self.server.fake

    def send(self, status, obj=None, raw=None, ctype="application/json", headers=None):
        body = raw if raw is not None else (json.dumps(obj).encode() if obj is not None else b"")
        if self.path.startswith("/api/"):
            self.hold_if_asked(self.path.split("?")[0])
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass
        if self.path.startswith("/api/"):  # what DHIS2 would have seen
            with self.fake.lock:
                self.fake.log.append({"method": self.command, "path": self.path.split("?")[0],
                                      "status": status})
                del self.fake.log[:-5000]

    def web_message(self, status, message, error_code=None):
        names = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                 404: "Not Found", 409: "Conflict", 415: "Unsupported Media Type"}
        m = {"httpStatus": names.get(status, "Error"), "httpStatusCode": status,
             "status": "ERROR" if status >= 400 else "OK", "message": message}
        if error_code:
            m["errorCode"] = error_code
        self.send(status, m)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def authorized(self):
        f = self.fake
        h = self.headers.get("Authorization", "")
        scheme, _, cred = h.partition(" ")
        if scheme.lower() == "apitoken" and f.token and cred.strip() == f.token:
            return True
        if scheme.lower() == "basic" and f.user:
            try:
                u, _, p = base64.b64decode(cred.strip()).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return u == f.user and p == f.password
        return False

    def fault(self, path):
        with self.fake.lock:
            for ft in self.fake.faults:
                if not path.startswith(ft.get("path", "/api/")):
                    continue
                if ft.get("method") and ft["method"] != self.command:
                    continue
                if ft.get("count", -1) == 0:
                    continue
                if ft.get("count", -1) > 0:
                    ft["count"] -= 1
                self.fake.counts["faults"] += 1
                return dict(ft)
        return None

    def dispatch(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        q = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = self.read_body() if self.command in ("POST", "PUT") else b""
        if path.startswith("/_fake/"):
            return self.control(path, body)
        with self.fake.lock:
            self.fake.counts["requests"] += 1
            delay = self.fake.delay_ms
        if delay:
            time.sleep(delay / 1000.0)
        ft = self.fault(path)
        if ft:
            if ft.get("delay_ms"):
                time.sleep(ft["delay_ms"] / 1000.0)
            st = int(ft.get("status", 503))
            if st == 0:  # close the connection without an answer
                self.close_connection = True
                return
            raw = (ft.get("body") or "<html><body><h1>%d</h1>nginx</body></html>" % st).encode()
            return self.send(st, raw=raw, ctype="text/html")
        if path == "/api/ping":
            return self.send(200, raw=b"")
        if not self.authorized():
            with self.fake.lock:
                self.fake.counts["unauthorized"] += 1
            return self.send(401, {"httpStatus": "Unauthorized", "httpStatusCode": 401,
                                   "status": "ERROR",
                                   "message": "Unauthorized"},
                             headers={"WWW-Authenticate": 'ApiToken realm="DHIS2"'})
        routes = [
            ("GET", r"/api/system/info$", self.system_info),
            ("GET", r"/api/system/ping$", lambda q, b: self.send(200, raw=b'"pong"')),
            ("GET", r"/api/me$", self.me),
            ("GET", r"/api/trackedEntityTypes/([^/]+)$", self.get_tet),
            ("GET", r"/api/programs/([^/]+)$", self.get_program),
            ("GET", r"/api/trackedEntityAttributes/([^/]+)$", self.get_attribute),
            ("GET", r"/api/organisationUnits/([^/]+)$", self.get_org_unit),
            ("GET", r"/api/tracker/trackedEntities$", self.search),
            ("GET", r"/api/tracker/trackedEntities/([^/]+)$", self.get_te),
            ("GET", r"/api/trackedEntityInstances$", self.old_search),
            ("POST", r"/api/tracker$", self.tracker_import),
            ("GET", r"/api/tracker/jobs/([^/]+)$", self.job),
            ("GET", r"/api/tracker/jobs/([^/]+)/report$", self.job_report),
            ("GET", r"/api/potentialDuplicates$", self.list_duplicates),
            ("POST", r"/api/potentialDuplicates$", self.post_duplicate),
            ("GET", r"/api/potentialDuplicates/([^/]+)$", self.get_duplicate),
            ("PUT", r"/api/potentialDuplicates/([^/]+)$", self.put_duplicate),
            ("POST", r"/api/potentialDuplicates/([^/]+)/merge$", self.merge_duplicate),
        ]
        for method, pattern, fn in routes:
            m = re.match(pattern, path)
            if m and method == self.command:
                return fn(q, body, *m.groups())
        return self.web_message(404, "Not found: %s %s" % (self.command, path))

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    # ---- control ---------------------------------------------------------------

    def control(self, path, body):
        f = self.fake
        data = json.loads(body or b"{}") if body else {}
        with f.lock:
            if path == "/_fake/state":
                state = {"version": f.version, "trackedEntities": list(f.tes.values()),
                         "enrollments": list(f.enrollments.values()),
                         "potentialDuplicates": list(f.duplicates.values()),
                         "counts": dict(f.counts), "held": f.held,
                         "log": f.log}
                state = copy.deepcopy(state)
            elif path == "/_fake/config":
                for k in ("version", "token", "user", "password", "delay_ms", "ciu_unique",
                          "authorities", "program_org_units", "capture"):
                    if k in data:
                        setattr(f, k, data[k])
                state = {"ok": True}
            elif path == "/_fake/fault":
                f.faults.append(data)
                state = {"ok": True}
            elif path == "/_fake/fault/clear":
                f.faults = []
                state = {"ok": True}
            elif path == "/_fake/hold":
                h = {"path": data.get("path", "/api/tracker"), "count": int(data.get("count", 1)),
                     "exact": bool(data.get("exact", True))}
                if data.get("method"):
                    h["method"] = data["method"]
                f.holds.append(h)
                f.release_event.clear()
                state = {"ok": True}
            elif path == "/_fake/release":
                f.holds = []
                f.release_event.set()
                state = {"ok": True}
            elif path == "/_fake/entity":
                # a tracked entity put straight into the database (anywhere, any value)
                uid = data.get("trackedEntity") or new_uid()
                now = now_local()
                f.tes[uid] = {"trackedEntity": uid, "trackedEntityType": data.get(
                    "trackedEntityType", TET), "orgUnit": data.get("orgUnit", NGELEHUN),
                    "attributes": dict(data.get("attributes", {})), "createdAt": now,
                    "updatedAt": now, "inactive": False, "potentialDuplicate": False,
                    "geometry": None}
                if data.get("enrolled"):
                    e = new_uid()
                    f.enrollments[e] = {"enrollment": e, "trackedEntity": uid,
                                        "program": PROGRAM, "orgUnit": f.tes[uid]["orgUnit"],
                                        "status": "ACTIVE", "enrolledAt": now[:10],
                                        "createdAt": now}
                state = {"trackedEntity": uid}
            elif path == "/_fake/reset":
                f.reset()
                state = {"ok": True}
            else:
                state = None
        if state is None:
            return self.send(404, {"error": "unknown control path"})
        return self.send(200, state)

    def hold_if_asked(self, path):
        f = self.fake
        with f.lock:
            h = next((h for h in f.holds if h["count"] > 0 and
                      (path == h["path"] if h.get("exact", True) else path.startswith(h["path"])) and
                      h.get("method", self.command) == self.command), None)
            if h is None:
                return
            h["count"] -= 1
            f.held += 1
        f.release_event.wait(120)
        with f.lock:
            f.held -= 1

    # ---- system ------------------------------------------------------------------

    def system_info(self, q, body):
        self.send(200, {"version": self.fake.version, "revision": "f4k3d0e",
                        "buildTime": "2026-01-01T00:00:00.000", "serverDate": now_local(),
                        "serverTimeZoneId": "Africa/Kinshasa", "contextPath":
                        "http://%s:%d" % self.server.server_address[:2],
                        "systemName": "fake DHIS2", "calendar": "iso8601",
                        "dateFormat": "yyyy-mm-dd"})

    def me(self, q, body):
        f = self.fake
        self.send(200, {"id": "xE7jOejl9FI", "username": f.user or "token-user",
                        "firstName": "API", "surname": "User", "authorities": f.authorities,
                        "organisationUnits": [{"id": o} for o in f.capture],
                        "teiSearchOrganisationUnits": [{"id": o} for o in f.capture],
                        "dataViewOrganisationUnits": [{"id": o} for o in f.capture],
                        "programs": [PROGRAM]})

    def get_tet(self, q, body, uid):
        if uid != TET:
            return self.web_message(404, "TrackedEntityType with id %s could not be found." % uid)
        self.send(200, {"id": TET, "name": "Person", "trackedEntityTypeAttributes": [
            {"trackedEntityAttribute": {"id": a}} for a in self.fake.tet_attrs()]})

    def get_program(self, q, body, uid):
        if uid != PROGRAM:
            return self.web_message(404, "Program with id %s could not be found." % uid)
        self.send(200, {"id": PROGRAM, "name": "Child Programme",
                        "programType": "WITH_REGISTRATION",
                        "trackedEntityType": {"id": TET},
                        "organisationUnits": [{"id": o} for o in self.fake.program_org_units],
                        "programTrackedEntityAttributes": [
                            {"trackedEntityAttribute": {"id": a}, "mandatory": False}
                            for a in (CIU_ATTR, GENDER_ATTR)]})

    def get_attribute(self, q, body, uid):
        a = self.fake.attributes().get(uid)
        if a is None:
            return self.web_message(404, "TrackedEntityAttribute with id %s could not be found."
                                    % uid)
        self.send(200, a)

    def get_org_unit(self, q, body, uid):
        ou = self.fake.org_units.get(uid)
        if ou is None:
            return self.web_message(404, "OrganisationUnit with id %s could not be found." % uid)
        self.send(200, {"id": uid, "name": ou["name"], "path": ou["path"]})

    # ---- search ------------------------------------------------------------------

    def te_view(self, te, with_enrollments):
        f = self.fake
        attrs = f.attributes()
        out = {"trackedEntity": te["trackedEntity"], "trackedEntityType": te["trackedEntityType"],
               "orgUnit": te["orgUnit"], "createdAt": te["createdAt"],
               "updatedAt": te["updatedAt"], "inactive": te.get("inactive", False),
               "deleted": False, "potentialDuplicate": te.get("potentialDuplicate", False),
               "attributes": [{"attribute": a, "displayName": attrs.get(a, {}).get("name", a),
                               "valueType": "TEXT", "value": v, "createdAt": te["createdAt"],
                               "updatedAt": te["updatedAt"]}
                              for a, v in te["attributes"].items()]}
        if te.get("geometry"):
            out["geometry"] = te["geometry"]
        if with_enrollments:
            out["enrollments"] = [
                {"enrollment": e["enrollment"], "program": e["program"], "status": e["status"],
                 "orgUnit": e["orgUnit"], "enrolledAt": e["enrolledAt"],
                 "trackedEntity": e["trackedEntity"], "deleted": False}
                for e in f.enrollments.values() if e["trackedEntity"] == te["trackedEntity"]]
        return out

    def bad_query(self, message):
        status = 409 if self.fake.minor <= 40 else 400
        return self.web_message(status, message)

    def search(self, q, body):
        f = self.fake
        one = lambda k: q.get(k, [None])[-1]  # noqa: E731
        program, tet = one("program"), one("trackedEntityType")
        with f.lock:
            f.counts["searches"] += 1
        if bool(program) == bool(tet) and not one("trackedEntities"):
            if f.minor <= 40:
                return self.bad_query("Either Program or Tracked entity type should be specified")
            return self.bad_query("Either `program`, `trackedEntityType` or `trackedEntities` "
                                  "should be specified")
        if tet and tet not in (TET, OTHER_TET):
            return self.bad_query("Tracked entity type is specified but does not exist: " + tet)
        if program and program != PROGRAM:
            return self.bad_query("Program is specified but does not exist: " + program)
        # org units, per version
        old_ou, old_mode = one("orgUnit"), one("ouMode")
        new_ou, new_mode = one("orgUnits"), one("orgUnitMode")
        if f.minor <= 40:
            ous = [o for o in (old_ou or "").split(";") if o]
            mode = (old_mode or "SELECTED").upper()
        elif f.minor == 41:
            if (old_ou or old_mode) and (new_ou or new_mode):
                return self.bad_query("Only one parameter of 'orgUnit' and 'orgUnits' or "
                                      "'ouMode' and 'orgUnitMode' must be specified. Prefer "
                                      "'orgUnits' and 'orgUnitMode' as the others will be "
                                      "removed.")
            ous = [o for o in (new_ou or "").split(",") if o] or \
                [o for o in (old_ou or "").split(";") if o]
            mode = (new_mode or old_mode or ("SELECTED" if ous else "ACCESSIBLE")).upper()
        else:
            ous = [o for o in (new_ou or "").split(",") if o]
            mode = (new_mode or ("SELECTED" if ous else "ACCESSIBLE")).upper()
        if f.minor <= 40 and not ous and mode not in ("ACCESSIBLE", "CAPTURE", "ALL"):
            return self.bad_query("At least one organisation unit must be specified")
        if f.minor >= 41 and ous and mode in ("ACCESSIBLE", "CAPTURE", "ALL"):
            return self.bad_query("orgUnitMode %s cannot be used with orgUnits. Please remove "
                                  "the orgUnits parameter and try again." % mode)
        if mode in ("ACCESSIBLE", "CAPTURE"):
            scope = f.descendants(f.capture)
        elif mode == "ALL":
            scope = set(f.org_units)
        elif mode == "DESCENDANTS":
            scope = f.descendants(ous)
        elif mode == "CHILDREN":
            scope = set(ous) | {o for o, m in f.org_units.items()
                                if m["path"].split("/")[-2:-1] and m["path"].split("/")[-2] in ous}
        else:
            scope = set(ous)
        # filters: ATTR:OP:VALUE[,ATTR:OP:VALUE]
        filters = []
        for raw in q.get("filter", []):
            for part in raw.split(","):
                bits = part.split(":", 2)
                if len(bits) != 3:
                    return self.bad_query("Query item or filter is invalid: " + part)
                attr, op, value = bits
                if op.lower() not in ("eq", "in", "like", "sw", "ieq"):
                    return self.bad_query("Query operator is not supported: " + op)
                value = value.replace("/:", ":").replace("/,", ",")
                filters.append((attr, op.lower(), value, {x.lower() for x in value.split(";")}))
        fields = one("fields") or ""
        with_enr = "enrollments" in fields
        with f.lock:
            found = []
            for te in sorted(f.tes.values(), key=lambda t: t["createdAt"]):
                if tet and te["trackedEntityType"] != tet:
                    continue
                if te["orgUnit"] not in scope:
                    continue
                if program and not any(e["trackedEntity"] == te["trackedEntity"] and
                                       e["program"] == program
                                       for e in f.enrollments.values()):
                    continue
                ok = True
                for attr, op, value, values in filters:
                    v = te["attributes"].get(attr)
                    if v is None:
                        ok = False
                        break
                    lv = v.lower()
                    if op in ("eq", "ieq"):
                        ok = lv == value.lower()
                    elif op == "in":
                        ok = lv in values
                    elif op == "like":
                        ok = value.lower() in lv
                    elif op == "sw":
                        ok = lv.startswith(value.lower())
                    if not ok:
                        break
                if ok:
                    found.append(self.te_view(te, with_enr))
        try:
            page = max(1, int(one("page") or 1))
            size = max(1, int(one("pageSize") or 50))
        except ValueError:
            return self.bad_query("page and pageSize must be numbers")
        items = found[(page - 1) * size: page * size]
        totals = (one("totalPages") or "false") == "true"
        if f.minor <= 40:
            doc = {"instances": items, "page": page, "pageSize": size}
            if totals:
                doc.update({"total": len(found), "pageCount": (len(found) + size - 1) // size})
        else:
            pager = {"page": page, "pageSize": size}
            if totals:
                pager.update({"total": len(found), "pageCount": (len(found) + size - 1) // size})
            doc = {"pager": pager, "trackedEntities": items}
            if f.minor == 41:
                doc.update({k: v for k, v in pager.items()})
        self.send(200, doc)

    def get_te(self, q, body, uid):
        f = self.fake
        with f.lock:
            te = f.tes.get(uid)
            if te is None or not f.in_capture(te["orgUnit"]):
                view = None
            else:
                view = self.te_view(te, "enrollments" in (q.get("fields", [""])[-1]))
        if view is None:
            return self.web_message(404, "TrackedEntity with id %s could not be found." % uid)
        self.send(200, view)

    def old_search(self, q, body):
        f = self.fake
        if f.minor >= 42:
            return self.web_message(404, "Not found: GET /api/trackedEntityInstances")
        filters = q.get("filter", [])
        out = []
        with f.lock:
            for te in f.tes.values():
                ok = True
                for part in filters:
                    attr, op, value = (part.split(":", 2) + ["", ""])[:3]
                    if te["attributes"].get(attr, "").lower() != value.lower():
                        ok = False
                if ok:
                    out.append({"trackedEntityInstance": te["trackedEntity"],
                                "trackedEntityType": te["trackedEntityType"],
                                "orgUnit": te["orgUnit"], "created": te["createdAt"],
                                "lastUpdated": te["updatedAt"],
                                "attributes": [{"attribute": a, "value": v}
                                               for a, v in te["attributes"].items()]})
        self.send(200, {"trackedEntityInstances": out})

    # ---- import --------------------------------------------------------------------

    def tracker_import(self, q, body):
        f = self.fake
        one = lambda k, d=None: q.get(k, [d])[-1]  # noqa: E731
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype != "application/json":
            return self.web_message(415, "Content type '%s' not supported" % ctype)
        try:
            payload = json.loads(body or b"{}")
        except ValueError as e:
            return self.web_message(400, "Invalid JSON: %s" % e)
        strategy = (one("importStrategy") or "CREATE_AND_UPDATE").upper()
        atomic = (one("atomicMode") or "ALL").upper()
        commit = (one("importMode") or "COMMIT").upper() == "COMMIT"
        is_async = (one("async") or "true").lower() != "false"
        if f.minor >= 42:
            for te in payload.get("trackedEntities", []):
                for uid in [te.get("trackedEntity")] + [e.get("enrollment")
                                                        for e in te.get("enrollments", [])]:
                    if uid is not None and not UID_RE.match(uid):
                        return self.web_message(400, "Invalid UID `%s`" % uid)
        with f.lock:
            f.counts["imports"] += 1
            report = self.do_import(payload, strategy, atomic, commit)
        if is_async:
            job = new_uid()
            with f.lock:
                f.jobs[job] = {"done": False, "report": report}

            def finish():
                time.sleep(0.05)
                with f.lock:
                    f.jobs[job]["done"] = True
            threading.Thread(target=finish, daemon=True).start()
            return self.send(200, {"httpStatus": "OK", "httpStatusCode": 200, "status": "OK",
                                   "message": "Tracker job added",
                                   "response": {"id": job, "location":
                                                "http://%s:%d/api/tracker/jobs/%s" % (
                                                    self.server.server_address[:2] + (job,))}})
        self.send(409 if report["status"] == "ERROR" else 200, report)

    def do_import(self, payload, strategy, atomic, commit):
        """Validate and (maybe) commit. Called with the lock held. Returns the report."""
        f = self.fake
        minor = f.minor
        errors = []
        now = now_local()

        def err(code, ttype, uid, message, args):
            e = {"message": error_text(f, message), "errorCode": code, "trackerType": ttype,
                 "uid": uid}
            if minor >= 41:
                e["args"] = args
            errors.append(e)

        tes_in = []
        enrs_in = []
        for te in payload.get("trackedEntities", []):
            te = dict(te)
            if not te.get("trackedEntity"):
                te["trackedEntity"] = new_uid()
            tes_in.append(te)
            for e in te.get("enrollments", []):
                e = dict(e)
                e.setdefault("trackedEntity", te["trackedEntity"])
                if not e.get("enrollment"):
                    e["enrollment"] = new_uid()
                enrs_in.append(e)
        for e in payload.get("enrollments", []):
            e = dict(e)
            if not e.get("enrollment"):
                e["enrollment"] = new_uid()
            enrs_in.append(e)
        total = len(tes_in) + len(enrs_in)
        attrs = f.attributes()

        bad_te = set()
        seen_unique = {}  # (attr, value) -> te uid, within the payload
        stored = {}       # (attr, value) -> te uids holding it, unique attributes only
        unique_attrs = {a for a, m in attrs.items() if m.get("unique")}
        for o in f.tes.values():
            for a in unique_attrs & set(o["attributes"]):
                stored.setdefault((a, o["attributes"][a]), set()).add(o["trackedEntity"])
        for te in tes_in:
            uid = te["trackedEntity"]
            n0 = len(errors)
            if not UID_RE.match(uid):
                err("E1048", "TRACKED_ENTITY", uid, "Object: `%s`, uid: `%s`, has an invalid uid "
                    "format" % ("TrackedEntity", uid), [uid])
            exists = uid in f.tes
            if strategy == "CREATE" and exists:
                err("E1002", "TRACKED_ENTITY", uid, "TrackedEntity: `%s`, already exists" % uid,
                    [uid])
            if strategy == "UPDATE" and not exists:
                err("E1063", "TRACKED_ENTITY", uid, "TrackedEntity: `%s`, does not exist" % uid,
                    [uid])
            if te.get("trackedEntityType") not in (TET, OTHER_TET):
                err("E1005", "TRACKED_ENTITY", uid, "Could not find TrackedEntityType: `%s`"
                    % te.get("trackedEntityType"), [str(te.get("trackedEntityType"))])
            ou = te.get("orgUnit")
            if ou not in f.org_units:
                err("E1049", "TRACKED_ENTITY", uid, "Could not find OrganisationUnit: `%s`, "
                    "linked to Tracked Entity" % ou, [str(ou)])
            elif not f.in_capture(ou):
                err("E1000", "TRACKED_ENTITY", uid, "User: `%s`, has no write access to "
                    "OrganisationUnit: `%s`" % ("xE7jOejl9FI", ou), ["xE7jOejl9FI", ou])
            for a in te.get("attributes", []):
                aid, value = a.get("attribute"), a.get("value")
                if aid not in attrs:
                    err("E1006", "TRACKED_ENTITY", uid, "Attribute: `%s`, does not exist" % aid,
                        [str(aid)])
                    continue
                if attrs[aid].get("unique") and value is not None:
                    # exact equality, the entity's own value excluded
                    clash = bool(stored.get((aid, value), set()) - {uid})
                    other = seen_unique.get((aid, value))
                    if clash or (other and other != uid):
                        err("E1064", "TRACKED_ENTITY", uid, "Non-unique attribute value `%s` "
                            "for attribute `%s`" % (value, aid), [value, aid])
                    seen_unique[(aid, value)] = uid
            if len(errors) > n0:
                bad_te.add(uid)

        bad_enr = set()
        for e in enrs_in:
            uid, teu = e["enrollment"], e.get("trackedEntity")
            n0 = len(errors)
            if not UID_RE.match(uid):
                err("E1048", "ENROLLMENT", uid, "Object: `Enrollment`, uid: `%s`, has an invalid "
                    "uid format" % uid, [uid])
            exists = uid in f.enrollments
            if strategy == "CREATE" and exists:
                err("E1080", "ENROLLMENT", uid, "Enrollment: `%s`, already exists" % uid, [uid])
            if strategy == "UPDATE" and not exists:
                err("E1081", "ENROLLMENT", uid, "Enrollment: `%s`, does not exist" % uid, [uid])
            if teu in bad_te:
                err("E5000", "ENROLLMENT", uid, "\"ENROLLMENT\" `%s` cannot be persisted because "
                    "\"TRACKED_ENTITY\" `%s` referenced by it cannot be persisted" % (uid, teu),
                    ["ENROLLMENT", uid, "TRACKED_ENTITY", teu])
            elif teu not in f.tes and teu not in [t["trackedEntity"] for t in tes_in]:
                err("E1068", "ENROLLMENT", uid, "Could not find TrackedEntity: `%s`, linked to "
                    "Enrollment" % teu, [str(teu)])
            if e.get("program") != PROGRAM:
                err("E1069", "ENROLLMENT", uid, "Could not find Program: `%s`, linked to "
                    "Enrollment" % e.get("program"), [str(e.get("program"))])
            ou = e.get("orgUnit")
            if ou not in f.org_units:
                err("E1070", "ENROLLMENT", uid, "Could not find OrganisationUnit: `%s`, linked "
                    "to Enrollment" % ou, [str(ou)])
            elif not f.in_capture(ou):
                err("E1000", "ENROLLMENT", uid, "User: `xE7jOejl9FI`, has no write access to "
                    "OrganisationUnit: `%s`" % ou, ["xE7jOejl9FI", ou])
            elif e.get("program") == PROGRAM and ou not in f.program_org_units:
                err("E1041", "ENROLLMENT", uid, "OrganisationUnit: `%s`, and Program: `%s`, "
                    "don't match" % (ou, PROGRAM), [ou, PROGRAM])
            if not e.get("enrolledAt"):
                err("E1025", "ENROLLMENT", uid, "Property enrolledAt is null", [])
            te_obj = f.tes.get(teu) or next((t for t in tes_in if t["trackedEntity"] == teu),
                                            None)
            if te_obj and te_obj.get("trackedEntityType") != TET and e.get("program") == PROGRAM:
                err("E1022", "ENROLLMENT", uid, "TrackedEntity: `%s`, must have same "
                    "TrackedEntityType as Program `%s`" % (teu, PROGRAM), [teu, PROGRAM])
            active = [o for o in f.enrollments.values()
                      if o["trackedEntity"] == teu and o["program"] == e.get("program") and
                      o["status"] == "ACTIVE" and o["enrollment"] != uid]
            if active and e.get("status", "ACTIVE") == "ACTIVE":
                err("E1015", "ENROLLMENT", uid, "TrackedEntity: `%s`, already has an active "
                    "Enrollment in Program `%s`" % (teu, e.get("program")),
                    [teu, str(e.get("program"))])
            if len(errors) > n0:
                bad_enr.add(uid)

        stats = {"created": 0, "updated": 0, "deleted": 0, "ignored": 0, "total": 0}
        if errors and atomic == "ALL":
            stats["ignored"] = total
            stats["total"] = total
            return {"status": "ERROR", "validationReport": {"errorReports": errors,
                                                             "warningReports": []},
                    "stats": stats}
        reports = {"TRACKED_ENTITY": [], "ENROLLMENT": []}
        type_stats = {"TRACKED_ENTITY": dict(stats), "ENROLLMENT": dict(stats)}
        for te in tes_in:
            uid = te["trackedEntity"]
            if uid in bad_te:
                stats["ignored"] += 1
                type_stats["TRACKED_ENTITY"]["ignored"] += 1
                continue
            kind = "updated" if uid in f.tes else "created"
            if commit:
                old = f.tes.get(uid, {})
                values = dict(old.get("attributes", {}))
                for a in te.get("attributes", []):
                    if a.get("value") is None:
                        values.pop(a.get("attribute"), None)
                    else:
                        values[a["attribute"]] = a["value"]
                f.tes[uid] = {"trackedEntity": uid, "trackedEntityType": te["trackedEntityType"],
                              "orgUnit": te["orgUnit"], "attributes": values,
                              "createdAt": old.get("createdAt", now), "updatedAt": now,
                              "inactive": bool(te.get("inactive", False)),
                              "potentialDuplicate": bool(te.get("potentialDuplicate", False)),
                              "geometry": te.get("geometry")}
            stats[kind] += 1
            type_stats["TRACKED_ENTITY"][kind] += 1
            reports["TRACKED_ENTITY"].append({"trackerType": "TRACKED_ENTITY", "uid": uid,
                                              "errorReports": []})
        for e in enrs_in:
            uid = e["enrollment"]
            if uid in bad_enr:
                stats["ignored"] += 1
                type_stats["ENROLLMENT"]["ignored"] += 1
                continue
            kind = "updated" if uid in f.enrollments else "created"
            if commit:
                f.enrollments[uid] = {"enrollment": uid, "trackedEntity": e["trackedEntity"],
                                      "program": e["program"], "orgUnit": e["orgUnit"],
                                      "status": e.get("status", "ACTIVE"),
                                      "enrolledAt": e["enrolledAt"],
                                      "occurredAt": e.get("occurredAt"), "createdAt": now}
            stats[kind] += 1
            type_stats["ENROLLMENT"][kind] += 1
            reports["ENROLLMENT"].append({"trackerType": "ENROLLMENT", "uid": uid,
                                          "errorReports": []})
        stats["total"] = stats["created"] + stats["updated"] + stats["deleted"] + stats["ignored"]
        for t in type_stats.values():
            t["total"] = t["created"] + t["updated"] + t["deleted"] + t["ignored"]
        type_map = {t: {"trackerType": t, "stats": type_stats[t], "objectReports": reports[t]}
                    for t in reports}
        for t in ("EVENT", "RELATIONSHIP"):
            type_map[t] = {"trackerType": t, "stats": {"created": 0, "updated": 0, "deleted": 0,
                                                       "ignored": 0, "total": 0},
                           "objectReports": []}
        return {"status": "OK", "validationReport": {"errorReports": errors,
                                                      "warningReports": []},
                "stats": stats, "bundleReport": {"status": "OK", "typeReportMap": type_map,
                                                 "stats": stats}}

    def job(self, q, body, uid):
        with self.fake.lock:
            j = self.fake.jobs.get(uid)
        if j is None:
            return self.send(200, [])
        notes = [{"uid": new_uid(), "level": "INFO", "category": "TRACKER_IMPORT_JOB",
                  "time": now_local(), "message": "Import complete with status %s"
                  % j["report"]["status"], "completed": True, "id": uid}] if j["done"] else [
            {"uid": new_uid(), "level": "INFO", "category": "TRACKER_IMPORT_JOB",
             "time": now_local(), "message": "(TRACKER_IMPORT_JOB) Import:Start",
             "completed": False, "id": uid}]
        self.send(200, notes)

    def job_report(self, q, body, uid):
        with self.fake.lock:
            j = self.fake.jobs.get(uid)
        if j is None or not j["done"]:
            return self.web_message(404, "TRACKER_IMPORT_JOB with id %s could not be found." % uid)
        self.send(200, j["report"])  # 200 even when status is ERROR

    # ---- potential duplicates -------------------------------------------------------

    def list_duplicates(self, q, body):
        f = self.fake
        status = (q.get("status", ["OPEN"])[-1] or "OPEN").upper()
        key = "teis" if f.minor <= 40 else "trackedEntities"
        tes = [t for t in q.get(key, [""])[-1].split(",") if t]
        with f.lock:
            items = [d for d in f.duplicates.values()
                     if (status == "ALL" or d["status"] == status) and
                     (not tes or d["original"] in tes or d["duplicate"] in tes)]
        if f.minor <= 39:
            doc = {"pager": {"page": 1, "pageCount": 1, "total": len(items), "pageSize": 50},
                   "potentialDuplicates": items}
        elif f.minor == 40:
            doc = {"potentialDuplicates": items, "page": 1, "pageSize": 50}
        else:
            doc = {"pager": {"page": 1, "pageSize": 50}, "potentialDuplicates": items}
            if f.minor == 41:
                doc.update({"page": 1, "pageSize": 50})
        self.send(200, doc)

    def post_duplicate(self, q, body):
        f = self.fake
        try:
            d = json.loads(body or b"{}")
        except ValueError:
            return self.web_message(400, "Invalid JSON")
        for k in ("original", "duplicate"):
            if d.get(k) is None:
                return self.web_message(400, "Missing required input property '%s'" % k)
            if not UID_RE.match(d[k]):
                return self.web_message(400, "'%s' is not valid value for property '%s'"
                                        % (d[k], k))
        answer = None
        with f.lock:  # decide under the lock, answer outside it
            for k in ("original", "duplicate"):
                te = f.tes.get(d[k])
                if answer is None and te is None:
                    answer = (404, "No tracked entity found with id '%s'." % d[k])
                elif answer is None and not f.in_capture(te["orgUnit"]):
                    answer = (403, "You don't have read access to '%s'." % d[k])
            pair = {d["original"], d["duplicate"]}
            if answer is None and any({x["original"], x["duplicate"]} == pair
                                      for x in f.duplicates.values()):
                answer = (409, "'%s' and '%s is already marked as a potential duplicate"
                          % (d["original"], d["duplicate"]))
            status = d.get("status", "OPEN")
            if answer is None and status != "OPEN":
                answer = (409, "Invalid status %s: a potential duplicate is created OPEN" % status)
            if answer is None:
                uid = new_uid()
                now = now_local()
                obj = {"id": uid, "created": now, "lastUpdated": now,
                       "original": d["original"], "duplicate": d["duplicate"], "status": "OPEN",
                       "createdByUserName": f.user or "token-user",
                       "lastUpdatedByUserName": f.user or "token-user"}
                f.duplicates[uid] = obj
                f.counts["duplicates_posted"] += 1
        if answer:
            return self.web_message(*answer)
        self.send(200, obj)

    def get_duplicate(self, q, body, uid):
        with self.fake.lock:
            d = self.fake.duplicates.get(uid)
        if d is None:
            return self.web_message(404, "No potentialDuplicate records found with id '%s'."
                                    % uid)
        self.send(200, d)

    def put_duplicate(self, q, body, uid):
        f = self.fake
        status = (q.get("status", [""])[-1] or "").upper()
        with f.lock:  # decide under the lock, answer outside it
            d = f.duplicates.get(uid)
            if d is None:
                answer = (404, "No potentialDuplicate records found with id '%s'." % uid)
            elif status == "MERGED":
                answer = (400, "Can't update a potential duplicate to MERGED")
            elif d["status"] == "MERGED":
                answer = (400, "Can't update a potential duplicate that is already MERGED")
            elif status not in ("OPEN", "INVALID"):
                answer = (400, "Invalid status " + status)
            else:
                answer = None
                d["status"] = status
                d["lastUpdated"] = now_local()
        if answer:
            return self.web_message(*answer)
        self.send(200, raw=b"")

    def merge_duplicate(self, q, body, uid):
        f = self.fake
        with f.lock:  # decide under the lock, answer outside it
            answer = self.merge_locked(uid)
        if answer:
            return self.web_message(*answer)
        self.send(200, raw=b"")

    def merge_locked(self, uid):
        """Merge (AUTO) with the lock held; (status, message) when refused."""
        f = self.fake
        d = f.duplicates.get(uid)
        if d is None:
            return (404, "No potentialDuplicate records found with id '%s'." % uid)
        if not ({"ALL", "F_TRACKED_ENTITY_MERGE"} & set(f.authorities)):
            return (403, "Insufficient access: Missing required authority for merging tracked "
                    "entities.")
        a, b = f.tes.get(d["original"]), f.tes.get(d["duplicate"])
        if a is None or b is None:
            return (409, "PotentialDuplicate cannot be merged automatically: One or both "
                    "tracked entities deleted")
        pa = {e["program"] for e in f.enrollments.values()
              if e["trackedEntity"] == a["trackedEntity"]}
        pb = {e["program"] for e in f.enrollments.values()
              if e["trackedEntity"] == b["trackedEntity"]}
        if pa & pb:
            return (409, "PotentialDuplicate cannot be merged automatically: Both entities "
                    "enrolled in the same program")
        for k, v in b["attributes"].items():
            if k in a["attributes"] and a["attributes"][k] != v:
                return (409, "PotentialDuplicate cannot be merged automatically: Conflicting "
                        "values")
        for k, v in b["attributes"].items():
            a["attributes"].setdefault(k, v)
        for e in f.enrollments.values():
            if e["trackedEntity"] == b["trackedEntity"]:
                e["trackedEntity"] = a["trackedEntity"]
        del f.tes[b["trackedEntity"]]
        d["status"] = "MERGED"
        f.counts["merges"] += 1
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--version", default="2.42.0")
    ap.add_argument("--token", default="d2p_fakeTokenForTestsOnly0000000000000000000000a1B2c3")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="district")
    ap.add_argument("--delay-ms", type=int, default=0)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.request_queue_size = 128
    server.fake = Fake(args.version, args.token, args.user, args.password, args.delay_ms)
    port = server.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write("http=%d\n" % port)
        os.replace(tmp, args.port_file)
    sys.stdout.write("fake DHIS2 %s on http://127.0.0.1:%d\n" % (args.version, port))
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
