"""Parallel reorders of étapes against the real server (gunicorn, gevent workers): every request
is a real HTTP request on a connection of its own, interleaved by gevent at each database call.
Afterwards every étape is there once and the positions are 0..n-1.

Not a browser test, but it needs the live server, which lives with them."""

import re
import threading
import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.browser.conftest import LiveServer
from tests.browser.test_parallel_sign_in import PASSWORD, Visitor, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

PEOPLE = 8
MOVES = 12
ETAPES = 6
SOURCE = "127.0.0.77"  # an address of its own, so its sign-in does not count against other tests'


def token_of(page: str) -> str:
    return re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page).group(1)


def test_parallel_reorders_keep_every_etape_once_numbered_0_to_n_minus_1(live_server: LiveServer) -> None:
    email = f"stages-{uuid.uuid4().hex[:10]}@example.com"
    sign_up(live_server.url, email)
    owner = Visitor(live_server.url, source=SOURCE)
    token = owner.sign_in_form()
    assert owner.request("POST", "/login", {"csrf_token": token, "email": email, "password": PASSWORD})[0] == 303
    _, page = owner.request("GET", "/tablos/new")
    token = token_of(page)
    status, _ = owner.request("POST", "/tablos/new", {"csrf_token": token, "title": "Chantier", "color": "blue"})
    assert status == 303
    _, page = owner.request("GET", "/tablos")
    tablo_id = int(re.search(r'href="/tablos/(\d+)"><strong>Chantier</strong>', page).group(1))
    for index in range(ETAPES):
        assert owner.request("POST", f"/tablos/{tablo_id}/etapes", {"csrf_token": token, "title": f"Étape {index}"})[0] == 303
    _, page = owner.request("GET", f"/tablos/{tablo_id}/etapes")
    ids = [int(i) for i in re.findall(r'<li class="etape card" id="etape-(\d+)">', page)]
    assert len(ids) == ETAPES

    # Everyone shares the owner's session, each on a connection of their own.
    people = [Visitor(live_server.url, source=SOURCE) for _ in range(PEOPLE)]
    for person in people:
        person.cookies = dict(owner.cookies)
    barrier = threading.Barrier(PEOPLE)
    statuses: list[int] = []

    def reorder(seed: int) -> None:
        barrier.wait(timeout=30)
        for step in range(MOVES):
            etape_id = ids[(seed * 5 + step * 7) % ETAPES]
            form = {"csrf_token": token, "position": str((seed + step) % (ETAPES + 1) + 1)}
            statuses.append(people[seed].request("POST", f"/tablos/{tablo_id}/etapes/{etape_id}/move", form)[0])

    threads = [threading.Thread(target=reorder, args=(seed,)) for seed in range(PEOPLE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for visitor in (owner, *people):
        visitor.conn.close()
    assert not any(thread.is_alive() for thread in threads)
    assert statuses == [303] * (PEOPLE * MOVES)

    engine = create_engine(live_server.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, position FROM etapes WHERE tablo_id = :t"), {"t": tablo_id}).all()
    finally:
        engine.dispose()
    assert sorted(row.id for row in rows) == sorted(ids)
    assert sorted(row.position for row in rows) == list(range(ETAPES))
