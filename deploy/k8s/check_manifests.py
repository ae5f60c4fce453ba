#!/usr/bin/env python3
"""Cross-checks of deploy/k8s that a schema cannot make (tests/k8s_test.sh runs it).

Prints one JSON line per container: the workload, its command as one shell line, the
ports its args listen on and its probes, after checking that every probe names a
declared port, that containerPort is the --port of the args, that the autoscalers
(HPA and KEDA) target the embed workers with the same bounds, and that the
prometheus-adapter rule publishes kafka_consumer_lag from rag_kafka_lag.

  check_manifests.py DIR      (exit 1 with the reasons when a check fails)
"""
import glob
import json
import os
import shlex
import sys

import yaml

problems = []


def need(ok, message):
    if not ok:
        problems.append(message)


docs = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.yaml"))):
    with open(path) as f:
        docs += [(os.path.basename(path), d) for d in yaml.safe_load_all(f) if d]
by_kind = {}
for name, d in docs:
    by_kind.setdefault(d["kind"], []).append(d)

for d in by_kind.get("Deployment", []) + by_kind.get("StatefulSet", []):
    workload = d["metadata"]["name"]
    for c in d["spec"]["template"]["spec"]["containers"]:
        line = shlex.join(c["command"][:-1] + [" ".join(c["args"])]) if c["command"][:1] == ["/bin/sh"] \
            else shlex.join(c["command"] + c["args"])
        script = c["args"][-1] if c["command"][:1] == ["/bin/sh"] else line
        words = script.split()
        port = int(words[words.index("--port") + 1]) if "--port" in words else None
        declared = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        need(port is not None and port in declared.values(),
             f"{workload}: containerPort {sorted(declared.values())} is not the --port {port} of its args")
        probes = {}
        for kind in ("livenessProbe", "readinessProbe"):
            get = c.get(kind, {}).get("httpGet")
            need(get is not None, f"{workload}: no {kind}")
            if get:
                need(get["port"] in declared, f"{workload}: {kind} port {get['port']} is not declared")
                probes[kind] = get["path"]
        print(json.dumps({"workload": workload, "kind": d["kind"], "script": script,
                          "shell": c["command"][:1] == ["/bin/sh"], "port": port, "probes": probes}))

sts = {d["metadata"]["name"]: d for d in by_kind.get("StatefulSet", [])}
for hpa in by_kind.get("HorizontalPodAutoscaler", []):
    target = hpa["spec"]["scaleTargetRef"]
    need(target["kind"] == "StatefulSet" and target["name"] in sts, f"HPA targets {target}, not a StatefulSet here")
    ext = hpa["spec"]["metrics"][0]["external"]
    need(ext["metric"]["name"] == "kafka_consumer_lag", "HPA metric is not kafka_consumer_lag")
    need(ext["metric"]["selector"]["matchLabels"].get("topic") == "rag.documents.chunks", "HPA topic")
    need((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"], ext["target"]["averageValue"]) == (2, 20, "5000"),
         "HPA is not min 2, max 20, 5000 per replica (the seed's)")
    for keda in by_kind.get("ScaledObject", []):
        trig = keda["spec"]["triggers"][0]
        need(keda["spec"]["scaleTargetRef"]["name"] == target["name"], "KEDA and HPA scale different workloads")
        need((keda["spec"]["minReplicaCount"], keda["spec"]["maxReplicaCount"], trig["metadata"]["threshold"]) ==
             (2, 20, "5000"), "KEDA bounds differ from the HPA's")
        need("rag_kafka_lag" in trig["metadata"]["query"] and "rag.documents.chunks" in trig["metadata"]["query"],
             "KEDA query is not the chunks topic's rag_kafka_lag")
adapter = [d for d in by_kind.get("ConfigMap", []) if "config.yaml" in d.get("data", {})]
need(len(adapter) == 1, "no prometheus-adapter ConfigMap")
for d in adapter:
    rules = yaml.safe_load(d["data"]["config.yaml"])["externalRules"]
    need(any(r["name"]["as"] == "kafka_consumer_lag" and "rag_kafka_lag" in r["metricsQuery"] for r in rules),
         "prometheus-adapter publishes no kafka_consumer_lag from rag_kafka_lag")

if problems:
    sys.exit("\n".join(problems))
