"""Attacks on the hub's parking of streams (xtablo/realtime/hub.py: Subscriber.next, Wakeups,
Hub._beat), as a gevent worker runs them: each stream a greenlet of the worker's one thread,
parked on the event loop until one callback (Wakeups.run) switches back into it.

What is checked: a wake-up is never lost nor delivered to a greenlet that waits on something
else, whatever interrupts the wait (a kill, a gevent.Timeout, a close) and in whatever order
with the scheduled wake; the beat greenlet keeps parked streams alive and comes back after the
hub emptied; a finished stream leaves nothing referenced. Pure gevent, no server.
"""

import gc
import random
import time
import weakref

import gevent
import pytest
from gevent import socket
from gevent.event import Event

from xtablo.realtime.hub import BEAT, CLOSE, Hub, Publication


class Interrupted(Exception):
    """Thrown into a parked stream by the test, as a gevent.Timeout or a kill would be."""


def publication(tablo_id: int, event_id: int) -> Publication:
    return Publication(tablo_id, event_id, "message-created", lambda variant: f"<li>{event_id}</li>")


@pytest.fixture
def loop_errors(monkeypatch):
    """What the event loop reports (an exception in a callback or in a greenlet, printed to
    stderr by gevent and otherwise lost): a wake-up switching into the wrong greenlet shows here."""
    errors = []
    hub = gevent.get_hub()
    monkeypatch.setattr(hub, "handle_error", lambda context, kind, value, tb: errors.append((context, kind, value)))
    return errors


def subscribe(hub: Hub, n: int, tablo_id: int = 1, **kwargs):
    return hub.subscribe(tablo_id, user_id=n, session_id=n, variant="en", **kwargs)


def reader(subscriber, received: list):
    """A stream: what it reads, until the close."""
    while (item := subscriber.next()) is not CLOSE:
        received.append(item if item is BEAT else item[0])
    received.append(CLOSE)


def until_parked(*subscribers):
    """Let the spawned streams run up to their wait (one turn of the loop is enough)."""
    gevent.sleep(0)
    assert all(subscriber.parked is not None for subscriber in subscribers)


def test_a_stream_killed_before_its_pending_wake_runs_is_skipped_and_the_others_are_woken(loop_errors):
    """A client leaves (its greenlet is killed) in the same turn of the loop as a publish: the
    killed stream's wake finds nothing to switch into, and the streams after it in the same
    batch still get the event."""
    hub = Hub()
    subscribers = [subscribe(hub, n) for n in range(3)]
    received = [[] for _ in subscribers]
    greenlets = [gevent.spawn(reader, s, r) for s, r in zip(subscribers, received, strict=True)]
    until_parked(*subscribers)

    greenlets[1].kill(block=False)  # its GreenletExit is thrown before Wakeups.run...
    hub.publish(publication(1, 7))  # ...which was scheduled after it, with all three parked
    assert sorted(s.user_id for s in hub.wakeups.ready) == [0, 1, 2]
    gevent.sleep(0)

    assert greenlets[1].dead and subscribers[1].parked is None and not subscribers[1].waking
    assert received[0] == [7] and received[2] == [7] and received[1] == []
    hub.publish(publication(1, 8))  # the dead one's queue takes it; nothing is switched into it
    gevent.sleep(0)
    assert received[0] == [7, 8] and received[2] == [7, 8]
    assert hub.wakeups.ready == [] and not hub.wakeups.scheduled
    hub.close_all()
    gevent.joinall(greenlets, timeout=5)
    assert all(g.dead for g in greenlets) and loop_errors == []


def test_a_stale_wake_never_switches_into_a_greenlet_waiting_on_something_else(loop_errors):
    """A stream's wait is interrupted (gevent.Timeout, an exception thrown in) after a publish
    scheduled its wake, and the greenlet goes on to wait on something else (a socket, the
    database: here an Event). The stale wake must not switch into that other wait (gevent would
    raise InvalidSwitchError there, or return from it early), and the event is still read after."""
    hub = Hub()
    subscriber = subscribe(hub, 1)
    other, steps = Event(), []

    def stream():
        try:
            subscriber.next()
        except Interrupted:
            steps.append("interrupted")
        other.wait()  # a write, a query: anything that parks the greenlet on the loop
        steps.append("other wait over")
        steps.append(subscriber.next()[0])

    greenlet = gevent.spawn(stream)
    until_parked(subscriber)
    greenlet.kill(Interrupted, block=False)  # thrown first...
    hub.publish(publication(1, 5))  # ...then the scheduled wake, for a greenlet no longer parked here
    gevent.sleep(0)
    gevent.sleep(0)
    assert steps == ["interrupted"]  # still waiting on the Event: the wake went nowhere
    other.set()
    greenlet.join(timeout=5)
    assert steps == ["interrupted", "other wait over", 5]
    assert loop_errors == [] and greenlet.successful()


