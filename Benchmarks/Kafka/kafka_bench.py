"""Kafka path throughput (docs/BENCHMARKS.md, issue 13): a confluent-kafka producer (linger and
batching on) sends a JSONL file of order events keyed by order id to a running
`orderlog serve --kafka-port`, then a consumer reads every event back.
Usage: .venv-kafka/bin/python Benchmarks/Kafka/kafka_bench.py HOST:PORT FILE.jsonl [codec [idempotent]]"""
import json
import sys
import time

from confluent_kafka import Consumer, Producer

bootstrap, path = sys.argv[1], sys.argv[2]
codec = sys.argv[3] if len(sys.argv) > 3 else "none"
idempotent = len(sys.argv) > 4 and sys.argv[4] == "idempotent"
lines = open(path, "rb").read().splitlines()
keys = [json.loads(l)["order_id"].encode() for l in lines]

errors = []
p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 20,
              "batch.num.messages": 10000, "batch.size": 4 << 20, "compression.type": codec,
              "queue.buffering.max.messages": 2_000_000, "queue.buffering.max.kbytes": 4 << 20, "acks": "all",
              "enable.idempotence": idempotent})
start = time.perf_counter()
for k, v in zip(keys, lines):
    while True:
        try:
            p.produce("orders", key=k, value=v, on_delivery=lambda err, m: err and errors.append(err))
            break
        except BufferError:
            p.poll(0.01)
    p.poll(0)
p.flush(120)
produced = time.perf_counter() - start
print(f"produce: {len(lines)} events in {produced:.2f} s = {len(lines) / produced:,.0f} events/s ({codec}{', idempotent' if idempotent else ''}), {len(errors)} errors")

c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{time.time()}", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "fetch.max.bytes": 64 << 20, "max.partition.fetch.bytes": 8 << 20,
              "queued.max.messages.kbytes": 1 << 20})
c.subscribe(["orders"])
got, start, first = 0, None, None
deadline = time.time() + 300
while got < len(lines) and time.time() < deadline:
    msgs = c.consume(10000, 1.0)
    if msgs and start is None:
        start = time.perf_counter()
    got += sum(1 for m in msgs if not m.error())
consumed = time.perf_counter() - start
c.close()
print(f"consume: {got} events in {consumed:.2f} s = {got / consumed:,.0f} events/s (from the first record)")
