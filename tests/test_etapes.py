"""Étapes (issue 9), the model first: a task belongs to at most one étape of its tablo, and
deleting an étape keeps its tasks, now without one (ON DELETE SET NULL, run by the database)."""

from sqlalchemy import select, text

from xtablo.models import Etape, Task


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
