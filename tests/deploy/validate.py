#!/usr/bin/env python3
"""Validate what cannot run here (no Docker engine, no Kubernetes, no
systemd as PID 1): parse every file under deploy/ for real clusters and
check it against Drover itself.

- every configuration key used (drover.conf examples, the ConfigMap, DRV_*
  environment variables, --set flags) is one `drover --help-config` lists,
  or a kafka.* pass-through key;
- Kubernetes: each document has apiVersion, kind, metadata.name; each
  Deployment's selector matches its pod labels; every volumeMount names a
  volume; every secretKeyRef names the documented Secret; commands name a
  Drover program;
- compose: services run Drover programs, mount only declared volumes;
- systemd units: [Unit], [Service] and [Install] sections, ExecStart runs a
  Drover program with valid flags, Restart set;
- the Dockerfile copies exactly the programs CMake builds.

Usage: validate.py ROOT HELP_CONFIG_FILE  (exit 0 when all hold)
"""
import configparser
import os
import re
import shlex
import sys

import yaml

PROGRAMS = {"drover", "drover-dispatcher", "drover-worker",
            "drover-gateway"}
errors = []


def err(where, msg):
    errors.append("%s: %s" % (where, msg))


def known_keys(help_file):
    keys = set()
    with open(help_file, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^  ([a-z][a-z0-9._]+)\s+(string|integer|number|boolean)", line)
            if m:
                keys.add(m.group(1))
    if len(keys) < 10:
        err(help_file, "no configuration keys found (is it drover --help-config?)")
    return keys


def check_key(where, key, keys):
    if key.startswith("kafka.") or key in keys:
        return
    err(where, "unknown configuration key %r" % key)


def check_conf_text(where, text, keys):
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            err("%s:%d" % (where, n), "not key = value: %r" % line)
            continue
        check_key("%s:%d" % (where, n), line.split("=", 1)[0].strip(), keys)


def check_command(where, argv, keys):
    if not argv:
        err(where, "empty command")
        return
    prog = os.path.basename(argv[0])
    if prog not in PROGRAMS:
        err(where, "runs %r, not a Drover program" % argv[0])
    i = 1
    while i < len(argv):
        if argv[i] == "--set":
            if i + 1 >= len(argv) or "=" not in argv[i + 1]:
                err(where, "--set needs key=value")
            else:
                check_key(where, argv[i + 1].split("=", 1)[0], keys)
            i += 2
            continue
        if argv[i] not in ("--config", "--migrate"):
            err(where, "unknown flag %r" % argv[i])
        i += 2 if argv[i] == "--config" else 1


def check_env(where, env, keys):
    for e in env or []:
        name = e.get("name", "")
        if name.startswith("DRV_"):
            check_key(where, name[4:].lower().replace("_", "."), keys)


# what dispatcher/prov_kube.c calls: (API group, resource) -> verbs
PROVISIONER_CALLS = {("apps", "deployments/scale"): {"get", "patch"},
                     ("", "pods"): {"patch"}}


def check_rbac(path):
    """The provisioner's Role grants every call prov_kube.c makes, and its
    RoleBinding gives it to the ServiceAccount defined there."""
    with open(path, encoding="utf-8") as f:
        docs = {d["kind"]: d for d in yaml.safe_load_all(f) if d}
    for kind in ("ServiceAccount", "Role", "RoleBinding"):
        if kind not in docs:
            err(path, "no %s" % kind)
            return
    granted = {}
    for rule in docs["Role"].get("rules", []):
        for g in rule.get("apiGroups", []):
            for r in rule.get("resources", []):
                granted.setdefault((g, r), set()).update(rule.get("verbs", []))
    for call, verbs in PROVISIONER_CALLS.items():
        if not verbs <= granted.get(call, set()):
            err(path, "Role does not grant %s on %s" % (sorted(verbs), call))
    rb = docs["RoleBinding"]
    if rb["roleRef"]["name"] != docs["Role"]["metadata"]["name"]:
        err(path, "RoleBinding names another Role")
    if not any(s.get("kind") == "ServiceAccount" and s.get("name") ==
               docs["ServiceAccount"]["metadata"]["name"]
               for s in rb.get("subjects", [])):
        err(path, "RoleBinding does not bind the ServiceAccount")


def check_k8s(path, keys):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    kinds = set()
    for d in docs:
        where = "%s:%s/%s" % (path, d.get("kind"), d.get("metadata", {}).get("name"))
        for field in ("apiVersion", "kind", "metadata"):
            if field not in d:
                err(where, "missing %s" % field)
        kinds.add(d.get("kind"))
        if d.get("kind") == "ConfigMap":
            for name, text in d.get("data", {}).items():
                if name.endswith(".conf"):
                    check_conf_text(where + ":" + name, text, keys)
        if d.get("kind") != "Deployment":
            continue
        spec = d["spec"]
        sel = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in sel.items()):
            err(where, "selector %r does not match pod labels %r" % (sel, labels))
        pod = spec["template"]["spec"]
        volumes = {v["name"] for v in pod.get("volumes", [])}
        for c in pod["containers"]:
            check_command(where, c.get("command", []) + c.get("args", []), keys)
            check_env(where, c.get("env"), keys)
            for m in c.get("volumeMounts", []):
                if m["name"] not in volumes:
                    err(where, "volumeMount %r has no volume" % m["name"])
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and ref.get("name") != "drover-credentials":
                    err(where, "secret %r is not the documented one" % ref.get("name"))
            for probe in ("livenessProbe", "readinessProbe"):
                p = c.get(probe, {}).get("httpGet")
                if p and p.get("path") not in ("/healthz", "/metrics"):
                    err(where, "%s path %r is not served" % (probe, p.get("path")))
    for kind in ("ConfigMap", "Deployment"):
        if kind not in kinds:
            err(path, "no %s" % kind)


