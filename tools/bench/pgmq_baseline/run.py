#!/usr/bin/env python3
"""pgmq's lifecycle on PostgreSQL through pgbench: the baseline for pgqrsd's postgres rows.

    tools/bench/pgmq_baseline/run.py --dsn=postgres://user:pw@host:port/db [--clients=8]
        [--batch=1] [--payload=100] [--warmup=1s] [--duration=5s]

Recreates the pgmq-style tables of schema.sql, then runs lifecycle.sql (send a batch, read
a batch FOR UPDATE SKIP LOCKED, archive what was read; three transactions) on --clients
pgbench clients for warm-up + duration. Prints one JSON line in pgqrs-bench's result shape:
throughput is messages archived per second inside the measured window (by the archive
table's archived_at, the database clock); latency is one client round (send + read +
archive). The tables are dropped afterwards. The DSN may carry a password: it goes to libpq through PGPASSWORD, never onto a
command line or into the output.
"""
import argparse
import glob
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))


def seconds(text):
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)?", text)
    if not match:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 500ms, 5s, 1m)")
    value, unit = float(match.group(1)), match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60}[unit]


def split_password(dsn):
    """(dsn without its password, the password or None)."""
    url = urllib.parse.urlsplit(dsn)
    if url.password is None:
        return dsn, None
    netloc = url.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    bare = url._replace(netloc=f"{user}@{netloc[1]}")
    return urllib.parse.urlunsplit(bare), urllib.parse.unquote(url.password)


def psql(dsn, env, sql):
    out = subprocess.run(["psql", "-qAtX", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                         env=env, check=True, capture_output=True, text=True)
    return out.stdout.strip()


def payload_json(size):
    """A JSON document of `size` bytes (at least 10)."""
    return json.dumps({"p": "x" * max(0, size - 9)}, separators=(",", ":"))


def percentile(sorted_values, q):
    if not sorted_values:
        return 0
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", default=os.environ.get("PGQRS_BENCH_POSTGRES_DSN", ""))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--payload", type=int, default=100)
    parser.add_argument("--warmup", type=seconds, default=1.0)
    parser.add_argument("--duration", type=seconds, default=5.0)
    args = parser.parse_args()
    if not args.dsn:
        parser.error("--dsn (or PGQRS_BENCH_POSTGRES_DSN) is required")

    dsn, password = split_password(args.dsn)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f",
                    os.path.join(HERE, "schema.sql")], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    start = float(psql(dsn, env, "SELECT extract(epoch FROM clock_timestamp())"))
    window_start, window_end = start + args.warmup, start + args.warmup + args.duration
    total = math.ceil(args.warmup + args.duration)
    with tempfile.TemporaryDirectory(prefix="pgmq-baseline.") as tmp:
        began = time.monotonic()
        run = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2",
             "-T", str(total), "-f", os.path.join(HERE, "lifecycle.sql"),
             "-D", f"batch={args.batch}", "-D", f"payload={payload_json(args.payload)}",
             "-l", f"--log-prefix={tmp}/round", dsn],
            env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - began
        rounds = []
        for path in glob.glob(f"{tmp}/round*"):
            for line in open(path):
                # client transaction latency_us script epoch_s epoch_us
                fields = line.split()
                at = int(fields[4]) + int(fields[5]) / 1e6
                if window_start <= at < window_end:
                    rounds.append(int(fields[2]))
    archived = int(psql(dsn, env,
                        "SELECT count(*) FROM pgmq_baseline_a WHERE archived_at >= "
                        f"to_timestamp({window_start}) AND archived_at < to_timestamp({window_end})"))
    psql(dsn, env, "DROP TABLE pgmq_baseline_q, pgmq_baseline_a")
    errors = {}
    if run.returncode != 0:
        errors["pgbench exit " + str(run.returncode)] = 1
        print(run.stderr.strip()[-2000:], file=sys.stderr)
    rounds.sort()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({
        "target": "pgbench", "scenario": "lifecycle", "batch": args.batch,
        "clients": args.clients, "payload_bytes": args.payload,
        "elapsed_s": args.duration, "messages": archived,
        "throughput": archived / args.duration,
        "latency_kind": "send+read+archive round",
        "latency_us": {"count": len(rounds), "p50": percentile(rounds, 0.5),
                       "p99": percentile(rounds, 0.99), "max": rounds[-1] if rounds else 0},
        "errors": errors,
        "client_cpu_s": usage.ru_utime + usage.ru_stime,
        "client_cpu_cores": (usage.ru_utime + usage.ru_stime) / max(1e-9, elapsed),
    }))
    return 0 if run.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
