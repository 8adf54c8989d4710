#!/usr/bin/env python3
"""it_deploy: the production deployment, checked without a Docker engine.

Parts (each prints PASS, FAIL or SKIP with the reason; any FAIL fails the test):
- packages:    deploy/packages/{build,runtime,test}.txt are the one list: `make deps`
               and the Dockerfile read them; every -dev package has its runtime library
               in runtime.txt (its `runtime=` note, and apt-cache's view when it knows it).
- dockerfile:  multi-stage, Debian slim, non-root; the sources its build stage copies
               configure with CMake on their own (a forgotten folder fails here).
- compose:     `docker-compose config -q` (or `docker compose`) on docker-compose.yml
               with deploy/.env.example and deploy/make-secrets; the resolved file has a
               healthcheck, restart policy, limits and secrets on every daemon, only
               127.0.0.1:8000 published, and compose's own resolution of each service's
               environment equals ours (used below).
- nginx:       `nginx -t` on deploy/nginx/ciu.conf with a self-signed certificate.
- systemd:     `systemd-analyze security --offline=true` (exposure <= MAX_EXPOSURE) and
               `systemd-analyze verify` of deploy/systemd/.
- prometheus:  promtool check config / check rules / test rules on deploy/prometheus/.
- topology:    the compose topology without Docker: each daemon service's command and
               environment (.env + x-ciu-env + its own), hostnames and ports rewritten
               to ipc:// sockets and port 0 with --port-file, PostgreSQL, the secrets
               read through *_FILE; one whole conversation through signed Meta webhooks
               to a fake Graph API, the CIU issued; every /health ok; /metrics only on the
               admin ports; every metric of the alert rules and of docs/monitoring.md
               exported; JSON logs with one trace id across ingress, conversation,
               engine and sender; no secret and no phone number in the logs.
- seed_env:    the same topology with the seed's .env (tests/integration/data/
               seed.env.example) unchanged: what starts, and the one line naming each
               variable ciu needs on top of it; with those added, everything starts.

Usage: test_deploy.py [PART...] (CIU_BUILD_DIR, CIU_TEST_PG_URL_FILE from ctest).
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import providers as P  # noqa: E402
from stack import SOURCE_DIR, TestFailure, build_dir, check, pg_url, wait_for  # noqa: E402

try:
    import yaml
except ImportError:  # python3-yaml is in deploy/packages/test.txt
    yaml = None

MAX_EXPOSURE = 2.0  # systemd-analyze security: every unit at or below this ("OK")
DAEMONS = {  # compose service -> (binary in the build tree, admin port variable)
    "ingress": ("ingress/ciu-ingress", "CIU_INGRESS_ADMIN_PORT"),
    "conversation": ("conversation/ciu-conversation", "CIU_CONVERSATION_ADMIN_PORT"),
    "engine": ("ciu-engine/ciu-engine", "CIU_ENGINE_ADMIN_PORT"),
    "dhis2-bridge": ("dhis2-bridge/ciu-dhis2-bridge", "CIU_DHIS2_ADMIN_PORT"),
    "sender": ("sender/ciu-sender", "CIU_SENDER_ADMIN_PORT"),
}
TOOLS = {"ciu-admin": "tools/ciu-admin"}
BINARIES = dict(TOOLS, **{os.path.basename(b): b for b, _ in DAEMONS.values()})
START_TIMEOUT = 40

results = []


class Skip(Exception):
    pass


def part(fn):
    """Run one part; record PASS, FAIL (with the reason) or SKIP."""
    name = fn.__name__.replace("part_", "")
    t0 = time.time()
    try:
        fn()
        results.append((name, "PASS", ""))
    except Skip as e:
        results.append((name, "SKIP", str(e)))
    except Exception as e:  # noqa: BLE001 - every error is this part's failure
        results.append((name, "FAIL", "%s: %s" % (type(e).__name__, e)))
    status, why = results[-1][1], results[-1][2]
    print("%s %s (%.1fs)%s" % (status, name, time.time() - t0, ": " + why if why else ""),
          flush=True)


def need(tool):
    path = shutil.which(tool)
    if not path:
        raise Skip("%s is not installed (deploy/packages/test.txt; make deps)" % tool)
    return path


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


def src(*p):
    return os.path.join(SOURCE_DIR, *p)


# ---- packages ------------------------------------------------------------------------

def read_list(name):
    """[(package, {note: value})] of deploy/packages/<name>.txt."""
    out = []
    for line in open(src("deploy", "packages", name + ".txt")):
        body, _, comment = line.partition("#")
        pkg = body.strip()
        if not pkg:
            continue
        check(re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", pkg), "%s.txt: bad package name %r" % (
            name, pkg))
        notes = dict(re.findall(r"(\w+)=(\S+)", comment))
        out.append((pkg, notes))
    return out


def part_packages():
    build, runtime, test = read_list("build"), read_list("runtime"), read_list("test")
    runtime_names = {p for p, _ in runtime}
    named = set()
    for pkg, notes in build:
        if not pkg.endswith("-dev"):
            continue
        rt = notes.get("runtime")
        check(rt, "build.txt: %s has no `# runtime=<package>` note" % pkg)
        if rt != "none":
            check(rt in runtime_names, "build.txt: %s needs %s at run time, missing from "
                  "runtime.txt" % (pkg, rt))
            named.add(rt)
    stray = {p for p in runtime_names if p.startswith("lib")} - named
    check(not stray, "runtime.txt: %s match no -dev package of build.txt" % sorted(stray))
    # apt's own view, where this machine knows the packages (offline: its cached lists)
    notes = {p: n["runtime"] for p, n in build if n.get("runtime", "none") != "none"}
    if shutil.which("apt-cache") and notes:
        r = run(["apt-cache", "depends", "--no-recommends", "--no-suggests"] + sorted(notes))
        deps = {}
        for block in re.split(r"^(?=\S)", r.stdout, flags=re.M):
            lines = block.splitlines()
            if lines:
                deps[lines[0].strip()] = set(re.findall(r"Depends: (\S+)", block))
        for pkg, rt in notes.items():
            if deps.get(pkg):  # unknown to this machine's apt: the note alone is checked
                check(rt in deps[pkg], "apt-cache: %s does not depend on %s (runtime= note "
                      "wrong?): %s" % (pkg, rt, sorted(deps[pkg])))
    # make deps installs exactly the lists
    r = run(["make", "-s", "-n", "-C", SOURCE_DIR, "deps"])
    check(r.returncode == 0, "make -n deps failed: %s" % r.stderr)
    words = set(r.stdout.split())
    for pkg, _ in build + test:
        check(pkg in words, "make deps does not install %s: %s" % (pkg, r.stdout.strip()))
    # the Dockerfile installs the same files, and no package list of its own
    df = open(src("Dockerfile")).read()
    for f in ("build.txt", "runtime.txt"):
        check("COPY deploy/packages/%s " % f in df, "Dockerfile does not COPY %s" % f)
    check(df.count("xargs apt-get install") == 2, "Dockerfile: both stages must install "
          "their list with `xargs apt-get install`")
    for m in re.finditer(r"apt-get install[^\n]*((?:\\\n[^\n]*)*)", df):
        check(not re.search(r"\blib[a-z0-9-]+", m.group(0)), "Dockerfile names packages "
              "itself instead of reading deploy/packages/: %r" % m.group(0))


# ---- Dockerfile ------------------------------------------------------------------------

def part_dockerfile():
    df = open(src("Dockerfile")).read()
    stages = re.findall(r"^FROM\s+(\S+)", df, re.M)
    check(len(stages) == 2 and all(s.startswith("debian:12-slim") for s in stages),
          "expected two debian:12-slim stages, got %r" % stages)
    runtime = df[df.rindex("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", runtime, re.M)
    check(users and users[-1] not in ("root", "0"), "runtime stage runs as %r" % users)
    check("/run/secrets" not in df, "secrets do not belong in the image")
    # the build stage's sources, alone, configure
    build_stage = df[:df.rindex("\nFROM ")]
    tmp = tempfile.mkdtemp(prefix="ciu-dockerfile-")
    try:
        for a, b in re.findall(r"^COPY\s+(?!--)(\S+)\s+(\S+)\s*$", build_stage, re.M):
            if a.startswith("deploy/packages/"):
                continue
            dst = os.path.join(tmp, "src", b if b not in ("./", ".") else a)
            if os.path.isdir(src(a)):
                shutil.copytree(src(a), dst, ignore=shutil.ignore_patterns(
                    "build*", "__pycache__"))
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(src(a), dst)
        m = re.search(r"cmake -S /src -B /build ([^\n]*(?:\\\n[^\n&]*)*)", build_stage)
        check(m, "no `cmake -S /src -B /build` in the build stage")
        opts = [o for o in m.group(1).replace("\\\n", " ").split() if o.startswith("-D")]
        r = run(["cmake", "-S", os.path.join(tmp, "src"), "-B", os.path.join(tmp, "b")] + opts,
                timeout=180)
        check(r.returncode == 0, "the image's sources do not configure (a folder missing "
              "from the COPY lines?):\n%s" % (r.stdout + r.stderr)[-1500:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- compose -------------------------------------------------------------------------

def compose_cmd():
    """docker compose v2 or Debian's docker-compose v1, or None."""
    if shutil.which("docker"):
        r = run(["docker", "compose", "version"])
        if r.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def parse_dotenv(path):
    """KEY=value lines as compose's env_file reads them (no quotes in ours)."""
    env = {}
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        k, v = line.split("=", 1)
        env[k.strip()] = v
    return env


