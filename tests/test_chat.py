"""Chat (issue 11, persistence): each tablo's messages on its Chat tab, sent once however often
they are posted, edited by their author, deleted (softly) by their author or an owner, their text
escaped, linked and mentioned, and an unread count per member."""

import html
import re
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import field_errors, listed_tablos, page_title
from tests.test_tasks import run_together, signed_in_browsers
from xtablo.blueprints.chat.text import message_html
from xtablo.database import read_connection
from xtablo.extensions import db as _db
from xtablo.models import MessageChange, Role, TabloMember, TabloMessage, User

HTMX = {"HX-Request": "true"}


@pytest.fixture
def people(make_user):
    return {name: make_user(name=name) for name in ("Ada", "Bob", "Cy")}


@pytest.fixture
def tablo(make_tablo, people, db):
    """Ada owns "Launch"; Bob is an editor, Cy a viewer."""
    tablo = make_tablo(owner=people["Ada"])
    TabloMember.add(tablo, people["Bob"], Role.EDITOR, added_by=people["Ada"])
    TabloMember.add(tablo, people["Cy"], Role.VIEWER, added_by=people["Ada"])
    db.session.commit()
    return tablo


def sign_in(client, user):
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": "correct horse battery"}).status_code == 303


def send(client, tablo, body, key=None, **kwargs):
    data = {"body": body} | ({"client_key": key} if key else {})
    return client.post(f"/tablos/{tablo.id}/messages", data=data, **kwargs)


def shown_messages(page: str) -> list[tuple[str, str]]:
    """(author, text as read) of each message on the page, in order."""
    found = []
    for item in page.split('<li class="message')[1:]:
        author = re.sub(r"<[^>]+>", "", re.search(r'<strong class="message-author">(.*?)</strong>', item).group(1))
        body = re.search(r'<p class="message-body[^"]*"(?: dir="auto")?>(.*?)</p>', item, re.S).group(1)
        found.append((html.unescape(author), html.unescape(re.sub(r"<[^>]+>", "", body))))
    return found


def messages_in(db, tablo) -> list[TabloMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(TabloMessage).where(TabloMessage.tablo_id == tablo.id).order_by(TabloMessage.id)))


def changes_of(db, tablo) -> list[tuple[int, str]]:
    db.session.rollback()
    return [(change.message_id, change.kind) for change in MessageChange.since(tablo, 0)]


def unread_on_tab(page: str) -> str | None:
    """The number the Chat tab shows beside its name, if any."""
    tab = re.search(r'<a href="/tablos/\d+/messages"[^>]*>Chat(.*?)</a>', page, re.S).group(1)
    badge = re.search(r'<span class="badge unread"[^>]*>([^<]+)</span>', tab)
    return badge.group(1) if badge else None


# -- Sending and reading ----------------------------------------------------------------------


def test_members_of_every_role_send_and_read_messages(client, db, tablo, people):
    for name in ("Ada", "Bob", "Cy"):
        sign_in(client, people[name])
        response = send(client, tablo, f"Hello from {name}")
        assert response.status_code == 303
        assert response.headers["Location"].startswith(f"/tablos/{tablo.id}/messages#message-")
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert page_title(page) == "Chat · Launch"
    assert shown_messages(page) == [("Ada", "Hello from Ada"), ("Bob", "Hello from Bob"), ("Cy", "Hello from Cy")]
    assert '<label for="message-body">Message</label>' in page


