#!/usr/bin/env python3
"""Prints the first port of runs of consecutive TCP ports that are free on every given loopback address.

Usage: scripts/free-ports.py [--host ADDR]... COUNT...
  One line per COUNT: the first port of a run of COUNT consecutive ports, each free for listening on every
  --host (default 127.0.0.1). The runs do not overlap. The kernel picks the candidates (bind to port 0), so
  ports already in use by anyone are never printed; a port can still be taken between this check and its
  use, so callers must also notice when their own listener fails to bind.
Exit status: 0, or 1 when no such runs were found within a bounded number of attempts.
"""
import argparse
import socket
import sys

ATTEMPTS = 200  # per run; each attempt is a few bind() calls


def try_bind(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    # The listeners we reserve for set SO_REUSEADDR too (Asio's acceptor does): a port in TIME_WAIT is free.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        s.listen(1)
        return s
    except OSError:
        s.close()
        return None


def reserve_run(hosts, count, held):
    """Binds COUNT consecutive ports on every host and appends the sockets to held; returns the first port."""
    for _ in range(ATTEMPTS):
        probe = try_bind(hosts[0], 0)
        if probe is None:
            continue
        first = probe.getsockname()[1]
        probe.close()
        if first + count - 1 > 65535:
            continue
        sockets = []
        for port in range(first, first + count):
            for host in hosts:
                s = try_bind(host, port)
                if s is None:
                    break
                sockets.append(s)
            else:
                continue
            break
        if len(sockets) == count * len(hosts):
            held.extend(sockets)  # keep them bound until every run is found, so that runs never overlap
            return first
        for s in sockets:
            s.close()
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", action="append", help="loopback address (repeatable; default 127.0.0.1)")
    parser.add_argument("counts", nargs="+", type=int, metavar="COUNT")
    args = parser.parse_args()
    hosts = args.host or ["127.0.0.1"]
    held = []
    firsts = []
    for count in args.counts:
        if count < 1:
            parser.error("COUNT must be at least 1")
        first = reserve_run(hosts, count, held)
        if first is None:
            print(f"free-ports: no {count} consecutive free ports on {', '.join(hosts)}", file=sys.stderr)
            return 1
        firsts.append(first)
    for s in held:
        s.close()
    print("\n".join(str(f) for f in firsts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
