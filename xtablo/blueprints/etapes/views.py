"""Étapes: the stages of a tablo, a second axis over its tasks (Études, Gros œuvre, Finitions).

/tablos/<id>/etapes                           GET, POST   the Étapes tab; POST adds an étape at the end
/tablos/<id>/etapes/<etape_id>                GET, POST   rename it, edit its description
/tablos/<id>/etapes/<etape_id>/move           POST        put it at a position (1 = first): the "Move
                                                          up/down" buttons and drag and drop (GET: the tab)
/tablos/<id>/etapes/<etape_id>/delete         GET, POST   confirm (saying how many tasks it ungroups), delete
/tablos/<id>/etapes/<etape_id>/tasks          POST        file one of the tablo's tasks under it (GET: the tab)
/tablos/<id>/tasks/<task_id>/etape            POST        take a task out of its étape, or file it under
                                                          another (field etape_id, empty for none) (GET: the tab)

Editors and owners change étapes, viewers read them. Posts made from the tab answer htmx with the
tab's partial (`etapes/_etapes.html`, which the page includes) and a classic post with a redirect;
a refused post is answered on the spot with its error under its field. The board is filtered by
étape with `/tablos/<id>?etape=<etape_id>` (xtablo/blueprints/tablos/views.py).
"""

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from xtablo.access import find_of_tablo, get_etape_or_404, get_tablo_or_404, get_task_or_404
from xtablo.blueprints.etapes import bp
from xtablo.blueprints.etapes.forms import EtapeForm, EtapeMoveForm, FileTaskForm
from xtablo.blueprints.tablos.forms import ConfirmForm, EtapeField
from xtablo.blueprints.tablos.views import etapes_of
from xtablo.extensions import db
from xtablo.forms import Form
from xtablo.models import Etape, EtapeDeleted, Role, Status, Tablo, Task, TaskDeleted
from xtablo.web.htmx import after_settle, is_htmx, refused, see_other