def test_a_message_shows_relative_and_exact_time(client, db, tablo, people):
    sign_in(client, people["Ada"])
    send(client, tablo, "Now")
    page = client.get(f"/tablos/{tablo.id}/messages").text
    time = re.search(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', page)
    assert time.group(3) == "just now"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", time.group(1))
    assert re.match(r"[A-Z][a-z]{2} \d+, \d{4}, \d+:\d\d:\d\d", time.group(2))


def test_htmx_send_answers_with_the_fragment_and_the_next_key(client, db, tablo, people):
    sign_in(client, people["Bob"])
    page = client.get(f"/tablos/{tablo.id}/messages").text
    key = re.search(r'id="message-client-key" name="client_key" type="hidden" value="(\w+)"', page).group(1)
    response = send(client, tablo, "Quick one", key=key, headers=HTMX)
    assert response.status_code == 201
    (message,) = messages_in(db, tablo)
    assert response.text.lstrip().startswith(f'<li class="message" id="message-{message.id}"')
    assert shown_messages(response.text) == [("Bob", "Quick one")]
    # Out of band, the form's key for the next message, in place of the one used; the box is not
    # sent back (the person may be typing the next message in it); the focus goes back to it.
    new_key = re.search(r'<input hx-swap-oob="true" id="message-client-key" name="client_key" type="hidden" value="(\w+)"',
                        response.text).group(1)
    assert new_key != key
    assert "<textarea" not in response.text and 'id="message-fields"' not in response.text
    assert '"xtablo:focus": "#message-body"' in response.headers["HX-Trigger-After-Settle"]


def test_a_resend_with_the_same_key_is_stored_once(client, db, tablo, people):
    sign_in(client, people["Cy"])
    first = send(client, tablo, "Only once", key="k-1", headers=HTMX)
    again = send(client, tablo, "Only once", key="k-1", headers=HTMX)
    plain = send(client, tablo, "Only once", key="k-1")
    assert (first.status_code, again.status_code, plain.status_code) == (201, 200, 303)
    (message,) = messages_in(db, tablo)
    assert f'id="message-{message.id}"' in again.text
    assert plain.headers["Location"].endswith(f"#message-{message.id}")
    assert changes_of(db, tablo) == [(message.id, "created")]


def test_one_key_used_in_another_tablo_is_refused(client, db, tablo, people, make_tablo):
    sign_in(client, people["Ada"])
    other = make_tablo(owner=people["Ada"], title="Other")
    assert send(client, tablo, "Here", key="shared").status_code == 303
    response = send(client, other, "There", key="shared")
    assert response.status_code == 422
    assert "This form is damaged" in html.unescape(response.text)
    assert messages_in(db, other) == []


def test_two_posts_of_one_key_at_once_store_one_message(app, db, tablo, people):
    """Real parallel requests: six browsers of Bob post the same message with the same key at
    once. One row; every answer is that message (one 303 per browser to its anchor)."""
    browsers = signed_in_browsers(app, people["Bob"].email, 6)
    tablo_id = tablo.id
    db.session.rollback()
    locations = []

    def poster(browser):
        def post():
            for attempt in range(5):
                response = browser.post(f"/tablos/{tablo_id}/messages", data={"body": f"Race {attempt}", "client_key": f"race-{attempt}"})
                assert response.status_code == 303, response.status_code
                locations.append((attempt, response.headers["Location"]))
        return post

    failures = run_together(*(poster(browser) for browser in browsers))
    assert failures == [], "\n".join(failures)
    messages = messages_in(db, tablo)
    assert sorted(message.body for message in messages) == [f"Race {n}" for n in range(5)]
    ids = {message.body: message.id for message in messages}
    assert all(location.endswith(f"#message-{ids[f'Race {attempt}']}") for attempt, location in locations)
    assert len(locations) == 30
    assert sorted(kind for _, kind in changes_of(db, tablo)) == ["created"] * 5


def test_a_concurrent_post_of_the_same_key_waits_and_answers_with_the_first(app, backend, db, tablo, people):
    """Deterministic interleaving: another request inserted the key and has not committed when
    Bob's post of the same form arrives (a double click). Bob's post waits (PostgreSQL: on the
    unique index; SQLite: for the write lock), then answers with the message the other request
    stored. (The same key with another text: tests/test_attack_chat.py.)"""
    (browser,) = signed_in_browsers(app, people["Bob"].email, 1)
    tablo_id = tablo.id
    first, created = TabloMessage.create(tablo, author=people["Bob"], body="First copy", client_key="same")
    assert created
    result = {}
    racer = threading.Thread(target=lambda: result.update(
        response=browser.post(f"/tablos/{tablo_id}/messages", data={"body": "First copy", "client_key": "same"}, headers=HTMX)))
    racer.start()
    racer.join(timeout=1)
    first_id = first.id
    db.session.commit()
    racer.join(timeout=10)
    response = result["response"]
    assert response.status_code == 200
    assert f'id="message-{first_id}"' in response.text and "First copy" in response.text
    assert [message.body for message in messages_in(db, tablo)] == ["First copy"]


# -- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body, error", [
    ("", "Write something first."),
    ("   \n\t  \n", "Write something first."),
    ("\u200b\u202e\x01", "Write something first."),  # nothing visible: it would show as a blank message
    ("x" * 4001, "A message holds 4,000 characters at most: shorten it or send it in parts."),
])
def test_bad_bodies_are_refused_under_the_field_and_nothing_is_written(client, db, tablo, people, body, error):
    sign_in(client, people["Bob"])
    response = send(client, tablo, body, key="bad")
    assert response.status_code == 422
    assert field_errors(response.text) == {"message-body": error}
    assert page_title(response.text) == "Chat · Launch"
    assert messages_in(db, tablo) == [] and changes_of(db, tablo) == []


