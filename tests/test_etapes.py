"""Étapes (issue 9): the stages of a tablo, a second axis over its tasks. A task belongs to at most
one étape of its tablo and keeps its column and place; deleting an étape keeps its tasks, now
without one (ON DELETE SET NULL, run by the database)."""

import html
import json
import re
import threading

import pytest
from sqlalchemy import select, text

from tests.conftest import PASSWORD, field_errors
from tests.test_queries import count_queries  # noqa: F401  (a fixture)
from tests.test_tasks import board_titles, run_together, signed_in_browsers
from xtablo.extensions import db as _db
from xtablo.models import Etape, EtapeDeleted, Role, Task, TabloMember

HTMX = {"HX-Request": "true"}


@pytest.fixture
def tablo(login_as, make_tablo):
    return make_tablo(owner=login_as(), tasks={"todo": ["A", "B", "C"], "in_progress": ["D"], "done": ["E"]})


def task_named(db, title: str) -> Task:
    db.session.rollback()
    return db.session.scalar(select(Task).where(Task.title == title))


def etapes_of(db, tablo) -> list[tuple[str, int]]:
    db.session.rollback()
    return [tuple(row) for row in db.session.execute(
        select(Etape.title, Etape.position).where(Etape.tablo_id == tablo.id).order_by(Etape.position))]


def add_etapes(client, tablo, *titles) -> list[int]:
    for title in titles:
        assert client.post(f"/tablos/{tablo.id}/etapes", data={"title": title}).status_code == 303
    _db.session.rollback()
    return list(_db.session.scalars(select(Etape.id).where(Etape.tablo_id == tablo.id).order_by(Etape.position)))


def file(client, tablo, etape_id: int, *titles) -> None:
    for title in titles:
        task = task_named(_db, title)
        response = client.post(f"/tablos/{tablo.id}/etapes/{etape_id}/tasks", data={"task_id": str(task.id)})
        assert response.status_code == 303, response.text


def shown_etapes(page: str) -> list[tuple[str, str, list[str]]]:
    """(title, progress as drawn, task titles) of each étape on the Étapes tab, in order."""
    found = []
    for item in page.split('<li class="etape card"')[1:]:
        title = re.search(r'<h2 id="etape-\d+-title"[^>]*>([^<]+)</h2>', item).group(1)
        progress = " ".join(re.search(r'class="progress-text"[^>]*>([^<]+)</p>', item).group(1).split())
        tasks = re.findall(r'<li id="etape-task-\d+">\s*<a href="[^"]+">([^<]+)</a>', item)
        found.append((html.unescape(title), progress, [html.unescape(t) for t in tasks]))
    return found


def card_etapes(page: str) -> dict[str, str]:
    """{card title: the étape it shows} on a rendered board."""
    return {html.unescape(t): html.unescape(e) for t, e in re.findall(
        r'class="task-title"[^>]*>([^<]+)</a><span class="badge etape-mark"><span class="visually-hidden">[^<]*</span>([^<]+)</span>', page)}


# -- The model -----------------------------------------------------------------------------------


def test_deleting_an_etape_keeps_its_tasks_without_one(app, db, make_tablo):
    tablo = make_tablo(tasks=3)
    etudes, gros_oeuvre = Etape(tablo_id=tablo.id, title="Études", position=0), Etape(tablo_id=tablo.id, title="Gros œuvre", position=1)
    db.session.add_all([etudes, gros_oeuvre])
    db.session.flush()
    first, second, third = db.session.scalars(select(Task).order_by(Task.position))
    first.etape_id = second.etape_id = etudes.id
    third.etape_id = gros_oeuvre.id
    db.session.commit()

    db.session.delete(etudes)  # the ORM loads none of its tasks: the database ungroups them
    db.session.commit()

    rows = db.session.execute(text("SELECT title, etape_id FROM tasks ORDER BY position")).all()
    assert rows == [("Task 1", None), ("Task 2", None), ("Task 3", gros_oeuvre.id)]


