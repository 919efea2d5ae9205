"""Each broker against the real thing: gunicorn with 2 gevent workers, the real PostgreSQL and a
real Redis (xtablo/realtime/brokers.py). A change made through one worker reaches the streams of
both, and a broker that goes away and comes back loses nothing.

The servers here poll the change log only once an hour by themselves (REALTIME_POLL_INTERVAL):
what reaches a stream on time was rung by the broker, not found by the safety-net poll. Without
the broker's ring, nothing would arrive (the first test checks that too), so each arrival proves
the broker carried it. The database broker on PostgreSQL has no ring: it polls (0.25 s), as an
operator behind a transaction-mode pooler would run it.

Not browser tests, but they need live servers, which live with them."""

import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis

from tests.browser.conftest import LiveServer, free_port, running_server, tail
from tests.browser.test_chat_stream_live import LiveStream, live_app, make_user, signed_in, workers_of
from tests.conftest import PG_ADMIN_URL, database_env, drop_pg_database
from xtablo.extensions import db as _db
from xtablo.models import Role, Session, Tablo, TabloMember, TabloMessage, User
from xtablo.models._types import utcnow

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MAX_STREAMS = 40
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    """A redis-server of this test's own on a free loopback port, that it may stop and restart."""

    def __init__(self, tmp_dir) -> None:
        self.port, self.dir, self.process = free_port(), tmp_dir, None
        self.channel = f"xtablo_test_{uuid.uuid4().hex[:12]}"  # the server's REALTIME_CHANNEL

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def subscribers(self) -> int:
        """How many listen to the server's channel (one per worker, when all is well)."""
        client = redis.Redis.from_url(self.url)
        try:
            return dict(client.pubsub_numsub(self.channel)).get(self.channel.encode(), 0)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@contextmanager
def broker_server(backend, broker, worker_id, testrun_uid, tmp_path_factory, **more) -> Iterator[tuple[LiveServer, PrivateRedis | None]]:
    tmp_dir = tmp_path_factory.mktemp(f"broker-{backend}-{broker}")
    database = database_env(backend, f"b{broker[:2]}", worker_id, tmp_dir, testrun_uid[:8])
    settings = {"REALTIME_BROKER": broker, "REALTIME_CHANNEL": f"xtablo_test_{uuid.uuid4().hex[:12]}"} | more
    if broker != "database" or backend == "sqlite":
        settings["REALTIME_POLL_INTERVAL"] = "3600"
    private_redis = None
    if broker == "redis":
        private_redis = PrivateRedis(tmp_dir)
        private_redis.start()
        settings |= {"REDIS_URL": private_redis.url, "REALTIME_CHANNEL": private_redis.channel}
    try:
        with running_server(backend, tmp_dir, database, settings) as server:
            yield server, private_redis
    finally:
        if private_redis is not None:
            private_redis.stop()
        if backend == "postgresql":
            drop_pg_database(database["DATABASE_URL"])


# (database, broker): every broker each database can have.
WITH_OUTAGES = [("sqlite", "redis"), ("postgresql", "postgresql"), ("postgresql", "redis")]
EVERY = [("sqlite", "database"), ("postgresql", "database"), *WITH_OUTAGES]


@pytest.fixture(scope="module", params=EVERY, ids="-".join)
def brokered(request, worker_id, testrun_uid, tmp_path_factory):
    backend, broker = request.param
    with broker_server(backend, broker, worker_id, testrun_uid, tmp_path_factory) as (server, private_redis):
        yield broker, server, private_redis