def test_a_message_that_fills_the_box_without_javascript_is_not_refused_for_its_line_breaks(client, db, tablo, people):
    """A form posted without JavaScript sends each line break as CRLF; the box counts it as one
    character, and so does the limit."""
    sign_in(client, people["Bob"])
    body = "a\r\n" * 1400 + "b"  # 4,201 characters as sent, 2,801 as stored
    assert send(client, tablo, body).status_code == 303
    assert messages_in(db, tablo)[0].body == "a\n" * 1400 + "b"


def test_an_author_name_cannot_turn_the_text_after_it_around(client, db, tablo, people):
    """A name holding a right-to-left override is isolated: the time after it reads as it should."""
    sign_in(client, people["Bob"])
    send(client, tablo, "Hello")
    people["Bob"].name = "\u202eBob"
    db.session.commit()
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert '<strong class="message-author"><bdi>\u202eBob</bdi></strong>' in page


def test_4000_characters_are_fine(client, db, tablo, people):
    sign_in(client, people["Bob"])
    assert send(client, tablo, "y" * 4000).status_code == 303
    assert len(messages_in(db, tablo)[0].body) == 4000


def test_a_refused_htmx_send_answers_with_the_form_in_place(client, db, tablo, people):
    sign_in(client, people["Bob"])
    response = send(client, tablo, "  ", key="k", headers=HTMX)
    assert response.status_code == 422
    assert response.headers["HX-Retarget"] == "#message-fields"
    assert response.headers["HX-Reswap"] == "outerHTML"
    assert response.text.lstrip().startswith('<div id="message-fields"')
    assert field_errors(response.text) == {"message-body": "Write something first."}
    assert '"xtablo:focus": "#message-body"' in response.headers["HX-Trigger-After-Settle"]


@pytest.mark.parametrize("key", ["k" * 65, "has space", "é"])
def test_a_damaged_client_key_is_refused(client, db, tablo, people, key):
    sign_in(client, people["Bob"])
    response = send(client, tablo, "Hello", key=key)
    assert response.status_code == 422
    assert "This form is damaged: reload the page and send the message again." in html.unescape(response.text)
    assert messages_in(db, tablo) == []


def test_strangers_cannot_post_or_read(client, db, tablo, make_user):
    sign_in(client, make_user(name="Eve"))
    assert send(client, tablo, "Let me in").status_code == 404
    assert client.get(f"/tablos/{tablo.id}/messages").status_code == 404
    assert messages_in(db, tablo) == []


@pytest.mark.parametrize("before", ["garbage", "-1", "0", "1.5", "99999999999", "１２"])
def test_a_damaged_cursor_says_so_and_shows_the_latest(client, db, tablo, people, before):
    sign_in(client, people["Ada"])
    send(client, tablo, "Latest")
    response = client.get(f"/tablos/{tablo.id}/messages", query_string={"before": before})
    assert response.status_code == 400
    assert "That link to older messages is damaged: here are the latest messages." in html.unescape(response.text)
    assert shown_messages(response.text) == [("Ada", "Latest")]


# -- Older messages -----------------------------------------------------------------------------


def post_many(tablo, author, count):
    for n in range(1, count + 1):
        TabloMessage.create(tablo, author=author, body=f"Message {n}", client_key=f"m{n}")
    _db.session.commit()


def test_the_tab_shows_the_latest_50_and_loads_older_by_cursor(client, db, tablo, people):
    post_many(tablo, people["Bob"], 120)
    sign_in(client, people["Ada"])
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert [body for _, body in shown_messages(page)] == [f"Message {n}" for n in range(71, 121)]
    older = re.search(r'<li id="older-messages" class="older-messages">\s*<a href="([^"]+)"\s+hx-get="([^"]+)"', page)
    assert older.group(1) == older.group(2)
    link = html.unescape(older.group(1))
    # Without JavaScript: a page of the 50 before, with the way back.
    page = client.get(link).text
    assert [body for _, body in shown_messages(page)] == [f"Message {n}" for n in range(21, 71)]
    assert "Back to the latest messages" in page and 'id="message-form"' not in page
    # With htmx: only the older messages, with the next link at their top, and the focus on the
    # last of them (just above where the reader was).
    response = client.get(link, headers=HTMX)
    assert response.text.lstrip().startswith('<li id="older-messages"')
    assert [body for _, body in shown_messages(response.text)] == [f"Message {n}" for n in range(21, 71)]
    last_loaded = re.findall(r'<li class="message[^"]*" id="message-(\d+)"', response.text)[-1]
    assert f'"xtablo:focus": "#message-{last_loaded}"' in response.headers["HX-Trigger-After-Settle"]
    last = html.unescape(re.search(r'<a href="([^"]+)"', response.text).group(1))
    response = client.get(last, headers=HTMX)
    assert [body for _, body in shown_messages(response.text)] == [f"Message {n}" for n in range(1, 21)]
    assert 'id="older-messages"' not in response.text


