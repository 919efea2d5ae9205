"""Members of a tablo, email invitations and invitation links.

/tablos/<id>/members                          GET    the Members tab (everyone); forms for owners
/tablos/<id>/members                          POST   add by email: a member now, or an invitation
/tablos/<id>/members/<member_id>/role         POST   change a member's role (owners)
/tablos/<id>/members/<member_id>/delete       GET, POST  confirm, then remove a member (owners)
/tablos/<id>/leave                            GET, POST  confirm, then leave the tablo (anyone but its last owner)
/tablos/<id>/invitations/<invitation_id>/delete POST cancel a pending invitation (owners)
/tablos/<id>/links                            POST   create an invitation link (owners)
/tablos/<id>/links/<link_id>/revoke           GET, POST  confirm, then revoke it (owners)
/join/<token>                                 GET, POST  see, then accept, an invitation link

A tablo always keeps one owner. Removing someone takes effect at their next request: every route
goes through the scoped loader, which reads the memberships each time. The removed person cannot
come back through an invitation link made before the removal. The actions that cannot be undone
in one click (remove, leave, revoke) first show a page that asks, and act on its POST.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from xtablo.access import get_member_or_404, get_of_tablo_or_404, get_tablo_or_404
from xtablo.blueprints.members import bp
from xtablo.blueprints.members.forms import AddMemberForm, InviteLinkForm, RoleForm
from xtablo.blueprints.tablos.forms import ConfirmForm
from xtablo.extensions import db
from xtablo.models import MembershipError, Role, Tablo, TabloInvitation, TabloInviteLink, TabloMember, User
from xtablo.models.user import normalize_email
from xtablo.web.htmx import see_other
from xtablo.web.security import external_url


# The link form sits on the same page as the add-member form; a prefix keeps ids unique.
LINK_PREFIX = "link"


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for signed-in people."""


def members_page(tablo, add_form=None, link_form=None, status=200):
    return render_template(
        "members/index.html",
        tablo=tablo,
        members=TabloMember.of_tablo(tablo),
        invitations=TabloInvitation.of_tablo(tablo) if tablo.current_role.allows(Role.OWNER) else [],
        links=TabloInviteLink.of_tablo(tablo) if tablo.current_role.allows(Role.OWNER) else [],
        add_form=add_form or AddMemberForm(formdata=None),
        link_form=link_form or InviteLinkForm(formdata=None, prefix=LINK_PREFIX),
        role_form=RoleForm(formdata=None),
    ), status


def back_to_members(tablo):
    return see_other(url_for("members.index", tablo_id=tablo.id))


@bp.get("/tablos/<id:tablo_id>/members")
def index(tablo_id: int):
    return members_page(get_tablo_or_404(tablo_id))


