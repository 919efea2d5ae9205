"""Seed the benchmark database: one user, one tablo, 200 tasks over the three columns.

Run by bench/board.py in a subprocess, with DATABASE_URL and SECRET_KEY already in the
environment and the schema already migrated (`flask --app wsgi db upgrade`). Prints one JSON line:
{"tablo_id": ..., "email": ..., "tasks": {"todo": 67, ...}}.

    BENCH_EMAIL, BENCH_PASSWORD, BENCH_TASKS   override the defaults below
    BENCH_USERS   more accounts, bench-user-<n>@example.com with the same password (bench/signin.py)
"""

import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

# Appended, so that a PYTHONPATH naming another checkout (bench/signin.py --before) comes first.
sys.path.append(str(Path(__file__).resolve().parent.parent))

from xtablo import create_app  # noqa: E402
from xtablo.extensions import db  # noqa: E402
from xtablo.models import Etape, Status, Tablo, Task, User  # noqa: E402

EMAIL = os.environ.get("BENCH_EMAIL", "bench@example.com")
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password")
TASKS = int(os.environ.get("BENCH_TASKS", 200))
USERS = int(os.environ.get("BENCH_USERS", 0))

WORDS = ["Write", "Review", "Plan", "Design", "Ship", "Test", "Call", "Draft", "Fix", "Order"]
THINGS = ["the launch post", "the home page", "supplier quotes", "the budget", "the photo shoot",
          "the newsletter", "customer interviews", "the pricing page", "the invoices", "the roadmap"]


def main() -> None:
    app = create_app()
    with app.app_context():
        user = User.create(name="Bench", email=EMAIL, password=PASSWORD)
        tablo = Tablo.create(owner=user, title="Benchmark board", color="blue",
                             description="200 tasks over the three columns, for bench/board.py.")
        statuses = list(Status)
        counts = {status.value: 0 for status in statuses}
        start = date.today()
        # Four étapes, each card but every fifth filed under one: cards draw their étape, the
        # board offers the filter and the "Étape" select.
        etapes = [Etape.create(tablo, title=title) for title in ("Études", "Gros œuvre", "Second œuvre", "Finitions")]
        for i in range(TASKS):
            status = statuses[i % len(statuses)]
            Task.create(
                tablo,
                etape_id=None if i % 5 == 4 else etapes[i % len(etapes)].id,
                title=f"{WORDS[i % len(WORDS)]} {THINGS[(i // len(WORDS)) % len(THINGS)]} #{i + 1}",
                description="Some notes about this task." if i % 2 else "",
                # A due date on every fourth card, so the board renders that branch too.
                due_date=start + timedelta(days=i % 30) if i % 4 == 0 else None,
                status=status,
            )
            counts[status.value] += 1
        # One argon2 hash for every extra account: hashing each would make seeding slow.
        users = [User.create(name=f"Bench {n}", email=f"bench-user-{n}@example.com", password=None) for n in range(USERS)]
        for extra in users:
            extra.password_hash = user.password_hash
        db.session.commit()
        print(json.dumps({"tablo_id": tablo.id, "email": EMAIL, "tasks": counts, "users": [u.email for u in users]}))


if __name__ == "__main__":
    main()