def test_a_close_between_a_publish_and_its_wake_delivers_the_close_alone():
    """Closed (access lost, too slow, shutdown) after a publish queued an event and before the
    stream woke: the stream reads the close, not the event (what was queued is dropped), and is
    in the batch once."""
    hub = Hub()
    subscriber = subscribe(hub, 1)
    received = []
    greenlet = gevent.spawn(reader, subscriber, received)
    until_parked(subscriber)
    hub.publish(publication(1, 1))
    hub.publish(publication(1, 2))
    hub.close(subscriber, "access")
    assert hub.wakeups.ready == [subscriber]
    greenlet.join(timeout=5)
    assert received == [CLOSE] and greenlet.dead


def test_interrupted_waits_racing_wakes_lose_and_double_nothing(loop_errors):
    """Five hundred streams whose waits are cut short at random by gevent.Timeout (as a caller's
    timeout would), racing two hundred publishes: each stream reads every event once, in order,
    then the close; the loop reports no error (no switch into a wrong wait)."""
    rng = random.Random(1234)
    # Room for every event: on a loaded machine a stream woken late would otherwise be closed
    # as too slow (its queue full), which is the hub's rule, not a lost wake.
    hub = Hub(queue_size=256)
    subscribers = [subscribe(hub, n) for n in range(500)]
    received = [[] for _ in subscribers]

    def impatient(subscriber, got):
        while True:
            item = None
            with gevent.Timeout(rng.choice((0, 0.0005, 0.001, 0.003)), False):
                item = subscriber.next()
            if item is CLOSE:
                return
            if item is not None and item is not BEAT:
                got.append(item[0])

    greenlets = [gevent.spawn(impatient, s, r) for s, r in zip(subscribers, received, strict=True)]
    gevent.sleep(0)
    for event_id in range(1, 201):
        hub.publish(publication(1, event_id))
        gevent.sleep(rng.choice((0, 0, 0.0005, 0.001)))
    # Closing empties a stream's queue (its browser resumes by Last-Event-ID): close once every
    # stream has read what was queued, or after 10 s, when a lost wake shows as a short list.
    deadline = time.monotonic() + 10
    while any(len(got) < 200 for got in received) and time.monotonic() < deadline:
        gevent.sleep(0.01)
    hub.close_all()
    gevent.joinall(greenlets, timeout=30)
    assert all(g.dead for g in greenlets)
    bad = [(s.closed_because, len(got), got[:3], got[-3:]) for s, got in zip(subscribers, received) if got != list(range(1, 201))]
    assert not bad, bad[:5]
    assert loop_errors == []


def test_a_parked_stream_is_sent_heartbeats_and_the_beat_comes_back_after_the_hub_emptied():
    """The beat greenlet is all that wakes a quiet stream (proxies close silent connections, and
    a departed client is only found by a write). It stops once the hub is empty, and the next
    stream starts it again."""
    hub = Hub()
    first = subscribe(hub, 1, heartbeat=0.1)
    received = []
    greenlet = gevent.spawn(reader, first, received)
    greenlet.join(timeout=0.5)  # no publish at all: only heartbeats wake it
    assert received.count(BEAT) >= 2, received
    hub.close(first, "access")
    greenlet.join(timeout=5)
    hub._beating.join(timeout=5)
    assert hub._beating.dead  # nothing left to beat for

    second = subscribe(hub, 2, heartbeat=0.1)
    received = []
    greenlet = gevent.spawn(reader, second, received)
    greenlet.join(timeout=0.5)
    assert received.count(BEAT) >= 2, received
    hub.close_all()
    greenlet.join(timeout=5)


