#!/usr/bin/env python3
"""The programme dashboard (/admin/ on ciu-ingress) and `ciu-admin stats`.

Usage: test_dashboard.py sqlite|postgres

1. Without CIU_ADMIN_PASSWORD every /admin/ path answers 404 (ciu-ingress
   alone, on its own store).
2. A real stack with CIU_ADMIN_PASSWORD; scripted conversations through the
   simulator API: two people get the same CIU (a potential duplicate), a
   third another CIU, a fourth stops after the first answer.
3. HTTP: 401 and the login form only on a wrong password, 429 with
   Retry-After after 5 attempts a minute, the session cookie's flags
   (HttpOnly, SameSite=Strict, Path=/admin, Secure behind https), security
   headers, 403 without the CSRF token or from another Origin, "reviewed"
   with it, a tampered or logged-out session refused; every figure of
   GET /admin/api/stats equals what the store holds (conversations: what the
   `events` table holds).
4. `ciu-admin stats`: --json equals the API's figures, the text in English
   and in French (LANG=fr_FR.UTF-8).
5. Headless Chromium (skipped, exit 77, only when chromium or chromedriver
   is missing): log in, the charts drawn (SVG bars: 30 days, 12 weeks, one
   per city, 4 genders, 7 funnel steps), the figures shown equal the store,
   switch language (remembered after a reload), review a duplicate from the
   list, log out. Screenshot in <build>/test-artifacts/it_dashboard_<backend>/;
   CIU_DASHBOARD_SCREENSHOT=<path> also copies it there (docs/img/dashboard.png).
"""
import base64
import http.client as httpclient
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
sys.path.insert(0, HERE)
from stack import Person, Stack, TestFailure, build_dir, check, query, run, wait_for  # noqa: E402
import test_sim_page  # noqa: E402
from test_sim_page import SKIP, Fail, browser, start_driver  # noqa: E402

PASSWORD = "correct horse battery staple"
SKIPPED = []  # set when the browser part could not run


# ---- HTTP without following redirects ---------------------------------------

def http(stack, method, path, body=None, headers=None):
    """(status, headers dict with lower-case names, list of Set-Cookie, body bytes)."""
    port = urllib.parse.urlparse(stack.base).port
    con = httpclient.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        con.request(method, path, body=body, headers=headers or {})
        r = con.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        return r.status, hdrs, cookies, data
    finally:
        con.close()


def login(stack, password, client="10.0.0.1", extra=None):
    h = {"Content-Type": "application/x-www-form-urlencoded", "X-Real-IP": client,
         "Origin": stack.base}
    h.update(extra or {})
    return http(stack, "POST", "/admin/login", urllib.parse.urlencode({"password": password}), h)


def cookie_value(set_cookie):
    return set_cookie.split(";", 1)[0].split("=", 1)[1]


def csrf_of(stack, cookie):
    st, _, _, page = http(stack, "GET", "/admin/", headers={"Cookie": "ciu_admin=" + cookie})
    check(st == 200, "GET /admin/ with a session -> %d" % st)
    m = re.search(rb'<meta name="csrf" content="([0-9a-f]{64})">', page)
    check(m, "the dashboard page carries no CSRF token")
    return m.group(1).decode()


def api(stack, cookie, path, method="GET", csrf=None, origin=None):
    h = {"Cookie": "ciu_admin=" + cookie}
    if csrf:
        h["X-CSRF-Token"] = csrf
    if origin:
        h["Origin"] = origin
    st, hdrs, _, body = http(stack, method, path, headers=h)
    return st, hdrs, body


def n(stack, sql, params=()):
    return int(query(stack, sql, params)[0][0] or 0)


# ---- 1. off without the password ---------------------------------------------

