"""The chat's streams against the real server (gunicorn, 2 gevent workers): a message posted on
one worker reaches every stream, whichever worker holds it; a removed member's streams close
within seconds. Raw HTTP connections, each on a socket of its own; which worker holds a stream
is read from the kernel (/proc: the worker process that owns the server's end of its socket).

Not a browser test, but it needs the live server, which lives with them."""

import http.client
import re
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_parallel_etapes import token_of
from tests.browser.test_parallel_sign_in import PASSWORD, Visitor
from tests.conftest import TestingConfig, fast_hash
from xtablo import create_app
from xtablo.extensions import db as _db
from xtablo.models import Role, Tablo, TabloMember, User
from xtablo.models._types import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SOURCE = "127.0.0.88"  # an address of its own, so its sign-ins do not count against other tests'
MAX_STREAMS = 40  # opened until both workers hold some (8 at least)


@contextmanager
def live_app(server: LiveServer, **settings: str):
    """The app in this process, on the live server's database: to set up rows quickly."""
    app = create_app(TestingConfig({"DATABASE_URL": server.database_url, "SECRET_KEY": "live-" + "x" * 40} | settings))
    with app.app_context():
        try:
            yield app
        finally:
            _db.session.remove()
            _db.engine.dispose()


def make_user(name: str) -> User:
    user = User.create(name=name, email=f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com", password=None)
    user.password_hash, user.email_verified_at = fast_hash(PASSWORD), utcnow()
    return user


def signed_in(server: LiveServer, email: str) -> Visitor:
    visitor = Visitor(server.url, source=SOURCE)
    token = visitor.sign_in_form()
    assert visitor.request("POST", "/login", {"csrf_token": token, "email": email, "password": PASSWORD})[0] == 303
    return visitor


class LiveStream:
    """One SSE connection, read event by event."""

    def __init__(self, server: LiveServer, cookies: dict, path: str, headers: dict | None = None):
        parts = urlsplit(server.url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(SOURCE, 0))
        self.conn.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items()),
                                                "Accept": "text/event-stream"} | (headers or {}))
        self.sock = self.conn.sock  # the response keeps it: a stream's connection is not kept alive
        self.local_port = self.sock.getsockname()[1]
        self.response = self.conn.getresponse()
        assert self.response.status == 200 and self.response.headers["Content-Type"].startswith("text/event-stream")
        assert self.response.headers["Connection"] == "close"
        assert self.response.readline() == b"retry: 2000\n"

    def next_event(self) -> dict | None:
        """The next event ({"id", "event", "data"}), or None when the server ended the stream."""
        fields: dict = {}
        while True:
            line = self.response.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if not line:
                if "id" in fields:
                    return fields
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(": ")
            fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value

    def close(self) -> None:
        self.response.close()
        self.conn.close()


def tcp_table() -> list[list[str]]:
    return [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]


def socket_owners() -> dict[str, int]:
    """socket inode -> a pid of ours that holds it."""
    owners = {}
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    owners.setdefault(target[8:-1], int(fd_dir.parent.name))
        except (PermissionError, FileNotFoundError, ProcessLookupError):
            continue
    return owners


def workers_of(server: LiveServer, streams: list[LiveStream]) -> list[int]:
    """The pid of the process that holds the server's end of each stream's connection."""
    port = urlsplit(server.url).port
    by_peer = {int(fields[2].split(":")[1], 16): fields[9] for fields in tcp_table()
               if fields[1].endswith(f":{port:04X}") and fields[3] == "01"}
    owners = socket_owners()
    return [owners.get(by_peer.get(stream.local_port)) for stream in streams]


def chat_token(visitor: Visitor, tablo_id: int) -> str:
    """The CSRF token of the Chat tab's form, read from the tab as a browser reads it."""
    _, page = visitor.request("GET", f"/tablos/{tablo_id}/messages")
    return token_of(page)