def test_deleting_a_tablo_deletes_its_etapes(app, db, make_tablo):
    tablo = make_tablo(tasks=1)
    db.session.add(Etape(tablo_id=tablo.id, title="Finitions", position=0))
    db.session.commit()
    db.session.delete(tablo)
    db.session.commit()
    assert db.session.execute(text("SELECT count(*) FROM etapes")).scalar() == 0


def test_a_task_is_never_filed_under_another_tablos_etape_even_by_the_model(app, db, make_tablo):
    mine, theirs = make_tablo(tasks=1), make_tablo(tasks=0)
    foreign = Etape.create(theirs, title="Theirs")
    db.session.commit()
    task = db.session.scalar(select(Task).where(Task.tablo_id == mine.id))
    with pytest.raises(EtapeDeleted):
        task.file_under(foreign.id)
    db.session.rollback()
    assert db.session.get(Task, task.id).etape_id is None


# -- The Étapes tab ------------------------------------------------------------------------------


def test_create_etapes_in_order_with_description_tasks_and_progress(client, db, tablo):
    assert client.get(f"/tablos/{tablo.id}/etapes").text.count("No étape yet.") == 1
    response = client.post(f"/tablos/{tablo.id}/etapes", data={"title": "  Études  ", "description": "Plans et permis"})
    assert response.status_code == 303
    etudes, gros_oeuvre, finitions = add_etapes(client, tablo, "Gros œuvre", "Finitions")[0:1] + add_etapes(client, tablo)[1:]
    assert etapes_of(db, tablo) == [("Études", 0), ("Gros œuvre", 1), ("Finitions", 2)]
    file(client, tablo, etudes, "A", "D", "E")
    file(client, tablo, gros_oeuvre, "B")

    page = client.get(f"/tablos/{tablo.id}/etapes").text
    assert shown_etapes(page) == [
        ("Études", "1 / 3 done", ["A", "D", "E"]),  # by column, then place in the column
        ("Gros œuvre", "0 / 1 done", ["B"]),
        ("Finitions", "0 / 0 done", []),
    ]
    assert "Plans et permis" in page
    assert '<progress max="3" value="1"' in page
    assert "1 task has no étape." in page  # C


def test_rename_and_describe_an_etape(client, db, tablo):
    (etape_id,) = add_etapes(client, tablo, "Etudes")
    page = client.get(f"/tablos/{tablo.id}/etapes/{etape_id}").text
    assert 'value="Etudes"' in page and "<h1>Edit étape</h1>" in page
    response = client.post(f"/tablos/{tablo.id}/etapes/{etape_id}", data={"title": "Études", "description": "Esquisse, APS, APD"})
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "Étape saved." in page and shown_etapes(page)[0][0] == "Études" and "Esquisse, APS, APD" in page


@pytest.mark.parametrize("data, error", [
    ({"title": ""}, "Give it a title."),
    ({"title": "   "}, "Give it a title."),
    ({"title": "x" * 101}, "Keep the title under 100 characters."),
    ({"title": "Ok", "description": "x" * 10_001}, "Field cannot be longer than 10000 characters."),
])
def test_bad_titles_are_refused_under_their_field_and_nothing_is_written(client, db, tablo, data, error):
    (etape_id,) = add_etapes(client, tablo, "Études")
    for url in (f"/tablos/{tablo.id}/etapes", f"/tablos/{tablo.id}/etapes/{etape_id}"):
        response = client.post(url, data=data)
        assert response.status_code == 422
        assert error in field_errors(response.text).values()
        assert etapes_of(db, tablo) == [("Études", 0)]


def test_a_refused_htmx_create_keeps_the_form_open_and_says_why(client, db, tablo):
    response = client.post(f"/tablos/{tablo.id}/etapes", data={"title": ""}, headers=HTMX)
    assert response.status_code == 422
    assert response.text.lstrip().startswith('<div id="etapes-tab"')
    assert '<details class="new-etape" open>' in response.text
    assert field_errors(response.text) == {"title": "Give it a title."}
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {"xtablo:announce": "Give it a title.", "xtablo:focus": "#title"}