# -- Edit and delete ----------------------------------------------------------------------------


def test_the_author_edits_their_message(client, db, tablo, people):
    sign_in(client, people["Cy"])  # a viewer: the chat is theirs too
    send(client, tablo, "Typo hree")
    (message,) = messages_in(db, tablo)
    page = client.get(f"/tablos/{tablo.id}/messages/{message.id}/edit").text
    assert page_title(page) == "Edit message · Launch" and re.search(r">\s*Typo hree</textarea>", page)
    response = client.post(f"/tablos/{tablo.id}/messages/{message.id}/edit", data={"body": "Typo here"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert shown_messages(page) == [("Cy", "Typo here")]
    assert re.search(r'<span class="edited" title="[^"]+">edited</span>', page)
    assert changes_of(db, tablo) == [(message.id, "created"), (message.id, "edited")]


def test_line_endings_are_stored_as_line_feeds_so_saving_an_unchanged_edit_changes_nothing(client, db, tablo, people):
    """A browser posts a form's line breaks as CRLF (htmx sends the box's LF): sent without
    JavaScript, a message is stored with LF like any other; a lone CR is a line break too. Its
    edit page posts CRLF: saving it unchanged neither marks the message "edited" nor logs a change."""
    sign_in(client, people["Bob"])
    send(client, tablo, "one\r\ntwo\rthree\r\n")
    send(client, tablo, "four\nfive", headers=HTMX)
    plain, sent = messages_in(db, tablo)
    assert (plain.body, sent.body) == ("one\ntwo\nthree", "four\nfive")
    response = client.post(f"/tablos/{tablo.id}/messages/{sent.id}/edit", data={"body": "four\r\nfive"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert shown_messages(page) == [("Bob", "one\ntwo\nthree"), ("Bob", "four\nfive")]
    assert 'class="edited"' not in page
    assert changes_of(db, tablo) == [(plain.id, "created"), (sent.id, "created")]
    client.post(f"/tablos/{tablo.id}/messages/{sent.id}/edit", data={"body": "four\r\nsix"})
    assert messages_in(db, tablo)[1].body == "four\nsix"


def test_an_empty_edit_is_refused(client, db, tablo, people):
    sign_in(client, people["Cy"])
    send(client, tablo, "Keep me")
    (message,) = messages_in(db, tablo)
    response = client.post(f"/tablos/{tablo.id}/messages/{message.id}/edit", data={"body": " "})
    assert response.status_code == 422
    assert field_errors(response.text) == {"message-body": "Write something first."}
    assert messages_in(db, tablo)[0].body == "Keep me"


@pytest.mark.parametrize("who", ["Ada", "Bob"])
def test_nobody_else_edits_a_message_not_even_an_owner(client, db, tablo, people, who):
    sign_in(client, people["Cy"])
    send(client, tablo, "Mine")
    (message,) = messages_in(db, tablo)
    sign_in(client, people[who])
    for response in (client.get(f"/tablos/{tablo.id}/messages/{message.id}/edit"),
                     client.post(f"/tablos/{tablo.id}/messages/{message.id}/edit", data={"body": "Yours"})):
        assert response.status_code == 403
        assert "Only its author can edit a message." in response.text
    assert messages_in(db, tablo)[0].body == "Mine"


def test_controls_are_shown_only_to_whom_may_use_them(client, db, tablo, people):
    sign_in(client, people["Bob"])
    send(client, tablo, "Bob's")

    def controls(name):
        sign_in(client, people[name])
        item = client.get(f"/tablos/{tablo.id}/messages").text.split('<li class="message', 1)[1]
        edit = re.search(r'<a href="[^"]+/edit" data-mine( hidden)?>', item).group(1) is None
        delete = re.search(r"data-mine-or-owner( hidden)?>", item).group(1) is None
        return edit, delete

    assert controls("Bob") == (True, True)   # the author
    assert controls("Ada") == (False, True)  # an owner deletes
    assert controls("Cy") == (False, False)  # another member


def test_author_and_owner_delete_others_may_not(client, db, tablo, people):
    sign_in(client, people["Bob"])
    send(client, tablo, "One")
    send(client, tablo, "Two")
    one, two = messages_in(db, tablo)
    sign_in(client, people["Cy"])
    response = client.post(f"/tablos/{tablo.id}/messages/{one.id}/delete")
    assert response.status_code == 403
    assert "Only its author or an owner of the tablo can delete a message." in response.text
    sign_in(client, people["Bob"])
    assert client.post(f"/tablos/{tablo.id}/messages/{one.id}/delete").status_code == 303
    sign_in(client, people["Ada"])
    response = client.post(f"/tablos/{tablo.id}/messages/{two.id}/delete", headers=HTMX)
    assert response.status_code == 200
    assert shown_messages(response.text) == [("Bob", "Message deleted")]
    assert "Message deleted." in response.headers["HX-Trigger-After-Settle"]
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert shown_messages(page) == [("Bob", "Message deleted"), ("Bob", "Message deleted")]
    assert "One" not in page.split('<ol id="messages"')[1] and "/edit" not in page.split('<ol id="messages"')[1]
    assert [(m.body, m.deleted_at is not None) for m in messages_in(db, tablo)] == [("", True), ("", True)]
    assert changes_of(db, tablo) == [(one.id, "created"), (two.id, "created"), (one.id, "deleted"), (two.id, "deleted")]


def test_a_deleted_message_can_be_neither_edited_nor_deleted_again(client, db, tablo, people):
    sign_in(client, people["Bob"])
    send(client, tablo, "Gone")
    (message,) = messages_in(db, tablo)
    client.get(client.post(f"/tablos/{tablo.id}/messages/{message.id}/delete").headers["Location"])
    attempts = [lambda: client.get(f"/tablos/{tablo.id}/messages/{message.id}/edit"),
                lambda: client.post(f"/tablos/{tablo.id}/messages/{message.id}/edit", data={"body": "Back"}),
                lambda: client.post(f"/tablos/{tablo.id}/messages/{message.id}/delete")]
    for attempt in attempts:
        response = attempt()
        assert response.status_code == 303
        page = client.get(response.headers["Location"]).text
        assert 'class="flash flash-error"' in page
        assert "That message is deleted: it can no longer be changed." in html.unescape(page)
    assert messages_in(db, tablo)[0].body == ""
    assert changes_of(db, tablo) == [(message.id, "created"), (message.id, "deleted")]


def test_another_tablos_message_is_404(client, db, tablo, people, make_tablo):
    sign_in(client, people["Ada"])
    other = make_tablo(owner=people["Ada"], title="Other")
    send(client, other, "Elsewhere")
    (message,) = messages_in(db, other)
    assert client.get(f"/tablos/{tablo.id}/messages/{message.id}/edit").status_code == 404
    assert client.post(f"/tablos/{tablo.id}/messages/{message.id}/delete").status_code == 404


def test_a_deleted_account_leaves_its_messages_without_author(client, db, tablo, people):
    sign_in(client, people["Bob"])
    send(client, tablo, "Still here")
    db.session.rollback()
    db.session.delete(db.session.get(User, people["Bob"].id))
    db.session.commit()
    sign_in(client, people["Ada"])
    assert shown_messages(client.get(f"/tablos/{tablo.id}/messages").text) == [("A former member", "Still here")]


def test_deleting_a_tablo_deletes_its_chat(client, db, tablo, people):
    sign_in(client, people["Ada"])
    send(client, tablo, "Bye")
    assert client.post(f"/tablos/{tablo.id}/delete").status_code == 303
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(TabloMessage)) == 0
    assert db.session.scalar(select(func.count()).select_from(MessageChange)) == 0


# -- The change log -----------------------------------------------------------------------------


def test_changes_since_an_id_come_in_order_and_per_tablo(app, db, tablo, people, make_tablo):
    other = make_tablo(owner=people["Ada"], title="Other")
    first, _ = TabloMessage.create(tablo, author=people["Ada"], body="1", client_key="a")
    TabloMessage.create(other, author=people["Ada"], body="elsewhere", client_key="b")
    second, _ = TabloMessage.create(tablo, author=people["Bob"], body="2", client_key="c")
    first.edit("1 bis")
    second.delete()
    db.session.commit()
    changes = MessageChange.since(tablo, 0)
    assert [(c.message_id, c.kind) for c in changes] == [(first.id, "created"), (second.id, "created"), (first.id, "edited"),
                                                         (second.id, "deleted")]
    assert [c.id for c in changes] == sorted(c.id for c in changes)
    assert [(c.message_id, c.kind) for c in MessageChange.since(tablo, changes[1].id)] == [(first.id, "edited"), (second.id, "deleted")]
    assert MessageChange.since(tablo, changes[-1].id) == []


def test_messages_of_a_tablo_are_numbered_in_the_order_they_commit(app, db, tablo, people):
    """Readers resume by id: the unread mark is the last message seen, a stream's Last-Event-ID the
    last change seen. So an id seen means every lower id of the tablo is committed already. On
    PostgreSQL a sequence gives ids when rows are inserted, not when they commit: here Ada's
    message is inserted and not yet committed when Bob posts; were Bob's committed first, with a
    higher id, Cy would read it, her mark would pass Ada's message, and a reader of the log
    resuming after Bob's change would never get Ada's. Bob's post waits for Ada's to commit."""
    (bob, cy) = (signed_in_browsers(app, people[name].email, 1)[0] for name in ("Bob", "Cy"))
    tablo_id = tablo.id
    slow, _ = TabloMessage.create(tablo, author=people["Ada"], body="Slow", client_key="slow")  # not committed
    result = {}
    racer = threading.Thread(target=lambda: result.update(
        response=bob.post(f"/tablos/{tablo_id}/messages", data={"body": "Fast", "client_key": "fast"})))
    racer.start()
    racer.join(timeout=1)
    # Meanwhile Cy opens the chat, and a reader of the log takes note of the last change it saw
    # (in a thread of their own: a request in this one would share the test's session).

    def read():
        result["page"] = cy.get(f"/tablos/{tablo_id}/messages").status_code
        with app.app_context(), read_connection(_db.engine) as connection:
            result["seen"] = connection.scalar(select(func.coalesce(func.max(MessageChange.id), 0))
                                               .where(MessageChange.tablo_id == tablo_id))

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(timeout=10)
    _db.session.commit()
    racer.join(timeout=10)
    assert result["page"] == 200 and result["response"].status_code == 303
    assert [message.body for message in messages_in(db, tablo)] == ["Slow", "Fast"]
    slow_id, fast_id = (message.id for message in messages_in(db, tablo))
    assert unread_on_tab(cy.get(f"/tablos/{tablo_id}").text) == "2"
    assert [(change.message_id, change.kind) for change in MessageChange.since(tablo, result["seen"])] == [(slow_id, "created"), (fast_id, "created")]


def test_a_rolled_back_message_leaves_no_change(app, db, tablo, people):
    TabloMessage.create(tablo, author=people["Ada"], body="Never", client_key="x")
    db.session.rollback()
    assert changes_of(db, tablo) == []


# -- Unread counts ------------------------------------------------------------------------------


def test_unread_counts_on_my_tablos_and_the_tab_cleared_by_reading(client, db, tablo, people):
    post_many(tablo, people["Bob"], 3)
    TabloMessage.create(tablo, author=people["Ada"], body="Mine do not count", client_key="own")
    db.session.commit()
    sign_in(client, people["Ada"])
    page = client.get("/tablos").text
    assert listed_tablos(page) == ["Launch"]
    card = page.split(f'id="tablo-{tablo.id}"', 1)[1].split("</li>", 1)[0]
    assert re.search(r'<span class="badge unread" aria-hidden="true">3</span><span class="visually-hidden"> \(3 unread messages\)</span>', card)
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "3"
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}/messages").text) is None  # read now
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) is None
    assert "badge unread" not in client.get("/tablos").text
    # Bob's message, then one deleted: one unread.
    sign_in(client, people["Bob"])
    send(client, tablo, "New")
    send(client, tablo, "Oops")
    oops = messages_in(db, tablo)[-1]
    client.post(f"/tablos/{tablo.id}/messages/{oops.id}/delete")
    sign_in(client, people["Ada"])
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "1"
    # Cy never opened the chat: every message but the deleted one (Ada's count for Cy).
    sign_in(client, people["Cy"])
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}/etapes").text) == "5"


