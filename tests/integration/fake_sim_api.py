#!/usr/bin/env python3
"""A throwaway fake of ciu-ingress's simulator API, for developing the chat
page, ciu-chat and ciu-loadgen without the daemons (stdlib only).

    python3 tests/integration/fake_sim_api.py [--port 0] [--port-file F] [--delay 0.05]

Serves POST/GET /sim/messages (long-poll, cursor), GET /sim/ (ingress/www/sim.html),
GET /health, GET /media/qr/<token>.png. It plays the five questions, a
confirmation step and answers with a CIU plus a QR image. Not the real bot:
the CIU it returns is computed naively from the answers.
"""
import argparse
import json
import os
import re
import struct
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = os.path.join(HERE, "..", "..", "ingress", "www", "sim.html")
MAX_BODY = 64 * 1024

QUESTIONS = [
    "Question 1 sur 5 : quel est votre *nom de famille* ?",
    "Question 2 sur 5 : quel est votre *prénom* ?",
    "Question 3 sur 5 : quelle est votre *année de naissance* ? (ex. 1997)",
    "Question 4 sur 5 : quel est le *code de votre ville* ? (ex. DA)",
    "Question 5 sur 5 : votre sexe ?\n1. Homme\n2. Femme",
]


def png_checker():
    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    # 8x8 black/white checker, 8-bit grey, scaled by the browser
    rows = b"".join(b"\x00" + bytes(0 if (x + y) % 2 else 255 for x in range(8))
                    for y in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Store:
    def __init__(self, delay):
        self.cond = threading.Condition()
        self.out = {}      # number -> list of (seq, id, text, media)
        self.state = {}    # number -> (step, answers)
        self.seq = 0
        self.delay = delay

    def _send(self, number, text, media=None):
        self.seq += 1
        self.out.setdefault(number, []).append((self.seq, "m%d" % self.seq, text, media))
        self.cond.notify_all()

    def inbound(self, number, text):
        if self.delay:
            time.sleep(self.delay)
        with self.cond:
            step, ans = self.state.get(number, (0, []))
            t = text.strip()
            if step == 0:
                self._send(number, "Bienvenue sur *CIU* 👋\nJe vais vous poser 5 questions.")
                self._send(number, QUESTIONS[0])
                step = 1
            elif 1 <= step <= 5:
                ans.append(t)
                if step < 5:
                    self._send(number, QUESTIONS[step])
                    step += 1
                else:
                    sex = "Homme" if t == "1" else "Femme"
                    self._send(number, "Vérifiez vos réponses :\n*%s / %s / %s / %s / %s*\n"
                               "1. Oui, c'est correct\n2. Non, recommencer"
                               % (ans[0][:3].upper(), ans[1][:3].upper(), ans[2][-1:],
                                  ans[3].upper(), sex))
                    step = 6
            elif step == 6:
                if t.lower() in ("1", "oui"):
                    ciu = "%s%s%s%s%s" % (ans[0][:3].upper(), ans[1][:3].upper(), ans[2][-1:],
                                          ans[3].upper(), ans[4])
                    self._send(number, "Votre Code d'Identification Unique est :\n*%s*\n"
                               "_Gardez-le précieusement._" % ciu,
                               "/media/qr/%s.png" % ciu)
                    step, ans = 0, []
                else:
                    self._send(number, QUESTIONS[0])
                    step, ans = 1, []
            self.state[number] = (step, ans)

    def poll(self, number, after, wait):
        deadline = time.monotonic() + wait
        with self.cond:
            while True:
                msgs = [m for m in self.out.get(number, []) if m[0] > after]
                left = deadline - time.monotonic()
                if msgs or left <= 0:
                    cur = msgs[-1][0] if msgs else after
                    return msgs, cur
                self.cond.wait(left)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store = None

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_VERBOSE"):
            sys.stderr.write("fake: " + fmt % args + "\n")

    def _reply(self, code, body, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        if u.path == "/health":
            return self._reply(200, {"status": "ok"})
        if u.path in ("/sim/", "/sim"):
            with open(PAGE, "rb") as f:
                return self._reply(200, f.read(), "text/html; charset=utf-8")
        if re.fullmatch(r"/media/qr/[A-Za-z0-9]+\.png", u.path):
            return self._reply(200, png_checker(), "image/png")
        if u.path == "/sim/messages":
            to = q.get("to", [""])[0]
            if not re.fullmatch(r"\+[0-9]{8,15}", to):
                return self._reply(400, {"error": "bad 'to'"})
            try:
                after = int(q.get("after", ["0"])[0] or "0")
                wait = min(max(float(q.get("wait", ["0"])[0]), 0), 30)
            except ValueError:
                return self._reply(400, {"error": "bad cursor or wait"})
            msgs, cur = self.store.poll(to, after, wait)
            return self._reply(200, {"messages": [{"id": i, "text": t, "media_url": m}
                                                  for (_, i, t, m) in msgs],
                                     "cursor": str(cur)})
        return self._reply(404, {"error": "not found"})

    def do_POST(self):
        u = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return self._reply(413, {"error": "body too large"})
        body = self.rfile.read(n)
        if u.path != "/sim/messages":
            return self._reply(404, {"error": "not found"})
        try:
            j = json.loads(body)
            frm, text = j["from"], j["text"]
            assert isinstance(frm, str) and isinstance(text, str)
        except Exception:
            return self._reply(400, {"error": "expected JSON {from, text}"})
        threading.Thread(target=self.store.inbound, args=(frm, text), daemon=True).start()
        return self._reply(202, {"id": "in-%d" % time.monotonic_ns()})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--delay", type=float, default=0.05, help="bot think time, seconds")
    a = ap.parse_args()
    Handler.store = Store(a.delay)
    ThreadingHTTPServer.request_queue_size = 1024   # listen backlog, for ciu-loadgen
    ThreadingHTTPServer.daemon_threads = True
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    print("fake sim api on http://127.0.0.1:%d" % port, flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
