"""French and English: the catalogue is complete, and each reader gets their language."""

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import select

from tests.conftest import PASSWORD, page_title
from tests.test_pages import PAGES
from xtablo.models import Role, TabloInviteLink, TabloMember, Task, User

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "xtablo" / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
# As babel.cfg and `make translations` say.
METHODS = [("xtablo/**.py", "python"), ("xtablo/templates/**.html", "jinja2"), ("xtablo/templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9"}


def messages_in_the_code() -> set:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(ROOT, METHODS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def test_the_french_catalogue_has_every_message_translated_and_nothing_more():
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    in_catalogue = {message.id for message in catalogue if message.id}
    in_code = messages_in_the_code()
    untranslated = [m.id for m in catalogue if m.id and (not m.string or (isinstance(m.string, tuple) and not all(m.string)))]
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    problems = {
        "missing from the catalogue (run `make translations`, then translate)": sorted(map(str, in_code - in_catalogue)),
        "untranslated": untranslated,
        "fuzzy (check and remove the flag)": fuzzy,
        "obsolete (run `make translations`)": sorted(map(str, in_catalogue - in_code)),
    }
    assert {k: v for k, v in problems.items() if v} == {}
    assert len(in_code) > 150  # the extraction found the app's messages, not nothing


def test_a_french_browser_gets_french_pages(client):
    page = client.get("/login", headers=FRENCH).text
    assert '<html lang="fr">' in page
    assert page_title(page) == "Se connecter"
    assert "Adresse e-mail" in page and "Mot de passe" in page


@pytest.mark.parametrize("header", ["", "xx-YY", "de-DE,de;q=0.9", "fr;q=abc,,;;", "en-US," * 2000, "\x00fr"])
def test_any_other_accept_language_means_english(client, header):
    response = client.get("/login", headers={"Accept-Language": header})
    assert response.status_code == 200
    assert '<html lang="en">' in response.text and page_title(response.text) == "Sign in"


def test_french_messages_come_from_wtforms_and_our_catalogue(client, login_as, make_tablo):
    tablo = make_tablo(owner=login_as())
    response = client.post(f"/tablos/{tablo.id}/tasks", data={"title": "", "status": "todo"}, headers=FRENCH)
    assert response.status_code == 422
    assert "Donnez-lui un titre." in response.text
    signup = client.post("/logout") and client.post("/signup", data={"name": "", "email": "nope", "password": "x", "confirm": "y"}, headers=FRENCH)
    assert "Ce champ est requis." in signup.text  # WTForms' own message, in French
    assert "Adresse e-mail non valide." in signup.text  # ours: "e-mail" everywhere, as WTForms would not


def test_dates_and_plurals_follow_the_language(client, login_as, make_tablo):
    owner = login_as()
    make_tablo(owner=owner, title="Un", tasks=1)
    make_tablo(owner=owner, title="Trois", tasks=3)
    page = client.get("/tablos", headers=FRENCH).text
    assert "1 tâche" in page and "3 tâches" in page
    tablo = make_tablo(owner=owner, title="Dates")
    client.post(f"/tablos/{tablo.id}/tasks", data={"title": "Noël", "status": "todo", "due_date": "2030-12-05"})
    board = client.get(f"/tablos/{tablo.id}", headers=FRENCH).text
    assert "5 déc. 2030" in board and "Échéance" in board


def test_the_footer_switch_remembers_the_choice_in_a_cookie(client):
    response = client.post("/language", data={"lang": "fr", "next": "/signup"})
    assert response.status_code == 303 and response.headers["Location"] == "/signup"
    assert client.get_cookie("xtablo_lang").value == "fr"
    assert '<html lang="fr">' in client.get("/signup", headers={"Accept-Language": "en"}).text


@pytest.mark.parametrize("lang", ["xx", "", "fr\x00", "FR"])
def test_an_unknown_language_in_the_switch_is_refused_with_a_message(client, lang):
    response = client.post("/language", data={"lang": lang, "next": "/login"})
    assert response.status_code == 303
    assert client.get_cookie("xtablo_lang") is None
    assert "That language is not available." in client.get("/login").text


def test_a_forged_cookie_is_ignored(client):
    client.set_cookie("xtablo_lang", "klingon")
    page = client.get("/login", headers=FRENCH).text
    assert '<html lang="fr">' in page  # the browser's language, as if there were no cookie


def test_the_account_page_sets_the_language_of_every_browser_of_the_account(app, client, db, login_as):
    user = login_as()
    page = client.get("/account").text
    assert page_title(page) == "Your account" and '<label for="language">Language</label>' in page
    response = client.post("/account", data={"language": "fr"})
    assert response.status_code == 303
    assert "Réglages enregistrés." in client.get("/account").text
    db.session.rollback()
    assert db.session.get(User, user.id).locale == "fr"
    elsewhere = app.test_client()  # another browser, in English, signs in: French from then on
    assert elsewhere.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303
    assert '<html lang="fr">' in elsewhere.get("/tablos", headers={"Accept-Language": "en"}).text
    assert client.post("/account", data={"language": ""}).status_code == 303  # back to the browser's
    assert db.session.scalar(select(User.locale).where(User.id == user.id)) is None


def test_an_unknown_language_in_the_account_form_is_an_error_under_the_field(client, db, login_as):
    user = login_as()
    response = client.post("/account", data={"language": "xx"})
    assert response.status_code == 422
    field = response.text.split('<label for="language">', 1)[1].split("</div>", 1)[0]
    assert "Not a valid choice." in field
    db.session.rollback()
    assert db.session.get(User, user.id).locale is None


def english_sentences() -> list[re.Pattern]:
    """The app's English messages that French says otherwise (two words or more), as patterns."""
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file)
    patterns = []
    for message in catalogue:
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for english, french in zip(ids, strings):
            if english and english != french and len(english.split()) >= 2:
                parts = re.split(r"%\(\w+\)[sd]", english)
                patterns.append(re.compile(".+?".join(re.escape(part) for part in parts)))
    return patterns


def visible_text(html_page: str) -> str:
    body = html_page.split("<body", 1)[-1]
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.parametrize("path", PAGES + ["/nowhere", "/tablos/{tablo}/tasks/{task}/move"])
def test_every_page_in_french_says_nothing_in_english(app, client, db, login_as, make_tablo, make_user, path):
    owner = make_user(name="Zoé")
    tablo = make_tablo(owner=owner, title="Cuisine", tasks=2)
    member = TabloMember.add(tablo, make_user(name="Yann"), Role.VIEWER, added_by=owner)
    link, token = TabloInviteLink.create(tablo, Role.VIEWER, lifetime=timedelta(days=1), created_by=owner)
    newcomer = make_user(name="Xavier", verified=False)
    tokens = {"verify_token": newcomer.verification_token(), "email_token": newcomer.email_change_token("xavier@exemple.fr")}
    db.session.commit()
    task = db.session.scalar(select(Task))
    if not path.startswith(("/signup", "/login")):
        login_as(owner)
    url = path.format(tablo=tablo.id, task=task.id, member=member.id, link=link.id, token=token, **tokens)
    response = client.get(url, headers=FRENCH, follow_redirects=True)
    text = visible_text(response.text)
    assert '<html lang="fr">' in response.text
    assert [p.pattern for p in english_sentences() if p.search(text)] == []


@pytest.mark.parametrize("path", ["/tablos", "/account", "/account/password", "/email/verify/dead"])
def test_an_unverified_account_without_a_password_reads_french_too(client, db, login_as, make_user, path):
    """The verification banner, the sentence on "My tablos", the set-password form."""
    user = login_as(make_user(verified=False))
    user.password_hash = None
    db.session.commit()
    response = client.get(path, headers=FRENCH)
    assert 'id="verify-banner"' in response.text
    assert [p.pattern for p in english_sentences() if p.search(visible_text(response.text))] == []
