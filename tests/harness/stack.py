"""Start the five real ciu daemons on loopback for a test, and talk to them.

The harness follows the project's rules for integration tests: real
daemons, real store (a SQLite file or a PostgreSQL database of the test
PostgreSQL server), HTTP port 0 with --port-file, ZeroMQ over ipc:// in the
test's own folder (stable across restarts, no port clashes between tests),
readiness checks instead of sleeps, logs dumped on failure.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

DAEMONS = {
    # name: (folder in the build tree, admin port variable or None)
    "ciu-sender": ("sender", "CIU_SENDER_ADMIN_PORT"),
    "ciu-dhis2-bridge": ("dhis2-bridge", "CIU_DHIS2_ADMIN_PORT"),
    "ciu-engine": ("ciu-engine", "CIU_ENGINE_ADMIN_PORT"),
    "ciu-conversation": ("conversation", "CIU_CONVERSATION_ADMIN_PORT"),
    "ciu-ingress": ("ingress", "CIU_INGRESS_ADMIN_PORT"),
}

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def build_dir():
    d = os.environ.get("CIU_BUILD_DIR")
    check(d and os.path.isdir(d), "CIU_BUILD_DIR must name the build folder")
    return os.path.abspath(d)


def pg_url(name):
    """A fresh database on the test PostgreSQL server (ctest fixture 'pg')."""
    url_file = os.environ.get("CIU_TEST_PG_URL_FILE")
    check(url_file and os.path.exists(url_file),
          "CIU_TEST_PG_URL_FILE is not set or missing: PostgreSQL fixture did not start")
    pg_dir = os.path.dirname(url_file)
    out = subprocess.run([os.path.join(SOURCE_DIR, "tests/harness/pg.sh"), "newdb", pg_dir, name],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


class OwnPostgres:
    """A PostgreSQL server of one test's own (tests/harness/pg.sh in a temporary folder), for
    tests that stop, freeze or restart it without disturbing the tests sharing the 'pg'
    fixture. url: a fresh database `db` on it. stop()/start() keep the port and the data."""

    def __init__(self, prefix, db):
        self.pg = os.path.join(SOURCE_DIR, "tests/harness/pg.sh")
        self.dir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.dir, 0o755)
        self.start()
        self.url = subprocess.run([self.pg, "newdb", self.dir, db], check=True,
                                  capture_output=True, text=True).stdout.strip().splitlines()[-1]

    def start(self):
        subprocess.run([self.pg, "start", self.dir], check=True, capture_output=True)

    def stop(self):
        subprocess.run([self.pg, "stop", self.dir], check=True, capture_output=True)

    def destroy(self):
        subprocess.run([self.pg, "stop", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


class Stack:
    def __init__(self, name, backend="sqlite", env=None, wrapper=None):
        self.name = name
        self.backend = backend
        self.build = build_dir()
        self.dir = tempfile.mkdtemp(prefix="ciu-%s-" % name)
        self.data = os.path.join(self.dir, "data")
        self.procs = {}
        self.logs = {}
        self.wrapper = wrapper or []
        # under valgrind a daemon starts 20-50 times slower (more on a busy machine)
        self.start_timeout = 180 if self.wrapper else 30
        sock = os.path.join(self.dir, "s")
        os.makedirs(sock)
        self.env = dict(os.environ)
        self.env.update({
            "CIU_DATA_DIR": self.data,
            "CIU_SIMULATOR": "true",
            "CIU_SHARE_DIR": os.path.join(SOURCE_DIR, "share"),
            "CIU_HTTP_PORT": "0",
            "CIU_RESCAN_MS": "200",
            "LOG_LEVEL": "debug",
            "CIU_CONVERSATION_ENDPOINTS": "ipc://%s/conversation" % sock,
            "CIU_ENGINE_ENDPOINTS": "ipc://%s/engine" % sock,
            "CIU_DHIS2_ENDPOINTS": "ipc://%s/dhis2" % sock,
            "CIU_SENDER_ENDPOINTS": "ipc://%s/sender" % sock,
            "CIU_INGRESS_EVENTS": "ipc://%s/ev-ingress" % sock,
            "CIU_CONVERSATION_EVENTS": "ipc://%s/ev-conversation" % sock,
            "CIU_ENGINE_EVENTS": "ipc://%s/ev-engine" % sock,
            "CIU_DHIS2_EVENTS": "ipc://%s/ev-dhis2" % sock,
            "CIU_SENDER_EVENTS": "ipc://%s/ev-sender" % sock,
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        for _, (_, var) in DAEMONS.items():
            if var:
                self.env[var] = "0"
        if backend == "postgres":
            self.env["DATABASE_URL"] = pg_url("ciu_%s_%d" % (name.replace("-", "_"), os.getpid()))
        if env:
            self.env.update(env)
        self.base = None

    # ---- processes ---------------------------------------------------------

    def binary(self, name):
        base = name.split("#")[0]  # "ciu-engine#1": another replica of ciu-engine
        return os.path.join(self.build, DAEMONS[base][0], base)

    def port_file(self, name):
        return os.path.join(self.dir, name + ".ports")

    def start_daemon(self, name, env=None):
        """Start one daemon; env: settings of this process only (e.g. CIU_BIND)."""
        pf = self.port_file(name)
        if os.path.exists(pf):
            os.unlink(pf)
        log = open(os.path.join(self.dir, name + ".log"), "ab")
        self.logs[name] = log.name
        self.procs[name] = subprocess.Popen(
            self.wrapper + [self.binary(name), "--port-file", pf],
            cwd=self.dir, env=dict(self.env, **env) if env else self.env, stdout=log,
            stderr=subprocess.STDOUT)
        log.close()

    def ports(self, name, timeout=None):
        timeout = timeout or self.start_timeout
        pf = self.port_file(name)
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = self.procs[name]
            if p.poll() is not None:
                raise TestFailure("%s exited with %s at start" % (name, p.returncode))
            if os.path.exists(pf):
                kv = dict(l.split("=", 1) for l in open(pf).read().split() if "=" in l)
                want = "http" if name == "ciu-ingress" else "admin"
                if want in kv:
                    return kv
            time.sleep(0.02)
        raise TestFailure("%s did not write its port file" % name)

    def wait_healthy(self, name, timeout=None):
        timeout = timeout or self.start_timeout
        kv = self.ports(name, timeout)
        port = kv.get("http") or kv.get("admin")
        url = "http://127.0.0.1:%s/health" % port
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        if name == "ciu-ingress":
                            self.base = "http://127.0.0.1:%s" % port
                        return port
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.05)
        raise TestFailure("%s not healthy at %s" % (name, url))

    def start(self):
        for name in DAEMONS:
            self.start_daemon(name)
        for name in DAEMONS:
            self.wait_healthy(name)
        return self

    def kill(self, name, sig=signal.SIGKILL):
        p = self.procs[name]
        p.send_signal(sig)
        p.wait(timeout=30)
        return p.returncode

    def restart(self, name):
        self.start_daemon(name)
        self.wait_healthy(name)

    def stop(self):
        """SIGTERM every daemon; returns {name: exit code}."""
        codes = {}
        for name in reversed(list(DAEMONS)):
            p = self.procs.get(name)
            if p is None or p.poll() is not None:
                codes[name] = p.returncode if p else None
                continue
            p.send_signal(signal.SIGTERM)
        for name in reversed(list(DAEMONS)):
            p = self.procs.get(name)
            if p is None:
                continue
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            codes[name] = p.returncode
        return codes

    def dump_logs(self, tail=60):
        for name, path in self.logs.items():
            try:
                lines = open(path, errors="replace").read().splitlines()
            except OSError:
                continue
            sys.stderr.write("==== %s (last %d lines) ====\n" % (name, tail))
            sys.stderr.write("\n".join(lines[-tail:]) + "\n")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- simulator API -----------------------------------------------------

    def request(self, method, path, body=None, headers=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers or {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=40) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def send(self, number, text=None, kind=None, retries=100):
        """POST a message; retries while ingress restarts (connection refused)."""
        body = {"from": number}
        if text is not None:
            body["text"] = text
        if kind:
            body["type"] = kind
        for _ in range(retries):
            try:
                status, data = self.request("POST", "/sim/messages", body)
                check(status == 202, "POST /sim/messages -> %s %s" % (status, data))
                return json.loads(data)["id"]
            except (urllib.error.URLError, ConnectionError) as e:
                last = e
                time.sleep(0.1)
                self.refresh_base()
        raise TestFailure("cannot POST: %s" % last)

    def refresh_base(self):
        try:
            kv = self.ports("ciu-ingress", timeout=1)
            self.base = "http://127.0.0.1:%s" % kv["http"]
        except TestFailure:
            pass

    def poll(self, number, cursor=None, wait=10):
        q = {"to": number, "wait": str(wait)}
        if cursor:
            q["after"] = cursor
        status, data = self.request("GET", "/sim/messages?" + urllib.parse.urlencode(q))
        check(status == 200, "GET /sim/messages -> %s %s" % (status, data))
        doc = json.loads(data)
        return doc["messages"], doc["cursor"]


class Person:
    """One simulated person: sends messages and collects every reply."""

    def __init__(self, stack, number):
        self.stack = stack
        self.number = number
        self.cursor = None
        self.replies = []

    def read(self, until=None, timeout=20):
        """Collect replies until `until(text)` holds for one of them (or any reply
        when until is None). Returns the new replies."""
        got = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msgs, self.cursor = self.stack.poll(self.number, self.cursor,
                                                    wait=max(1, min(5, int(deadline - time.time()))))
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
                self.stack.refresh_base()
                continue
            got += msgs
            self.replies += msgs
            if msgs and (until is None or any(until(m["text"]) for m in got)):
                return got
        raise TestFailure("%s: no reply matching in %ds; got %r" % (
            self.number, timeout, [m["text"][:80] for m in got]))

    def say(self, text, expect=None, timeout=20, kind=None):
        self.stack.send(self.number, text, kind=kind)
        until = (lambda t: expect in t) if isinstance(expect, str) else expect
        return self.read(until, timeout)

    def no_more(self, marker, first, last=None, timeout=20):
        """Assert that no reply is still on its way, without waiting for a
        silence: send `marker` and check that the first reply after it is the
        marker's own answer (`first` in its text). Replies to one person are
        delivered in order, so anything still due would come before it. Waits
        until `last` (default: first) arrived; the marker's replies are left
        out of self.replies."""
        before = len(self.replies)
        self.stack.send(self.number, marker)
        self.read(lambda t: (last or first) in t, timeout)
        new = self.replies[before:]
        check(first in new[0]["text"], "%s: unexpected extra replies before the answer to %r: %r"
              % (self.number, marker, [m["text"][:60] for m in new]))
        del self.replies[before:]

    def quiet(self, seconds=1.0):
        """Assert nothing more arrives for a while."""
        msgs, self.cursor = self.stack.poll(self.number, self.cursor, wait=int(seconds) or 1)
        check(not msgs, "%s: unexpected extra replies %r" % (self.number,
                                                            [m["text"][:60] for m in msgs]))


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


def query(stack, sql, params=()):
    """Rows of a query on the stack's store (SQLite file or PostgreSQL), as
    tuples of strings (None for NULL) on both backends; `?` placeholders."""
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"), timeout=30)
        try:
            return [tuple(None if v is None else str(v) for v in r)
                    for r in con.execute(sql, params)]
        finally:
            con.close()
    for p in params:  # psql -c has no binding: tests pass only trusted literals
        sql = sql.replace("?", "'%s'" % str(p).replace("'", "''"), 1)
    out = subprocess.run(["psql", stack.env["DATABASE_URL"], "-At", "-F", "\t", "-P",
                          "null=\\N", "-c", sql], check=True, capture_output=True,
                         text=True).stdout
    return [tuple(None if v == "\\N" else v for v in l.split("\t"))
            for l in out.splitlines() if l]


def db_dump(stack):
    """Every table's rows as text, for privacy checks."""
    out = []
    if stack.backend == "sqlite":
        con = sqlite3.connect(os.path.join(stack.data, "ciu.db"))
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            for row in con.execute('SELECT * FROM "%s"' % t):
                out.append("%s: %r" % (t, row))
        con.close()
    else:
        url = stack.env["DATABASE_URL"]
        q = ("SELECT table_name FROM information_schema.tables WHERE table_schema='public'")
        tables = subprocess.run(["psql", url, "-At", "-c", q], check=True, capture_output=True,
                                text=True).stdout.split()
        for t in tables:
            rows = subprocess.run(["psql", url, "-At", "-c", 'SELECT * FROM "%s"' % t],
                                  check=True, capture_output=True, text=True).stdout
            out += ["%s: %s" % (t, r) for r in rows.splitlines()]
    return "\n".join(out)


