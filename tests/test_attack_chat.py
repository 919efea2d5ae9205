"""An attack on the chat and its real-time half, in process (the test client, both databases).

Each test is what someone trying to break the chat would try, and what they must find. The tests
marked DEFECT fail on the code they were written against (review-attack, 5522150); each says
what a fix must do. The others pass: they pin down what held, where no test did yet. The same
attacks against a real gunicorn are in tests/browser/test_attack_chat_live.py.
"""

import html
import re
import threading
import time
from urllib.parse import urlencode

import pytest
import redis
from sqlalchemy import func, select

from tests.conftest import REDIS_BASE_URL, field_errors
from tests.test_chat import messages_in, send, shown_messages
from tests.test_chat_stream import Stream, chat, latest_change, parse, realtime, session_of  # noqa: F401 (fixtures)
from xtablo.blueprints.chat import stream as chat_stream
from xtablo.blueprints.chat.stream import ChatChanges
from xtablo.models import Etape, Role, Session, Tablo, TabloMember, TabloMessage, Task, User
from xtablo.models.session import EndReason
from xtablo.realtime import brokers
from xtablo.realtime.brokers import RedisBroker
from xtablo.realtime.feed import ChangeCursor
from xtablo.realtime.hub import MAX_PER_SESSION

HTMX = {"HX-Request": "true"}
PASSWORD = "correct horse battery"


def as_viewer(client, chat) -> None:
    client.post("/logout")
    assert client.post("/login", data={"email": chat.viewer.email, "password": PASSWORD}).status_code == 303


def follow_from_now(app, realtime) -> None:  # noqa: F811
    """The worker's feed, following the log from its current end. The app outlives each test, and
    its feed's cursor with it: on PostgreSQL the ids start again at 1 after each test."""
    realtime.feed.start()
    with app.app_context():
        realtime.feed.cursor = ChangeCursor(ChatChanges().latest_id())


# == DEFECTS ========================================================================================


def test_a_head_request_on_the_stream_leaves_nothing_in_the_hub(client, chat, realtime):  # noqa: F811
    """DEFECT (medium: unbounded memory, one request at a time). Flask answers HEAD with the GET
    view, so `HEAD /tablos/<id>/messages/stream` subscribes; then Werkzeug sends no body for a
    HEAD (`Response.get_app_iter` returns `()`), the stream's generator never starts, and its
    `finally: hub.unsubscribe` never runs. Each HEAD leaves a Subscriber and its queue in the hub
    for as long as the session lasts (or until 64 publications find the queue full), each fed
    every publication of the tablo and checked by every access check.
    Fix: answer HEAD before subscribing (headers only), or take the place in the hub inside the
    generator, whose `finally` then always runs once it has."""
    before = set(realtime.hub.subscribers())
    try:
        for _ in range(5):
            assert client.head(chat.url).status_code in (200, 405)
        assert set(realtime.hub.subscribers()) == before
    finally:  # the app (and its hub) outlives the test
        for subscriber in set(realtime.hub.subscribers()) - before:
            realtime.hub.unsubscribe(subscriber)


@pytest.mark.parametrize("how", ["removed", "session revoked", "signed out"])
def test_what_is_written_after_access_ends_never_reaches_the_stream(app, client, db, chat, realtime, monkeypatch, how):  # noqa: F811
    """DEFECT (medium: a confidentiality window of up to 2 s, every time). The feed publishes a
    change as soon as its broker rings (milliseconds after the commit), while it re-checks the
    streams' access only every ACCESS_CHECK_INTERVAL (2 s). An owner who removes a member, or a
    person who signs a stolen browser out, and then writes at once ("now that Victor is gone...")
    has that message delivered to the stream that should have closed. Here: the viewer's stream
    is open; access ends; the owner writes; the feed polls (its ring) and the stream writes what
    its queue holds, as a live worker does before its next access check.
    Fix: before publishing, check the access of the subscribers the batch would reach (one query
    per poll, over those tablos' streams only), or let a removal / sign-out ring the feed to check
    access first."""
    monkeypatch.setattr(realtime, "heartbeat", 0.2)
    as_viewer(client, chat)
    stream = Stream(client, chat.url)
    try:
        follow_from_now(app, realtime)
        db.session.rollback()
        if how == "removed":
            member = db.session.scalar(select(TabloMember).where(TabloMember.user_id == chat.viewer.id))
            member.remove(removed_by=db.session.get(User, chat.owner.id))
        elif how == "session revoked":
            db.session.scalar(select(Session).where(Session.user_id == chat.viewer.id, Session.ended_at.is_(None))).revoke(EndReason.REVOKED)
        db.session.commit()
        if how == "signed out":
            assert client.post("/logout").status_code == 303
        TabloMessage.create(db.session.get(Tablo, chat.tablo.id), author=db.session.get(User, chat.owner.id),
                            body="Now that Victor cannot read us", client_key="after")
        db.session.commit()
        realtime.feed.poll()  # rung by the commit
        sent = next(stream.chunks, b"").decode()  # what the stream's greenlet writes next
        assert "Now that Victor cannot read us" not in sent
    finally:
        stream.close()