def check_off(backend):
    """ciu-ingress without CIU_ADMIN_PASSWORD: 404 for every /admin/ path."""
    s = Stack("dash-off", backend)
    for k in ("CIU_ADMIN_PASSWORD", "CIU_ADMIN_PASSWORD_FILE"):
        s.env.pop(k, None)
    try:
        s.start_daemon("ciu-ingress")
        s.wait_healthy("ciu-ingress")
        for method, path in (("GET", "/admin/"), ("GET", "/admin"), ("POST", "/admin/login"),
                             ("GET", "/admin/api/stats"), ("GET", "/admin/api/duplicates"),
                             ("POST", "/admin/api/duplicates/1/reviewed"),
                             ("POST", "/admin/logout")):
            st, _, _, _ = http(s, method, path, body=b"password=x" if method == "POST" else None)
            check(st == 404, "%s %s without CIU_ADMIN_PASSWORD -> %d, expected 404"
                  % (method, path, st))
        codes = s.stop()
        check(codes.get("ciu-ingress") == 0, "ciu-ingress (dashboard off) exit %r" % codes)
    except Exception:
        s.stop()
        s.dump_logs()
        raise
    s.cleanup()
    print("dashboard off without CIU_ADMIN_PASSWORD: every /admin/ path 404")


# ---- 2. conversations ----------------------------------------------------------

def register(stack, number, answers, ciu):
    p = Person(stack, number)
    p.say("Bonjour", "Question 1 sur 5")
    p.say(answers[0], "Question 2 sur 5")
    p.say(answers[1], "Question 3 sur 5")
    p.say(answers[2], "Question 4 sur 5")
    p.say(answers[3], "Question 5 sur 5")
    p.say(answers[4], " · ")
    p.say("1", ciu)


def converse(stack):
    mbe = ("Mbengue", "Ibrahima", "1997", "DA", "1")
    register(stack, "+243810000101", mbe, "MBEIBR7DA1")
    register(stack, "+243810000102", mbe, "MBEIBR7DA1")  # same CIU, another number
    register(stack, "+243810000103", ("Kabila", "Joseph", "1971", "KN", "2"), "KABJOS1KN2")
    p = Person(stack, "+243810000104")
    p.say("Bonjour", "Question 1 sur 5")
    p.say("Tshisekedi", "Question 2 sur 5")
    p.say("ANNULER", "annulé")  # gives up at the first name
    # everything settled: no reply waiting, the duplicate recorded, DHIS2 rows accepted
    wait_for(lambda: n(stack, "SELECT COUNT(*) FROM outbox WHERE status IN (0, 3)") == 0 and
             n(stack, "SELECT COUNT(*) FROM duplicates") == 1 and
             n(stack, "SELECT COUNT(*) FROM dhis2_sync WHERE status = 'queued'") == 0 and
             n(stack, "SELECT COUNT(*) FROM inbox WHERE status = 0") == 0,
             what="the pipeline to settle")


# ---- 3. HTTP -------------------------------------------------------------------

def expected(stack):
    """The figures as the store holds them (the same rules as docs/dashboard.md)."""
    cities = query(stack, "SELECT substr(ciu, 8, 2), COUNT(*) FROM registry GROUP BY 1 "
                          "ORDER BY 2 DESC, 1")
    genders = dict(query(stack, "SELECT substr(ciu, 10, 1), COUNT(*) FROM registry GROUP BY 1"))
    ev = dict(query(stack, "SELECT type, COUNT(*) FROM events WHERE type LIKE 'conversation.%' "
                           "GROUP BY type"))
    return {
        "total": n(stack, "SELECT COUNT(*) FROM registry"),
        "requests": n(stack, "SELECT COALESCE(SUM(request_count), 0) FROM registry"),
        "cities": [{"city": c, "count": int(k)} for c, k in cities],
        "genders": [int(genders.get(str(g), 0)) for g in range(1, 5)],
        "started": int(ev.get("conversation.started", 0)),
        "completed": int(ev.get("conversation.completed", 0)),
        "abandoned": int(ev.get("conversation.abandoned", 0)),
        "abandoned_at": dict(query(stack, "SELECT detail, COUNT(*) FROM events WHERE type = "
                                          "'conversation.abandoned' GROUP BY detail")),
        "durations": n(stack, "SELECT COUNT(*) FROM events WHERE type = "
                              "'conversation.completed' AND duration_ms > 0"),
        "dups_open": n(stack, "SELECT COUNT(*) FROM duplicates WHERE status = 'open'"),
        "dups_reviewed": n(stack, "SELECT COUNT(*) FROM duplicates WHERE status <> 'open'"),
        "synced": n(stack, "SELECT COUNT(*) FROM dhis2_sync WHERE status = 'synced'"),
        "pending": n(stack, "SELECT COUNT(*) FROM dhis2_sync WHERE status IN ('queued', "
                            "'pending')"),
        "failed": n(stack, "SELECT COUNT(*) FROM dhis2_sync WHERE status = 'failed'"),
        "sent": n(stack, "SELECT COUNT(*) FROM outbox WHERE status = 1"),
        "out_failed": n(stack, "SELECT COUNT(*) FROM outbox WHERE status = 2"),
    }