def test_a_heartbeat_never_reaches_a_closed_stream_nor_reopens_it():
    """Closed streams leave the hub: a later beat neither queues BEAT behind their CLOSE nor
    counts them (their greenlet reads CLOSE last and ends)."""
    hub = Hub()
    closed, open_ = subscribe(hub, 1, heartbeat=1), subscribe(hub, 2, heartbeat=1)
    hub.close(closed, "access")
    hub.beat(5)
    assert list(closed.items) == [CLOSE]
    assert open_.next(wait=False) is BEAT and hub.subscribers() == [open_]


def test_a_finished_stream_leaves_nothing_referenced():
    """Once a stream has read its close and its greenlet ended, nothing of the hub keeps its
    subscriber (nor, through it, the greenlet or the socket's abort), not even through a
    reference cycle left for the collector."""
    hub = Hub()
    subscriber = subscribe(hub, 1)
    subscriber.abort = lambda: None
    received = []
    greenlet = gevent.spawn(reader, subscriber, received)
    until_parked(subscriber)
    hub.publish(publication(1, 1))
    gevent.sleep(0)  # read, and parked again
    gc.disable()
    try:
        hub.close(subscriber, "access")
        greenlet.join(timeout=5)
        assert received == [1, CLOSE]
        gone, greenlet_gone = weakref.ref(subscriber), weakref.ref(greenlet)
        del subscriber, greenlet
        gevent.sleep(0)  # gevent's own notice of the greenlet's end (its links) runs
        assert gone() is None and greenlet_gone() is None  # freed at once: no cycle
    finally:
        gc.enable()
    assert hub.wakeups.ready == [] and hub.subscribers() == []


def test_a_killed_parked_stream_leaves_nothing_referenced():
    """A client that leaves while its stream is parked (the worker kills the greenlet, or the
    socket fails): the stream's own cleanup (Realtime.stream's finally) unsubscribes it, and
    nothing keeps it, even with its wake pending at the kill."""
    hub = Hub()
    subscriber = subscribe(hub, 1)

    def stream(s):
        try:
            while s.next() is not CLOSE:
                pass
        finally:
            hub.unsubscribe(s)

    greenlet = gevent.spawn(stream, subscriber)
    until_parked(subscriber)
    gc.disable()
    try:
        greenlet.kill(block=False)
        hub.publish(publication(1, 1))  # its wake is pending at the kill
        greenlet.join(timeout=5)
        gevent.sleep(0)
        gone = weakref.ref(subscriber)
        del subscriber, greenlet
        assert gone() is None
    finally:
        gc.enable()
    assert hub.wakeups.ready == [] and hub.subscribers() == []


def test_a_big_fanout_lets_the_loop_serve_other_connections_meanwhile():
    """A publish to thousands of streams is thousands of socket writes: the worker's other
    connections (a request, a database reply, another tablo's stream) must get a turn while
    they go on, as gevent gives them one every switch interval (5 ms) between its callbacks.
    Here 2,000 streams each spend 30 µs of CPU when woken (about a chunked write), 60 ms in all,
    while a request's bytes wait on another socket since before the fanout began: they are read
    before the last stream has written, not after the whole fanout.

    Fails on the current hub: one Wakeups.run callback switches into every woken stream in
    turn and never gives the loop back, so no I/O is looked at for the whole fanout (84 ms
    here; 0 turns of the loop, against 17 with the per-stream callbacks of gevent's Queue)."""
    hub = Hub()
    subscribers = [subscribe(hub, n) for n in range(2000)]
    woken = [0]

    def stream(subscriber):
        while subscriber.next() is not CLOSE:
            started = time.perf_counter()
            while time.perf_counter() - started < 0.00003:  # a write's worth of CPU
                pass
            woken[0] += 1

    greenlets = [gevent.spawn(stream, s) for s in subscribers]
    until_parked(*subscribers)
    client, server = socket.socketpair()
    seen_at = []
    request = gevent.spawn(lambda: (server.recv(1), seen_at.append(woken[0])))
    gevent.sleep(0)  # the request's greenlet waits on its socket
    try:
        hub.publish(publication(1, 1))
        client.sendall(b"x")  # the request arrives as the fanout begins
        request.join(timeout=10)
        assert seen_at and seen_at[0] < len(subscribers), (
            f"the request was read only after all {seen_at[0] if seen_at else '?'} streams were woken")
    finally:
        hub.close_all()
        gevent.joinall(greenlets, timeout=10)
        client.close()
        server.close()