def test_a_client_key_with_a_line_break_at_its_end_is_refused(client, db, chat):  # noqa: F811
    """DEFECT (low). The key's pattern is `^[A-Za-z0-9_-]+$` and Python's `$` also matches before
    a final newline: "key\\n" passes and is stored as a key of its own, next to "key". A form
    whose key was damaged in transit must be told so (as "has space" is), not stored.
    Fix: `\\Z` instead of `$` (or `re.fullmatch`)."""
    response = send(client, chat.tablo, "Hello", key="k-1\n")
    assert response.status_code == 422
    assert "This form is damaged: reload the page and send the message again." in html.unescape(response.text)
    assert [m.body for m in messages_in(db, chat.tablo)] == ["First", "Second"]


@pytest.mark.parametrize("body", [
    "\u3164",          # HANGUL FILLER (a letter, Lo): the classic blank message
    "\u115f\u1160",    # HANGUL CHOSEONG / JUNGSEONG FILLER (Lo)
    "\uffa0",          # HALFWIDTH HANGUL FILLER (Lo)
    "\u2800\u2800",    # BRAILLE PATTERN BLANK (So)
    "\ufe0f\ufe0f",    # VARIATION SELECTOR-16 alone (Mn)
    "\u034f",          # COMBINING GRAPHEME JOINER (Mn)
])
def test_a_text_of_invisible_letters_is_refused_too(client, db, chat, body):  # noqa: F811
    """DEFECT (low). `something_visible` refuses texts made only of categories C and Z, but
    Unicode has blank characters in other categories: fillers that are letters (Lo), the blank
    Braille pattern (So), lone variation selectors and the grapheme joiner (Mn). Each is sent as
    a message that shows as nothing, which the validator exists to prevent.
    Fix: also count as invisible the Default_Ignorable_Code_Point set and these blank fillers
    (U+115F, U+1160, U+3164, U+FFA0, U+2800), or require a character with a visible glyph."""
    response = send(client, chat.tablo, body, key="blank")
    assert response.status_code == 422
    assert field_errors(response.text) == {"message-body": "Write something first."}
    assert len(messages_in(db, chat.tablo)) == 2


def test_a_key_sent_again_with_another_text_does_not_lose_that_text(client, db, chat):  # noqa: F811
    """DEFECT (low: a person's words vanish without a word). A send fails on the network, the
    person corrects the text in the box and sends again: same form, same key, another text. The
    server answers as to a resend, with the first text (200), htmx swaps in a blank form, and
    the correction is gone; nothing says so. The IETF's Idempotency-Key draft answers a key
    reused with another payload with 422.
    Fix: compare the body with the stored message's; when they differ, answer 422 with the form
    still holding the new text and a sentence (the first version was sent: edit it, or send this
    one as a new message with a new key)."""
    first = send(client, chat.tablo, "Meeting at 10", key="same-key", headers=HTMX)
    assert first.status_code == 201
    again = send(client, chat.tablo, "Meeting at 11, sorry", key="same-key", headers=HTMX)
    assert again.status_code == 422
    assert re.search(r">\s*Meeting at 11, sorry</textarea>", again.text)
    assert [m.body for m in messages_in(db, chat.tablo)] == ["First", "Second", "Meeting at 10"]


