#!/usr/bin/env python3
"""ciu-run (make run's supervisor): prints where to chat, restarts a daemon
killed with SIGKILL so the conversation goes on, and stops everything on
SIGTERM. Every port is 0: the chat URL must name the port ingress got (its
port file), so parallel tests never race for a port."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from stack import Person, Stack, build_dir, check, wait_for  # noqa: E402


def pid_of(run_dir, name, timeout=20, not_pid=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            pid = int(open(os.path.join(run_dir, name + ".pid")).read())
            if pid != not_pid:
                return pid
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("no new pid file for %s" % name)


def main():
    stack = Stack("ciu-run")  # used for its environment (ports 0, ipc) and API helpers only
    env = dict(stack.env)
    check(env["CIU_HTTP_PORT"] == "0", "the harness should ask for port 0")
    log_path = os.path.join(stack.dir, "ciu-run.log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([os.path.join(build_dir(), "tools", "ciu-run")], cwd=stack.dir,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    ok = False
    try:
        run_dir = os.path.join(stack.data, "run")
        wait_for(lambda: "ciu is running" in open(log_path).read(), what="ciu-run to start")
        out = open(log_path).read()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/sim/", out)
        check(m is not None, "ciu-run did not print the chat URL")
        ports = open(os.path.join(run_dir, "ciu-ingress.ports")).read().split()
        check("http=%s" % m.group(1) in ports,
              "chat URL port %s is not the port ingress got (%r)" % (m.group(1), ports))
        stack.base = "http://127.0.0.1:%s" % m.group(1)
        p = Person(stack, "+243810000321")
        p.say("Bonjour", "Question 1 sur 5")
        for name in ("ciu-conversation", "ciu-engine", "ciu-sender"):
            pid = pid_of(run_dir, name)
            os.kill(pid, signal.SIGKILL)
            pid_of(run_dir, name, not_pid=pid)
        check("ciu-conversation was killed by signal 9; restarting" in open(log_path).read(),
              "no restart log line")
        for text, want in [("Mbengue", "Question 2"), ("Ibrahima", "Question 3"),
                           ("1997", "Question 4"), ("DA", "Question 5"), ("1", "MBE · IBR"),
                           ("1", "MBEIBR7DA1")]:
            p.say(text, want, timeout=30)
        pids = [pid_of(run_dir, n) for n in ("ciu-ingress", "ciu-sender")]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        for pid in pids:
            try:
                os.kill(pid, 0)
                raise AssertionError("daemon %d still running after ciu-run stopped" % pid)
            except ProcessLookupError:
                pass
        ok = True
        print("ciu_run: 1 passed, 0 failed")
    except Exception as e:  # noqa: BLE001
        print("FAIL ciu_run: %s" % e)
        sys.stderr.write(open(log_path, errors="replace").read()[-6000:])
        print("ciu_run: 0 passed, 1 failed")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if ok:
            stack.cleanup()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
