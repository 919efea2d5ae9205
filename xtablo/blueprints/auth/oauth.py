"""Signing in with Google and Apple (OpenID Connect through Authlib): the routes.

/auth/google/login, /auth/apple/login   GET   to the provider; `next` comes back with the person
/auth/google/callback                   GET   the provider's answer (rules: xtablo/identity/rules.py)
/auth/apple/callback                    POST  Apple's answer, a cross-site POST (see below)
/auth/link/confirm                      GET, POST  prove an unverified account with its password
/account/identities/<provider>/link     GET, POST  link a provider to the signed-in account (its
                                              password first), then to the provider
/account/identities/<id>/unlink         POST  unlink a provider (never the last way to sign in)

The flow's secrets (state, nonce, PKCE verifier, redirect URI, `next`, what it is for) live in the
signed session for FLOW_SECONDS and are popped by the callback, so a replayed or forged state finds
nothing. Authlib makes the authorization URL, exchanges the code and checks the ID token
(signature against the provider's published keys, issuer, audience, expiry, nonce).

Apple answers with a cross-site POST (response_mode=form_post), and browsers do not send the
SameSite=Lax session cookie with it. The first POST therefore only answers a page that posts the
same fields again from this site, at once by script or by its button; that second POST carries
the session and does the work. The first answer reads and writes nothing and sets no cookie.
Both skip the CSRF token: the state (one per flow, kept in this browser's session) and the nonce
prove that the answer belongs to a flow this browser started.

A callback writes (accounts, identities, sessions): its first transaction takes the write lock
(`@writes`), after the calls to the provider, made outside any transaction.
"""

import logging
import time
from urllib.parse import urlsplit

from authlib.integrations.base_client import OAuthError
from flask import abort, current_app, flash, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from joserfc.errors import JoseError
from requests import RequestException
from sqlalchemy.exc import IntegrityError

from xtablo.blueprints.auth import bp, throttle
from xtablo.blueprints.auth.forms import ConfirmLinkForm, LinkIdentityForm
from xtablo.blueprints.auth.mails import send_verification
from xtablo.blueprints.auth.views import safe_next
from xtablo.database import end_transaction, writes
from xtablo.extensions import csrf, db
from xtablo.i18n import remember_language
from xtablo.identity.rules import NeedsPassword, SignInRefused, link, link_to_signed_in, sign_in_with, unlink
from xtablo.identity.providers import PROVIDERS, Profile, Provider
from xtablo.models import User, UserIdentity
from xtablo.models.user import verify_password
from xtablo.sessions import start_session
from xtablo.web.security import content_security_policy, external_url

log = logging.getLogger(__name__)

FLOW_SECONDS = 600  # from the click on "Continue with…" to the provider's answer
MAX_FLOWS = 3  # sign-ins started at once in one browser (tabs) that can each still finish
CONFIRM_SECONDS = 600  # from the provider's answer to the password on the confirmation page
# The fields of Apple's form_post that are relayed (anything else is dropped), and their size.
RELAYED_FIELDS = ("code", "state", "user", "error", "error_description")
MAX_FIELD_LENGTH = 4096


def _provider(name: str) -> Provider:
    provider = PROVIDERS.get(name)
    if provider is None or not provider.enabled(current_app):
        abort(404)
    return provider


def login(provider_name: str):
    provider = _provider(provider_name)
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")))
    return _to_provider(provider, next_url=request.args.get("next"))


