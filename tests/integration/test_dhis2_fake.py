#!/usr/bin/env python3
"""The fake DHIS2 itself behaves as the reference says (so the other DHIS2
tests can be trusted), in the 2.40, 2.41 and 2.42 dialects: auth, the
search rules and envelopes, sync import reports (ALL and OBJECT), E1064 by
exact value, E1000, the async job flow, potential duplicates, faults.

Usage: test_dhis2_fake.py
"""
import base64
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from dhis2_helpers import (BOMBALI, CIU_ATTR, NGELEHUN, PROGRAM, TET, TOKEN,  # noqa: E402
                           FakeDhis2, wait_for)
from stack import TestFailure, check  # noqa: E402


def call(fake, method, path, body=None, auth="token", headers=None):
    h = {"Content-Type": "application/json"}
    if auth == "token":
        h["Authorization"] = "ApiToken " + TOKEN
    elif auth == "basic":
        h["Authorization"] = "Basic " + base64.b64encode(b"admin:district").decode()
    elif auth:
        h["Authorization"] = auth
    h.update(headers or {})
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + path, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw and raw[:1] in b"{[" else raw
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw and raw[:1] in b"{[" else raw


def search(fake, **params):
    return call(fake, "GET", "/api/tracker/trackedEntities?" + urllib.parse.urlencode(params))


def te(uid, ciu, ou=NGELEHUN, enroll=None):
    t = {"trackedEntity": uid, "trackedEntityType": TET, "orgUnit": ou,
         "attributes": [{"attribute": CIU_ATTR, "value": ciu}]}
    if enroll:
        t["enrollments"] = [{"enrollment": enroll, "program": PROGRAM, "orgUnit": ou,
                             "enrolledAt": "2026-01-01", "status": "ACTIVE"}]
    return t


