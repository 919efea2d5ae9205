#!/usr/bin/env python
"""The subscribers of bench/chat.py: thousands of Server-Sent Events streams held by one process.

One thread, one epoll set, non-blocking raw sockets and a minimal HTTP/1.1 reader: holding 10,000
streams costs a few MiB, and a delivery costs a recv and a bytes.find, so that this process takes
as little as possible of the cores it shares with the servers (bench/chat.py reports its CPU).

It is driven through its standard input, one JSON command a line, and answers on its standard
output, one JSON line per answer:

    {"cmd": "open", "port": P, "path": "/...", "cookies": ["name=value", ...], "count": N,
     "label": "A", "ready": "body" | "headers" | "sent", "concurrency": 256, "timeout": 120}
        opens N streams (the k-th sends cookies[k % len]), at most `concurrency` being set up at
        once; a stream is ready once its status line says 200 and its first body bytes came
        ("body"), its headers came ("headers"), or its request is sent ("sent": Flask-SSE sends
        nothing before the first event). Answers {"event": "opened", "ready": n, "failed": k,
        "errors": {...}, "seconds": s}.
    {"cmd": "expect", "token": T, "timeout": s}
        answers {"event": "delivered", "token": T, "times": {label: [monotonic seconds]},
        "missing": {label: n}, "wrong_event": n} once every stream open now has received an
        event `message-created` whose data holds T, or after `timeout` seconds.
    {"cmd": "close", "label": "A" (or absent: all)}   answers {"event": "closed", ...}
    {"cmd": "stats"}                                   answers {"event": "stats", ...}
    {"cmd": "quit"}

Times are time.monotonic() (CLOCK_MONOTONIC, the clock bench/chat.py stamps its posts with),
read right after the recv that brought the token. Tokens are TOKEN_PREFIX and 16 hex digits.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import select
import socket
import sys
import time
from collections import Counter, defaultdict

HOST = "127.0.0.1"
TOKEN_PREFIX = b"BENCHTOKEN-"
TOKEN_LENGTH = len(TOKEN_PREFIX) + 16
EVENT_FIELD = b"event:"
CREATED = b"message-created"
READ_SIZE = 65536


class Stream:
    __slots__ = ("index", "label", "sock", "fd", "request", "state", "head", "last_event", "carry", "ready_mode",
                 "counted", "started")

    def __init__(self, index: int, label: str, request: bytes, ready_mode: str) -> None:
        self.index, self.label, self.request, self.ready_mode = index, label, request, ready_mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.fd = self.sock.fileno()
        self.state = "connecting"  # then "head" (reading the headers), "open", "closed"
        self.head = bytearray()
        self.last_event = b""
        self.carry = b""
        self.counted = False  # counted as ready (or failed) in its open command
        self.started = time.monotonic()


class Listener:
    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.streams: dict[int, Stream] = {}
        self.seen: dict[bytes, dict[int, float]] = defaultdict(dict)  # token -> stream index -> time
        self.wrong_event: Counter = Counter()  # token found outside a message-created event
        self.closed_by_server: Counter = Counter()  # label -> streams the server ended after they opened
        self.next_index = 0
        self.opening: dict | None = None  # the open command under way
        self.expects: list[dict] = []
        self.stdin_buf = b""
        self.running = True
        self.epoll.register(0, select.EPOLLIN)

    # ---- commands ----------------------------------------------------------------------------

    def answer(self, payload: dict) -> None:
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    def command(self, cmd: dict) -> None:
        kind = cmd["cmd"]
        if kind == "open":
            if self.opening is not None:
                raise RuntimeError("one open command at a time")
            cookies = cmd.get("cookies") or [""]
            self.opening = {
                "cmd": cmd, "port": cmd["port"], "label": cmd.get("label", ""), "ready": 0, "failed": 0,
                "errors": Counter(), "to_start": cmd["count"], "pending": 0, "t0": time.monotonic(),
                "requests": [self.request_bytes(cmd["port"], cmd["path"], cookie) for cookie in cookies],
                "deadline": time.monotonic() + cmd.get("timeout", 120), "concurrency": cmd.get("concurrency", 256),
            }
            self.start_streams()
            self.check_opened()
        elif kind == "expect":
            # Ready streams; a Flask-SSE one is still reading its headers (they come with the first event).
            open_streams = [s for s in self.streams.values() if s.counted and s.state in ("head", "open")]
            self.expects.append({"token": cmd["token"].encode(), "deadline": time.monotonic() + cmd.get("timeout", 10),
                                 "streams": {s.index: s.label for s in open_streams}, "gone": 0})
            self.check_expects()
        elif kind == "close":
            label = cmd.get("label")
            closed = 0
            for stream in list(self.streams.values()):
                if label is None or stream.label == label:
                    self.drop(stream)
                    closed += 1
            self.answer({"event": "closed", "count": closed, "closed_by_server": dict(self.closed_by_server)})
        elif kind == "stats":
            states = Counter(s.state for s in self.streams.values())
            self.answer({"event": "stats", "states": dict(states), "closed_by_server": dict(self.closed_by_server),
                         "rss_kib": rss_kib()})
        elif kind == "quit":
            self.running = False
        else:
            raise RuntimeError(f"unknown command {kind!r}")

    @staticmethod
    def request_bytes(port: int, path: str, cookie: str) -> bytes:
        lines = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: xtablo-bench/1 (bench/chat_listener.py)",
                 "Accept: text/event-stream", "Cache-Control: no-cache", "Accept-Language: fr,en;q=0.8"]
        if cookie:
            lines.append(f"Cookie: {cookie}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    # ---- opening -----------------------------------------------------------------------------

    def start_streams(self) -> None:
        job = self.opening
        while job["to_start"] > 0 and job["pending"] < job["concurrency"]:
            requests = job["requests"]
            stream = Stream(self.next_index, job["label"], requests[self.next_index % len(requests)], job["cmd"].get("ready", "body"))
            self.next_index += 1
            job["to_start"] -= 1
            job["pending"] += 1
            code = stream.sock.connect_ex((HOST, job["port"]))
            if code not in (0, errno.EINPROGRESS):
                stream.sock.close()
                self.settle(stream, f"connect: {errno.errorcode.get(code, code)}")
                continue
            self.streams[stream.fd] = stream
            self.epoll.register(stream.fd, select.EPOLLOUT)

    def settle(self, stream: Stream, error: str | None) -> None:
        """The stream is ready (error None) or failed: count it in the open command."""
        job = self.opening
        if stream.counted or job is None:
            return
        stream.counted = True
        job["pending"] -= 1
        if error is None:
            job["ready"] += 1
        else:
            job["failed"] += 1
            job["errors"][error] += 1

    def check_opened(self) -> None:
        job = self.opening
        if job is None:
            return
        now = time.monotonic()
        if now > job["deadline"]:
            for stream in list(self.streams.values()):
                if not stream.counted and stream.label == job["label"]:
                    self.settle(stream, "not ready in time")
                    self.drop(stream)
            job["failed"] += job["to_start"]
            job["to_start"] = 0
        if job["to_start"] == 0 and job["pending"] == 0:
            self.answer({"event": "opened", "label": job["label"], "ready": job["ready"], "failed": job["failed"],
                         "errors": dict(job["errors"]), "seconds": round(now - job["t0"], 3)})
            self.opening = None

    # ---- reading -----------------------------------------------------------------------------

    def drop(self, stream: Stream) -> None:
        if stream.state == "closed":
            return
        if stream.counted and stream.state in ("head", "open"):
            for expect in self.expects:
                if stream.index in expect["streams"] and stream.index not in self.seen.get(expect["token"], {}):
                    expect["gone"] += 1
        stream.state = "closed"
        try:
            self.epoll.unregister(stream.fd)
        except (OSError, ValueError):
            pass
        stream.sock.close()
        self.streams.pop(stream.fd, None)

    def on_writable(self, stream: Stream) -> None:
        error = stream.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            self.settle(stream, f"connect: {errno.errorcode.get(error, error)}")
            self.drop(stream)
            return
        try:
            sent = stream.sock.send(stream.request)
        except OSError as exc:
            self.settle(stream, f"send: {type(exc).__name__}")
            self.drop(stream)
            return
        if sent != len(stream.request):  # a few hundred bytes into an empty buffer: not expected
            self.settle(stream, "send: partial")
            self.drop(stream)
            return
        stream.state = "head"
        self.epoll.modify(stream.fd, select.EPOLLIN)
        if stream.ready_mode == "sent":
            self.settle(stream, None)

    def on_readable(self, stream: Stream) -> None:
        try:
            data = stream.sock.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        now = time.monotonic()
        if not data:
            if stream.counted:
                self.closed_by_server[stream.label] += 1
            self.settle(stream, "closed by the server before it was ready")
            self.drop(stream)
            return
        if stream.state == "head":
            stream.head += data
            end = stream.head.find(b"\r\n\r\n")
            if end < 0:
                return
            status_line = bytes(stream.head[: stream.head.find(b"\r\n")])
            parts = status_line.split(b" ", 2)
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            data = bytes(stream.head[end + 4:])
            stream.head = bytearray()
            if status != 200:
                if stream.counted:
                    self.closed_by_server[stream.label] += 1
                self.settle(stream, f"HTTP {status}")
                self.drop(stream)
                return
            stream.state = "open"
            if stream.ready_mode == "headers" or (stream.ready_mode == "body" and data):
                self.settle(stream, None)
            if not data:
                return
        elif stream.ready_mode == "body" and not stream.counted:
            self.settle(stream, None)
        self.scan(stream, data, now)

    def scan(self, stream: Stream, data: bytes, now: float) -> None:
        """Record the tokens in `data`, each with the event it came in."""
        text = stream.carry + data
        start = 0
        while (at := text.find(TOKEN_PREFIX, start)) >= 0:
            if at + TOKEN_LENGTH > len(text):  # cut by the end of this read: kept for the next
                break
            token = text[at:at + TOKEN_LENGTH]
            field = text.rfind(EVENT_FIELD, 0, at)
            name = text[field + len(EVENT_FIELD):text.find(b"\n", field)].strip() if field >= 0 else stream.last_event
            if name == CREATED:
                self.seen[token].setdefault(stream.index, now)
            else:
                self.wrong_event[token] += 1
            start = at + TOKEN_LENGTH
        field = text.rfind(EVENT_FIELD)
        if field >= 0 and text.find(b"\n", field) >= 0:
            stream.last_event = text[field + len(EVENT_FIELD):text.find(b"\n", field)].strip()
        # What a token cut in two needs: the tail of this read (a token already recorded is
        # recorded once, by stream index).
        stream.carry = text[-TOKEN_LENGTH:]

    def check_expects(self) -> None:
        if not self.expects:
            return
        now = time.monotonic()
        kept = []
        for expect in self.expects:
            seen = self.seen.get(expect["token"], {})
            wanted = expect["streams"]
            # Streams closed before the token reached them are not waited for (reported missing).
            if len(seen) < len(wanted) - expect["gone"] and now < expect["deadline"]:
                kept.append(expect)
                continue
            if len(seen.keys() & wanted.keys()) < len(wanted) - expect["gone"] and now < expect["deadline"]:
                kept.append(expect)  # some of what came is from streams opened after the expect
                continue
            times, missing = defaultdict(list), Counter()
            for index, label in wanted.items():
                if index in seen:
                    times[label].append(round(seen[index], 6))
                else:
                    missing[label] += 1
            self.answer({"event": "delivered", "token": expect["token"].decode(), "times": times,
                         "missing": dict(missing), "wrong_event": self.wrong_event.pop(expect["token"], 0)})
            self.seen.pop(expect["token"], None)
        self.expects = kept

    # ---- loop --------------------------------------------------------------------------------

    def read_stdin(self) -> None:
        chunk = os.read(0, 65536)
        if not chunk:
            self.running = False
            return
        self.stdin_buf += chunk
        while b"\n" in self.stdin_buf:
            line, self.stdin_buf = self.stdin_buf.split(b"\n", 1)
            if line.strip():
                self.command(json.loads(line))

    def run(self) -> None:
        while self.running:
            busy = self.opening is not None or self.expects
            events = self.epoll.poll(0.05 if busy else 1.0, 4096)
            for fd, mask in events:
                if fd == 0:
                    self.read_stdin()
                    continue
                stream = self.streams.get(fd)
                if stream is None:
                    continue
                if stream.state == "connecting":
                    if mask & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
                        self.on_writable(stream)
                elif mask & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
                    self.on_readable(stream)
            if self.opening is not None:
                self.start_streams()
                self.check_opened()
            self.check_expects()
        for stream in list(self.streams.values()):
            self.drop(stream)


def rss_kib() -> int:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    Listener().run()


if __name__ == "__main__":
    main()
