"""The brokers (xtablo/realtime/brokers.py), each against the real service, in this process:
which one the configuration picks, what it carries (a tablo's id, never a message), and when the
app announces (after the commit, once, never for what was rolled back). Their work across the
workers of a real gunicorn, and their outages, are in tests/browser/test_chat_brokers.py."""

import logging
import threading
import uuid

import pytest
import redis
from sqlalchemy import create_engine

from tests.conftest import PG_ADMIN_URL, REDIS_BASE_URL, TestingConfig
from xtablo import create_app
from xtablo.models import TabloMessage
from xtablo.models.message import changes_committed
from xtablo.realtime import brokers
from xtablo.realtime.brokers import DatabaseBroker, PostgresBroker, RedisBroker

PG_URL = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://")
SQLITE_URL = "sqlite:////tmp/xtablo-never-opened.sqlite"


class Heard(Exception):
    """Ends a listener once it rang (a listener only ends on an error)."""


def listen_in_a_thread(broker) -> tuple[threading.Thread, list, threading.Event]:
    """Run `broker.listen` as a worker's feed would; what it rang, and when it was ready."""
    rung, ready = [], threading.Event()

    def ring(tablo_id):
        rung.append(tablo_id)
        raise Heard

    def run():
        try:
            broker.listen(ring, ready.set)
        except Heard:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the listener never got ready"
    return thread, rung, ready


def channel() -> str:
    return f"xtablo_test_{uuid.uuid4().hex[:12]}"


# -- Which broker ----------------------------------------------------------------------------------


def broker_for(**env) -> brokers.Broker:
    app = create_app(TestingConfig({"SECRET_KEY": "x" * 40, "DATABASE_URL": SQLITE_URL} | env))
    return app.extensions["xtablo_realtime"].broker


def test_the_broker_follows_the_configuration():
    assert isinstance(broker_for(), DatabaseBroker)  # SQLite alone: the change log
    assert isinstance(broker_for(DATABASE_URL=PG_URL), PostgresBroker)
    assert isinstance(broker_for(REDIS_URL=f"{REDIS_BASE_URL}/0"), RedisBroker)
    assert isinstance(broker_for(DATABASE_URL=PG_URL, REDIS_URL=f"{REDIS_BASE_URL}/0"), RedisBroker)
    assert isinstance(broker_for(DATABASE_URL=PG_URL, REDIS_URL=f"{REDIS_BASE_URL}/0", REALTIME_BROKER="postgresql"),
                      PostgresBroker)
    assert isinstance(broker_for(DATABASE_URL=PG_URL, REALTIME_BROKER="Database"), DatabaseBroker)
    assert broker_for(REALTIME_POLL_INTERVAL="0.5").interval == 0.5
    assert broker_for().interval == brokers.SAFETY_INTERVAL
    assert broker_for(DATABASE_URL=PG_URL, REALTIME_BROKER="database").interval == brokers.POSTGRES_POLL_INTERVAL


@pytest.mark.parametrize(("env", "message"), [
    ({"REALTIME_BROKER": "kafka"}, "REALTIME_BROKER must be one of database, postgresql, redis (or empty), not 'kafka'"),
    ({"REALTIME_BROKER": "postgresql"}, "REALTIME_BROKER=postgresql needs a PostgreSQL DATABASE_URL"),
    ({"REALTIME_BROKER": "redis"}, "REALTIME_BROKER=redis needs REDIS_URL"),
])
def test_a_broker_that_cannot_work_stops_the_app_from_starting_and_says_why(env, message):
    with pytest.raises(ValueError) as error:
        broker_for(**env)
    assert str(error.value) == message


# -- Each broker carries a tablo's id, through the real service --------------------------------------


def test_redis_carries_the_tablo_id_and_nothing_else():
    broker = RedisBroker(f"{REDIS_BASE_URL}/0", channel(), timeout=0.5)
    spy = redis.Redis.from_url(f"{REDIS_BASE_URL}/0").pubsub(ignore_subscribe_messages=True)
    spy.subscribe(broker.channel)
    spy.get_message(timeout=1)
    thread, rung, _ = listen_in_a_thread(broker)
    broker.announce({42})
    thread.join(5)
    assert rung == [42]
    assert spy.get_message(timeout=1)["data"] == b"42"
    spy.close()


