"""A background load of whole conversations through the real webhook path, for
the fault tests (tests/integration/test_faults.py).

Load(stack, fake, people, rate) plays `people` simulated people, each sending
the 7 messages of a conversation (greeting, 5 answers, confirmation) as signed
Meta webhooks (JSON, X-Hub-Signature-256) or Twilio webhooks (form,
X-Twilio-Signature) to ingress; a new person starts every 7/rate seconds, so
messages arrive at about `rate` per second. Each person has its own CIU.

A webhook not answered 200 (503 while the store is down, a refused or reset
connection while ingress restarts) is sent again, with the same provider
message id, as Twilio and Meta do; the next message of that person waits for
that 200 (a provider delivers one person's messages in order; an unacked one
is retried before the next in these tests, so the order is well defined).

The replies are what the fake provider accepted (its call log). check()
asserts, per person: a whole conversation, every reply in order, the CIU
issued once, and no reply twice except the resends the caller allows.

Standard library only; deadlines, never fixed sleeps.
"""
import heapq
import http.client
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import providers as P  # noqa: E402
from stack import TestFailure, check  # noqa: E402

LAST = ["Mbengue", "Kalala", "Ngalula", "Tshibanda", "Mukendi", "Ilunga", "Kabila", "Lumumba",
        "Kasongo", "Lukusa"]
FIRST = ["Ibrahima", "Marie", "Paul", "Ruth", "Jean"]
CITIES = ["DA", "KN", "LU", "MM"]
PUBLIC = "https://ciu.test"  # PUBLIC_BASE_URL of a Twilio stack (signatures)


def answers(i):
    """The 7 messages of person i and the CIU they lead to (distinct for i < 4000)."""
    last, i = LAST[i % 10], i // 10
    first, i = FIRST[i % 5], i // 5
    year, i = 1990 + i % 10, i // 10
    city, i = CITIES[i % 4], i // 4
    gender = 1 + i % 2
    ciu = "%s%s%d%s%d" % (last[:3].upper(), first[:3].upper(), year % 10, city, gender)
    return ["Bonjour", last, first, str(year), city, str(gender), "1"], ciu


def expected(ciu):
    """What each reply of a whole conversation contains, in order."""
    return ["bienvenue", "Question 1 sur 5", "Question 2 sur 5", "Question 3 sur 5",
            "Question 4 sur 5", "Question 5 sur 5", "%s · %s" % (ciu[:3], ciu[3:6]), ciu]


