#!/usr/bin/env python3
"""ciu-run (make run's supervisor) at its edges (issue 11).

- Two stacks side by side with nothing but CIU_HTTP_PORT and CIU_DATA_DIR:
  the ZeroMQ endpoints become ipc sockets in <data>/run/ and the admin
  ports 0; both chat. A variable that is set wins (an admin port given).
- The banner: `ciu-chat --url` when the port is not 8000, the channels
  enabled, and with no channel "No channel is enabled" instead of /sim/.
- A port in use: one clear line naming the port and the variable, exit 69,
  nothing left running.
- A configuration error: printed once (not once per daemon), exit 78.
- SIGINT to the process group (Ctrl-C): the stack stops, nothing restarts.
- A second ciu-run on the same data folder is refused.
- The seed's DATABASE_URL=sqlite:///./uic_database.db is a file in the
  working directory (not /uic_database.db), mode 600, named at start-up.
- CIU_SIM_ALLOWED_HOSTS set: its names (and name:port) are the only ones
  the simulator answers.
No fixed sleeps: every wait is for a condition; every port is 0 or taken
from a socket the test holds.
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import SOURCE_DIR, Person, build_dir, check, wait_for  # noqa: E402

RESULTS = []


def base_env(data, **extra):
    """The environment of a person typing `make run`: no endpoint or admin
    port variable (the test harness's own are removed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIU_", "META_", "TWILIO_",
                                                                      "DATABASE_URL"))}
    env.update({"CIU_DATA_DIR": data, "CIU_SHARE_DIR": os.path.join(SOURCE_DIR, "share"),
                "CIU_HTTP_PORT": "0", "CIU_SIMULATOR": "true", "CIU_RESCAN_MS": "200",
                "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23"})
    env.update(extra)
    return env


