#!/usr/bin/env python
"""The chat's real-time benchmarks (issue 11): `make bench-chat`.

All traffic to 127.0.0.1, every server one gunicorn as `make run` starts it (`gunicorn -c
gunicorn.conf.py`, gevent worker, access log off) with WEB_CONCURRENCY=1, so that one worker's
figures are read (about 4 min with the defaults; --counts and --capacity shorten it):

1. Capacity: --capacity idle chat streams (`GET /tablos/<id>/messages/stream`, signed in) held by
   one worker, and the worker's resident memory per stream: (VmRSS after - VmRSS before) / N, and
   the same with Pss (/proc/<pid>/smaps_rollup). The same for the bare hub (bench/hub_bare.py).
   Then one message to every stream, to show the worker still serves them all.
2. Fanout: for each of --counts subscribers, --messages messages posted one at a time as htmx
   posts them (`POST /tablos/<id>/messages`, HX-Request, X-CSRFToken and the form's csrf_token),
   each with a unique token in its text; the latency of a (subscriber, message) pair runs from
   the moment the POST is sent to the moment that subscriber's `message-created` event holding the
   token has arrived. The next message waits until every subscriber has it (or --timeout), then a
   random 0.1 to 0.35 s, so that posts do not keep one phase of the feed's polling. Measured for
   the app with each broker of --brokers on each database of --databases (REALTIME_BROKER:
   `database` on SQLite and PostgreSQL, `postgresql` on PostgreSQL, `redis` on both), for the
   bare gevent hub (the yardstick; its publish carries a text as long as the app's fragment),
   and for Flask-SSE 1.0.0 (bench/flask_sse_app.py, Redis pub/sub).
3. Crossing workers: for each broker and database, two gunicorn instances on one database, the
   messages posted to A, --cross subscribers split between A and B: the p50 of B's minus A's.

The subscribers are one process, bench/chat_listener.py (epoll over raw sockets); this one
signs in, posts, and reads /proc. Each server is started afresh for each phase (a closed client
leaves its stream on the server until the stream next writes), signed-in cookies survive that
(same SECRET_KEY, same database). PostgreSQL: a database of its own per broker, created on
127.0.0.1:5432 as user postgres and dropped at the end. Redis: --redis-db (only that database is
flushed) and channel names of this run; Flask-SSE opens one Redis connection per stream.

Results: a generated section of bench/RESULTS.md (the board's and sign-in's are left as they
are), bench/out/chat-last-run.json, the servers' logs in bench/out/chat-logs/.

Exit status: 0 when every target is met and every message reached every subscriber, 1 when one
is missed (RESULTS.md is written either way), 2 when the run itself failed (a broker that the
app does not put to use counts: its phase fails, the others still run and are written).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import gevent
import gevent.subprocess

from board import (BENCH, BIN, HOST, OUT, QUIET_CORES, SESSION_COOKIE, BenchError, Connection, ProtocolError, Server, _proc_stat,
                   children_of, free_port, log, machine_cpu, machine_info, run_guarded, run_step, self_cpu, server_env,
                   sign_in, update_cookies, wait_for_quiet)
import chat_report

COUNTS = "100,1000,5000"
CAPACITY = 10_000
MESSAGES = 15
WARM_MESSAGES = 2
CROSS_SUBSCRIBERS = 200
DELIVERY_TIMEOUT = 10.0
OPEN_CONCURRENCY = 200
RUN_DEADLINE = 1200.0
PASSWORD = "bench-password"
MEMBERS = 4
TOKEN_PREFIX = "BENCHTOKEN-"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379"
LOGS = OUT / "chat-logs"

KINDS = {"app": "xtablo", "hub": "bare gevent hub", "flask-sse": "Flask-SSE 1.0.0"}
BROKERS = ("database", "postgresql", "redis")
DATABASES = ("sqlite", "postgresql")


# --------------------------------------------------------------------------------------------
# The subscribers' process.
# --------------------------------------------------------------------------------------------


class Subscribers:
    """bench/chat_listener.py, driven through its pipes (see its docstring for the commands)."""

    def __init__(self) -> None:
        self.proc = gevent.subprocess.Popen([sys.executable, str(BENCH / "chat_listener.py")], cwd=BENCH,
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send(self, **command) -> None:
        self.proc.stdin.write((json.dumps(command) + "\n").encode())
        self.proc.stdin.flush()

    def wait(self, event: str, timeout: float) -> dict:
        with gevent.Timeout(timeout, BenchError(f"the subscribers' process did not answer {event!r} in {timeout:.0f} s")):
            line = self.proc.stdout.readline()
        if not line:
            raise BenchError(f"the subscribers' process exited ({self.proc.poll()})")
        answer = json.loads(line)
        if answer.get("event") != event:
            raise BenchError(f"the subscribers' process answered {answer.get('event')!r}, not {event!r}")
        return answer

    def open(self, port: int, path: str, count: int, label: str, cookies: list[str], ready: str,
             timeout: float = 180.0, concurrency: int = OPEN_CONCURRENCY) -> dict:
        self.send(cmd="open", port=port, path=path, count=count, label=label, cookies=cookies, ready=ready,
                  concurrency=concurrency, timeout=timeout)
        return self.wait("opened", timeout + 30)

    def close(self, label: str | None = None) -> dict:
        self.send(cmd="close", **({} if label is None else {"label": label}))
        return self.wait("closed", 30)

    def stats(self) -> dict:
        self.send(cmd="stats")
        return self.wait("stats", 30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send(cmd="quit")
                self.proc.wait(timeout=10)
            except (OSError, gevent.Timeout, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=5)


# --------------------------------------------------------------------------------------------
# Servers, services, measures from /proc.
# --------------------------------------------------------------------------------------------


class QuickServer(Server):
    """bench/board.py's Server, stopped with SIGINT (gunicorn's quick shutdown): idle streams of
    the hub and of Flask-SSE would otherwise hold a SIGTERM for graceful_timeout."""

    def stop(self) -> None:
        if self.proc is None:
            return
        workers = children_of(self.proc.pid)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group Server.start created
                self.proc.wait(timeout=5)
        for pid in workers:
            if _proc_stat(pid) is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc = None
        self.log.close()

    @property
    def worker(self) -> int:
        workers = children_of(self.proc.pid)
        if len(workers) != 1:
            raise BenchError(f"expected one worker, found {workers}")
        return workers[0]


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (/proc/<pid>/status) and Pss (/proc/<pid>/smaps_rollup), KiB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            found["rss"] = int(line.split()[1])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                found["pss"] = int(line.split()[1])
    except OSError:
        found["pss"] = None
    return found


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def cpu_of(pids) -> float:
    return sum(stat[1] for pid in pids if (stat := _proc_stat(pid)) is not None)


class Meter:
    """CPU (cores) over a phase: the servers (gunicorn masters and workers), the client (the
    subscribers' process and this one), Redis, PostgreSQL's processes, and everything else."""

    def __init__(self, masters: list[int], listener: int, redis_pid: int | None) -> None:
        self.masters, self.listener, self.redis_pid = masters, listener, redis_pid
        self.wall = time.perf_counter()
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, float]:
        server = [pid for master in self.masters for pid in (master, *children_of(master))]
        return {
            "server": cpu_of(server), "client": cpu_of([self.listener]) + self_cpu(),
            "redis": cpu_of([self.redis_pid]) if self.redis_pid else 0.0, "postgresql": cpu_of(pids_named("postgres")),
            "machine": machine_cpu(),
        }

    def stop(self) -> dict[str, float]:
        wall = time.perf_counter() - self.wall
        after = self.snapshot()
        used = {name: max(0.0, after[name] - self.before[name]) / wall for name in after}
        machine = used.pop("machine")
        used["other"] = max(0.0, machine - sum(used.values()))
        return {name: round(value, 2) for name, value in used.items()} | {"seconds": round(wall, 1)}


def raise_open_files(needed: int) -> dict:
    """RLIMIT_NOFILE up to its hard limit, for this process and (inherited) the servers and the
    subscribers' process."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        log(f"WARNING: the hard limit of open files is {hard}, below the {needed} this run needs: "
            "raise it (ulimit -Hn, limits.conf) or lower --capacity and --counts")
    return {"soft_before": soft, "hard": hard, "needed": needed}


