#!/usr/bin/env python3
"""Issue 11: `ciu-admin collisions` on a real store (SQLite or PostgreSQL).

Fills the registry with known CIUs and checks the report against the
figures computed here from the same distribution of the CIU's parts (three
letters of each name, year digit, city, gender; parts independent), overall
and per city, in text and JSON. Python 3 standard library only.
Usage: test_edges.py sqlite|postgres
"""
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import TestFailure, build_dir, check, pg_url  # noqa: E402

CIUS = ["MBEIBR7KN1", "MBEIBR7KN2", "KALGED5KN1", "MBEKEN9KN1", "NGAFRA1LU2", "MUKODE8LU2"]
SALT = "0123456789abcdef" * 4


def sumsq(values):
    n = len(values)
    return sum(c * c for c in Counter(values).values()) / (n * n)


def pair_probability(cius, with_city=True):
    p = (sumsq([c[0:3] for c in cius]) * sumsq([c[3:6] for c in cius])
         * sumsq([c[6] for c in cius]) * sumsq([c[9] for c in cius]))
    return p * sumsq([c[7:9] for c in cius]) if with_city else p


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(b))


def admin(env, *args, expect=0):
    out = subprocess.run([os.path.join(build_dir(), "tools", "ciu-admin")] + list(args), env=env,
                         capture_output=True, text=True, timeout=60)
    check(out.returncode == expect, "ciu-admin %s exited %d (expected %d): %s" % (
        " ".join(args), out.returncode, expect, out.stderr))
    return out


def insert(env, backend, tmp):
    values = [(c, "k%d" % i, "u%d" % i) for i, c in enumerate(CIUS)]
    if backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(os.path.join(tmp, "ciu.db"))
        con.executemany("INSERT INTO registry (ciu, reg_key, first_user_key, request_count, "
                        "first_ms, last_ms) VALUES (?, ?, ?, 1, 1, 1)", values)
        con.commit()
        con.close()
        return
    sql = "".join("INSERT INTO registry (ciu, reg_key, first_user_key, request_count, first_ms, "
                  "last_ms) VALUES ('%s', '%s', '%s', 1, 1, 1);" % v for v in values)
    subprocess.run(["psql", env["DATABASE_URL"], "-q", "-c", sql], check=True)


def main():
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    with tempfile.TemporaryDirectory(prefix="ciu-edges-") as tmp:
        env = dict(os.environ, UIC_SALT=SALT, CIU_DATA_DIR=tmp)
        if backend == "sqlite":
            env["DATABASE_URL"] = "sqlite://" + os.path.join(tmp, "ciu.db")
        else:
            env["DATABASE_URL"] = pg_url("ciu_edges_%d" % os.getpid())
        admin(env, "migrate")
        # an empty registry: nothing to estimate, no error
        empty = json.loads(admin(env, "collisions", "--json").stdout)
        check(empty["registered"] == 0 and empty["cities"] == [], "empty: %r" % empty)
        admin(env, "collisions", "extra", expect=64)
        insert(env, backend, tmp)

        got = json.loads(admin(env, "collisions", "--json").stdout)
        check(got["registered"] == len(CIUS), "registered: %r" % got)
        want = pair_probability(CIUS)
        check(close(got["pair_probability"], want), "overall %r, expected %r" % (
            got["pair_probability"], want))
        n = len(CIUS)
        check(close(got["expected_shared_pairs"], want * n * (n - 1) / 2), "pairs %r" % got)
        cities = {c["city"]: c for c in got["cities"]}
        check([c["city"] for c in got["cities"]] == ["KN", "LU"], "order %r" % got["cities"])
        for city in ("KN", "LU"):
            mine = [c for c in CIUS if c[7:9] == city]
            p = pair_probability(mine, with_city=False)
            check(cities[city]["registered"] == len(mine), "%s: %r" % (city, cities[city]))
            check(close(cities[city]["pair_probability"], p), "%s pair %r, expected %r" % (
                city, cities[city]["pair_probability"], p))
            check(close(cities[city]["new_person_match_probability"], min(1, p * len(mine))),
                  "%s match %r" % (city, cities[city]))

        text = admin(env, "collisions").stdout
        check("registered CIUs: 6" in text and "1 in %.0f" % (1 / want) in text, text)
        check("KN        4 registered" in text, text)
    print("edges [%s]: collisions report ok" % backend)


if __name__ == "__main__":
    try:
        main()
    except TestFailure as e:
        print("FAIL edges: %s" % e)
        sys.exit(1)
