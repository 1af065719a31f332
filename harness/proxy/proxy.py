#!/usr/bin/env python3
"""The egress proxy: the only way out of an agent's network.

An agent whose spec allowlists hosts runs on an internal Docker network with no route
anywhere. This proxy is the one other container on that network, and the only one that is
also attached to a network with a way out. It passes HTTP CONNECT tunnels and plain-HTTP
requests (absolute URI form) to allowlisted host:port pairs and refuses everything else.

Every request is logged as one JSON line (host, port, allowed, bytes each way) to
MERGEBENCH_EGRESS_LOG; mergebench stores that log with the attempt and counts the refusals.
On SIGTERM the connections still open are logged with the bytes they moved so far, then a
summary line, then the process exits.

Environment:
  MERGEBENCH_ALLOW       comma-separated host:port entries; "*.example.com:443" matches
                         any subdomain of example.com (not example.com itself)
  MERGEBENCH_EGRESS_LOG  where the JSON lines go (default /tmp/egress.jsonl)
  MERGEBENCH_PROXY_PORT  the port to listen on (default 3128)

Only the Python standard library is used, so any image with python3 runs it.
"""

import json
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import time
from urllib.parse import urlsplit

LOG_PATH = os.environ.get("MERGEBENCH_EGRESS_LOG", "/tmp/egress.jsonl")
PORT = int(os.environ.get("MERGEBENCH_PROXY_PORT", "3128"))
# A request head larger than this is not HTTP a real client sends.
MAX_HEAD = 64 * 1024
# Past this many lines the log stops growing (an agent could otherwise fill the disk with
# refused requests); the counters and the summary line keep counting.
MAX_LOG_LINES = 20000
CONNECT_TIMEOUT = 30
# Model APIs stream slowly; a tunnel is idle-closed only after this long.
IDLE_TIMEOUT = 15 * 60


def parse_allow(text):
    entries = []
    for raw in text.split(","):
        raw = raw.strip().lower()
        if not raw:
            continue
        host, _, port = raw.rpartition(":")
        host = host.strip("[]").rstrip(".")
        if host and port.isdigit():
            entries.append((host, int(port)))
    return entries


ALLOW = parse_allow(os.environ.get("MERGEBENCH_ALLOW", ""))


def allowed(host, port):
    host = host.lower().rstrip(".")
    for h, p in ALLOW:
        if p != port:
            continue
        if h == host:
            return True
        if h.startswith("*.") and host.endswith(h[1:]) and len(host) > len(h) - 1:
            return True
    return False


class Log:
    """Appends JSON lines under a lock and keeps the counts for the summary."""

    def __init__(self, path):
        self.file = open(path, "a", buffering=1, encoding="utf-8")
        self.lock = threading.Lock()
        self.lines = 0
        self.dropped = 0
        self.allowed = 0
        self.refused = 0

    def record(self, rec):
        with self.lock:
            if rec.get("allowed"):
                self.allowed += 1
            else:
                self.refused += 1
            if self.lines >= MAX_LOG_LINES:
                self.dropped += 1
                return
            self.lines += 1
            self.file.write(json.dumps(rec, sort_keys=True) + "\n")
            self.file.flush()

    def summary(self):
        with self.lock:
            self.file.write(
                json.dumps(
                    {
                        "summary": True,
                        "allowed": self.allowed,
                        "refused": self.refused,
                        "dropped_lines": self.dropped,
                    },
                    sort_keys=True,
                )
                + "\n"
            )
            self.file.flush()


LOG = Log(LOG_PATH)
# Connections in flight, so that SIGTERM can log what they moved so far.
OPEN = {}
OPEN_LOCK = threading.Lock()
FINISHED = threading.Event()


class Request:
    def __init__(self, method, target):
        self.rec = {
            "time": round(time.time(), 3),
            "method": method,
            "host": "",
            "port": 0,
            "allowed": False,
            "status": 0,
            "bytes_up": 0,
            "bytes_down": 0,
        }
        self.target = target
        self.logged = False
        self.lock = threading.Lock()

    def finish(self, **fields):
        with self.lock:
            if self.logged:
                return
            self.logged = True
            self.rec.update(fields)
            LOG.record(self.rec)