def test_htmx_create_answers_with_the_tab_and_keeps_the_form_open_for_the_next(client, db, tablo):
    response = client.post(f"/tablos/{tablo.id}/etapes", data={"title": "Études"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="etapes-tab"') and "<html" not in response.text
    assert '<details class="new-etape" open>' in response.text and 'value=""' in response.text
    assert [e[0] for e in shown_etapes(response.text)] == ["Études"]
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {"xtablo:announce": "Étape “Études” added.", "xtablo:focus": "#title"}


def test_reorder_with_the_buttons_keeps_the_focus_on_the_button(client, db, tablo):
    first, second, third = add_etapes(client, tablo, "One", "Two", "Three")
    page = client.get(f"/tablos/{tablo.id}/etapes").text
    # The buttons post the place one up or one down; at the ends, the first place or one past the last.
    ups = re.findall(r'name="position" value="(\d+)">\s*<button type="submit" class="button small move-up"', page)
    downs = re.findall(r'name="position" value="(\d+)">\s*<button type="submit" class="button small move-down"', page)
    assert (ups, downs) == (["1", "1", "2"], ["2", "3", "4"])
    # At the ends they say so, and keep the focus where it was.
    response = client.post(f"/tablos/{tablo.id}/etapes/{third}/move", data={"position": "4"}, headers=HTMX)
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“Three” is already the last étape.", "xtablo:focus": f"#etape-{third} .move-down"}
    response = client.post(f"/tablos/{tablo.id}/etapes/{first}/move", data={"position": "1"}, headers=HTMX)
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“One” is already the first étape.", "xtablo:focus": f"#etape-{first} .move-up"}
    assert etapes_of(db, tablo) == [("One", 0), ("Two", 1), ("Three", 2)]

    response = client.post(f"/tablos/{tablo.id}/etapes/{third}/move", data={"position": "2"}, headers=HTMX)
    assert response.status_code == 200
    assert [e[0] for e in shown_etapes(response.text)] == ["One", "Three", "Two"]
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "Étape “Three” moved to position 2.", "xtablo:focus": f"#etape-{third} .move-up"}
    response = client.post(f"/tablos/{tablo.id}/etapes/{first}/move", data={"position": "2"}, headers=HTMX)
    assert json.loads(response.headers["HX-Trigger-After-Settle"])["xtablo:focus"] == f"#etape-{first} .move-down"
    assert etapes_of(db, tablo) == [("Three", 0), ("One", 1), ("Two", 2)]
    # Without JavaScript: a redirect to the tab, at the étape.
    response = client.post(f"/tablos/{tablo.id}/etapes/{second}/move", data={"position": "1"})
    assert response.status_code == 303 and response.headers["Location"] == f"/tablos/{tablo.id}/etapes#etape-{second}"
    assert etapes_of(db, tablo) == [("Two", 0), ("Three", 1), ("One", 2)]


def test_a_position_past_the_end_means_the_end(client, db, tablo):
    first, _, _ = add_etapes(client, tablo, "One", "Two", "Three")
    client.post(f"/tablos/{tablo.id}/etapes/{first}/move", data={"position": "99999"})
    assert etapes_of(db, tablo) == [("Two", 0), ("Three", 1), ("One", 2)]


@pytest.mark.parametrize("position, error", [
    ("0", "The position is a number from 1 up."),
    ("-3", "The position is a number from 1 up."),
    ("100001", "The position is a number from 1 up."),
    ("two", "Not a valid integer value."),
    ("", "Give a position."),
])
def test_positions_out_of_range_are_refused_and_nothing_moves(client, db, tablo, position, error):
    first, second = add_etapes(client, tablo, "One", "Two")
    response = client.post(f"/tablos/{tablo.id}/etapes/{second}/move", data={"position": position}, headers=HTMX)
    assert response.status_code == 422
    assert error in response.text and '<p class="error" role="alert">' in response.text
    assert error in json.loads(response.headers["HX-Trigger-After-Settle"])["xtablo:announce"]
    assert etapes_of(db, tablo) == [("One", 0), ("Two", 1)]
    # Without JavaScript, the same sentence on the whole page.
    response = client.post(f"/tablos/{tablo.id}/etapes/{second}/move", data={"position": position})
    assert response.status_code == 422 and error in response.text and "<html" in response.text


def test_delete_says_how_many_tasks_it_ungroups_and_keeps_them(client, db, tablo):
    etudes, finitions = add_etapes(client, tablo, "Études", "Finitions")
    file(client, tablo, etudes, "A", "D")
    page = client.get(f"/tablos/{tablo.id}/etapes/{etudes}/delete").text
    assert "Delete the étape “Études”?" in html.unescape(page)
    assert "Its 2 tasks will be ungrouped: they stay on the board, in their columns, without étape." in page
    assert "It has no task" in client.get(f"/tablos/{tablo.id}/etapes/{finitions}/delete").text

    response = client.post(f"/tablos/{tablo.id}/etapes/{etudes}/delete")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).text
    assert "Étape “Études” deleted; its 2 tasks stay on the board, without étape." in html.unescape(page)
    assert etapes_of(db, tablo) == [("Finitions", 0)]  # renumbered from 0
    board = client.get(f"/tablos/{tablo.id}").text
    assert board_titles(board, "todo") == ["A", "B", "C"] and board_titles(board, "in_progress") == ["D"]
    assert card_etapes(board) == {}


