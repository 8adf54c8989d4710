#!/usr/bin/env python3
"""Browser test of the simulator chat page (ingress/www/sim.html).

Drives headless Chromium through chromedriver's W3C WebDriver HTTP API with
urllib only. Needs a running stack: CIU_TEST_URL=http://127.0.0.1:<port>.
It opens /sim/, plays a whole conversation (Bonjour, Mbengue, Ibrahima, 1997,
KN, 1, and "1" at the confirmation step if there is one) and asserts that an
incoming bubble carries the CIU MBEIBR7KN1, that the view follows the QR
image once it has loaded (the last bubble visible, issue 11), that the page
has a favicon and no console error, no fullwidth "＋" (plain SVG icons), and
that its labels follow the bot's language (French, then English after
LANGUE 2 in a new conversation). Saves a screenshot to
$CIU_TEST_ARTIFACTS/ciu-sim.png (a directory) or /tmp/ciu-sim.png, and
checks it is a PNG of the phone's width.

Environment: CIU_TEST_URL (required), CIU_TEST_ARTIFACTS, CHROMIUM (default
/usr/bin/chromium), CHROMEDRIVER (default chromedriver on PATH),
CIU_SIM_WIDTH (phone screen width, default 360).
Exit status: 0 pass, 1 failure, 77 skipped (no chromium/chromedriver; ctest SKIP_RETURN_CODE).
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
import urllib.request

DEADLINE = time.monotonic() + 85          # whole test < 90 s
STEP_TIMEOUT = 15                         # per expected reply
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
EXPECTED_CIU = "MBEIBR7KN1"
SCRIPT = [("Bonjour", "Question 1"), ("Mbengue", "Question 2"), ("Ibrahima", "Question 3"),
          ("1997", "Question 4"), ("KN", "Question 5")]


class Fail(Exception):
    pass


def log(msg):
    sys.stderr.write("test_sim_page: %s\n" % msg)


def left(cap):
    return max(0.5, min(cap, DEADLINE - time.monotonic()))


def start_driver(driver, tmp, timeout=15):
    """Start chromedriver on a port it picks (--port=0: no port chosen by us and
    closed first, which another process could take meanwhile), read the port from
    its log, and wait until it is ready. Returns (process, log file, WebDriver)."""
    drv_log = open(os.path.join(tmp, "chromedriver.log"), "w+")
    proc = subprocess.Popen([driver, "--port=0", "--allowed-ips=127.0.0.1"], stdout=drv_log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + timeout
    wd = None
    while True:
        if wd is None:
            drv_log.seek(0)
            m = re.search(r"started successfully on port (\d+)", drv_log.read())
            if m:
                wd = WebDriver("http://127.0.0.1:%s" % m.group(1))
        try:
            if wd is not None and wd.call("GET", "/status", timeout=2).get("ready"):
                return proc, drv_log, wd
        except Fail:
            pass
        if proc.poll() is not None or time.monotonic() > end:
            drv_log.seek(0)
            raise Fail("chromedriver did not start: %s" % drv_log.read()[-500:])
        time.sleep(0.1)  # polling interval of the wait above


class WebDriver:
    def __init__(self, base):
        self.base = base
        self.sid = None

    def call(self, method, path, body=None, timeout=20):
        data = None if body is None else json.dumps(body).encode()
        url = self.base + path
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=left(timeout)) as r:
                return json.loads(r.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            detail = e.read()[:4000].decode(errors="replace")
            try:
                detail = json.loads(detail)["value"]["message"].split("\n")[0]
            except (ValueError, KeyError, TypeError):
                detail = detail[:300]
            raise Fail("webdriver %s %s -> %d %s" % (method, path, e.code, detail)) from None
        except (urllib.error.URLError, socket.timeout, ConnectionError) as e:
            raise Fail("webdriver %s %s: %s" % (method, path, e)) from None

    def s(self, method, path, body=None, timeout=20):
        return self.call(method, "/session/%s%s" % (self.sid, path), body, timeout)

    def new_session(self, chromium, profile, width):
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--user-data-dir=" + profile, "--window-size=%d,800" % width]
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium, "args": args,
                "prefs": {"intl.accept_languages": "fr-FR"},
                # headless windows are at least 500 px wide: emulate the phone width
                "mobileEmulation": {"deviceMetrics": {"width": width, "height": 760,
                                                      "pixelRatio": 1.0}}}}}}
        v = self.call("POST", "/session", caps, timeout=40)
        self.sid = v["sessionId"]

    def find_all(self, css):
        v = self.s("POST", "/elements", {"using": "css selector", "value": css})
        return [e[ELEMENT] for e in v]

    def find(self, css):
        v = self.s("POST", "/element", {"using": "css selector", "value": css})
        return v[ELEMENT]

    def type(self, eid, text):
        self.s("POST", "/element/%s/value" % eid, {"text": text})

    def click(self, eid):
        self.s("POST", "/element/%s/click" % eid, {})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self, path):
        import base64
        png = base64.b64decode(self.s("GET", "/screenshot", timeout=20))
        with open(path, "wb") as f:
            f.write(png)

    def console_errors(self):
        """Browser console entries of level SEVERE (404s of the page's assets too)."""
        try:
            v = self.s("POST", "/se/log", {"type": "browser"})
        except Fail:
            v = self.call("POST", "/session/%s/log" % self.sid, {"type": "browser"})
        return [e.get("message", "") for e in v or [] if e.get("level") == "SEVERE"]

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", "/session/%s" % self.sid, timeout=10)
            except Fail:
                pass
            self.sid = None


def incoming_texts(wd):
    return wd.js("return Array.from(document.querySelectorAll('#messages .msg.in'))"
                 ".map(function (e) { return e.textContent; });")


def wait_incoming(wd, needle, start_index, timeout=STEP_TIMEOUT):
    """Wait for an incoming bubble at position >= start_index containing needle."""
    end = time.monotonic() + left(timeout)
    while time.monotonic() < end:
        texts = incoming_texts(wd)
        for t in texts[start_index:]:
            if needle in t:
                return texts
        time.sleep(0.2)
    raise Fail("no incoming bubble containing %r within %ds; incoming so far: %r"
               % (needle, timeout, incoming_texts(wd)[-4:]))


def send(wd, text):
    box = wd.find("#input")
    wd.type(box, text)
    wd.click(wd.find("#send"))


def wait_acked(wd, count, timeout=10):
    """The last outgoing bubble shows a tick once the POST returned 202."""
    end = time.monotonic() + left(timeout)
    while time.monotonic() < end:
        st = wd.js("var o = document.querySelectorAll('#messages .msg.out');"
                   "if (o.length < arguments[0]) return 'missing';"
                   "var t = o[o.length - 1].querySelector('.tick');"
                   "return t ? t.textContent : 'none';", count)
        if st in ("✓", "✓✓"):
            return
        if "non envoy" in str(st):
            raise Fail("the page says the message was not sent (POST did not return 202)")
        time.sleep(0.1)
    raise Fail("outgoing bubble %d never got its tick" % count)


def wait_js(wd, script, what, timeout=5):
    """Wait until script returns a truthy value; no fixed sleeps."""
    end = time.monotonic() + left(timeout)
    while time.monotonic() < end:
        v = wd.js(script)
        if v:
            return v
        time.sleep(0.1)
    raise Fail("%s (last value %r)" % (what, wd.js(script)))


def labels(wd):
    return wd.js("return [document.documentElement.lang,"
                 " document.querySelector('label[for=number]').textContent,"
                 " document.getElementById('input').placeholder,"
                 " document.querySelector('#new .sr').textContent.trim()];")


def check_png(path, width):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise Fail("screenshot %s is not a PNG" % path)
    w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if w != width or h < 400:
        raise Fail("screenshot %s is %dx%d, expected %d px wide" % (path, w, h, width))


def run(wd, url, shot):
    wd.call("POST", "/session/%s/url" % wd.sid, {"url": url.rstrip("/") + "/sim/"}, timeout=30)
    for css in ("#number", "#input", "#send", "#messages"):
        wd.find(css)
    number = wd.js("return document.getElementById('number').value;")
    log("page loaded, number %s" % number)
    # a favicon (inline: no /favicon.ico request) and no fullwidth plus
    icon = wd.js("var l = document.querySelector('link[rel~=icon]'); return l ? l.href : '';")
    if not icon.startswith("data:image/"):
        raise Fail("no inline favicon (link rel=icon): %r" % icon)
    if wd.js("return document.documentElement.outerHTML.indexOf('\\uff0b') >= 0;"):
        raise Fail("the page still uses the fullwidth plus U+FF0B")
    if not wd.js("return !!document.querySelector('#new svg');"):
        raise Fail("the 'new conversation' button has no SVG icon")
    lab = labels(wd)
    if lab[0] != "fr" or lab[1] != "Votre numéro":
        raise Fail("the page should start in French: %r" % lab)
    if not (number.startswith("+") and number[1:].isdigit() and 8 <= len(number) - 1 <= 15):
        raise Fail("default phone number %r is not +<8..15 digits>" % number)
    seen = len(incoming_texts(wd))
    sent = 0
    for text, expect in SCRIPT:
        send(wd, text)
        sent += 1
        wait_acked(wd, sent)
        texts = wait_incoming(wd, expect, seen)
        seen = len(texts)
        log("sent %r, got %r" % (text, expect))
    send(wd, "1")                                # gender: Homme
    sent += 1
    wait_acked(wd, sent)
    end = time.monotonic() + left(STEP_TIMEOUT)
    confirmed = False
    while time.monotonic() < end:
        texts = incoming_texts(wd)[seen:]
        if any(EXPECTED_CIU in t for t in texts):
            break
        if not confirmed and any("MBE · IBR" in t for t in texts):
            log("confirmation step seen, answering 1")
            seen = len(incoming_texts(wd))
            send(wd, "1")
            sent += 1
            wait_acked(wd, sent)
            confirmed = True
            end = time.monotonic() + left(STEP_TIMEOUT)
            continue
        time.sleep(0.2)
    else:
        raise Fail("no incoming bubble containing %s; last incoming: %r"
                   % (EXPECTED_CIU, incoming_texts(wd)[-3:]))
    log("got CIU %s" % EXPECTED_CIU)
    # An image sent with the CIU must load (naturalWidth > 0) when there is one.
    end = time.monotonic() + left(5)
    while time.monotonic() < end:
        imgs = wd.js("return Array.from(document.querySelectorAll('#messages .msg.in img'))"
                     ".map(function (i) { return [i.complete, i.naturalWidth, i.src]; });")
        if all(c and w > 0 for c, w, _ in imgs):
            break
        time.sleep(0.2)
    else:
        raise Fail("inline image did not load: %r" % imgs)
    if imgs:
        log("%d inline image(s) loaded" % len(imgs))
    # The page itself keeps the last bubble in view once the image has loaded
    # (the test does not scroll).
    at_bottom = ("var m = document.getElementById('messages');"
                 "return m.scrollHeight - m.scrollTop - m.clientHeight < 8;")
    wait_js(wd, at_bottom, "the chat did not scroll to the bottom after the image loaded")
    wd.screenshot(shot)
    check_png(shot, WIDTH)
    log("screenshot %s" % shot)
    errors = wd.console_errors()
    if errors:
        raise Fail("console errors: %r" % errors[:5])
    # A new conversation in English: the page's labels follow the bot.
    wd.click(wd.find("#new"))
    wait_js(wd, "return document.querySelectorAll('#messages .msg').length === 0;",
            "the new conversation did not start empty")
    send(wd, "LANGUE")
    wait_acked(wd, 1)
    wait_incoming(wd, "English", 0)
    send(wd, "2")
    wait_acked(wd, 2)
    wait_js(wd, "return document.documentElement.lang === 'en';",
            "the page did not switch to English after the bot did", timeout=STEP_TIMEOUT)
    lab = labels(wd)
    if lab[1:] != ["Your number", "Type a message", "New conversation"]:
        raise Fail("English labels expected: %r" % lab)
    log("labels follow the bot's language: %r" % lab)
    wd.screenshot(shot[:-4] + "-en.png")


SKIP = 77  # ctest's SKIP_RETURN_CODE for it_sim_page
WIDTH = int(os.environ.get("CIU_SIM_WIDTH", "360"))


def browser():
    """(chromium, chromedriver) paths, or None when either is missing."""
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    driver = os.environ.get("CHROMEDRIVER") or shutil.which("chromedriver")
    if not os.path.exists(chromium) or not driver:
        log("SKIP: need %s and chromedriver (apt-get install chromium chromium-driver; "
            "make test installs them)" % chromium)
        return None
    return chromium, driver


def main():
    url = os.environ.get("CIU_TEST_URL")
    if not url:
        log("CIU_TEST_URL is not set (base URL of a running stack, e.g. http://127.0.0.1:8000)")
        return 1
    found = browser()
    if not found:
        return SKIP
    chromium, driver = found
    art = os.environ.get("CIU_TEST_ARTIFACTS")
    if art:
        os.makedirs(art, exist_ok=True)
        shot = os.path.join(art, "ciu-sim.png")
    else:
        shot = "/tmp/ciu-sim.png"
    width = WIDTH

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/sim/", timeout=10) as r:
            page = r.read(1 << 20)
        if b'id="messages"' not in page:
            log("FAIL: %s/sim/ is not the chat page" % url.rstrip("/"))
            return 1
    except (urllib.error.URLError, OSError) as e:
        log("FAIL: cannot get %s/sim/ (%s): is the stack running with CIU_SIMULATOR=true?"
            % (url.rstrip("/"), e))
        return 1

    tmp = tempfile.mkdtemp(prefix="ciu-sim-test-")
    try:
        proc, drv_log, wd = start_driver(driver, tmp)
    except Fail as e:
        log("FAIL: %s" % e)
        shutil.rmtree(tmp, ignore_errors=True)
        return 1
    rc = 1
    try:
        wd.new_session(chromium, os.path.join(tmp, "profile"), width)
        run(wd, url, shot)
        log("PASS")
        rc = 0
    except Fail as e:
        log("FAIL: %s" % e)
        if wd.sid:
            try:
                fail_shot = shot[:-4] + "-fail.png"
                wd.screenshot(fail_shot)
                log("screenshot of the failure: %s" % fail_shot)
            except Fail:
                pass
        drv_log.seek(0)
        tail = drv_log.read()[-2000:]
        if tail.strip():
            log("chromedriver log tail:\n" + tail)
    finally:
        wd.quit()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        drv_log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