def test_a_send_whose_answer_was_lost_gives_back_only_what_was_not_stored(client, db, chat):  # noqa: F811
    """The send reached the server but its answer was lost: the page put the text back in the box,
    then what was typed since, one per line, and the person sends again (same key). The box then
    keeps only the lines that were not stored, so sending them does not store the first twice."""
    assert send(client, chat.tablo, "Meeting at 10", key="lost-answer", headers=HTMX).status_code == 201
    again = send(client, chat.tablo, "Meeting at 10\nin room B\nbring the plans", key="lost-answer", headers=HTMX)
    assert again.status_code == 422
    assert re.search(r">\s*in room B\nbring the plans</textarea>", again.text)
    assert "Your first version of this message was sent (it is above)." in html.unescape(again.text)
    new_key = re.search(r'name="client_key" type="hidden" value="(\w+)"', again.text).group(1)
    assert send(client, chat.tablo, "in room B\nbring the plans", key=new_key, headers=HTMX).status_code == 201
    assert [m.body for m in messages_in(db, chat.tablo)] == ["First", "Second", "Meeting at 10", "in room B\nbring the plans"]



@pytest.mark.parametrize("more", [3_990, 4_001], ids=["fits alone", "too long alone"])
def test_a_lost_answer_given_back_with_a_long_text_after_it_is_still_recognised(client, db, chat, more):  # noqa: F811
    """The text given back and what follows it can be too long together, though each fits: the
    box keeps only what was not stored, and says it is too long only if it still is."""
    assert send(client, chat.tablo, "Meeting at 10", key="lost-long", headers=HTMX).status_code == 201
    rest = "p" * more
    again = send(client, chat.tablo, f"Meeting at 10\n{rest}", key="lost-long", headers=HTMX)
    assert again.status_code == 422
    assert re.search(rf">\s*{rest}</textarea>", again.text)
    said = "Your first version of this message was sent (it is above). This text was not: press Send to send it as well."
    too_long = "A message holds 4,000 characters at most: shorten it or send it in parts."
    assert field_errors(again.text) == {"message-body": said if more <= 4_000 else f"{said} {too_long}"}
    new_key = re.search(r'name="client_key" type="hidden" value="(\w+)"', again.text).group(1)
    assert new_key != "lost-long"
    assert send(client, chat.tablo, rest, key=new_key, headers=HTMX).status_code == (201 if more <= 4_000 else 422)
    stored = [m.body for m in messages_in(db, chat.tablo)]
    assert stored == ["First", "Second", "Meeting at 10"] + ([rest] if more <= 4_000 else [])


def test_a_long_text_on_a_stored_key_that_does_not_start_with_it_is_only_too_long(client, db, chat):  # noqa: F811
    assert send(client, chat.tablo, "Meeting at 10", key="lost-other", headers=HTMX).status_code == 201
    again = send(client, chat.tablo, "Meeting at 11\n" + "x" * 4_000, key="lost-other", headers=HTMX)
    assert again.status_code == 422
    assert field_errors(again.text) == {"message-body": "A message holds 4,000 characters at most: shorten it or send it in parts."}
    assert 'value="lost-other"' in again.text  # shortened, it is the correction of that message
    assert [m.body for m in messages_in(db, chat.tablo)] == ["First", "Second", "Meeting at 10"]


@pytest.mark.parametrize("first", ["ok ", "ok\t", "  ok", "ok\n\n"])
def test_a_lost_answer_is_recognised_whatever_spaces_the_first_text_had(client, db, chat, first):  # noqa: F811
    """The text is stored without the spaces around it (a phone adds one after a word): the box's
    first line still names the stored message."""
    assert send(client, chat.tablo, first, key="lost-spaces", headers=HTMX).status_code == 201
    again = send(client, chat.tablo, f"{first}\nsecond", key="lost-spaces", headers=HTMX)
    assert again.status_code == 422
    assert re.search(r">\s*second</textarea>", again.text)


