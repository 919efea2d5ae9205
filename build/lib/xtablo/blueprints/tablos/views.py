"""Tablos and the kanban board of their tasks.

/                                          GET         home: "My tablos" once signed in
/tablos                                    GET         My tablos
/tablos/new                                GET, POST   create a tablo
/tablos/<id>                               GET         the tablo's Tasks tab (the board)
/tablos/<id>/edit                          GET, POST   rename, describe, recolour
/tablos/<id>/delete                        GET, POST   confirm, then delete with its tasks
/tablos/<id>/tasks                         POST        add a task (GET: back to the board)
/tablos/<id>/tasks/<task_id>               GET, POST   see and edit a task
/tablos/<id>/tasks/<task_id>/move          POST        move to a column and position (GET: its form)
/tablos/<id>/tasks/<task_id>/delete        GET, POST   confirm, then delete a task

Every post answers an htmx request with the board partial and a classic one with a redirect.
A refused post without JavaScript is answered on the spot, with the form and its errors; the
address it leaves in the address bar answers GET too (with a redirect to the page it belongs
to), so reloading it or opening it again never meets a 405.

Every verb on a task locks the board and re-reads the task first (Task.lock): a task deleted by
someone else meanwhile is a TaskDeleted, answered once, here, by `task_deleted`.
"""

from datetime import date

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from xtablo.access import get_task_or_404, get_tablo_or_404
from xtablo.blueprints.tablos import bp
from xtablo.blueprints.tablos.forms import ConfirmForm, EditTaskForm, MoveForm, TabloForm, TaskForm
from xtablo.extensions import db
from xtablo.models import Role, Tablo, Task, TaskDeleted
from xtablo.web import fragments
from xtablo.web.dates import short_date
from xtablo.web.htmx import after_settle, is_htmx, see_other


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


@bp.errorhandler(TaskDeleted)
def task_deleted(error):
    """Someone deleted the task while this request was about to change it."""
    db.session.rollback()
    flash(_("That task was deleted meanwhile."), "error")
    return see_other(url_for("tablos.show", tablo_id=request.view_args["tablo_id"]))


@bp.route("/tablos/<id:tablo_id>/tasks", methods=["GET", "POST"])
def create_task(tablo_id: int):
    if request.method == "GET":
        # The address a refused post without JavaScript leaves in the address bar: back to the board.
        return redirect(url_for("tablos.show", tablo_id=get_tablo_or_404(tablo_id).id))
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    form = TaskForm()
    if form.validate_on_submit():
        task = Task.create(tablo, title=form.title.data, description=form.description.data or "", due_date=form.due_date.data, status=form.status.data)
        # Read before the commit: afterwards the task may already be someone else's to delete.
        announce = _("“%(title)s” added to %(column)s.", title=task.title, column=task.status_label)
        anchor = f"task-{task.id}"
        db.session.commit()
        if is_htmx():
            response = render_board(tablo, TaskForm(formdata=None, status=form.status.data), adding=True)
            return after_settle(response, announce=announce, focus="#title")
        return see_other(url_for("tablos.show", tablo_id=tablo.id, _anchor=anchor))
    return refused(render_board(tablo, form, status=422), form)


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>", methods=["GET", "POST"])
def task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    task = get_task_or_404(tablo, task_id)
    form = EditTaskForm(obj=task)
    if form.validate_on_submit():
        task.update(title=form.title.data, description=form.description.data or "", due_date=form.due_date.data)
        db.session.commit()
        flash(_("Task saved."), "info")
        return see_other(url_for("tablos.show", tablo_id=tablo_id, _anchor=f"task-{task_id}"))
    move_form = MoveForm(formdata=None, status=task.status, position=task.position + 1)
    return render_task(tablo, task, form, move_form, status=422 if form.errors else 200)


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>/move", methods=["GET", "POST"])
def move_task(tablo_id: int, task_id: int):
    if request.method == "GET":
        # The address a refused move without JavaScript leaves in the address bar: its form.
        tablo = get_tablo_or_404(tablo_id)
        return redirect(url_for("tablos.task", tablo_id=tablo.id, task_id=get_task_or_404(tablo, task_id).id, _anchor="move"))
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    task = get_task_or_404(tablo, task_id)
    form = MoveForm()
    if form.validate_on_submit():
        task.move(form.status.data, form.position.data - 1)
        announce = _("“%(title)s” moved to %(column)s, position %(position)d.",
                     title=task.title, column=task.status_label, position=task.position + 1)
        db.session.commit()
        if is_htmx():
            return after_settle(render_board(tablo, TaskForm(formdata=None)), announce=announce, focus=f"#task-{task_id} .task-title")
        return see_other(url_for("tablos.show", tablo_id=tablo.id, _anchor=f"task-{task_id}"))
    if is_htmx():
        return refused(render_board(tablo, TaskForm(formdata=None), status=422, move_errors=form.errors), form)
    return render_task(tablo, task, EditTaskForm(formdata=None, obj=task), form, status=422)


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>/delete", methods=["GET", "POST"])
def delete_task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    task = get_task_or_404(tablo, task_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        title = task.title
        task.delete()
        db.session.commit()
        flash(_("Task “%(title)s” deleted.", title=title), "info")
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_template("tablos/delete_task.html", tablo=tablo, task=task, form=form)


def refused(response, form):
    """A refused htmx post: say what is wrong, and put the focus on the first field to fix."""
    first = next((field for field in form if field.errors), None)
    messages = " ".join(str(message) for field in form for message in field.errors)
    return after_settle(response, announce=messages, focus=f"#{first.id}" if first is not None else None)


def render_task(tablo: Tablo, task: Task, form: EditTaskForm, move_form: MoveForm, status: int = 200):
    return render_template("tablos/task.html", tablo=tablo, task=task, form=form, move_form=move_form), status


def render_board(tablo: Tablo, task_form: TaskForm, status: int = 200, **context):
    """The Tasks tab: the whole page, or for htmx the board partial the page includes."""
    template = "tablos/_board.html" if is_htmx() else "tablos/show.html"
    context.update(tablo=tablo, columns_html=board_columns(tablo), task_form=task_form, task_fields=task_fields(task_form))
    return make_response(render_template(template, **context), status)


def task_fields(form: TaskForm) -> Markup:
    """The "Add a task" fields: drawn live when they carry input or errors, else from the cache."""
    render = lambda: Markup(render_template("tablos/_task_fields.html", form=form))  # noqa: E731
    if form.errors or form.title.data:
        return render()
    return fragments.cached(("task-fields", form.status.data, str(get_locale())), render)


def board_columns(tablo: Tablo) -> Markup:
    """The board's columns, drawn once per version of the board, kind of reader (who may move
    cards or not), language and day (due dates say "today", "overdue"), in each worker."""
    editable = tablo.current_role.allows(Role.EDITOR)
    today = date.today()
    key = ("board", tablo.id, tablo.board_version, editable, str(get_locale()), today)
    return fragments.cached(key, lambda: render_template(
        "tablos/_columns.html", tablo=tablo, columns=Task.board(tablo), editable=editable, today=today, short_date=short_date,
    ))
