"""Members of a tablo, email invitations and invitation links.

/tablos/<id>/members                          GET    the Members tab (everyone); forms for owners
/tablos/<id>/members                          POST   add by email: a member now, or an invitation
/tablos/<id>/members/<member_id>/role         POST   change a member's role (owners)
/tablos/<id>/members/<member_id>/delete       POST   remove a member (owners)
/tablos/<id>/leave                            POST   leave the tablo (anyone but its last owner)
/tablos/<id>/invitations/<invitation_id>/delete POST cancel a pending invitation (owners)
/tablos/<id>/links                            POST   create an invitation link (owners)
/tablos/<id>/links/<link_id>/revoke           POST   revoke it (owners)
/join/<token>                                 GET, POST  see, then accept, an invitation link

A tablo always keeps one owner. Removing someone takes effect at their next request: every route
goes through the scoped loader, which reads the memberships each time.
"""

from datetime import timedelta

from flask import abort, flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from xtablo.access import get_member_or_404, get_of_tablo_or_404, get_tablo_or_404
from xtablo.blueprints.members import bp
from xtablo.blueprints.members.forms import AddMemberForm, InviteLinkForm, RoleForm
from xtablo.blueprints.tablos.forms import ConfirmForm
from xtablo.extensions import db
from xtablo.models import MembershipError, Role, TabloInvitation, TabloInviteLink, TabloMember, User
from xtablo.models.user import normalize_email
from xtablo.web.htmx import see_other


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
            if user is not None:
                TabloMember.add(tablo, user, form.role.data, added_by=current_user)
                message = _("%(name)s is now a member.", name=user.name)
            else:
                TabloInvitation.invite(tablo, email, form.role.data, invited_by=current_user)
                message = _("%(email)s has no account yet: they become a member when they sign up with this email.", email=email)
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
    if not form.validate_on_submit():
        flash(_("Choose a role: viewer, editor or owner."), "error")
        return members_page(tablo, status=422)
    try:
        member.change_role(form.role.data)
    except MembershipError as error:
        db.session.rollback()
        flash(str(error), "error")
        return members_page(tablo, status=409)
    db.session.commit()
    flash(_("%(name)s is now %(role)s.", name=member.user.name, role=Role(form.role.data).label.lower()), "info")
    return back_to_members(tablo)


@bp.post("/tablos/<id:tablo_id>/members/<id:member_id>/delete")
def remove(tablo_id: int, member_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    member = get_member_or_404(tablo, member_id)
    return _remove(tablo, member)


@bp.post("/tablos/<id:tablo_id>/leave")
def leave(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id)
    member = db.session.scalar(select(TabloMember).where(TabloMember.tablo_id == tablo.id, TabloMember.user_id == current_user.id))
    return _remove(tablo, member)


def _remove(tablo, member: TabloMember):
    if not ConfirmForm().validate_on_submit():
        abort(400)
    leaving = member.user_id == current_user.id
    name = member.user.name
    try:
        member.remove()
    except MembershipError as error:
        db.session.rollback()
        flash(str(error), "error")
        return members_page(tablo, status=409)
    db.session.commit()
    if leaving:
        flash(_("You left “%(title)s”.", title=tablo.title), "info")
        return see_other(url_for("tablos.index"))
    flash(_("%(name)s was removed from the tablo.", name=name), "info")
    return back_to_members(tablo)


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
    if not form.validate_on_submit():
        return members_page(tablo, link_form=form, status=422)
    _link, token = TabloInviteLink.create(tablo, form.role.data, lifetime=timedelta(days=int(form.days.data)), created_by=current_user)
    db.session.commit()
    # Only the token's hash is stored: the link is shown this once.
    flash(_("Invitation link (copy it now, it is shown only once): %(url)s", url=url_for("members.join", token=token, _external=True)), "link")
    return back_to_members(tablo)


@bp.post("/tablos/<id:tablo_id>/links/<id:link_id>/revoke")
def revoke_link(tablo_id: int, link_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    link = get_of_tablo_or_404(TabloInviteLink, tablo, link_id)
    link.revoke()
    db.session.commit()
    flash(_("The invitation link no longer works."), "info")
    return back_to_members(tablo)


@bp.route("/join/<token>", methods=["GET", "POST"])
def join(token: str):
    """An invitation link: not a tablo route, so it is authorized by the token itself."""
    link = TabloInviteLink.by_token(token) if len(token) < 100 else None
    if link is None or not link.is_usable:
        return render_template("members/join.html", link=None), 410 if link else 404
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            member = link.accept(current_user)
            db.session.commit()
        except IntegrityError:  # a double click: the first request made the membership
            db.session.rollback()
            member = None
        if member is None:
            flash(_("You were already a member of “%(title)s”.", title=link.tablo.title), "info")
        else:
            flash(_("Welcome to “%(title)s”.", title=link.tablo.title), "info")
        return see_other(url_for("tablos.show", tablo_id=link.tablo_id))
    return render_template("members/join.html", link=link, form=form)