def reply_text(call):
    """The text of one send the fake accepted (Twilio form or Meta JSON)."""
    if "form" in call:
        body = call["form"].get("Body", "")
        return body if isinstance(body, str) else " ".join(body)
    j = call.get("json") or {}
    t = j.get("type")
    if t == "text":
        return j["text"]["body"]
    if t == "image":
        return "[image] " + j["image"].get("caption", "")
    if t == "interactive":
        return "[%s] %s" % (j["interactive"]["type"], j["interactive"]["body"]["text"])
    return "[%s]" % t


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Load:
    def __init__(self, stack, fake, people=60, rate=40.0, think=1.0, channel="meta",
                 prefix="2438300", first=0, workers=16, retry_s=0.2):
        self.stack, self.fake, self.channel = stack, fake, channel
        self.rate, self.think, self.retry_s = rate, think, retry_s
        self.numbers = ["%s%05d" % (prefix, first + k) for k in range(people)]
        self.script = {}
        for k, n in enumerate(self.numbers):
            self.script[n] = answers(first + k)
        self.lock = threading.Lock()
        self.cv = threading.Condition(self.lock)
        self.events = []           # heap of (due, seq, number, k)
        self.seq = 0
        self.status = {}           # HTTP status (0: no answer) -> count
        self.log = []              # (time, number, k, status) of every attempt
        self.sent_at = {}          # (number, k) -> first attempt
        self.acked_at = {}         # (number, k) -> its 200
        self.replies = {}          # number -> [(time, text)] accepted by the fake
        self.since = 0
        self.stopping = False
        self.nworkers = workers
        self.threads = []

    # ---- sending -------------------------------------------------------------------

    def _push(self, due, number, k):
        with self.cv:
            self.seq += 1
            heapq.heappush(self.events, (due, self.seq, number, k))
            self.cv.notify()

    def _take(self):
        with self.cv:
            while not self.stopping:
                if self.events and self.events[0][0] <= time.time():
                    _, _, number, k = heapq.heappop(self.events)
                    return number, k
                wait = self.events[0][0] - time.time() if self.events else 0.5
                self.cv.wait(max(0.001, min(wait, 0.5)))
            return None

    def _body(self, number, k):
        """The webhook of message k of a person: built once, sent the same on retries."""
        key = (number, k)
        if key not in self.bodies:
            text = self.script[number][0][k]
            if self.channel == "meta":
                self.bodies[key] = P.meta_body(P.meta_inbound_payload(
                    messages=[P.meta_text(number, text)]))
            else:
                self.bodies[key] = P.twilio_inbound_form("+" + number, text)
        return self.bodies[key]

    def _post(self, conn, number, k):
        body = self._body(number, k)
        path = self.stack.env.get("WEBHOOK_PATH", "/whatsapp/webhook")
        if self.channel == "meta":
            headers = P.meta_headers(body, P.META_APP_SECRET)
            data = body
        else:
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Twilio-Signature": P.twilio_signature(PUBLIC + path, body,
                                                                P.TWILIO_AUTH_TOKEN)}
            data = urllib.parse.urlencode(body).encode()
        conn.request("POST", path, data, headers)
        r = conn.getresponse()
        r.read()
        return r.status

    def _worker(self):
        conn, base = None, None
        while True:
            job = self._take()
            if job is None:
                break
            number, k = job
            if conn is None or base != self.stack.base:
                base = self.stack.base
                host, port = base.split("//")[1].split(":")
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
            t0 = time.time()
            try:
                status = self._post(conn, number, k)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                status = 0
                self.stack.refresh_base()  # ingress restarted: a new port
            t1 = time.time()
            with self.lock:
                self.status[status] = self.status.get(status, 0) + 1
                self.log.append((t0, number, k, status))
                self.sent_at.setdefault((number, k), t0)
                if status == 200:
                    self.acked_at[(number, k)] = t1
            if status == 200:
                if k + 1 < len(self.script[number][0]):
                    self._push(max(t1, self.start_at[number] + (k + 1) * self.think), number,
                               k + 1)
            else:
                self._push(t1 + self.retry_s, number, k)  # as a provider retries
        if conn is not None:
            conn.close()

    def _poll(self):
        while not self.stopping:
            self.poll_once()
            time.sleep(0.1)

    def poll_once(self):
        """Fetch the fake's new calls into self.replies."""
        calls = self.fake.calls("messages", since=self.since)
        with self.lock:
            for c in calls:
                self.since = max(self.since, c.get("seq", self.since))
                if not 200 <= c["status"] < 300:
                    continue
                to = (c.get("to") or "").lstrip("+")
                if to in self.script:
                    self.replies.setdefault(to, []).append((c.get("time", time.time()),
                                                            reply_text(c)))

    def start(self):
        self.bodies = {}
        self.start_at = {}
        t = time.time()
        gap = 7.0 / self.rate
        for i, n in enumerate(self.numbers):
            self.start_at[n] = t + i * gap
            self._push(self.start_at[n], n, 0)
        self.threads = [threading.Thread(target=self._worker, daemon=True)
                        for _ in range(self.nworkers)]
        self.threads.append(threading.Thread(target=self._poll, daemon=True))
        for th in self.threads:
            th.start()
        return self

    def stop(self):
        with self.cv:
            self.stopping = True
            self.cv.notify_all()
        for th in self.threads:
            th.join(60)
        self.poll_once()

    # ---- progress --------------------------------------------------------------------

    def acked(self):
        with self.lock:
            return len(self.acked_at)

    def total(self):
        return len(self.numbers) * 7

    def replies_count(self):
        with self.lock:
            return sum(len(v) for v in self.replies.values())

    def complete(self, number):
        ciu = self.script[number][1]
        got = self.replies.get(number, [])
        return len(got) >= 8 and ciu in got[-1][1]

    def completed(self):
        with self.lock:
            return sum(1 for n in self.numbers if self.complete(n))

    def wait_done(self, timeout):
        """Every message acknowledged and every conversation complete, or fail."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.acked() == self.total() and self.completed() == len(self.numbers):
                return
            time.sleep(0.2)
        self.stop()
        missing = [n for n in self.numbers if not self.complete(n)]
        raise TestFailure("load not done in %ds: %d of %d messages acked, %d of %d complete; "
                          "e.g. %s got %r" % (
                              timeout, self.acked(), self.total(), self.completed(),
                              len(self.numbers), missing[:1],
                              [t[:40] for _, t in self.replies.get(missing[0], [])]
                              if missing else None))

    def wait_progress(self, replies, timeout=60):
        """Until `replies` more replies than now reached the fake."""
        want = self.replies_count() + replies
        deadline = time.time() + timeout
        while self.replies_count() < want:
            check(time.time() < deadline, "the load made no progress (%d replies of %d)" % (
                self.replies_count(), want))
            time.sleep(0.05)

    # ---- verdict ---------------------------------------------------------------------

    def check(self, resends=0):
        """Per person: the whole conversation in order, the CIU once; a reply sent twice in
        a row counts as a duplicate, and there may be at most `resends` in all. Returns the
        number of duplicates."""
        dups = 0
        for n in self.numbers:
            ciu = self.script[n][1]
            texts = [t for _, t in self.replies.get(n, [])]
            collapsed = []
            for t in texts:
                if collapsed and collapsed[-1] == t:
                    dups += 1
                    continue
                collapsed.append(t)
            want = expected(ciu)
            check(len(collapsed) == len(want), "%s: %d replies, want %d: %r" % (
                n, len(collapsed), len(want), [t[:40] for t in texts]))
            for w, t in zip(want, collapsed):
                check(w.lower() in t.lower(), "%s: reply out of order: wanted %r in %r (all: %r)"
                      % (n, w, t, [x[:40] for x in texts]))
            check(sum(1 for t in collapsed if ciu in t) == 1, "%s: the CIU %s issued %d "
                  "times" % (n, ciu, sum(1 for t in collapsed if ciu in t)))
        check(dups <= resends, "%d replies delivered twice, only %d resends counted" % (
            dups, resends))
        return dups

    def reply_latencies(self, numbers=None):
        """Webhook sent to its (last) reply, for the messages of `numbers` (default all)."""
        out = []
        counts = [2, 1, 1, 1, 1, 1, 1]
        with self.lock:
            for n in numbers or self.numbers:
                arr = self.replies.get(n, [])
                cum = 0
                for k, c in enumerate(counts):
                    cum += c
                    if len(arr) >= cum and (n, k) in self.sent_at:
                        out.append(arr[cum - 1][0] - self.sent_at[(n, k)])
        return out

    def summary(self):
        lat = self.reply_latencies()
        return ("%d people, %d messages, acks by status %r, reply p50 %.0f ms p99 %.0f ms" % (
            len(self.numbers), self.total(), dict(sorted(self.status.items())),
            pct(lat, 50) * 1000, pct(lat, 99) * 1000))


def flood(stack, number, rate, seconds, stop=None, threads=64):
    """One number posting signed Meta webhooks, open loop at `rate` messages/s for `seconds`
    (each message due at its time; `threads` connections, so when ingress answers slower
    than threads/rate the achieved rate is lower). Returns (messages, seconds, statuses)."""
    stop = stop or threading.Event()
    sent = [0]
    statuses = {}
    lock = threading.Lock()
    t0 = time.time()

    def worker():
        host, port = stack.base.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        while not stop.is_set() and time.time() - t0 < seconds:
            with lock:
                k = sent[0]
                sent[0] += 1
            due = t0 + k / float(rate)
            if due > time.time():
                time.sleep(due - time.time())
            body = P.meta_body(P.meta_inbound_payload(messages=[P.meta_text(number,
                                                                           "spam %d" % k)]))
            try:
                conn.request("POST", "/whatsapp/webhook", body,
                             P.meta_headers(body, P.META_APP_SECRET))
                r = conn.getresponse()
                r.read()
                s = r.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=30)
                s = 0
            with lock:
                statuses[s] = statuses.get(s, 0) + 1
        conn.close()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(statuses.values()), time.time() - t0, statuses
