"""What hostile clients cost a virtual board (issue 12): figures, not pass/fail.

    .venv/bin/python bench/board_abuse.py [--tree DIR]

A `hil serve` child process on a free loopback port (of this checkout, or of the
source tree DIR, e.g. an export of an older commit, to compare):

* idle CPU: 100 clients each send a command's first bytes and vanish; then the
  server's utime + stime (/proc/<pid>/stat) over 5 s, and its thread count, against
  the same server's idle CPU over 5 s before them (the reference, same run);
* held memory: 10 connections each send a 167-byte ``RUN`` of a ``CadcRamp`` with
  ``repeats=65536`` (a 32 MiB readout) and never ``FETC?``; each one's
  ``SYST:ERR?`` code, and the server's RSS and peak RSS, against its RSS before them.
"""
import argparse
import os
import socket
import subprocess
import sys
import time

import numpy as np

from drivers import named_arrays
from drivers.blocks import encode_block
from hil.bss2 import CadcRamp
from hil.contract import wire

PARTIALS = [b"*IDN", b"CONF #15ab", b"CONF #", b"READ? #9", b"SYST:ECHO? #3100xx"]


def start_server(tree: str | None) -> tuple[subprocess.Popen, int]:
    env = dict(os.environ, PYTHONPATH=tree) if tree else None
    proc = subprocess.Popen([sys.executable, "-m", "hil", "serve", "--port", "0"], stdout=subprocess.PIPE,
                            text=True, env=env, cwd=tree)
    line = proc.stdout.readline()
    return proc, int(line.rsplit("::", 2)[1])


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu(tree: str | None) -> None:
    proc, port = start_server(tree)
    try:
        before = cpu_seconds(proc.pid)           # the reference: the same server, idle, untouched
        time.sleep(5.0)
        reference = cpu_seconds(proc.pid) - before
        for i in range(100):
            with socket.create_connection(("127.0.0.1", port)) as s:
                s.sendall(b"*OPC?\n")
                s.recv(10)                        # being served
                s.sendall(PARTIALS[i % len(PARTIALS)])
        time.sleep(1.0)                           # let the server see every close
        threads = len(os.listdir(f"/proc/{proc.pid}/task"))
        before = cpu_seconds(proc.pid)
        time.sleep(5.0)
        used = cpu_seconds(proc.pid) - before
        print(f"idle CPU after 100 aborted clients: {used:.2f} s in 5 s ({100 * used / 5:.0f}% of a core), "
              f"{threads} threads; before them (reference): {reference:.2f} s in 5 s")
    finally:
        proc.terminate()
        proc.wait()


def held_memory(tree: str | None) -> None:
    proc, port = start_server(tree)
    header, arrays = wire.encode(CadcRamp(levels=np.array([500]), repeats=65536))
    cmd = b"RUN " + encode_block(named_arrays.pack(header, arrays)) + b"\nSYST:ERR?\n"
    socks, codes = [], []
    try:
        start_rss = dict(line.split(":", 1) for line in open(f"/proc/{proc.pid}/status"))["VmRSS"].strip()
        for _ in range(10):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(cmd)
            codes.append(int(s.recv(300).split(b",")[0]))
            socks.append(s)
        status = dict(line.split(":", 1) for line in open(f"/proc/{proc.pid}/status"))
        print(f"10 x {len(cmd)}-byte RUN held (32 MiB readouts): codes {codes}; server RSS "
              f"{status['VmRSS'].strip()} (before them, the reference: {start_rss}), peak {status['VmHWM'].strip()}")
    finally:
        for s in socks:
            s.close()
        proc.terminate()
        proc.wait()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", help="source tree whose `hil serve` to measure (default: this checkout)")
    args = ap.parse_args(argv)
    idle_cpu(args.tree)
    held_memory(args.tree)


if __name__ == "__main__":
    main()