def check_figures(stack, j, what):
    e = expected(stack)
    reg, conv = j["registrations"], j["conversations"]
    got = {
        "total": reg["total"], "requests": reg["requests"], "cities": reg["by_city"],
        "genders": [g["count"] for g in reg["by_gender"]],
        "started": conv["started"], "completed": conv["completed"],
        "abandoned": conv["abandoned"],
        "abandoned_at": {q["question"]: str(q["abandoned"]) for q in conv["abandoned_at"]
                         if q["abandoned"]},
        "durations": conv["completion_samples"],
        "dups_open": j["duplicates"]["open"], "dups_reviewed": j["duplicates"]["reviewed"],
        "synced": j["dhis2"]["synced"], "pending": j["dhis2"]["pending"],
        "failed": j["dhis2"]["failed"], "sent": j["delivery"]["sent"],
        "out_failed": j["delivery"]["failed"],
    }
    for k in e:
        check(got[k] == e[k], "%s: %s = %r, the store holds %r" % (what, k, got[k], e[k]))
    check(sum(d["count"] for d in reg["per_day"]) == e["total"],
          "%s: per-day bars add up to %d, not %d" % (what, sum(d["count"] for d in reg["per_day"]),
                                                     e["total"]))
    check(reg["per_day"][-1]["count"] == e["total"] and reg["today"] == e["total"],
          "%s: today's registrations %r" % (what, reg["per_day"][-1]))
    check(len(reg["per_day"]) == 30 and len(reg["per_week"]) == 12, "chart lengths")
    return e


