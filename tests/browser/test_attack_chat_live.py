"""An attack on the chat's real-time half against the real server (gunicorn, 2 gevent workers,
tests/browser/conftest.py's `live_server`), over raw HTTP connections. The in-process half of the
attack, and what each DEFECT is, are in tests/test_attack_chat.py.

Tests marked DEFECT fail on the code they were written against (review-attack, 5522150).

Not browser tests, but they need the live server, which lives with them."""

import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from tests.browser.conftest import LiveServer
from tests.browser.test_chat_stream_live import (LiveStream, chat_token, live_app, make_user, post_at_once, signed_in,
                                                 workers_of)
from tests.conftest import PG_ADMIN_URL
from xtablo.extensions import db as _db
from xtablo.models import Role, Tablo, TabloMember, TabloMessage, User

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SOURCE = "127.0.0.89"  # an address of its own: its sign-ins count against no other test's


def a_chat(server: LiveServer) -> tuple[int, int, str, str]:
    """(tablo id, reader id, owner's email, reader's email): Olga owns the tablo, Rita reads it."""
    with live_app(server, REALTIME_CHANNEL="xtablo_test_silent"):
        owner, reader = make_user("Olga"), make_user("Rita")
        tablo = Tablo.create(owner=owner, title="Attack")
        TabloMember.add(tablo, reader, Role.VIEWER, added_by=owner)
        _db.session.commit()
        return tablo.id, reader.id, owner.email, reader.email


def post(visitor, tablo_id: int, body: str, key: str | None = None) -> int:
    status, _ = visitor.request("POST", f"/tablos/{tablo_id}/messages",
                                {"csrf_token": chat_token(visitor, tablo_id), "body": body, "client_key": key or uuid.uuid4().hex})
    return status


class SilentReader:
    """A stream whose client never reads: a small receive buffer, the request sent, nothing read."""

    def __init__(self, server: LiveServer, cookies: dict, path: str):
        parts = urlsplit(server.url)
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.bind((SOURCE, 0))
        self.sock.connect((parts.hostname, parts.port))
        self.local_port = self.sock.getsockname()[1]
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nCookie: {cookie}\r\n"
                          f"Accept: text/event-stream\r\n\r\n".encode())

    def close(self) -> None:
        self.sock.close()


def server_send_queue(server: LiveServer, local_port: int) -> int:
    """Bytes the server's end of this connection has queued and the client has not taken."""
    port = urlsplit(server.url).port
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(f":{port:04X}") and int(fields[2].split(":")[1], 16) == local_port:
            return int(fields[4].split(":")[0], 16)
    return 0


def test_a_reader_that_never_reads_is_disconnected(live_server: LiveServer) -> None:
    """DEFECT (high: a few connections that never read hold a worker's connections, greenlets
    and socket buffers for ever). The hub closes a subscriber whose queue (64 events) is full, but
    the stream's greenlet is then blocked in `sendall` on a socket nobody reads: gunicorn's gevent
    worker makes client sockets blocking without a timeout (`client.setblocking(1)`), so the
    greenlet never comes back to read the CLOSE, and the connection is never closed. Here a
    client opens a stream and reads nothing; 300 messages of 4,000 characters are posted: 10 s
    later the server's end of that connection is still open, 1.5 MB queued in its kernel buffer
    (measured on both databases). With no cap on streams per session (tests/test_attack_chat.py),
    one account opens a thousand such streams on a tablo of its own and posts: 1.5 GB of the
    host's memory and a thousand connections pinned for good.
    Fix: a send timeout on stream sockets (e.g. `gevent.Timeout` around each write in the
    stream's generator, or `socket.settimeout` through a gunicorn hook), so that a closed
    subscriber's connection is closed."""
    tablo_id, _, owner_email, reader_email = a_chat(live_server)
    reader = signed_in(live_server, reader_email)
    silent = SilentReader(live_server, reader.cookies, f"/tablos/{tablo_id}/messages/stream")
    owner = signed_in(live_server, owner_email)
    try:
        time.sleep(0.5)
        (worker,) = workers_of(live_server, [silent])
        assert worker is not None  # the stream is open, held by a worker
        token = chat_token(owner, tablo_id)
        for n in range(300):  # each rung to the workers as it commits, as people write
            status, _ = owner.request("POST", f"/tablos/{tablo_id}/messages",
                                      {"csrf_token": token, "body": f"{n} " + "x" * 3990, "client_key": f"flood-{n}"})
            assert status == 303
        deadline = time.monotonic() + 10
        while workers_of(live_server, [silent]) != [None] and time.monotonic() < deadline:
            time.sleep(0.2)
        queued = server_send_queue(live_server, silent.local_port)
        assert workers_of(live_server, [silent]) == [None], f"still held by worker {worker}, {queued} bytes queued"
    finally:
        silent.close()
        reader.conn.close()
        owner.conn.close()