class Postgres:
    """Databases of this run on the local PostgreSQL (trust authentication, user postgres)."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def _admin(self):
        import psycopg

        return psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True, connect_timeout=5)

    def version(self) -> str:
        with self._admin() as conn:
            return conn.execute("SHOW server_version").fetchone()[0]

    def create(self, name: str) -> str:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return f"{PG_URL}/{name}"

    def listeners(self, name: str) -> int:
        """Sessions of database `name` whose last statement was a LISTEN (the postgresql broker)."""
        with self._admin() as conn:
            return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query ILIKE 'listen%%'",
                                (name,)).fetchone()[0]

    def drop_all(self) -> None:
        for name in self.created:
            try:
                with self._admin() as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except Exception as error:  # noqa: BLE001 - the run's figures matter more than the cleanup
                log(f"WARNING: could not drop the PostgreSQL database {name}: {error}")
        self.created = []


class Redis:
    """This run's Redis database (flushed at the start and the end, and no other)."""

    def __init__(self, db: int) -> None:
        import redis

        self.url = f"{REDIS_URL}/{db}"
        self.client = redis.Redis.from_url(self.url, socket_timeout=10)
        self.client.flushdb()
        info = self.client.info("server")
        self.pid, self.version = int(info["process_id"]), info["redis_version"]
        self.maxclients = int(self.client.config_get("maxclients")["maxclients"])

    def used_memory(self) -> int:
        return int(self.client.info("memory")["used_memory"])

    def clients(self) -> int:
        return int(self.client.info("clients")["connected_clients"])

    def subscribers(self, channel: str) -> int:
        return dict(self.client.pubsub_numsub(channel)).get(channel.encode(), 0)

    def pubsub_ports(self) -> set[int]:
        """Client ports of the connections subscribed to something (CLIENT LIST TYPE pubsub)."""
        ports = set()
        for client in self.client.client_list(_type="pubsub"):
            ports.add(int(client["addr"].rsplit(":", 1)[1]))
        return ports

    def close(self) -> None:
        try:
            self.client.flushdb()
        finally:
            self.client.close()