def streams_on_both_workers(server: LiveServer, cookies: dict, path: str, at_least: int) -> list[LiveStream]:
    """Streams opened one after the other until there are `at_least` and both workers hold some."""
    streams: list[LiveStream] = []
    try:
        while len(streams) < at_least or len(set(workers_of(server, streams))) < 2:
            assert len(streams) < MAX_STREAMS, f"every stream landed on one worker: {workers_of(server, streams)}"
            streams.append(LiveStream(server, cookies, path))
    except BaseException:
        for stream in streams:
            stream.close()
        raise
    return streams


def post_at_once(server: LiveServer, tablo_id: int, cookies: dict, forms: list[str]) -> list[tuple[int, str | None, float]]:
    """Each form (urlencoded) posted to the Chat tab on a connection of its own, connected
    beforehand and all released at the same instant: (status, Location, seconds) of each answer,
    in the order they came."""
    parts = urlsplit(server.url)
    connections = [http.client.HTTPConnection(parts.hostname, parts.port, timeout=60, source_address=(SOURCE, 0))
                   for _ in forms]
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    barrier, answers = threading.Barrier(len(forms)), []

    def send(connection, form: str) -> None:
        connection.connect()
        barrier.wait(timeout=10)
        started = time.monotonic()
        connection.request("POST", f"/tablos/{tablo_id}/messages", body=form,
                           headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        response.read()
        answers.append((response.status, response.headers.get("Location"), time.monotonic() - started))

    threads = [threading.Thread(target=send, args=pair) for pair in zip(connections, forms, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for connection in connections:
        connection.close()
    return answers


@contextmanager
def a_team_chat(server: LiveServer, title: str):
    """Olga's tablo `title`, Rita an editor of it, both signed in: (tablo id, Olga, Rita)."""
    with live_app(server):
        owner, reader = make_user("Olga"), make_user("Rita")
        tablo = Tablo.create(owner=owner, title=title)
        TabloMember.add(tablo, reader, Role.EDITOR, added_by=owner)
        _db.session.commit()
        tablo_id, emails = tablo.id, (owner.email, reader.email)
        _db.session.commit()
    owner_visitor, reader_visitor = (signed_in(server, email) for email in emails)
    try:
        yield tablo_id, owner_visitor, reader_visitor
    finally:
        owner_visitor.conn.close()
        reader_visitor.conn.close()


def test_a_message_reaches_every_stream_on_every_worker_and_a_removed_member_is_cut_off(live_server: LiveServer) -> None:
    with live_app(live_server):
        owner, reader = make_user("Olga"), make_user("Rita")
        tablo = Tablo.create(owner=owner, title="Live")
        TabloMember.add(tablo, reader, Role.VIEWER, added_by=owner)
        _db.session.commit()
        tablo_id, reader_id, emails = tablo.id, reader.id, (owner.email, reader.email)
        # Outside a request, every transaction of this process begins as a write on SQLite: it
        # ends before the server is asked anything.
        _db.session.commit()
        owner_visitor, reader_visitor = (signed_in(live_server, email) for email in emails)

        streams = streams_on_both_workers(live_server, reader_visitor.cookies, f"/tablos/{tablo_id}/messages/stream", 8)
        try:
            workers = workers_of(live_server, streams)
            assert None not in workers and len(set(workers)) == 2

            status, _ = owner_visitor.request("POST", f"/tablos/{tablo_id}/messages",
                                              {"csrf_token": chat_token(owner_visitor, tablo_id),
                                               "body": "Live from one worker", "client_key": "live-1"})
            assert status == 303
            for stream in streams:  # whichever worker served the post
                event = stream.next_event()
                assert event is not None and event["event"] == "message-created"
                assert "Live from one worker</p>" in event["data"]

            # The reader is removed: every one of their streams ends within seconds.
            _db.session.rollback()
            member = _db.session.scalar(_db.select(TabloMember).where(TabloMember.user_id == reader_id))
            member.remove(removed_by=owner)
            _db.session.commit()
            removed_at = time.monotonic()
            for stream in streams:
                assert stream.next_event() is None
            assert time.monotonic() - removed_at < 5
        finally:
            for stream in streams:
                stream.close()
            owner_visitor.conn.close()
            reader_visitor.conn.close()


def test_messages_posted_at_once_on_both_workers_reach_every_stream_once_and_in_order(live_server: LiveServer) -> None:
    """Four people's worth of connections post at the same time, landing on both workers: a
    worker's own streams are fed by the request that committed (xtablo/realtime/feed.py,
    `deliver`) while its feed reads the other worker's; on PostgreSQL ids are handed out before
    the commits that make them visible, in any order. Every stream receives every message once,
    in the order of the log: a stream that dropped after an event resumes from its id, and any
    lower id sent after it would be lost for good."""
    with a_team_chat(live_server, "Busy") as (tablo_id, owner, reader):
        streams = streams_on_both_workers(live_server, reader.cookies, f"/tablos/{tablo_id}/messages/stream", 4)
        try:
            token, cookie = chat_token(owner, tablo_id), "; ".join(f"{k}={v}" for k, v in owner.cookies.items())
            parts = urlsplit(live_server.url)
            writers, per_writer = 4, 15
            barrier, statuses = threading.Barrier(writers), []

            def write(n: int) -> None:
                barrier.wait(timeout=10)
                for i in range(per_writer):
                    # A connection per post: the kernel hands each to either worker.
                    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30, source_address=(SOURCE, 0))
                    connection.request("POST", f"/tablos/{tablo_id}/messages",
                                       body=f"csrf_token={token}&body=Writer+{n}+message+{i}&client_key=w{n}-{i}",
                                       headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
                    response = connection.getresponse()
                    response.read()
                    statuses.append(response.status)
                    connection.close()

            threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
            assert statuses == [303] * (writers * per_writer)

            sent = {f"Writer {n} message {i}" for n in range(writers) for i in range(per_writer)}
            for stream in streams:
                ids, bodies = [], []
                for _ in range(writers * per_writer):
                    event = stream.next_event()
                    assert event is not None and event["event"] == "message-created"
                    ids.append(int(event["id"]))
                    bodies.append(re.search(r"Writer \d+ message \d+", event["data"]).group(0))
                assert ids == sorted(ids) and len(set(ids)) == len(ids), f"out of order or twice: {ids}"
                assert set(bodies) == sent
        finally:
            for stream in streams:
                stream.close()


def test_a_burst_of_posts_larger_than_the_pool_is_answered_at_once(live_server: LiveServer) -> None:
    """Forty people post to one watched tablo at the same instant, twenty or so per worker, more
    than a worker's pool of database connections (5 + 10 overflow). Each post, once committed,
    reads its change for its worker's streams on a pooled connection: had it kept its own while
    waiting for that one (or for another post's read), the pool would be empty, every post
    would wait for a connection nobody gives back, and they would all be answered at the pool's
    timeout (30 s), with errors in the log. All answered, and every message streamed once, in order."""
    with a_team_chat(live_server, "Rush") as (tablo_id, owner, reader):
        streams = streams_on_both_workers(live_server, reader.cookies, f"/tablos/{tablo_id}/messages/stream", 2)
        log_before = live_server.log.stat().st_size
        try:
            token, posts = chat_token(owner, tablo_id), 40
            answers = post_at_once(live_server, tablo_id, owner.cookies,
                                   [f"csrf_token={token}&body=Rush+{n}&client_key=rush-{n}" for n in range(posts)])
            assert [status for status, _, _ in answers] == [303] * posts
            slowest = max(seconds for _, _, seconds in answers)
            assert slowest < 15, f"the slowest post took {slowest:.1f} s: they waited for the pool"
            logged = live_server.log.read_bytes()[log_before:].decode(errors="replace")
            assert "Traceback" not in logged and "could not" not in logged, logged[-3000:]
            for stream in streams:
                ids = [int(stream.next_event()["id"]) for _ in range(posts)]
                assert ids == sorted(ids) and len(set(ids)) == posts
        finally:
            for stream in streams:
                stream.close()