def check_http(stack):
    # not logged in: the login form only, 401 on the API
    st, hdrs, _, body = http(stack, "GET", "/admin/")
    check(st == 200 and b'name="password"' in body and b"chart-day" not in body,
          "GET /admin/ without a session should be the login form: %d" % st)
    for h, want in (("x-frame-options", "DENY"), ("cache-control", "no-store")):
        check(hdrs.get(h) == want, "GET /admin/: %s = %r" % (h, hdrs.get(h)))
    csp = hdrs.get("content-security-policy", "")
    check("default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "http" not in csp,
          "Content-Security-Policy: %r" % csp)
    st, hdrs, body = api(stack, "nothing", "/admin/api/stats")
    check(st == 401 and b"registrations" not in body, "stats without a session -> %d" % st)
    st, _, _, _ = http(stack, "GET", "/admin")
    check(st == 302, "GET /admin -> %d, expected a redirect to /admin/" % st)

    # wrong password: 401 and the form only; 429 after 5 attempts a minute
    st, _, cookies, body = login(stack, "wrong", client="10.0.0.2")
    check(st == 401 and not cookies and b'name="password"' in body and b"chart-day" not in body
          and b"registrations" not in body, "wrong password -> %d %r" % (st, cookies))
    statuses = [login(stack, "wrong %d" % i, client="10.0.0.2")[0] for i in range(4)]
    check(statuses == [401] * 4, "attempts 2-5: %r" % statuses)
    st, hdrs, cookies, _ = login(stack, PASSWORD, client="10.0.0.2")
    check(st == 429 and not cookies and int(hdrs.get("retry-after", "0")) >= 1,
          "6th attempt within a minute -> %d (Retry-After %r), expected 429"
          % (st, hdrs.get("retry-after")))
    # another address is not limited; another site's form is refused
    st, _, cookies, _ = login(stack, PASSWORD, client="10.0.0.3",
                              extra={"Origin": "https://evil.example"})
    check(st == 403 and not cookies, "login from another Origin -> %d" % st)

    # right password: the cookie's flags (Secure only when the request came over https)
    st, hdrs, cookies, _ = login(stack, PASSWORD)
    check(st == 303 and hdrs.get("location") == "/admin/" and len(cookies) == 1,
          "login -> %d %r" % (st, hdrs))
    flags = [f.strip() for f in cookies[0].split(";")]
    for f in ("HttpOnly", "SameSite=Strict", "Path=/admin"):
        check(f in flags, "session cookie lacks %s: %r" % (f, cookies[0]))
    check("Secure" not in flags, "Secure on a plain-http request: %r" % cookies[0])
    cookie = cookie_value(cookies[0])
    st, _, cookies2, _ = login(stack, PASSWORD, client="10.0.0.4",
                               extra={"X-Forwarded-Proto": "https"})
    check(st == 303 and "Secure" in [f.strip() for f in cookies2[0].split(";")],
          "behind https (CIU_TRUST_PROXY) the cookie must be Secure: %r" % cookies2)

    # the figures
    csrf = csrf_of(stack, cookie)
    st, hdrs, body = api(stack, cookie, "/admin/api/stats")
    check(st == 200 and hdrs.get("cache-control") == "no-store" and
          hdrs.get("content-type", "").startswith("application/json"),
          "GET /admin/api/stats -> %d %r" % (st, hdrs))
    j = json.loads(body)
    print("GET /admin/api/stats: %d bytes" % len(body))
    e = check_figures(stack, j, "API")
    check(e["total"] == 2 and e["dups_open"] == 1 and e["requests"] == 3,
          "the scripted conversations should give 2 CIUs, 3 requests, 1 duplicate: %r" % e)
    # the conversations as scripted: 4 started, 3 completed, the fourth cancelled at question 2
    check(e["started"] == 4 and e["completed"] == 3 and e["abandoned"] == 1 and
          e["abandoned_at"] == {"first_name": "1"} and e["durations"] == 3,
          "conversation events: %r" % e)
    check(j["conversations"]["median_completion_s"] > 0, "no median time to complete")
    # no personal data in the figures: no number, no typed answer, no CIU
    for secret in (b"243810000", b"Mbengue", b"Ibrahima", b"Kabila", b"Tshisekedi",
                   b"MBEIBR7DA1", b"KABJOS1KN2"):
        check(secret not in body, "the figures contain %r" % secret)

    # duplicates: listed with their CIUs on request, reviewed only with the CSRF token
    st, _, body = api(stack, cookie, "/admin/api/duplicates")
    dups = json.loads(body)["duplicates"]
    check(st == 200 and len(dups) == 1 and dups[0]["ciu"] == "MBEIBR7DA1" and
          "user_key" not in dups[0] and b"243810000" not in body, "duplicates: %r" % dups)
    path = "/admin/api/duplicates/%d/reviewed" % dups[0]["id"]
    st, _, _ = api(stack, cookie, path, "POST")
    check(st == 403, "reviewed without X-CSRF-Token -> %d" % st)
    st, _, _ = api(stack, cookie, path, "POST", csrf="0" * 64)
    check(st == 403, "reviewed with a wrong X-CSRF-Token -> %d" % st)
    st, _, _ = api(stack, cookie, path, "POST", csrf=csrf, origin="https://evil.example")
    check(st == 403, "reviewed from another Origin -> %d" % st)
    check(n(stack, "SELECT COUNT(*) FROM duplicates WHERE status = 'open'") == 1,
          "a refused request changed the store")
    st, _, body = api(stack, cookie, path, "POST", csrf=csrf, origin=stack.base)
    check(st == 200, "reviewed with the CSRF token -> %d %r" % (st, body))
    check(query(stack, "SELECT status FROM duplicates WHERE id = ?", (dups[0]["id"],)) ==
          [("reviewed",)], "the duplicate is not marked reviewed in the store")
    st, _, _ = api(stack, cookie, path, "POST", csrf=csrf)
    check(st == 404, "reviewed twice -> %d" % st)
    st, _, body = api(stack, cookie, "/admin/api/stats")
    check_figures(stack, json.loads(body), "API after review")

    # a forged or tampered session is refused
    forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
    check(api(stack, forged, "/admin/api/stats")[0] == 401, "a tampered cookie was accepted")
    later = str(int(cookie.split(".")[0]) + 10**9) + cookie[cookie.index("."):]
    check(api(stack, later, "/admin/api/stats")[0] == 401, "a cookie with a new expiry was accepted")
    return cookie, csrf


