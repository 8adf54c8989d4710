"""Helpers for the DHIS2 tests and bench: the fake DHIS2 server, the bridge's
environment, store queries, conversations that end in a CIU, and waiting for
conditions (never fixed sleeps).
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from stack import SOURCE_DIR, TestFailure, check  # noqa: E402

FAKE = os.path.join(SOURCE_DIR, "tests", "fakes", "fake_dhis2.py")

# The fake's metadata (Sierra Leone demo UIDs).
TET = "nEenWmSyUEp"
PROGRAM = "IpHINAT79UW"
CIU_ATTR = "lZGmxYbs97q"
GENDER_ATTR = "cejWyOfXge6"
BIRTH_ATTR = "yBirthDig01"
ROOT = "ImspTQPwCqd"
BO = "O6uvpzGd5pu"
NGELEHUN = "DiszpKrYNg8"
BADJIA = "YuQRtpLP10I"   # in the user's capture scope, not in the program
BOMBALI = "fdc6uOvgoji"  # outside the user's capture (and search) scope
TOKEN = "d2p_fakeTokenForTestsOnly0000000000000000000000a1B2c3"


def wait_for(cond, timeout=30, what="condition", interval=0.05):
    """Poll cond() until it returns a true value; return it, or fail saying what."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise TestFailure("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


class FakeDhis2:
    """tests/fakes/fake_dhis2.py in a subprocess on a free port."""

    def __init__(self, version="2.42.0", delay_ms=0, token=TOKEN):
        self.dir = tempfile.mkdtemp(prefix="ciu-fake-dhis2-")
        pf = os.path.join(self.dir, "port")
        self.log = open(os.path.join(self.dir, "fake.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--port-file", pf, "--version", version, "--delay-ms",
             str(delay_ms), "--token", token], stdout=self.log, stderr=subprocess.STDOUT)
        port = wait_for(lambda: os.path.exists(pf) and open(pf).read().strip(), 20,
                        "the fake DHIS2's port file")
        self.url = "http://127.0.0.1:%s" % port.split("=", 1)[1]
        self.version = version

    def control(self, path, body=None):
        data = json.dumps(body or {}).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data,
                                     method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"{}")

    def state(self):
        return self.control("/_fake/state")

    def config(self, **kw):
        return self.control("/_fake/config", kw)

    def fault(self, status=503, count=-1, path="/api/", method=None, delay_ms=0):
        body = {"status": status, "count": count, "path": path, "delay_ms": delay_ms}
        if method:
            body["method"] = method
        return self.control("/_fake/fault", body)

    def clear_faults(self):
        return self.control("/_fake/fault/clear", {})

    def hold(self, path="/api/tracker", count=1, method=None):
        body = {"path": path, "count": count}
        if method:
            body["method"] = method
        return self.control("/_fake/hold", body)

    def release(self):
        return self.control("/_fake/release", {})

    def api(self, method, path, body=None, token=TOKEN):
        """Call the fake's DHIS2 API as a DHIS2 user would (for setting up data)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Content-Type": "application/json", "Authorization": "ApiToken " + token})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def entity(self, attributes, org_unit=NGELEHUN, enrolled=False):
        """Put a person straight into the fake's database; returns its UID."""
        return self.control("/_fake/entity", {"attributes": attributes, "orgUnit": org_unit,
                                              "enrolled": enrolled})["trackedEntity"]

    def entities_with(self, ciu):
        """Tracked entities whose CIU attribute equals ciu (case-insensitive)."""
        return [t for t in self.state()["trackedEntities"]
                if t["attributes"].get(CIU_ATTR, "").upper() == ciu.upper()]

    def enrolled(self, te_uid):
        return [e for e in self.state()["enrollments"]
                if e["trackedEntity"] == te_uid and e["program"] == PROGRAM]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def dump(self):
        try:
            sys.stderr.write("==== fake DHIS2 ====\n" + open(self.log.name).read()[-3000:] + "\n")
            st = self.state()
            sys.stderr.write("counts %r\nlast requests %r\n" % (st["counts"], st["log"][-20:]))
        except (OSError, urllib.error.URLError, ValueError):
            pass


