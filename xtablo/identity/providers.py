"""The registry of sign-in providers: what differs between Google and Apple, in one place.

Each provider is an OpenID Connect issuer reached through Authlib's Flask client (authorization
code flow with state, nonce and PKCE S256; the ID token's signature, issuer, audience, expiry
and nonce checked by Authlib against the keys the discovery document points to). A third
provider is one more `Provider(...)` in PROVIDERS and its settings in config.py.

A provider whose settings are missing is not enabled: no button, and its routes answer 404.
"""

import json
import time
from dataclasses import dataclass, field
from typing import Callable

from authlib.integrations.flask_client import FlaskOAuth2App, OAuth
from flask import Flask, current_app
from joserfc import jwt
from joserfc.jwk import ECKey


@dataclass(frozen=True)
class Profile:
    """What a provider says about the person, normalised: `email_verified` is a real bool."""

    subject: str
    email: str | None
    email_verified: bool
    name: str | None


@dataclass(frozen=True)
class Provider:
    name: str  # in URLs and in user_identities.provider
    label: str  # brand names are not translated
    settings: tuple[str, ...]  # config keys that must all be set to enable it
    scope: str
    # Apple answers with a cross-site POST (response_mode=form_post); Google with a GET.
    callback_method: str = "GET"
    authorize_params: dict = field(default_factory=dict)
    token_auth_method: str = "client_secret_basic"
    client_cls: type = FlaskOAuth2App
    # The name the person gave, from the callback's form (Apple: first authorization only).
    name_from_form: Callable[[dict], str | None] = lambda form: None

    def enabled(self, app: Flask) -> bool:
        return all(app.config.get(key) for key in self.settings)

    def client(self) -> FlaskOAuth2App:
        return current_app.extensions["authlib.integrations.flask_client"].create_client(self.name)

    def profile(self, claims: dict, form: dict) -> Profile:
        """Raises ValueError for an answer xtablo cannot keep (a subject over 255 characters)."""
        subject = str(claims["sub"])
        if not subject or len(subject) > 255:
            raise ValueError("unusable subject")
        email = claims.get("email")
        if not isinstance(email, str) or len(email.strip()) > 254 or "@" not in email:
            email = None  # no address xtablo could use: treated as none shared
        text = {key: value for key in ("name", "given_name", "family_name") if isinstance(value := claims.get(key), str)}
        name = text.get("name") or " ".join(part for part in (text.get("given_name"), text.get("family_name")) if part)
        return Profile(
            subject=subject,
            email=email.strip().lower() if email and email.strip() else None,
            # Apple sends "true"/"false" as strings; Google sends booleans.
            email_verified=claims.get("email_verified") is True or claims.get("email_verified") == "true",
            name=_printable(name or self.name_from_form(form) or "")[:100] or None,
        )


class AppleClient(FlaskOAuth2App):
    """Apple's client secret is not a fixed string but a JWT the app signs with the team's key
    (ES256), valid for at most six months. One is made when needed and reused for an hour."""

    _secret: tuple[float, str] | None = None

    @property
    def client_secret(self) -> str:
        now = time.time()
        if self._secret is None or self._secret[0] < now:
            config = current_app.config
            claims = {
                "iss": config["APPLE_TEAM_ID"], "sub": config["APPLE_CLIENT_ID"],
                # The audience is Apple's issuer (https://appleid.apple.com), read from discovery.
                "aud": self.load_server_metadata()["issuer"],
                "iat": int(now), "exp": int(now) + 3600 + 300,
            }
            key = ECKey.import_key(config["APPLE_PRIVATE_KEY"])
            secret = jwt.encode({"alg": "ES256", "kid": config["APPLE_KEY_ID"]}, claims, key)
            self._secret = (now + 3600, secret)
        return self._secret[1]

    @client_secret.setter
    def client_secret(self, value) -> None:
        pass  # Authlib's constructor sets it; Apple's is computed above


def _printable(text: str) -> str:
    """A name as xtablo keeps it: no NUL nor other control characters (a JSON escape can carry them)."""
    return "".join(ch for ch in text if ch.isprintable()).strip()


def _apple_name(form: dict) -> str | None:
    """Apple posts the person's name once, on their first authorization, as JSON in `user`
    (from the browser's form, so anything may come: only two strings are taken from it)."""
    try:
        user = json.loads(form.get("user") or "{}")
    except (ValueError, RecursionError):
        return None
    name = user.get("name") if isinstance(user, dict) else None
    if not isinstance(name, dict):
        return None
    return " ".join(part for part in (name.get("firstName"), name.get("lastName")) if isinstance(part, str) and part)


PROVIDERS = {
    provider.name: provider
    for provider in (
        Provider(
            name="google", label="Google", scope="openid email profile",
            settings=("GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "GOOGLE_DISCOVERY_URL"),
        ),
        Provider(
            name="apple", label="Apple", scope="openid name email", callback_method="POST",
            authorize_params={"response_mode": "form_post"}, token_auth_method="client_secret_post",
            client_cls=AppleClient, name_from_form=_apple_name,
            settings=("APPLE_CLIENT_ID", "APPLE_TEAM_ID", "APPLE_KEY_ID", "APPLE_PRIVATE_KEY", "APPLE_DISCOVERY_URL"),
        ),
    )
}


def enabled_providers(app: Flask | None = None) -> list[Provider]:
    app = app or current_app
    return [provider for provider in PROVIDERS.values() if provider.enabled(app)]


def init_app(app: Flask) -> None:
    """One Authlib registry per app (tests make several apps with different providers).

    Authlib's own state storage is not used (its `cache=` mode is CVE-2025-68158, and its
    session mode cannot survive Apple's cross-site POST): the views keep the flow themselves.
    """
    oauth = OAuth()
    oauth.init_app(app)
    for provider in enabled_providers(app):
        prefix = provider.name.upper()
        oauth.register(
            provider.name,
            client_id=app.config[f"{prefix}_CLIENT_ID"],
            client_secret=app.config.get(f"{prefix}_CLIENT_SECRET"),
            server_metadata_url=app.config[f"{prefix}_DISCOVERY_URL"],
            authorize_params=provider.authorize_params or None,
            client_cls=provider.client_cls,
            client_kwargs={
                "scope": provider.scope,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": provider.token_auth_method,
                "default_timeout": app.config["OAUTH_TIMEOUT"],
            },
        )
    app.jinja_env.globals.update(sign_in_providers=lambda: enabled_providers(app), PROVIDERS=PROVIDERS)