def check_logout(stack, cookie, csrf):
    st, _, _ = api(stack, cookie, "/admin/logout", "POST")
    check(st == 403, "logout without the CSRF token -> %d" % st)
    st, hdrs, cookies, _ = http(stack, "POST", "/admin/logout",
                                headers={"Cookie": "ciu_admin=" + cookie, "X-CSRF-Token": csrf})
    check(st == 200 and cookies and "Max-Age=0" in cookies[0], "logout -> %d %r" % (st, cookies))
    check(api(stack, cookie, "/admin/api/stats")[0] == 401, "a logged-out session still works")


# ---- 4. ciu-admin stats --------------------------------------------------------

def admin(stack, *args, lang="C.UTF-8"):
    env = dict(stack.env, LANG=lang, LC_ALL="", LC_MESSAGES="")
    r = subprocess.run([os.path.join(build_dir(), "tools", "ciu-admin")] + list(args),
                       cwd=stack.dir, env=env, capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "ciu-admin %s -> %d: %s" % (" ".join(args), r.returncode, r.stderr))
    return r.stdout


def check_admin_stats(stack, cookie):
    j = json.loads(admin(stack, "stats", "--json"))
    e = check_figures(stack, j, "ciu-admin stats --json")
    st, _, body = api(stack, cookie, "/admin/api/stats")
    a = json.loads(body)
    for k in ("registrations", "conversations", "duplicates", "delivery"):
        check(a[k] == j[k], "ciu-admin stats --json and the API differ on %s:\n%r\n%r"
              % (k, j[k], a[k]))
    en = admin(stack, "stats")
    fr = admin(stack, "stats", lang="fr_FR.UTF-8")
    check(re.search(r"CIUs registered +%d\n" % e["total"], en), "English text: %s" % en)
    check(re.search(r"CIU enregistrés +%d\n" % e["total"], fr), "French text: %s" % fr)
    check("waiting for review" in en and "à examiner" in fr and "DA" in en,
          "the text lacks sections:\n%s\n%s" % (en, fr))
    for out in (en, fr, json.dumps(j)):
        check("243810000" not in out and "Mbengue" not in out and "MBEIBR7DA1" not in out,
              "ciu-admin stats shows personal data")
    help_text = subprocess.run([os.path.join(build_dir(), "tools", "ciu-admin"), "--help"],
                               capture_output=True, text=True).stdout
    check("stats [--json]" in help_text, "ciu-admin --help does not list stats")


# ---- 5. the browser ----------------------------------------------------------

def artifacts(backend):
    art = os.path.join(build_dir(), "test-artifacts", "it_dashboard_" + backend)
    os.makedirs(art, exist_ok=True)
    return art


def wait_js(wd, script, what, timeout=15):
    """test_sim_page's wait, with the dashboard's longer default."""
    return test_sim_page.wait_js(wd, script, what, timeout)


def new_session(wd, chromium, profile, width):
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--lang=fr-FR", "--user-data-dir=" + profile,
            "--window-size=%d,900" % width]
    caps = {"capabilities": {"alwaysMatch": {
        "browserName": "chrome", "goog:loggingPrefs": {"browser": "ALL"},
        "goog:chromeOptions": {"binary": chromium, "args": args,
                               "prefs": {"intl.accept_languages": "fr-FR,fr"},
                               "mobileEmulation": {"deviceMetrics": {"width": width, "height": 900,
                                                                     "pixelRatio": 1.0}}}}}}
    wd.sid = wd.call("POST", "/session", caps, timeout=40)["sessionId"]


def shown(wd, key):
    return wd.js("var e = document.querySelector('[data-k=\"' + arguments[0] + '\"]');"
                 "return e ? e.textContent : null;", key)


