"""Real Kafka clients against OrderLog's Kafka front door (docs/KAFKA.md): kafka-python (pure
Python), confluent-kafka (librdkafka) and aiokafka produce and consume order events; a
confluent-kafka consumer group of 3 members shares a workload while a producer runs.
Run by tools/kafka-clients-test, which starts the server: python3 kafka_clients_test.py HOST:PORT ORDERS.jsonl
"""
import asyncio
import json
import sys
import threading
import time
from collections import defaultdict

BOOTSTRAP, ORDERS = sys.argv[1], sys.argv[2]
TOPIC = "orders"
failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)
    if not ok:
        failures.append(name)


def events(prefix):
    """The generated events, their order ids given `prefix` (one set per client)."""
    out = []
    for line in open(ORDERS):
        e = json.loads(line)
        e["order_id"] = prefix + e["order_id"][4:]
        if "event_id" in e:
            e["event_id"] = prefix + e["event_id"]
        out.append(e)
    return out


def per_order(evs):
    d = defaultdict(list)
    for e in evs:
        d[e["order_id"]].append(e["type"])
    return d


def consume_all_confluent(prefix, expected, group=None):
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": group or f"read-{prefix}-{time.time()}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([TOPIC])
    got, deadline = [], time.time() + 60
    while time.time() < deadline and len(got) < expected:
        m = c.poll(0.5)
        if m is None or m.error():
            continue
        e = json.loads(m.value())
        if e["order_id"].startswith(prefix):
            got.append(e)
    c.close()
    return got


# kafka-python: produce (its default partitioner is Kafka's murmur2) and consume.
def kafka_python():
    from kafka import KafkaConsumer, KafkaProducer
    evs = events("KPY-")
    p = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", compression_type="gzip",
                      key_serializer=str.encode, value_serializer=lambda v: json.dumps(v).encode())
    futures = [p.send(TOPIC, key=e["order_id"], value=e) for e in evs]
    p.flush()
    errors = [f.exception for f in futures if f.exception is not None]
    check("kafka-python produces every event (gzip, acks=all)", not errors, errors[:1])
    c = KafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", consumer_timeout_ms=5000)
    got = [json.loads(m.value) for m in c if json.loads(m.value)["order_id"].startswith("KPY-")]
    c.close()
    check("kafka-python consumes them back, each order's in order", per_order(got) == per_order(evs), f"{len(got)} of {len(evs)}")


# confluent-kafka: produce with each codec and batching on.
def confluent():
    from confluent_kafka import Producer
    total = []
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        evs = events(f"C{codec[:2].upper()}-")
        errors = []
        # Idempotence on (InitProducerId, sequence numbers), as the issue asks of this client.
        p = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random", "linger.ms": 5,
                      "compression.type": codec, "acks": "all", "enable.idempotence": True})
        for e in evs:
            p.produce(TOPIC, key=e["order_id"], value=json.dumps(e), on_delivery=lambda err, m: err and errors.append(err))
            p.poll(0)
        p.flush(30)
        check(f"confluent-kafka produces every event ({codec}, idempotent)", not errors, errors[:1])
        total += evs
    got = consume_all_confluent("C", len(total))
    check("confluent-kafka consumes them back, each order's in order", per_order(got) == per_order(total), f"{len(got)} of {len(total)}")

    # A record that breaks a rule is refused, and the producer is told.
    errors = []
    p = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random"})
    bad = {"order_id": "BAD-1", "type": "OrderCancelled", "data": {"reason": "x"}}
    p.produce(TOPIC, key="BAD-1", value=json.dumps(bad), on_delivery=lambda err, m: err and errors.append(err))
    p.flush(30)
    check("a rule-breaking record is refused to confluent-kafka's producer", len(errors) == 1 and "validate" in str(errors[0]).lower(), errors)


# A consumer group of three while a producer runs: every event once overall, each order's
# events in order on one member.
def confluent_group():
    from confluent_kafka import Consumer, Producer
    evs = events("GRP-")
    seen = defaultdict(list)
    lock = threading.Lock()
    stop = threading.Event()

    def member(i):
        c = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "orderlog-trio", "auto.offset.reset": "earliest",
                      "session.timeout.ms": 10000, "enable.auto.commit": True, "auto.commit.interval.ms": 500})
        c.subscribe([TOPIC])
        while not stop.is_set():
            m = c.poll(0.2)
            if m is None or m.error():
                continue
            e = json.loads(m.value())
            if e["order_id"].startswith("GRP-"):
                with lock:
                    seen[i].append(e)
        c.close()

    threads = [threading.Thread(target=member, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(3)  # the group forms
    p = Producer({"bootstrap.servers": BOOTSTRAP, "partitioner": "murmur2_random", "linger.ms": 5})
    for e in evs:
        p.produce(TOPIC, key=e["order_id"], value=json.dumps(e))
        p.poll(0)
    p.flush(30)
    deadline = time.time() + 60
    while time.time() < deadline:
        with lock:
            if sum(len(v) for v in seen.values()) >= len(evs):
                break
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    everything = [e for v in seen.values() for e in v]
    positions = [e["position"] for e in everything]
    check("a group of 3 consumes every event once while a producer runs", len(positions) == len(set(positions)) == len(evs),
          f"{len(positions)} read, {len(set(positions))} distinct, {len(evs)} produced")
    owners = defaultdict(set)
    for i, v in seen.items():
        for e in v:
            owners[e["order_id"]].add(i)
    check("each order's events on one member", all(len(s) == 1 for s in owners.values()))
    ordered = all([e["position"] for e in v if e["order_id"] == o] == sorted(e["position"] for e in v if e["order_id"] == o)
                  for v in seen.values() for o in {e["order_id"] for e in v})
    check("each order's events in order", ordered)
    check("the members shared the work", sum(1 for v in seen.values() if v) >= 2, {i: len(v) for i, v in seen.items()})


# aiokafka: produce and consume.
async def aiokafka_test():
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    evs = events("AIO-")
    p = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
    await p.start()
    try:
        for e in evs:
            await p.send(TOPIC, key=e["order_id"].encode(), value=json.dumps(e).encode())
        await p.flush()
    finally:
        await p.stop()
    c = AIOKafkaConsumer(TOPIC, bootstrap_servers=BOOTSTRAP, auto_offset_reset="earliest", enable_auto_commit=False)
    await c.start()
    got = []
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(got) < len(evs):
            batch = await c.getmany(timeout_ms=1000)
            for msgs in batch.values():
                got += [json.loads(m.value) for m in msgs if json.loads(m.value)["order_id"].startswith("AIO-")]
    finally:
        await c.stop()
    check("aiokafka produces and consumes back every event, each order's in order", per_order(got) == per_order(evs), f"{len(got)} of {len(evs)}")


for step in (kafka_python, confluent, confluent_group, lambda: asyncio.run(aiokafka_test())):
    try:
        step()
    except Exception as error:  # a client's exception is a failure of that step, with its message
        check(getattr(step, "__name__", "aiokafka"), False, repr(error))
print(f"kafka clients: {len(failures)} failed")
sys.exit(1 if failures else 0)