def test_a_message_seen_arriving_on_the_tab_is_read(client, db, tablo, people, make_tablo):
    """app.js posts the last message the stream added while the tab was in view: the mark moves
    to it, to the highest message of this tablo at or below what was posted (never to another
    tablo's, never past the last one), and never back."""
    post_many(tablo, people["Bob"], 3)
    first, second, third = (message.id for message in messages_in(db, tablo))
    sign_in(client, people["Ada"])
    assert client.post(f"/tablos/{tablo.id}/messages/read", data={"up_to": second}).status_code == 204
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "1"
    assert client.post(f"/tablos/{tablo.id}/messages/read", data={"up_to": first}).status_code == 204
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "1"  # never back
    # Past the last message (or another tablo's higher id): up to this tablo's last, no further.
    elsewhere = make_tablo(owner=people["Ada"], title="Elsewhere")
    TabloMessage.create(elsewhere, author=people["Ada"], body="Other", client_key="other")
    db.session.commit()
    other_id = messages_in(db, elsewhere)[-1].id
    assert client.post(f"/tablos/{tablo.id}/messages/read", data={"up_to": other_id + 100}).status_code == 204
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) is None
    send_as_bob = TabloMessage.create(tablo, author=people["Bob"], body="Later", client_key="later")
    db.session.commit()
    assert send_as_bob[0].id > other_id
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "1"  # a later message is still new


