"""The chat's real-time stream (`GET /tablos/<id>/messages/stream`) and the hub behind it.

Over the test client, a stream is read up to its first chunk (the retry hint and the replay);
what the live feed delivers is read from the hub's queues, by calling the feed's poll and its
access check directly. The same over a real gunicorn with two workers: tests/browser/test_chat_stream_live.py.
"""

import gc
import re
import threading
import time
from types import SimpleNamespace

import gevent
import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import SQLAlchemyError

from xtablo.blueprints.chat import stream as chat_stream
from xtablo.blueprints.chat.stream import ChatChanges
from xtablo.extensions import db as _db
from xtablo.models import Role, Session, TabloMember, TabloMessage
from xtablo.models.message import MessageChange
from xtablo.models.session import EndReason
from xtablo.realtime import sse
from xtablo.realtime.feed import ChangeCursor, DatabaseFeed
from xtablo.realtime.hub import BEAT, CLOSE, Hub, Publication, Subscriber


def parse(body: str) -> list[dict]:
    """The events of a stream's text: {"id", "event", "data"} each (comments and retry left out)."""
    events = []
    for block in body.split("\n\n"):
        fields: dict = {}
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(": ")
            if name == "data":
                fields["data"] = fields["data"] + "\n" + value if "data" in fields else value
            else:
                fields[name] = value
        if "id" in fields:
            events.append(fields)
    return events


def message_ids(event: dict) -> str:
    return re.search(r'<li class="message[^"]*" id="(message-\d+)"', event["data"]).group(1)


class Stream:
    """An open stream over the test client: its response and the first chunk it sent."""

    def __init__(self, client, url: str, **headers):
        self.response = client.get(url, headers=headers, buffered=False)
        self.chunks = self.response.iter_encoded() if self.response.status_code == 200 else iter(())
        self.first = next(self.chunks, b"").decode()

    @property
    def events(self) -> list[dict]:
        return parse(self.first)

    def rest(self) -> str:
        """Everything after the first chunk, until the stream ends (it must end)."""
        return b"".join(self.chunks).decode()

    def close(self):
        self.response.close()


@pytest.fixture
def chat(db, login_as, make_user, make_tablo):
    """An owner signed in on a tablo with a viewer, and two messages already written."""
    owner = login_as(make_user(name="Olga"))
    viewer = make_user(name="Victor")
    tablo = make_tablo(owner=owner, title="Chantier")
    TabloMember.add(tablo, viewer, Role.VIEWER, added_by=owner)
    first, _ = TabloMessage.create(tablo, author=owner, body="First", client_key="k1")
    second, _ = TabloMessage.create(tablo, author=viewer, body="Second", client_key="k2")
    db.session.commit()
    return SimpleNamespace(owner=owner, viewer=viewer, tablo=tablo, first=first, second=second,
                           url=f"/tablos/{tablo.id}/messages/stream")


def session_of(db, user) -> int:
    """The id of the user's latest session: the feed checks a stream's access before it sends."""
    db.session.rollback()
    return db.session.scalar(db.select(Session.id).where(Session.user_id == user.id).order_by(Session.id.desc()))


@pytest.fixture
def realtime(app):
    return app.extensions["xtablo_realtime"]


def latest_change(db) -> int:
    db.session.rollback()
    return db.session.scalar(db.select(db.func.max(MessageChange.id)))


def test_a_stream_is_an_event_stream_that_proxies_do_not_buffer(client, chat):
    stream = Stream(client, chat.url)
    try:
        assert stream.response.status_code == 200
        assert stream.response.mimetype == "text/event-stream"
        assert stream.response.headers["Cache-Control"] == "no-cache"
        assert stream.response.headers["X-Accel-Buffering"] == "no"
        assert stream.first == "retry: 2000\n\n"  # no Last-Event-ID: nothing to replay
    finally:
        stream.close()