def local_ports_to(pid: int, remote_port: int) -> set[int]:
    """Local ports of `pid`'s TCP connections to `remote_port` (/proc/net/tcp and its fds)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == remote_port and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


# --------------------------------------------------------------------------------------------
# What is measured: the app (one broker on one database), the bare hub, Flask-SSE.
# --------------------------------------------------------------------------------------------


def http_request(method: str, path: str, port: int, *, cookies: dict[str, str] | None = None,
                 headers: dict[str, str] | None = None, body: bytes = b"", content_type: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: xtablo-bench/1 (bench/chat.py)",
             "Accept-Language: fr,en;q=0.8"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if cookies:
        lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in cookies.items()))
    if method == "POST":
        lines.append(f"Content-Type: {content_type or 'application/x-www-form-urlencoded'}")
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class Target:
    """One thing measured: how to serve it, open its streams and post to it."""

    kind: str  # "app", "hub", "flask-sse"
    label: str
    env: dict[str, str]
    broker: str | None = None
    database: str | None = None
    pg_name: str | None = None
    tablo_id: int | None = None
    stream_path: str = ""
    poster_jar: dict[str, str] = field(default_factory=dict)
    csrf: str = ""
    member_cookies: list[str] = field(default_factory=list)
    payload: int = 0  # characters of text the hub and Flask-SSE publish (the app's fragment's length)
    channel_prefix: str = ""

    @property
    def key(self) -> str:
        return self.kind if self.kind != "app" else f"app-{self.broker}-{self.database}"

    def server(self, port: int, name: str, **extra: str) -> QuickServer:
        env = {**self.env, "PORT": str(port), **extra}
        app = {"app": ("wsgi:app",), "hub": ("--pythonpath", str(BENCH), "hub_bare:app"),
               "flask-sse": ("--pythonpath", str(BENCH), "flask_sse_app:app")}[self.kind]
        return QuickServer(env, port, LOGS / f"{name}.log", app=app, workers=1)

    def room(self, name: str) -> str:
        return f"{self.channel_prefix}{name}"

    def path(self, room: str) -> str:
        if self.kind == "app":
            return self.stream_path
        if self.kind == "hub":
            return f"/stream/{self.room(room)}"
        return f"/stream?channel={self.room(room)}"

    @property
    def cookies(self) -> list[str]:
        return self.member_cookies if self.kind == "app" else []

    @property
    def ready(self) -> str:
        # Flask-SSE sends nothing, headers included, before its first event.
        return "sent" if self.kind == "flask-sse" else "body"


class Poster:
    """Posts the messages on one keep-alive connection; the app's as htmx does."""

    def __init__(self, target: Target, port: int, room: str) -> None:
        self.target, self.port, self.room = target, port, room
        self.conn = Connection(port)

    def text(self, token: str) -> str:
        words = f"Fanout check {token}: only a token for bench/chat.py to find."
        if self.target.kind != "app":  # as long as the app's event data, so that both write as much
            words += " " + "x" * max(0, self.target.payload - len(words) - 1)
        return words

    def post(self, token: str) -> tuple[float, float, str | None]:
        """(when it was sent, how long the answer took, an error or None)."""
        target = self.target
        if target.kind == "app":
            form = {"csrf_token": target.csrf, "body": self.text(token), "client_key": uuid.uuid4().hex}
            raw = http_request("POST", f"/tablos/{target.tablo_id}/messages", self.port, cookies=target.poster_jar,
                               body=urlencode(form).encode(),
                               headers={"HX-Request": "true", "HX-Target": "messages", "X-CSRFToken": target.csrf,
                                        "HX-Current-URL": f"http://{HOST}:{self.port}/tablos/{target.tablo_id}/messages"})
        else:
            raw = http_request("POST", f"/publish/{target.room(self.room)}", self.port, body=self.text(token).encode(),
                               content_type="text/plain; charset=utf-8")
        t0 = time.monotonic()
        try:
            response = self.conn.request(raw)
        except (OSError, ProtocolError, gevent.Timeout) as exc:
            self.conn.close()
            return t0, time.monotonic() - t0, f"{type(exc).__name__}: {exc}"[:120]
        elapsed = time.monotonic() - t0
        update_cookies(target.poster_jar, response.cookies)
        expected = 201 if target.kind == "app" else 200
        if response.status != expected:
            return t0, elapsed, f"POST answered {response.status}, not {expected}"
        if target.kind == "app" and token.encode() not in response.body:
            return t0, elapsed, "the POST's answer does not show the message"
        return t0, elapsed, None

    def close(self) -> None:
        self.conn.close()


