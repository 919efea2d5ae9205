"""What travels to a browser: compressed pages and styles, static files cached for a year under
URLs that change with their content, and SortableJS only where cards move."""

import gzip
import re
import shutil
from pathlib import Path

import brotli
import pytest
from flask import Response, stream_with_context, url_for
from flask_compress.compat import compression

from tests.conftest import TestingConfig
from xtablo import create_app
from xtablo.models import Role, TabloMember

STATIC = Path(__file__).resolve().parents[1] / "xtablo" / "static"
DECOMPRESS = {"gzip": gzip.decompress, "br": brotli.decompress, "zstd": compression.zstd.decompress}
EVERY_ENCODING = "gzip, deflate, br, zstd"
YEAR_IMMUTABLE = {"public", "max-age=31536000", "immutable"}
SORTABLE = re.compile(r'<script src="/static/vendor/Sortable-[\d.]+\.min\.js[?"]')


def cache_control(response) -> set[str]:
    return {part.strip() for part in response.headers.get("Cache-Control", "").split(",") if part.strip()}


def without_csrf_tokens(html: bytes) -> bytes:
    # The signed token carries a timestamp, so two renderings a second apart differ there only.
    return re.sub(rb'("X-CSRFToken": "|name="csrf_token" value=")[^"]+', rb"\1", html)