def _to_provider(provider: Provider, *, next_url: str | None = None, link_user: int | None = None):
    """Start a flow: remember its secrets in the session, send the browser to the provider."""
    redirect_uri = external_url(f"auth.{provider.name}_callback")
    end_transaction()  # discovery may call the provider
    try:
        authorization = provider.client().create_authorization_url(redirect_uri)
    except (RequestException, OAuthError, ValueError, KeyError) as error:
        log.warning("%s sign-in could not start: %r", provider.label, error)
        return _refused(_("%(provider)s cannot be reached just now. Try again in a moment.", provider=provider.label),
                        link_user is not None, {"next": next_url})
    flows = _live_flows()
    flows[authorization["state"]] = {
        "provider": provider.name, "nonce": authorization["nonce"],
        "verifier": authorization["code_verifier"], "redirect_uri": redirect_uri,
        "next": next_url, "link_user": link_user, "at": time.time(),
    }
    # A few at once (two tabs, a second click): the newest MAX_FLOWS, each for FLOW_SECONDS.
    session["oauth_flows"] = dict(sorted(flows.items(), key=lambda item: item[1]["at"])[-MAX_FLOWS:])
    return redirect(authorization["url"], 303 if request.method == "POST" else 302)


def _live_flows() -> dict:
    flows = session.get("oauth_flows")
    if not isinstance(flows, dict):
        return {}
    return {state: flow for state, flow in flows.items() if isinstance(flow, dict) and time.time() - flow.get("at", 0) < FLOW_SECONDS}


def _take_flow(provider: Provider, state) -> dict | None:
    """The flow this browser started with `state`, taken out so that it serves once; None when
    there is none (forged, replayed, expired, or started for another provider). The others stay."""
    flows = _live_flows()
    flow = flows.pop(state, None) if isinstance(state, str) else None
    if flows:
        session["oauth_flows"] = flows
    else:
        session.pop("oauth_flows", None)
    if flow is None or flow["provider"] != provider.name:
        return None
    return flow


@csrf.exempt
@writes
def callback(provider_name: str):
    provider = _provider(provider_name)
    if request.method == "POST" and request.form.get("relayed") != "1":
        return _relay(provider)
    answer = request.args if request.method == "GET" else request.form
    # The state first, even for an error: an answer that names no flow of this browser (a link
    # from another site) takes nothing away and says nothing but that.
    flow = _take_flow(provider, answer.get("state"))
    if flow is None:
        return _refused(_("That sign-in with %(provider)s expired or was already used. Try again.", provider=provider.label), False)
    linking = bool(flow.get("link_user"))
    if answer.get("error"):
        if answer["error"] in ("access_denied", "user_cancelled_authorize"):
            if linking:
                return _refused(_("You cancelled linking %(provider)s.", provider=provider.label), linking, flow, "info")
            return _refused(_("You cancelled signing in with %(provider)s.", provider=provider.label), linking, flow, "info")
        return _refused(_("%(provider)s could not sign you in. Try again.", provider=provider.label), linking, flow)
    profile = _verified_profile(provider, flow, answer)
    if profile is None:
        return _refused(_("%(provider)s could not sign you in. Try again.", provider=provider.label), linking, flow)
    if linking:
        return _link_to_account(provider, profile, flow)
    return _sign_in(provider, profile, flow)


for _each in PROVIDERS.values():
    bp.add_url_rule(f"/auth/{_each.name}/login", f"{_each.name}_login", login, defaults={"provider_name": _each.name})
    bp.add_url_rule(f"/auth/{_each.name}/callback", f"{_each.name}_callback", callback,
                    methods=[_each.callback_method], defaults={"provider_name": _each.name})


def _relay(provider: Provider):
    """A genuine answer is a few short text fields: anything else is refused here (a bare 400,
    which sets no cookie either)."""
    values = [value for name in RELAYED_FIELDS for value in request.form.getlist(name)]
    if request.files or any(len(value) > MAX_FIELD_LENGTH or "\x00" in value for value in values):
        abort(400)
    fields = [(name, request.form[name]) for name in RELAYED_FIELDS if request.form.get(name)]
    return render_template("auth/oauth_relay.html", provider=provider, fields=fields, bare=True)