def dialect(version):
    fake = FakeDhis2(version)
    minor = int(version.split(".")[1])
    try:
        # auth
        check(call(fake, "GET", "/api/system/info", auth=None)[0] == 401, "no credentials")
        check(call(fake, "GET", "/api/system/info", auth="ApiToken d2p_bad")[0] == 401,
              "bad token")
        check(call(fake, "GET", "/api/system/info", auth="basic")[1]["version"] == version,
              "basic auth")
        check(call(fake, "GET", "/api/ping", auth=None)[0] == 200, "ping is open")
        # search: exactly one of program / trackedEntityType
        st, body = search(fake, program=PROGRAM, trackedEntityType=TET, orgUnitMode="ACCESSIBLE",
                          ouMode="ACCESSIBLE")
        check(st == (409 if minor <= 40 else 400), "%s both: %s" % (version, st))
        st, body = search(fake, orgUnitMode="ACCESSIBLE")
        check(st == (409 if minor <= 40 else 400), "%s neither: %s" % (version, st))
        # org unit parameters
        mode = "ouMode" if minor <= 40 else "orgUnitMode"
        if minor <= 40:
            st, body = search(fake, trackedEntityType=TET, orgUnitMode="ACCESSIBLE")
            check(st == 409 and "organisation unit" in body["message"],
                  "2.40 ignores orgUnitMode: %s %r" % (st, body))
        if minor == 41:
            st, _ = search(fake, trackedEntityType=TET, ouMode="ACCESSIBLE",
                           orgUnitMode="ACCESSIBLE")
            check(st == 400, "2.41 old and new names together: %s" % st)
        # import ALL: all or nothing, 409, no bundleReport
        payload = {"trackedEntities": [te("Aaaaaaaaaa1", "ABCDEF1KN1", enroll="Eaaaaaaaaa1"),
                                       te("Aaaaaaaaaa2", "ABCDEF2KN1", ou=BOMBALI)]}
        st, rep = call(fake, "POST", "/api/tracker?async=false&atomicMode=ALL", payload)
        check(st == 409 and rep["status"] == "ERROR" and "bundleReport" not in rep and
              rep["stats"]["ignored"] == 3, "ALL: %s %r" % (st, rep))
        check(rep["validationReport"]["errorReports"][0]["errorCode"] == "E1000", "E1000")
        check(("args" in rep["validationReport"]["errorReports"][0]) == (minor >= 41), "args")
        # OBJECT: the good one stored, 200
        st, rep = call(fake, "POST", "/api/tracker?async=false&atomicMode=OBJECT", payload)
        check(st == 200 and rep["status"] == "OK" and rep["stats"]["created"] == 2 and
              rep["stats"]["ignored"] == 1, "OBJECT: %s %r" % (st, rep))
        done = [o["uid"] for t in rep["bundleReport"]["typeReportMap"].values()
                for o in t["objectReports"]]
        check(sorted(done) == ["Aaaaaaaaaa1", "Eaaaaaaaaa1"], "object reports %r" % done)
        # E1064: exact value; own value excluded on update; lower case does not collide
        st, rep = call(fake, "POST", "/api/tracker?async=false",
                       {"trackedEntities": [te("Aaaaaaaaaa3", "ABCDEF1KN1")]})
        check(st == 409 and rep["validationReport"]["errorReports"][0]["errorCode"] == "E1064",
              "E1064: %s %r" % (st, rep))
        st, rep = call(fake, "POST", "/api/tracker?async=false",
                       {"trackedEntities": [te("Aaaaaaaaaa1", "ABCDEF1KN1")]})
        check(st == 200 and rep["stats"]["updated"] == 1, "own value: %s %r" % (st, rep))
        st, rep = call(fake, "POST", "/api/tracker?async=false",
                       {"trackedEntities": [te("Aaaaaaaaaa4", "abcdef1kn1")]})
        check(st == 200, "a lower-case value is another value on import: %s" % st)
        # search: case-insensitive eq, envelope per version, enrollments only when asked
        st, body = search(fake, trackedEntityType=TET, filter=CIU_ATTR + ":EQ:AbCdEf1Kn1",
                          **{mode: "ACCESSIBLE"})
        key = "instances" if minor <= 40 else "trackedEntities"
        check(st == 200 and key in body and len(body[key]) == 2, "eq: %s %r" % (st, body))
        check(all("enrollments" not in t for t in body[key]), "enrollments by default")
        check(("pager" in body) == (minor >= 41), "pager")
        st, body = search(fake, program=PROGRAM, filter=CIU_ATTR + ":eq:ABCDEF1KN1",
                          fields="trackedEntity,enrollments[enrollment]", **{mode: "ACCESSIBLE"})
        check(st == 200 and len(body[key]) == 1 and body[key][0]["enrollments"],
              "by program: enrolled ones only: %r" % body)
        # async: a job; report 404 until done, then 200
        st, msg = call(fake, "POST", "/api/tracker",
                       {"trackedEntities": [te("Aaaaaaaaaa5", "ABCDEF5KN1")]})
        check(st == 200 and msg["message"] == "Tracker job added", "async: %r" % msg)
        job = msg["response"]["id"]
        wait_for(lambda: call(fake, "GET", "/api/tracker/jobs/%s/report" % job)[0] == 200, 5,
                 "the job report")
        # potential duplicates
        st, d = call(fake, "POST", "/api/potentialDuplicates",
                     {"original": "Aaaaaaaaaa1", "duplicate": "Aaaaaaaaaa4"})
        check(st == 200 and d["status"] == "OPEN", "post pair: %s %r" % (st, d))
        st, _ = call(fake, "POST", "/api/potentialDuplicates",
                     {"original": "Aaaaaaaaaa4", "duplicate": "Aaaaaaaaaa1"})
        check(st == 409, "the same pair again: %s" % st)
        st, _ = call(fake, "POST", "/api/potentialDuplicates",
                     {"original": "Aaaaaaaaaa1", "duplicate": "Zzzzzzzzzz9"})
        check(st == 404, "unknown tracked entity: %s" % st)
        # faults and delay
        fake.fault(503, 1, "/api/")
        check(call(fake, "GET", "/api/system/info")[0] == 503, "fault")
        check(call(fake, "GET", "/api/system/info")[0] == 200, "one fault only")
        fake.config(delay_ms=300)
        t0 = time.time()
        call(fake, "GET", "/api/system/info")
        check(time.time() - t0 >= 0.3, "delay")
        print("fake DHIS2 %s: ok" % version)
    finally:
        fake.stop()


def main():
    try:
        for v in ("2.40.1", "2.41.2", "2.42.0"):
            dialect(v)
    except TestFailure as e:
        print("FAIL dhis2-fake: %s" % e)
        print("dhis2-fake: 0 passed, 1 failed")
        return 1
    print("dhis2-fake: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
