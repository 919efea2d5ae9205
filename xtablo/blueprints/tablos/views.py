"""Tablos and the kanban board of their tasks.

/                                          GET         home: "My tablos" once signed in
/tablos                                    GET         My tablos
/tablos/new                                GET, POST   create a tablo
/tablos/<id>                               GET         the tablo's Tasks tab (the board)
/tablos/<id>/edit                          GET, POST   rename, describe, recolour
/tablos/<id>/delete                        GET, POST   confirm, then delete with its tasks
/tablos/<id>/tasks                         POST        add a task
/tablos/<id>/tasks/<task_id>               GET, POST   see and edit a task
/tablos/<id>/tasks/<task_id>/move          POST        move to a column and position
/tablos/<id>/tasks/<task_id>/delete        GET, POST   confirm, then delete a task

Every post answers an htmx request with the board partial and a classic one with a redirect.
"""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from xtablo.access import get_task_or_404, get_tablo_or_404
from xtablo.blueprints.tablos import bp
from xtablo.blueprints.tablos.forms import ConfirmForm, MoveForm, TabloForm, TaskForm
from xtablo.extensions import db
from xtablo.models import Role, Tablo, Task
from xtablo.web import fragments
from xtablo.web.htmx import is_htmx, see_other

# An index past the end of a column means its bottom.
BOTTOM = 2**31


@bp.before_request
@login_required
def require_login():
    """Every page of this blueprint is for signed-in people."""


@bp.get("/")
def home():
    return redirect(url_for("tablos.index"))


@bp.get("/tablos")
def index():
    return render_template("tablos/index.html", tablos=Tablo.list_for(current_user))


@bp.route("/tablos/new", methods=["GET", "POST"])
def create():
    form = TabloForm()
    if form.validate_on_submit():
        tablo = Tablo.create(owner=current_user, title=form.title.data, description=form.description.data or "", color=form.color.data)
        db.session.commit()
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_template("tablos/new.html", form=form), 422 if form.errors else 200


@bp.get("/tablos/<id:tablo_id>")
def show(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id)
    return render_board(tablo, TaskForm(formdata=None))


@bp.route("/tablos/<id:tablo_id>/edit", methods=["GET", "POST"])
def edit(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    form = TabloForm(obj=tablo)
    if form.validate_on_submit():
        tablo.update(title=form.title.data, description=form.description.data or "", color=form.color.data)
        db.session.commit()
        flash(_("Tablo saved."), "info")
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_template("tablos/edit.html", tablo=tablo, form=form), 422 if form.errors else 200


@bp.route("/tablos/<id:tablo_id>/delete", methods=["GET", "POST"])
def delete(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.OWNER)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = tablo.title
        tablo.delete()
        db.session.commit()
        flash(_("Tablo “%(title)s” deleted.", title=title), "info")
        return see_other(url_for("tablos.index"))
    return render_template("tablos/delete.html", tablo=tablo, form=form)


@bp.post("/tablos/<id:tablo_id>/tasks")
def create_task(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    form = TaskForm()
    if form.validate_on_submit():
        Task.create(tablo, title=form.title.data, description=form.description.data or "", due_date=form.due_date.data, status=form.status.data)
        db.session.commit()
        if is_htmx():
            return render_board(tablo, TaskForm(formdata=None, status=form.status.data))
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_board(tablo, form, status=422)


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>", methods=["GET", "POST"])
def task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    task = get_task_or_404(tablo, task_id)
    form = TaskForm(obj=task)
    if form.validate_on_submit():
        task.update(title=form.title.data, description=form.description.data or "", due_date=form.due_date.data)
        if form.status.data != task.status:
            task.move(form.status.data, BOTTOM)
        db.session.commit()
        flash(_("Task saved."), "info")
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    move_form = MoveForm(formdata=None, status=task.status, position=task.position + 1)
    return render_template("tablos/task.html", tablo=tablo, task=task, form=form, move_form=move_form), 422 if form.errors else 200


@bp.post("/tablos/<id:tablo_id>/tasks/<id:task_id>/move")
def move_task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    task = get_task_or_404(tablo, task_id)
    form = MoveForm()
    if form.validate_on_submit():
        try:
            task.move(form.status.data, form.position.data - 1)
        except LookupError:
            db.session.rollback()
            flash(_("That task was deleted meanwhile."), "error")
        else:
            db.session.commit()
        if is_htmx():
            return render_board(tablo, TaskForm(formdata=None))
        return see_other(url_for("tablos.show", tablo_id=tablo.id, _anchor=f"task-{task_id}"))
    if is_htmx():
        return render_board(tablo, TaskForm(formdata=None), status=422, move_errors=form.errors)
    return render_template("tablos/task.html", tablo=tablo, task=task, form=TaskForm(formdata=None, obj=task), move_form=form), 422


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>/delete", methods=["GET", "POST"])
def delete_task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    task = get_task_or_404(tablo, task_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        task.delete()
        db.session.commit()
        if is_htmx():
            return render_board(tablo, TaskForm(formdata=None))
        flash(_("Task deleted."), "info")
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_template("tablos/delete_task.html", tablo=tablo, task=task, form=form)


def render_board(tablo: Tablo, task_form: TaskForm, status: int = 200, **context):
    """The Tasks tab: the whole page, or for htmx the board partial the page includes."""
    template = "tablos/_board.html" if is_htmx() else "tablos/show.html"
    context.update(tablo=tablo, columns_html=board_columns(tablo), task_form=task_form, task_fields=task_fields(task_form))
    return render_template(template, **context), status


def task_fields(form: TaskForm):
    """The "Add a task" fields: drawn live when they carry input or errors, else from the cache."""
    render = lambda: render_template("tablos/_task_fields.html", form=form)  # noqa: E731
    if form.errors or form.title.data:
        return render()
    return fragments.cached(("task-fields", form.status.data, str(get_locale())), render)


def board_columns(tablo: Tablo):
    """The board's columns, drawn once per version of the board, kind of reader (who may move
    cards or not) and language, in each worker."""
    editable = tablo.current_role.allows(Role.EDITOR)
    key = ("board", tablo.id, tablo.board_version, editable, str(get_locale()))
    return fragments.cached(
        key, lambda: render_template("tablos/_columns.html", tablo=tablo, columns=Task.board(tablo), editable=editable)
    )