def make_project(dotenv_text, secrets=None):
    """A compose project folder: docker-compose.yml, .env, secrets/ (make-secrets, then
    `secrets` written over it). Returns its path."""
    d = tempfile.mkdtemp(prefix="ciu-compose-")
    shutil.copy(src("docker-compose.yml"), d)
    with open(os.path.join(d, ".env"), "w") as f:
        f.write(dotenv_text)
    r = run([src("deploy", "make-secrets"), os.path.join(d, "secrets")])
    check(r.returncode == 0, "deploy/make-secrets failed: %s" % r.stderr)
    for name, value in (secrets or {}).items():
        with open(os.path.join(d, "secrets", name), "w") as f:
            f.write(value + "\n")
    return d


def interpolate(value, env):
    """${VAR}, ${VAR:-default}, ${VAR:?error} as compose does (our file's forms)."""
    def sub(m):
        name, op, arg = m.group(1), m.group(2), m.group(3)
        v = env.get(name)
        if op == ":-" and not v:
            return arg
        if op == ":?" and not v:
            raise TestFailure("compose would refuse: %s" % arg)
        return v or ""
    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", sub, value)


def resolve(project):
    """{service: {"command": [...], "environment": {...}, ...}} resolved like compose:
    env_file (.env), then the service's environment (which wins)."""
    check(yaml is not None, "python3-yaml is missing")
    doc = yaml.safe_load(open(os.path.join(project, "docker-compose.yml")))
    dotenv = parse_dotenv(os.path.join(project, ".env"))
    out = {}
    for name, svc in doc["services"].items():
        env = {}
        if svc.get("env_file"):
            env.update(parse_dotenv(os.path.join(project, svc["env_file"])))
        for k, v in (svc.get("environment") or {}).items():
            env[k] = interpolate(str(v), dotenv)
        out[name] = dict(svc, environment=env)
    return doc, out