def test_reconnecting_replays_every_change_missed_once_in_order(client, db, chat):
    seen = latest_change(db)
    # While the reader is away: a message created, one edited, one deleted, one created and deleted.
    third, _ = TabloMessage.create(chat.tablo, author=chat.viewer, body="Third\non two lines", client_key="k3")
    db.session.commit()
    chat.first.edit("First, edited")
    db.session.commit()
    chat.second.delete()
    db.session.commit()
    fourth, _ = TabloMessage.create(chat.tablo, author=chat.owner, body="Oops", client_key="k4")
    db.session.commit()
    fourth.delete()
    db.session.commit()

    stream = Stream(client, chat.url, **{"Last-Event-ID": str(seen)})
    try:
        events = stream.events
    finally:
        stream.close()
    assert [(e["event"], message_ids(e)) for e in events] == [
        ("message-created", f"message-{third.id}"),
        ("message-changed", f"message-{chat.first.id}"),
        ("message-changed", f"message-{chat.second.id}"),
        ("message-created", f"message-{fourth.id}"),
        ("message-changed", f"message-{fourth.id}"),
    ]
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] > seen
    by_id = {message_ids(e): e["data"] for e in events}
    # Each shows the message as it is now; its two lines came as two data: lines, joined again.
    assert "Third\non two lines</p>" in by_id[f"message-{third.id}"]
    assert "First, edited</p>" in by_id[f"message-{chat.first.id}"]
    assert "Message deleted" in by_id[f"message-{chat.second.id}"] and "Second" not in by_id[f"message-{chat.second.id}"]
    assert "data: on two lines</p>\n" in stream.first

    # The page's own address says where to start too; the header wins when both are there.
    again = Stream(client, f"{chat.url}?last_event_id={ids[2]}", **{"Last-Event-ID": str(ids[3])})
    try:
        assert [int(e["id"]) for e in again.events] == ids[4:]
    finally:
        again.close()
    from_page = Stream(client, f"{chat.url}?last_event_id={ids[2]}")
    try:
        assert [int(e["id"]) for e in from_page.events] == ids[3:]
    finally:
        from_page.close()


def test_a_streamed_message_is_the_same_for_every_reader_controls_hidden(client, chat):
    stream = Stream(client, f"{chat.url}?last_event_id=0")
    try:
        events = stream.events
    finally:
        stream.close()
    assert len(events) == 2
    for event in events:
        # app.js reveals Edit and Delete to whoever may use them; none are shown to all.
        assert re.search(r"<a [^>]*data-mine hidden>", event["data"])
        assert re.search(r"data-mine-or-owner hidden>", event["data"])
        assert 'name="csrf_token" value=""' in event["data"]  # htmx sends the token in a header


@pytest.mark.parametrize("raw", ["abc", "-1", "1.5", "99999999999", "１２", "", "0x10"])
def test_a_malformed_last_event_id_replays_nothing_and_is_no_error(client, chat, raw):
    stream = Stream(client, chat.url, **{"Last-Event-ID": raw})
    try:
        assert stream.response.status_code == 200
        assert stream.first == "retry: 2000\n\n"
    finally:
        stream.close()
    by_query = Stream(client, f"{chat.url}?last_event_id={raw}")
    try:
        assert by_query.response.status_code == 200 and by_query.first == "retry: 2000\n\n"
    finally:
        by_query.close()


def test_a_long_absence_is_replayed_a_page_at_a_time(client, db, chat, monkeypatch):
    monkeypatch.setattr(chat_stream, "REPLAY_PAGE", 1)
    stream = Stream(client, f"{chat.url}?last_event_id=0")
    # One change, then the stream ends: the browser comes back at once with its Last-Event-ID.
    assert [message_ids(e) for e in stream.events] == [f"message-{chat.first.id}"]
    assert stream.rest() == ""
    nxt = Stream(client, chat.url, **{"Last-Event-ID": stream.events[0]["id"]})
    try:
        assert [message_ids(e) for e in nxt.events] == [f"message-{chat.second.id}"]
    finally:
        nxt.close()


