"""The board: add, edit, move and delete tasks; order is stable and survives reloads."""

import json
import re
import threading
import traceback
from datetime import date, timedelta

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
    response = client.post(f"/tablos/{board.id}/tasks", data={"title": "E", "status": "todo"})
    assert response.status_code == 303
    client.post(f"/tablos/{board.id}/tasks", data={"title": "F", "status": "done"})
    assert column(db, board, "todo") == ["A", "B", "C", "E"]
    assert column(db, board, "done") == ["F"]
    page = client.get(f"/tablos/{board.id}").text
    assert board_titles(page, "todo") == ["A", "B", "C", "E"]


def card_text(html: str, title: str) -> str:
    """What a person reads on the card titled `title`."""
    card = re.search(r'<li class="task"[^>]*><a class="task-title"[^>]*>' + re.escape(title) + r"</a>(.*?)</li>", html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", card.group(1)).split())


def test_cards_say_due_dates_in_words_and_mark_what_is_late_or_has_notes(client, db, board):
    today = date.today()
    due = {
        "Today": today, "Tomorrow": today + timedelta(days=1), "Late": today - timedelta(days=3),
        "Late but done": today - timedelta(days=3), "Next year": date(today.year + 1, 3, 5),
    }
    for title, day in due.items():
        status = "done" if title == "Late but done" else "todo"
        notes = "Call the printer first" if title == "Today" else ""
        client.post(f"/tablos/{board.id}/tasks", data={"title": title, "status": status, "due_date": day.isoformat(), "description": notes})
    page = client.get(f"/tablos/{board.id}").text
    assert card_text(page, "Today") == "Notes Due today Move… Today"
    assert card_text(page, "Tomorrow") == "Due tomorrow Move… Tomorrow"
    late = today - timedelta(days=3)
    assert card_text(page, "Late").startswith("Due ")
    assert card_text(page, "Late").endswith("· overdue Move… Late")
    assert "overdue" not in card_text(page, "Late but done")
    assert card_text(page, "Next year") == f"Due Mar 5, {today.year + 1} Move… Next year"
    assert late.isoformat() not in card_text(page, "Late")  # never raw ISO on a card
    assert card_text(page, "A") == "Move… A"


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
    page = client.get(f"/tablos/{board.id}/tasks/{a.id}").text
    assert re.search(r"<h1>\s*A\s*</h1>", page)  # the heading is the task's title
    assert 'value="A"' in page
    assert page.count('name="status"') == 1  # one Column control: the "Move to…" form's
    response = client.post(f"/tablos/{board.id}/tasks/{a.id}", data={"title": "A2", "description": "notes", "due_date": ""})
    assert response.status_code == 303
    assert column(db, board, "todo") == ["A2", "B", "C"]
    db.session.rollback()
    assert db.session.get(Task, a.id).description == "notes"


def test_delete_a_task_after_confirmation(client, db, board):
    b = db.session.scalar(select(Task).where(Task.title == "B"))
    assert "Delete “B”?" in client.get(f"/tablos/{board.id}/tasks/{b.id}/delete").text
    assert column(db, board, "todo") == ["A", "B", "C"]
    assert client.post(f"/tablos/{board.id}/tasks/{b.id}/delete").status_code == 303
    assert column(db, board, "todo") == ["A", "C"]


def run_together(*targets, timeout: float = 120) -> list[str]:
    """Run each target in a thread of its own, all at once; every exception any of them raised,
    with its traceback (a thread's exception would otherwise only be printed)."""
    failures = []
    barrier = threading.Barrier(len(targets))

    def guarded(target):
        try:
            barrier.wait(timeout=10)
            target()
        except BaseException:  # noqa: BLE001  (reported to the test)
            failures.append(traceback.format_exc())

    threads = [threading.Thread(target=guarded, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread never finished"
    return failures


def signed_in_browsers(app, email: str, count: int) -> list:
    browsers = [app.test_client() for _ in range(count)]
    for browser in browsers:
        assert browser.post("/login", data={"email": email, "password": "correct horse battery"}).status_code == 303
    return browsers


def assert_columns_numbered(db, tablo_id: int) -> None:
    db.session.rollback()
    rows = db.session.execute(select(Task.status, Task.position).where(Task.tablo_id == tablo_id)).all()
    for status in ("todo", "in_progress", "done"):
        positions = sorted(row.position for row in rows if row.status == status)
        assert positions == list(range(len(positions))), (status, positions)


def test_concurrent_moves_never_lose_or_duplicate_a_task(app, db, make_tablo, make_user):
    """Twelve people drag cards at once on one board; afterwards every card is in exactly one
    place, every column is numbered 0..n-1, and no request failed."""
    owner = make_user()
    tablo = make_tablo(owner=owner, tasks=12)
    task_ids = list(db.session.scalars(select(Task.id).where(Task.tablo_id == tablo.id)))
    tablo_id = tablo.id  # read here: the threads have no app context
    browsers = signed_in_browsers(app, owner.email, 12)
    db.session.rollback()  # end the test's transaction, which would hold SQLite's lock
    statuses = ["todo", "in_progress", "done"]

    def mover(seed: int):
        def move() -> None:
            for step in range(30):
                task_id = task_ids[(seed * 7 + step * 5) % len(task_ids)]
                data = {"status": statuses[(seed + step) % 3], "position": (seed + step) % 5 + 1}
                response = browsers[seed].post(f"/tablos/{tablo_id}/tasks/{task_id}/move", data=data)
                assert response.status_code == 303, response.status_code
        return move

    failures = run_together(*(mover(seed) for seed in range(12)))
    assert failures == [], "\n".join(failures)
    db.session.rollback()
    ids = db.session.scalars(select(Task.id).where(Task.tablo_id == tablo_id)).all()
    assert sorted(ids) == sorted(task_ids)
    assert_columns_numbered(db, tablo_id)


def test_edits_and_deletes_of_the_same_task_at_once(app, db, make_tablo, make_user):
    """One person edits a task while another deletes it, and two people delete the same task:
    never a 500; an edit of a deleted task says so; one delete deletes, the other is told."""
    owner = make_user()
    tablo = make_tablo(owner=owner, tasks=24)
    tablo_id = tablo.id
    task_ids = list(db.session.scalars(select(Task.id).where(Task.tablo_id == tablo_id).order_by(Task.position)))
    editor, deleter, second_deleter = signed_in_browsers(app, owner.email, 3)
    db.session.rollback()
    answers = []

    for index, task_id in enumerate(task_ids[:12]):
        url = f"/tablos/{tablo_id}/tasks/{task_id}"
        other = editor if index % 2 else second_deleter  # an edit, or a second delete
        data = {"title": f"Edited {index}"} if other is editor else {}
        path = url if other is editor else f"{url}/delete"

        def first() -> None:
            answers.append((deleter, deleter.post(f"{url}/delete")))

        def second(other=other, path=path, data=data) -> None:
            answers.append((other, other.post(path, data=data)))

        failures = run_together(first, second)
        assert failures == [], "\n".join(failures)
        # Each request that went through says what happened on the board it leads to: done, or
        # "deleted meanwhile" for the one that met the task gone.
        for browser, response in answers[-2:]:
            if response.status_code == 303:
                page = browser.get(response.headers["Location"]).text
                assert any(s in page for s in ("deleted meanwhile", "Task saved.", "” deleted.")), page[-600:]

    assert all(response.status_code in (303, 404) for _, response in answers), [r.status_code for _, r in answers]
    assert sum(response.status_code == 303 for _, response in answers) >= 12  # the first of each pair
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.id.in_(task_ids[:12]))) == 0
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.title.like("Edited%"))) == 0
    assert_columns_numbered(db, tablo_id)


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