def test_file_and_unfile_tasks_with_htmx(client, db, tablo):
    (etudes,) = add_etapes(client, tablo, "Études")
    a = task_named(db, "A")
    response = client.post(f"/tablos/{tablo.id}/etapes/{etudes}/tasks", data={"task_id": str(a.id)}, headers=HTMX)
    assert response.status_code == 200
    assert shown_etapes(response.text) == [("Études", "0 / 1 done", ["A"])]
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“A” added to étape “Études”.", "xtablo:focus": f"#file-task-{etudes}"}
    # The select offers only the tasks without étape.
    options = re.findall(r'<option value="\d+">([^<]+)</option>', response.text.split(f'id="file-task-{etudes}"')[1].split("</select>")[0])
    assert options == ["B (To do)", "C (To do)", "D (In progress)", "E (Done)"]

    response = client.post(f"/tablos/{tablo.id}/tasks/{a.id}/etape", data={"etape_id": ""}, headers=HTMX)
    assert response.status_code == 200
    assert shown_etapes(response.text) == [("Études", "0 / 0 done", [])]
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“A” no longer has an étape.", "xtablo:focus": f"#etape-{etudes}-title"}
    assert task_named(db, "A").etape_id is None


def test_viewers_read_etapes_but_cannot_change_them(client, db, tablo, make_user, auth):
    (etudes,) = add_etapes(client, tablo, "Études")
    file(client, tablo, etudes, "A")
    viewer = make_user(name="Vera")
    TabloMember.add(tablo, viewer, Role.VIEWER, added_by=tablo.created_by)
    db.session.commit()
    auth.logout()
    auth.login(viewer)
    page = client.get(f"/tablos/{tablo.id}/etapes").text
    assert shown_etapes(page) == [("Études", "0 / 1 done", ["A"])]
    assert "<form method=\"post\"" not in page.split('id="etapes-tab"')[1].split("</main>")[0]
    assert "Sortable" not in page and "data-move-url" not in page
    assert client.post(f"/tablos/{tablo.id}/etapes", data={"title": "Mine"}).status_code == 403
    assert etapes_of(db, tablo) == [("Études", 0)]