@bp.post("/tablos/<id:tablo_id>/members")
def add(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    form = AddMemberForm()
    if form.validate_on_submit():
        email = normalize_email(form.email.data)
        try:
            if email == current_user.email:
                raise MembershipError(_("You are already a member of this tablo."))
            user = User.by_email(email)
            if user is not None and user.email_verified:
                TabloMember.add(tablo, user, form.role.data, added_by=current_user)
                message = _("%(name)s is now a member.", name=user.name)
            elif user is not None:
                # Anyone can sign up with any address: the account joins once it proves the
                # address is its own (xtablo/accounts.py), like an account created later would.
                TabloInvitation.invite(tablo, email, form.role.data, invited_by=current_user)
                message = _("%(email)s becomes a member once its account verifies this address.", email=email)
            else:
                TabloInvitation.invite(tablo, email, form.role.data, invited_by=current_user)
                message = _("%(email)s has no account yet: they become a member once they sign up with this email and verify it.", email=email)
        except MembershipError as error:
            db.session.rollback()
            form.email.errors.append(str(error))
        except IntegrityError:  # the same person added by another request a moment ago
            db.session.rollback()
            form.email.errors.append(_("%(email)s was just added by someone else.", email=email))
        else:
            db.session.commit()
            flash(message, "info")
            return back_to_members(tablo)
    return members_page(tablo, add_form=form, status=422)


@bp.post("/tablos/<id:tablo_id>/members/<id:member_id>/role")
def change_role(tablo_id: int, member_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    member = get_member_or_404(tablo, member_id)
    form = RoleForm()
    # A refusal is said on the Members page it redirects to: this address only takes posts.
    if not form.validate_on_submit():
        flash(_("Choose a role: viewer, editor or owner."), "error")
        return back_to_members(tablo)
    try:
        member.change_role(form.role.data)
    except MembershipError as error:
        db.session.rollback()
        flash(str(error), "error")
        return back_to_members(tablo)
    db.session.commit()
    flash(_("%(name)s is now %(role)s.", name=member.user.name, role=Role(form.role.data).label.lower()), "info")
    return back_to_members(tablo)


@bp.route("/tablos/<id:tablo_id>/members/<id:member_id>/delete", methods=["GET", "POST"])
def remove(tablo_id: int, member_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    member = get_member_or_404(tablo, member_id)
    if member.user_id == current_user.id:
        return see_other(url_for("members.leave", tablo_id=tablo.id))
    form = ConfirmForm()
    if form.validate_on_submit():
        name = member.user.name
        try:
            member.remove(removed_by=current_user)
        except MembershipError as error:
            db.session.rollback()
            flash(str(error), "error")
            return back_to_members(tablo)
        db.session.commit()
        flash(_("%(name)s was removed from the tablo.", name=name), "info")
        return back_to_members(tablo)
    return render_template("members/remove.html", tablo=tablo, member=member, form=form)


@bp.route("/tablos/<id:tablo_id>/leave", methods=["GET", "POST"])
def leave(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id)
    member = db.session.scalar(select(TabloMember).where(TabloMember.tablo_id == tablo.id, TabloMember.user_id == current_user.id))
    form = ConfirmForm()
    if form.validate_on_submit() and not member.is_last_owner:
        try:
            member.remove(removed_by=current_user)
        except MembershipError:  # the other owners left meanwhile: the page below says why not
            db.session.rollback()
        else:
            db.session.commit()
            flash(_("You left “%(title)s”.", title=tablo.title), "info")
            return see_other(url_for("tablos.index"))
    # The last owner gets the reason instead of the button, on this same address, so a reload
    # shows the same page.
    if member.is_last_owner:
        return render_template("members/leave.html", tablo=tablo, form=None), 409 if request.method == "POST" else 200
    return render_template("members/leave.html", tablo=tablo, form=form)


@bp.post("/tablos/<id:tablo_id>/invitations/<id:invitation_id>/delete")
def cancel_invitation(tablo_id: int, invitation_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    invitation = get_of_tablo_or_404(TabloInvitation, tablo, invitation_id)
    db.session.delete(invitation)
    db.session.commit()
    flash(_("Invitation for %(email)s cancelled.", email=invitation.email), "info")
    return back_to_members(tablo)


@bp.post("/tablos/<id:tablo_id>/links")
def create_link(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    form = InviteLinkForm(prefix=LINK_PREFIX)
    if not form.validate_on_submit():  # only a tampered form: both fields are selects
        flash(" ".join(str(message) for messages in form.errors.values() for message in messages), "error")
        return back_to_members(tablo)
    _link, token = TabloInviteLink.create(tablo, form.role.data, lifetime=timedelta(days=int(form.days.data)), created_by=current_user)
    db.session.commit()
    # Only the token's hash is stored: the link is shown this once.
    flash(_("Invitation link (copy it now, it is shown only once): %(url)s", url=external_url("members.join", token=token)), "link")
    return back_to_members(tablo)


@bp.route("/tablos/<id:tablo_id>/links/<id:link_id>/revoke", methods=["GET", "POST"])
def revoke_link(tablo_id: int, link_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    link = get_of_tablo_or_404(TabloInviteLink, tablo, link_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        link.revoke()
        db.session.commit()
        flash(_("The invitation link no longer works."), "info")
        return back_to_members(tablo)
    return render_template("members/revoke_link.html", tablo=tablo, link=link, form=form)


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    """An invitation link: not a tablo route, so it is authorized by the token itself."""
    link = TabloInviteLink.by_token(token)
    if link is None or not link.is_usable:
        return render_template("members/join.html", link=None), 410 if link else 404
    refusal = link.refusal_for(current_user)
    if refusal:
        return render_template("members/join.html", link=link, refusal=refusal), 403
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            member = link.accept(current_user)
            db.session.commit()
        except IntegrityError:  # a double click: the first request made the membership
            db.session.rollback()
            member = None
        except MembershipError as error:  # removed by an owner a moment ago
            db.session.rollback()
            return render_template("members/join.html", link=link, refusal=str(error)), 403
        if member is None:
            flash(_("You were already a member of “%(title)s”.", title=link.tablo.title), "info")
        else:
            flash(_("Welcome to “%(title)s”.", title=link.tablo.title), "info")
        return see_other(url_for("tablos.show", tablo_id=link.tablo_id))
    return render_template("members/join.html", link=link, form=form)


@bp.app_template_global()
def invited_to(next_url: str | None) -> Tablo | None:
    """The tablo an invitation link in `next_url` (`/join/<token>`) leads to, for the sign-in
    and sign-up pages to say why the person is there; None for anything else."""
    if not next_url or not next_url.startswith("/"):
        return None
    try:
        endpoint, args = current_app.url_map.bind("").match(urlsplit(next_url).path, method="GET")
    except HTTPException:
        return None
    if endpoint != "members.join":
        return None
    link = TabloInviteLink.by_token(args["token"])
    return link.tablo if link is not None and link.is_usable else None
