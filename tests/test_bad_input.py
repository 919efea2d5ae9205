"""Every form of the app, walked with hostile input: a NUL character, a file where text goes,
10 kB strings, and unicode edge cases. Never a 500; a refused input is a 4xx or a message the
person sees, and nothing is written."""

import io

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD
from tests.test_authorization import MATRIX, snapshot, world  # noqa: F401  (the world fixture)
from xtablo.models import Tablo

# Every field of every form, with a valid value: the matrix's data completed with the optional
# fields it leaves out.
OPTIONAL_FIELDS = {
    "tablos.create": {"description": "About"},
    "tablos.edit": {"description": "About"},
    "tablos.create_task": {"description": "Notes", "due_date": "2027-01-05", "etape_id": "{etape_id}"},
    "tablos.task": {"description": "Notes", "due_date": "2027-01-05", "etape_id": "{etape_id}"},
    "tablos.move_task": {"before": "{second_task_id}", "after": "{task_id}"},
    "etapes.index": {"description": "About"},
    "etapes.edit": {"description": "About"},
    "events.index": {"all_day": "", "end_date": "2031-01-06", "end_time": "10:00", "location": "Site", "description": "About"},
    "events.event": {"all_day": "", "end_date": "2031-01-05", "end_time": "11:00", "location": "Site", "description": "About"},
}
# Who posts the form, when the owner may not (a chat message is edited by its author only).
POSTED_BY = {"chat.edit": "editor"}
# Where a form sends the person back to, when the matrix's choice shows no message (a 404).
BACK = {"auth.language": {"next": "/account"}}
FORMS = {
    endpoint: methods["POST"][1] | OPTIONAL_FIELDS.get(endpoint, {}) | BACK.get(endpoint, {})
    for endpoint, methods in MATRIX.items()
    if "POST" in methods and methods["POST"][1]
}
REFUSED = {
    "NUL": "before\x00after",
    "10 kB": "x" * 10_240,
    "file": None,  # a file upload in place of the field
}
UNICODE = ["Été 🎉 漢字", "\u202egnp.exe", "e\u0301\u0301\u0301", "\u200b\u200d", "🏳️‍🌈" * 8, "\U0010fffd"]


def post(client, url, data, field, value):
    if value is None:
        data = data | {field: (io.BytesIO(b"%PDF-1.4 not text"), "resume.pdf")}
        return client.post(url, data=data, content_type="multipart/form-data")
    return client.post(url, data=data | {field: value})


def url_of(app, endpoint, ids):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **{arg: ids[arg] for arg in rule.arguments - set(rule.defaults or {})})


def signed_in(client, endpoint, users):
    if endpoint not in ("auth.signup", "auth.login"):
        user = users[POSTED_BY.get(endpoint, "owner")]
        assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303


@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_hostile_input_is_refused_with_a_message_and_writes_nothing(app, client, db, world, endpoint):  # noqa: F811
    ids, users = world
    signed_in(client, endpoint, users)
    url = url_of(app, endpoint, ids)
    data = {k: v.format(**ids) for k, v in FORMS[endpoint].items()}
    problems = []
    for field in data:
        for name, value in REFUSED.items():
            before = snapshot(db)
            response = post(client, url, data, field, value)
            shown = response.text
            if response.status_code == 303:  # refused with a message on the page it leads to
                shown = client.get(response.headers["Location"]).text
            refused = response.status_code in (400, 409, 422) or 'class="flash flash-error"' in shown
            if response.status_code >= 500 or not refused:
                problems.append(f"{field}={name}: {response.status_code}")
            elif snapshot(db) != before:
                problems.append(f"{field}={name}: wrote to the database")
    assert problems == []


@pytest.mark.parametrize("field", ["new_password", "confirm"])
def test_hostile_input_on_the_first_password_form(client, db, login_as, make_user, field):
    """The first-password form (an account without a password) is not in the matrix's world. It
    is only a button that mails a link: whatever comes with it, no password is set here."""
    user = login_as(make_user())
    user.password_hash = None
    db.session.commit()
    data = {"new_password": "a first secret", "confirm": "a first secret"}
    for name, value in list(REFUSED.items()) + [(value, value) for value in UNICODE]:
        response = post(client, "/account/password", data, field, value)
        assert response.status_code in (303, 429), name
        db.session.rollback()
        assert db.session.get(type(user), user.id).password_hash is None, name


@pytest.mark.parametrize("endpoint", sorted(FORMS))
def test_unicode_edge_cases_never_break_a_form(app, client, db, world, endpoint):  # noqa: F811
    ids, users = world
    signed_in(client, endpoint, users)
    url = url_of(app, endpoint, ids)
    data = {k: v.format(**ids) for k, v in FORMS[endpoint].items()}
    failures = [
        f"{field}={value!r}: {status}"
        for field in data
        for value in UNICODE
        if (status := post(client, url, data, field, value).status_code) >= 500
    ]
    assert failures == []


@pytest.mark.parametrize("title", UNICODE)
def test_unicode_titles_come_back_as_typed(client, db, login_as, title):
    login_as()
    assert client.post("/tablos/new", data={"title": title, "color": "blue"}).status_code == 303
    db.session.rollback()
    tablo = db.session.scalar(select(Tablo))
    assert tablo.title == title.strip()
    assert title.strip() in client.get(f"/tablos/{tablo.id}").text


def test_the_nul_message_sits_under_its_field(client, login_as):
    login_as()
    response = client.post("/tablos/new", data={"title": "Plan\x00", "color": "blue"})
    assert response.status_code == 422
    field = response.text.split('<label for="title">', 1)[1].split("</div>", 1)[0]
    assert 'aria-invalid="true"' in field
    assert "invisible NUL character" in field


@pytest.mark.parametrize("next_url", ["/%0D%0ASet-Cookie:%20x=1", "/tablos%0A", "/\x00", "/\ttablos"])
def test_control_characters_in_next_go_home(client, make_user, next_url):
    user = make_user()
    response = client.post(f"/login?next={next_url}", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/tablos"
    assert client.get(f"/login?next={next_url}").headers["Location"] == "/tablos"  # already signed in