def test_who_may_open_a_stream(client, db, chat, auth, login_as, make_user):
    stranger = make_user(name="Sam")
    client.post("/logout")
    response = client.get(chat.url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    login_as(stranger)
    assert client.get(chat.url).status_code == 404  # the tablo's existence is not revealed
    client.post("/logout")
    login_as(chat.viewer)
    stream = Stream(client, f"{chat.url}?last_event_id=0")
    try:
        assert stream.response.status_code == 200 and len(stream.events) == 2
    finally:
        stream.close()


def test_a_deleted_tablo_has_no_stream(client, db, chat):
    chat.tablo.delete()
    db.session.commit()
    assert client.get(chat.url).status_code == 404


def test_an_open_stream_holds_no_database_connection_nor_transaction(app, client, chat, realtime):
    stream = Stream(client, f"{chat.url}?last_event_id=0")
    try:
        assert len(stream.events) == 2
        subscribers = realtime.hub.subscribers()
        assert [s.tablo_id for s in subscribers] == [chat.tablo.id]  # still open, waiting for news
        _db.session.rollback()  # the test's own reads (chat.tablo.id) end their transaction
        with app.app_context():
            pool = _db.engine.pool
            assert pool.checkedout() == 0
            if _db.engine.dialect.name == "postgresql":
                with _db.engine.connect() as connection:
                    idle = connection.scalar(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"))
                assert idle == 0
    finally:
        stream.close()
    assert realtime.hub.subscribers() == []  # the client left: the hub forgot it


def test_a_removed_members_stream_closes(app, client, db, chat, realtime):
    client.post("/logout")
    client.post("/login", data={"email": chat.viewer.email, "password": "correct horse battery"})
    stream = Stream(client, chat.url)
    try:
        assert realtime.feed.check_access() == 0  # still a member: nothing closes
        db.session.rollback()
        member = db.session.scalar(db.select(TabloMember).where(TabloMember.user_id == chat.viewer.id))
        member.remove(removed_by=chat.owner)
        db.session.commit()
        assert realtime.feed.check_access() == 1
        assert stream.rest() == ""  # the stream ended (it would wait for news otherwise)
    finally:
        stream.close()


def test_a_revoked_sessions_streams_close(app, client, db, chat, realtime):
    stream = Stream(client, chat.url)
    try:
        db.session.rollback()
        session = db.session.scalar(db.select(Session).where(Session.user_id == chat.owner.id))
        session.revoke(EndReason.REVOKED)
        db.session.commit()
        assert realtime.feed.check_access() == 1
        assert stream.rest() == ""
    finally:
        stream.close()


# -- The feed: what other workers' changes become in this worker's hub -------------------------


def test_the_feed_publishes_each_new_change_once_rendered_once_for_all_readers(app, db, chat, monkeypatch):
    renders = []
    render = chat_stream.render_message
    monkeypatch.setattr(chat_stream, "render_message", lambda *args: renders.append(args[0].id) or render(*args))
    hub = Hub()
    feed = DatabaseFeed(app, hub, ChatChanges(), app.extensions["xtablo_realtime"].broker)
    with app.app_context():
        feed.cursor = ChangeCursor(ChatChanges().latest_id())
    # Five streams of the owner's (one session: the feed checks a stream's access before it sends).
    session_id = session_of(db, chat.owner)
    readers = [hub.subscribe(chat.tablo.id, user_id=chat.owner.id, session_id=session_id, variant=("en", "UTC")) for n in range(5)]
    elsewhere = hub.subscribe(chat.tablo.id + 1000, user_id=chat.owner.id, session_id=session_id, variant=("en", "UTC"))

    third, _ = TabloMessage.create(chat.tablo, author=chat.viewer, body="Live", client_key="k3")
    db.session.commit()
    assert feed.poll() == 1
    assert feed.poll() == 0  # nothing new: nothing again
    assert renders == [third.id]  # once, for five readers
    for reader in readers:
        event_id, wire = reader.next(wait=False)
        (event,) = parse(wire.decode())
        assert event["event"] == "message-created" and message_ids(event) == f"message-{third.id}"
        assert int(event["id"]) == event_id
    assert elsewhere.next(wait=False) is None  # another tablo's stream heard nothing

    # A reader in another language and zone gets its own rendering: one more, not one per reader.
    french = hub.subscribe(chat.tablo.id, user_id=chat.owner.id, session_id=session_id, variant=("fr", "Europe/Paris"))
    third.edit("En direct")
    db.session.commit()
    assert feed.poll() == 1
    assert renders == [third.id, third.id, third.id]
    assert "Modifier" in french.next(wait=False)[1].decode()


def test_a_poll_cut_off_by_the_database_halfway_loses_nothing(app, db, chat):
    """The database goes away between reading the log and reading the messages: the poll fails,
    sends nothing, and the next one sends the change (it was read, not yet delivered)."""
    hub = Hub()
    feed = DatabaseFeed(app, hub, ChatChanges(), app.extensions["xtablo_realtime"].broker)
    with app.app_context():
        feed.cursor = ChangeCursor(ChatChanges().latest_id())
    reader = hub.subscribe(chat.tablo.id, user_id=chat.owner.id, session_id=session_of(db, chat.owner), variant=("en", "UTC"))
    message, _ = TabloMessage.create(chat.tablo, author=chat.viewer, body="Through the outage", client_key="k3")
    db.session.commit()
    cut = []

    def close_the_connection(connection, cursor, statement, *args):
        if "FROM tablo_messages " in statement and not cut:
            cut.append(statement)
            connection.connection.dbapi_connection.close()  # what a dropped connection leaves

    with app.app_context():
        engine = _db.engine
    event.listen(engine, "before_cursor_execute", close_the_connection)
    try:
        with pytest.raises(SQLAlchemyError):
            feed.poll()
    finally:
        event.remove(engine, "before_cursor_execute", close_the_connection)
    assert cut, "no read of the messages"
    assert reader.next(wait=False) is None
    assert feed.poll() == 1
    event_id, wire = reader.next(wait=False)
    assert f'id="message-{message.id}"' in wire.decode() and "Through the outage" in wire.decode()
    assert feed.poll() == 0 and reader.next(wait=False) is None  # once


# -- The hub --------------------------------------------------------------------------------------


def counting_publication(tablo_id: int, event_id: int, calls: list) -> Publication:
    return Publication(tablo_id, event_id, "message-created", lambda variant: calls.append(variant) or f"<li>{event_id}</li>")


def test_a_slow_subscriber_is_dropped_without_slowing_the_others():
    hub = Hub(queue_size=3)
    slow = hub.subscribe(1, user_id=1, session_id=1, variant="en")
    fast = hub.subscribe(1, user_id=2, session_id=2, variant="en")
    calls = []
    for event_id in range(1, 5):
        hub.publish(counting_publication(1, event_id, calls))
        assert fast.next(wait=False)[0] == event_id  # the fast one reads as it comes
    # The slow one never read: its queue (3) overflowed at the fourth; it is closed and gone,
    # its queue emptied (it resumes from the database) but for the close.
    assert slow.closed_because == "slow"
    assert slow.next(wait=False) is CLOSE
    assert hub.subscribers() == [fast]
    assert calls == ["en"] * 4  # one rendering per publication, whatever the number of readers


def test_one_rendering_per_variant_whatever_the_number_of_subscribers():
    hub = Hub()
    for n in range(200):
        hub.subscribe(1, user_id=n, session_id=n, variant=("en", "UTC") if n % 2 else ("fr", "Europe/Paris"))
    calls = []
    assert hub.publish(counting_publication(1, 7, calls)) == 200
    assert sorted(calls) == [("en", "UTC"), ("fr", "Europe/Paris")]


def test_a_change_that_cannot_be_rendered_costs_only_the_streams_it_could_not_reach(caplog):
    """A rendering that fails (a bug in the French fragment, say) is logged once; the French
    streams are closed, to resume from the database, where the change is; the English ones get
    it; and the next changes reach everyone still open."""
    hub = Hub()
    english = [hub.subscribe(1, user_id=n, session_id=n, variant="en") for n in (1, 2)]
    french = [hub.subscribe(1, user_id=n, session_id=n, variant="fr") for n in (3, 4)]

    def render(variant):
        if variant == "fr":
            raise KeyError("a template's missing key")
        return "<li>7</li>"

    with caplog.at_level("ERROR", logger="xtablo.realtime.hub"):
        assert hub.publish(Publication(1, 7, "message-created", render)) == 2
    assert [record.getMessage() for record in caplog.records] == ["realtime: change 7 of tablo 1 could not be rendered"]
    assert all(subscriber.next(wait=False)[0] == 7 for subscriber in english)
    assert all(subscriber.closed_because == "error" and subscriber.next(wait=False) is CLOSE for subscriber in french)
    assert hub.publish(counting_publication(1, 8, [])) == 2
    assert all(subscriber.next(wait=False)[0] == 8 for subscriber in english)


def test_closing_every_stream_at_shutdown():
    hub = Hub()
    subscribers = [hub.subscribe(t, user_id=1, session_id=1, variant="en") for t in (1, 1, 2)]
    hub.close_all()
    assert all(s.next(wait=False) is CLOSE for s in subscribers)
    assert hub.subscribers() == [] and hub.tablo_ids() == set()


def test_a_quiet_stream_gets_a_heartbeat_and_a_busy_one_does_not():
    """Each stream hears something every `heartbeat` seconds at least (proxies close silent
    connections): the hub's beat queues BEAT to those that got nothing for that long."""
    hub = Hub()
    quiet = hub.subscribe(1, user_id=1, session_id=1, variant="en", heartbeat=15)
    busy = hub.subscribe(2, user_id=2, session_id=2, variant="en", heartbeat=15)
    hub.beat(10)
    hub.publish(counting_publication(2, 1, []))
    hub.beat(5)
    assert quiet.next(wait=False) is BEAT and quiet.next(wait=False) is None
    assert busy.next(wait=False)[0] == 1 and busy.next(wait=False) is None  # 5 s since its event
    hub.beat(10)
    assert busy.next(wait=False) is BEAT


def test_waiting_streams_leave_nothing_for_the_garbage_collector():
    """A thousand streams waiting in their greenlets, fed twenty events each: their waits and
    wake-ups leave nothing in the collector's young generation. gevent's Queue.get(timeout=...)
    left seven objects per stream there at every event (a Waiter, a Timeout, its timer...),
    which the collector walked and promoted until a full collection of the worker's heap
    stalled a fanout for 150 ms and more at 5,000 streams (bench/RESULTS.md)."""
    hub, received = Hub(), []

    def stream(subscriber):
        while (item := subscriber.next()) is not CLOSE:
            received.append(item[0])

    subscribers = [hub.subscribe(1, user_id=n, session_id=n, variant="en") for n in range(1000)]
    greenlets = [gevent.spawn(stream, subscriber) for subscriber in subscribers]
    gevent.sleep(0)  # every stream parked in next()
    gc.collect()
    for event_id in range(1, 21):
        hub.publish(counting_publication(1, event_id, []))
        deadline = time.monotonic() + 10
        while len(received) < event_id * 1000 and time.monotonic() < deadline:
            gevent.sleep(0.001)  # a long fanout is woken over several turns of the loop
    young = len(gc.get_objects(generation=0))
    assert len(received) == 20 * 1000
    assert young < 1000, young
    hub.close_all()
    gevent.joinall(greenlets, timeout=5)
    assert all(greenlet.dead for greenlet in greenlets)


def test_a_stream_served_by_another_thread_is_woken_too():
    """Under `flask run` each stream is a thread of its own, with its own gevent hub, while the
    feed publishes from another: the stream wakes up all the same."""
    hub = Hub()
    subscriber = hub.subscribe(1, user_id=1, session_id=1, variant="en")
    got, parked = [], threading.Event()

    def serve():
        parked.set()
        got.append(subscriber.next())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert parked.wait(5)
    deadline = time.monotonic() + 5
    while subscriber.parked is None and time.monotonic() < deadline:  # waiting in its own hub
        time.sleep(0.01)
    hub.publish(counting_publication(1, 9, []))
    thread.join(5)
    assert got and got[0][0] == 9


def test_a_subscriber_queue_is_bounded():
    subscriber = Subscriber(1, 1, 1, "en", queue_size=2)
    assert subscriber.offer((1, b"a")) and subscriber.offer((2, b"b"))
    assert not subscriber.offer((3, b"c"))
    assert list(subscriber.items) == [CLOSE]  # only the close is left


def test_multi_line_data_is_one_data_line_per_line():
    assert sse.event(5, "message-created", "<li>\n  a\r\nb\n</li>") == (
        "id: 5\nevent: message-created\ndata: <li>\ndata:   a\ndata: b\ndata: </li>\n\n")


def test_the_cursor_waits_for_ids_committed_out_of_order():
    cursor = ChangeCursor(10)
    assert cursor.advance([11, 13], now=0.0) == [11, 13]
    assert set(cursor.missing) == {12}  # PostgreSQL: 12 may still commit
    assert cursor.advance([12, 13], now=1.0) == [12]  # 13 again is not new
    assert cursor.missing == {}
    cursor.advance([15], now=2.0)
    cursor.advance([], now=100.0)  # 14 never came (rolled back): no longer waited for
    assert cursor.missing == {}
