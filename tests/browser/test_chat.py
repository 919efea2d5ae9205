"""Chat (issue 11, persistence half) in a real browser: a message sent with the keyboard appears
once and the box is ready for the next, Shift+Enter makes a new line, older messages load above,
the author edits and deletes, the page fits a phone, axe finds nothing in either theme; and the
same without JavaScript."""

import re
from datetime import timedelta

import pytest
from babel.dates import format_timedelta
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer
from tests.browser.test_accessibility import SCHEMES, Axe, a_board_shared_with_a_viewer, other_person
from tests.browser.test_board_flow import create_tablo, sign_in, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def open_chat(page: Page) -> None:
    page.get_by_role("navigation", name="Tablo sections").get_by_role("link", name=re.compile(r"^Chat")).click()
    expect(page).to_have_url(re.compile(r"/tablos/\d+/messages$"))
    page.wait_for_load_state()  # app.js has run: until then Enter in the box only starts a line


def messages(page: Page):
    return page.locator("#messages > .message")


def expect_messages(page: Page, texts: list[str]) -> None:
    expect(page.locator("#messages > .message .message-body")).to_have_text(texts)


def post_directly(page: Page, count: int) -> None:
    """`count` messages posted with the page's own session and token, as quickly as a script
    can: the history that "Load older messages" pages through."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    url = re.sub(r"#.*$", "", page.url)
    for n in range(1, count + 1):
        response = page.request.post(url, form={"body": f"Old {n}", "client_key": f"old-{n}"},
                                     headers={"X-CSRFToken": token}, max_redirects=0)
        assert response.status == 303, response.status


def test_send_with_the_keyboard_load_older_edit_and_delete(page: Page) -> None:
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    expect(page.get_by_text("No message yet.")).to_be_visible()
    box = page.get_by_label("Message", exact=True)
    expect(page.get_by_text("Enter sends; Shift+Enter starts a new line.")).to_be_visible()

    # Shift+Enter makes a new line, Enter sends; the message appears once, the box empties and
    # keeps the focus for the next one.
    box.click()
    page.keyboard.type("First line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line with https://example.com/plan.")
    page.keyboard.press("Enter")
    expect(messages(page)).to_have_count(1)
    expect_messages(page, ["First line\nsecond line with https://example.com/plan."])
    link = messages(page).first.get_by_role("link", name="https://example.com/plan")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    expect(page.get_by_text("No message yet.")).to_be_hidden()
    page.keyboard.type("Second")
    page.keyboard.press("Enter")
    expect_messages(page, ["First line\nsecond line with https://example.com/plan.", "Second"])
    expect(messages(page).first.locator("time")).to_have_text("just now")

    # An empty message is refused where it was typed.
    page.keyboard.press("Enter")  # nothing typed: nothing sent
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#message-body-error")).to_have_text("Write something first.")
    expect(box).to_be_focused()
    page.reload()
    expect(messages(page)).to_have_count(2)

    # Edit: the author's own link, a page of its own, back to the chat.
    messages(page).nth(1).get_by_role("link", name=re.compile(r"^Edit")).click()
    page.get_by_label("Message", exact=True).fill("Second, edited")
    page.get_by_role("button", name="Save").click()
    expect(messages(page).nth(1).locator(".message-body")).to_have_text("Second, edited")
    expect(messages(page).nth(1).locator(".edited")).to_have_text("edited")

    # Delete, with htmx: asked first, then shown as deleted in place.
    page.once("dialog", lambda dialog: dialog.accept())
    messages(page).nth(1).get_by_role("button", name=re.compile(r"^Delete")).click()
    expect(messages(page).nth(1).locator(".message-body")).to_have_text("Message deleted")
    expect(messages(page).nth(1).get_by_role("link", name=re.compile(r"^Edit"))).to_have_count(0)

    # 55 more: the tab shows the latest 50; the older ones load above, by click, then the end.
    post_directly(page, 55)
    page.reload()
    expect(messages(page)).to_have_count(50)
    expect(messages(page).last.locator(".message-body")).to_have_text("Old 55")
    page.get_by_role("link", name="Load older messages").click()
    expect(messages(page)).to_have_count(57)
    expect(messages(page).first.locator(".message-body")).to_have_text("First line\nsecond line with https://example.com/plan.")
    expect(page.get_by_role("link", name="Load older messages")).to_have_count(0)
    # The reader keeps their place: the focus is on the message just above the one that was at
    # the top, which is still in view.
    expect(messages(page).nth(6)).to_be_focused()
    expect(messages(page).nth(7)).to_be_in_viewport()


def test_the_chat_fits_a_phone_and_sends_by_the_button(browser: Browser, live_server: LiveServer) -> None:
    context = other_person(browser, live_server, PHONE)
    try:
        page = context.new_page()
        sign_up(page, "Zoé")
        create_tablo(page, "Téléphone")
        open_chat(page)
        page.get_by_label("Message", exact=True).fill("https://example.com/" + "a-very-long-address-" * 10)
        page.get_by_role("button", name="Send", exact=True).click()
        expect(messages(page)).to_have_count(1)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width}px wide on a 390px screen"
    finally:
        context.close()


@pytest.mark.parametrize("context_options", [{"java_script_enabled": False}], ids=["no-javascript"])
def test_without_javascript_send_page_back_and_delete(page: Page) -> None:
    sign_up(page, "Noé")
    create_tablo(page, "Sans script")
    open_chat(page)
    page.get_by_label("Message", exact=True).fill("Hello\nthere")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page).to_have_url(re.compile(r"/messages#message-\d+$"))
    expect_messages(page, ["Hello\nthere"])
    page.go_back()
    page.go_forward()
    expect(messages(page)).to_have_count(1)
    messages(page).first.get_by_role("button", name=re.compile(r"^Delete")).click()
    expect(page.get_by_text("Message deleted.")).to_be_visible()
    expect_messages(page, ["Message deleted"])


@pytest.mark.parametrize("context_options", SCHEMES)
def test_the_chat_pages_have_no_axe_violations(page: Page, browser: Browser, live_server: LiveServer, context_options: dict) -> None:
    axe = Axe()
    viewer_context = other_person(browser, live_server, context_options)
    try:
        viewer = viewer_context.new_page()
        board_url = a_board_shared_with_a_viewer(page, viewer, live_server)
        page.goto(board_url)
        open_chat(page)
        box = page.get_by_label("Message", exact=True)
        box.fill("Hello @Vic, the plan: https://example.com/plan")
        box.press("Enter")
        expect(messages(page)).to_have_count(1)
        expect(messages(page).first.locator(".mention")).to_have_text("@Vic")
        page.get_by_role("button", name="Send", exact=True).click()
        expect(page.locator("#message-body-error")).to_be_visible()
        axe.check(page, "chat, as the owner, with an error")
        viewer.goto(board_url)
        tab = viewer.get_by_role("navigation", name="Tablo sections").get_by_role("link", name=re.compile(r"^Chat"))
        expect(tab).to_have_accessible_name(re.compile(r"^Chat \(1 unread message\)\s*$"))
        axe.check(viewer, "board, as a viewer with an unread message")
        open_chat(viewer)
        expect(viewer.locator(".unread")).to_have_count(0)
        viewer.get_by_label("Message", exact=True).fill("Thanks!")
        viewer.get_by_label("Message", exact=True).press("Enter")
        expect(messages(viewer)).to_have_count(2)
        axe.check(viewer, "chat, as a viewer")
        viewer.get_by_role("link", name=re.compile(r"^Edit")).click()
        axe.check(viewer, "edit message")
        viewer.goto("/tablos")
        axe.check(viewer, "my tablos")
        assert axe.violations == {}, f"axe found in the {context_options['color_scheme']} theme:\n{axe.report()}"
    finally:
        viewer_context.close()


def test_a_failed_send_is_said_and_the_text_kept(page: Page, browser: Browser, live_server: LiveServer) -> None:
    """No connection, then a session that ended elsewhere: the message stays in the box and the
    person is told, in words, near the box; the box says Enter sends; a text too long to send is
    refused with a message, not cut short by the box; right-to-left text reads right to left."""
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    box = page.get_by_label("Message", exact=True)
    expect(box).to_have_attribute("aria-describedby", "message-hint")
    expect(box).to_be_in_viewport()
    status = page.locator("#chat-status")
    expect(status).to_be_hidden()

    page.route("**/messages", lambda route: route.abort() if route.request.method == "POST" else route.continue_())
    box.fill("Lost in the tunnel")
    page.keyboard.press("Enter")
    expect(status).to_have_text("Not sent: no connection. Your message is still in the box; send it again when you are back online.")
    expect(box).to_have_value("Lost in the tunnel")
    page.unroute("**/messages")
    page.keyboard.press("Enter")
    expect_messages(page, ["Lost in the tunnel"])
    expect(status).to_be_hidden()

    # Too long for one message: said, and nothing of it lost.
    expect(box).not_to_have_attribute("maxlength", re.compile(".*"))
    box.fill("x" * 4001)
    page.keyboard.press("Enter")
    expect(page.locator("#message-body-error")).to_have_text("A message holds 4,000 characters at most: shorten it or send it in parts.")
    expect(box).to_have_value("x" * 4001)

    # Written right to left, shown right to left.
    box.fill("מה שלומך? נתראה מחר!")
    page.keyboard.press("Enter")
    expect(messages(page)).to_have_count(2)
    # (retried: the stream's copy of the message replaces the post's answer, at any moment)
    expect(messages(page).nth(1).locator(".message-body")).to_have_css("direction", "rtl")

    # Signed out in another tab: the send is refused, and the page says what to do.
    other = page.context.new_page()
    other.goto(f"{live_server.url}/tablos")
    other.get_by_role("button", name="Sign out").click()
    # (closing a tab while its navigation commits can hang Chromium's close: microsoft/playwright#42366)
    expect(other.get_by_text("You are signed out.")).to_be_visible()
    other.close()
    box.fill("After signing out")
    page.keyboard.press("Enter")
    expect(status).to_have_text("Not sent. Reload the page (you may need to sign in again); copy your message first.")
    expect(box).to_have_value("After signing out")



def send_and_hold(page: Page, text: str) -> list:
    """Send `text` from the box; its POST then waits, unanswered, in the returned list until the
    test lets it go (`continue_`) or cuts it (`abort`): a slow network, from the person's side.
    The posts after it go."""
    held: list = []

    def route(route) -> None:
        if route.request.method == "POST" and not held:
            held.append(route)
        else:
            route.continue_()

    page.unroute("**/messages")
    page.route("**/messages", route)
    page.get_by_label("Message", exact=True).fill(text)
    page.keyboard.press("Enter")
    for _ in range(250):
        if held:
            return held
        page.wait_for_timeout(20)  # lets Playwright call the route handler
    raise AssertionError("the message was never sent")


def test_the_next_message_is_typed_while_the_last_one_is_on_its_way(page: Page) -> None:
    """A quick typist sends, then writes the next message at once. The box empties as each message
    goes; each Enter is a message of its own, sent in order once the one before is answered, and
    text without its Enter stays in the box; the answer leaves the box alone (the caret where it
    was). A send that fails gives everything back, one per line: nothing is lost."""
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    box = page.get_by_label("Message", exact=True)
    status = page.locator("#chat-status")

    # As fast as a keyboard goes, on a quick server.
    box.click()
    page.keyboard.type("ok\nsure\nyes\nno\n")
    expect_messages(page, ["ok", "sure", "yes", "no"])
    expect(box).to_have_value("")

    # On a slow network: the first is on its way while two more and half of a third are typed.
    held = send_and_hold(page, "On my way")
    expect(box).to_have_value("")
    expect(box).to_be_focused()
    page.keyboard.type("Ten minutes late\nSorry\nunfinished")
    page.wait_for_timeout(200)  # a send that did not wait would have gone by now
    expect(messages(page)).to_have_count(4)
    expect(box).to_have_value("unfinished")
    held[0].continue_()
    expect_messages(page, ["ok", "sure", "yes", "no", "On my way", "Ten minutes late", "Sorry"])
    expect(box).to_have_value("unfinished")
    expect(box).to_be_focused()

    # The answer comes while the caret is inside the text being written: it stays there.
    held = send_and_hold(page, "Parking now")
    page.keyboard.type("hello world")
    for _ in range(6):
        page.keyboard.press("ArrowLeft")
    key = page.locator("input[name=client_key]")
    sent_with = key.input_value()
    held[0].continue_()
    expect(messages(page).last.locator(".message-body")).to_have_text("Parking now")
    expect(key).not_to_have_value(sent_with)  # the answer is in
    page.keyboard.type("X")
    expect(box).to_have_value("helloX world")

    # A send that fails: its text comes back, then the one waiting, then what was typed since.
    held = send_and_hold(page, "At the door")
    expect(box).to_have_value("")
    page.keyboard.type("Ring twice\nor knock")
    held[0].abort()
    expect(status).to_have_text("Not sent: no connection. Your message is still in the box; send it again when you are back online.")
    expect(box).to_have_value("At the door\nRing twice\nor knock")
    page.wait_for_timeout(200)
    expect(messages(page)).to_have_count(8)  # nothing went after the failure


def test_how_long_ago_is_said_again_as_time_passes(page: Page) -> None:
    """A chat left open says "just now", then "5 minutes ago", then "2 hours ago" without a
    reload, in the reader's language, and keeps the exact time on hover. (The page's clock is
    Playwright's, moved forward; the server's stays where it is.)"""
    page.clock.install()
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    page.get_by_label("Message", exact=True).fill("Coffee?")
    page.keyboard.press("Enter")
    when = messages(page).first.locator("time")
    expect(when).to_have_text("just now")
    exact_time = when.get_attribute("title")
    page.clock.fast_forward("05:00")
    expect(when).to_have_text("5 minutes ago")
    page.clock.fast_forward("01:55:00")
    expect(when).to_have_text("2 hours ago")
    expect(when).to_have_attribute("title", exact_time)

    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    when = messages(page).first.locator("time")
    expect(when).to_have_text("à l’instant")  # the server's clock: two minutes ago at most
    page.clock.fast_forward("26:00:00")
    expect(when).to_have_text("il y a 1 jour")


def test_an_answer_that_lands_late_says_the_time_as_the_page_does(page: Page) -> None:
    """On a slow network the answer to one's own send comes after the stream's copy of the
    message, drawn by the server when it was sent: it replaces the copy, and says how long ago as
    the page says it then, not "just now" until the next half-minute."""
    page.clock.install()
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    held = send_and_hold(page, "Coffee?")
    answer = held[0].fetch()  # stored and published: the stream brings it, the answer waits
    when = messages(page).first.locator("time")
    expect(when).to_have_text("just now")
    page.evaluate("document.querySelector('#messages > .message').dataset.streamCopy = ''")
    page.clock.fast_forward("05:00")
    expect(when).to_have_text("5 minutes ago")
    held[0].fulfill(response=answer)
    expect(page.locator("#messages > .message[data-stream-copy]")).to_have_count(0)  # replaced
    expect(messages(page)).to_have_count(1)
    expect(when).to_have_text("5 minutes ago")


AGES = [10, 50, 100, 200, 1000, 2700, 3200, 5000, 40000, 80000, 200000, 700000, 2000000, 5000000, 30000000, 100000000]


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_page_says_how_long_ago_in_the_words_the_server_uses(page: Page, language: str) -> None:
    """The browser's "how long ago" (app.js) is the server's (`ago`: Babel's words, units and
    rounding), for ages from seconds to years, so a time does not change its wording when the
    page redraws it."""
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    page.get_by_label("Message", exact=True).fill("Coffee?")
    page.keyboard.press("Enter")
    expect(messages(page)).to_have_count(1)
    if language == "fr":
        page.get_by_label("Language").select_option("fr")
        page.get_by_role("button", name="Change").click()
        expect(page.locator("html")).to_have_attribute("lang", "fr")
    said = page.evaluate("""(ages) => ages.map((seconds) => {
        const time = document.querySelector("#messages .message-meta time");
        time.setAttribute("datetime", new Date(Date.now() - seconds * 1000).toISOString());
        document.dispatchEvent(new Event("visibilitychange"));  // the page is shown again
        return time.textContent; })""", AGES)
    just_now = {"en": "just now", "fr": "à l’instant"}[language]
    assert said == [just_now if seconds < 45 else format_timedelta(timedelta(seconds=-seconds), add_direction=True, locale=language)
                    for seconds in AGES]


def test_a_refused_message_in_the_queue_comes_back_and_the_others_go_on(page: Page) -> None:
    """While a send is on its way: a text too long to send, then a short one, then some typing.
    The long one comes back to the box with what is wrong, before the typing; the short one still
    goes, as a message of its own. The person, gone to another field meanwhile, is left there.
    Leaving the page while messages wait to go asks first."""
    sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    box = page.get_by_label("Message", exact=True)

    held = send_and_hold(page, "A")
    box.fill("x" * 4001)
    page.keyboard.press("Enter")
    page.keyboard.type("C\ntyping")

    # Leaving now would lose what waits: the browser asks, and staying keeps it all.
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Tablo sections").get_by_role("link", name=re.compile(r"^Tasks")).click(no_wait_after=True)
    page.wait_for_timeout(300)
    assert asked == ["beforeunload"]
    expect(page).to_have_url(re.compile(r"/messages$"))

    page.get_by_label("Language").focus()  # somewhere else on the page
    held[0].continue_()
    expect_messages(page, ["A", "C"])
    expect(page.locator("#message-body-error")).to_have_text("A message holds 4,000 characters at most: shorten it or send it in parts.")
    expect(box).to_have_value("x" * 4001 + "\ntyping")
    expect(page.get_by_label("Language")).to_be_focused()


def test_a_send_after_being_signed_out_elsewhere_keeps_every_text_and_says_why(page: Page, browser: Browser, live_server: LiveServer) -> None:
    """The person's other browser signs every other one out while this one sends. The page does
    not go to the sign-in page with the texts: it stays, puts them back in the box, and says so."""
    email = sign_up(page, "Ada")
    create_tablo(page, "Chantier")
    open_chat(page)
    box = page.get_by_label("Message", exact=True)
    other = browser.new_context(base_url=live_server.url, locale="en-US")
    try:
        elsewhere = other.new_page()
        elsewhere.goto("/login")
        sign_in(elsewhere, email)
        elsewhere.goto("/account/sessions")
        held = send_and_hold(page, "In flight")
        page.keyboard.type("Waiting\ntyping")
        elsewhere.get_by_role("button", name="Sign out all other browsers").click()
        expect(elsewhere.get_by_text("Signed out 1 other browser.")).to_be_visible()
    finally:
        other.close()
    held[0].continue_()
    expect(page.locator("#chat-status")).to_have_text(
        "You are signed out: this chat no longer updates. Reload the page to sign in again (copy your message first).")
    expect(box).to_have_value("In flight\nWaiting\ntyping")
    expect(page).to_have_url(re.compile(r"/messages$"))
    expect(messages(page)).to_have_count(0)