def part_compose():
    project = make_project(open(src("deploy", ".env.example")).read())
    try:
        doc, svcs = resolve(project)
        cmd = compose_cmd()
        if cmd:
            r = run(cmd + ["config", "-q"], cwd=project)
            check(r.returncode == 0, "%s config -q: %s" % (" ".join(cmd), r.stderr.strip()))
            r = run(cmd + ["config"], cwd=project)
            check(r.returncode == 0, "%s config: %s" % (" ".join(cmd), r.stderr.strip()))
            theirs = yaml.safe_load(r.stdout)["services"]
            for name in DAEMONS:
                mine = {k: str(v) for k, v in svcs[name]["environment"].items()}
                got = {k: str(v) for k, v in (theirs[name].get("environment") or {}).items()}
                check(mine == got, "%s: compose resolves another environment than this test: "
                      "%r" % (name, set(mine.items()) ^ set(got.items())))
        else:
            print("  (no docker compose / docker-compose: config -q not run)")
        secrets = set(doc.get("secrets", {}))
        check({"uic_salt", "postgres_password"} <= secrets, "secrets: %r" % secrets)
        for name, svc in svcs.items():
            if name in ("postgres", "prometheus"):
                continue
            env = svc["environment"]
            check(svc.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory"),
                  "%s: no memory limit" % name)
            check(svc["deploy"]["resources"]["limits"].get("cpus"), "%s: no cpus limit" % name)
            mounted = set(s if isinstance(s, str) else s["source"] for s in svc.get("secrets", []))
            for k, v in env.items():
                if k.endswith("_FILE"):
                    check(v.startswith("/run/secrets/") and v[13:] in mounted,
                          "%s: %s=%s is not a mounted secret" % (name, k, v))
            check(env.get("UIC_SALT_FILE") == "/run/secrets/uic_salt", "%s: salt" % name)
            check(env.get("DATABASE_PASSWORD_FILE") == "/run/secrets/postgres_password" and
                  "@postgres:" in env.get("DATABASE_URL", "") and
                  ":" not in env["DATABASE_URL"].split("://")[1].split("@")[0],
                  "%s: DATABASE_URL must carry no password (the secret does)" % name)
        for name in DAEMONS:
            svc = svcs[name]
            check(svc.get("restart") == "unless-stopped", "%s: restart %r" % (
                name, svc.get("restart")))
            test = " ".join(svc.get("healthcheck", {}).get("test", []))
            port = svc["environment"][DAEMONS[name][1]]
            check("curl" in test and "127.0.0.1:%s/health" % port in test,
                  "%s: healthcheck %r must curl its admin port %s" % (name, test, port))
            deps = svc.get("depends_on", {})
            check(deps.get("migrate", {}).get("condition") == "service_completed_successfully",
                  "%s must wait for migrate" % name)
        check(svcs["migrate"]["command"] == ["ciu-admin", "migrate"] and
              svcs["migrate"].get("restart") == "no", "migrate: one shot of ciu-admin migrate")
        check(svcs["postgres"]["environment"].get("POSTGRES_PASSWORD_FILE") ==
              "/run/secrets/postgres_password", "postgres: POSTGRES_PASSWORD_FILE")
        for name, svc in svcs.items():
            ports = [interpolate(str(p), {}) for p in svc.get("ports", [])]
            if name == "ingress":
                check(ports == ["127.0.0.1:8000:8000"], "ingress publishes %r" % ports)
            elif name == "prometheus":
                check(all(p.startswith("127.0.0.1:") for p in ports), "prometheus: %r" % ports)
            else:
                check(not ports, "%s publishes %r (only ingress 8000 may)" % (name, ports))
        # scaling by `--scale` (docs/scaling.md): replicas find each other in the store,
        # each binds its own port in bind form
        text = open(src("docker-compose.yml")).read()
        check("--scale conversation=3" in text and
              svcs["conversation"]["environment"]["CIU_BIND"] == "tcp://*:5601",
              "the scaling comment no longer matches the file")
        for name in ("ingress", "conversation", "engine", "dhis2-bridge", "sender"):
            check(svcs[name]["environment"].get("CIU_DISCOVERY") == "store",
                  "%s: CIU_DISCOVERY is not store (--scale would not work)" % name)
    finally:
        shutil.rmtree(project, ignore_errors=True)


# ---- nginx ---------------------------------------------------------------------------