def bridge_env(fake, **extra):
    """The DHIS2 variables of the bridge, pointing at the fake, with fast timers."""
    env = {
        "DHIS2_BASE_URL": fake.url,
        "DHIS2_API_TOKEN": TOKEN,
        "DHIS2_TRACKED_ENTITY_TYPE": TET,
        "DHIS2_PROGRAM": PROGRAM,
        "DHIS2_ORG_UNIT": NGELEHUN,
        "DHIS2_CIU_ATTRIBUTE": CIU_ATTR,
        "DHIS2_GENDER_ATTRIBUTE": GENDER_ATTR,
        "DHIS2_GENDER_VALUES": "1=Male,2=Female,3=,4=Other",
        "DHIS2_BIRTH_DIGIT_ATTRIBUTE": BIRTH_ATTR,
        "DHIS2_TIMEOUT_SECONDS": "2",
        "DHIS2_LEASE_SECONDS": "9",
        "DHIS2_RETRY_MAX_SECONDS": "2",
        "DHIS2_BREAKER_FAILURES": "3",
        "DHIS2_BREAKER_SECONDS": "1",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def query(stack, sql, params=()):
    """Rows of a query on the stack's store (SQLite file or PostgreSQL)."""
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        try:
            rows = [tuple(r) for r in con.execute(sql, params)]
            con.commit()
            return rows
        finally:
            con.close()
    for p in params:  # psql -c has no binding: tests pass only trusted literals
        sql = sql.replace("?", "'%s'" % str(p).replace("'", "''"), 1)
    out = subprocess.run(["psql", stack.env["DATABASE_URL"], "-At", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(l.split("\t")) for l in out.splitlines() if l]


def sync_rows(stack):
    """{ciu: (status, te_uid, linked, error_codes, last_error)} of dhis2_sync."""
    rows = query(stack, "SELECT ciu, status, te_uid, linked, error_codes, last_error "
                        "FROM dhis2_sync")
    return {r[0]: tuple(r[1:]) for r in rows}


def admin(stack, *args):
    """Run ciu-admin with the stack's settings; (exit code, stdout, stderr)."""
    exe = os.path.join(stack.build, "tools", "ciu-admin")
    p = subprocess.run([exe] + list(args), cwd=stack.dir, env=stack.env, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def log_text(stack, name="ciu-dhis2-bridge"):
    path = stack.logs.get(name) or os.path.join(stack.dir, name + ".log")
    try:
        return open(path, errors="replace").read()
    except OSError:
        return ""


def register(person, answers, ciu, timeout=30):
    """One whole conversation (answers = last name, first name, year, city, gender)."""
    person.say("Bonjour", lambda t: "Question 1" in t or "déjà" in t, timeout)
    for text in answers:
        person.say(text, None, timeout)
    person.say("1", ciu, timeout)


def seed_queued(stack, cius, now_ms=None):
    """Queue dhis2_sync rows as ciu-engine does (bridge-only tests and bench)."""
    now_ms = now_ms or int(time.time() * 1000)
    rows = [(c, now_ms, now_ms, now_ms, "T%025d" % i) for i, c in enumerate(cius)]
    sql = ("INSERT INTO dhis2_sync (ciu, status, attempts, next_ms, created_ms, updated_ms, trace) "
           "VALUES (?, 'queued', 0, ?, ?, ?, ?)")
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        with con:
            con.executemany(sql, rows)
        con.close()
        return
    values = ",".join("('%s','queued',0,%d,%d,%d,'%s')" % r for r in rows)
    subprocess.run(["psql", stack.env["DATABASE_URL"], "-q", "-c",
                    "INSERT INTO dhis2_sync (ciu, status, attempts, next_ms, created_ms, "
                    "updated_ms, trace) VALUES " + values], check=True, capture_output=True)


def migrate(stack):
    os.makedirs(stack.data, exist_ok=True)
    code, out, err = admin(stack, "migrate")
    check(code == 0, "ciu-admin migrate failed: %s %s" % (out, err))


def metrics(stack, name="ciu-dhis2-bridge"):
    kv = stack.ports(name)
    with urllib.request.urlopen("http://127.0.0.1:%s/metrics" % kv["admin"], timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, _, v = line.rpartition(" ")
            try:
                out[k] = float(v)
            except ValueError:
                pass
    return out


def cius(n, seed=0):
    """n distinct well-formed CIUs (LLLFFFYCCG), deterministic."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = []
    i = seed
    while len(out) < n:
        a = i
        name = ""
        for _ in range(6):
            name += letters[a % 26]
            a //= 26
        out.append("%s%d%s%d" % (name, i % 10, "DA", 1 + i % 4))
        i += 1
    return out


class Tap:
    """ciu-tap on the bridge's events, into a file (JSON lines)."""

    def __init__(self, stack, prefix="dhis2."):
        self.path = os.path.join(stack.dir, "tap.jsonl")
        self.out = open(self.path, "wb")
        exe = os.path.join(stack.build, "tools", "ciu-tap")
        self.proc = subprocess.Popen([exe, "--connect", stack.env["CIU_DHIS2_EVENTS"], prefix],
                                     cwd=stack.dir, env=stack.env, stdout=self.out,
                                     stderr=subprocess.DEVNULL)

    def events(self, type_=None):
        out = []
        for line in open(self.path, errors="replace"):
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if type_ is None or ev.get("type") == type_:
                out.append(ev)
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.out.close()
