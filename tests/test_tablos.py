"""My tablos: create, open, rename, delete; only the owner sees or changes one."""

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import listed_tablos
from xtablo.models import Tablo, Task


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_create_and_list_tablos(client, db, login_as):
    login_as()
    assert "No tablo yet" in client.get("/tablos").text
    response = client.post("/tablos/new", data={"title": "  Website launch ", "description": "Q3", "color": "green"})
    tablo = db.session.scalar(select(Tablo))
    assert response.status_code == 303
    assert response.headers["Location"] == f"/tablos/{tablo.id}"
    assert tablo.title == "Website launch"
    page = client.get("/tablos").text
    assert "Website launch" in page and "0 tasks" in page and "color-green" in page


def test_home_page_is_my_tablos_once_signed_in(client, login_as):
    assert client.get("/").headers["Location"].startswith("/login")
    login_as()
    assert client.get("/").headers["Location"] == "/tablos"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"title": "", "color": "blue"}, "Give it a title."),
        ({"title": "   ", "color": "blue"}, "Give it a title."),
        ({"title": "x" * 10_000, "color": "blue"}, "Keep the title under 200 characters."),
        ({"title": "Fine", "color": "chartreuse"}, "Not a valid choice"),
        ({"title": "Fine", "color": "blue", "description": "d" * 10_001}, "Field cannot be longer than 10000 characters."),
    ],
)
def test_create_rejects_bad_input(client, db, login_as, data, message):
    login_as()
    response = client.post("/tablos/new", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert count(db, Tablo) == 0


def test_rename_and_recolour(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), title="Old")
    response = client.post(f"/tablos/{tablo.id}/edit", data={"title": "New", "description": "", "color": "red"})
    assert response.status_code == 303
    db.session.refresh(tablo)
    assert (tablo.title, tablo.color) == ("New", "red")
    assert "Tablo saved." in client.get(f"/tablos/{tablo.id}").text


def test_delete_asks_first_then_takes_the_tasks_along(client, db, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), title="Doomed", tasks=3)
    confirm = client.get(f"/tablos/{tablo.id}/delete")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    assert count(db, Tablo) == 1
    response = client.post(f"/tablos/{tablo.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/tablos"
    assert count(db, Tablo) == 0
    assert count(db, Task) == 0


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/tablos/{id}"),
        ("GET", "/tablos/{id}/edit"),
        ("POST", "/tablos/{id}/edit"),
        ("GET", "/tablos/{id}/delete"),
        ("POST", "/tablos/{id}/delete"),
        ("POST", "/tablos/{id}/tasks"),
    ],
)
def test_another_user_gets_404_and_changes_nothing(client, db, login_as, make_tablo, method, path):
    tablo = make_tablo(title="Private", tasks=1)
    login_as()
    response = client.open(path.format(id=tablo.id), method=method, data={"title": "Hacked", "color": "red"})
    assert response.status_code == 404
    assert "Private" not in response.text
    db.session.refresh(tablo)
    assert tablo.title == "Private"
    assert count(db, Task) == 1


def test_other_users_tablos_are_not_listed(client, login_as, make_tablo):
    make_tablo(title="Someone else's")
    make_tablo(owner=login_as(), title="Mine")
    response = client.get("/tablos")
    assert response.status_code == 200
    assert listed_tablos(response.text) == ["Mine"]


@pytest.mark.parametrize("path", ["/tablos/abc", "/tablos/0", "/tablos/-1", "/tablos/99999999999999", "/tablos/1.5"])
def test_malformed_ids_are_404(client, login_as, path):
    login_as()
    assert client.get(path).status_code == 404


def test_a_new_tablo_is_offered_the_colour_its_creator_uses_least(client, db, login_as, make_tablo):
    """Tablos side by side on the planning tell apart without anyone choosing a colour."""
    me = login_as()
    offered = re.compile(r'<input[^>]*name="color"[^>]*value="(\w+)"[^>]*checked|<input[^>]*checked[^>]*name="color"[^>]*value="(\w+)"')

    def offered_colour():
        match = offered.search(client.get("/tablos/new").text)
        return match.group(1) or match.group(2)

    assert offered_colour() == "blue"
    make_tablo(owner=me, color="blue")
    assert offered_colour() == "green"
    make_tablo(owner=me, color="green")
    make_tablo(owner=me, color="blue")
    assert offered_colour() == "orange"
    make_tablo(color="orange")  # someone else's: not among mine
    assert offered_colour() == "orange"
