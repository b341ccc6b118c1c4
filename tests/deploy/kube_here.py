#!/usr/bin/env python3
"""deploy/k8s/drover.yaml (stdin) as it runs on this host (stdout), for
tests/deploy/run: the ConfigMap's addresses become the test stack's (its
Kafka without TLS and with one broker, its PostgreSQL) and the Docker
socket's hostPath the stack's podman socket. And a quirk of podman 4.3:
it publishes every containerPort on the host, which Kubernetes does not,
so replicas would collide on 9464; the ports are dropped and the probes
name theirs by number. Nothing else changes.

Usage: kube_here.py HOST_IP KAFKA_PORT PG_PORT ENGINE_SOCKET
"""
import sys

import yaml

ip, kafka, pg, sock = sys.argv[1:5]
here = {"kafka.bootstrap.servers": "%s:%s" % (ip, kafka),
        "kafka.security.protocol": "SASL_PLAINTEXT",
        "pg.conninfo": "host=%s port=%s dbname=drover user=drover" % (ip, pg),
        "topic.replication": "1", "topic.partitions": "4"}
docs = list(yaml.safe_load_all(sys.stdin))
for d in docs:
    if d["kind"] == "ConfigMap":
        lines = []
        for line in d["data"]["drover.conf"].splitlines():
            k = line.split("=", 1)[0].strip()
            lines.append("%s = %s" % (k, here[k]) if k in here else line)
        d["data"]["drover.conf"] = "\n".join(lines) + "\n"
    pod = d.get("spec", {}).get("template", {}).get("spec", {})
    for c in pod.get("containers", []):
        named = {p.get("name"): p["containerPort"]
                 for p in c.pop("ports", [])}
        for probe in ("livenessProbe", "readinessProbe"):
            get = c.get(probe, {}).get("httpGet")
            if get and get.get("port") in named:
                get["port"] = named[get["port"]]
    for v in pod.get("volumes", []):
        if v.get("hostPath", {}).get("path") == "/var/run/docker.sock":
            v["hostPath"]["path"] = sock
yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