def check_browser(stack, backend):
    found = browser()
    if not found:
        SKIPPED.append("browser")
        return
    chromium, driver = found
    # the WebDriver client bounds its calls by the browser test's own deadline
    test_sim_page.DEADLINE = time.monotonic() + 120
    art = artifacts(backend)
    shot = os.path.join(art, "dashboard.png")
    tmp = tempfile.mkdtemp(prefix="ciu-dash-")
    try:
        proc, drv_log, wd = start_driver(driver, tmp, timeout=20)
    except Fail as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise TestFailure("browser: %s" % e)
    try:
        new_session(wd, chromium, os.path.join(tmp, "profile"), 360)
        url = stack.base + "/admin/"
        wd.call("POST", "/session/%s/url" % wd.sid, {"url": url}, timeout=30)
        check(wd.js("return document.documentElement.lang;") == "fr",
              "the login form should be in French for a French browser")
        wd.type(wd.find("#password"), "not the password")
        wd.click(wd.find("#go"))
        wait_js(wd, "return document.getElementById('msg') && "
                    "document.getElementById('msg').textContent === 'Mot de passe incorrect.';",
                "no 'wrong password' message on a wrong password")
        check(not wd.js("return !!document.getElementById('chart-day');"),
              "a wrong password showed the dashboard")
        wd.type(wd.find("#password"), PASSWORD)
        wd.click(wd.find("#go"))
        wait_js(wd, "return document.body.getAttribute('data-loaded');",
                "the dashboard did not load its figures")
        e = expected(stack)
        bars = wd.js("return ['day', 'week', 'city', 'gender', 'funnel'].map(function (k) {"
                     " return document.querySelectorAll('#chart-' + k + ' rect.bar').length; });")
        check(bars == [30, 12, len(e["cities"]), 4, 7],
              "SVG bars (day, week, city, gender, funnel) %r, expected %r"
              % (bars, [30, 12, len(e["cities"]), 4, 7]))
        heights = wd.js("return Array.from(document.querySelectorAll('#chart-day rect.bar'))"
                        ".map(function (r) { return +r.getAttribute('data-v'); });")
        check(sum(heights) == e["total"] and heights[-1] == e["total"],
              "the day chart's bars %r do not add up to %d" % (heights, e["total"]))
        cities = wd.js("return Array.from(document.querySelectorAll('#chart-city rect.bar'))"
                       ".map(function (r) { return +r.getAttribute('data-v'); });")
        check(cities == [c["count"] for c in e["cities"]], "city bars %r, store %r"
              % (cities, e["cities"]))
        funnel = wd.js("return Array.from(document.querySelectorAll('#chart-funnel rect.bar'))"
                       ".map(function (r) { return +r.getAttribute('data-v'); });")
        order = ["last_name", "first_name", "birth_year", "city", "gender", "confirm", "other"]
        want_funnel = [int(e["abandoned_at"].get(q, 0)) for q in order]
        check(funnel == want_funnel, "funnel bars %r, events %r" % (funnel, want_funnel))
        check(shown(wd, "conversations.median_completion_s") not in (None, "–"),
              "no median time shown")
        for key, want in (("registrations.total", e["total"]),
                          ("conversations.started", e["started"]),
                          ("conversations.completed", e["completed"]),
                          ("duplicates.open", e["dups_open"]),
                          ("dhis2.pending", e["pending"]), ("delivery.sent", e["sent"])):
            got = shown(wd, key)
            check(got == str(want), "the page shows %s = %r, the store holds %r"
                  % (key, got, want))
        check(wd.js("return document.querySelector('h1').textContent;") == "Tableau de bord CIU",
              "French title expected")
        # no CIU on the page until the operator asks for the duplicates
        check("MBEIBR7DA1" not in wd.js("return document.body.textContent;"),
              "a CIU is shown before the operator asked")
        # English, remembered after a reload
        wd.click(wd.find("#lang"))
        wait_js(wd, "return document.documentElement.lang === 'en' && "
                    "document.querySelector('h1').textContent === 'CIU dashboard';",
                "the page did not switch to English")
        wd.call("POST", "/session/%s/refresh" % wd.sid, {})
        wait_js(wd, "return document.body.getAttribute('data-loaded') && "
                    "document.documentElement.lang === 'en';",
                "English was not remembered after a reload")
        # the duplicate list on request (reviewed earlier through the API: none open)
        wd.click(wd.find("#show-dups"))
        wait_js(wd, "return !document.getElementById('dups-table').hidden;",
                "the duplicate list did not open")
        rows = wd.js("return document.querySelectorAll('#dups tr[data-id]').length;")
        check(rows == e["dups_open"], "duplicate rows %r, store %r" % (rows, e["dups_open"]))
        # usable on a phone: nothing wider than the screen
        wide = wd.js("return [document.documentElement.scrollWidth, window.innerWidth];")
        check(wide[0] <= wide[1], "the page is wider (%d px) than a %d px phone" % tuple(wide))
        wd.screenshot(os.path.join(art, "dashboard-phone.png"))
        # a desktop view for the docs
        wd.s("POST", "/goog/cdp/execute", {"cmd": "Emulation.setDeviceMetricsOverride", "params": {
            "width": 1280, "height": 1400, "deviceScaleFactor": 1, "mobile": False}})
        wait_js(wd, "return window.innerWidth === 1280;", "the desktop view did not apply")
        wd.js("window.scrollTo(0, 0);")
        wait_js(wd, "return window.scrollY === 0 && document.getElementById('chart-day')"
                    ".getAttribute('viewBox').split(' ')[2] > 900;",
                "the charts were not drawn again at the desktop width")
        wd.screenshot(shot)
        check(os.path.getsize(shot) > 5000, "screenshot too small")
        target = os.environ.get("CIU_DASHBOARD_SCREENSHOT")
        if target:
            shutil.copyfile(shot, target)
            print("screenshot copied to %s" % target)
        errors = [m for m in wd.console_errors() if "/admin/login - " not in m]  # the 401 above
        check(not errors, "console errors: %r" % errors[:5])
        # log out: back to the login form, the API refuses the old session
        wd.click(wd.find("#logout"))
        wait_js(wd, "return !!document.getElementById('password');",
                "logging out did not bring back the login form")
        st = wd.js("return fetch('/admin/api/stats').then(function (r) { return r.status; });")
        check(st == 401, "the API after logout answered %r" % st)
        print("browser: login, charts, figures, language, duplicates, logout ok; %s" % shot)
    except Fail as e:
        if wd.sid:
            try:
                wd.screenshot(os.path.join(art, "dashboard-fail.png"))
            except Fail:
                pass
        drv_log.seek(0)
        raise TestFailure("browser: %s\nchromedriver: %s" % (e, drv_log.read()[-1500:]))
    finally:
        wd.quit()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        drv_log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def page_weight():
    """Bytes of the embedded pages, raw and gzipped (docs/dashboard.md)."""
    import gzip
    www = os.path.join(HERE, "..", "..", "ingress", "www")
    for name in ("admin.html", "admin-login.html"):
        raw = open(os.path.join(www, name), "rb").read()
        print("page weight %s: %d bytes, %d gzipped" % (name, len(raw),
                                                        len(gzip.compress(raw, 9))))


def scenario(stack):
    converse(stack)
    cookie, csrf = check_http(stack)
    check_admin_stats(stack, cookie)
    check_logout(stack, cookie, csrf)
    check_browser(stack, stack.backend)
    page_weight()


if __name__ == "__main__":
    backend = sys.argv[1] if len(sys.argv) > 1 else "sqlite"
    try:
        check_off(backend)
    except Exception as e:  # noqa: BLE001
        print("FAIL dashboard-off [%s]: %s" % (backend, e))
        sys.exit(1)
    rc = run(scenario, "dashboard", backend,
             env={"CIU_ADMIN_PASSWORD": PASSWORD, "CIU_TRUST_PROXY": "true"})
    if rc == 0 and SKIPPED:
        print("browser part skipped: no chromium/chromedriver")
        sys.exit(SKIP)
    sys.exit(rc)