# -- Bad input: another tablo's étape or task, unknown ids --------------------------------------


def test_filing_under_another_tablos_etape_is_refused_everywhere(client, db, tablo, make_tablo):
    other = make_tablo(owner=tablo.created_by, title="Other", tasks=1)
    (foreign,) = add_etapes(client, other, "Theirs")
    (mine,) = add_etapes(client, tablo, "Mine")
    a = task_named(db, "A")
    message = "Choose one of this tablo's étapes, or none."

    response = client.post(f"/tablos/{tablo.id}/tasks/{a.id}", data={"title": "A", "etape_id": str(foreign)})
    assert response.status_code == 422 and field_errors(response.text) == {"etape_id": message}
    response = client.post(f"/tablos/{tablo.id}/tasks", data={"title": "New", "status": "todo", "etape_id": str(foreign)})
    assert response.status_code == 422 and field_errors(response.text) == {"etape_id": message}
    response = client.post(f"/tablos/{tablo.id}/tasks/{a.id}/etape", data={"etape_id": str(foreign)})
    assert response.status_code == 303 and message in html.unescape(client.get(response.headers["Location"]).text)
    # The étape of another tablo, addressed through this one: not found.
    assert client.post(f"/tablos/{tablo.id}/etapes/{foreign}/tasks", data={"task_id": str(a.id)}).status_code == 404
    # A task of another tablo, filed under this tablo's étape: a sentence under the select.
    theirs = db.session.scalar(select(Task).where(Task.tablo_id == other.id))
    for value in (str(theirs.id), "999999", "abc", "²", "-1", ""):
        response = client.post(f"/tablos/{tablo.id}/etapes/{mine}/tasks", data={"task_id": value})
        assert response.status_code == 422, value
        assert re.search(rf'<p class="error" id="file-task-{mine}-error">(Choose one of this tablo&#39;s tasks.|Choose a task.)</p>', response.text), value

    db.session.rollback()
    assert db.session.scalars(select(Task.etape_id).where(Task.etape_id.is_not(None))).all() == []
    assert db.session.scalar(select(Task).where(Task.title == "New")) is None


def test_unknown_etape_ids_are_404(client, db, tablo):
    for path in ("", "/move", "/delete", "/tasks"):
        method = client.get if path in ("", "/delete") else client.post
        assert method(f"/tablos/{tablo.id}/etapes/424242{path}").status_code == 404, path


# -- On the board ------------------------------------------------------------------------------


def test_cards_show_their_etape_and_the_task_page_files_it(client, db, tablo):
    etudes, finitions = add_etapes(client, tablo, "Études", "Finitions")
    a = task_named(db, "A")
    page = client.get(f"/tablos/{tablo.id}/tasks/{a.id}").text
    assert re.search(r'<label for="etape_id">Étape</label>\s*<select id="etape_id" name="etape_id">', page)
    assert re.findall(r"<option[^>]*>([^<]+)</option>", page.split('id="etape_id"')[1].split("</select>")[0]) == ["No étape", "Études", "Finitions"]

    response = client.post(f"/tablos/{tablo.id}/tasks/{a.id}", data={"title": "A", "etape_id": str(finitions)})
    assert response.status_code == 303
    assert card_etapes(client.get(f"/tablos/{tablo.id}").text) == {"A": "Finitions"}
    assert '<option selected value="%d">Finitions</option>' % finitions in client.get(f"/tablos/{tablo.id}/tasks/{a.id}").text
    # Saving the page again without choosing keeps nothing else: "No étape" takes it out.
    client.post(f"/tablos/{tablo.id}/tasks/{a.id}", data={"title": "A", "etape_id": ""})
    assert card_etapes(client.get(f"/tablos/{tablo.id}").text) == {}


