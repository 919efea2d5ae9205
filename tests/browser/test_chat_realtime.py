"""Chat in real time (issue 11), in a real browser: two people in two browsers; what one sends
appears at the other's without a reload, with the controls each may use; the second goes
offline, misses two messages and an edit, comes back and sees exactly what it missed, once."""

import re
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import a_board_shared_with_a_viewer, other_person
from tests.browser.test_chat import expect_messages, messages, open_chat

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

RESUME_TIMEOUT = 20_000  # ms: the browser retries a lost stream after a growing pause


def send(page: Page, text: str) -> None:
    """Type and send a message: the box empties as it goes (a message sent before the last one
    is answered goes once it is, so the order holds)."""
    box = page.get_by_label("Message", exact=True)
    box.fill(text)
    page.keyboard.press("Enter")
    expect(box).to_have_value("")


def lose_the_stream(page: Page) -> None:
    """The viewer's stream breaks as a dropped network breaks it. Chromium's offline emulation
    (`set_offline`) only refuses new requests and leaves an open stream flowing, so the page's
    EventSource is closed and told of the error, as the browser does when it gives up on a
    connection: htmx's SSE extension then opens a new one, again and again until the network is
    back (app.js: from the last change received)."""
    page.evaluate("""() => { const source = document.getElementById("messages")["htmx-internal-data"].sseEventSource;
        source.close(); source.onerror(new Event("error")); }""")


def count_stream_opens(page: Page) -> None:
    page.evaluate("""() => { window.__streamOpens = 0;
        document.body.addEventListener("htmx:sseOpen", () => { window.__streamOpens += 1; }); }""")


@contextmanager
def owner_and_viewer_on_the_chat(page: Page, browser: Browser, live_server: LiveServer):
    """Olga (on `page`) and Vic, a viewer of her tablo, in a browser of his own: both on the
    tablo's Chat tab, their streams open. Gives Vic's page and the board's address."""
    viewer_context = other_person(browser, live_server, {})
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        for person in (page, viewer):
            person.goto(board_url)
            open_chat(person)
            expect(person.locator("#messages[sse-connect]")).to_have_count(1)
        yield viewer, board_url
    finally:
        viewer_context.close()


def test_two_people_chat_live_and_the_one_offline_catches_up(page: Page, browser: Browser, live_server: LiveServer) -> None:
    with owner_and_viewer_on_the_chat(page, browser, live_server) as (viewer, _):
        expect(viewer.get_by_text("No message yet.")).to_be_visible()

        # The owner sends; the viewer sees it without reloading; the owner sees it once (the
        # stream's copy replaced the post's answer).
        send(page, "Hello Vic")
        expect_messages(viewer, ["Hello Vic"])
        expect(viewer.get_by_text("No message yet.")).to_be_hidden()
        expect_messages(page, ["Hello Vic"])
        # Nobody but its author edits; the owner deletes anyone's: the streamed copy shows each
        # reader their own controls.
        expect(messages(viewer).first.get_by_role("link", name=re.compile(r"^Edit"))).to_be_hidden()
        expect(messages(viewer).first.get_by_role("button", name=re.compile(r"^Delete"))).to_be_hidden()
        expect(messages(page).first.get_by_role("link", name=re.compile(r"^Edit"))).to_be_visible()

        send(viewer, "Hi Olga")
        expect_messages(page, ["Hello Vic", "Hi Olga"])
        expect_messages(viewer, ["Hello Vic", "Hi Olga"])
        expect(messages(page).nth(1).get_by_role("button", name=re.compile(r"^Delete"))).to_be_visible()
        expect(messages(page).nth(1).get_by_role("link", name=re.compile(r"^Edit"))).to_be_hidden()
        expect(messages(viewer).nth(1).get_by_role("link", name=re.compile(r"^Edit"))).to_be_visible()

        # The viewer's network drops. Meanwhile: two messages, and the first of them edited.
        count_stream_opens(viewer)
        viewer.context.set_offline(True)
        lose_the_stream(viewer)
        send(page, "While you were away")
        expect_messages(page, ["Hello Vic", "Hi Olga", "While you were away"])  # one send at a time (hx-sync)
        send(page, "And one more")
        expect_messages(page, ["Hello Vic", "Hi Olga", "While you were away", "And one more"])
        messages(page).nth(2).get_by_role("link", name=re.compile(r"^Edit")).click()
        page.get_by_label("Message", exact=True).fill("While you were away (edited)")
        page.get_by_role("button", name="Save").click()
        expect(messages(page).nth(2).locator(".message-body")).to_have_text("While you were away (edited)")
        expect_messages(viewer, ["Hello Vic", "Hi Olga"])  # nothing reached the offline browser

        # Back online: the stream resumes from the last change it received, and the viewer sees
        # what it missed, each once, in order, without reloading.
        viewer.context.set_offline(False)
        expect(viewer.locator("#messages > .message .message-body")).to_have_text(
            ["Hello Vic", "Hi Olga", "While you were away (edited)", "And one more"], timeout=RESUME_TIMEOUT)
        expect(messages(viewer).nth(2).locator(".edited")).to_have_text("edited")
        assert viewer.evaluate("window.__streamOpens") >= 1  # it did reconnect
        expect(messages(viewer)).to_have_count(4)
        assert len(set(viewer.locator("#messages > .message").evaluate_all("items => items.map(item => item.id)"))) == 4