def test_a_replay_of_500_worst_case_messages_does_not_hold_the_worker(client, db, chat):  # noqa: F811
    """Was a DEFECT (medium: any member stalled a gevent worker, and every stream on it, for
    seconds per request): `_trim` counted brackets over the whole address for each character it
    trimmed (O(n^2): 10 ms per address of 3,990 ")"), and a stream reopened with Last-Event-ID 0
    drew up to 500 messages in one go on the event loop (16 s measured). Now `_trim` is linear, and
    one connection draws at most REPLAY_BUDGET characters: the browser comes back at once for the
    rest (its Last-Event-ID), so other requests are served in between. Every change still comes,
    once and in order."""
    author = db.session.get(User, chat.owner.id)
    tablo = db.session.get(Tablo, chat.tablo.id)
    for n in range(500):
        TabloMessage.create(tablo, author=author, body="https://a/" + ")" * 3990, client_key=f"heavy-{n}")
    db.session.commit()
    received, last, connections = [], "0", 0
    while len(received) < 502 and connections < 100:
        stream = Stream(client, f"{chat.url}?last_event_id={last}")
        connections += 1
        events = stream.events
        assert sum(len(event["data"]) for event in events[:-1]) < chat_stream.REPLAY_BUDGET
        if len(received) + len(events) < 502:
            assert stream.rest() == ""  # a page of the replay: the stream ends, the browser comes back
        stream.close()
        received += [int(event["id"]) for event in events]
        last = events[-1]["id"]
    assert connections > 1
    assert received == sorted(set(received)) and len(received) == 502  # the chat's 2, then the 500


def test_one_session_cannot_open_a_hundred_streams(client, chat, realtime):  # noqa: F811
    """Was a DEFECT (medium: one signed-in browser could take a worker's 10,000 connections).
    A session holds at most MAX_PER_SESSION streams on a worker (a person's tabs are far fewer):
    the next one is refused with 429, and the open ones go on."""
    streams = []
    try:
        for _ in range(100):
            streams.append(Stream(client, chat.url))
        assert [stream.response.status_code for stream in streams] == [200] * MAX_PER_SESSION + [429] * (100 - MAX_PER_SESSION)
        assert "Too many chat tabs are open in this browser" in streams[-1].response.get_data(as_text=True)
        assert len(realtime.hub.subscribers()) == MAX_PER_SESSION
    finally:
        for stream in streams:
            stream.close()


def test_an_older_messages_cursor_of_5000_digits_is_a_400_not_a_500(client, chat):  # noqa: F811
    """DEFECT (low: a 500, and gunicorn's 4,094-byte request line keeps it from the app by
    default). `?before=` is checked with `raw.isdigit() and 0 < int(raw) < 2**31`: Python refuses
    to convert a string of more than 4,300 digits (ValueError), so the check itself raises.
    Fix: check the length first (as `sse.parse_event_id` does: `len(raw) <= 10`)."""
    response = client.get(f"/tablos/{chat.tablo.id}/messages", query_string={"before": "1" * 5000})
    assert response.status_code == 400
    assert "That link to older messages is damaged" in html.unescape(response.text)


def test_a_task_id_of_5000_digits_posted_in_a_form_is_refused_not_a_500(client, db, chat):  # noqa: F811
    """DEFECT (medium: a 500 any editor causes at will, in a POST body that no request-line limit
    stops). Outside the chat, same root cause as `?before=`: `find_of_tablo` (xtablo/access.py)
    converts a form's id with `int()` after `isdigit()` without bounding its length; "Add a task
    to this étape" (FileTaskForm.task_id, a plain StringField) hands it whatever was posted. (The
    same pattern reads planning's `?tablo=` and the calendar feed's token: behind gunicorn's
    request-line limit, but a 500 in process.)
    Fix: `len(raw_id) <= 10` before `int()`, in one helper every reader of an id shares."""
    db.session.rollback()
    tablo = db.session.get(Tablo, chat.tablo.id)
    etape = Etape.create(tablo, title="Études")
    Task.create(tablo, title="Existing")
    db.session.commit()
    response = client.post(f"/tablos/{tablo.id}/etapes/{etape.id}/tasks", data={"task_id": "1" * 5000})
    assert response.status_code == 422
    assert "Choose one of this tablo's tasks." in html.unescape(response.text)


# == What held ======================================================================================


