"""Prints compare.sh's results (one JSON line per run) as one Markdown table."""
import json
import sys


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    # Ratios are against durable beanstalkd in the same scenario and batch.
    base = {(r["scenario"], r["batch"]): r["throughput"]
            for r in rows if r["label"] == "beanstalkd -f0"}
    # PostgreSQL rows are also set against pgmq's SQL on the same server (pgmq_baseline).
    pgmq = {(r["scenario"], r["batch"]): r["throughput"]
            for r in rows if r["label"] == "pgmq (pgbench)"}
    print()
    print("| system | durability | scenario | batch | msgs/s | vs beanstalkd -f0 | vs pgmq "
          "| p50 ms | p99 ms | daemon CPU | daemon peak RSS MiB | client CPU | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        if r["scenario"] == "longpoll":
            continue
        lat = r["latency_us"]
        ref = base.get((r["scenario"], r["batch"]))
        ratio = f'{r["throughput"] / ref:.2f}x' if ref else "-"
        pg_ref = pgmq.get((r["scenario"], r["batch"])) if "postgres" in r["label"] else None
        pg_ratio = f'{r["throughput"] / pg_ref:.2f}x' if pg_ref else "-"
        daemon = r.get("daemon", {}).get("cpu_cores")
        peak = r.get("daemon", {}).get("peak_rss_mib")
        errors = ", ".join(f"{k} {v}" for k, v in r["errors"].items()) or "0"
        scenario = r["scenario"] + (f' ({r["latency_kind"]})' if r["scenario"] != "drain" else "")
        print(f'| {r["label"]} | {r["durability"]} | {scenario} | {r["batch"]} '
              f'| {r["throughput"]:,.0f} | {ratio} | {pg_ratio} | {lat["p50"] / 1000:.2f} '
              f'| {lat["p99"] / 1000:.2f} '
              f'| {"-" if daemon is None else f"{daemon:.2f}"} '
              f'| {"-" if peak is None else f"{peak:.0f}"} '
              f'| {r["client_cpu_cores"]:.2f} | {errors} |')
    for r in rows:
        if r["scenario"] != "longpoll":
            continue
        idle, parked = r.get("daemon_idle") or {}, r.get("daemon_parked") or {}
        lat = r["latency_us"]
        print()
        print(f'long-poll ({r["label"]}): {r["parked"]} parked Dequeue calls; daemon '
              f'{idle.get("threads")} -> {parked.get("threads")} threads, '
              f'{idle.get("rss_mib", 0):.1f} -> {parked.get("rss_mib", 0):.1f} MiB RSS '
              f'(targets <= 64 threads, <= 300 MiB: '
              f'{"met" if r.get("within_targets") else "NOT met"}); wake latency p50 '
              f'{lat["p50"] / 1000:.2f} ms, p99 {lat["p99"] / 1000:.2f} ms, max '
              f'{lat["max"] / 1000:.2f} ms over {lat["count"]} wakes; errors {r["errors"] or 0}')


if __name__ == "__main__":
    main(sys.argv[1])