@pytest.mark.parametrize("up_to", ["", "abc", "-1", "0", "1.5", "99999999999", "１２"])
def test_a_damaged_read_mark_is_refused_and_changes_nothing(client, db, tablo, people, up_to):
    post_many(tablo, people["Bob"], 2)
    sign_in(client, people["Ada"])
    response = client.post(f"/tablos/{tablo.id}/messages/read", data={"up_to": up_to})
    assert response.status_code == 400
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "2"


def test_reading_an_older_page_does_not_clear_the_count(client, db, tablo, people):
    post_many(tablo, people["Bob"], 60)
    sign_in(client, people["Ada"])
    first = db.session.scalar(select(func.min(TabloMessage.id)))
    client.get(f"/tablos/{tablo.id}/messages?before={first + 55}")
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "60"


def test_unread_counts_stop_at_99_plus(client, db, tablo, people):
    post_many(tablo, people["Bob"], 130)
    sign_in(client, people["Ada"])
    page = client.get(f"/tablos/{tablo.id}").text
    assert unread_on_tab(page) == "99+"
    assert "(more than 99 unread messages)" in page


def test_a_removed_members_read_mark_goes_with_the_membership(client, db, tablo, people):
    post_many(tablo, people["Ada"], 2)
    sign_in(client, people["Cy"])
    client.get(f"/tablos/{tablo.id}/messages")
    db.session.rollback()
    member = db.session.scalar(select(TabloMember).where(TabloMember.user_id == people["Cy"].id))
    assert member.last_read_message_id == messages_in(db, tablo)[-1].id
    sign_in(client, people["Ada"])
    assert client.post(f"/tablos/{tablo.id}/members/{member.id}/delete").status_code == 303
    TabloMember.add(tablo, db.session.get(User, people["Cy"].id), Role.VIEWER, added_by=people["Ada"])
    db.session.commit()
    sign_in(client, people["Cy"])
    assert unread_on_tab(client.get(f"/tablos/{tablo.id}").text) == "2"  # a new membership reads afresh


