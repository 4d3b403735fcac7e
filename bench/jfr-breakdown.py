#!/usr/bin/env python3
"""Where the CPU went in a JFR recording: execution samples by thread group, and within the curation
stream threads by the code at the top of the stack (JDK frames charged to their nearest non-JDK caller).

Usage: bench/jfr-breakdown.py recording.jfr
"""
import collections
import json
import subprocess
import sys

THREADS = [  # (group, substring of the thread name), first match wins
    ("curation (Kafka Streams threads)", "StreamThread"),
    ("broker (embedded, same process)", "kafka-request-handler"),
    ("broker (embedded, same process)", "data-plane"),
    ("broker (embedded, same process)", "broker-"),
    ("broker (embedded, same process)", "raft"),
    ("broker (embedded, same process)", "ReplicaFetcher"),
    ("broker (embedded, same process)", "kafka-scheduler"),
    ("producers' network threads", "kafka-producer-network-thread"),
    ("HTTP API (Jetty)", "qtp"),
    ("HTTP client (java.net.http)", "HttpClient"),
    ("benchmark driver (main)", "main"),
]
CODE = [  # (group, frame prefix)
    ("ipt quality rules", "ipt.ingest.QualityRules"),
    ("ipt MinHash near-dup", "ipt.ingest.MinHash"),
    ("ipt MinHash near-dup", "ipt.ingest.NearDupStage"),
    ("ipt normalise / validate / parse", "ipt.ingest.TextNormaliser"),
    ("ipt normalise / validate / parse", "ipt.ingest.DocumentValidator"),
    ("ipt normalise / validate / parse", "ipt.ingest.DocumentParser"),
    ("ipt normalise / validate / parse", "ipt.ingest.StrictUtf8"),
    ("ipt other", "ipt."),
    ("Avro encode/decode", "org.apache.avro"),
    ("Jackson JSON", "com.fasterxml"),
    ("RocksDB (state stores)", "org.rocksdb"),
    ("LZ4 compression", "net.jpountz"),
    ("Kafka Streams runtime", "org.apache.kafka.streams"),
    ("Kafka clients (records, network, transactions)", "org.apache.kafka"),
]


def group(name, table, default):
    for g, key in table:
        if key in name if table is THREADS else name.startswith(key):
            return g
    return default


def main(path):
    out = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample", path],
                         check=True, capture_output=True, text=True).stdout
    events = json.loads(out)["recording"]["events"]
    by_thread = collections.Counter()
    by_code = collections.Counter()
    for e in events:
        v = e["values"]
        thread = (v.get("sampledThread") or {}).get("javaName") or "?"
        g = group(thread, THREADS, "other threads")
        by_thread[g] += 1
        if g.startswith("curation"):
            frames = [f["method"]["type"]["name"].replace("/", ".") for f in (v.get("stackTrace") or {}).get("frames", [])]
            owner = next((f for f in frames if not f.startswith(("java.", "jdk.", "sun."))), frames[0] if frames else "?")
            by_code[group(owner, CODE, "JDK / other")] += 1
    total = sum(by_thread.values())
    print(f"{total} CPU samples")
    print("| thread group | share of samples |\n|---|---|")
    for g, n in by_thread.most_common():
        print(f"| {g} | {100 * n / total:.1f}% |")
    cur = sum(by_code.values())
    if cur:
        print(f"\nInside the curation threads ({cur} samples), by the code on top of the stack:")
        print("| code | share |\n|---|---|")
        for g, n in by_code.most_common():
            print(f"| {g} | {100 * n / cur:.1f}% |")


if __name__ == "__main__":
    main(sys.argv[1])
