"""A real OpenID Connect provider on 127.0.0.1, Google-like or Apple-like, for the social sign-in tests.

It is Authlib's own authorization server (authorization code grant, OpenID Connect, PKCE) in a
small Flask app, served by werkzeug in a daemon thread of the test process. It is strict on purpose,
so that a client bug fails a test instead of passing against a lenient fake: `state`, `nonce` and
an S256 `code_challenge` are required, and a code is single use (a failed attempt burns it too),
lives `code_lifetime` (60) seconds and is bound to the client and the redirect URI.

    with Provider(mode="google") as google:          # or Provider(mode="apple", apple_...=...)
        google.sign_in_as(sub="g-1", email="ada@example.com", name="Ada Lovelace")
        ...  # point the app at google.discovery_url, client id "xtablo-test", secret "s3cret"
        method, url, form = google.consent(authorize_url)   # press Allow as a person would
        google.tamper(nonce="other")                        # the next ID token lies, once
        assert "code_verifier" in google.requests_log[-1][2]

tamper() knobs: nonce, aud (and azp with it), azp (after aud: a lying azp), iss, exp_offset and iat_offset (seconds from now),
drop_nonce, sign_with_unknown_key (True: a key and kid not in the JWKS; "same_kid": a key not in
the JWKS under the published kid), token_error (the next token request gets that OAuth error).

What each mode gives, as the real providers do:
- google: RS256 ID tokens with `azp`, `email_verified` a JSON boolean, the name claims with the
  `profile` scope and the email ones with `email`; client_secret_basic or _post (client_secret=None:
  a public client, PKCE alone); /userinfo.
- apple: ES256 ID tokens (as the issue asks; Apple's own are RS256), `email_verified` (and
  `is_private_email` for relay addresses) as the strings "true"/"false", no name claim; scope must
  be "openid name email" with response_mode=form_post: the answer is a page whose form POSTs code
  and state (and, on the first authorization of a person only, `user` = {"name": {"firstName",
  "lastName"}, "email"}) back to the app, submitted by an inline script. The client secret is an
  ES256 JWT made with the team key. Deny gives error=user_cancelled_authorize, Apple's word.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, grants
from authlib.oauth2.rfc6749.errors import (
    AccessDeniedError, InvalidClientError, InvalidRequestError, InvalidScopeError, OAuth2Error,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.util import create_half_hash
from flask import Flask, current_app, jsonify, request
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from werkzeug.serving import WSGIRequestHandler, make_server

MODES = {  # what differs between the two providers
    "google": {"alg": "RS256", "scopes": ["openid", "email", "profile"]},
    "apple": {"alg": "ES256", "scopes": ["openid", "name", "email"]},
}
KNOBS = {"nonce", "aud", "azp", "iss", "exp_offset", "iat_offset", "sign_with_unknown_key", "drop_nonce", "token_error"}
SIX_MONTHS = 15777000  # Apple's longest client secret lifetime, in seconds


def apple_key() -> tuple[str, str]:
    """A fresh EC P-256 team key, as Apple's developer site gives one: (private PEM, public PEM)."""
    key = ECKey.generate_key("P-256")
    return key.as_pem(private=True).decode(), key.as_pem(private=False).decode()


@dataclass
class Person:
    sub: str
    email: str | None
    email_verified: bool
    name: str | None
    given_name: str | None
    family_name: str | None


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    nonce: str
    code_challenge: str
    code_challenge_method: str
    person: Person
    issued_at: int

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


def provider() -> Provider:
    return current_app.extensions["oidc_provider"]


