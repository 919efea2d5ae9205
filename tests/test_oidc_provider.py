"""The test OpenID Connect provider (tests/oidc_provider.py) behaves like Google's and Apple's.

Authlib's Flask client, configured as an app would configure it, signs in against the provider; a
tampered answer must make that client fail, and each rule the provider enforces is shown refused.
No database and no browser: these tests need neither the app nor its fixtures.
"""

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.common.encoding import urlsafe_b64decode
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.flask_client import OAuth
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Flask, request
from joserfc import jwt
from joserfc.errors import BadSignatureError, ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, MissingClaimError
from joserfc.jwk import ECKey

from tests.oidc_provider import Provider, apple_key

CALLBACK = "http://127.0.0.1:5000/callback"
TEAM_ID, KEY_ID = "TEAM123456", "KEY1234567"


@pytest.fixture
def google():
    with Provider(mode="google") as provider:
        provider.sign_in_as(sub="google-1", email="ada@example.com", name="Ada Lovelace")
        yield provider


@pytest.fixture(scope="module")
def team_key():
    return apple_key()


@pytest.fixture
def apple(team_key):
    with Provider(mode="apple", apple_team_id=TEAM_ID, apple_key_id=KEY_ID, apple_public_key_pem=team_key[1]) as provider:
        provider.sign_in_as(sub="apple-1", email="x7@privaterelay.appleid.com", given_name="Ada", family_name="Lovelace")
        yield provider


def apple_secret(provider, private_pem, *, kid=KEY_ID, iss=TEAM_ID, aud=None, lifetime=3600):
    now = int(time.time())
    claims = {"iss": iss, "sub": provider.client_id, "aud": aud or provider.issuer, "iat": now, "exp": now + lifetime}
    return jwt.encode({"alg": "ES256", "kid": kid}, claims, ECKey.import_key(private_pem))


def relying_party(provider, team_key=None, auth_method="client_secret_basic"):
    """A throwaway Flask app registered with the provider as xtablo registers with Google or Apple."""
    app = Flask(__name__)
    app.secret_key, app.testing = "not secret", True
    oauth = OAuth(app)
    if provider.mode == "google":
        options = dict(client_secret=provider.client_secret, client_kwargs={
            "scope": "openid email profile", "code_challenge_method": "S256", "token_endpoint_auth_method": auth_method})
    else:
        options = dict(client_secret=apple_secret(provider, team_key[0]), authorize_params={"response_mode": "form_post"},
                       client_kwargs={"scope": "openid name email", "code_challenge_method": "S256",
                                      "token_endpoint_auth_method": "client_secret_post"})
    oauth.register("idp", client_id=provider.client_id, server_metadata_url=provider.discovery_url, **options)

    @app.get("/sign-in")
    def sign_in():
        return oauth.idp.authorize_redirect(CALLBACK)

    @app.route("/callback", methods=["GET", "POST"])
    def callback():
        token = oauth.idp.authorize_access_token()
        header = json.loads(urlsafe_b64decode(token["id_token"].split(".")[0].encode() + b"=="))
        return {"userinfo": dict(token["userinfo"]), "alg": header["alg"], "user": request.form.get("user"),
                "access_token": token["access_token"]}

    return app.test_client()


def sign_in(provider, client, *, allow=True):
    """The person signs in at the provider, and the browser comes back to the callback."""
    method, url, form = provider.consent(client.get("/sign-in").headers["Location"], allow=allow)
    parts = urlsplit(url)
    assert f"http://{parts.netloc}{parts.path}" == CALLBACK
    return client.open(f"{parts.path}?{parts.query}", method=method, data=form)


