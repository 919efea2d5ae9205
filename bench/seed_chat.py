"""Seed the chat benchmark's database: one tablo, its owner and a few members, some history.

Run by bench/chat.py in a subprocess, with DATABASE_URL and SECRET_KEY in the environment and
the schema migrated (`flask --app wsgi db upgrade`), as bench/seed.py is run by bench/board.py.
Prints one JSON line: {"tablo_id": ..., "poster": email, "members": [emails], "messages": n}.

The owner (bench@example.com) posts the measured messages; the streams are opened by the
members, round-robin, each member with one session: a small team where every person keeps many
tabs open, rather than thousands of accounts. Their languages differ (French and English, one
time zone), so each message is rendered twice, as in a mixed team (xtablo/realtime/hub.py: once
per variant of reader).

    BENCH_EMAIL, BENCH_PASSWORD   the owner (as bench/seed.py)
    BENCH_MEMBERS                 members besides the owner (4)
    BENCH_MESSAGES                messages already in the chat (40)
"""

import json
import os
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent.parent))

from xtablo import create_app  # noqa: E402
from xtablo.extensions import db  # noqa: E402
from xtablo.models import Role, Tablo, TabloMember, TabloMessage, User  # noqa: E402
from xtablo.models._types import utcnow  # noqa: E402

EMAIL = os.environ.get("BENCH_EMAIL", "bench@example.com")
PASSWORD = os.environ.get("BENCH_PASSWORD", "bench-password")
MEMBERS = int(os.environ.get("BENCH_MEMBERS", 4))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", 40))
ZONE = "Europe/Paris"
LOCALES = ["fr", "fr", "en"]  # by member, in turn


def main() -> None:
    app = create_app()
    with app.app_context():
        owner = User.create(name="Bench", email=EMAIL, password=PASSWORD)
        owner.locale, owner.time_zone, owner.email_verified_at = "fr", ZONE, utcnow()
        tablo = Tablo.create(owner=owner, title="Benchmark chat", color="green",
                             description="The tablo whose chat bench/chat.py measures.")
        members = []
        for n in range(MEMBERS):
            # One argon2 hash for every account, as bench/seed.py does: hashing each is slow.
            user = User.create(name=f"Member {n + 1}", email=f"bench-member-{n + 1}@example.com",
                               password_hash=owner.password_hash)
            user.locale, user.time_zone, user.email_verified_at = LOCALES[n % len(LOCALES)], ZONE, utcnow()
            TabloMember.add(tablo, user, Role.EDITOR if n % 2 else Role.VIEWER, added_by=owner)
            members.append(user)
        authors = [owner, *members]
        for i in range(MESSAGES):
            TabloMessage.create(tablo, author=authors[i % len(authors)], client_key=f"seed-{i}",
                                body=f"Message {i + 1} of the history, https://example.com/{i} @Bench")
        db.session.commit()
        print(json.dumps({"tablo_id": tablo.id, "poster": owner.email, "members": [m.email for m in members],
                          "messages": MESSAGES}))


if __name__ == "__main__":
    main()