def test_add_a_task_under_an_etape_from_the_board(client, db, tablo):
    (etudes,) = add_etapes(client, tablo, "Études")
    board = client.get(f"/tablos/{tablo.id}").text
    assert '<label for="etape_id">Étape</label>' in board
    response = client.post(f"/tablos/{tablo.id}/tasks", data={"title": "Permis", "status": "todo", "etape_id": str(etudes)}, headers=HTMX)
    assert response.status_code == 200
    assert card_etapes(response.text) == {"Permis": "Études"}
    # The form stays on that étape for the next task.
    assert f'<option selected value="{etudes}">Études</option>' in response.text


def test_a_board_without_etapes_offers_no_filter(client, tablo):
    board = client.get(f"/tablos/{tablo.id}").text
    assert 'id="board-filter"' not in board and 'id="etape_id"' not in board


def test_filter_the_board_by_etape_and_by_none(client, db, tablo):
    etudes, finitions = add_etapes(client, tablo, "Études", "Finitions")
    file(client, tablo, etudes, "A", "D")
    file(client, tablo, finitions, "E")

    page = client.get(f"/tablos/{tablo.id}?etape={etudes}").text
    assert (board_titles(page, "todo"), board_titles(page, "in_progress"), board_titles(page, "done")) == (["A"], ["D"], [])
    assert f'<option value="{etudes}" selected>Études</option>' in page
    assert re.search(r'id="column-todo-title">To do <span class="count">1</span>', page)
    # Posts made on the filtered board come back to it; "Add a task" files under its étape.
    assert f'action="/tablos/{tablo.id}/tasks?etape={etudes}"' in page
    assert f'<option selected value="{etudes}">Études</option>' in page

    page = client.get(f"/tablos/{tablo.id}?etape=none").text
    assert (board_titles(page, "todo"), board_titles(page, "done")) == (["B", "C"], [])
    assert '<option value="none" selected>Without étape</option>' in page

    page = client.get(f"/tablos/{tablo.id}?etape=").text
    assert board_titles(page, "todo") == ["A", "B", "C"]


@pytest.mark.parametrize("value", ["424242", "abc", "-1", "1.5", "%00"])
def test_an_unknown_filter_says_so_and_shows_the_whole_board(client, db, tablo, make_tablo, value):
    other = make_tablo(owner=tablo.created_by, title="Other")
    add_etapes(client, other, "Theirs")
    response = client.get(f"/tablos/{tablo.id}?etape={value}")
    assert response.status_code == 404
    assert "There is no such étape on this tablo (it may have been deleted): here are all the tasks." in html.unescape(response.text)
    assert board_titles(response.text, "todo") == ["A", "B", "C"]


def test_another_tablos_etape_is_an_unknown_filter(client, db, tablo, make_tablo):
    other = make_tablo(owner=tablo.created_by, title="Other")
    (theirs,) = add_etapes(client, other, "Theirs")
    response = client.get(f"/tablos/{tablo.id}?etape={theirs}")
    assert response.status_code == 404 and board_titles(response.text, "todo") == ["A", "B", "C"]


def test_htmx_filter_keeps_the_focus_on_the_filter(client, db, tablo):
    (etudes,) = add_etapes(client, tablo, "Études")
    response = client.get(f"/tablos/{tablo.id}?etape={etudes}", headers=HTMX | {"HX-Trigger": "board-filter"})
    assert response.text.lstrip().startswith('<div id="board"')
    assert json.loads(response.headers["HX-Trigger-After-Settle"]) == {"xtablo:focus": "#etape-filter"}