def s_ignore_int():
    """As for `make run &` started from a script: SIGINT ignored on entry (bash
    then cannot trap it), while the daemons still stop on it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class Run:
    """One ciu-run in its own folder (cwd: no .env) and process group."""

    def __init__(self, root, name, ignore_int=False, **extra):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.run_dir = os.path.join(self.data, "run")
        self.log_path = os.path.join(self.dir, "ciu-run.log")
        log = open(self.log_path, "wb")
        # started by make, as `make run` does (make and its sh -c in the group)
        mk = os.path.join(self.dir, "run.mk")
        with open(mk, "w") as f:
            f.write("run:\n\t@\"%s\"\n" % os.path.join(build_dir(), "tools", "ciu-run"))
        self.proc = subprocess.Popen(["make", "-s", "-f", mk, "run"],
                                     cwd=self.dir, env=base_env(self.data, **extra), stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True,
                                     preexec_fn=s_ignore_int if ignore_int else None)
        log.close()
        self.base = None

    def out(self):
        return open(self.log_path, errors="replace").read()

    def wait_running(self, timeout=60):
        wait_for(lambda: "Press Ctrl-C to stop" in self.out() or self.proc.poll() is not None,
                 timeout=timeout, what="ciu-run to start")
        check(self.proc.poll() is None, "ciu-run stopped at start (%s):\n%s"
              % (self.proc.returncode, self.out()[-3000:]))
        m = re.search(r"Health: +(http://127\.0\.0\.1:\d+)/health", self.out())
        check(m is not None, "no health URL in the banner")
        self.base = m.group(1)
        return self.out()

    def pids(self):
        got = {}
        for f in os.listdir(self.run_dir):
            if f.endswith(".pid"):
                try:
                    got[f[:-4]] = int(open(os.path.join(self.run_dir, f)).read())
                except (OSError, ValueError):
                    pass
        return got

    def ports(self, name):
        kv = {}
        for line in open(os.path.join(self.run_dir, name + ".ports")).read().split():
            k, _, v = line.partition("=")
            kv[k] = v
        return kv

    def wait_exit(self, timeout=60):
        """make's status, or ciu-run's own when make reports it ("Error 78")."""
        try:
            rc = self.proc.wait(timeout=timeout)
            m = re.search(r"run\] Error (\d+)", self.out())
            return int(m.group(1)) if m and rc == 2 else rc
        except subprocess.TimeoutExpired:
            raise AssertionError("ciu-run did not stop:\n" + self.out()[-3000:])

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Chat:
    """Person() needs only .send/.poll of a stack-like object."""

    def __init__(self, base):
        self.base = base

    def request(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=40) as r:
            return r.status, r.read()

    def send(self, number, text=None, kind=None):
        status, data = self.request("POST", "/sim/messages", {"from": number, "text": text})
        check(status == 202, "POST -> %s" % status)
        return json.loads(data)["id"]

    def refresh_base(self):
        pass

    def poll(self, number, cursor=None, wait=10):
        q = "/sim/messages?to=%s&wait=%d" % (number.replace("+", "%2B"), wait)
        if cursor:
            q += "&after=" + cursor
        _, data = self.request("GET", q)
        doc = json.loads(data)
        return doc["messages"], doc["cursor"]


def case(fn):
    RESULTS.append(fn)
    return fn


@case
def two_stacks_side_by_side(root):
    engine_port = free_port()
    a = Run(root, "a")
    b = Run(root, "b", CIU_ENGINE_ADMIN_PORT=str(engine_port))
    try:
        out_a = a.wait_running()
        b.wait_running()
        for r in (a, b):
            bus = open(os.path.join(r.run_dir, "bus.env")).read()
            check("CIU_CONVERSATION_ENDPOINTS=ipc://%s/conversation" % os.path.realpath(r.run_dir)
                  in bus, "endpoints not derived from the data folder: %r" % bus)
            check(os.path.exists(os.path.join(r.run_dir, "conversation")), "no ipc socket")
            check(int(r.ports("ciu-conversation")["admin"]) not in (8001, 0),
                  "admin port not kernel-chosen")
        check(b.ports("ciu-engine")["admin"] == str(engine_port),
              "CIU_ENGINE_ADMIN_PORT set for b must win: %r" % b.ports("ciu-engine"))
        check("derived from CIU_DATA_DIR" in out_a, "the banner does not say the bus is derived")
        check("channels: simulator" in out_a, "the banner does not name the channels")
        check("ciu-chat --url %s +243" % a.base in out_a,
              "the terminal command lacks --url for port %s:\n%s" % (a.base, out_a))
        for r in (a, b):
            Person(Chat(r.base), "+243810000777").say("Bonjour", "Question 1 sur 5", timeout=30)
        # a second ciu-run on a's data folder is refused, a keeps running
        c = subprocess.run([os.path.join(build_dir(), "tools", "ciu-run")], cwd=a.dir,
                           env=base_env(a.data), capture_output=True, text=True, timeout=60)
        check(c.returncode == 69 and "another ciu stack runs from" in c.stderr,
              "second ciu-run on one data folder: %s %r" % (c.returncode, c.stderr))
        check(a.proc.poll() is None, "the first stack stopped")
    finally:
        a.kill()
        b.kill()


@case
def sigint_to_the_group_stops(root):
    sigint_stops(root, False)


@case
def sigint_to_the_group_stops_even_ignored(root):
    sigint_stops(root, True)


def sigint_stops(root, ignore_int):
    a = Run(root, "int-%s" % ignore_int, ignore_int=ignore_int)
    try:
        a.wait_running()
        pids = a.pids()
        check(len(pids) == 5, "pid files: %r" % pids)
        os.killpg(a.proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        rc = a.wait_exit()  # the sh -c above: 0, or killed by the SIGINT it got too
        out = a.out()
        check(rc in (0, 2, -signal.SIGINT), "ciu-run after SIGINT: exit %s" % rc)
        if not ignore_int:
            check("ciu-run: stopped" in out, "ciu-run did not stop the stack:\n" + out[-2000:])
        check("restarting" not in out, "a daemon was restarted after SIGINT:\n" + out[-2000:])
        for name, pid in pids.items():
            check(not alive(pid), "%s (pid %d) still running after SIGINT" % (name, pid))
    finally:
        a.kill()


@case
def no_channel_says_so(root):
    a = Run(root, "nochan", CIU_SIMULATOR="false", UIC_SALT="0123456789abcdef" * 4)
    try:
        out = a.wait_running()
        check("channels: none" in out and "No channel is enabled" in out,
              "the banner does not say no channel is enabled:\n" + out)
        check("/sim/" not in out and "ciu-chat" not in out,
              "the banner points at the simulator that is off:\n" + out)
    finally:
        a.kill()


@case
def port_in_use_one_line(root):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for var in ("CIU_HTTP_PORT", "CIU_CONVERSATION_ADMIN_PORT"):
            a = Run(root, "busy-" + var.lower(), **{var: str(port)})
            try:
                rc = a.wait_exit(timeout=30)
                out = a.out()
                check(rc == 69, "%s in use: exit %s, expected 69:\n%s" % (var, rc, out))
                line = "port %d is in use: another ciu stack? set %s" % (port, var)
                check(out.count(line) == 1, "expected one line %r:\n%s" % (line, out))
                check("restarting" not in out, "a daemon was restarted:\n" + out)
                check(not [n for n, p in a.pids().items() if alive(p)], "daemons left running")
            finally:
                a.kill()


@case
def config_error_once(root):
    a = Run(root, "conf", CIU_DEFAULT_LANGUAGE="xx")
    try:
        rc = a.wait_exit(timeout=30)
        out = a.out()
        check(rc == 78, "configuration error: exit %s, expected 78:\n%s" % (rc, out))
        n = out.count("CIU_DEFAULT_LANGUAGE: 'xx' is not a supported language")
        check(n == 1, "the configuration error was printed %d times:\n%s" % (n, out))
        check("restarting" not in out, "a daemon was restarted:\n" + out)
        check(not [n for n, p in a.pids().items() if alive(p)], "daemons left running")
    finally:
        a.kill()


@case
def seed_database_url(root):
    """The seed's DATABASE_URL is a file in the working directory, mode 600,
    named in the start-up log."""
    a = Run(root, "seed", DATABASE_URL="sqlite:///./uic_database.db")
    try:
        out = a.wait_running()
        db = os.path.join(a.dir, "uic_database.db")
        check(os.path.exists(db), "no %s (the seed's sqlite:///./ is relative)" % db)
        mode = os.stat(db).st_mode & 0o777
        check(mode == 0o600, "database mode %o, expected 600" % mode)
        check("store: SQLite file %s" % os.path.realpath(db) in out
              or "store: SQLite file %s" % db in out,
              "the start-up log does not name the store:\n" + out[:1500])
    finally:
        a.kill()


@case
def sim_allowed_hosts_configured(root):
    """CIU_SIM_ALLOWED_HOSTS replaces the loopback names (a training network)."""
    import http.client
    a = Run(root, "hosts", CIU_SIM_ALLOWED_HOSTS="trainer.lan, 192.168.1.20:8000")
    try:
        a.wait_running()
        port = int(a.base.rsplit(":", 1)[1])

        def get(host):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.putrequest("GET", "/sim/", skip_host=True)
            c.putheader("Host", host)
            c.endheaders()
            st = c.getresponse().status
            c.close()
            return st
        for host, want in [("trainer.lan", 200), ("TRAINER.LAN:%d" % port, 200),
                           ("192.168.1.20:8000", 200), ("192.168.1.20:8001", 403),
                           ("127.0.0.1:%d" % port, 403), ("localhost", 403)]:
            got = get(host)
            check(got == want, "Host %s: %s, expected %s" % (host, got, want))
    finally:
        a.kill()


def main():
    only = sys.argv[1:]
    root = tempfile.mkdtemp(prefix="ciu-edges-")
    passed = failed = 0
    for fn in RESULTS:
        if only and fn.__name__ not in only:
            continue
        t0 = time.monotonic()
        try:
            fn(root)
            passed += 1
            print("ok %s (%.1fs)" % (fn.__name__, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s: %s" % (fn.__name__, e))
    print("run_edges: %d passed, %d failed (folder %s)" % (passed, failed, root))
    if failed == 0:
        subprocess.run(["rm", "-rf", root])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