def test_a_message_written_right_after_a_removal_never_reaches_the_removed_reader(live_server: LiveServer) -> None:
    """DEFECT (medium; in process: test_what_is_written_after_access_ends_never_reaches_the_stream).
    Olga removes Rita and writes at once: the message reaches Rita's open stream, which closes
    only at the feed's next access check (every 2 s), after delivering it."""
    tablo_id, reader_id, owner_email, reader_email = a_chat(live_server)
    reader, owner = signed_in(live_server, reader_email), signed_in(live_server, owner_email)
    stream = LiveStream(live_server, reader.cookies, f"/tablos/{tablo_id}/messages/stream")
    try:
        assert post(owner, tablo_id, "Before the removal") == 303
        assert "Before the removal</p>" in stream.next_event()["data"]
        token = chat_token(owner, tablo_id)  # ahead of time
        with live_app(live_server, REALTIME_CHANNEL="xtablo_test_silent"):
            member = _db.session.scalar(_db.select(TabloMember).where(TabloMember.user_id == reader_id))
            member.remove(removed_by=_db.session.scalar(_db.select(User).where(User.email == owner_email)))
            _db.session.commit()
        status, _ = owner.request("POST", f"/tablos/{tablo_id}/messages",
                                  {"csrf_token": token, "body": "Rita is gone, about her replacement", "client_key": "after"})
        assert status == 303
        event = stream.next_event()
        assert event is None, f"the removed reader received: {event['data'][:200]}"
    finally:
        stream.close()
        reader.conn.close()
        owner.conn.close()


def test_parallel_posts_of_one_key_store_one_message(live_server: LiveServer) -> None:
    """Twelve connections of one browser post one form (one key) at the same instant, against
    the real server and its database: one message, and every answer leads to it."""
    tablo_id, _, owner_email, _ = a_chat(live_server)
    first = signed_in(live_server, owner_email)
    answers = post_at_once(live_server, tablo_id, first.cookies,
                           [f"csrf_token={chat_token(first, tablo_id)}&body=Only+once&client_key=race-key"] * 12)
    first.conn.close()
    with live_app(live_server, REALTIME_CHANNEL="xtablo_test_silent"):
        ids = list(_db.session.scalars(_db.select(TabloMessage.id).where(TabloMessage.tablo_id == tablo_id)))
    assert len(ids) == 1
    assert [(status, location) for status, location, _ in answers] == [(303, f"/tablos/{tablo_id}/messages#message-{ids[0]}")] * 12


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_open_streams_hold_no_database_connection_nor_transaction(live_server: LiveServer) -> None:
    """Forty open streams, a message delivered to each: no session of the server's database is
    left idle in a transaction, and the server holds fewer connections than it has streams.

    "Left": the worker's own short reads (the feed's access check every 2 s, a message's load)
    are idle in transaction for the instant between their last row and their rollback, and a
    snapshot of pg_stat_activity may catch one (it did, once in CI). A stream's transaction
    would stay so for the stream's life: the check is for one unchanged for half a second."""
    tablo_id, _, owner_email, reader_email = a_chat(live_server)
    reader, owner = signed_in(live_server, reader_email), signed_in(live_server, owner_email)
    streams = []
    try:
        for _ in range(40):
            streams.append(LiveStream(live_server, reader.cookies, f"/tablos/{tablo_id}/messages/stream"))
        assert post(owner, tablo_id, "To the forty") == 303
        for stream in streams:
            assert "To the forty</p>" in stream.next_event()["data"]
        name = live_server.database_url.rsplit("/", 1)[1]
        time.sleep(0.6)  # a transaction the streams kept open is now older than the check's half second
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            sessions = list(connection.execute(
                "SELECT state, now() - state_change > interval '0.5 seconds' FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()", (name,)))
        states = [state for state, _ in sessions]
        assert not [state for state, held in sessions if state and state.startswith("idle in transaction") and held], states
        assert len(states) < len(streams) // 2, states
    finally:
        for stream in streams:
            stream.close()
        reader.conn.close()
        owner.conn.close()