def _verified_profile(provider: Provider, flow: dict, answer) -> Profile | None:
    """Exchange the code and check the ID token: calls to the provider, outside any transaction."""
    end_transaction()
    client = provider.client()
    try:
        token = client.fetch_access_token(redirect_uri=flow["redirect_uri"], code=answer.get("code") or "", code_verifier=flow["verifier"])
        # Authlib checks the audience only through `azp` unless told: the token must name us.
        options = {"iss": {"essential": True, "values": [client.load_server_metadata()["issuer"]]},
                   "aud": {"essential": True, "values": [client.client_id]}}
        claims = client.parse_id_token(token, nonce=flow["nonce"], claims_options=options)
        if claims is None:
            raise ValueError("no ID token in the answer")
        return provider.profile(claims, answer)
    except (OAuthError, JoseError, RequestException, ValueError, KeyError, TypeError) as error:
        log.warning("%s sign-in refused: %r", provider.label, error)
        return None


def _sign_in(provider: Provider, profile: Profile, flow: dict):
    for attempt in (1, 2):
        try:
            outcome = sign_in_with(provider, profile)
            if isinstance(outcome, NeedsPassword):
                db.session.rollback()
                session["oauth_link"] = {
                    "provider": provider.name, "subject": profile.subject, "email": profile.email,
                    "name": profile.name, "next": flow.get("next"), "at": time.time(),
                }
                return redirect(url_for("auth.confirm_link"), 303)
            user, unverified_newcomer = outcome.user, outcome.created and not outcome.user.email_verified
            response = _start(user, flow.get("next"))
            if unverified_newcomer:  # rule 4: the provider did not vouch, so a mailed link will
                send_verification(user)
            return response
        except SignInRefused as refusal:
            db.session.rollback()
            return _refused(refusal.message, False, flow)
        except IntegrityError:
            # Another callback created the same account or identity a moment ago: decide again.
            db.session.rollback()
            if attempt == 2:
                raise


def _start(user: User, next_url: str | None):
    start_session(user)
    email, locale = user.email, user.locale
    db.session.commit()
    response = throttle.remember_device(redirect(safe_next(next_url), 303), email)
    return remember_language(response, locale) if locale else response


def _link_to_account(provider: Provider, profile: Profile, flow: dict):
    back = redirect(url_for("auth.account"), 303)
    if not current_user.is_authenticated or current_user.id != flow["link_user"]:
        flash(_("Sign in again, then link %(provider)s from your account page.", provider=provider.label), "error")
        return back
    try:
        link_to_signed_in(current_user._get_current_object(), provider, profile)
        db.session.commit()
    except SignInRefused as refusal:
        db.session.rollback()
        flash(str(refusal.message), "error")
        return back
    except IntegrityError:  # the same provider account, linked by another request a moment ago
        db.session.rollback()
        flash(_("This %(provider)s account is linked to another xtablo account. Unlink it there first, or sign in with it.", provider=provider.label), "error")
        return back
    flash(_("Your %(provider)s account is linked: you can sign in with it.", provider=provider.label), "info")
    return back


def _refused(message: str, linking: bool, flow: dict | None = None, category: str = "error"):
    flash(str(message), category)
    if linking and current_user.is_authenticated:
        return redirect(url_for("auth.account"), 303)
    next_url = (flow or {}).get("next")
    return redirect(url_for("auth.login", next=next_url) if next_url else url_for("auth.login"), 303)


