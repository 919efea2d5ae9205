"""The layout's header and footer, and the board around its columns, are drawn once per worker
and reused (xtablo/web/layout.py, board_html): what each reader sees must still be theirs, with
their own CSRF token, name and page."""

import re

from tests.conftest import csrf_sign_in
from xtablo.models import Role, TabloMember, Task


def header_token(page: str) -> str:
    """The token of the header's sign-out form."""
    form = re.search(r'<form method="post" action="/logout".*?</form>', page, re.S).group(0)
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def footer_next(page: str) -> str:
    footer = page[page.index('<footer'):]
    return re.search(r'name="next" value="([^"]*)"', footer).group(1)


def signed_in_name(page: str) -> str:
    return re.search(r'<a href="/account" title="[^"]*">([^<]*)</a>', page).group(1)


def test_each_reader_gets_their_own_name_and_token_in_the_header_and_both_sign_out(csrf_app, db, make_user):
    ada, bea = make_user(name="Ada"), make_user(name="Bea")
    clients = {}
    for person in (ada, bea):
        clients[person.name] = csrf_app.test_client()
        csrf_sign_in(clients[person.name], person)
    pages = {name: client.get("/tablos").text for name, client in clients.items()}
    assert signed_in_name(pages["Ada"]) == "Ada" and signed_in_name(pages["Bea"]) == "Bea"
    assert header_token(pages["Ada"]) != header_token(pages["Bea"])
    for name, client in clients.items():
        assert client.post("/logout", data={"csrf_token": header_token(pages[name])}).status_code == 303
        assert client.get("/tablos").status_code == 302  # signed out: sent to the sign-in page


def test_a_renamed_reader_sees_the_new_name_in_the_header_at_once(client, db, login_as):
    login_as()
    client.get("/tablos")
    assert client.post("/account", data={"name": "Ada Lovelace", "language": ""}).status_code == 303
    assert signed_in_name(client.get("/tablos").text) == "Ada Lovelace"


def test_the_language_form_comes_back_to_the_page_it_was_sent_from(client, db, login_as):
    login_as()
    assert footer_next(client.get("/tablos").text) == "/tablos"
    assert footer_next(client.get("/account").text) == "/account"
    assert footer_next(client.get("/planning?view=month&date=2027-03-01").text) == "/planning?view=month&amp;date=2027-03-01"
    response = client.post("/language", data={"lang": "fr", "next": "/account"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/account")
    assert 'lang="fr"' in client.get("/account").text.split(">", 2)[1]


def test_the_planning_link_is_marked_current_only_on_the_planning(client, db, login_as):
    login_as()
    current = re.compile(r'<a href="/planning" aria-current="page"')
    assert current.search(client.get("/planning").text)
    assert not current.search(client.get("/tablos").text)


def test_two_members_each_add_a_task_with_the_token_of_their_own_board_page(csrf_app, db, make_user, make_tablo):
    owner, editor = make_user(name="Ada"), make_user(name="Bea")
    tablo = make_tablo(owner=owner, tasks=3)
    TabloMember.add(tablo, editor, Role.EDITOR, added_by=owner)
    db.session.commit()
    for person in (owner, editor):
        client = csrf_app.test_client()
        csrf_sign_in(client, person)
        page = client.get(f"/tablos/{tablo.id}").text
        form = re.search(r'<details class="new-task".*?</form>', page, re.S).group(0)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        response = client.post(f"/tablos/{tablo.id}/tasks", data={"csrf_token": token, "title": f"By {person.name}", "status": "todo"})
        assert response.status_code == 303, response.text
    titles = {task.title for task in db.session.scalars(db.select(Task).where(Task.tablo_id == tablo.id))}
    assert {"By Ada", "By Bea"} <= titles


def test_each_unverified_reader_is_asked_to_verify_their_own_address_from_the_page_they_are_on(client, db, make_user, auth):
    for person in (make_user(email="ada@example.com", verified=False), make_user(email="bea@example.com", verified=False)):
        auth.login(person)
        for path in ("/tablos", "/account"):
            banner = re.search(r'<div class="banner" id="verify-banner">.*?</div>', client.get(path).text, re.S).group(0)
            assert f"we sent a link to {person.email}" in banner
            assert f'name="next" value="{path}"' in banner
        client.post("/logout")


def test_a_renamed_tablo_shows_its_new_title_and_description_on_every_tab_at_once(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), title="Launch")
    tabs = ("", "/etapes", "/events", "/members")
    for tab in tabs:
        assert "<h1>Launch</h1>" in client.get(f"/tablos/{tablo.id}{tab}").text
    assert client.post(f"/tablos/{tablo.id}/edit", data={"title": "Relaunch", "description": "Second try", "color": "green"}).status_code == 303
    for tab in tabs:
        page = client.get(f"/tablos/{tablo.id}{tab}").text
        assert "<h1>Relaunch</h1>" in page and "Second try" in page and "color-green" in page
