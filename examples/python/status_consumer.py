#!/usr/bin/env python3
"""Read Drover's job status stream without any of Drover's C code.

Consumes the drover.events topic with confluent-kafka and decodes each
message with the Avro library and the schema files in schemas/: Avro
single-object encoding is the two bytes C3 01, the little-endian CRC-64-AVRO
fingerprint of the writer schema's Parsing Canonical Form, then the Avro
binary body. The writer schema is looked up by that fingerprint (current
schemas and schemas/history/), and the body is resolved to the current
JobStateChange schema, so events from older dispatchers still read.

Debian packages: python3-confluent-kafka, python3-avro.

    status_consumer.py [--config FILE] [--bootstrap HOST:PORT] [--job-id ID]
                       [--from-beginning] [--max-seconds N]

Kafka asks for credentials: --config takes a Drover configuration file and
uses its kafka.* keys (the local stack's status consumers' role:
.stack/conf/observer.conf). Its consumer group starts with drover-watch-,
the prefix that role may use.

Prints one line per event: job id, status, status reason.
"""
import argparse
import glob
import io
import json
import os
import struct
import sys
import time
import uuid

import avro.io
import avro.schema
from confluent_kafka import Consumer

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = os.path.join(HERE, "..", "..", "schemas")

_EMPTY = 0xC15D213AA4D7A795  # the CRC-64-AVRO initial value (the spec's EMPTY)


def _table():
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_TABLE = _table()


def fingerprint(canonical: str) -> int:
    """CRC-64-AVRO of a schema's Parsing Canonical Form (Avro spec)."""
    fp = _EMPTY
    for b in canonical.encode("utf-8"):
        fp = (fp >> 8) ^ _TABLE[(fp ^ b) & 0xFF]
    return fp


def load_schemas():
    """fingerprint -> parsed schema, for every schema file Drover ships."""
    by_fp, current = {}, {}
    paths = glob.glob(os.path.join(SCHEMAS, "*.avsc")) + glob.glob(
        os.path.join(SCHEMAS, "history", "*.avsc"))
    for path in paths:
        with open(path, encoding="utf-8") as f:
            schema = avro.schema.parse(f.read())
        by_fp[fingerprint(schema.canonical_form)] = schema
        if os.path.basename(os.path.dirname(path)) != "history":
            current[schema.name] = schema
    return by_fp, current


def decode(value: bytes, by_fp, current):
    if len(value) < 10 or value[0] != 0xC3 or value[1] != 0x01:
        raise ValueError("not an Avro single-object message")
    (fp,) = struct.unpack("<Q", value[2:10])
    writer = by_fp.get(fp)
    if writer is None:
        raise ValueError("unknown schema fingerprint %016x" % fp)
    reader = current.get(writer.name, writer)
    datum_reader = avro.io.DatumReader(writer, reader)
    return writer.name, datum_reader.read(avro.io.BinaryDecoder(io.BytesIO(value[10:])))


def read_conf(path, depth=0):
    """The kafka.* keys of a Drover configuration file (includes followed),
    as librdkafka properties."""
    if depth > 8:
        raise ValueError("%s: includes nest too deep" % path)
    props = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key, _, value = line.partition("=")
            key, value = key.strip(), value.strip()
            if key == "include":
                inc = value if os.path.isabs(value) else os.path.join(os.path.dirname(path), value)
                props.update(read_conf(inc, depth + 1))
            elif key.startswith("kafka.") and len(key) > 6:
                props[key[6:]] = value
    return props


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="a Drover configuration file (its kafka.* keys)")
    ap.add_argument("--bootstrap", help="Kafka's address (default: the file's, or 127.0.0.1:19092)")
    ap.add_argument("--topic", default="drover.events")
    ap.add_argument("--job-id")
    ap.add_argument("--from-beginning", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=0,
                    help="stop after this long (0: run until interrupted)")
    args = ap.parse_args()
    by_fp, current = load_schemas()
    props = read_conf(args.config) if args.config else {}
    props.setdefault("bootstrap.servers", "127.0.0.1:19092")
    if args.bootstrap:
        props["bootstrap.servers"] = args.bootstrap
    props.update({
        "group.id": "drover-watch-status-consumer-%s" % uuid.uuid4(),
        "auto.offset.reset": "earliest" if args.from_beginning else "latest",
        "enable.auto.commit": False,
    })
    consumer = Consumer(props)
    consumer.subscribe([args.topic])
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    try:
        while deadline is None or time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                print("kafka: %s" % msg.error(), file=sys.stderr)
                continue
            try:
                name, ev = decode(msg.value(), by_fp, current)
            except ValueError as e:
                print("skipped a message: %s" % e, file=sys.stderr)
                continue
            if name != "JobStateChange":
                continue
            job = ev["jobId"]
            if args.job_id and job != args.job_id and \
                    not job.startswith(args.job_id + ":"):
                continue
            print("%s %s %s" % (job, ev["status"], ev.get("statusReason") or ""),
                  flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()


if __name__ == "__main__":
    main()