HOSTILE_BODIES = [
    "line\nevent: message-created\ndata: <img src=x onerror=alert(1)>\nid: 999999\n\nretry: 1",
    "cr\revent: forged\rid: 1\r\rdata: x",
    "crlf\r\nevent: forged\r\n\r\nid: 2",
    "ls\u2028event: forged\u2029id: 3\u0085data: nel",
    "\x0bevent: forged\x0cid: 4\x1cdata: fs\x1d\x1e",
]


def test_no_text_can_frame_an_event_of_its_own(client, db, chat):  # noqa: F811
    """CR, LF, CRLF (stored as LF), U+2028/U+2029, NEL and the other characters Python calls line
    breaks: none starts a line of the stream. Each message is one event whose fields are ours."""
    seen = latest_change(db)
    for n, body in enumerate(HOSTILE_BODIES):
        assert send(client, chat.tablo, body, key=f"frame-{n}").status_code == 303
    # The author's name may carry them too.
    db.session.rollback()
    owner = db.session.get(User, chat.owner.id)
    owner.name = "Olga\nevent: forged\rid: 5"
    db.session.commit()
    stream = Stream(client, chat.url, **{"Last-Event-ID": str(seen)})
    stream.close()
    lines = stream.first.encode().split(b"\n")
    assert all(line == b"" or line.startswith((b"data: ", b"retry: ")) or re.fullmatch(rb"id: \d+|event: message-created", line)
               for line in lines), [line for line in lines if not line.startswith(b"data: ")]
    assert b"\r" not in stream.first.encode()
    events = stream.events
    assert [e["event"] for e in events] == ["message-created"] * len(HOSTILE_BODIES)
    assert [int(e["id"]) for e in events] == sorted(int(e["id"]) for e in events) and int(events[0]["id"]) > seen


@pytest.mark.parametrize("raw", [" 1 ", "\t1", "+1", "1 2", "\u0661", "\u00b2", "2147483647", "2147483648", "-0", "0" * 11,
                                 "1" * 1000, "\x00", "1\x00", "\u00e9"])
def test_hostile_stream_cursors_are_never_an_error(client, chat, raw):  # noqa: F811
    """Last-Event-ID (the header, as raw bytes would arrive) and ?last_event_id= (the query):
    200, a stream, whatever they hold."""
    header = raw.encode().decode("latin-1")
    for stream in (Stream(client, f"{chat.url}?{urlencode({'last_event_id': raw})}"),
                   Stream(client, chat.url, **({"Last-Event-ID": header} if "\x00" not in raw else {}))):
        stream.close()
        assert stream.response.status_code == 200 and stream.first.startswith("retry: 2000\n\n")


@pytest.mark.parametrize("path", [
    "/tablos/0/messages", "/tablos/-1/messages", "/tablos/2147483648/messages", "/tablos/99999999999999999999/messages",
    "/tablos/1.0/messages", "/tablos/{tablo}/messages/0/edit",
    "/tablos/{tablo}/messages/2147483648/edit", "/tablos/{tablo}/messages/-1/delete", "/tablos/{tablo}/messages/stream/x",
    "/tablos/{tablo}/messages/%00/edit", "/tablos/0{tablo}/messages", "/tablos/{tablo}/messages/0{message}/edit",
])
def test_malformed_ids_in_the_address_are_404(client, db, chat, path):  # noqa: F811
    url = path.format(tablo=chat.tablo.id, message=chat.first.id)
    assert client.get(url).status_code == 404
    assert client.post(url, data={"body": "x"}).status_code in (404, 405)
    assert len(messages_in(db, chat.tablo)) == 2


@pytest.mark.parametrize("before", ["", "%00", "1e3", " 5", "\u0661", "2147483648", "9" * 4000])
def test_hostile_older_message_cursors_say_so(client, chat, before):  # noqa: F811
    response = client.get(f"/tablos/{chat.tablo.id}/messages?before={before}")
    assert response.status_code == 400
    assert "That link to older messages is damaged" in html.unescape(response.text)


