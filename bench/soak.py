#!/usr/bin/env python3
"""Soak test of pd-proxy against pd-mock under faults. Run through bench/soak (it builds the binaries).

Mixed traffic (streaming and not, chat and completions) from --clients concurrent clients while
  - a decode engine is killed with SIGKILL every 30 s and restarted on the same port,
  - a prefill engine hangs for 20 s once (SIGSTOP, then SIGCONT),
  - 2 % of the engines' answers are injected 503s (pd-mock --fail-rate 0.02 --fail-status 503),
  - 10 % of requests are aborted by their client at a random point,
  - 5 % of requests are malformed,
  - a few clients read slowly.
Then it waits for the proxy to go idle and prints requests by outcome and status and the must-be-0 checks.
Python 3 standard library only.
"""
import argparse
import asyncio
import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

# pd-mock's token_text(): token i of a request is WORDS[(h + 7 * i) % 16], h a hash of the request id. The
# words are distinct and 7 is prime to 16, so every token determines the next one: a token repeated, replayed
# or lost breaks the chain, and a whole replay of the answer makes it longer than max_tokens.
WORDS = [" the", " cache", " moves", " from", " prefill", " to", " decode", " and",
         " every", " token", " flows", " through", " one", " proxy", " quickly", "."]
WORD_INDEX = {w: i for i, w in enumerate(WORDS)}
TOKEN_RE = re.compile(r" [a-z]+|\.")

CLIENT_TIMEOUT = 120.0  # per request; longer than the 20 s hang plus retries


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.read()