def test_reading_leaves_the_membership_updated_at_alone(client, db, tablo, people):
    post_many(tablo, people["Bob"], 1)
    db.session.rollback()
    before = db.session.scalar(select(TabloMember.updated_at).where(TabloMember.user_id == people["Ada"].id))
    sign_in(client, people["Ada"])
    client.get(f"/tablos/{tablo.id}/messages")
    db.session.rollback()
    assert db.session.scalar(select(TabloMember.updated_at).where(TabloMember.user_id == people["Ada"].id)) == before


# -- Text: escaped, linked, mentioned -----------------------------------------------------------


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    '<a href="javascript:alert(1)">click</a>',
    'hx-get="/tablos" hx-trigger="load"',
    "<div hx-get=/logout hx-trigger=load>x</div>",
    "{{ 7*7 }} {% if 1 %}x{% endif %}",
    "http://example.com/\"onmouseover=\"alert(1)",
    "https://example.com/<script>",
    "@<b>Ada</b>",
    "data:text/html,<script>alert(1)</script> vbscript:msgbox(1)",
    "https://example.com/a'onmouseover='alert(1)' https://example.com/`x`",
    "https://example.com/\u202egpj.exe \u202ehttps://evil.example/moc.knab//:sptth",
    "line\none\ttab \u200b\x01\x7f",
]


@pytest.mark.parametrize("payload", XSS)
def test_nothing_typed_becomes_markup(client, db, tablo, people, payload):
    sign_in(client, people["Bob"])
    send(client, tablo, payload)
    page = client.get(f"/tablos/{tablo.id}/messages").text
    body = re.search(r'<p class="message-body" dir="auto">(.*?)</p>', page, re.S).group(1)
    # The only tags are ours, with only our attributes; the text reads as typed.
    for tag in re.findall(r"<[^>]*>", body):
        assert re.fullmatch(r'<a href="https?://[^"<>]*" dir="ltr" rel="noopener noreferrer nofollow" target="_blank">|</a>|<span class="mention">|</span>', tag), tag
    assert html.unescape(re.sub(r"<[^>]+>", "", body)) == payload
    assert "49" not in body


