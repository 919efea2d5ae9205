"""Every page: unique ids, and a label for every field a person fills in."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from xtablo.models import Role, TabloInviteLink, TabloMember, Task

PAGES = [
    "/signup", "/login", "/tablos", "/tablos/new", "/tablos/{tablo}", "/tablos/{tablo}/edit", "/tablos/{tablo}/delete",
    "/tablos/{tablo}/tasks/{task}", "/tablos/{tablo}/tasks/{task}/delete", "/tablos/{tablo}/members",
    "/tablos/{tablo}/members/{member}/delete", "/tablos/{tablo}/leave", "/tablos/{tablo}/links/{link}/revoke",
    "/login?next=/join/{token}", "/signup?next=/join/{token}",
    "/account/sessions", "/account/password", "/account", "/password/forgot", "/planning",
    "/email/verify/{verify_token}", "/account/email/confirm/{email_token}",
]


def problems(html: str) -> list[str]:
    found = []
    ids = re.findall(r'\sid="([^"]+)"', html)
    found += [f"duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    labelled = set(re.findall(r'<label[^>]*\sfor="([^"]+)"', html))
    labelled |= set(re.findall(r'<label\b[^>]*>\s*<input[^>]*\sid="([^"]+)"', html))  # wrapped in its label
    for tag in re.findall(r"<(?:input|select|textarea)\b[^>]*>", html):
        if 'type="hidden"' in tag or 'type="submit"' in tag or "aria-label=" in tag:
            continue
        field_id = re.search(r'\sid="([^"]+)"', tag)
        if field_id is None or field_id.group(1) not in labelled:
            found.append(f"unlabelled field {tag}")
    return found


@pytest.mark.parametrize("path", PAGES)
def test_page_has_unique_ids_and_labelled_fields(app, client, db, login_as, make_tablo, make_user, path):
    owner = make_user()
    tablo = make_tablo(owner=owner, tasks=2)
    member = TabloMember.add(tablo, make_user(), Role.VIEWER, added_by=owner)
    link, token = TabloInviteLink.create(tablo, Role.VIEWER, lifetime=timedelta(days=1), created_by=owner)
    newcomer = make_user(verified=False)  # the links' pages with their button
    tokens = {"verify_token": newcomer.verification_token(), "email_token": newcomer.email_change_token("moved@example.com")}
    db.session.commit()
    task = db.session.scalar(select(Task))
    if not path.startswith(("/signup", "/login")):
        login_as(owner)
    response = client.get(path.format(tablo=tablo.id, task=task.id, member=member.id, link=link.id, token=token, **tokens))
    assert response.status_code == 200
    assert problems(response.text) == []


@pytest.mark.parametrize("path", ["/tablos", "/account", "/account/password"])
def test_pages_of_an_unverified_account_without_a_password(client, db, login_as, make_user, path):
    """The verification banner, and the account's forms without a password field."""
    user = login_as(make_user(verified=False))
    user.password_hash = None
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 200 and 'id="verify-banner"' in response.text
    assert problems(response.text) == []
