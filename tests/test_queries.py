"""A page costs a constant number of SQL queries, whatever the number of tasks or tablos."""

import re

import pytest
from sqlalchemy import event

from tests.conftest import listed_tablos
from xtablo.extensions import db as _db
from xtablo.models import Role, TabloMember


@pytest.fixture
def count_queries(app):
    """Count the statements the app (the client's side) sends while the block runs."""

    class Counter:
        def __enter__(self):
            self.count = 0
            self.statements = []
            with app.app_context():
                self.engine = _db.engine
            event.listen(self.engine, "before_cursor_execute", self._count)
            return self

        def _count(self, conn, cursor, statement, *args):
            self.count += 1
            self.statements.append(statement)

        @property
        def selects(self) -> list[str]:
            return [s for s in self.statements if s.lstrip().upper().startswith("SELECT")]

        def __exit__(self, *exc):
            event.remove(self.engine, "before_cursor_execute", self._count)

    return Counter


def test_a_board_costs_the_same_for_3_and_300_tasks(client, login_as, make_tablo, count_queries):
    owner = login_as()
    counts = {}
    for tasks in (3, 300):
        tablo = make_tablo(owner=owner, tasks=tasks)
        with count_queries() as counter:
            response = client.get(f"/tablos/{tablo.id}")
        assert response.status_code == 200
        assert response.text.count('<li class="task"') == tasks  # every card is drawn
        counts[tasks] = counter.count
    # The session with its user and membership, the tablo's étapes (the filter and the forms
    # offer them; remembered per board version, so a warm board skips it), the cards; and on
    # SQLite the BEGIN of the read transaction.
    assert counts[3] == counts[300] <= 4


def test_a_tablo_page_reads_the_session_the_user_and_the_membership_in_one_query(client, login_as, make_tablo, count_queries):
    """Who is signed in, and what they may do on this tablo, come from the database on every
    request, in one query: a board whose columns are already drawn costs that query alone."""
    owner = login_as()
    tablo = make_tablo(owner=owner, tasks=5)
    assert client.get(f"/tablos/{tablo.id}").status_code == 200  # draws and keeps the columns
    with count_queries() as counter:
        response = client.get(f"/tablos/{tablo.id}")
    assert response.text.count('<li class="task"') == 5
    assert len(counter.selects) == 1
    assert all(table in counter.selects[0] for table in ("sessions", "users", "tablo_members", "tablos"))


def test_my_tablos_costs_the_same_for_1_and_30_tablos(client, db, login_as, make_tablo, make_user, count_queries):
    """Thirty tablos of all sizes, some owned and some shared with me: no query per tablo."""
    me = login_as()
    make_tablo(owner=me, title="Tablo 1", tasks=3)
    with count_queries() as counter:
        page = client.get("/tablos").text
    one = counter.count
    assert listed_tablos(page) == ["Tablo 1"]
    for n in range(2, 31):
        if n % 2:
            make_tablo(owner=me, title=f"Tablo {n}", tasks=n)
        else:
            TabloMember.add(make_tablo(owner=make_user(), title=f"Tablo {n}", tasks=n), me, Role.EDITOR, added_by=None)
    db.session.commit()
    with count_queries() as counter:
        page = client.get("/tablos").text
    assert sorted(listed_tablos(page)) == sorted(f"Tablo {n}" for n in range(1, 31))
    task_counts = {int(n): int(count) for n, count in re.findall(r"<strong>Tablo (\d+)</strong>.*?(\d+) tasks?\b", page, re.S)}
    assert task_counts == {1: 3} | {n: n for n in range(2, 31)}
    assert counter.count == one <= 4


def test_my_tablos_reads_unread_chat_counts_in_its_one_query(client, db, login_as, make_tablo, make_user, count_queries):
    """Each tablo's unread count comes with the list: still one query for 1 tablo or 20."""
    from xtablo.models import TabloMessage

    me, other = login_as(), make_user()
    counts = {}
    for n in range(1, 21):
        tablo = make_tablo(owner=other, title=f"Tablo {n}")
        TabloMember.add(tablo, me, Role.VIEWER, added_by=None)
        for k in range(n):
            TabloMessage.create(tablo, author=other, body=f"m{k}", client_key=f"t{n}-{k}")
        db.session.commit()
        if n in (1, 20):
            with count_queries() as counter:
                page = client.get("/tablos").text
            counts[n] = len([s for s in counter.selects if "tablo_members" in s])
    shown = {int(n): int(count) for n, count in re.findall(
        r'<strong>Tablo (\d+)</strong>.*?<span class="badge unread" aria-hidden="true">(\d+)</span>', page, re.S)}
    assert shown == {n: n for n in range(1, 21)}
    assert counts[1] == counts[20] == 1


def test_the_chat_tab_costs_the_same_for_3_and_120_messages(client, db, login_as, make_tablo, make_user, count_queries):
    from xtablo.models import TabloMessage

    me, other = login_as(), make_user(name="Bob")
    counts = {}
    for count in (3, 120):
        tablo = make_tablo(owner=me)
        TabloMember.add(tablo, other, Role.EDITOR, added_by=me)
        for n in range(count):
            TabloMessage.create(tablo, author=(me, other)[n % 2], body=f"@Bob {n} https://example.com/{n}", client_key=f"q{count}-{n}")
        db.session.commit()
        with count_queries() as counter:
            response = client.get(f"/tablos/{tablo.id}/messages")
        assert response.text.count('<li class="message"') == min(count, 50)
        counts[count] = counter.count
    # The session with the membership and unread count, the messages with their authors, the
    # members' names, the read mark; on SQLite the BEGINs (and the read mark's COMMIT).
    assert counts[3] == counts[120] <= 7