def prepare_app(broker: str, database: str, tmp: Path, index: int, pg: Postgres | None, redis_url: str | None) -> Target:
    """A database migrated and seeded (bench/seed_chat.py) for one broker, and its people signed
    in through the login form (sessions outlive the servers: same database, same SECRET_KEY)."""
    work = tmp / f"{broker}-{database}"
    work.mkdir()
    port = free_port()
    env = server_env(work, port)
    env.update(
        WEB_CONCURRENCY="1", REALTIME_BROKER=broker,
        # The subscribers share the seed's few sessions: the per-session cap (a defence against
        # one browser taking a worker, checked in constant time) is lifted above the counts.
        REALTIME_STREAMS_PER_SESSION="100000",
        # Every sign-in of the run is a correct one from 127.0.0.1: the limits would only get in the way.
        SIGN_IN_LIMIT_PER_ACCOUNT="1000000 per minute", SIGN_IN_LIMIT_PER_IP="1000000 per minute",
        SIGN_IN_LIMIT_PER_ACCOUNT_AND_IP="1000000 per minute", SIGN_IN_LIMIT_PER_DEVICE="1000000 per minute",
    )
    pg_name = None
    if database == "postgresql":
        pg_name = f"bench_chat_{os.getpid()}_{index}"
        env["DATABASE_URL"] = pg.create(pg_name)
    if broker == "redis":
        env["REDIS_URL"] = redis_url
    label = f"{broker} broker, {'SQLite' if database == 'sqlite' else 'PostgreSQL'}"
    log(f"[{label}] migrating and seeding {env['DATABASE_URL'].split('@')[-1]}")
    run_step([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], env, "flask db upgrade")
    out = run_step([str(BIN / "python"), str(BENCH / "seed_chat.py")],
                   {**env, "BENCH_PASSWORD": PASSWORD, "BENCH_MEMBERS": str(MEMBERS)}, "seeding (bench/seed_chat.py)")
    seeded = json.loads(out.strip().splitlines()[-1])
    target = Target("app", label, env, broker=broker, database=database, pg_name=pg_name, tablo_id=seeded["tablo_id"])
    server = target.server(port, f"{target.key}-sign-in")
    try:
        server.start()
        target.poster_jar = sign_in(port, seeded["poster"], PASSWORD)
        open_chat_tab(target, port)
        for email in seeded["members"]:
            jar = sign_in(port, email, PASSWORD)
            target.member_cookies.append(f"{SESSION_COOKIE}={jar[SESSION_COOKIE]}")
    finally:
        server.stop()
    return target


def open_chat_tab(target: Target, port: int) -> None:
    """View the Chat tab as the poster, like a browser: the CSRF token its posts send, and the
    stream's address as the tab opens it now (`?last_event_id=` the latest change: nothing to
    replay, so the streams measured are idle ones). Called again before each phase, since each
    phase's messages move the latest change on."""
    page_path = f"/tablos/{target.tablo_id}/messages"
    conn = Connection(port)
    try:
        for _ in range(3):  # the first view puts a CSRF secret in the session: a new cookie
            page = conn.request(http_request("GET", page_path, port, cookies=target.poster_jar))
            if page.status != 200:
                raise BenchError(f"GET {page_path} answered {page.status}")
            if not page.cookies:
                break
            update_cookies(target.poster_jar, page.cookies)
    finally:
        conn.close()
    csrf = re.search(rb'"X-CSRFToken": "([^"]+)"', page.body)
    stream = re.search(rb'sse-connect="([^"]+)"', page.body)
    if not csrf or not stream:
        raise BenchError(f"the Chat tab has no {'X-CSRFToken in hx-headers' if not csrf else 'sse-connect'}")
    target.csrf, target.stream_path = csrf.group(1).decode(), html.unescape(stream.group(1).decode())


def plain_target(kind: str, tmp: Path, payload: int, redis_url: str | None) -> Target:
    work = tmp / kind
    work.mkdir()
    env = server_env(work, 0)
    env.update(WEB_CONCURRENCY="1")
    if kind == "flask-sse":
        env["SSE_REDIS_URL"] = redis_url
    return Target(kind, KINDS[kind], env, payload=payload, channel_prefix=f"benchchat-{os.getpid()}-")