def test_every_verb_keeps_each_column_numbered_without_gaps(client, db, board):
    a, b, c, d = (db.session.scalar(select(Task).where(Task.title == t)) for t in "ABCD")
    client.post(f"/tablos/{board.id}/tasks/{b.id}/delete")
    assert_columns_numbered(db, board.id)
    # The "Move to…" form offers C's real place: 2nd, not 3rd.
    assert re.search(r'<input id="move-position"[^>]* value="2">', client.get(f"/tablos/{board.id}/tasks/{c.id}").text)
    client.post(f"/tablos/{board.id}/tasks/{a.id}/move", data={"status": "in_progress", "position": "1"})
    assert_columns_numbered(db, board.id)
    client.post(f"/tablos/{board.id}/tasks/{d.id}/delete")
    client.post(f"/tablos/{board.id}/tasks", data={"title": "E", "status": "in_progress"})
    assert_columns_numbered(db, board.id)
    assert column(db, board, "in_progress") == ["A", "E"]
    assert column(db, board, "todo") == ["C"]


@pytest.mark.parametrize("path, lands_on", [("/tasks", ""), ("/tasks/{task}/move", "/tasks/{task}#move")])
def test_addresses_a_refused_post_leaves_behind_still_open(client, db, board, path, lands_on):
    """Without JavaScript a refused post shows its form and errors at the post's address; opening
    that address again (Enter in the address bar, a bookmark) leads back to the page, not a 405."""
    a = db.session.scalar(select(Task).where(Task.title == "A"))
    refused = client.post(f"/tablos/{board.id}{path.format(task=a.id)}", data={"title": "", "status": "todo", "position": "x"})
    assert refused.status_code == 422
    again = client.get(f"/tablos/{board.id}{path.format(task=a.id)}")
    assert again.status_code == 302
    assert again.headers["Location"] == f"/tablos/{board.id}{lands_on.format(task=a.id)}"


def test_htmx_answers_say_where_the_focus_goes_and_what_to_announce(client, db, board):
    added = client.post(f"/tablos/{board.id}/tasks", data={"title": "E", "status": "done"}, headers=HTMX)
    assert json.loads(added.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“E” added to Done.", "xtablo:focus": "#title"}
    assert '<details class="new-task" open>' in added.text  # the form stays open for the next one
    refused = client.post(f"/tablos/{board.id}/tasks", data={"title": "", "status": "done"}, headers=HTMX)
    assert json.loads(refused.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "Give it a title.", "xtablo:focus": "#title"}
    a = db.session.scalar(select(Task).where(Task.title == "A"))
    moved = client.post(f"/tablos/{board.id}/tasks/{a.id}/move", data={"status": "done", "position": "2"}, headers=HTMX)
    assert json.loads(moved.headers["HX-Trigger-After-Settle"]) == {
        "xtablo:announce": "“A” moved to Done, position 2.", "xtablo:focus": f"#task-{a.id} .task-title"}