def test_google_sign_in(google):
    answer = sign_in(google, relying_party(google)).json
    assert answer["alg"] == "RS256"
    claims = answer["userinfo"]
    times = {k: claims.pop(k) for k in ("iat", "exp", "auth_time")}
    assert times["exp"] - times["iat"] == 600 and times["auth_time"] <= times["iat"]
    assert claims.pop("nonce") and claims.pop("at_hash")  # Authlib checked both against its own
    assert claims == {
        "iss": google.issuer, "aud": "xtablo-test", "azp": "xtablo-test", "sub": "google-1", "email": "ada@example.com",
        "email_verified": True, "name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"}
    token_request = [params for method, path, params in google.requests_log if path == "/token"]
    assert len(token_request) == 1 and len(token_request[0]["code_verifier"]) == 48
    userinfo = requests.get(google.issuer + "/userinfo", headers={"Authorization": f"Bearer {answer['access_token']}"})
    assert userinfo.json()["email"] == "ada@example.com"
    assert requests.get(google.issuer + "/userinfo", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_google_takes_the_secret_in_the_form_too(google):
    assert sign_in(google, relying_party(google, auth_method="client_secret_post")).json["userinfo"]["sub"] == "google-1"


def test_the_consent_page_names_the_person(google):
    page = requests.get(relying_party(google).get("/sign-in").headers["Location"])
    assert "<h1>Sign in to xtablo as Ada Lovelace (ada@example.com)</h1>" in page.text
    assert '<button name="decision" value="allow">Allow</button>' in page.text


def test_discovery(google, apple):
    google_doc, apple_doc = (requests.get(p.discovery_url).json() for p in (google, apple))
    assert (google_doc["issuer"], google_doc["id_token_signing_alg_values_supported"], google_doc["userinfo_endpoint"]) == (
        google.issuer, ["RS256"], google.issuer + "/userinfo")
    assert google_doc["token_endpoint_auth_methods_supported"] == ["client_secret_basic", "client_secret_post"]
    assert (apple_doc["id_token_signing_alg_values_supported"], apple_doc["token_endpoint_auth_methods_supported"]) == (
        ["ES256"], ["client_secret_post"])
    assert apple_doc["response_modes_supported"] == ["query", "fragment", "form_post"] and "userinfo_endpoint" not in apple_doc
    assert google_doc["code_challenge_methods_supported"] == apple_doc["code_challenge_methods_supported"] == ["S256"]


def test_apple_sign_in_gives_the_name_the_first_time_only(apple, team_key):
    client = relying_party(apple, team_key)
    first = sign_in(apple, client).json
    assert first["alg"] == "ES256"
    assert json.loads(first["user"]) == {"name": {"firstName": "Ada", "lastName": "Lovelace"},
                                         "email": "x7@privaterelay.appleid.com"}
    claims = first["userinfo"]
    assert (claims["sub"], claims["email"], claims["email_verified"], claims["is_private_email"]) == (
        "apple-1", "x7@privaterelay.appleid.com", "true", "true")
    assert "name" not in claims
    again = sign_in(apple, client).json
    assert again["user"] is None and again["userinfo"]["sub"] == "apple-1"


def test_apple_form_posts_back_with_a_script(apple, team_key):
    page = requests.get(relying_party(apple, team_key).get("/sign-in").headers["Location"])
    answer = requests.post(page.url, data={"decision": "allow"}, allow_redirects=False)
    assert answer.status_code == 200
    assert f'<form method="post" action="{CALLBACK}">' in answer.text
    assert "<script>document.forms[0].submit()</script>" in answer.text and "<noscript>" in answer.text


@pytest.mark.parametrize("knobs, error", [
    ({"nonce": "another"}, InvalidClaimError),
    ({"drop_nonce": True}, MissingClaimError),
    ({"aud": "someone-else"}, InvalidClaimError),  # and azp with it, as on a token issued to another client
    ({"iss": "https://accounts.example.com"}, InvalidClaimError),
    ({"exp_offset": -3600}, ExpiredTokenError),
    ({"iat_offset": 3600}, InvalidClaimError),
    ({"sign_with_unknown_key": True}, InvalidKeyIdError),
    ({"sign_with_unknown_key": "same_kid"}, BadSignatureError),
    ({"token_error": "invalid_grant"}, OAuthError),
])
def test_a_tampered_answer_fails_once(google, knobs, error):
    client = relying_party(google)
    google.tamper(**knobs)
    with pytest.raises(error):
        sign_in(google, client)
    assert sign_in(google, client).json["userinfo"]["sub"] == "google-1"


@pytest.mark.parametrize("knobs, error", [({"aud": "someone-else"}, MissingClaimError),
                                          ({"sign_with_unknown_key": "same_kid"}, BadSignatureError)])
def test_a_tampered_apple_token_fails(apple, team_key, knobs, error):
    apple.tamper(**knobs)
    with pytest.raises(error):
        sign_in(apple, relying_party(apple, team_key))


def test_an_unknown_knob_is_refused(google):
    with pytest.raises(TypeError):
        google.tamper(nonse="typo")


@pytest.mark.parametrize("mode, error", [("google", "access_denied"), ("apple", "user_cancelled_authorize")])
def test_deny(request, mode, error):
    provider = request.getfixturevalue(mode)
    client = relying_party(provider, request.getfixturevalue("team_key") if mode == "apple" else None)
    authorize_url = client.get("/sign-in").headers["Location"]
    method, url, form = provider.consent(authorize_url, allow=False)
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    answer = form if method == "POST" else {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert (method, answer["error"], answer["state"]) == ("GET" if mode == "google" else "POST", error, state)


def authorization(provider, **changes):
    """A valid authorization request (Google's), with changes; None removes a parameter."""
    verifier = generate_token(48)
    params = {"response_type": "code", "client_id": provider.client_id, "redirect_uri": CALLBACK,
              "scope": "openid email profile", "state": "s1", "nonce": "n1",
              "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256"} | changes
    return {k: v for k, v in params.items() if v is not None}, verifier


def code_for(provider, **changes):
    params, verifier = authorization(provider, **changes)
    method, url, _ = provider.consent(requests.Request("GET", provider.issuer + "/authorize", params=params).prepare().url)
    return parse_qs(urlsplit(url).query)["code"][0], verifier


def exchange(provider, code, verifier, *, secret="s3cret", redirect_uri=CALLBACK):
    return requests.post(provider.issuer + "/token", auth=("xtablo-test", secret), data={
        "grant_type": "authorization_code", "code": code, "code_verifier": verifier, "redirect_uri": redirect_uri})


@pytest.mark.parametrize("changes, error", [
    ({"state": None}, "invalid_request"),
    ({"nonce": None}, "invalid_request"),
    ({"code_challenge": None}, "invalid_request"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge_method": None}, "invalid_request"),
    ({"scope": "email profile"}, "invalid_scope"),
    ({"scope": "openid email offline_access"}, "invalid_scope"),
    ({"response_type": "token"}, "unsupported_response_type"),
])
def test_a_faulty_authorization_request_goes_back_with_an_error(google, changes, error):
    params, _ = authorization(google, **changes)
    answer = requests.get(google.issuer + "/authorize", params=params, allow_redirects=False)
    back = parse_qs(urlsplit(answer.headers["Location"]).query)
    assert (answer.status_code, back["error"], back.get("state")) == (302, [error], ["s1"] if "state" in params else None)


@pytest.mark.parametrize("changes", [{"client_id": "someone-else"}, {"redirect_uri": "javascript:alert(1)"},
                                     {"redirect_uri": None}])
def test_a_request_that_cannot_go_back_is_refused_on_the_spot(google, changes):
    answer = requests.get(google.issuer + "/authorize", params=authorization(google, **changes)[0], allow_redirects=False)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_client" if "client_id" in changes else "invalid_request")


def test_apple_requires_form_post_and_its_scope(apple):
    params, _ = authorization(apple, scope="openid name email")
    method, url, _ = apple.consent(requests.Request("GET", apple.issuer + "/authorize", params=params).prepare().url)
    assert (method, parse_qs(urlsplit(url).query)["error"]) == ("GET", ["invalid_request"])
    params, _ = authorization(apple, response_mode="form_post")
    method, url, form = apple.consent(requests.Request("GET", apple.issuer + "/authorize", params=params).prepare().url)
    assert (method, url, form["error"], form["state"]) == ("POST", CALLBACK, "invalid_scope", "s1")


def test_a_code_works_once(google):
    code, verifier = code_for(google)
    assert exchange(google, code, verifier).status_code == 200
    again = exchange(google, code, verifier)
    assert (again.status_code, again.json()["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("mistake", ["verifier", "redirect_uri", "late"])
def test_a_code_is_bound_to_its_verifier_redirect_and_minute(google, mistake):
    code, verifier = code_for(google)
    if mistake == "late":
        google.code_lifetime = 0
    answer = exchange(google, code, generate_token(48) if mistake == "verifier" else verifier,
                      redirect_uri=CALLBACK + "/other" if mistake == "redirect_uri" else CALLBACK)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")


def test_a_wrong_client_secret_is_refused(google):
    code, verifier = code_for(google)
    answer = exchange(google, code, verifier, secret="wrong")
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    assert exchange(google, code, verifier).status_code == 200  # refused for the secret, not the code


@pytest.mark.parametrize("mistake", [{"kid": "OTHERKEY01"}, {"iss": "OTHERTEAM1"}, {"aud": "https://appleid.apple.com"},
                                     {"lifetime": 200 * 24 * 3600}, {"lifetime": -3600}, {"private_pem": apple_key()[0]}])
def test_apple_refuses_a_bad_client_secret(apple, team_key, mistake):
    params, verifier = authorization(apple, scope="openid name email", response_mode="form_post")
    _, _, form = apple.consent(requests.Request("GET", apple.issuer + "/authorize", params=params).prepare().url)
    request = {"grant_type": "authorization_code", "code": form["code"], "code_verifier": verifier,
               "redirect_uri": CALLBACK, "client_id": apple.client_id}
    answer = requests.post(apple.issuer + "/token", data=request | {
        "client_secret": apple_secret(apple, **({"private_pem": team_key[0]} | mistake))})
    assert (answer.status_code, answer.json()["error"]) == (401, "invalid_client")
    right = requests.post(apple.issuer + "/token", data=request | {"client_secret": apple_secret(apple, team_key[0])})
    assert right.status_code == 200  # refused for the secret, not the code


def test_a_public_client_signs_in_with_pkce_alone():
    with Provider(client_secret=None) as provider:
        provider.sign_in_as(sub="google-2", email=None, name="Grace Hopper")
        assert sign_in(provider, relying_party(provider, auth_method="none")).json["userinfo"]["name"] == "Grace Hopper"


def test_the_issuer_can_be_named_localhost():
    with Provider(host="localhost") as provider:
        assert provider.issuer.startswith("http://localhost:")
        assert requests.get(provider.discovery_url).json()["issuer"] == provider.issuer