def test_another_tablos_message_is_out_of_reach_through_any_tablo(client, db, chat, make_user, make_tablo):  # noqa: F811
    """IDOR: Victor (viewer of "Chantier", author of its second message) owns a tablo of his own.
    Through his tablo's address he reaches no message of "Chantier": not Olga's, and, once he is
    removed from "Chantier", not his own either."""
    own = make_tablo(owner=db.session.get(User, chat.viewer.id), title="Mine")
    as_viewer(client, chat)
    first_id, second_id = chat.first.id, chat.second.id
    for message_id in (first_id, second_id):
        assert client.get(f"/tablos/{own.id}/messages/{message_id}/edit").status_code == 404
        assert client.post(f"/tablos/{own.id}/messages/{message_id}/edit", data={"body": "Hijacked"}).status_code == 404
        assert client.post(f"/tablos/{own.id}/messages/{message_id}/delete").status_code == 404
    db.session.rollback()
    member = db.session.scalar(select(TabloMember).where(TabloMember.user_id == chat.viewer.id, TabloMember.tablo_id == chat.tablo.id))
    member.remove(removed_by=db.session.get(User, chat.owner.id))
    db.session.commit()
    for tablo_id in (own.id, chat.tablo.id):
        assert client.post(f"/tablos/{tablo_id}/messages/{second_id}/edit", data={"body": "Hijacked"}).status_code == 404
        assert client.post(f"/tablos/{tablo_id}/messages/{second_id}/delete").status_code == 404
    assert client.get(chat.url).status_code == 404
    assert [(m.body, m.deleted_at) for m in messages_in(db, chat.tablo)] == [("First", None), ("Second", None)]


def test_a_deleted_tablos_chat_takes_nothing(client, db, chat):  # noqa: F811
    tablo_id, message_id = chat.tablo.id, chat.first.id
    db.session.rollback()
    db.session.get(Tablo, tablo_id).delete()
    db.session.commit()
    assert client.post(f"/tablos/{tablo_id}/messages", data={"body": "Anyone?"}).status_code == 404
    assert client.post(f"/tablos/{tablo_id}/messages/{message_id}/edit", data={"body": "x"}).status_code == 404
    assert client.post(f"/tablos/{tablo_id}/messages/{message_id}/delete").status_code == 404
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(TabloMessage)) == 0


@pytest.mark.parametrize("name", ['<img src=x onerror="alert(1)">', "a.*", "(?P<x>", "\\", "Bob)|(.*", "$1 \\1",
                                  "\u202eevil", "'><script>"])
def test_member_names_with_markup_or_pattern_characters_stay_text(client, db, chat, realtime, name):  # noqa: F811
    """A member's name is typed by that member: in the mentions' pattern and on the page (and in
    the stream) it is only text, and it marks only a mention of itself."""
    db.session.rollback()
    db.session.get(User, chat.viewer.id).name = name
    db.session.commit()
    seen = latest_change(db)
    assert send(client, chat.tablo, f"Hi @{name} and @Olga, not @Someone").status_code == 303
    page = client.get(f"/tablos/{chat.tablo.id}/messages").text
    stream = Stream(client, chat.url, **{"Last-Event-ID": str(seen)})
    stream.close()
    for drawn in (page.split('<li class="message', 3)[3], stream.events[0]["data"]):
        body = re.search(r'<p class="message-body"(?: dir="auto")?>(.*?)</p>', drawn, re.S).group(1)
        assert re.findall(r"<[^>]*>", body) == ['<span class="mention">', "</span>"] * 2
        assert [html.unescape(m) for m in re.findall(r'<span class="mention">([^<]*)</span>', body)] == [f"@{name}", "@Olga"]
    assert shown_messages(page)[1] == (name, "Second")


def test_the_feed_never_sends_a_deleted_text(app, db, chat, realtime):  # noqa: F811
    """Created, edited and deleted between two polls, or deleted after a poll: every event the
    live feed sends shows the message as it is when drawn, so a deleted text is never sent."""
    stream_of_owner = realtime.hub.subscribe(chat.tablo.id, user_id=chat.owner.id, session_id=session_of(db, chat.owner),
                                             variant=("en", "UTC"))
    try:
        follow_from_now(app, realtime)
        tablo, author = db.session.get(Tablo, chat.tablo.id), db.session.get(User, chat.owner.id)
        message, _ = TabloMessage.create(tablo, author=author, body="Secret one", client_key="s1")
        db.session.commit()
        message.edit("Secret two")
        db.session.commit()
        message.delete()
        db.session.commit()
        assert realtime.feed.poll() == 3
        texts = [stream_of_owner.next(wait=False)[1].decode() for _ in range(3)]
        assert all("Message deleted" in text and "Secret" not in text for text in texts)
    finally:
        realtime.hub.unsubscribe(stream_of_owner)