class Chat:
    """An owner and a reader of one tablo, signed in to the server, the reader's streams on both workers."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        with live_app(server, REALTIME_CHANNEL="xtablo_test_silent"):  # rows set up here ring nobody
            owner, reader = make_user("Olga"), make_user("Rita")
            tablo = Tablo.create(owner=owner, title="Brokers")
            TabloMember.add(tablo, reader, Role.VIEWER, added_by=owner)
            _db.session.commit()
            self.tablo_id, self.owner_id, emails = tablo.id, owner.id, (owner.email, reader.email)
            self.reader_email = reader.email
        self.owner, self.reader = (signed_in(server, email) for email in emails)
        self.streams: list[LiveStream] = []

    def open_streams_on_both_workers(self) -> None:
        path = f"/tablos/{self.tablo_id}/messages/stream"
        while len(self.streams) < 4 or len(set(workers_of(self.server, self.streams))) < 2:
            assert len(self.streams) < MAX_STREAMS, "every stream landed on one worker"
            self.streams.append(LiveStream(self.server, self.reader.cookies, path))

    def token(self) -> str:
        _, page = self.owner.request("GET", f"/tablos/{self.tablo_id}/messages")
        return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)

    def post(self, body: str) -> int:
        status, _ = self.owner.request("POST", f"/tablos/{self.tablo_id}/messages",
                                       {"csrf_token": self.token(), "body": body, "client_key": uuid.uuid4().hex})
        return status

    def expect_everywhere(self, event_name: str, text: str) -> None:
        for stream in self.streams:
            event = stream.next_event()
            assert event is not None, "the stream ended"
            assert event["event"] == event_name and text in event["data"], event

    def close(self) -> None:
        for stream in self.streams:
            stream.close()
        self.owner.conn.close()
        self.reader.conn.close()


@pytest.fixture
def chat(brokered) -> Iterator[Chat]:
    _, server, _ = brokered
    chat = Chat(server)
    try:
        yield chat
    finally:
        chat.close()


def message_id_of(chat: Chat, body: str) -> int:
    with live_app(chat.server, REALTIME_CHANNEL="xtablo_test_silent"):
        return _db.session.scalar(_db.select(TabloMessage.id).where(TabloMessage.body == body))


def test_a_change_made_on_one_worker_reaches_the_streams_of_both(brokered, chat: Chat) -> None:
    broker, server, _ = brokered
    chat.open_streams_on_both_workers()
    assert chat.post("Sent through one worker") == 303
    chat.expect_everywhere("message-created", "Sent through one worker</p>")

    message_id = message_id_of(chat, "Sent through one worker")
    status, _ = chat.owner.request("POST", f"/tablos/{chat.tablo_id}/messages/{message_id}/edit",
                                   {"csrf_token": chat.token(), "body": "Edited on a worker"})
    assert status == 303
    chat.expect_everywhere("message-changed", "Edited on a worker</p>")
    status, _ = chat.owner.request("POST", f"/tablos/{chat.tablo_id}/messages/{message_id}/delete",
                                   {"csrf_token": chat.token()})
    assert status == 303
    chat.expect_everywhere("message-changed", "Message deleted")

    if broker == "database" and server.backend == "postgresql":
        return  # it polls: no ring to do without
    # A message written without a ring (another app, on a channel nobody listens to) is not
    # found by these servers within a few seconds: what came before was the broker's doing.
    with live_app(server, REALTIME_CHANNEL="xtablo_test_silent"):
        owner = _db.session.get(User, chat.owner_id)
        TabloMessage.create(_db.session.get(Tablo, chat.tablo_id), author=owner, body="Unrung", client_key="unrung")
        _db.session.commit()
    if broker == "database":
        chat.expect_everywhere("message-created", "Unrung</p>")  # SQLite's doorbell is the log itself
    else:
        for stream in chat.streams:
            stream.sock.settimeout(2)
            with pytest.raises(TimeoutError):
                stream.next_event()


def listeners(database_url: str) -> list[int]:
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        return [row[0] for row in connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'xtablo realtime'", (name,))]


def wait_for(condition, seconds: float, what: str, server: LiveServer) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}, after {seconds} s:\n{tail(server.log)}"
        time.sleep(0.05)


@pytest.mark.parametrize("brokered", WITH_OUTAGES, ids="-".join, indirect=True)
def test_a_broker_outage_delays_messages_and_loses_none(brokered, chat: Chat) -> None:
    broker, server, private_redis = brokered
    chat.open_streams_on_both_workers()
    if broker == "postgresql":
        wait_for(lambda: len(listeners(server.database_url)) == 2, 10, "a listener per worker", server)
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            for pid in listeners(server.database_url):
                connection.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # Written while nobody listens: its NOTIFY is heard by no one.
        assert chat.post("While the listeners were away") == 303
    else:
        private_redis.stop()
        assert chat.post("While Redis was down") == 303  # the worker announced in vain, and said so
        assert chat.post("Still down") == 303
        time.sleep(1)
        private_redis.start()
    # Each listener comes back, and reads from the database what it missed: nothing lost.
    if broker == "postgresql":
        chat.expect_everywhere("message-created", "While the listeners were away</p>")
        wait_for(lambda: len(listeners(server.database_url)) == 2, 15, "the listeners are back", server)
    else:
        chat.expect_everywhere("message-created", "While Redis was down</p>")
        chat.expect_everywhere("message-created", "Still down</p>")
        wait_for(lambda: private_redis.subscribers() == 2, 15, "the listeners are back", server)
    log = server.log.read_text(errors="replace")
    assert f"realtime: lost the {broker} broker" in log
    assert log.count("Booting worker") == 2, "a worker died"
    # Once back, the broker carries new messages at once again.
    assert chat.post("Back to normal") == 303
    chat.expect_everywhere("message-created", "Back to normal</p>")


def test_a_restart_ends_the_streams_at_once_and_they_resume_where_they_were(backend, worker_id, testrun_uid,
                                                                             tmp_path_factory) -> None:
    """gunicorn's HUP (a reload: new workers, the old ones told to stop) or a deploy's TERM: a
    stream must not keep an old worker alive until graceful_timeout (10 s). Its browser then
    reconnects, to a new worker, and is replayed what it missed."""
    with broker_server(backend, "database", worker_id, testrun_uid, tmp_path_factory) as (server, _):
        chat = Chat(server)
        try:
            chat.open_streams_on_both_workers()
            assert chat.post("Before the restart") == 303
            last_ids = []
            for stream in chat.streams:
                event = stream.next_event()
                assert "Before the restart</p>" in event["data"]
                last_ids.append(event["id"])
            old_workers = set(workers_of(server, chat.streams))
            master = {parent_of(pid) for pid in old_workers}.pop()

            chat.owner.conn.close()  # an idle keep-alive connection holds a worker for `keepalive` (5 s)
            chat.reader.conn.close()  # (they reconnect by themselves at their next request)
            os.kill(master, signal.SIGHUP)
            told = time.monotonic()
            for stream in chat.streams:
                assert stream.next_event() is None  # ended by the server, not cut by a timeout
            assert time.monotonic() - told < 5, "the streams waited for graceful_timeout"
            wait_for(lambda: not any(alive(pid) for pid in old_workers), 5, "the old workers are gone", server)

            assert chat.post("During the restart") == 303
            resumed = LiveStream(server, chat.reader.cookies, f"/tablos/{chat.tablo_id}/messages/stream",
                                 headers={"Last-Event-ID": last_ids[0]})
            try:
                event = resumed.next_event()
                assert event["event"] == "message-created" and "During the restart</p>" in event["data"]
            finally:
                resumed.close()
        finally:
            chat.close()


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_hundred_tabs_reconnecting_at_once_all_get_their_stream(backend, worker_id, testrun_uid, tmp_path_factory) -> None:
    """After a restart every open chat tab reconnects at once, each with a session last seen a
    while ago (so its request refreshes it). No request may wait for a second pooled connection
    while holding one: a hundred of them would take the whole pool and wait for each other until
    its timeout (then a 500 each), as they did on PostgreSQL."""
    with broker_server(backend, "database", worker_id, testrun_uid, tmp_path_factory, WEB_CONCURRENCY="1") as (server, _):
        chat = Chat(server)
        chat.owner.conn.close()
        # Five browsers of the reader's (tabs of one session are capped per worker).
        browsers = [chat.reader] + [signed_in(server, chat.reader_email) for _ in range(4)]
        with live_app(server, REALTIME_CHANNEL="xtablo_test_silent"):
            _db.session.execute(_db.update(Session).values(last_seen_at=utcnow() - timedelta(hours=1)))
            _db.session.commit()
        statuses: list[int] = []

        start = threading.Barrier(100)

        def open_one(cookies: dict) -> None:
            try:
                start.wait(10)
                stream = LiveStream(server, cookies, f"/tablos/{chat.tablo_id}/messages/stream")
                statuses.append(200)
                stream.close()
            except AssertionError:
                statuses.append(0)
            except OSError as error:
                statuses.append(str(error))

        threads = [threading.Thread(target=open_one, args=(browsers[n % 5].cookies,)) for n in range(100)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        chat.close()
        for browser in browsers[1:]:
            browser.conn.close()
        assert statuses == [200] * 100, f"{statuses.count(200)} of 100 streams opened:\n{tail(server.log)}"
