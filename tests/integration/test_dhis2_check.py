#!/usr/bin/env python3
"""`ciu-admin dhis2 check` against the fake DHIS2: all checks pass on a good
configuration (exit 0), and each kind of mistake gives one clear failing
line naming what to fix (exit 1; 78 for settings that are malformed).

Usage: test_dhis2_check.py
"""
import json
import os
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from dhis2_helpers import BADJIA, BOMBALI, FakeDhis2, admin, bridge_env  # noqa: E402
from stack import Stack, TestFailure, check  # noqa: E402


def run_check(fake, *extra_args, **env):
    stack = Stack("dhis2-check", "sqlite", bridge_env(fake, **env))
    try:
        return admin(stack, "dhis2", "check", *extra_args)
    finally:
        stack.cleanup()


def lines(out, status):
    return [l for l in out.splitlines() if l.startswith(status)]


def main():
    fakes = []
    try:
        for version in ("2.40.4.1", "2.42.0"):
            fake = FakeDhis2(version)
            fakes.append(fake)
            code, out, err = run_check(fake)
            check(code == 0, "good configuration on %s: exit %d\n%s%s" % (version, code, out,
                                                                          err))
            check(not lines(out, "FAIL") and "all checks passed" in out, out)
            for name in ("reachable", "authentication", "version", "tracked entity type",
                         "program", "CIU attribute", "gender attribute", "org unit", "search",
                         "dry run"):
                check(any(l.startswith("ok    " + name) for l in out.splitlines()),
                      "no passing '%s' line:\n%s" % (name, out))
            check("DHIS2 %s" % version in out, "version not shown:\n" + out)

        fake = fakes[-1]
        # JSON output
        code, out, err = run_check(fake, "--json")
        doc = json.loads(out)
        check(code == 0 and doc["ok"] and doc["failures"] == 0, "--json: %r" % doc)

        # each mistake: one failing line saying what is wrong
        mistakes = [
            ({"DHIS2_API_TOKEN": "d2p_wrong"}, "authentication", "DHIS2_API_TOKEN"),
            ({"DHIS2_PROGRAM": "AAAAAAAAAAA"}, "program", "DHIS2_PROGRAM"),
            ({"DHIS2_TRACKED_ENTITY_TYPE": "AAAAAAAAAAA"}, "tracked entity type",
             "DHIS2_TRACKED_ENTITY_TYPE"),
            ({"DHIS2_CIU_ATTRIBUTE": "w75KJ2mc4zz"}, "CIU attribute", "not unique"),
            ({"DHIS2_CIU_ATTRIBUTE": "AAAAAAAAAAA"}, "CIU attribute", "DHIS2_CIU_ATTRIBUTE"),
            ({"DHIS2_ORG_UNIT": BADJIA}, "org unit", "E1041"),
            ({"DHIS2_ORG_UNIT": BOMBALI}, "org unit", "E1000"),
        ]
        for env, name, words in mistakes:
            code, out, err = run_check(fake, **env)
            failing = lines(out, "FAIL")
            check(code == 1, "%r: exit %d, expected 1\n%s" % (env, code, out))
            # the first failing line names the cause (a wrong type also fails the
            # program and search checks that depend on it)
            check(failing and failing[0].startswith("FAIL  " + name) and
                  words in failing[0], "%r: expected a failing '%s' line with %r:\n%s" % (
                      env, name, words, out))

        # the org unit map is checked line by line
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as m:
            m.write("MB\t%s\n" % BADJIA)
        code, out, err = run_check(fake, DHIS2_ORG_UNIT_MAP=m.name)
        os.unlink(m.name)
        check(code == 1 and "for city MB" in out and "E1041" in out, out)

        # DHIS2 not there at all
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        fake_down = type("F", (), {"url": "http://127.0.0.1:%d" % port})()
        code, out, err = run_check(fake_down)
        check(code == 1 and lines(out, "FAIL")[0].startswith("FAIL  reachable"), out)

        # malformed settings: refused before any call
        code, out, err = run_check(fake, DHIS2_PROGRAM="bad")
        check(code == 78 and "DHIS2_PROGRAM" in out, "malformed setting: %d %s" % (code, out))
    except TestFailure as e:
        print("FAIL dhis2-check: %s" % e)
        print("dhis2-check: 0 passed, 1 failed")
        return 1
    finally:
        for f in fakes:
            f.stop()
    print("dhis2-check: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