def test_a_stream_hears_its_own_tablo_only(app, client, db, chat, realtime, make_tablo, monkeypatch):  # noqa: F811
    """Olga follows "Chantier"; Victor writes in a tablo of his own that Olga also belongs to,
    and in "Chantier": the stream of "Chantier" gets the second only."""
    monkeypatch.setattr(realtime, "heartbeat", 0.2)
    victor = db.session.get(User, chat.viewer.id)
    other = make_tablo(owner=victor, title="Other")
    TabloMember.add(other, db.session.get(User, chat.owner.id), Role.EDITOR, added_by=victor)
    db.session.commit()
    stream = Stream(client, chat.url)  # Olga's (the chat fixture signed her in)
    try:
        follow_from_now(app, realtime)
        TabloMessage.create(other, author=victor, body="Elsewhere", client_key="o1")
        TabloMessage.create(db.session.get(Tablo, chat.tablo.id), author=victor, body="Here", client_key="o2")
        db.session.commit()
        assert realtime.feed.poll() == 1
        events = parse(next(stream.chunks).decode())
        assert len(events) == 1 and "Here</p>" in events[0]["data"]
        assert next(stream.chunks).decode() == ": heartbeat\n\n"  # and nothing else came
    finally:
        stream.close()


def test_a_stream_cannot_be_read_by_another_site(client, chat):  # noqa: F811
    """A page elsewhere may open `new EventSource(url, {withCredentials: true})`: the cookie is
    SameSite=Lax (not sent), and the answer allows no other origin to read it."""
    stream = Stream(client, chat.url, Origin="https://evil.example")
    stream.close()
    assert "Access-Control-Allow-Origin" not in stream.response.headers
    assert "Access-Control-Allow-Credentials" not in stream.response.headers


def test_4000_characters_are_counted_as_characters_whatever_their_size(client, db, chat):  # noqa: F811
    """4,000 characters outside the BMP (8,000 UTF-16 units, 16,000 bytes) are one message, stored
    intact; 4,001 are refused: the limit counts characters, never less than the box does."""
    assert send(client, chat.tablo, "\U0001f600" * 4000, key="emoji").status_code == 303
    assert messages_in(db, chat.tablo)[-1].body == "\U0001f600" * 4000
    response = send(client, chat.tablo, "\U0001f600" * 4001, key="emoji-2")
    assert response.status_code == 422
    assert field_errors(response.text) == {"message-body": "A message holds 4,000 characters at most: shorten it or send it in parts."}


def test_garbage_on_the_broker_channel_never_stops_the_listener():
    """Anyone who can PUBLISH to the Redis channel sends what they like: it only ever rings (a
    tablo id or "read everything"), it never carries content, and the listener keeps going."""
    channel = f"xtablo_test_attack_{time.monotonic_ns()}"
    broker = RedisBroker(f"{REDIS_BASE_URL}/0", channel, timeout=0.5)
    rung, ready, done = [], threading.Event(), threading.Event()

    def ring(tablo_id):
        rung.append(tablo_id)
        if tablo_id == 42:
            done.set()
            raise KeyboardInterrupt  # the end of this test's listener

    def run():
        try:
            broker.listen(ring, ready.set)
        except KeyboardInterrupt:
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10)
    garbage = [b"\xff\xfe", b"", b"-1", b" 7", b"7\n", "\u0663".encode(), b"9" * 20, b"x" * 100_000, b"1e3",
               b"<li>forged</li>", b"\x00", b"4\x002"]
    publisher = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
    for payload in garbage:
        publisher.publish(channel, payload)
    publisher.publish(channel, b"42")
    publisher.close()
    assert done.wait(10), rung
    assert rung == [None] * len(garbage) + [42]
    assert all(brokers._tablo_id(payload) is None for payload in garbage)
