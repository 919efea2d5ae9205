"""What a verified answer from Google or Apple does to xtablo's accounts (the callback's rules).

1. A known (provider, subject) signs in its user.
2. An unknown subject whose email the provider verified, and no account with that email: a new
   account (verified email, no password) and its identity.
3. An unknown subject whose verified email belongs to an account: linked at once only when the
   account's email was verified; otherwise the person must prove the account with its password
   (`NeedsPassword`). An account created with somebody else's email by someone who cannot read
   that mailbox is never handed over, and its password never gains the provider's account.
4. The provider did not verify the email: never linked by email. A separate account is created
   when no account uses the email (it stays unverified); otherwise the person is told.
Refusals raise `SignInRefused` with the sentence to show. These verbs flush, never commit; the
unique constraints decide between two racing callbacks (the view retries once).
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from xtablo.accounts import verify_email
from xtablo.extensions import db
from xtablo.identity.providers import PROVIDERS, Profile, Provider
from xtablo.models import User, UserIdentity


class SignInRefused(Exception):
    """The sentence says why, in words for the person at the sign-in page."""

    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class SignedIn:
    user: User
    created: bool = False  # a new account (rule 2 or 4)


@dataclass(frozen=True)
class NeedsPassword:
    """Rule 3 with an unverified account: the person proves it with its password first."""

    user: User


def sign_in_with(provider: Provider, profile: Profile) -> SignedIn | NeedsPassword:
    identity = UserIdentity.find(provider.name, profile.subject)
    if identity is not None:
        identity.refresh(profile.email, profile.email_verified)
        vouch_for_email(identity.user, profile)
        return SignedIn(identity.user)
    if profile.email is None:
        raise SignInRefused(_l("%(provider)s did not share an email address, and xtablo needs one. Allow it to share your email, or create an account with a password.", provider=provider.label))
    user = User.by_email(profile.email)
    if user is None:
        user = User.create(name=profile.name or profile.email.split("@")[0], email=profile.email)
        link(user, provider, profile)
        return SignedIn(user, created=True)
    if not profile.email_verified:
        raise SignInRefused(_l("An xtablo account already uses %(email)s, and %(provider)s has not confirmed that this address is yours, so the two cannot be joined. Sign in with your password, then link %(provider)s from your account page.", email=profile.email, provider=provider.label))
    if not user.email_verified:
        return NeedsPassword(user)
    link(user, provider, profile)
    return SignedIn(user)


def link(user: User, provider: Provider, profile: Profile) -> UserIdentity:
    """Attach the provider's account to `user` (one per provider: unlink the old one first;
    the user's row is locked so that two links at once cannot both pass that check). Already
    attached to this very account (another callback of the same person committed it after this
    one looked for it: two tabs), it is that identity, not a refusal."""
    db.session.get(User, user.id, with_for_update=True)
    for identity in UserIdentity.of_user(user):
        if identity.provider == provider.name and identity.provider_subject == profile.subject:
            identity.refresh(profile.email, profile.email_verified)
            vouch_for_email(user, profile)
            return identity
        if identity.provider == provider.name:
            raise SignInRefused(_l("Your xtablo account is already linked to another %(provider)s account. Unlink it from your account page first.", provider=provider.label))
    identity = UserIdentity(
        user=user, provider=provider.name, provider_subject=profile.subject,
        email=profile.email, email_verified=profile.email_verified,
    )
    db.session.add(identity)
    db.session.flush()
    vouch_for_email(user, profile)
    return identity


def link_to_signed_in(user: User, provider: Provider, profile: Profile) -> UserIdentity:
    """The account page's "Link Google": the provider's account must not belong to anyone else."""
    identity = UserIdentity.find(provider.name, profile.subject)
    if identity is not None:
        if identity.user_id == user.id:
            raise SignInRefused(_l("This %(provider)s account is already linked to yours.", provider=provider.label))
        raise SignInRefused(_l("This %(provider)s account is linked to another xtablo account. Unlink it there first, or sign in with it.", provider=provider.label))
    return link(user, provider, profile)


def unlink(user: User, identity_id: int) -> UserIdentity | None:
    """Remove one of `user`'s identities, never their last way to sign in. The user's row is
    locked first, so two unlinks at once cannot remove both of the last two ways."""
    db.session.get(User, user.id, with_for_update=True, populate_existing=True)
    identities = UserIdentity.of_user(user)
    identity = next((each for each in identities if each.id == identity_id), None)
    if identity is None:
        return None
    if not user.has_password and len(identities) == 1:
        label = PROVIDERS[identity.provider].label if identity.provider in PROVIDERS else identity.provider
        raise SignInRefused(_l("%(provider)s is your only way to sign in: set a password or link another provider before unlinking it.", provider=label))
    db.session.delete(identity)
    db.session.flush()
    return identity


def vouch_for_email(user: User, profile: Profile) -> None:
    """The provider verified this very address: the account's email is verified too, and the
    invitations waiting for it are claimed."""
    if profile.email_verified and profile.email == user.email and not user.email_verified:
        verify_email(user)