STATUS_ORDER = {status.value: index for index, status in enumerate(Status)}


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for signed-in people."""


@bp.errorhandler(EtapeDeleted)
@bp.errorhandler(TaskDeleted)
def deleted_meanwhile(error):
    """Someone deleted the étape (or the task) while this request was about to change it."""
    db.session.rollback()
    if isinstance(error, TaskDeleted):
        flash(_("That task was deleted meanwhile."), "error")
    else:
        flash(_("That étape was deleted meanwhile."), "error")
    return see_other(url_for("etapes.index", tablo_id=request.view_args["tablo_id"]))


@bp.route("/tablos/<id:tablo_id>/etapes", methods=["GET", "POST"])
def index(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    form = EtapeForm()
    if form.validate_on_submit():
        etape = Etape.create(tablo, title=form.title.data, description=form.description.data or "")
        announce = _("Étape “%(title)s” added.", title=etape.title)
        anchor = f"etape-{etape.id}"
        db.session.commit()
        if is_htmx():
            return after_settle(render_etapes(tablo, EtapeForm(formdata=None), adding=True), announce=announce, focus="#title")
        return see_other(url_for("etapes.index", tablo_id=tablo.id, _anchor=anchor))
    return refused(render_etapes(tablo, form, status=422 if form.errors else 200, adding=bool(form.errors)), form)


@bp.route("/tablos/<id:tablo_id>/etapes/<id:etape_id>", methods=["GET", "POST"])
def edit(tablo_id: int, etape_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    etape = get_etape_or_404(tablo, etape_id)
    form = EtapeForm(obj=etape)
    if form.validate_on_submit():
        etape.update(title=form.title.data, description=form.description.data or "")
        db.session.commit()
        flash(_("Étape saved."), "info")
        return see_other(url_for("etapes.index", tablo_id=tablo.id, _anchor=f"etape-{etape_id}"))
    return render_template("etapes/edit.html", tablo=tablo, etape=etape, form=form), 422 if form.errors else 200


@bp.route("/tablos/<id:tablo_id>/etapes/<id:etape_id>/move", methods=["GET", "POST"])
def move(tablo_id: int, etape_id: int):
    if request.method == "GET":
        return back_to_tab(tablo_id)
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    etape = get_etape_or_404(tablo, etape_id)
    form = EtapeMoveForm()
    if form.validate_on_submit():
        before, wanted = etape.position, form.position.data - 1
        etape.move(wanted)
        if etape.position != before:
            announce = _("Étape “%(title)s” moved to position %(position)d.", title=etape.title, position=etape.position + 1)
        elif wanted > before:
            announce = _("“%(title)s” is already the last étape.", title=etape.title)
        else:
            announce = _("“%(title)s” is already the first étape.", title=etape.title)
        # The focus stays on the button that was pressed (both stay, even at the ends of the list).
        focus = f"#etape-{etape_id} .move-{'down' if wanted > before else 'up'}"
        db.session.commit()
        if is_htmx():
            return after_settle(render_etapes(tablo, EtapeForm(formdata=None)), announce=announce, focus=focus)
        return see_other(url_for("etapes.index", tablo_id=tablo.id, _anchor=f"etape-{etape_id}"))
    return refused(render_etapes(tablo, EtapeForm(formdata=None), status=422, move_errors={etape_id: form.position.errors}), form)


@bp.route("/tablos/<id:tablo_id>/etapes/<id:etape_id>/delete", methods=["GET", "POST"])
def delete(tablo_id: int, etape_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    etape = get_etape_or_404(tablo, etape_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = etape.title
        count = etape.delete()
        db.session.commit()
        flash(ngettext("Étape “%(title)s” deleted; its task stays on the board, without étape.",
                       "Étape “%(title)s” deleted; its %(num)d tasks stay on the board, without étape.", count, title=title)
              if count else _("Étape “%(title)s” deleted.", title=title), "info")
        return see_other(url_for("etapes.index", tablo_id=tablo.id))
    return render_template("etapes/delete.html", tablo=tablo, etape=etape, form=form, task_count=etape.task_count())


@bp.route("/tablos/<id:tablo_id>/etapes/<id:etape_id>/tasks", methods=["GET", "POST"])
def file_task(tablo_id: int, etape_id: int):
    if request.method == "GET":
        return back_to_tab(tablo_id)
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    etape = get_etape_or_404(tablo, etape_id)
    form = FileTaskForm()
    if form.validate_on_submit():
        task = find_of_tablo(Task, tablo, form.task_id.data)
        if task is not None:
            task.file_under(etape.id)
            announce = _("“%(task)s” added to étape “%(etape)s”.", task=task.title, etape=etape.title)
            db.session.commit()
            return filed(tablo, etape_id, announce, focus=f"#file-task-{etape_id}")
        form.task_id.errors.append(_("Choose one of this tablo's tasks."))
    return refused(render_etapes(tablo, EtapeForm(formdata=None), status=422, file_errors={etape_id: form.task_id.errors}), form,
                   focus=f"#file-task-{etape_id}")


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>/etape", methods=["GET", "POST"])
def set_etape(tablo_id: int, task_id: int):
    if request.method == "GET":
        return back_to_tab(tablo_id)
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    task = get_task_or_404(tablo, task_id)
    form = SetEtapeForm()
    form.etape_id.offer(etapes_of(tablo))
    previous = task.etape_id
    if form.validate_on_submit():
        task.file_under(form.etape_id.etape_id)
        if form.etape_id.etape_id is None:
            announce = _("“%(task)s” no longer has an étape.", task=task.title)
        else:
            announce = _("“%(task)s” moved to another étape.", task=task.title)
        db.session.commit()
        return filed(tablo, previous, announce, focus=f"#etape-{previous}-title" if previous else None)
    flash(" ".join(str(error) for field in form for error in field.errors), "error")
    return see_other(url_for("etapes.index", tablo_id=tablo.id))


class SetEtapeForm(Form):
    etape_id = EtapeField()


def filed(tablo: Tablo, etape_id: int | None, announce: str, focus: str | None):
    """The answer to filing a task under an étape, or taking it out."""
    if is_htmx():
        return after_settle(render_etapes(tablo, EtapeForm(formdata=None)), announce=announce, focus=focus)
    flash(announce, "info")
    return see_other(url_for("etapes.index", tablo_id=tablo.id, _anchor=f"etape-{etape_id}" if etape_id else None))


def back_to_tab(tablo_id: int):
    """The address a refused post without JavaScript leaves in the address bar: the tab."""
    return redirect(url_for("etapes.index", tablo_id=get_tablo_or_404(tablo_id).id))


def render_etapes(tablo: Tablo, form: EtapeForm, status: int = 200, **context):
    """The Étapes tab: the whole page, or for htmx the partial the page includes. Three queries
    whatever the number of étapes and tasks: the étapes with their progress, the tablo's tasks."""
    etapes = Etape.with_progress(tablo)
    tasks = db.session.execute(
        select(Task.id, Task.title, Task.status, Task.position, Task.etape_id).where(Task.tablo_id == tablo.id)
    ).all()
    tasks.sort(key=lambda task: (STATUS_ORDER[task.status], task.position, task.id))
    by_etape: dict[int | None, list] = {}
    for task in tasks:
        by_etape.setdefault(task.etape_id, []).append(task)
    template = "etapes/_etapes.html" if is_htmx() else "etapes/index.html"
    context.update(tablo=tablo, form=form, etapes=etapes, tasks_by_etape=by_etape, ungrouped=by_etape.get(None, []),
                   editable=tablo.current_role.allows(Role.EDITOR), status_labels={s.value: s.label for s in Status})
    return make_response(render_template(template, **context), status)