class Client(ClientMixin):
    """The one registered client; what it may do depends on the provider's mode."""

    def get_client_id(self):
        return provider().client_id

    def get_default_redirect_uri(self):
        return None  # redirect_uri is required

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        parts = urlsplit(redirect_uri)
        return parts.scheme in ("http", "https") and bool(parts.netloc) and not parts.fragment

    def check_client_secret(self, client_secret):
        secret = provider().client_secret
        return provider().mode == "google" and secret is not None and secrets.compare_digest(client_secret, secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in provider().auth_methods

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"  # no refresh tokens


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        provider().codes[code] = Code(
            code=code, client_id=request.client.get_client_id(), redirect_uri=request.payload.redirect_uri,
            scope=request.scope, nonce=data["nonce"], code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"], person=request.user, issued_at=int(time.time()))

    def query_authorization_code(self, code, client):
        found = provider().codes.pop(code, None)  # popped at once: single use, even under a race
        if found and found.client_id == client.get_client_id() and time.time() < found.issued_at + provider().code_lifetime:
            return found
        return None

    def delete_authorization_code(self, authorization_code):
        pass  # already gone

    def authenticate_user(self, authorization_code):
        return authorization_code.person

    def create_authorization_response(self, redirect_uri, grant_user):
        p = provider()
        if not grant_user:
            if p.mode == "apple":
                raise OAuth2Error(error="user_cancelled_authorize", redirect_uri=redirect_uri)
            raise AccessDeniedError(redirect_uri=redirect_uri)
        self.request.user = grant_user
        code = self.generate_authorization_code()
        self.save_authorization_code(code, self.request)
        params = {"code": code, "state": self.request.payload.state}
        if p.mode == "apple" and grant_user.sub not in p.apple_subs_seen:
            p.apple_subs_seen.add(grant_user.sub)
            user = {"email": grant_user.email} if grant_user.email else {}
            if grant_user.given_name or grant_user.family_name:
                user["name"] = {"firstName": grant_user.given_name, "lastName": grant_user.family_name}
            params["user"] = json.dumps(user)
        return p.answer(redirect_uri, params)


class IDToken(OpenIDCode):
    def exists_nonce(self, nonce, request):
        return False  # as at Google and Apple, a nonce's uniqueness is the client's business

    def encode_id_token(self, token, request):
        return provider().id_token(request.authorization_code, token["access_token"])


def strict_authorization_request(grant):
    grant.register_hook("after_validate_authorization_request_payload", check_authorization_request)


def check_authorization_request(grant, redirect_uri):
    """What Authlib leaves optional and the real providers (or this strict one) require."""
    mode, data = provider().mode, grant.request.payload.data
    scopes = set((data.get("scope") or "").split())
    if "openid" not in scopes:
        raise InvalidScopeError("The scope must contain 'openid'.")
    if mode == "apple" and not {"name", "email"} <= scopes:
        raise InvalidScopeError("Apple's scope is 'openid name email'.")
    if not data.get("state"):
        raise InvalidRequestError("Missing 'state'.")
    if not data.get("nonce"):
        raise InvalidRequestError("Missing 'nonce'.")
    if mode == "apple" and data.get("response_mode") != "form_post":
        raise InvalidRequestError("With the name or email scope, response_mode must be 'form_post'.")
    if mode == "google" and data.get("response_mode", "query") != "query":
        raise InvalidRequestError("Unsupported 'response_mode'.")
    if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
        raise InvalidRequestError("A 'code_challenge' with code_challenge_method=S256 is required.")


def authenticate_apple_client(query_client, request):
    """client_secret_post where the secret is the ES256 JWT an Apple client makes with its team key."""
    p = provider()

    def refuse(why):
        raise InvalidClientError(status_code=401, description=why)

    if request.form.get("client_id") != p.client_id or not request.form.get("client_secret"):
        refuse("Apple takes client_id and client_secret in the form (client_secret_post).")
    try:
        token = jwt.decode(request.form["client_secret"], p.apple_public_key, algorithms=["ES256"])
        jwt.JWTClaimsRegistry(
            leeway=60, iss={"essential": True, "value": p.apple_team_id},
            sub={"essential": True, "value": p.client_id}, aud={"essential": True, "value": p.issuer},
            iat={"essential": True}, exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as error:
        refuse("Bad client secret: " + str(error).replace('"', "'"))
    if token.header.get("kid") != p.apple_key_id:
        refuse("The client secret's kid is not the registered key.")
    if token.claims["exp"] > time.time() + SIX_MONTHS:
        refuse("The client secret lives longer than 6 months.")
    return query_client(p.client_id)


class Server(AuthorizationServer):
    def handle_error_response(self, request_, error):
        if error.redirect_uri:  # back to the client, the way it asked for its answer
            return self.handle_response(*provider().answer(error.redirect_uri, dict(error.get_body())))
        return super().handle_error_response(request_, error)


class QuietHandler(WSGIRequestHandler):
    def log(self, type, message, *args):
        pass  # the tests read requests_log instead


class Provider:
    code_lifetime = 60  # seconds an authorization code can be exchanged

    def __init__(self, *, mode: str = "google", host: str = "127.0.0.1", client_id: str = "xtablo-test",
                 client_secret: str | None = "s3cret", apple_team_id: str | None = None,
                 apple_key_id: str | None = None, apple_public_key_pem: str | None = None):
        if mode not in MODES:
            raise ValueError(f"mode is 'google' or 'apple', not {mode!r}")
        if mode == "apple" and not (apple_team_id and apple_key_id and apple_public_key_pem):
            raise ValueError("Apple mode needs apple_team_id, apple_key_id and apple_public_key_pem")
        self.mode, self.host, self.client_id, self.client_secret = mode, host, client_id, client_secret
        self.apple_team_id, self.apple_key_id = apple_team_id, apple_key_id
        self.apple_public_key = ECKey.import_key(apple_public_key_pem) if apple_public_key_pem else None
        self.alg = MODES[mode]["alg"]
        self.auth_methods = (["client_secret_post"] if mode == "apple" else
                             ["client_secret_basic", "client_secret_post"] if client_secret is not None else ["none"])
        self.key = self.new_key()
        self.issuer = self.discovery_url = ""
        self.person: Person | None = None
        self.codes: dict[str, Code] = {}
        self.access_tokens: dict[str, tuple[Person, str, float]] = {}
        self.apple_subs_seen: set[str] = set()
        self.knobs: dict = {}
        self.lock = threading.Lock()
        self.requests_log: list[tuple[str, str, dict]] = []
        self.app = self.make_app()
        self._server = self._thread = None

    # -- What the tests call ------------------------------------------------------------------

    def start(self) -> Provider:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, request_handler=QuietHandler)
        self.issuer = f"http://{self.host}:{self._server.server_port}"
        self.discovery_url = self.issuer + "/.well-known/openid-configuration"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"oidc-provider-{self.mode}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> Provider:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def sign_in_as(self, *, sub: str, email: str | None, email_verified: bool = True, name: str | None = None,
                   given_name: str | None = None, family_name: str | None = None) -> None:
        """The person signed in at the provider; a missing part of the name is made from the rest."""
        if name and not (given_name or family_name):
            given_name, _, family_name = name.partition(" ")
            family_name = family_name or None
        if not name and (given_name or family_name):
            name = " ".join(part for part in (given_name, family_name) if part)
        self.person = Person(sub, email, email_verified, name, given_name, family_name)

    def tamper(self, **knobs) -> None:
        """Misbehave once: the next ID token (or, for token_error, the next token request) lies."""
        if unknown := set(knobs) - KNOBS:
            raise TypeError(f"unknown knobs {sorted(unknown)}; known: {sorted(KNOBS)}")
        with self.lock:
            self.knobs.update(knobs)

    def consent(self, authorize_url: str, *, allow: bool = True) -> tuple[str, str, dict | None]:
        """Open authorize_url and press Allow or Deny; returns where the browser goes next:
        ("GET", url, None) for a redirect, ("POST", url, fields) for Apple's self-submitting form."""
        with requests.Session() as browser:
            page = browser.get(authorize_url, allow_redirects=False, timeout=10)
            if page.status_code == 200 and 'name="decision"' in page.text:
                page = browser.post(urljoin(page.url, FormReader.read(page.text)[0]), allow_redirects=False,
                                    data={"decision": "allow" if allow else "deny"}, timeout=10)
        if page.is_redirect:
            return "GET", page.headers["Location"], None
        if page.status_code != 200:
            raise AssertionError(f"the provider refused: {page.status_code} {page.text}")
        action, fields = FormReader.read(page.text)
        return "POST", action, fields

    # -- The provider ---------------------------------------------------------------------------

    def new_key(self, kid: str | None = None):
        parameters = {"kid": kid or secrets.token_hex(8), "use": "sig", "alg": self.alg}
        return RSAKey.generate_key(2048, parameters) if self.alg == "RS256" else ECKey.generate_key("P-256", parameters)

    def answer(self, redirect_uri: str, params: dict) -> tuple[int, str, list]:
        """Send params back to the client: a redirect with a query, or the form_post page Apple uses."""
        params = {k: v for k, v in params.items() if v is not None}
        if request.values.get("response_mode") != "form_post":
            return 302, "", [("Location", add_params_to_uri(redirect_uri, params))]
        inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                         for k, v in params.items())
        return 200, (
            f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Returning to xtablo</title>'
            f'</head><body><form method="post" action="{html.escape(redirect_uri)}">{inputs}'
            f'<noscript><button>Continue</button></noscript></form>'
            f'<script>document.forms[0].submit()</script></body></html>'), [("Content-Type", "text/html; charset=utf-8")]

    def person_claims(self, person: Person, scope: str) -> dict:
        scopes, claims = scope.split(), {"sub": person.sub}
        if "email" in scopes and person.email is not None:
            claims["email"] = person.email
            if self.mode == "google":
                claims["email_verified"] = bool(person.email_verified)
            else:
                claims["email_verified"] = "true" if person.email_verified else "false"
                if person.email.endswith("@privaterelay.appleid.com"):
                    claims["is_private_email"] = "true"
        if "profile" in scopes:
            claims.update({k: v for k, v in vars(person).items()
                           if k in ("name", "given_name", "family_name") and v is not None})
        return claims

    def id_token(self, code: Code, access_token: str) -> str:
        with self.lock:
            knobs, self.knobs = self.knobs, {}
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": self.client_id, "iat": now, "exp": now + 600,
                  "auth_time": code.issued_at, "nonce": code.nonce,
                  "at_hash": create_half_hash(access_token, self.alg).decode()}
        claims.update({"azp": self.client_id} if self.mode == "google" else {"nonce_supported": True})
        claims.update(self.person_claims(code.person, code.scope))
        claims.update({k: knobs[k] for k in ("nonce", "aud", "iss") if k in knobs})
        if "aud" in knobs and self.mode == "google":
            claims["azp"] = knobs["aud"]  # a token issued to another client, as it would really be
        if "azp" in knobs:  # a token that names this client as its party but another audience
            claims["azp"] = knobs["azp"]
        if "exp_offset" in knobs:
            claims["exp"] = now + knobs["exp_offset"]
        if "iat_offset" in knobs:
            claims["iat"] = now + knobs["iat_offset"]
        if knobs.get("drop_nonce"):
            del claims["nonce"]
        key = self.key
        if unknown := knobs.get("sign_with_unknown_key"):  # "same_kid": an impostor under our kid
            key = self.new_key(kid=self.key.kid if unknown == "same_kid" else None)
        return jwt.encode({"alg": self.alg, "kid": key.kid}, claims, key, algorithms=[self.alg])

    def make_app(self) -> Flask:
        app = Flask(__name__)
        app.config.update(OAUTH2_TOKEN_EXPIRES_IN={"authorization_code": 3600},
                          OAUTH2_SCOPES_SUPPORTED=MODES[self.mode]["scopes"])
        app.extensions["oidc_provider"] = self
        client = Client()

        def save_token(token, request_):
            self.access_tokens[token["access_token"]] = (request_.user, token["scope"], time.time() + 3600)

        server = Server(app, query_client=lambda client_id: client if client_id == self.client_id else None,
                        save_token=save_token)
        if self.mode == "apple":
            server.register_client_auth_method("client_secret_post", authenticate_apple_client)
        server.register_grant(CodeGrant, [strict_authorization_request, CodeChallenge(required=True),
                                          IDToken(require_nonce=True)])

        @app.before_request
        def log_request():
            self.requests_log.append((request.method, request.path, request.values.to_dict()))

        @app.get("/.well-known/openid-configuration")
        def discovery():
            google = self.mode == "google"
            return jsonify(
                issuer=self.issuer, authorization_endpoint=self.issuer + "/authorize",
                token_endpoint=self.issuer + "/token", jwks_uri=self.issuer + "/jwks",
                **({"userinfo_endpoint": self.issuer + "/userinfo"} if google else {}),
                response_types_supported=["code"],
                response_modes_supported=["query"] if google else ["query", "fragment", "form_post"],
                subject_types_supported=["public"] if google else ["pairwise"],
                grant_types_supported=["authorization_code"],
                scopes_supported=MODES[self.mode]["scopes"], id_token_signing_alg_values_supported=[self.alg],
                code_challenge_methods_supported=["S256"], token_endpoint_auth_methods_supported=self.auth_methods)

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([self.key]).as_dict())

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            person = self.person
            try:
                grant = server.get_consent_grant(end_user=person)
            except OAuth2Error as error:
                return server.handle_error_response(None, error)
            if person is None:
                return "Nobody is signed in at the test provider: call Provider.sign_in_as() first.", 409
            if request.method == "POST":
                allowed = person if request.form.get("decision") == "allow" else None
                return server.create_authorization_response(grant=grant, grant_user=allowed)
            who = html.escape(" ".join(filter(None, [person.name, person.email and f"({person.email})"])))
            return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in</title></head>'
                    f'<body><h1>Sign in to xtablo as {who}</h1><form method="post" action="{html.escape(request.full_path)}">'
                    f'<button name="decision" value="allow">Allow</button> '
                    f'<button name="decision" value="deny">Deny</button></form></body></html>')

        @app.post("/token")
        def token():
            with self.lock:
                error = self.knobs.pop("token_error", None)
            if error:
                return jsonify(error=error, error_description="Told to fail by tamper()."), 401 if error == "invalid_client" else 400
            return server.create_token_response()

        @app.get("/userinfo")
        def userinfo():
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            person, scope, expires_at = self.access_tokens.get(value, (None, "", 0))
            if self.mode != "google" or scheme.lower() != "bearer" or time.time() >= expires_at:
                return jsonify(error="invalid_token"), 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return jsonify(self.person_claims(person, scope))

        return app


class FormReader(HTMLParser):
    """The first form of a page: its action and the fields it would submit."""

    @classmethod
    def read(cls, page: str) -> tuple[str, dict]:
        reader = cls()
        reader.feed(page)
        return reader.action, reader.fields

    def __init__(self):
        super().__init__()
        self.action, self.fields, self.forms = "", {}, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms += 1
            self.action = self.action or attrs.get("action", "")
        elif tag == "input" and self.forms == 1 and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value", "")
