"""What the per-request shortcuts of bench/RESULTS.md must not change: every page still speaks
the language it should, and every link still leads where it should.

- Templates translate through catalogues chosen once per template (xtablo/i18n.py): a mail
  written in its reader's language from a page in another one stays in the reader's.
- Built URLs are remembered per process (xtablo/web/urls.py): keyed by the path the app is
  mounted at, among others, so two mounts never trade links.
"""

import pytest
from flask import url_for

from tests.conftest import mails
from xtablo.extensions import db as _db


def test_a_mail_speaks_its_readers_language_whatever_the_page_that_sent_it(client, caplog, make_user):
    reader = make_user(name="Ada", email="ada@example.com")
    reader.locale = "fr"
    _db.session.commit()
    page = client.post("/password/forgot", data={"email": "ada@example.com"}, headers={"Accept-Language": "en"}, follow_redirects=True)
    assert "If an account uses ada@example.com, a link to choose a new password is on its way." in page.text
    [(to, subject, body)] = mails(caplog)
    assert (to, subject) == ("ada@example.com", "Choisissez un nouveau mot de passe xtablo")
    assert body.startswith("Bonjour Ada,")
    assert "Le lien ne sert qu’une fois, pendant 1 heure. Si vous n’avez rien demandé" in body  # ngettext, singular
    assert "Hello" not in body and "hour" not in body


@pytest.mark.parametrize("first, then", [("/team", ""), ("", "/team")])
def test_links_follow_the_path_the_app_is_mounted_at(client, first, then):
    for root in (first, then, first):
        page = client.get("/login", base_url=f"http://localhost{root}/").text
        assert f'href="{root}/signup"' in page
        assert f'<link rel="stylesheet" href="{root}/static/css/app.css?v=' in page
        other = "/team" if root == "" else ""
        assert f'href="{other}/signup"' not in page


def test_urls_with_values_a_key_cannot_hold_or_that_look_alike(app):
    with app.test_request_context("/"):
        assert url_for("tablos.index", tag=["a", "b"]) == "/tablos?tag=a&tag=b"
        assert url_for("tablos.index", page=1) == "/tablos?page=1"
        assert url_for("tablos.index", page=True) == "/tablos?page=True"
        assert url_for("tablos.index", page=1.0) == "/tablos?page=1.0"
        assert url_for("tablos.show", tablo_id=7, _anchor="board") == "/tablos/7#board"
        assert url_for("tablos.show", tablo_id=7, _external=True) == "http://localhost/tablos/7"
        assert url_for("tablos.show", tablo_id=7) == "/tablos/7"