def test_urls_become_links_and_only_http_ones():
    out = str(message_html("See https://example.com/a?b=1&c=2. Or (http://x.org/wiki/Foo_(bar)), ftp://no, javascript:alert(1), HTTPS://UP.example"))
    assert re.findall(r'<a href="([^"]+)"', out) == ["https://example.com/a?b=1&amp;c=2", "http://x.org/wiki/Foo_(bar)", "HTTPS://UP.example"]
    assert out.count('rel="noopener noreferrer nofollow"') == 3
    assert "ftp://no, javascript:alert(1)" in out
    assert str(message_html("http:// alone")) == "http:// alone"


def test_a_right_to_left_override_cannot_make_a_link_show_another_address(client, db, tablo, people):
    """U+202E (RIGHT-TO-LEFT OVERRIDE) typed before an address would draw it backwards: the text
    "https://evil.example/moc.knab//:sptth" would read "https://bank.com/elpmaxe.live//:sptth"
    while it leads to evil.example. A link is drawn left to right whatever comes before it
    (`dir="ltr"` isolates it), and an address ends at an invisible direction mark, which would
    reorder the address itself."""
    sign_in(client, people["Bob"])
    send(client, tablo, "\u202ehttps://evil.example/moc.knab//:sptth and https://evil.example/\u2067moc.knab\u2069 and "
                        "https://evil.example/\u200fx")
    page = client.get(f"/tablos/{tablo.id}/messages").text
    body = re.search(r'<p class="message-body" dir="auto">(.*?)</p>', page, re.S).group(1)
    links = re.findall(r'<a href="([^"]*)"( dir="ltr")? rel="noopener noreferrer nofollow" target="_blank">([^<]*)</a>', body)
    assert links == [("https://evil.example/moc.knab//:sptth", ' dir="ltr"', "https://evil.example/moc.knab//:sptth"),
                     ("https://evil.example/", ' dir="ltr"', "https://evil.example/"),
                     ("https://evil.example/", ' dir="ltr"', "https://evil.example/")]
    assert shown_messages(page)[0][1].endswith("\u2067moc.knab\u2069 and https://evil.example/\u200fx")


@pytest.mark.parametrize("body", [
    "http://a " * 444,                    # 444 links
    "https://a/" + ")" * 3990,            # one link, 3,990 brackets to weigh and trim
    "https://a/" + ".)" * 1995,
    "@Ada " * 800,                        # 800 mentions
    "@Adax" * 800,                        # 800 near misses
    "@" * 4000,
    "https:/" * 570,
    "x" * 4000,
])
def test_a_4000_character_message_is_drawn_in_milliseconds(body):
    """No input makes the text's patterns backtrack: the worst bodies of 4,000 characters are drawn
    in a few milliseconds (the bound is loose: a shared machine; backtracking takes seconds)."""
    import time
    names = ["Ada", "Ada Lovelace"] + [f"Member {n}" for n in range(200)]
    message_html(body, names)  # the mentions' pattern, compiled once per set of names
    timings = []
    for _ in range(3):
        start = time.perf_counter()
        message_html(body[:4000], names)
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.05


def test_line_breaks_are_kept(client, db, tablo, people):
    sign_in(client, people["Bob"])
    send(client, tablo, "one\ntwo\n\nthree")
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert '<p class="message-body" dir="auto">one\ntwo\n\nthree</p>' in page  # drawn with white-space: pre-wrap


def test_mentions_of_members_are_marked():
    names = ["Ada", "Ada Lovelace", "Bob"]
    out = str(message_html("@Ada Lovelace and @ada, @Bob! not @Bobby, not ada@Bob.com, not @Eve", names))
    assert re.findall(r'<span class="mention">([^<]+)</span>', out) == ["@Ada Lovelace", "@ada", "@Bob"]
    assert str(message_html("@<script>", ["<script>"])) == '<span class="mention">@&lt;script&gt;</span>'


def test_mentions_on_the_page_are_of_current_members(client, db, tablo, people, make_user):
    sign_in(client, people["Bob"])
    make_user(name="Zed")  # not a member
    send(client, tablo, "@Cy and @Zed")
    page = client.get(f"/tablos/{tablo.id}/messages").text
    assert re.findall(r'<span class="mention">([^<]+)</span>', page) == ["@Cy"]
