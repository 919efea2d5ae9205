"""The board: add, edit, move and delete tasks; order is stable and survives reloads."""

import re
import threading

import pytest
from sqlalchemy import func, select

from tests.conftest import field_errors
from xtablo.models import Task

HTMX = {"HX-Request": "true"}


def column(db, tablo, status) -> list[str]:
    db.session.rollback()
    stmt = select(Task.title).where(Task.tablo_id == tablo.id, Task.status == status).order_by(Task.position, Task.id)
    return list(db.session.scalars(stmt))


def board_titles(html: str, status: str) -> list[str]:
    """Task titles in one column of a rendered board, top to bottom."""
    section = html.split(f'id="column-{status}"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'class="task-title"[^>]*>([^<]+)</a>', section)


@pytest.fixture
def board(login_as, make_tablo):
    return make_tablo(owner=login_as(), tasks={"todo": ["A", "B", "C"], "in_progress": ["D"], "done": []})


def test_add_tasks_to_columns(client, db, board):
    response = client.post(f"/tablos/{board.id}/tasks", data={"title": "E", "status": "todo", "due_date": "2026-12-24"})
    assert response.status_code == 303
    client.post(f"/tablos/{board.id}/tasks", data={"title": "F", "status": "done"})
    assert column(db, board, "todo") == ["A", "B", "C", "E"]
    assert column(db, board, "done") == ["F"]
    page = client.get(f"/tablos/{board.id}").text
    assert board_titles(page, "todo") == ["A", "B", "C", "E"]
    assert "Due 2026-12-24" in re.sub(r"<[^>]+>", "", page)


def test_htmx_add_returns_the_board_partial(client, board):
    response = client.post(f"/tablos/{board.id}/tasks", data={"title": "E", "status": "todo"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="board"')
    assert "<html" not in response.text
    assert board_titles(response.text, "todo") == ["A", "B", "C", "E"]


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"title": "", "status": "todo"}, {"title": "Give it a title."}),
        ({"title": "x" * 10_240, "status": "todo"}, {"title": "Keep the title under 200 characters."}),
        ({"title": "ok", "status": "blocked"}, {"status": "Not a valid choice."}),
        ({"title": "ok", "status": "todo", "due_date": "31/12/2026"}, {"due_date": "Not a valid date value."}),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["classic", "htmx"])
@pytest.mark.xfail(strict=True, raises=AssertionError, reason="issue 6, 'What a person saw' 1: on the error path "
                   "task_fields() returns a plain str, so the form's own HTML is shown escaped, as text")
def test_add_rejects_bad_input(client, db, board, data, errors, headers):
    """The message sits under its field, in a form that is still a form (not its HTML as text)."""
    response = client.post(f"/tablos/{board.id}/tasks", data=data, headers=headers)
    assert response.status_code == 422
    assert field_errors(response.text) == errors
    assert db.session.scalar(select(func.count()).select_from(Task)) == 4


def test_move_within_and_between_columns(client, db, board):
    c = db.session.scalar(select(Task).where(Task.title == "C"))
    a = db.session.scalar(select(Task).where(Task.title == "A"))
    assert client.post(f"/tablos/{board.id}/tasks/{c.id}/move", data={"status": "todo", "position": 1}).status_code == 303
    assert column(db, board, "todo") == ["C", "A", "B"]
    client.post(f"/tablos/{board.id}/tasks/{a.id}/move", data={"status": "done", "position": 1})
    assert column(db, board, "todo") == ["C", "B"]
    assert column(db, board, "done") == ["A"]
    # A position past the end means the bottom of the column.
    client.post(f"/tablos/{board.id}/tasks/{c.id}/move", data={"status": "in_progress", "position": 99})
    assert column(db, board, "in_progress") == ["D", "C"]
    page = client.get(f"/tablos/{board.id}").text
    assert board_titles(page, "in_progress") == ["D", "C"]
    assert board_titles(page, "done") == ["A"]


def test_htmx_move_answers_with_the_new_board(client, db, board):
    b = db.session.scalar(select(Task).where(Task.title == "B"))
    response = client.post(f"/tablos/{board.id}/tasks/{b.id}/move", data={"status": "done", "position": "1"}, headers=HTMX)
    assert response.status_code == 200
    assert board_titles(response.text, "done") == ["B"]
    assert board_titles(response.text, "todo") == ["A", "C"]


@pytest.mark.parametrize(
    "data, errors",
    [
        ({"status": "todo", "position": "-1"}, {"move-position": "The position is a number from 1 up."}),
        ({"status": "todo", "position": "0"}, {"move-position": "The position is a number from 1 up."}),
        ({"status": "todo", "position": "two"}, {"move-position": "Not a valid integer value. The position is a number from 1 up."}),
        ({"status": "todo"}, {"move-position": "Give a position."}),
        ({"status": "archived", "position": "1"}, {"move-status": "Not a valid choice."}),
    ],
)
def test_move_rejects_bad_input(client, db, board, data, errors):
    a = db.session.scalar(select(Task).where(Task.title == "A"))
    response = client.post(f"/tablos/{board.id}/tasks/{a.id}/move", data=data)
    assert response.status_code == 422
    assert field_errors(response.text) == errors
    assert column(db, board, "todo") == ["A", "B", "C"]