@bp.route("/auth/link/confirm", methods=["GET", "POST"])
def confirm_link():
    """Rule 3 with an unverified account: its password proves it before the provider joins it."""
    pending = session.get("oauth_link")
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > CONFIRM_SECONDS or pending.get("provider") not in PROVIDERS:
        session.pop("oauth_link", None)
        flash(_("That sign-in expired. Try again."), "error")
        return redirect(url_for("tablos.index" if current_user.is_authenticated else "auth.login"), 303)
    provider = _provider(pending["provider"])
    form = ConfirmLinkForm()
    if not form.validate_on_submit():
        return render_template("auth/confirm_link.html", form=form, provider=provider, email=pending["email"]), 422 if form.errors else 200
    counters = throttle.sign_in_counters(pending["email"])
    if not throttle.reserve(counters):
        form.password.errors.append(_("Too many wrong passwords. Wait 15 minutes, then try again."))
        return render_template("auth/confirm_link.html", form=form, provider=provider, email=pending["email"]), 429
    user = User.by_email(pending["email"])
    password_hash = user.password_hash if user else None
    end_transaction()  # argon2 runs outside any transaction
    if not verify_password(password_hash, form.password.data):
        form.password.errors.append(_("This is not the password of that account."))
        return render_template("auth/confirm_link.html", form=form, provider=provider, email=pending["email"]), 422
    profile = Profile(subject=pending["subject"], email=pending["email"], email_verified=True, name=pending.get("name"))
    user = db.session.get(User, user.id)
    if user is None or user.email != pending["email"]:  # changed while the password was checked
        session.pop("oauth_link", None)
        flash(_("That sign-in expired. Try again."), "error")
        return redirect(url_for("auth.login"), 303)
    try:
        if UserIdentity.find(provider.name, profile.subject) is None:
            link(user, provider, profile)  # the provider verified the email: the account's is now too
    except SignInRefused as refusal:
        db.session.rollback()
        session.pop("oauth_link", None)
        flash(str(refusal.message), "error")
        return redirect(url_for("auth.login"), 303)
    flash(_("Your %(provider)s account is linked: you can sign in with it.", provider=provider.label), "info")
    response = _start(user, pending.get("next"))
    throttle.release(counters)  # a network call: after the commit
    return response


@bp.route("/account/identities/<provider_name>/link", methods=["GET", "POST"])
@login_required
def link_identity(provider_name: str):
    """Link Google or Apple to the signed-in account, its password first (none to give for an
    account without one): a stolen session must not add a way in that outlives it."""
    provider = _provider(provider_name)
    user = current_user._get_current_object()
    form = LinkIdentityForm()
    if not user.has_password:
        del form.password
    if not form.validate_on_submit():
        return _link_page(provider, form, 422 if form.errors else 200)
    if user.has_password:
        counters = throttle.password_change_counters(user.id, user.current_session.id)
        if not throttle.reserve(counters):
            form.password.errors.append(_("Too many wrong passwords. Wait 15 minutes, then try again."))
            return _link_page(provider, form, 429)
        password_hash, user_id = user.password_hash, user.id
        end_transaction()  # argon2 runs outside any transaction
        if not verify_password(password_hash, form.password.data):
            form.password.errors.append(_("This is not your current password."))
            return _link_page(provider, form, 422)
        throttle.release(counters)
    else:
        user_id = user.id
    return _to_provider(provider, link_user=user_id)


def _link_page(provider: Provider, form, status: int):
    """The form posts here and is answered with a redirect to the provider: the page's policy
    lets its forms end there (form-action is checked on every redirect)."""
    response = make_response(render_template("auth/link_identity.html", provider=provider, form=form), status)
    try:
        end_transaction()
        endpoint = provider.client().load_server_metadata()["authorization_endpoint"]
    except (RequestException, OAuthError, ValueError, KeyError) as error:
        log.warning("%s cannot be reached: %r", provider.label, error)
        return response  # the post will say so
    parts = urlsplit(endpoint)
    response.headers["Content-Security-Policy"] = content_security_policy(form_action=(f"{parts.scheme}://{parts.netloc}",))
    return response


@bp.post("/account/identities/<id:identity_id>/unlink")
@login_required
def unlink_identity(identity_id: int):
    try:
        identity = unlink(current_user._get_current_object(), identity_id)
    except SignInRefused as refusal:
        db.session.rollback()
        flash(str(refusal.message), "error")
        return redirect(url_for("auth.account"), 303)
    if identity is None:
        abort(404)
    label = PROVIDERS[identity.provider].label if identity.provider in PROVIDERS else identity.provider
    db.session.commit()
    flash(_("%(provider)s is unlinked from your account.", provider=label), "info")
    return redirect(url_for("auth.account"), 303)