def read_head(conn):
    """Reads up to the blank line that ends the request head; returns (head, rest)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        if len(buf) > MAX_HEAD:
            return None, b""
        chunk = conn.recv(8192)
        if not chunk:
            return None, b""
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest


def split_host_port(authority, default_port):
    authority = authority.strip()
    if authority.startswith("["):
        host, _, tail = authority[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    elif authority.count(":") == 1:
        host, _, port = authority.partition(":")
    else:
        host, port = authority, ""
    if not port:
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        return None, None
    return host, int(port)


def reply(conn, status, reason, body):
    data = body.encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    try:
        conn.sendall(head.encode() + data)
    except OSError:
        pass


def pipe(req, client, upstream):
    """Moves bytes both ways until both sides are done, counting them."""
    socks = [client, upstream]
    open_in = {client: True, upstream: True}
    while any(open_in.values()):
        readable, _, _ = select.select([s for s in socks if open_in[s]], [], [], IDLE_TIMEOUT)
        if not readable:
            return "idle timeout"
        for s in readable:
            other = upstream if s is client else client
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if not data:
                open_in[s] = False
                try:
                    other.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                continue
            try:
                other.sendall(data)
            except OSError:
                return None
            key = "bytes_up" if s is client else "bytes_down"
            with req.lock:
                req.rec[key] += len(data)
                # Plain HTTP: the upstream's status line is the first thing it sends.
                if key == "bytes_down" and req.rec["status"] == 0 and data.startswith(b"HTTP/"):
                    code = data.split(b" ", 2)[1:2]
                    if code and code[0].isdigit():
                        req.rec["status"] = int(code[0])
    return None


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        conn = self.request
        conn.settimeout(CONNECT_TIMEOUT)
        try:
            head, rest = read_head(conn)
        except OSError:
            return
        if head is None:
            return
        lines = head.split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            req = Request("?", "")
            req.finish(status=400, error="malformed request line")
            reply(conn, 400, "Bad Request", "mergebench egress: malformed request\n")
            return
        method, target, _version = parts
        req = Request(method, target)
        if method.upper() == "CONNECT":
            host, port = split_host_port(target, 443)
        else:
            url = urlsplit(target)
            if url.scheme != "http" or not url.netloc:
                req.finish(status=400, error="not an absolute http:// URI")
                reply(
                    conn,
                    400,
                    "Bad Request",
                    "mergebench egress: send http:// URLs in absolute form, or CONNECT for TLS\n",
                )
                return
            host, port = split_host_port(url.netloc.rpartition("@")[2], 80)
        if not host:
            req.finish(status=400, error="no host")
            reply(conn, 400, "Bad Request", "mergebench egress: no host\n")
            return
        req.rec["host"] = host.lower().rstrip(".")
        req.rec["port"] = port
        if not allowed(host, port):
            req.finish(allowed=False, status=403)
            reply(
                conn,
                403,
                "Forbidden",
                f"mergebench egress: {host}:{port} is not on this agent's allowlist\n",
            )
            return
        req.rec["allowed"] = True
        try:
            upstream = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        except OSError as e:
            req.finish(status=502, error=f"connect failed: {e}")
            reply(conn, 502, "Bad Gateway", f"mergebench egress: cannot reach {host}:{port}\n")
            return
        with OPEN_LOCK:
            OPEN[id(req)] = req
        try:
            upstream.settimeout(None)
            conn.settimeout(None)
            if method.upper() == "CONNECT":
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                req.rec["status"] = 200
                if rest:
                    upstream.sendall(rest)
                    req.rec["bytes_up"] += len(rest)
            else:
                path = url.path or "/"
                if url.query:
                    path += "?" + url.query
                kept = [
                    line
                    for line in lines[1:]
                    if line
                    and not line.lower().startswith(("proxy-", "connection:", "keep-alive:"))
                ]
                # One request per connection: a second request on a kept-alive connection
                # could name another host, and would go to this one unchecked.
                out = "\r\n".join([f"{method} {path} HTTP/1.1", *kept, "Connection: close"])
                data = out.encode("latin-1") + b"\r\n\r\n" + rest
                upstream.sendall(data)
                req.rec["bytes_up"] += len(data)
                req.rec["status"] = 0
            error = pipe(req, conn, upstream)
            req.finish(**({"error": error} if error else {}))
        except OSError as e:
            req.finish(error=str(e))
        finally:
            with OPEN_LOCK:
                OPEN.pop(id(req), None)
            upstream.close()


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET


def on_term(_signum, _frame):
    with OPEN_LOCK:
        pending = list(OPEN.values())
    for req in pending:
        req.finish(error="open when the attempt ended")
    LOG.summary()
    FINISHED.set()
    os._exit(0)


def main():
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    server = Server(("0.0.0.0", PORT), Handler)
    # mergebench waits for this line before it starts the agent.
    sys.stdout.write("mergebench-proxy ready\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