def test_task_of_another_tablo_is_404(client, db, board, make_tablo):
    mine_elsewhere = make_tablo(owner=board.created_by, tasks=1)
    foreign = db.session.scalar(select(Task).where(Task.tablo_id == mine_elsewhere.id))
    for path in ("", "/move", "/delete"):
        assert client.post(f"/tablos/{board.id}/tasks/{foreign.id}{path}", data={"status": "done", "position": 1, "title": "x"}).status_code == 404
    db.session.refresh(foreign)
    assert (foreign.status, foreign.title) == ("todo", "Task 1")


def test_edit_a_task(client, db, board):
    a = db.session.scalar(select(Task).where(Task.title == "A"))
    page = client.get(f"/tablos/{board.id}/tasks/{a.id}")
    assert page.status_code == 200 and 'value="A"' in page.text
    response = client.post(f"/tablos/{board.id}/tasks/{a.id}", data={"title": "A2", "description": "notes", "due_date": "", "status": "done"})
    assert response.status_code == 303
    assert column(db, board, "done") == ["A2"]
    assert column(db, board, "todo") == ["B", "C"]


def test_delete_a_task_after_confirmation(client, db, board):
    b = db.session.scalar(select(Task).where(Task.title == "B"))
    assert "Delete “B”?" in client.get(f"/tablos/{board.id}/tasks/{b.id}/delete").text
    assert column(db, board, "todo") == ["A", "B", "C"]
    assert client.post(f"/tablos/{board.id}/tasks/{b.id}/delete").status_code == 303
    assert column(db, board, "todo") == ["A", "C"]


def test_concurrent_moves_never_lose_or_duplicate_a_task(app, db, make_tablo, make_user):
    """Eight people drag cards at once on one board; afterwards every card is in exactly one
    place and every column is numbered 0..n-1."""
    owner = make_user()
    tablo = make_tablo(owner=owner, tasks=12)
    task_ids = list(db.session.scalars(select(Task.id).where(Task.tablo_id == tablo.id)))
    email, tablo_id = owner.email, tablo.id  # read here: the threads have no app context
    db.session.rollback()  # and end the test's transaction, which would hold SQLite's lock
    statuses = ["todo", "in_progress", "done"]
    errors = []

    def mover(seed: int) -> None:
        browser = app.test_client()
        browser.post("/login", data={"email": email, "password": "correct horse battery"})
        for step in range(30):
            task_id = task_ids[(seed * 7 + step * 5) % len(task_ids)]
            data = {"status": statuses[(seed + step) % 3], "position": (seed + step) % 5 + 1}
            response = browser.post(f"/tablos/{tablo_id}/tasks/{task_id}/move", data=data)
            if response.status_code != 303:
                errors.append(response.status_code)

    threads = [threading.Thread(target=mover, args=(seed,)) for seed in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    db.session.rollback()
    rows = db.session.execute(select(Task.id, Task.status, Task.position).where(Task.tablo_id == tablo.id)).all()
    assert sorted(row.id for row in rows) == sorted(task_ids)
    for status in statuses:
        positions = sorted(row.position for row in rows if row.status == status)
        assert positions == list(range(len(positions)))


def test_a_worker_never_serves_a_stale_board(app, app_env, db, board):
    """Each worker caches the rendered columns; a change made through another worker must show
    at once, since the cache key moves with the board."""
    from tests.conftest import Client, TestingConfig
    from xtablo import create_app

    other_worker = create_app(TestingConfig(app_env))
    other_worker.test_client_class = Client
    email = board.created_by.email
    try:
        first, second = app.test_client(), other_worker.test_client()
        for browser in (first, second):
            browser.post("/login", data={"email": email, "password": "correct horse battery"})
        assert board_titles(first.get(f"/tablos/{board.id}").text, "todo") == ["A", "B", "C"]
        b = db.session.scalar(select(Task).where(Task.title == "B"))
        second.post(f"/tablos/{board.id}/tasks/{b.id}/move", data={"status": "done", "position": 1})
        second.post(f"/tablos/{board.id}/tasks/{b.id}", data={"title": "B renamed", "status": "done"})
        page = first.get(f"/tablos/{board.id}").text
        assert board_titles(page, "todo") == ["A", "C"]
        assert board_titles(page, "done") == ["B renamed"]
    finally:
        with other_worker.app_context():
            from xtablo.extensions import db as _db

            _db.engine.dispose()


def test_a_move_waits_for_a_concurrent_move_and_builds_on_it(app, db, board):
    """Deterministic interleaving: another request has moved C to the top and not committed yet
    when Bob drags A to the bottom. Bob's move must wait, then start from C's new place; reading
    the columns before the other commits would silently undo C's move."""
    browser = app.test_client()
    browser.post("/login", data={"email": board.created_by.email, "password": "correct horse battery"})
    tablo_id = board.id
    a, c = (db.session.scalar(select(Task).where(Task.title == t)) for t in ("A", "C"))
    a_id = a.id

    c.move("todo", 0)  # the other request: holds the board, C first, not committed
    result = {}
    bob = threading.Thread(target=lambda: result.update(
        status=browser.post(f"/tablos/{tablo_id}/tasks/{a_id}/move", data={"status": "todo", "position": 3}).status_code))
    bob.start()
    bob.join(timeout=0.5)
    db.session.commit()
    bob.join(timeout=10)
    assert result == {"status": 303}
    assert column(db, board, "todo") == ["C", "B", "A"]