def part_nginx():
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not nginx:
        raise Skip("nginx is not installed (deploy/packages/test.txt; make deps)")
    need("openssl")
    site = open(src("deploy", "nginx", "ciu.conf")).read()
    for want in ("location = /whatsapp/webhook", "location /admin/", "location /webhooks/",
                 "X-Forwarded-Proto $scheme", "X-Forwarded-Host $host", "client_max_body_size",
                 "/etc/letsencrypt/live/", "proxy_pass http://ciu_ingress", "127.0.0.1:8000",
                 "/.well-known/acme-challenge/", "return 301 https://"):
        check(want in site, "deploy/nginx/ciu.conf lacks %r" % want)
    check("/metrics" not in re.sub(r"#[^\n]*", "", site), "nginx must not forward /metrics")
    d = tempfile.mkdtemp(prefix="ciu-nginx-")
    try:
        r = run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=ciu.example.org", "-keyout", d + "/key.pem", "-out",
                 d + "/cert.pem"])
        check(r.returncode == 0, "openssl: %s" % r.stderr)
        site = site.replace("/etc/letsencrypt/live/ciu.example.org/fullchain.pem",
                            d + "/cert.pem")
        site = site.replace("/etc/letsencrypt/live/ciu.example.org/privkey.pem", d + "/key.pem")
        open(d + "/site.conf", "w").write(site)
        open(d + "/nginx.conf", "w").write(
            "pid %s/nginx.pid;\nerror_log %s/error.log;\nevents {}\nhttp {\n"
            "    access_log off;\n    client_body_temp_path %s/tmp;\n"
            "    include %s/site.conf;\n}\n" % (d, d, d, d))
        r = run([nginx, "-t", "-q", "-p", d, "-c", d + "/nginx.conf", "-e", d + "/error.log"])
        check(r.returncode == 0, "nginx -t: %s" % (r.stdout + r.stderr).strip())
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- systemd -------------------------------------------------------------------------

def part_systemd():
    sa = need("systemd-analyze")
    units = src("deploy", "systemd")
    names = sorted(os.listdir(units))
    for want in ("ciu@.service", "ciu-migrate.service", "ciu.target", "ciu-purge.service",
                 "ciu-purge.timer", "ciu-backup.service", "ciu-backup.timer"):
        check(want in names, "deploy/systemd/%s missing" % want)
    check("ciu-admin purge" in open(os.path.join(units, "ciu-purge.service")).read(),
          "ciu-purge.service must run ciu-admin purge")
    check("ciu-admin backup " in open(os.path.join(units, "ciu-backup.service")).read(),
          "ciu-backup.service must run ciu-admin backup FILE")
    scores = {}
    for name in names:
        if not name.endswith(".service"):
            continue
        text = open(os.path.join(units, name)).read()
        for want in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            check(want in text, "%s lacks %s" % (name, want))
        check(re.search(r"^(User=(?!root)\w+|DynamicUser=yes)", text, re.M),
              "%s runs as root" % name)
        r = run([sa, "security", "--offline=true", "--no-pager", os.path.join(units, name)])
        m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout + r.stderr)
        if not m:
            raise Skip("systemd-analyze security --offline=true did not answer: %s"
                       % (r.stdout + r.stderr)[-300:])
        scores[name] = float(m.group(1))
    print("  systemd-analyze security: %s" % ", ".join("%s %.1f" % kv for kv in scores.items()))
    bad = {n: s for n, s in scores.items() if s > MAX_EXPOSURE}
    check(not bad, "exposure above %.1f: %r" % (MAX_EXPOSURE, bad))
    # verify: the template as an instance, the binaries those of this build
    d = tempfile.mkdtemp(prefix="ciu-units-")
    try:
        b = build_dir()
        for name in names:
            text = open(os.path.join(units, name)).read()
            for tool, rel in BINARIES.items():
                text = text.replace("/usr/local/bin/%s" % tool, os.path.join(b, rel))
            text = text.replace("/usr/local/bin/ciu-", os.path.join(b, "ingress", "ciu-"))
            out = name.replace("ciu@.service", "ciu@ingress.service")
            open(os.path.join(d, out), "w").write(text)
        files = [os.path.join(d, n) for n in sorted(os.listdir(d))]
        r = run([sa, "verify", "--man=no"] + files, cwd=d)
        noise = [l for l in (r.stdout + r.stderr).splitlines() if l.strip() and not re.search(
            r"(is not executable|Failed to put bus name|Unit is bound to inactive)", l)]
        check(r.returncode == 0 and not noise, "systemd-analyze verify:\n%s" % "\n".join(noise))
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---- prometheus ----------------------------------------------------------------------

def part_prometheus():
    promtool = need("promtool")
    d = src("deploy", "prometheus")
    for args in (["check", "config", "prometheus.yml", "prometheus-host.yml"],
                 ["check", "rules", "ciu-alerts.yml"],
                 ["test", "rules", "ciu-alerts.test.yml"]):
        r = run([promtool] + args, cwd=d)
        check(r.returncode == 0, "promtool %s:\n%s" % (" ".join(args), r.stdout + r.stderr))
    # every daemon's admin port, never the public one
    for f in ("prometheus.yml", "prometheus-host.yml"):
        text = open(os.path.join(d, f)).read()
        ports = sorted(set(re.findall(r"[\w.-]+:(80\d\d)\"", text)))
        check(ports == ["8001", "8002", "8003", "8004", "8005"], "%s scrapes %r" % (f, ports))