def static_urls(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def bare_app(**config):
    """A fresh app ("a new process") that needs no database: the checks below never touch it."""
    app = create_app(TestingConfig({"SECRET_KEY": "test-" + "x" * 40, "DATABASE_URL": "sqlite://"}))
    app.config.update(config)
    return app


@pytest.mark.parametrize("encoding", ["gzip", "br", "zstd"])
def test_the_board_and_its_stylesheet_come_compressed_when_asked(client, login_as, make_tablo, encoding):
    owner = login_as()
    tablo = make_tablo(owner=owner, tasks=60)
    plain_page = client.get(f"/tablos/{tablo.id}")
    stylesheet = next(url for url in static_urls(plain_page.text) if "/css/app.css" in url)

    page = client.get(f"/tablos/{tablo.id}", headers={"Accept-Encoding": encoding})
    assert page.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in page.headers["Vary"]
    assert page.headers["Cache-Control"] == "no-store"  # still never stored, compressed or not
    assert int(page.headers["Content-Length"]) == len(page.data)
    assert without_csrf_tokens(DECOMPRESS[encoding](page.data)) == without_csrf_tokens(plain_page.data)
    assert DECOMPRESS[encoding](page.data).count(b'class="task"') == 60
    assert len(page.data) < len(plain_page.data) / 4

    plain_css = client.get(stylesheet)
    css = client.get(stylesheet, headers={"Accept-Encoding": encoding})
    assert plain_css.headers.get("Content-Encoding") is None
    assert css.headers["Content-Encoding"] == encoding
    assert DECOMPRESS[encoding](css.data) == plain_css.data == (STATIC / "css" / "app.css").read_bytes()
    assert len(css.data) < len(plain_css.data) / 2
    assert cache_control(css) == YEAR_IMMUTABLE


def test_the_client_s_preference_picks_the_encoding_and_without_one_nothing_is_compressed(client, login_as, make_tablo):
    tablo = make_tablo(owner=login_as(), tasks=20)
    url = f"/tablos/{tablo.id}"
    # A browser that accepts all three gets the cheapest to produce for its size.
    assert client.get(url, headers={"Accept-Encoding": EVERY_ENCODING}).headers["Content-Encoding"] == "zstd"
    assert client.get(url, headers={"Accept-Encoding": "gzip;q=1, zstd;q=0.5"}).headers["Content-Encoding"] == "gzip"
    for header in [{}, {"Accept-Encoding": "identity"}]:
        response = client.get(url, headers=header)
        assert response.headers.get("Content-Encoding") is None
        assert response.data.count(b'class="task"') == 20
        # A shared cache must not hand this copy to a client that asked differently.
        assert "Accept-Encoding" in response.headers["Vary"]


def test_streamed_responses_go_out_as_they_come_uncompressed():
    app = bare_app()
    produced = []
    chunk = "<p>" + "an event worth its bytes " * 40 + "</p>\n"

    def chunks(prefix: str = ""):
        for n in range(3):
            produced.append(n)
            yield f"{prefix}{chunk}\n"

    @app.get("/whole")
    def whole():
        return "".join(chunks())

    @app.get("/streamed-page")
    def streamed_page():
        return Response(stream_with_context(chunks()), mimetype="text/html")

    @app.get("/events")
    def events():
        return Response(chunks("data: "), mimetype="text/event-stream")

    client = app.test_client()
    # The same body, sent whole, is compressed: what follows is an exception for streams.
    assert client.get("/whole", headers={"Accept-Encoding": EVERY_ENCODING}).headers["Content-Encoding"] == "zstd"
    for url in ["/streamed-page", "/events"]:
        produced.clear()
        response = client.get(url, headers={"Accept-Encoding": EVERY_ENCODING}, buffered=False)
        assert response.headers.get("Content-Encoding") is None
        body = iter(response.response)
        first = next(body)
        assert produced == [0]  # the first chunk left before the second was made: nothing buffers
        assert first.decode().endswith(chunk + "\n")
        assert b"".join(body).count(chunk.encode()) == 2
        response.close()


def test_static_urls_are_versioned_and_only_their_own_version_is_cached_for_a_year(client, login_as, make_tablo):
    tablo = make_tablo(owner=login_as())
    urls = static_urls(client.get(f"/tablos/{tablo.id}").text)
    assert {url.split("?")[0] for url in urls} == {
        "/static/favicon.svg", "/static/css/app.css", "/static/vendor/htmx-2.0.11.min.js",
        "/static/vendor/Sortable-1.15.7.min.js", "/static/js/app.js",
    }
    for url in urls:
        path, version = re.fullmatch(r"/static/([^?]+)\?v=([0-9a-f]{16})", url).groups()
        response = client.get(url)
        assert response.status_code == 200
        assert response.data == (STATIC / path).read_bytes()
        assert cache_control(response) == YEAR_IMMUTABLE, url
        # Signed in or not, the same bytes: no cookie, nothing that makes a cache key on it.
        assert "Set-Cookie" not in response.headers and "Cookie" not in response.headers.get("Vary", ""), url

    # An old page's URL, or one typed by hand, still works but is checked again on every use.
    for url in ["/static/css/app.css", "/static/css/app.css?v=0123456789abcdef"]:
        response = client.get(url)
        assert response.status_code == 200
        assert response.data == (STATIC / "css" / "app.css").read_bytes()
        assert cache_control(response) == {"no-cache"}
        revalidated = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert revalidated.status_code == 304
    assert client.get("/static/css/missing.css").status_code == 404
    assert client.get("/static/../__init__.py").status_code == 404


def test_the_version_changes_with_the_content_and_names_the_bytes_it_was_made_from(tmp_path):
    static = tmp_path / "static"
    shutil.copytree(STATIC, static)
    stylesheet = static / "css" / "app.css"

    def started_app():
        app = bare_app()
        app.static_folder = str(static)
        with app.test_request_context():
            return app, url_for("static", filename="css/app.css")

    old_app, old_url = started_app()
    old_css = stylesheet.read_bytes()
    stylesheet.write_bytes(old_css + b"\n.new-rule { color: red; }\n")
    new_app, new_url = started_app()

    assert old_url != new_url
    assert new_app.test_client().get(new_url).data.endswith(b".new-rule { color: red; }\n")
    assert cache_control(new_app.test_client().get(new_url)) == YEAR_IMMUTABLE
    # A worker started before the deploy serves the bytes its URL names, never the new file
    # under the old name (a browser would keep that mix for a year).
    assert old_app.test_client().get(old_url).data == old_css
    assert cache_control(new_app.test_client().get(old_url)) == {"no-cache"}


def test_sortable_is_loaded_only_where_cards_move(client, db, auth, login_as, make_tablo, make_user):
    owner, editor, viewer = make_user(), make_user(), make_user()
    tablo = make_tablo(owner=owner, tasks=2)
    TabloMember.add(tablo, editor, Role.EDITOR, added_by=owner)
    TabloMember.add(tablo, viewer, Role.VIEWER, added_by=owner)
    db.session.commit()

    login_page = client.get("/login")
    assert 'name="password"' in login_page.text
    assert not SORTABLE.search(login_page.text)

    login_as(editor)
    board = client.get(f"/tablos/{tablo.id}").text
    assert 'data-editable="true"' in board
    assert len(SORTABLE.findall(board)) == 1
    my_tablos = client.get("/tablos").text
    assert tablo.title in my_tablos
    assert not SORTABLE.search(my_tablos)

    auth.logout()
    login_as(viewer)
    board = client.get(f"/tablos/{tablo.id}").text
    assert 'data-editable="false"' in board
    assert not SORTABLE.search(board)


def test_the_debug_server_shows_an_edited_stylesheet_at_once_under_a_new_url(tmp_path):
    static = tmp_path / "static"
    shutil.copytree(STATIC, static)
    app = bare_app(DEBUG=True)
    app.static_folder = str(static)
    client = app.test_client()
    with app.test_request_context():
        before = url_for("static", filename="css/app.css")
    (static / "css" / "app.css").write_bytes(b".edited { color: red; }\n")
    with app.test_request_context():
        after = url_for("static", filename="css/app.css")
    assert after != before
    assert client.get(after).data == b".edited { color: red; }\n"