def db_file_bytes(stack):
    """The raw bytes of the SQLite database and its WAL (deleted data must not linger)."""
    data = b""
    for suffix in ("", "-wal"):
        p = os.path.join(stack.data, "ciu.db" + suffix)
        if os.path.exists(p):
            data += open(p, "rb").read()
    return data


def run(test_fn, name, backend="sqlite", env=None, wrapper=None, stack_class=None):
    """Run test_fn(stack) against a fresh stack; exit code for ctest."""
    stack = (stack_class or Stack)(name, backend, env, wrapper)
    ok = False
    try:
        stack.start()
        test_fn(stack)
        codes = stack.stop()
        bad = {n: c for n, c in codes.items() if c not in (0, None)}
        check(not bad, "daemons did not stop cleanly (exit codes %r): leaks or crashes" % bad)
        ok = True
        print("%s [%s]: 1 passed, 0 failed" % (name, backend))
    except Exception as e:  # noqa: BLE001 - report everything as a test failure
        stack.stop()
        stack.dump_logs()
        print("FAIL %s [%s]: %s: %s" % (name, backend, type(e).__name__, e))
        print("%s [%s]: 0 passed, 1 failed" % (name, backend))
    finally:
        if ok:
            stack.cleanup()
        else:
            sys.stderr.write("test folder kept: %s\n" % stack.dir)
    return 0 if ok else 1
