#!/usr/bin/env python3
"""Soak: many messages of mixed sizes through the release binary with its
default memory budget, RSS sampled; fails when RSS leaves the budget plus a
fixed overhead or when a message that should still be held is lost.

    python3 benches/soak.py [--messages 200000] [--connections 20] [--bin PATH]

Sizes: 80 % 1-16 KiB, 18 % 16-256 KiB, 2 % 256 KiB-1 MiB (about 45 KiB on
average, ~9 GB for 200,000 messages). Each connection pipelines MAIL, RCPT
and DATA (PIPELINING is advertised) and keeps the id of every 250.

Checks at the end:
  * peak RSS <= --max-memory (default budget, 256 MiB) + --overhead (128 MiB);
  * held + evicted == acknowledged (nothing acknowledged vanished uncounted);
  * the store's bytes are within the budget;
  * the last 200 acknowledged messages are all readable, with their size.
Prints an RSS curve (one sample per 5 % of the run) and the rate.
"""

import argparse
import json
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request

MIB = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def size_of(rng):
    r = rng.random()
    if r < 0.80:
        return rng.randint(1 << 10, 16 << 10)
    if r < 0.98:
        return rng.randint(16 << 10, 256 << 10)
    return rng.randint(256 << 10, MIB)


def body(size, n):
    head = f"Subject: soak {n}\r\nFrom: a@soak.test\r\nTo: b@soak.test\r\n\r\n".encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n"
    reps = max(0, size - len(head)) // len(line) + 1
    return head + (line * reps)[: max(0, size - len(head))] + b"\r\n.\r\n"


class Sender(threading.Thread):
    def __init__(self, port, count, seed, acks, errors):
        super().__init__(daemon=True)
        self.port, self.count, self.rng = port, count, random.Random(seed)
        self.acks, self.errors = acks, errors

    def reply(self, f):
        lines = []
        while True:
            line = f.readline()
            if not line:
                raise ConnectionError("server closed the connection")
            lines.append(line)
            if line[3:4] != b"-":
                return lines[-1].decode("latin-1").strip()

    def run(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            f = s.makefile("rb")
            self.reply(f)
            s.sendall(b"EHLO soak.test\r\n")
            self.reply(f)
            for n in range(self.count):
                size = size_of(self.rng)
                s.sendall(b"MAIL FROM:<a@soak.test>\r\nRCPT TO:<b@soak.test>\r\nDATA\r\n")
                for want in ("250", "250", "354"):
                    got = self.reply(f)
                    if not got.startswith(want):
                        raise RuntimeError(f"expected {want}, got {got}")
                s.sendall(body(size, n))
                got = self.reply(f)
                m = re.search(r"queued as (\d+)", got)
                if not got.startswith("250") or not m:
                    raise RuntimeError(f"message refused: {got}")
                self.acks.append((time.monotonic(), int(m.group(1)), size))
            s.sendall(b"QUIT\r\n")
            s.close()
        except Exception as e:  # noqa: BLE001 - reported, fails the soak
            self.errors.append(repr(e))


def get_json(base, path):
    with urllib.request.urlopen(base + path, timeout=30) as r:
        return json.load(r)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=200_000)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--bin", default=os.environ.get("MF_BIN", "target/release/mailfault"))
    ap.add_argument("--max-memory-mib", type=int, default=256, help="the server's default budget")
    ap.add_argument("--overhead-mib", type=int, default=128)
    args = ap.parse_args()

    smtp, http = free_port(), free_port()
    server = subprocess.Popen(
        [args.bin, "serve", "--smtp", f"127.0.0.1:{smtp}", "--http", f"127.0.0.1:{http}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    base = f"http://127.0.0.1:{http}"
    try:
        for _ in range(200):
            try:
                get_json(base, "/api/v1/store")
                break
            except OSError:
                time.sleep(0.05)
        acks, errors = [], []
        per = args.messages // args.connections
        senders = [Sender(smtp, per, i, acks, errors) for i in range(args.connections)]
        total = per * args.connections
        started = time.monotonic()
        for t in senders:
            t.start()
        samples, peak, next_mark = [], 0, 0
        while any(t.is_alive() for t in senders):
            rss = rss_kib(server.pid)
            peak = max(peak, rss)
            done = len(acks)
            if done >= next_mark:
                samples.append((done, rss))
                print(f"  {done:>7}/{total} messages  RSS {rss / 1024:7.1f} MiB", flush=True)
                next_mark += max(1, total // 20)
            time.sleep(0.2)
        elapsed = time.monotonic() - started
        peak = max(peak, rss_kib(server.pid))
        store = get_json(base, "/api/v1/store")
        acked = len(acks)
        sent_bytes = sum(a[2] for a in acks)
        print(
            f"soak: {acked} messages ({sent_bytes / MIB:.0f} MiB) over {args.connections} "
            f"connections in {elapsed:.1f}s ({acked / elapsed:.0f} msg/s); peak RSS {peak / 1024:.1f} MiB; "
            f"store {store['messages']} held ({store['bytes'] / MIB:.1f} MiB), "
            f"{store['evicted']['messages']} evicted"
        )
        failures = list(errors)
        if acked != total:
            failures.append(f"{total - acked} messages were not acknowledged")
        if store["messages"] + store["evicted"]["messages"] != acked:
            failures.append(
                f"held {store['messages']} + evicted {store['evicted']['messages']} != acknowledged {acked}"
            )
        if store["bytes"] > store["max_bytes"]:
            failures.append(f"store holds {store['bytes']} bytes, over its budget {store['max_bytes']}")
        limit = (args.max_memory_mib + args.overhead_mib) * 1024
        if peak > limit:
            failures.append(f"peak RSS {peak / 1024:.1f} MiB over {limit / 1024:.0f} MiB")
        for _, mid, size in sorted(acks)[-200:]:
            with urllib.request.urlopen(f"{base}/api/v1/message/{mid}/raw", timeout=30) as r:
                raw = r.read()
            # The raw message is our Received header + the content as sent
            # (dot-stuffing aside, which these bodies never need).
            if len(raw) < size:
                failures.append(f"message {mid}: {len(raw)} bytes, sent {size}")
                break
        if failures:
            for f in failures:
                print(f"FAIL: {f}", file=sys.stderr)
            return 1
        print("soak: passed")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    sys.exit(main())
