"""How soon a new event shows on an open order page (docs/BENCHMARKS.md, issue 14): for each of
N orders, an event is POSTed (its acknowledgement is the HTTP answer, durable under the server's
fsync policy) while a Server-Sent Events stream for that order is open, as the console's page
holds it; measured: acknowledgement → the event on the stream, and → the page's fragment
fetched again (what the page's script does on the event). Prints p50/p99/max in ms.
Usage: sse_latency.py BASE_URL ORDERS [N]"""
import http.client
import json
import sys
import threading
import time
import urllib.parse
import urllib.request

base, orders = sys.argv[1], int(sys.argv[2])
n = int(sys.argv[3]) if len(sys.argv) > 3 else 200
host = urllib.parse.urlparse(base)
stream_ms, page_ms = [], []
for k in range(n):
    order = "ORD-%08d" % (1 + (k * 7919) % orders)
    got = threading.Event()
    seen = {}

    def listen():
        c = http.client.HTTPConnection(host.hostname, host.port, timeout=10)
        c.request("GET", "/events?order_id=" + order, headers={"Accept": "text/event-stream"})
        r = c.getresponse()
        ready.set()
        while True:
            line = r.fp.readline()
            if not line:
                return
            if line.startswith(b"data: ") and b"sse-latency" in line:
                seen["t"] = time.perf_counter()
                got.set()
                c.close()
                return

    ready = threading.Event()
    t = threading.Thread(target=listen, daemon=True)
    t.start()
    ready.wait(5)
    time.sleep(0.01)
    body = json.dumps({"order_id": order, "type": "NoteAdded", "data": {"text": "sse-latency %d" % k}}).encode()
    req = urllib.request.Request(base + "/orders/%s/events" % order, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        r.read()
    acked = time.perf_counter()
    if not got.wait(5):
        print("event %d not seen within 5 s" % k)
        continue
    stream_ms.append((seen["t"] - acked) * 1000)
    with urllib.request.urlopen(base + "/console/orders/%s?fragment=1" % order, timeout=10) as r:
        r.read()
    page_ms.append((time.perf_counter() - acked) * 1000)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


for name, xs in [("ack -> event on the stream", stream_ms), ("ack -> page fragment fetched", page_ms)]:
    if xs:
        print("%s: n=%d p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (name, len(xs), pct(xs, 0.5), pct(xs, 0.99), max(xs)))