def test_a_message_seen_arriving_is_not_counted_unread(page: Page, browser: Browser, live_server: LiveServer) -> None:
    """The viewer has the Chat tab open: what arrives there is read. Back on "My tablos", the
    tablo shows no unread message; one that came while the viewer was elsewhere does count."""
    with owner_and_viewer_on_the_chat(page, browser, live_server) as (viewer, _):
        with viewer.expect_response(lambda response: response.url.endswith("/messages/read")) as told:
            send(page, "Seen live")
            expect_messages(viewer, ["Seen live"])
        assert told.value.status == 204
        viewer.goto(f"{live_server.url}/tablos")
        expect(viewer.locator(".badge.unread")).to_have_count(0)

        send(page, "Sent while away")
        expect_messages(page, ["Seen live", "Sent while away"])
        viewer.reload()
        expect(viewer.locator(".badge.unread")).to_have_text(["1"])


def test_a_new_message_is_read_out_and_a_lost_stream_is_said(page: Page, browser: Browser, live_server: LiveServer) -> None:
    with owner_and_viewer_on_the_chat(page, browser, live_server) as (viewer, _):
        send(page, "Meeting at 9")
        expect_messages(viewer, ["Meeting at 9"])
        expect(viewer.locator("#announcer")).to_have_text("Olga: Meeting at 9")
        expect(page.locator("#announcer")).not_to_have_text("Olga: Meeting at 9")  # one's own is not read out

        lose_the_stream(viewer)
        expect(viewer.locator("#chat-status")).to_have_text(
            "Reconnecting… New messages will appear when the connection is back.")
        expect(viewer.locator("#chat-status")).to_be_hidden(timeout=RESUME_TIMEOUT)  # back


def stream_requests(page: Page) -> list:
    """Every request the page makes for its chat's stream from now on, HEAD or GET."""
    seen: list = []
    page.on("request", lambda request: seen.append(request.method) if "/messages/stream" in request.url else None)
    return seen


def test_a_chat_that_cannot_come_back_says_why_and_stops_trying(page: Page, browser: Browser, live_server: LiveServer) -> None:
    """The viewer is removed from the tablo while reading its chat: their stream closes, and the
    page says the chat is no longer theirs instead of "Reconnecting…" forever. The owner signs
    out in another tab: their open chat says they are signed out. Neither page keeps asking."""
    with owner_and_viewer_on_the_chat(page, browser, live_server) as (viewer, board_url):
        send(page, "Bye Vic")
        expect_messages(viewer, ["Bye Vic"])

        viewer_asks = stream_requests(viewer)
        members = page.context.new_page()
        members.goto(board_url)
        members.get_by_role("link", name="Members").click()
        members.get_by_role("link", name="Remove Vic").click()
        members.get_by_role("button", name="Remove Vic").click()
        expect(members.get_by_role("link", name="Remove Vic")).to_have_count(0)
        status = viewer.locator("#chat-status")
        expect(status).to_have_text("This chat is no longer open to you: the tablo was deleted, "
                                    "or you are no longer one of its members.", timeout=RESUME_TIMEOUT)
        expect(viewer.locator("#messages[sse-connect]")).to_have_count(0)
        asked = len(viewer_asks)
        viewer.wait_for_timeout(3000)  # the extension would have tried again twice by now
        assert len(viewer_asks) == asked, viewer_asks

        owner_asks = stream_requests(page)
        members.get_by_role("button", name="Sign out").click()
        expect(members.get_by_text("You are signed out.")).to_be_visible()
        members.close()
        status = page.locator("#chat-status")
        expect(status).to_have_text("You are signed out: this chat no longer updates. "
                                    "Reload the page to sign in again (copy your message first).", timeout=RESUME_TIMEOUT)
        asked = len(owner_asks)
        page.wait_for_timeout(3000)
        assert len(owner_asks) == asked, owner_asks