def test_postgresql_carries_the_tablo_id_and_nothing_else():
    engine = create_engine(PG_URL)
    broker = PostgresBroker(engine, channel(), connect_timeout=5)
    thread, rung, _ = listen_in_a_thread(broker)
    broker.announce({7})
    thread.join(5)
    assert rung == [7]
    engine.dispose()


def test_a_ring_that_is_not_an_id_reads_everything():
    broker = RedisBroker(f"{REDIS_BASE_URL}/0", channel(), timeout=0.5)
    thread, rung, _ = listen_in_a_thread(broker)
    redis.Redis.from_url(f"{REDIS_BASE_URL}/0").publish(broker.channel, "<b>not an id</b>")
    thread.join(5)
    assert rung == [None]  # the feed then polls for every tablo: nothing is trusted from the wire


def test_the_sqlite_doorbell_rings_when_the_change_log_grows(app, db, make_user, make_tablo):
    if db.engine.dialect.name != "sqlite":
        broker = DatabaseBroker(db.engine, "tablo_message_changes")
        assert not broker.listens  # on PostgreSQL it polls instead
        return
    broker = app.extensions["xtablo_realtime"].broker
    assert isinstance(broker, DatabaseBroker) and broker.listens
    owner = make_user()
    tablo = make_tablo(owner=owner)
    thread, rung, _ = listen_in_a_thread(broker)
    TabloMessage.create(tablo, author=owner, body="Ding", client_key="ding")
    db.session.commit()
    thread.join(5)
    assert rung == [None]


def test_a_broker_that_is_down_delays_nothing_and_says_so_once(caplog):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    broker = RedisBroker(closed, channel(), timeout=0.5)
    with caplog.at_level(logging.WARNING, logger="xtablo.realtime.brokers"):
        broker.announce({1})  # refused: logged, not raised
        broker.announce({1})  # within RETRY_AFTER: not even tried
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == ["realtime: redis could not announce a change"]
    broker.back()  # its listener reconnected: it tries again at once
    with caplog.at_level(logging.WARNING, logger="xtablo.realtime.brokers"):
        broker.announce({1})
    assert len(caplog.records) == 2


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- When the app announces -------------------------------------------------------------------------


@pytest.fixture
def announced(db, _side_app):
    """What the test's own app announces: for each announcement, the tablo ids and how many
    messages a connection of its own could read at that moment (was the commit over?)."""
    calls = []

    def receiver(sender, tablo_ids):
        with db.engine.connect() as connection:
            readable = connection.scalar(db.select(db.func.count()).select_from(TabloMessage.__table__))
        calls.append((sorted(tablo_ids), readable))

    changes_committed.connect(receiver, sender=_side_app)
    yield calls
    changes_committed.disconnect(receiver, sender=_side_app)


def test_a_commit_announces_each_changed_tablo_once_after_the_commit(db, make_user, make_tablo, announced):
    owner = make_user()
    one, two = make_tablo(owner=owner), make_tablo(owner=owner)
    TabloMessage.create(one, author=owner, body="A", client_key="a")
    TabloMessage.create(one, author=owner, body="B", client_key="b")
    db.session.flush()
    TabloMessage.create(two, author=owner, body="C", client_key="c")
    assert announced == []  # flushed, savepoints released: not committed yet
    db.session.commit()
    assert announced == [(sorted([one.id, two.id]), 3)]  # once, when others could read all three


def test_nothing_is_announced_for_a_rolled_back_change_or_a_resent_message(db, make_user, make_tablo, announced):
    owner = make_user()
    tablo = make_tablo(owner=owner)
    TabloMessage.create(tablo, author=owner, body="Never sent", client_key="lost")
    db.session.flush()
    db.session.rollback()
    db.session.commit()
    assert announced == []
    message, created = TabloMessage.create(tablo, author=owner, body="Sent", client_key="kept")
    db.session.commit()
    assert created and announced == [([tablo.id], 1)]
    again, created = TabloMessage.create(tablo, author=owner, body="Sent", client_key="kept")
    db.session.commit()
    assert not created and again.id == message.id
    assert announced == [([tablo.id], 1)]  # the resend changed nothing: no ring
