#!/usr/bin/env python3
"""Count CIU registrations per birth city from ciu's live event stream.

An example consumer for integrators (docs/events.md). It subscribes to the
`ciu.issued` events of ciu-engine over ZeroMQ and keeps a count per city
code (the two letters CC of a CIU LLLFFFYCCG). A CIU issued again to the
same person (`existing`: true) is not a new registration.

    sudo apt-get install python3-zmq python3-msgpack
    python3 count_by_city.py                       # CIU_ENGINE_EVENTS or tcp://127.0.0.1:5613
    python3 count_by_city.py --connect tcp://10.0.0.5:5613 --every 60
    python3 count_by_city.py --max 100             # stop after 100 registrations

It prints the table every --every seconds (and on exit) as one JSON object
per line: {"total": 12, "cities": {"KN": 7, "DA": 5}}. With several
ciu-engine replicas, give every replica's endpoint (comma-separated).

What a consumer that was not running missed is kept in the store: replay it
first with `ciu-tap --since <seq|time> --no-follow ciu.issued` (JSON lines),
then go live. Events are at-least-once across such a switch: drop ids you
have already counted, as this script does.
"""
import argparse
import json
import os
import signal
import sys
import time

import msgpack
import zmq


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--connect", default=os.environ.get("CIU_ENGINE_EVENTS",
                                                        "tcp://127.0.0.1:5613"),
                    help="ciu-engine PUB endpoint(s), comma-separated")
    ap.add_argument("--every", type=float, default=10.0, help="print the table every N seconds")
    ap.add_argument("--max", type=int, default=0, help="exit after N registrations (0: never)")
    ap.add_argument("--replay", metavar="FILE",
                    help="first count the JSON lines of FILE ('-': stdin), e.g. the output of "
                         "ciu-tap --since 0 --no-follow ciu.issued")
    return ap.parse_args()


class Counter:
    def __init__(self):
        self.cities = {}
        self.total = 0
        self.seen = set()  # event ids: an event replayed and then heard live counts once

    def add(self, ev):
        if ev.get("type") != "ciu.issued" or ev.get("existing") or ev.get("id") in self.seen:
            return False
        ciu = ev.get("ciu", "")
        if len(ciu) != 10:
            return False
        self.seen.add(ev.get("id"))
        city = ciu[7:9]
        self.cities[city] = self.cities.get(city, 0) + 1
        self.total += 1
        return True

    def line(self):
        return json.dumps({"total": self.total, "cities": dict(sorted(self.cities.items()))})


def main():
    args = parse_args()
    counter = Counter()
    if args.replay:
        src = sys.stdin if args.replay == "-" else open(args.replay, encoding="utf-8")
        for raw in src:
            if raw.strip():
                counter.add(json.loads(raw))
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    for ep in args.connect.split(","):
        sub.connect(ep.strip())
    sub.setsockopt(zmq.SUBSCRIBE, b"ciu.issued")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(counter.line(), flush=True)
    next_print = time.monotonic() + args.every
    try:
        while not stop and not (args.max and counter.total >= args.max):
            if sub.poll(200):
                _topic, body = sub.recv_multipart()
                counter.add(msgpack.unpackb(body, raw=False))
            if time.monotonic() >= next_print:
                print(counter.line(), flush=True)
                next_print = time.monotonic() + args.every
    except zmq.ZMQError as e:
        if not stop:
            raise SystemExit("count_by_city: %s" % e)
    print(counter.line(), flush=True)
    sub.close(0)
    ctx.term()


if __name__ == "__main__":
    main()