def wait_for(port, path, seconds=15.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            http_get(port, path, 0.5)
            return True
        except Exception:
            time.sleep(0.05)
    return False


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


class Proc:
    """A child process that can be killed and started again with the same command line."""

    def __init__(self, name, argv, work):
        self.name, self.argv, self.p = name, argv, None
        self.logf = open(os.path.join(work, name + ".log"), "ab")

    def start(self):
        self.p = subprocess.Popen(self.argv, stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.p.pid

    def signal(self, sig):
        if self.p and self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def kill(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            try:
                os.kill(self.p.pid, signal.SIGCONT)
                self.p.terminate()
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


# ----------------------------------------------------------------------------------------------------------
# Requests

PROMPT_WORDS = "alpha beta gamma delta cache prefill decode token stream proxy engine block".split()


def valid_request(rng):
    chat = rng.random() < 0.5
    stream = rng.random() < 0.6
    tokens = rng.randint(1, 40)
    prompt = " ".join(rng.choice(PROMPT_WORDS) for _ in range(rng.randint(2, 60)))
    body = {"model": "mock-model"}
    if chat:
        body["messages"] = [{"role": "user", "content": prompt}]
        body[rng.choice(["max_tokens", "max_completion_tokens"])] = tokens
    else:
        body["prompt"] = prompt
        body["max_tokens"] = tokens
    body["stream"] = stream
    if stream and rng.random() < 0.5:
        body["stream_options"] = {"include_usage": True}
    path = "/v1/chat/completions" if chat else "/v1/completions"
    return dict(kind="valid", path=path, body=json.dumps(body).encode(), stream=stream, tokens=tokens, chat=chat)


MALFORMED = [
    ("bad JSON", b'{"model":"mock-model","prompt":"hi","max_tokens":4,'),
    ("not an object", b'[{"prompt":"hi"}]'),
    ("empty body", b""),
    ("stream \"yes\"", b'{"model":"mock-model","prompt":"hi","max_tokens":4,"stream":"yes"}'),
    ("stream 1", b'{"model":"mock-model","prompt":"hi","max_tokens":4,"stream":1}'),
    ("max_tokens 0", b'{"model":"mock-model","prompt":"hi","max_tokens":0,"stream":true}'),
    ("max_tokens -3", b'{"model":"mock-model","prompt":"hi","max_tokens":-3}'),
    ("max_tokens \"8\"", b'{"model":"mock-model","prompt":"hi","max_tokens":"8","stream":true}'),
    ("prompt 42", b'{"model":"mock-model","prompt":42,"max_tokens":4}'),
    ("prompt object", b'{"model":"mock-model","prompt":{"a":1},"max_tokens":4,"stream":true}'),
    ("duplicate stream", b'{"model":"mock-model","prompt":"hi","max_tokens":4,"stream":false,"stream":true}'),
    ("invalid UTF-8", b'{"model":"mock-model","prompt":"hi \xff\xfe there","max_tokens":4}'),
]
MALFORMED_CHAT = [
    ("messages []", b'{"model":"mock-model","messages":[],"max_tokens":4}'),
    ("messages string", b'{"model":"mock-model","messages":"hi","max_tokens":4,"stream":true}'),
    ("messages [1]", b'{"model":"mock-model","messages":[1],"max_tokens":4}'),
]


def malformed_request(rng):
    if rng.random() < 0.2:
        name, body = rng.choice(MALFORMED_CHAT)
        path = "/v1/chat/completions"
    else:
        name, body = rng.choice(MALFORMED)
        path = rng.choice(["/v1/completions", "/v1/chat/completions"])
    return dict(kind="malformed", name=name, path=path, body=body, stream=None, tokens=None, chat="chat" in path)


# ----------------------------------------------------------------------------------------------------------
# A minimal HTTP/1.1 client on asyncio streams: we need exact control over aborts and read speed.

class Closed(Exception):
    pass


class Conn:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.used = 0

    @staticmethod
    async def open(port, slow):
        sock = socket.socket()
        sock.setblocking(False)
        if slow:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1024 if slow else 1 << 16)
        return Conn(reader, writer)

    def close(self, reset=False):
        try:
            if reset:
                sock = self.writer.get_extra_info("socket")
                if sock is not None:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.writer.transport.abort()
        except Exception:
            pass

    async def readline(self):
        line = await self.reader.readline()
        if not line.endswith(b"\n"):
            raise Closed()
        return line

    async def read_head(self):
        line = await self.readline()
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise ValueError(f"bad status line {line!r}")
        status = int(parts[1])
        headers = {}
        while True:
            line = await self.readline()
            if line in (b"\r\n", b"\n"):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers

    async def body(self, headers, piece, pause):
        """Yields the body's bytes in pieces of at most `piece`, sleeping `pause` s between reads. Raises
        Closed on a premature end."""
        async def read_exact(n):
            while n > 0:
                data = await self.reader.read(min(n, piece))
                if not data:
                    raise Closed()
                n -= len(data)
                yield data
                if pause:
                    await asyncio.sleep(pause)

        if "chunked" in headers.get("transfer-encoding", "").lower():
            while True:
                size_line = await self.readline()
                size = int(size_line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while (await self.readline()) not in (b"\r\n", b"\n"):
                        pass  # trailers
                    return
                async for d in read_exact(size):
                    yield d
                if (await self.reader.readexactly(2)) != b"\r\n":
                    raise ValueError("bad chunk end")
        elif "content-length" in headers:
            async for d in read_exact(int(headers["content-length"])):
                yield d
        else:  # until the connection closes
            while True:
                data = await self.reader.read(piece)
                if not data:
                    return
                yield data
                if pause:
                    await asyncio.sleep(pause)


# ----------------------------------------------------------------------------------------------------------
# Checks

class Stats:
    def __init__(self):
        self.outcomes = collections.Counter()  # (category, outcome, status) -> n
        self.checks = collections.Counter()
        self.examples = collections.defaultdict(list)
        self.total = 0
        self.latency = []  # seconds, valid requests answered in full to a normal reader

    def add(self, category, outcome, status):
        self.outcomes[(category, outcome, status)] += 1
        self.total += 1

    def defect(self, check, req, detail):
        self.checks[check] += 1
        if len(self.examples[check]) < 3:
            self.examples[check].append(
                dict(path=req["path"], body=req["body"][:600].decode("utf-8", "replace"),
                     request_id=req.get("id"), detail=detail[:600]))


def chain_problem(tokens):
    """None when the tokens follow pd-mock's sequence, else (check, description): "duplicated text" when the
    text steps back (a token repeated, a replay), "garbled text" when it skips ahead (lost text) or is not
    pd-mock's. Position k of the sequence is the word (first + 7k) % 16, so k = 7 * (word - first) % 16
    (7 * 7 = 1 mod 16): the offset by which k leaves i, mod 16, tells a step back (8..15) from a skip (1..7)."""
    first = None
    for i, t in enumerate(tokens):
        idx = WORD_INDEX.get(t)
        if idx is None:
            return "garbled text", f"token {i} {t!r} is not a pd-mock word"
        if first is None:
            first = idx
            continue
        k = 7 * (idx - first) % 16
        if k != i % 16:
            off = (k - i) % 16
            what = "duplicated text" if off >= 8 else "garbled text"
            return what, (f"token {i} {t!r} is token {k} of the sequence mod 16 "
                          f"({'repeated or replayed' if off >= 8 else 'text lost'}): {''.join(tokens[max(0, i - 4):i + 2])!r}")
    return None


def split_text(text):
    tokens = TOKEN_RE.findall(text)
    return tokens if "".join(tokens) == text else None


def check_stream(stats, req, data, ended):
    """An SSE answer (status 200). `ended`: the body ended properly (not cut, not aborted by us)."""
    text = data.decode("utf-8", "replace")
    events = text.split("\n\n")
    tail = events.pop()  # after the last blank line: an unfinished event, or ""
    done = error = False
    roles = 0
    tokens, ids, after_done, garbled = [], set(), 0, 0
    for ev in events:
        payload = "".join(line[5:].lstrip(" ") for line in ev.split("\n") if line.startswith("data:"))
        if not payload:
            continue
        if done:
            after_done += 1
        if payload == "[DONE]":
            done = True
            continue
        try:
            obj = json.loads(payload)
        except ValueError:
            garbled += 1
            continue
        if "error" in obj:
            error = True
            continue
        if "id" in obj:
            ids.add(obj["id"])
        for ch in obj.get("choices") or []:
            delta = ch.get("delta")
            if delta is not None:
                if "role" in delta:
                    roles += 1
                t = delta.get("content")
            else:
                t = ch.get("text")
            if t:
                tokens.append(t)
    if garbled:
        stats.defect("garbled text", req, f"{garbled} events that are not JSON")
    if tail.strip():
        stats.defect("garbled text", req, f"unfinished event at the end: {tail[:200]!r}")
    dup = None
    chain = chain_problem(tokens)
    if chain is not None and chain[0] == "garbled text":
        stats.defect(*chain[:1], req, chain[1])
    elif chain is not None:
        dup = chain[1]
    if dup is None and req["tokens"] is not None and len(tokens) > req["tokens"]:
        dup = f"{len(tokens)} tokens for max_tokens {req['tokens']}"
    if dup is None and roles > 1:
        dup = f"{roles} role events"
    if dup is None and after_done:
        dup = f"{after_done} events after [DONE]"
    if dup is None and len(ids) > 1:
        dup = f"events of several responses: {sorted(ids)}"
    if dup is not None:
        stats.defect("duplicated text", req, dup)
    if not data:
        stats.defect("empty 200", req, "stream with no byte")
    if done:
        if req["tokens"] is not None and len(tokens) != req["tokens"] and dup is None and chain is None:
            stats.defect("garbled text", req, f"[DONE] after {len(tokens)} of {req['tokens']} tokens")
        return "stream: [DONE]"
    if error:
        return "stream: error event"
    stats.defect("stream without [DONE] or error", req,
                 f"{'ended' if ended else 'cut'} after {len(data)} bytes, {len(tokens)} tokens; "
                 f"last bytes {text[-200:]!r}")
    return "stream: no [DONE], no error"


def check_json(stats, req, data, ended):
    if not data:
        stats.defect("empty 200", req, "200 with an empty body")
        return "json: empty"
    if not ended:
        return "json: cut short"  # documented: a decoder failing mid-body cuts the connection
    try:
        obj = json.loads(data)
    except ValueError:
        stats.defect("garbled text", req, f"200 body is not JSON: {data[:200]!r}")
        return "json: not JSON"
    if "error" in obj or not obj.get("choices"):
        return "json: error object"
    ch = obj["choices"][0]
    t = ch["message"].get("content") if "message" in ch else ch.get("text")
    tokens = split_text(t or "")
    if tokens is None:
        stats.defect("garbled text", req, f"text {t!r} is not pd-mock's words")
        return "json: complete"
    chain = chain_problem(tokens)
    if chain is not None:
        stats.defect(chain[0], req, chain[1])
    elif req["tokens"] is not None and len(tokens) > req["tokens"]:
        stats.defect("duplicated text", req, f"{len(tokens)} tokens for max_tokens {req['tokens']}")
    elif req["tokens"] is not None and len(tokens) != req["tokens"]:
        stats.defect("garbled text", req, f"{len(tokens)} of {req['tokens']} tokens")
    return "json: complete"


# ----------------------------------------------------------------------------------------------------------
# Clients

class Soak:
    def __init__(self, args, proxy_port, stats):
        self.args, self.port, self.stats = args, proxy_port, stats
        self.stop_at = 0.0
        self.seq = 0
        self.in_flight = 0

    async def client(self, n, slow):
        rng = random.Random(self.args.seed * 1000 + n)
        conn = None
        while time.monotonic() < self.stop_at:
            self.seq += 1
            req = malformed_request(rng) if rng.random() < 0.05 else valid_request(rng)
            req["id"] = f"soak-{self.args.seed}-{self.seq}"
            abort = None
            if rng.random() < 0.10:
                abort = dict(point=rng.choice(["mid-request", "before-head", "mid-body", "mid-body"]),
                             delay=rng.uniform(0, 0.5), after=rng.randint(0, 3000), reset=rng.random() < 0.5)
            if conn is not None and (rng.random() < 0.5 or slow):
                conn.close()
                conn = None
            self.in_flight += 1
            holder = {}
            try:
                conn = await asyncio.wait_for(self.one(req, conn, slow, abort, rng, holder), CLIENT_TIMEOUT)
            except asyncio.TimeoutError:
                self.stats.add("aborted" if abort else req["kind"], f"client timeout ({CLIENT_TIMEOUT:.0f} s)", "-")
                self.stats.defect("client timeouts", req, "no complete answer in time")
                if holder.get("conn"):
                    holder["conn"].close()
                conn = None
            finally:
                self.in_flight -= 1
            await asyncio.sleep(rng.uniform(0, 0.02))
        if conn is not None:
            conn.close()

    async def one(self, req, conn, slow, abort, rng, holder):
        """Sends one request and reads its answer. Returns the connection when it may be reused."""
        category = req["kind"]
        if abort:
            category = "aborted"
        head = (f"POST {req['path']} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                f"Content-Type: application/json\r\nX-Request-Id: {req['id']}\r\n"
                f"Content-Length: {len(req['body'])}\r\n\r\n").encode()
        wire = head + req["body"]
        t_start = time.monotonic()
        for attempt in (0, 1):
            fresh = conn is None
            try:
                if conn is None:
                    conn = await Conn.open(self.port, slow)
                holder["conn"] = conn
            except OSError as e:
                self.stats.add(category, f"connect failed ({type(e).__name__})", "-")
                self.stats.defect("connect failures", req, str(e))
                await asyncio.sleep(0.2)
                return None
            try:
                if abort and abort["point"] == "mid-request":
                    conn.writer.write(wire[: rng.randint(1, len(wire) - 1)])
                    await conn.writer.drain()
                    await asyncio.sleep(abort["delay"])
                    conn.close(abort["reset"])
                    self.stats.add(category, "abort: mid-request", "-")
                    return None
                conn.writer.write(wire)
                await conn.writer.drain()
                if abort and abort["point"] == "before-head":
                    await asyncio.sleep(abort["delay"])
                    conn.close(abort["reset"])
                    self.stats.add(category, "abort: after sending", "-")
                    return None
                status, headers = await conn.read_head()
                break
            except (Closed, ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
                conn.close()
                conn = None
                if not fresh and attempt == 0:
                    continue  # a kept-alive connection the proxy closed meanwhile: send again on a new one
                self.stats.add(category, f"no answer ({type(e).__name__})", "-")
                if category == "valid":
                    self.stats.defect("no answer", req, repr(e))
                return None
        piece, pause = (rng.choice([64, 256]), rng.uniform(0.02, 0.1)) if slow else (1 << 16, 0)
        data = bytearray()
        ended = False
        try:
            async for d in conn.body(headers, piece, pause):
                data += d
                if abort and len(data) >= abort["after"]:
                    break
            else:
                ended = True
        except (Closed, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        if abort and not ended:
            conn.close(abort["reset"])
            self.stats.add(category, "abort: mid-body", status)
            return None
        if not ended:
            conn.close()
        ctype = headers.get("content-type", "")
        if status == 200:
            if "text/event-stream" in ctype:
                outcome = check_stream(self.stats, req, bytes(data), ended)
            else:
                outcome = check_json(self.stats, req, bytes(data), ended)
        else:
            outcome = "http error" if ended else "http error, cut short"
        if abort:
            outcome += " (ended before the planned abort)"
        if slow:
            outcome += " (slow reader)"
        self.stats.add(category, outcome, status)
        if category == "valid" and ended and not slow:
            self.stats.latency.append(time.monotonic() - t_start)
        if not ended or headers.get("connection", "").lower() == "close":
            conn.close()
            return None
        return conn


# ----------------------------------------------------------------------------------------------------------

def main():
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description="pd-proxy soak under faults (see docs/pd-bench.md, Soak)")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--proxy", default="build/pd-proxy")
    ap.add_argument("--mock", default="build/pd-mock")
    ap.add_argument("--clients", type=int, default=48)
    ap.add_argument("--slow-clients", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--kill-every", type=float, default=30.0, help="seconds between decoder kills")
    ap.add_argument("--hang-seconds", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the logs' directory")
    args = ap.parse_args(argv)
    args.extra = extra

    work = tempfile.mkdtemp(prefix="pd-soak.")
    ports = [free_port() for _ in range(5)]
    p_stable, p_hang, d_stable, d_killed, proxy_port = ports
    mock_common = ["--prefill-us-per-token", "40", "--decode-ms-per-token", "10", "--decode-ms-per-seq", "0.05",
                   "--fail-rate", "0.02", "--fail-status", "503", "--kv-timeout", "30"]
    procs = {
        "prefill-stable": Proc("prefill-stable", [args.mock, "--port", str(p_stable), "--seed", "11", *mock_common], work),
        "prefill-hangs": Proc("prefill-hangs", [args.mock, "--port", str(p_hang), "--seed", "12", *mock_common], work),
        "decode-stable": Proc("decode-stable", [args.mock, "--port", str(d_stable), "--seed", "13", *mock_common], work),
        "decode-killed": Proc("decode-killed", [args.mock, "--port", str(d_killed), "--seed", "14", *mock_common], work),
    }
    proxy = Proc("pd-proxy", [args.proxy, "--host", "127.0.0.1", "--port", str(proxy_port), "--workers", str(args.workers),
                              "--log-level", "error",
                              "--prefiller-hosts", "127.0.0.1", "127.0.0.1", "--prefiller-ports", str(p_stable), str(p_hang),
                              "--decoder-hosts", "127.0.0.1", "127.0.0.1", "--decoder-ports", str(d_stable), str(d_killed),
                              *extra], work)
    stats = Stats()
    events = []
    rc = 1
    try:
        for p in procs.values():
            p.start()
        for port in (p_stable, p_hang, d_stable, d_killed):
            if not wait_for(port, "/health"):
                sys.exit(f"pd-mock on {port} did not start (logs in {work})")
        proxy.start()
        if not wait_for(proxy_port, "/healthcheck"):
            sys.exit(f"pd-proxy did not start (logs in {work}): {open(os.path.join(work, 'pd-proxy.log')).read()[-2000:]}")
        time.sleep(0.5)
        start_fd, start_rss = fd_count(proxy.pid), rss_kb(proxy.pid)
        log(f"pd-proxy pid {proxy.pid} on {proxy_port}: {start_fd} fds, RSS {start_rss} KiB; "
            f"{args.clients} clients ({args.slow_clients} slow) for {args.minutes:g} min; logs in {work}")
        rc = asyncio.run(run(args, procs, proxy, proxy_port, stats, events, start_fd, start_rss))
    finally:
        for p in procs.values():
            p.signal(signal.SIGCONT)
        proxy.stop()
        for p in procs.values():
            p.stop()
        if rc == 0 and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"logs kept in {work}")
    sys.exit(rc)


async def run(args, procs, proxy, proxy_port, stats, events, start_fd, start_rss):
    duration = args.minutes * 60
    t0 = time.monotonic()
    soak = Soak(args, proxy_port, stats)
    soak.stop_at = t0 + duration
    peak = dict(fd=start_fd, rss=start_rss)
    warm = {}  # the first sample 10 s in: backend connection pools filled

    def event(msg):
        events.append(f"t={time.monotonic() - t0:6.1f}s {msg}")
        log(msg)

    async def decoder_killer():
        d = procs["decode-killed"]
        t = min(10.0, duration / 4)
        while True:
            await asyncio.sleep(max(0, t0 + t - time.monotonic()))
            if time.monotonic() >= soak.stop_at - 3:
                return
            d.kill()
            event(f"decoder {d.argv[2]}: SIGKILL")
            await asyncio.sleep(2)
            d.start()
            up = await asyncio.to_thread(wait_for, int(d.argv[2]), "/health", 5.0)
            event(f"decoder {d.argv[2]}: restarted (pid {d.pid})" + ("" if up else ", NOT answering after 5 s"))
            t += args.kill_every

    async def prefiller_hang():
        p = procs["prefill-hangs"]
        length = min(args.hang_seconds, duration / 2)
        await asyncio.sleep(max(1.0, min(duration * 0.25, duration - length - 5)))
        p.signal(signal.SIGSTOP)
        event(f"prefiller {p.argv[2]}: SIGSTOP for {length:g} s")
        try:
            await asyncio.sleep(length)
        finally:
            p.signal(signal.SIGCONT)
            event(f"prefiller {p.argv[2]}: SIGCONT")

    async def sampler():
        last = 0
        while time.monotonic() < soak.stop_at:
            await asyncio.sleep(1)
            peak["fd"] = max(peak["fd"], fd_count(proxy.pid))
            peak["rss"] = max(peak["rss"], rss_kb(proxy.pid))
            if not warm and time.monotonic() - t0 >= min(10, duration / 2):
                warm.update(fd=fd_count(proxy.pid), rss=rss_kb(proxy.pid))
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                log(f"{stats.total} requests, {soak.in_flight} in flight, proxy {fd_count(proxy.pid)} fds, "
                    f"RSS {rss_kb(proxy.pid)} KiB, defects {sum(stats.checks.values())}")

    faults = [asyncio.create_task(decoder_killer()), asyncio.create_task(prefiller_hang())]
    aux = asyncio.create_task(sampler())
    clients = [asyncio.create_task(soak.client(i, i < args.slow_clients)) for i in range(args.clients)]
    await asyncio.gather(*clients)
    traffic_s = time.monotonic() - t0
    for t in faults:
        t.cancel()
    await asyncio.gather(*faults, aux, return_exceptions=True)
    if procs["decode-killed"].p.poll() is not None:
        procs["decode-killed"].start()
    for p in procs.values():
        p.signal(signal.SIGCONT)
    event("traffic stopped")

    # Wait for the proxy to go idle: request_num back to 0.
    request_num, health = None, ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, body = await asyncio.to_thread(http_get, proxy_port, "/healthcheck")
            health = body.decode()
            request_num = json.loads(body).get("request_num")
            if request_num == 0:
                break
        except Exception as e:
            health = repr(e)
        await asyncio.sleep(0.2)
    await asyncio.sleep(1)  # let closed connections settle before counting fds
    end_fd, end_rss = fd_count(proxy.pid), rss_kb(proxy.pid)
    alive = proxy.p.poll() is None
    if request_num is None:
        request_num = -1

    # ---- report
    print()
    print(f"Soak: {args.minutes:g} min of traffic ({traffic_s:.0f} s), {args.clients} clients ({args.slow_clients} slow readers), "
          f"2 prefill + 2 decode pd-mock engines, pd-proxy --workers {args.workers} {' '.join(args.extra)}".rstrip())
    print(f"{stats.total} requests ({stats.total / max(traffic_s, 1):.0f}/s)")
    print("Faults: " + "; ".join(e.strip() for e in events if "traffic" not in e))
    print()
    print("| requests | outcome | status | count |")
    print("|---|---|---|---|")
    order = {"valid": 0, "malformed": 1, "aborted": 2}
    for (cat, outcome, status), n in sorted(stats.outcomes.items(), key=lambda kv: (order.get(kv[0][0], 9), str(kv[0][2]), kv[0][1])):
        print(f"| {cat} | {outcome} | {status} | {n} |")
    print()
    must = [
        ("200 with an empty body", stats.checks["empty 200"]),
        ("streams with neither [DONE] nor an error event", stats.checks["stream without [DONE] or error"]),
        ("duplicated text", stats.checks["duplicated text"]),
        ("garbled or lost text in a complete answer", stats.checks["garbled text"]),
        ("valid requests without an answer (connection closed)", stats.checks["no answer"]),
        ("requests stuck past the client timeout", stats.checks["client timeouts"]),
        ("request_num at the end (GET /healthcheck, idle)", request_num),
        ("pd-proxy died", 0 if alive else 1),
    ]
    print("| check | value | must be |")
    print("|---|---|---|")
    failed = False
    for name, v in must:
        bad = v != 0
        failed |= bad
        print(f"| {name} | {v} | 0{' **FAIL**' if bad else ''} |")
    print()
    wfd, wrss = warm.get("fd", -1), warm.get("rss", -1)
    print("| pd-proxy | start (idle) | 10 s in | peak | end (idle) |")
    print("|---|---|---|---|---|")
    print(f"| file descriptors | {start_fd} | {wfd} | {peak['fd']} | {end_fd} |")
    print(f"| RSS (MiB) | {start_rss / 1024:.1f} | {wrss / 1024:.1f} | {peak['rss'] / 1024:.1f} | {end_rss / 1024:.1f} |")
    print()
    if stats.latency:
        lat = sorted(stats.latency)
        q = lambda f: lat[min(len(lat) - 1, int(f * len(lat)))]
        print(f"Latency of valid requests answered in full (slow readers aside): p50 {q(0.5) * 1000:.0f} ms, p99 {q(0.99) * 1000:.0f} ms, "
              f"max {lat[-1] * 1000:.0f} ms; over 5 s: {sum(1 for x in lat if x > 5)}")
        print()
    if stats.checks["connect failures"]:
        print(f"note: {stats.checks['connect failures']} connects to the proxy failed")
    if request_num != 0:
        print(f"last /healthcheck: {health}")
    for check, examples in stats.examples.items():
        if check == "connect failures" and not failed:
            continue
        print(f"examples of {check}:")
        for ex in examples:
            print(f"  {json.dumps(ex)}")
    print("RESULT: " + ("FAIL" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    main()