def test_a_drag_on_a_filtered_board_lands_next_to_the_card_it_was_dropped_by(client, db, tablo):
    """The filtered "To do" shows A and C (B is in another étape). Dropping E between A and C is
    index 1 of what the person sees, but its place in the whole column is after B: before C."""
    etudes, other = add_etapes(client, tablo, "Études", "Autre")
    file(client, tablo, etudes, "A", "C", "E")
    file(client, tablo, other, "B")
    e = task_named(db, "E")
    url = f"/tablos/{tablo.id}/tasks/{e.id}/move?etape={etudes}"
    c = task_named(db, "C")
    response = client.post(url, data={"status": "todo", "position": "2", "before": str(c.id)}, headers=HTMX)
    assert response.status_code == 200
    assert board_titles(response.text, "todo") == ["A", "E", "C"]  # the filtered board comes back
    assert board_titles(client.get(f"/tablos/{tablo.id}").text, "todo") == ["A", "B", "E", "C"]
    # Dropped last of the filtered column: after the card above it.
    a = task_named(db, "A")
    client.post(f"/tablos/{tablo.id}/tasks/{a.id}/move?etape={etudes}", data={"status": "todo", "position": "3", "after": str(c.id)})
    assert board_titles(client.get(f"/tablos/{tablo.id}").text, "todo") == ["B", "E", "C", "A"]
    # A neighbour that left the column meanwhile: the position decides.
    d = task_named(db, "D")
    client.post(f"/tablos/{tablo.id}/tasks/{a.id}/move", data={"status": "todo", "position": "1", "before": str(d.id)})
    assert board_titles(client.get(f"/tablos/{tablo.id}").text, "todo") == ["A", "B", "E", "C"]


def test_a_renamed_or_deleted_etape_shows_on_the_cached_board_at_once(app, app_env, client, db, tablo):
    """Each worker caches the board's columns; renaming an étape (through another worker) changes
    no task row, and deleting one ungroups its tasks inside the database: the board must show
    both at once."""
    from tests.conftest import Client, TestingConfig
    from xtablo import create_app

    (etudes,) = add_etapes(client, tablo, "Études")
    file(client, tablo, etudes, "A")
    assert card_etapes(client.get(f"/tablos/{tablo.id}").text) == {"A": "Études"}  # now cached
    assert card_etapes(client.get(f"/tablos/{tablo.id}?etape={etudes}").text) == {"A": "Études"}

    other_worker = create_app(TestingConfig(app_env))
    other_worker.test_client_class = Client
    try:
        second = other_worker.test_client()
        second.post("/login", data={"email": tablo.created_by.email, "password": PASSWORD})
        assert second.post(f"/tablos/{tablo.id}/etapes/{etudes}", data={"title": "Études préalables"}).status_code == 303
        assert card_etapes(client.get(f"/tablos/{tablo.id}").text) == {"A": "Études préalables"}
        assert card_etapes(client.get(f"/tablos/{tablo.id}?etape={etudes}").text) == {"A": "Études préalables"}
        assert second.post(f"/tablos/{tablo.id}/etapes/{etudes}/delete").status_code == 303
        page = client.get(f"/tablos/{tablo.id}").text
        assert card_etapes(page) == {} and 'id="board-filter"' not in page
        assert client.get(f"/tablos/{tablo.id}?etape={etudes}").status_code == 404
    finally:
        with other_worker.app_context():
            _db.engine.dispose()


def test_the_etapes_tab_costs_the_same_for_3_and_300_tasks(client, db, login_as, make_tablo, count_queries):  # noqa: F811
    owner = login_as()
    counts = {}
    for tasks in (3, 300):
        tablo = make_tablo(owner=owner, tasks=tasks)
        ids = add_etapes(client, tablo, "One", "Two", "Three")
        db.session.rollback()
        for index, task_id in enumerate(db.session.scalars(select(Task.id).where(Task.tablo_id == tablo.id))):
            if index % 2:
                client.post(f"/tablos/{tablo.id}/etapes/{ids[index % 3]}/tasks", data={"task_id": str(task_id)})
        with count_queries() as counter:
            response = client.get(f"/tablos/{tablo.id}/etapes")
        assert response.status_code == 200
        assert sum(len(tasks) for _, _, tasks in shown_etapes(response.text)) == tasks // 2
        counts[tasks] = counter.count
    assert counts[3] == counts[300]


# -- Concurrency --------------------------------------------------------------------------------