def check_compose(path, keys):
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    declared = set((doc.get("volumes") or {}).keys())
    services = doc.get("services") or {}
    for want in ("dispatcher", "worker"):
        if want not in services:
            err(path, "no %s service" % want)
    for name, s in services.items():
        where = "%s:%s" % (path, name)
        if "image" not in s and "build" not in s:
            err(where, "neither image nor build")
        check_command(where, s.get("command", []), keys)
        for v in s.get("volumes", []):
            src = v.split(":", 1)[0]
            if not src.startswith((".", "/")) and src not in declared:
                err(where, "volume %r is not declared" % src)


def check_unit(path, keys):
    cp = configparser.ConfigParser(strict=False, interpolation=None)
    cp.optionxform = str
    with open(path, encoding="utf-8") as f:
        cp.read_file(f)
    for section in ("Unit", "Service", "Install"):
        if not cp.has_section(section):
            err(path, "no [%s]" % section)
    if cp.has_section("Service"):
        svc = cp["Service"]
        if "ExecStart" not in svc:
            err(path, "no ExecStart")
        else:
            check_command(path, shlex.split(svc["ExecStart"].replace("%H", "host")), keys)
        if svc.get("Restart") not in ("always", "on-failure"):
            err(path, "Restart is not always/on-failure")
        for line in svc.get("Environment", "").split():
            if line.startswith("DRV_"):
                check_key(path, line.split("=", 1)[0][4:].lower().replace("_", "."), keys)


def check_dockerfile(path, root):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    copied = set(re.findall(r"/src/build/bin/([a-z-]+)", text))
    if copied != PROGRAMS:
        err(path, "copies %s, CMake builds %s" % (sorted(copied), sorted(PROGRAMS)))
    if not re.search(r"^FROM debian:12", text, re.M):
        err(path, "not built on Debian 12")
    cmake = open(os.path.join(root, "producer", "CMakeLists.txt")).read() + \
        open(os.path.join(root, "dispatcher", "CMakeLists.txt")).read() + \
        open(os.path.join(root, "worker", "CMakeLists.txt")).read() + \
        open(os.path.join(root, "gateway", "CMakeLists.txt")).read()
    for prog in PROGRAMS:
        if "add_executable(%s " % prog not in cmake:
            err(path, "CMake has no target %s" % prog)


def main():
    root, help_file = sys.argv[1], sys.argv[2]
    keys = known_keys(help_file)
    d = os.path.join(root, "deploy")
    check_k8s(os.path.join(d, "k8s", "drover.yaml"), keys)
    check_rbac(os.path.join(d, "k8s", "provisioner-rbac.yaml"))
    check_compose(os.path.join(d, "compose", "compose.yaml"), keys)
    for unit in ("drover-dispatcher.service", "drover-worker.service"):
        check_unit(os.path.join(d, "systemd", unit), keys)
    for example in (os.path.join(d, "systemd", "drover.conf.example"),
                    os.path.join(d, "compose", "drover.conf.example")):
        with open(example, encoding="utf-8") as f:
            check_conf_text(example, f.read(), keys)
    check_dockerfile(os.path.join(d, "docker", "Dockerfile"), root)
    for e in errors:
        print(e, file=sys.stderr)
    print("deploy: %d problem(s) in k8s, compose, systemd and Dockerfile" % len(errors))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