def alert_metrics():
    """ciu_* names used by the alert rules."""
    doc = yaml.safe_load(open(src("deploy", "prometheus", "ciu-alerts.yml")))
    names = set()
    for g in doc["groups"]:
        for rule in g["rules"]:
            names |= set(re.findall(r"\b(ciu_[a-z0-9_]+)", rule["expr"]))
    return names


def doc_metrics():
    """ciu_* names listed in docs/monitoring.md's tables (first column)."""
    names = set()
    for line in open(src("docs", "monitoring.md")):
        m = re.match(r"\|\s*`(ciu_[a-z0-9_]+)", line)
        if m:
            names.add(m.group(1))
    return names


# ---- the topology without Docker -----------------------------------------------------

class Topology:
    """The compose file's daemon services as local processes."""

    def __init__(self, name, dotenv_text, secrets, extra_env=None):
        self.build = build_dir()
        self.project = make_project(dotenv_text, secrets)
        self.dir = tempfile.mkdtemp(prefix="ciu-topo-%s-" % name)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "s")
        self.work = os.path.join(self.dir, "work")  # the containers' WORKDIR: no .env
        for p in (self.data, self.sock, self.work):
            os.makedirs(p)
        self.url = pg_url("ciu_deploy_%s_%d" % (name, os.getpid()))
        self.doc, self.svcs = resolve(self.project)
        self.image_env = self.dockerfile_env()
        self.extra = extra_env or {}
        self.procs, self.logs, self.ports = {}, {}, {}

    @staticmethod
    def dockerfile_env():
        """ENV of the runtime stage (what the image adds to every container)."""
        df = open(src("Dockerfile")).read()
        runtime = df[df.rindex("\nFROM "):]
        env = {}
        for m in re.finditer(r"^ENV\s+((?:[^\n]*\\\n)*[^\n]*)", runtime, re.M):
            for k, v in re.findall(r"(\w+)=(\S+)", m.group(1).replace("\\\n", " ")):
                env[k] = v
        return env

    def map_value(self, service, key, v):
        pg = urllib.parse.urlsplit(self.url)
        if key == "DATABASE_URL" and "@postgres:" in v:
            u = urllib.parse.urlsplit(v)
            return urllib.parse.urlunsplit((u.scheme, "%s@%s" % (u.username, pg.netloc.split(
                "@")[-1]), pg.path, u.query, ""))
        if key == "CIU_HTTP_ADDR":
            return "127.0.0.1"
        if key == "CIU_HTTP_PORT" or re.fullmatch(r"CIU_\w+_ADMIN_PORT", key):
            return "0"
        if v.startswith("/run/secrets/"):
            return os.path.join(self.project, "secrets", v[len("/run/secrets/"):])
        if v == "/var/lib/ciu" or v.startswith("/var/lib/ciu/"):
            return self.data + v[len("/var/lib/ciu"):]
        if v == "/usr/share/ciu":
            return src("share")

        def ep(m):
            host, port = m.group(1), m.group(2)
            check(host == "*" or host in self.svcs, "%s: %s names no service" % (service, v))
            return "ipc://%s/%s-%s" % (self.sock, service if host == "*" else host, port)
        return re.sub(r"tcp://([\w*.-]+):(\d+)", ep, v)

    def env(self, service):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.work,
               "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:exitcode=23",
               "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
        merged = dict(self.image_env)
        merged.update(self.svcs[service]["environment"])
        for k, v in merged.items():
            env[k] = self.map_value(service, k, str(v))
        env.update(self.extra)
        return env

    def binary(self, command):
        check(command[0] in BINARIES, "unknown command %r" % command)
        return [os.path.join(self.build, BINARIES[command[0]])] + list(command[1:])

    def migrate(self):
        r = run(self.binary(self.svcs["migrate"]["command"]), env=self.env("migrate"),
                cwd=self.work)
        check(r.returncode == 0, "migrate exited %d: %s" % (r.returncode, r.stderr[-800:]))

    def start(self, service):
        pf = os.path.join(self.dir, service + ".ports")
        log = open(os.path.join(self.dir, service + ".log"), "ab")
        self.logs[service] = log.name
        self.procs[service] = subprocess.Popen(
            self.binary(self.svcs[service]["command"]) + ["--port-file", pf],
            env=self.env(service), cwd=self.work, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def wait_ports(self, service):
        pf = os.path.join(self.dir, service + ".ports")
        want = {"http", "admin"} if service == "ingress" else {"admin"}

        def ready():
            p = self.procs[service]
            check(p.poll() is None, "%s exited with %s at start:\n%s" % (
                service, p.returncode, self.log_tail(service)))
            if not os.path.exists(pf):
                return None
            kv = dict(l.split("=", 1) for l in open(pf).read().split() if "=" in l)
            return kv if want <= set(kv) else None
        self.ports[service] = wait_for(ready, START_TIMEOUT, "%s port file" % service)
        return self.ports[service]

    def started(self, service):
        """Port file complete and /health ok (False while starting)."""
        pf = os.path.join(self.dir, service + ".ports")
        if not os.path.exists(pf):
            return False
        kv = dict(l.split("=", 1) for l in open(pf).read().split() if "=" in l)
        if not ({"http", "admin"} if service == "ingress" else {"admin"}) <= set(kv):
            return False
        self.ports[service] = kv
        return self.health(service)

    def health(self, service, which="admin"):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s/health" % self.ports[service][
                    which], timeout=5) as r:
                return r.status == 200 and json.loads(r.read()).get("status") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def get(self, service, path, which="admin"):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%s%s" % (
                    self.ports[service][which], path), timeout=10) as r:
                return r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace")

    def start_all(self):
        self.migrate()
        for s in DAEMONS:
            self.start(s)
        for s in DAEMONS:
            self.wait_ports(s)
            wait_for(lambda: self.health(s), START_TIMEOUT, "%s /health" % s)

    @property
    def base(self):
        return "http://127.0.0.1:%s" % self.ports["ingress"]["http"]

    def log(self, service):
        return open(self.logs[service], errors="replace").read()

    def log_tail(self, service, n=30):
        return "\n".join(self.log(service).splitlines()[-n:])

    def stop(self):
        codes = {}
        for s, p in self.procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for s, p in self.procs.items():
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            codes[s] = p.returncode
        return codes

    def dump(self):
        for s in self.logs:
            sys.stderr.write("==== %s ====\n%s\n" % (s, self.log_tail(s, 40)))

    def cleanup(self):
        shutil.rmtree(self.project, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def finish(self, ok):
        """After a part: remove the folders, or on failure stop, dump and keep them."""
        if ok:
            self.cleanup()
            return
        self.stop()
        self.dump()
        sys.stderr.write("kept: %s %s\n" % (self.dir, self.project))


def metric_families(text):
    """{family name: [sample lines]} of a Prometheus text exposition."""
    fam, types = {}, {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            types[m.group(1)] = m.group(2)
            fam.setdefault(m.group(1), [])
        elif line and not line.startswith("#"):
            name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
            base = re.sub(r"_(bucket|sum|count)$", "", name)
            fam.setdefault(base if base in types else name, []).append(line)
    return fam


def sample(fams, family, want_labels="", suffix=""):
    """Sum of the samples of family(+suffix) whose labels contain every k="v" given."""
    total, found = 0.0, False
    for line in fams.get(family, []):
        name, _, rest = line.partition("{") if "{" in line.split(" ")[0] else (
            line.split(" ")[0], "", "")
        if name != family + suffix:
            continue
        labels = rest.rsplit("}", 1)[0] if rest else ""
        if all(w in labels for w in filter(None, want_labels.split(","))):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


VERIFY_TOKEN = "deploy-verify-token"
PHONE = "+243810000001"


def part_topology():
    if not os.environ.get("CIU_TEST_PG_URL_FILE"):
        raise Skip("no PostgreSQL (ctest fixture pg)")
    fake = P.start_meta()
    salt = os.urandom(32).hex()
    pgpw = "pw-" + os.urandom(8).hex()
    dotenv = open(src("deploy", ".env.example")).read() + "\n".join([
        "", "# filled for the test",
        "META_PHONE_NUMBER_ID=%s" % P.META_PHONE_NUMBER_ID,
        "META_GRAPH_BASE_URL=%s" % fake.base,
        "PUBLIC_BASE_URL=https://ciu.test",
        "CIU_TRUST_PROXY=true",
        "LOG_JSON=true", "LOG_LEVEL=debug", "CIU_RESCAN_MS=300", ""])
    # .env.example sets LOG_JSON/LOG_LEVEL already: the later line wins in compose too
    secrets = {"uic_salt": salt, "postgres_password": pgpw,
               "meta_access_token": P.META_TOKEN, "meta_app_secret": P.META_APP_SECRET,
               "meta_verify_token": VERIFY_TOKEN}
    topo = Topology("prod", dotenv, secrets)
    ok = False
    try:
        topo.start_all()
        fake.control(webhook=topo.base + "/whatsapp/webhook")
        # the secrets came from the files
        for s in DAEMONS:
            check("store: PostgreSQL postgresql://ciu:***@127.0.0.1" in topo.log(s),
                  "%s: the database password (secret file) was not used" % s)
        check("channels: meta" in topo.log("ingress"), "ingress: Meta channel not on:\n%s"
              % topo.log_tail("ingress"))
        status, _, body = P.http_get(P.meta_verify_url(topo.base + "/whatsapp/webhook",
                                                        VERIFY_TOKEN, "4242"))
        check(status == 200 and body == b"4242", "verify token (secret file): %s" % status)
        # /metrics: admin ports only
        status, _ = topo.get("ingress", "/metrics", "http")
        check(status == 404, "/metrics on the public port answered %s" % status)
        check(topo.health("ingress", "http"), "ingress /health on the public port")

        # one conversation through signed webhooks
        def say(msg):
            body = P.meta_body(P.meta_inbound_payload(messages=[msg]))
            st, _, b = P.post_json(topo.base + "/whatsapp/webhook", body,
                                   P.meta_headers(body, P.META_APP_SECRET))
            check(st == 200, "webhook answered %s %r" % (st, b))

        def replies():
            return [c for c in fake.calls("messages") if c.get("to") == PHONE[1:] and
                    200 <= c["status"] < 300]

        def expect(n, text):
            return wait_for(lambda: len(replies()) >= n and text.lower() in json.dumps(
                replies()[-1]["json"], ensure_ascii=False).lower() and replies(), 30,
                "reply %d containing %r (have %r)" % (n, text, [json.dumps(
                    c["json"], ensure_ascii=False)[:80] for c in replies()[-2:]]))

        num = PHONE[1:]
        say(P.meta_text(num, "Bonjour"))
        expect(2, "Question 1 sur 5")
        for i, t in enumerate(["Mbengue", "Ibrahima", "1997", "DA"]):
            say(P.meta_text(num, t))
            expect(3 + i, "Question %d sur 5" % (2 + i) if i < 3 else "Question 5 sur 5")
        say(P.meta_list_reply(num, "1", "Homme"))
        expect(7, "MBE · IBR · 7 · DA · Homme")
        say(P.meta_button_reply(num, "1", "Oui"))
        expect(8, "MBEIBR7DA1")
        rows = run(["psql", topo.url, "-At", "-c", "SELECT ciu FROM registry"]).stdout.split()
        check(rows == ["MBEIBR7DA1"], "registry holds %r" % rows)
        for s in DAEMONS:
            check(topo.health(s), "%s /health not ok after the conversation" % s)

        # metrics: what the rules and the docs name is exported
        fams = {}
        for s in DAEMONS:
            st, text = topo.get(s, "/metrics")
            check(st == 200, "%s /metrics answered %s" % (s, st))
            for k, v in metric_families(text).items():
                fams.setdefault(k, []).extend(v)
        exported = set(fams)
        missing = alert_metrics() - exported
        check(not missing, "alert rules use metrics nobody exports: %s" % sorted(missing))
        documented = doc_metrics()
        check(not (documented - exported), "docs/monitoring.md lists metrics nobody exports: "
              "%s" % sorted(documented - exported))
        check(not (exported - documented), "metrics missing from docs/monitoring.md: %s"
              % sorted(exported - documented))
        for fam, labels, suffix in [
                ("ciu_messages_in_total", 'channel="meta",kind="text",outcome="new"', ""),
                ("ciu_messages_out_total", 'channel="meta",outcome="sent"', ""),
                ("ciu_inbound_ack_seconds", "", "_count"),
                ("ciu_conversation_step_seconds", "", "_count"),
                ("ciu_provider_call_seconds", 'channel="meta"', "_count")]:
            v = sample(fams, fam, labels, suffix)
            check(v and v >= 1, "%s%s{%s} = %r after a conversation" % (fam, suffix, labels, v))
        # DHIS2 is not configured: the enrolment waits, the dhis2 queue shows it
        def dhis2_queue():
            f = metric_families(topo.get("dhis2-bridge", "/metrics")[1])
            return sample(f, "ciu_queue_depth", 'stage="dhis2"')
        wait_for(lambda: (dhis2_queue() or 0) >= 1, 20, "ciu_queue_depth{stage=\"dhis2\"} >= 1")
        for stage in ("conversation", "engine", "sender", "dhis2"):
            check(sample(fams, "ciu_queue_oldest_seconds", 'stage="%s"' % stage) is not None,
                  "no ciu_queue_oldest_seconds{stage=%r}" % stage)

        # logs: JSON lines, one trace from webhook to reply, no secret, no number
        traces = {}
        for s in DAEMONS:
            for line in topo.log(s).splitlines():
                if not line.startswith("{"):
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise TestFailure("%s: not a JSON line: %r" % (s, line[:200]))
                if doc.get("trace"):
                    traces.setdefault(doc["trace"], set()).add(s)
            check(any(l.startswith("{") for l in topo.log(s).splitlines()), "%s: no JSON" % s)
        whole = [t for t, ds in traces.items()
                 if {"ingress", "conversation", "engine", "sender"} <= ds]
        check(whole, "no trace id seen in ingress, conversation, engine and sender: %r" % {
            t: sorted(d) for t, d in list(traces.items())[:10]})
        for s in DAEMONS:
            text = topo.log(s)
            for what, secret in [("salt", salt), ("db password", pgpw),
                                 ("Meta token", P.META_TOKEN),
                                 ("app secret", P.META_APP_SECRET),
                                 ("verify token", VERIFY_TOKEN)]:
                check(secret not in text, "%s: the %s is in the log" % (s, what))
            check(PHONE[1:] not in text, "%s: the phone number is in the log unmasked" % s)
        rss = {}
        for s in DAEMONS:
            for line in open("/proc/%d/status" % topo.procs[s].pid):
                if line.startswith("VmRSS:"):
                    rss[s] = int(line.split()[1]) // 1024
        print("  resident memory after one conversation (MB; this build%s): %s" % (
            ", with ASan" if "asan" in open("/proc/%d/maps" % topo.procs["engine"].pid).read()
            else "", ", ".join("%s %d" % kv for kv in rss.items())))
        codes = topo.stop()
        check(all(c == 0 for c in codes.values()), "daemons did not stop cleanly: %r" % codes)
        ok = True
    finally:
        topo.finish(ok)
        fake.stop()
        if ok:
            fake.cleanup()


# What ciu needs on top of the seed's .env, and why (docs/deploy.md says the same).
SEED_ADDITIONS = {
    "PUBLIC_BASE_URL": "https://ciu.example.org",
    "META_APP_SECRET": "0123456789abcdef0123456789abcdef",
    "DHIS2_TRACKED_ENTITY_TYPE": "nEenWmSyUEp",
    "DHIS2_PROGRAM": "IpHINAT79UW",
    "DHIS2_ORG_UNIT": "DiszpKrYNg8",
    "DHIS2_CIU_ATTRIBUTE": "w75KJ2mc4zz",
}


def part_seed_env():
    if not os.environ.get("CIU_TEST_PG_URL_FILE"):
        raise Skip("no PostgreSQL (ctest fixture pg)")
    seed = open(os.path.join(HERE, "data", "seed.env.example")).read()
    seed_vars = set(parse_dotenv(os.path.join(HERE, "data", "seed.env.example")))
    # compose needs the database secret; the seed's own secrets stay in its .env
    secrets = {"postgres_password": "pw-" + os.urandom(8).hex()}
    # 1. unchanged: each daemon that stops names one variable the seed never had
    topo = Topology("seed1", seed, secrets)
    named = {}
    try:
        # make-secrets generated a salt file: the seed's .env has UIC_SALT, so empty it
        open(os.path.join(topo.project, "secrets", "uic_salt"), "w").close()
        topo.migrate()
        for s in DAEMONS:
            topo.start(s)
        for s in DAEMONS:
            p = topo.procs[s]
            wait_for(lambda: p.poll() is not None or topo.started(s), START_TIMEOUT,
                     "%s to start or stop" % s)
            if p.poll() is not None:
                check(p.returncode == 78, "%s exited %s (not a configuration error):\n%s" % (
                    s, p.returncode, topo.log_tail(s)))
                lines = [json.loads(l) for l in topo.log(s).splitlines() if l.startswith("{")]
                errs = [l["msg"] for l in lines if l.get("level") == "error"]
                check(len(errs) == 1, "%s: expected one error line, got %r" % (s, errs))
                m = re.search(r"\b([A-Z][A-Z0-9_]{2,}):", errs[0])
                var = m.group(1) if m else errs[0]
                check(var in SEED_ADDITIONS and var not in seed_vars,
                      "%s refuses the seed's .env on %r" % (s, errs[0]))
                named[s] = var
        print("  seed .env unchanged: %s start; %s" % (
            ", ".join(s for s in DAEMONS if s not in named) or "none",
            "; ".join("%s needs %s" % kv for kv in named.items()) or "nothing missing"))
        codes = topo.stop()
        check(all(c in (0, 78) for c in codes.values()), "exit codes %r" % codes)
    except Exception:
        topo.finish(False)
        raise
    topo.finish(True)
    # 2. with the variables named added (and only those), everything starts
    added = "\n# added for ciu (docs/deploy.md)\n" + "".join(
        "%s=%s\n" % kv for kv in SEED_ADDITIONS.items())
    topo = Topology("seed2", seed + added, secrets)
    ok = False
    try:
        open(os.path.join(topo.project, "secrets", "uic_salt"), "w").close()
        topo.start_all()
        ingress = topo.log("ingress")
        check("channels: twilio, meta" in ingress, "channels line: %r" % [
            l for l in ingress.splitlines() if "channels" in l][:2])
        # the seed's names took effect: WEBHOOK_PATH, META_WEBHOOK_VERIFY_TOKEN, LOG_JSON,
        # SESSION_TIMEOUT_MINUTES, ENABLE_QR_CODE, DHIS2 (basic auth)
        status, _, body = P.http_get(P.meta_verify_url(topo.base + "/webhook",
                                                        "seed-verify-token", "77"))
        check(status == 200 and body == b"77", "seed WEBHOOK_PATH + verify token: %s" % status)
        for s in DAEMONS:
            first = topo.log(s).splitlines()[0]
            check(first.startswith("{"), "%s: LOG_JSON=true not honoured: %r" % (s, first))
            check("SESSION_TIMEOUT_MINUTES=30" in topo.log(s) and
                  "ENABLE_QR_CODE=true" in topo.log(s), "%s: seed settings not read" % s)
            check("district" not in topo.log(s), "%s: DHIS2 password logged" % s)
        # the bridge says how it reaches DHIS2 once its loop runs, after /health answers
        wait_for(lambda: "basic auth" in topo.log("dhis2-bridge"), timeout=30,
                 what="the bridge to use the seed's DHIS2 user (basic auth)")
        codes = topo.stop()
        check(all(c == 0 for c in codes.values()), "exit codes %r" % codes)
        ok = True
    finally:
        topo.finish(ok)
    check(named, "the seed's .env started unchanged: update SEED_ADDITIONS and docs/deploy.md")


def main():
    t0 = time.time()
    only = sys.argv[1:]  # e.g. `test_deploy.py topology seed_env`: only those parts
    for fn in (part_packages, part_dockerfile, part_compose, part_nginx, part_systemd,
               part_prometheus, part_topology, part_seed_env):
        if not only or fn.__name__[5:] in only:
            part(fn)
    failed = [r for r in results if r[1] == "FAIL"]
    print("it_deploy: %d passed, %d failed, %d skipped in %.0fs" % (
        sum(r[1] == "PASS" for r in results), len(failed),
        sum(r[1] == "SKIP" for r in results), time.time() - t0))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