def test_concurrent_reorders_leave_positions_0_to_n_minus_1(app, db, make_tablo, make_user):
    """Eight people reorder the same étapes at once: afterwards every étape is there once, and
    the positions are 0..n-1 with no gap and no duplicate."""
    owner = make_user()
    tablo = make_tablo(owner=owner)
    for index in range(6):
        Etape.create(tablo, title=f"Étape {index}")
    db.session.commit()
    tablo_id = tablo.id
    ids = list(db.session.scalars(select(Etape.id).where(Etape.tablo_id == tablo_id)))
    browsers = signed_in_browsers(app, owner.email, 8)
    db.session.rollback()

    def mover(seed: int):
        def move() -> None:
            for step in range(15):
                etape_id = ids[(seed * 5 + step * 7) % len(ids)]
                response = browsers[seed].post(f"/tablos/{tablo_id}/etapes/{etape_id}/move", data={"position": (seed + step) % 7 + 1})
                assert response.status_code == 303, response.status_code
        return move

    failures = run_together(*(mover(seed) for seed in range(8)))
    assert failures == [], "\n".join(failures)
    db.session.rollback()
    rows = db.session.execute(select(Etape.id, Etape.position).where(Etape.tablo_id == tablo_id)).all()
    assert sorted(row.id for row in rows) == sorted(ids)
    assert sorted(row.position for row in rows) == list(range(len(ids)))


def test_a_reorder_waits_for_a_concurrent_delete_and_builds_on_it(app, db, make_tablo, make_user):
    """Deterministic interleaving: another request has deleted the first étape and not committed
    when Bob moves the last one to the top. Bob's move waits, then renumbers what is left."""
    owner = make_user()
    tablo = make_tablo(owner=owner)
    first, second, third = (Etape.create(tablo, title=t) for t in ("One", "Two", "Three"))
    db.session.commit()
    tablo_id, third_id = tablo.id, third.id
    (browser,) = signed_in_browsers(app, owner.email, 1)

    first.delete()  # the other request: holds the board, not committed
    result = {}
    bob = threading.Thread(target=lambda: result.update(
        status=browser.post(f"/tablos/{tablo_id}/etapes/{third_id}/move", data={"position": "1"}).status_code))
    bob.start()
    bob.join(timeout=0.5)
    db.session.commit()
    bob.join(timeout=10)
    assert result == {"status": 303}
    assert etapes_of(db, tablo) == [("Three", 0), ("Two", 1)]


def test_filing_under_an_etape_deleted_meanwhile_says_so_and_writes_nothing(app, backend, db, make_tablo, make_user):
    """Another request deletes the étape and has not committed when Eve files a task under it.
    On PostgreSQL, Eve's post reads the étape, then waits for the board's lock, and is told once
    it gets it; on SQLite a post waits for the write lock before it reads anything, so it finds
    the étape gone: a 404. Either way nothing is written."""
    owner = make_user()
    tablo = make_tablo(owner=owner, tasks=1)
    etape = Etape.create(tablo, title="Doomed")
    db.session.commit()
    tablo_id, etape_id = tablo.id, etape.id
    task_id = db.session.scalar(select(Task.id).where(Task.tablo_id == tablo_id))
    (browser,) = signed_in_browsers(app, owner.email, 1)

    etape.delete()  # the other request, not committed yet: the post loads the étape, then waits
    result = {}
    filer = threading.Thread(target=lambda: result.update(
        response=browser.post(f"/tablos/{tablo_id}/etapes/{etape_id}/tasks", data={"task_id": str(task_id)})))
    filer.start()
    filer.join(timeout=1.5)
    db.session.commit()
    filer.join(timeout=10)
    response = result["response"]
    if backend == "postgresql":
        assert response.status_code == 303
        assert "That étape was deleted meanwhile." in html.unescape(browser.get(response.headers["Location"]).text)
    else:
        assert response.status_code == 404
    db.session.rollback()
    assert db.session.get(Task, task_id).etape_id is None
