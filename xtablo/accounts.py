"""What a proven email gives: the invitations waiting for it.

A pending invitation (`TabloInvitation`) names an email, not a person. Anyone can sign up with
any address, so an invitation becomes a membership only once the account has proven that the
address reaches it: the link mailed to it, a password reset through it, an email change confirmed
from it, an operator's `flask users verify`, or (social sign-in) Google or Apple vouching for it.
Every one of those goes through here, and `start_session` claims for verified accounts only.

A password reset proves the mailbox, and only the mailbox: whatever else the account holds may be
someone else's (a pre-registrant's Google or Apple account), so the reset keeps only the linked
accounts that vouch for the same address (`unlink_unproven_identities`).

These verbs flush and never commit: the view (or command) commits once.
"""

from xtablo.extensions import db
from xtablo.models import TabloInvitation, User, UserIdentity
from xtablo.models._types import utcnow


def verify_email(user: User) -> int:
    """Mark the account's email verified (now, unless it already was) and turn the invitations
    to it into memberships; how many it claimed."""
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
    return TabloInvitation.claim_all(user)


def change_email(user: User, new_email: str) -> int:
    """Make `new_email`, proven by the link mailed to it, the account's email, and claim the
    invitations to it. Raises IntegrityError when another account took it meanwhile."""
    user.change_email(new_email)
    return TabloInvitation.claim_all(user)


def claim_invitations(user: User) -> int:
    """At sign-in: the invitations to the account's email, if it is verified (else they wait)."""
    return TabloInvitation.claim_all(user) if user.email_verified else 0


def unlink_unproven_identities(user: User) -> int:
    """After a password reset: remove every Google or Apple account linked to `user` that does not
    vouch for its email (verified by the provider, and that very address), since whoever linked
    it need not be who reset the password; how many were removed. A pre-registrant who linked
    their own provider account, or whose provider made the account from an address it never
    verified, loses that way in together with their password and sessions."""
    removed = [each for each in UserIdentity.of_user(user) if not (each.email_verified and each.email == user.email)]
    for identity in removed:
        db.session.delete(identity)
    db.session.flush()
    return len(removed)