# --------------------------------------------------------------------------------------------
# Phases.
# --------------------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    subs: Subscribers
    pg: Postgres | None
    redis: Redis | None
    results: dict = field(default_factory=lambda: {"capacity": [], "fanout": [], "crossing": [], "failures": []})
    counted: dict = field(default_factory=dict)  # Flask-SSE: subscribers Redis counted per channel so far
    def meter(self, servers: list[QuickServer]) -> Meter:
        return Meter([s.proc.pid for s in servers], self.subs.pid, self.redis.pid if self.redis else None)

    def quiet(self) -> float:
        return round(wait_for_quiet(self.args.quiet_wait), 2)

    def send(self, poster: Poster, token: str, timeout: float) -> dict:
        """One message: its POST, then its delivery to every open stream."""
        self.subs.send(cmd="expect", token=token, timeout=timeout)
        t0, post_seconds, error = poster.post(token)
        answer = self.subs.wait("delivered", timeout + 30)
        latencies = {label: [t - t0 for t in times] for label, times in answer["times"].items()}
        return {"latencies": latencies, "missing": sum(answer["missing"].values()), "wrong_event": answer["wrong_event"],
                "post_seconds": post_seconds, "post_error": error}

    def warm_up(self, target: Target, poster: Poster, port: int, room: str, messages: int) -> None:
        """Messages nobody measures: first renders, first queries, the feed started."""
        for _ in range(messages):
            sent = self.send(poster, TOKEN_PREFIX + secrets.token_hex(8), self.args.timeout)
            if sent["post_error"]:
                raise BenchError(f"{target.label}: a warm-up post failed: {sent['post_error']}")

    def open_warm_streams(self, target: Target, port: int, room: str) -> int:
        """One stream per member, one at a time, before the many: the worker's feed starts, and
        each session's "last seen" is refreshed by a request of its own. Opened all at once on a
        fresh PostgreSQL worker, with sessions last seen over 5 minutes ago, the many would wait
        for the connection pool and fail (see the findings in bench/RESULTS.md)."""
        count = max(1, len(target.cookies))
        opened = self.open_streams(target, port, room, count, "warm", concurrency=1)
        if opened["failed"]:
            raise BenchError(f"{target.label}: the first streams failed: {opened['errors']}")
        return count

    def open_streams(self, target: Target, port: int, room: str, count: int, label: str, concurrency: int = OPEN_CONCURRENCY) -> dict:
        opened = self.subs.open(port, target.path(room), count, label, target.cookies, target.ready, concurrency=concurrency)
        if target.kind == "flask-sse":  # ready once Redis counts the stream's subscription
            channel, deadline = target.room(room), time.monotonic() + 60
            while (subscribed := self.redis.subscribers(channel)) < opened["ready"] + self.counted.get(channel, 0):
                if time.monotonic() > deadline:
                    raise BenchError(f"Flask-SSE: {subscribed} subscribers of {channel} after 60 s")
                gevent.sleep(0.1)
            self.counted[channel] = subscribed
        return opened

    def verify_broker(self, target: Target, server: QuickServer) -> str:
        """Is REALTIME_BROKER put to use? A LISTEN session in our database (postgresql), a
        pub/sub connection of the worker (redis). Raises BenchError otherwise."""
        if target.broker == "postgresql":
            found = self.pg.listeners(target.pg_name)
            if not found:
                raise BenchError("REALTIME_BROKER=postgresql is not in use: no session of the worker's database "
                                 "ran LISTEN (the app ignores the setting?)")
            return f"{found} LISTEN session(s)"
        if target.broker == "redis":
            ports = local_ports_to(server.worker, 6379) & self.redis.pubsub_ports()
            if not ports:
                raise BenchError("REALTIME_BROKER=redis is not in use: the worker holds no Redis pub/sub "
                                 "connection (the app ignores the setting?)")
            return f"{len(ports)} Redis pub/sub connection(s)"
        return "change log polled"

    # ---- 1. capacity ---------------------------------------------------------------------------

    def capacity(self, target: Target, count: int) -> dict:
        port = free_port()
        # gunicorn.conf.py's worker_connections (10,000) counts the POST that checks the streams.
        server = target.server(port, f"capacity-{target.key}", WORKER_CONNECTIONS=str(count + 64))
        result = {"target": target.label, "kind": target.kind, "asked": count, "other_cores_before": self.quiet()}
        try:
            server.start()
            if target.kind == "app":
                open_chat_tab(target, port)
            poster = Poster(target, port, "capacity")
            warm = self.open_warm_streams(target, port, "capacity")
            self.warm_up(target, poster, port, "capacity", WARM_MESSAGES)
            if target.kind == "app":
                open_chat_tab(target, port)  # the streams below open idle: nothing to replay
            gevent.sleep(0.5)
            before = memory_kib(server.worker)
            log(f"[capacity] {target.label}: opening {count:,} streams")
            meter = self.meter([server])
            opened = self.open_streams(target, port, "capacity", count, "streams")
            result["open_cpu"] = meter.stop()
            gevent.sleep(2)
            after = memory_kib(server.worker)
            stats = self.subs.stats()
            held = stats["states"].get("open", 0) - warm
            result.update(opened=opened, held=held, before_kib=before, after_kib=after, listener_rss_kib=stats["rss_kib"],
                          rss_kib_per_stream=(after["rss"] - before["rss"]) / max(1, held),
                          pss_kib_per_stream=None if after["pss"] is None else (after["pss"] - before["pss"]) / max(1, held))
            # Still serving them all: one message to every stream.
            meter = self.meter([server])
            sent = self.send(poster, TOKEN_PREFIX + secrets.token_hex(8), max(30.0, self.args.timeout))
            result["check"] = {"cpu": meter.stop(), "latencies": chat_report.summary(sent["latencies"].get("streams", [])),
                               "missing": sent["missing"], "post_error": sent["post_error"]}
            log(f"[capacity] {target.label}: {held:,} streams held, {result['rss_kib_per_stream']:.1f} KiB RSS each; "
                f"one message reached them in {chat_report.ms(result['check']['latencies']['p99'])} (p99), "
                f"{sent['missing']} missing")
            poster.close()
        finally:
            self.subs.close()
            server.stop()
        return result

    # ---- 2. fanout -----------------------------------------------------------------------------

    def fanout(self, target: Target, count: int) -> dict:
        port, room = free_port(), f"fanout-{count}"
        server = target.server(port, f"fanout-{target.key}-{count}")
        result = {"target": target.label, "key": target.key, "kind": target.kind, "subscribers": count,
                  "other_cores_before": self.quiet()}
        try:
            server.start()
            if target.kind == "app":
                open_chat_tab(target, port)
            poster = Poster(target, port, room)
            self.open_warm_streams(target, port, room)
            self.warm_up(target, poster, port, room, 1)
            if target.kind == "app":
                open_chat_tab(target, port)  # the streams below open idle: nothing to replay
            before = memory_kib(server.worker)
            redis_before = self.redis.used_memory() if target.kind == "flask-sse" else None
            meter = self.meter([server])
            opened = self.open_streams(target, port, room, count, "subscribers")
            result["open_cpu"] = meter.stop()
            if opened["failed"]:
                raise BenchError(f"{target.label}: {opened['failed']} of {count} streams failed to open: {opened['errors']}")
            if target.kind == "app":
                result["broker_check"] = self.verify_broker(target, server)
            gevent.sleep(1)
            after = memory_kib(server.worker)
            result["memory"] = {"before_kib": before, "after_kib": after,
                                "rss_kib_per_stream": (after["rss"] - before["rss"]) / count}
            if redis_before is not None:  # Flask-SSE's other half: a Redis client per stream
                result["memory"]["redis_kib_per_stream"] = (self.redis.used_memory() - redis_before) / 1024 / count
            self.warm_up(target, poster, port, room, WARM_MESSAGES)
            result.update(self.measured(poster, [server], self.args.messages, "subscribers"))
            log(f"[fanout] {target.label}, {count:,} subscribers: p50 {chat_report.ms(result['latency']['p50'])} "
                f"p99 {chat_report.ms(result['latency']['p99'])}, {result['missing']} missing; "
                f"cores: server {result['cpu']['server']} client {result['cpu']['client']} "
                f"redis {result['cpu']['redis']} postgresql {result['cpu']['postgresql']} other {result['cpu']['other']}")
            poster.close()
        finally:
            self.subs.close()
            server.stop()
        return result

    def measured(self, poster: Poster, servers: list[QuickServer], count: int, label: str | None) -> dict:
        """The measured messages; sent again (streams still open) when other processes took more
        than QUIET_CORES meanwhile, at most --retries times: the attempt they disturbed least."""
        best = None
        for attempt in range(1, self.args.retries + 2):
            result = self.messages(poster, servers, count, label)
            result["attempt"] = attempt
            if best is None or result["cpu"]["other"] < best["cpu"]["other"]:
                best = result
            if result["cpu"]["other"] <= QUIET_CORES or attempt > self.args.retries:
                return best
            log(f"other processes took {result['cpu']['other']:.2f} cores during these messages: sending them again")
            self.quiet()
        raise AssertionError("unreachable")

    def messages(self, poster: Poster, servers: list[QuickServer], count: int, label: str | None) -> dict:
        """`count` measured messages, one at a time; the latency summary of `label`'s streams (or
        of each label when None)."""
        latencies: dict[str, list[float]] = {}
        per_message, post_ms, errors = [], [], []
        missing = wrong = 0
        meter = self.meter(servers)
        for _ in range(count):
            sent = self.send(poster, TOKEN_PREFIX + secrets.token_hex(8), self.args.timeout)
            if sent["post_error"]:
                errors.append(sent["post_error"])
                if len(errors) >= 3:
                    raise BenchError(f"posts keep failing: {errors}")
                continue
            for name, values in sent["latencies"].items():
                if name != "warm":
                    latencies.setdefault(name, []).extend(values)
            mine = sent["latencies"].get(label, []) if label else [v for k, vs in sent["latencies"].items() if k != "warm" for v in vs]
            per_message.append({"first": min(mine, default=None), "p50": chat_report.percentile(mine, 50),
                                "max": max(mine, default=None)})
            missing += sent["missing"]
            wrong += sent["wrong_event"]
            post_ms.append(sent["post_seconds"])
            gevent.sleep(random.uniform(0.1, 0.35))
        cpu = meter.stop()
        mine = latencies.get(label, []) if label else []
        firsts = [m["first"] for m in per_message if m["first"] is not None]
        spreads = [m["max"] - m["first"] for m in per_message if m["first"] is not None]
        return {"latency": chat_report.summary(mine), "first": chat_report.summary(firsts), "spread": chat_report.summary(spreads), "by_label": {k: chat_report.summary(v) for k, v in latencies.items()},
                "per_message": per_message, "missing": missing, "wrong_event": wrong, "post": chat_report.summary(post_ms),
                "post_errors": errors, "cpu": cpu, "messages": count}

    # ---- 3. crossing workers -------------------------------------------------------------------

    def crossing(self, target: Target, count: int) -> dict:
        ports = {"A": free_port(), "B": free_port()}
        servers = {name: target.server(port, f"crossing-{target.key}-{name}") for name, port in ports.items()}
        result = {"target": target.label, "key": target.key, "subscribers": count, "other_cores_before": self.quiet()}
        try:
            for server in servers.values():
                server.start()
            open_chat_tab(target, ports["A"])
            poster = Poster(target, ports["A"], "crossing")
            for name, port in ports.items():
                self.open_warm_streams(target, port, "crossing")
                opened = self.open_streams(target, port, "crossing", count // 2, name)
                if opened["failed"]:
                    raise BenchError(f"{target.label}: {opened['failed']} streams of instance {name} failed: {opened['errors']}")
            self.warm_up(target, poster, ports["A"], "crossing", WARM_MESSAGES)
            result.update(self.measured(poster, list(servers.values()), self.args.cross_messages, None))
            a, b = result["by_label"]["A"], result["by_label"]["B"]
            result["p50_difference"] = None if a["p50"] is None or b["p50"] is None else b["p50"] - a["p50"]
            log(f"[crossing] {target.label}: p50 A {chat_report.ms(a['p50'])}, B {chat_report.ms(b['p50'])}: "
                f"B - A = {chat_report.ms(result['p50_difference'])}; {result['missing']} missing")
            poster.close()
        finally:
            self.subs.close()
            for server in servers.values():
                server.stop()
        return result


# --------------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------------


def csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--brokers", default="database,postgresql,redis",
                        help="REALTIME_BROKER values to measure, comma-separated, among database,postgresql,redis "
                             "(all three; postgresql runs on PostgreSQL only)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="databases for each broker (sqlite,postgresql)")
    parser.add_argument("--counts", default=COUNTS, help=f"subscriber counts of the fanout ({COUNTS})")
    parser.add_argument("--messages", type=int, default=MESSAGES, help=f"measured messages per count ({MESSAGES})")
    parser.add_argument("--capacity", type=int, default=CAPACITY, help=f"idle streams held by one worker ({CAPACITY:,}; 0: skip)")
    parser.add_argument("--cross", type=int, default=CROSS_SUBSCRIBERS,
                        help=f"subscribers of the crossing-workers phase, half on each instance ({CROSS_SUBSCRIBERS}; 0: skip)")
    parser.add_argument("--cross-messages", type=int, default=2 * MESSAGES,
                        help=f"measured messages of the crossing-workers phase ({2 * MESSAGES}: a polling feed's delay "
                             "varies from 0 to its interval, so its p50s need more samples)")
    parser.add_argument("--no-flask-sse", action="store_true", help="leave Flask-SSE out")
    parser.add_argument("--payload", type=int, default=0,
                        help="characters the hub and Flask-SSE publish (0: the length of the app's fragment, measured)")
    parser.add_argument("--timeout", type=float, default=DELIVERY_TIMEOUT,
                        help=f"seconds a message may take to reach every subscriber ({DELIVERY_TIMEOUT:.0f})")
    parser.add_argument("--redis-db", type=int, default=15, help="Redis database of this run, flushed at start and end (15)")
    parser.add_argument("--retries", type=int, default=1,
                        help="times the messages of a phase are sent again when other processes took CPU meanwhile (1)")
    parser.add_argument("--quiet-wait", type=float, default=10.0,
                        help="seconds to wait at most before each phase for other processes to leave the CPU idle (10)")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite bench/RESULTS.md")
    args = parser.parse_args(argv)
    args.broker_list, args.database_list = csv(args.brokers), csv(args.databases)
    args.count_list = [int(n) for n in csv(args.counts)]
    for broker in args.broker_list:
        if broker not in BROKERS:
            parser.error(f"unknown broker {broker!r} (one of {', '.join(BROKERS)})")
    for database in args.database_list:
        if database not in DATABASES:
            parser.error(f"unknown database {database!r} (one of {', '.join(DATABASES)})")
    return args


def combinations(args: argparse.Namespace) -> list[tuple[str, str]]:
    return [(broker, database) for broker in args.broker_list for database in args.database_list
            if not (broker == "postgresql" and database != "postgresql")]


def fragment_length(target: Target) -> int:
    """The length of a message's event data as the app sends it (what the hub and Flask-SSE
    publish is made as long): one stream, one message, read raw."""
    port = free_port()
    server = target.server(port, f"fragment-{target.key}")
    try:
        server.start()
        conn = Connection(port)
        path = target.stream_path
        conn.connect()
        conn.sock.sendall(http_request("GET", path, port, cookies=dict([target.member_cookies[0].split("=", 1)])))
        gevent.sleep(0.5)
        token = TOKEN_PREFIX + secrets.token_hex(8)
        poster = Poster(target, port, "fragment")
        poster.post(token)
        data, deadline, mark = b"", time.monotonic() + 10, token.encode()
        while mark not in data or b"\n\n" not in data[data.find(mark):]:
            if time.monotonic() > deadline:
                raise BenchError("the fragment of a message did not come through its stream in 10 s")
            try:
                data += conn.sock.recv(65536)
            except OSError as error:
                raise BenchError(f"reading a stream for the fragment's length: {error}") from None
        event = data[data.rfind(b"event: message-created", 0, data.find(mark)):]
        event = event[: event.find(b"\n\n")]
        lines = [line[len(b"data: "):] for line in event.split(b"\n") if line.startswith(b"data: ")]
        conn.close()
        poster.close()
        return len(b"\n".join(lines).decode())
    finally:
        server.stop()


def benchmark(args: argparse.Namespace, tmp: Path, argv: list[str]) -> int:
    needed = max(args.capacity, max(args.count_list, default=0), args.cross) + 500
    limits = raise_open_files(needed)
    if LOGS.exists():
        shutil.rmtree(LOGS)
    LOGS.mkdir(parents=True)
    combos = combinations(args)
    uses_pg = any(database == "postgresql" for _, database in combos)
    uses_redis = not args.no_flask_sse or "redis" in args.broker_list
    pg = Postgres() if uses_pg else None
    redis = Redis(args.redis_db) if uses_redis else None
    info = machine_info()
    info["versions"].update(postgresql=pg.version() if pg else "-", redis=redis.version if redis else "-")
    for module in ("flask-sse", "redis", "psycopg"):
        try:
            from importlib.metadata import version

            info["versions"][f"{module} (Python)" if module == "redis" else module] = version(module)
        except Exception:  # noqa: BLE001
            info["versions"][module] = "not installed"
    subs = Subscribers()
    bench = Bench(args, subs, pg, redis)
    results = bench.results
    results.update(machine=info, limits=limits, command=" ".join([".venv/bin/python bench/chat.py", *argv]),
                   args={"counts": args.count_list, "messages": args.messages, "capacity": args.capacity,
                         "cross": args.cross, "cross_messages": args.cross_messages, "brokers": args.broker_list, "databases": args.database_list,
                         "members": MEMBERS, "timeout": args.timeout},
                   redis={"maxclients": redis.maxclients, "db": args.redis_db} if redis else None,
                   loadavg=" ".join(Path("/proc/loadavg").read_text().split()[:3]))
    started = time.monotonic()
    try:
        apps = []
        for index, (broker, database) in enumerate(combos):
            try:
                apps.append(prepare_app(broker, database, tmp, index, pg, redis.url if redis else None))
            except BenchError as error:
                log(f"FAILED: {broker} broker on {database}: {error}")
                results["failures"].append({"target": f"{broker} broker, {database}", "phase": "preparation", "error": str(error)})
        if not apps:
            raise BenchError("no configuration of the app could be prepared")
        payload = args.payload or fragment_length(apps[0])
        results["payload"] = payload
        log(f"a message's fragment is {payload} characters: the hub and Flask-SSE publish as many")
        hub = plain_target("hub", tmp, payload, None)
        flask_sse = None if args.no_flask_sse else plain_target("flask-sse", tmp, payload, redis.url)

        def attempt(phase: str, target: Target, run):
            try:
                return run()
            except BenchError as error:
                log(f"FAILED: {phase} of {target.label}: {error}")
                results["failures"].append({"target": target.label, "phase": phase, "error": str(error)})
                return None

        if args.capacity:
            for target in (apps[0], hub):
                if (done := attempt("capacity", target, lambda: bench.capacity(target, args.capacity))) is not None:
                    results["capacity"].append(done)
        broken: set[str] = set()
        for count in args.count_list:
            for target in [hub, *apps, *([flask_sse] if flask_sse else [])]:
                if target.key in broken:
                    continue
                if target.kind == "flask-sse" and count + 100 > redis.maxclients - redis.clients():
                    log(f"Flask-SSE skipped at {count:,}: Redis takes {redis.maxclients} clients, {redis.clients()} connected")
                    results["failures"].append({"target": target.label, "phase": f"fanout {count}",
                                                "error": f"Redis maxclients {redis.maxclients} too low", "skipped": True})
                    continue
                done = attempt(f"fanout {count}", target, lambda: bench.fanout(target, count))
                if done is None:
                    broken.add(target.key)  # a broker not in use, or a server down: its other counts would fail alike
                else:
                    results["fanout"].append(done)
        if args.cross:
            for target in apps:
                if target.key not in broken:
                    if (done := attempt("crossing", target, lambda: bench.crossing(target, args.cross))) is not None:
                        results["crossing"].append(done)
    finally:
        subs.stop()
        if pg:
            pg.drop_all()
        if redis:
            redis.close()
    results["seconds"] = round(time.monotonic() - started)
    verdict = chat_report.judge(results)
    OUT.mkdir(exist_ok=True)
    (OUT / "chat-last-run.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    if not args.no_write:
        chat_report.write(results, verdict)
        log("wrote bench/RESULTS.md")
    for line in verdict["lines"]:
        log(line)
    if results["failures"] and any(not f.get("skipped") for f in results["failures"]):
        return 2
    return 0 if verdict["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    return run_guarded("xtablo-bench-chat-", lambda tmp: benchmark(args, tmp, argv), deadline=RUN_DEADLINE)


if __name__ == "__main__":
    sys.exit(main())
