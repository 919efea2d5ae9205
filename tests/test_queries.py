"""A page costs a constant number of SQL queries, whatever the number of tasks."""

import pytest
from sqlalchemy import event

from xtablo.extensions import db as _db


@pytest.fixture
def count_queries(app):
    """Count the statements the app (the client's side) sends while the block runs."""

    class Counter:
        def __enter__(self):
            self.count = 0
            with app.app_context():
                self.engine = _db.engine
            event.listen(self.engine, "before_cursor_execute", self._count)
            return self

        def _count(self, *args):
            self.count += 1

        def __exit__(self, *exc):
            event.remove(self.engine, "before_cursor_execute", self._count)

    return Counter


@pytest.mark.parametrize("path", ["/tablos/{id}", "/tablos"])
def test_board_and_list_cost_the_same_for_3_and_300_tasks(client, login_as, make_tablo, count_queries, path):
    owner = login_as()
    small = make_tablo(owner=owner, tasks=3)
    large = make_tablo(owner=owner, tasks=300)
    counts = []
    for tablo in (small, large):
        with count_queries() as counter:
            response = client.get(path.format(id=tablo.id))
        assert response.status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]
    assert counts[1] <= 4
    assert response.text.count('class="task"') in (0, 300)
