"""Tablos and the kanban board of their tasks.

/                                          GET         home: "My tablos" once signed in
/tablos                                    GET         My tablos
/tablos/new                                GET, POST   create a tablo
/tablos/<id>                               GET         the tablo's Tasks tab (the board); ?etape=<id>|none
                                                       shows only an étape's tasks (or those without)
/tablos/<id>/edit                          GET, POST   rename, describe, recolour
/tablos/<id>/delete                        GET, POST   confirm, then delete with its tasks
/tablos/<id>/tasks                         POST        add a task (GET: back to the board)
/tablos/<id>/tasks/<task_id>               GET, POST   see and edit a task
/tablos/<id>/tasks/<task_id>/move          POST        move to a column and position (GET: its form)
/tablos/<id>/tasks/<task_id>/delete        GET, POST   confirm, then delete a task

Every post answers an htmx request with the board partial and a classic one with a redirect.
The board's filter travels in the query string of the form's action (`?etape=`), so the answer to
a post made on a filtered board is that filtered board.
A refused post without JavaScript is answered on the spot, with the form and its errors; the
address it leaves in the address bar answers GET too (with a redirect to the page it belongs
to), so reloading it or opening it again never meets a 405.

Every verb on a task locks the board and re-reads the task first (Task.lock): a task deleted by
someone else meanwhile is a TaskDeleted, answered once, here, by `task_deleted`.
"""

from dataclasses import dataclass
from datetime import date

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from markupsafe import Markup

from xtablo.access import find_of_tablo, get_task_or_404, get_tablo_or_404
from xtablo.blueprints.tablos import bp
from xtablo.blueprints.tablos.forms import ConfirmForm, EditTaskForm, MoveForm, TabloForm, TaskForm
from xtablo.extensions import db
from xtablo.models import NO_ETAPE, Etape, EtapeDeleted, Role, Status, Tablo, Task, TaskDeleted
from xtablo.web import fragments
from xtablo.web.dates import short_date
from xtablo.web.htmx import after_settle, is_htmx, refused, see_other, triggered_by


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
    if request.method == "GET":
        form.color.data = Tablo.fresh_color_for(current_user)
    if form.validate_on_submit():
        tablo = Tablo.create(owner=current_user, title=form.title.data, description=form.description.data or "", color=form.color.data)
        db.session.commit()
        return see_other(url_for("tablos.show", tablo_id=tablo.id))
    return render_template("tablos/new.html", form=form), 422 if form.errors else 200


@bp.get("/tablos/<id:tablo_id>")
def show(tablo_id: int):
    tablo = get_tablo_or_404(tablo_id)
    response = render_board(tablo, new_task_form(tablo))
    # A filter chosen on the page (htmx): the focus stays on the filter.
    return after_settle(response, focus="#etape-filter") if triggered_by() == "board-filter" else response


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
    return see_other(board_url(request.view_args["tablo_id"]))


@bp.errorhandler(EtapeDeleted)
def etape_deleted(error):
    """Someone deleted the étape this request was filing a task under."""
    db.session.rollback()
    flash(_("That étape was deleted meanwhile."), "error")
    return see_other(board_url(request.view_args["tablo_id"]))


class UnknownEtape(LookupError):
    """The board's `?etape=` names no étape of this tablo."""


@bp.errorhandler(UnknownEtape)
def unknown_etape(error):
    """A filter by an étape that does not exist (a stale link, a typo): the whole board, with a
    sentence saying so, rather than an error page."""
    tablo = get_tablo_or_404(request.view_args["tablo_id"])
    return render_board(tablo, new_task_form(tablo, filtered=False), status=404, filtered=False,
                        filter_error=_("There is no such étape on this tablo (it may have been deleted): here are all the tasks."))


@bp.route("/tablos/<id:tablo_id>/tasks", methods=["GET", "POST"])
def create_task(tablo_id: int):
    if request.method == "GET":
        # The address a refused post without JavaScript leaves in the address bar: back to the board.
        return redirect(url_for("tablos.show", tablo_id=get_tablo_or_404(tablo_id).id))
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR)
    form = TaskForm()
    form.etape_id.offer(etapes_of(tablo))
    if form.validate_on_submit():
        task = Task.create(tablo, title=form.title.data, description=form.description.data or "", due_date=form.due_date.data,
                           status=form.status.data, etape_id=form.etape_id.etape_id)
        # Read before the commit: afterwards the task may already be someone else's to delete.
        announce = _("“%(title)s” added to %(column)s.", title=task.title, column=task.status_label)
        anchor = f"task-{task.id}"
        db.session.commit()
        if is_htmx():
            response = render_board(tablo, new_task_form(tablo, status=form.status.data, etape_id=form.etape_id.data), adding=True)
            return after_settle(response, announce=announce, focus="#title")
        return see_other(board_url(tablo.id, _anchor=anchor))
    return refused(render_board(tablo, form, status=422), form)


@bp.route("/tablos/<id:tablo_id>/tasks/<id:task_id>", methods=["GET", "POST"])
def task(tablo_id: int, task_id: int):
    tablo = get_tablo_or_404(tablo_id, role=Role.EDITOR if request.method == "POST" else Role.VIEWER)
    task = get_task_or_404(tablo, task_id)
    form = EditTaskForm(obj=task)
    form.etape_id.offer(etapes_of(tablo))
    if form.validate_on_submit():
        task.update(title=form.title.data, description=form.description.data or "", due_date=form.due_date.data,
                    etape_id=form.etape_id.etape_id)
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
        task.move(form.status.data, form.position.data - 1, before=form.before.data, after=form.after.data)
        announce = _("“%(title)s” moved to %(column)s, position %(position)d.",
                     title=task.title, column=task.status_label, position=task.position + 1)
        db.session.commit()
        if is_htmx():
            return after_settle(render_board(tablo, new_task_form(tablo)), announce=announce, focus=f"#task-{task_id} .task-title")
        return see_other(board_url(tablo.id, _anchor=f"task-{task_id}"))
    if is_htmx():
        return refused(render_board(tablo, new_task_form(tablo), status=422, move_errors=form.errors), form)
    edit_form = EditTaskForm(formdata=None, obj=task)
    edit_form.etape_id.offer(etapes_of(tablo))
    return render_task(tablo, task, edit_form, form, status=422)


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


def render_task(tablo: Tablo, task: Task, form: EditTaskForm, move_form: MoveForm, status: int = 200):
    return render_template("tablos/task.html", tablo=tablo, task=task, form=form, move_form=move_form), status


def render_board(tablo: Tablo, task_form: TaskForm, status: int = 200, filtered: bool = True, **context):
    """The Tasks tab: the whole page, or for htmx the board partial the page includes. The board
    shows the tasks of the étape the query string names (`?etape=`), unless not `filtered`."""
    shown = board_filter(tablo) if filtered else None
    board = board_html(tablo, shown, task_form, **context)
    if is_htmx():
        return make_response(board, status)
    return make_response(render_template("tablos/show.html", tablo=tablo, board=board), status)


def board_html(tablo: Tablo, shown, task_form, **context) -> Markup:
    """The board partial (tablos/_board.html): filter, "Add a task" form and columns.

    A plain view (an empty form, nothing to say) is the same HTML for every reader of the same
    kind until the board changes, but for the CSRF token of its form: it is drawn once per
    version of the board, filter, kind of reader, language and day, with a mark where the token
    goes, and each view only puts its reader's token there. Anything else (errors, a form with
    input) is drawn live."""
    def draw(**marks) -> str:
        return render_template("tablos/_board.html", tablo=tablo, shown=shown, etapes=etapes_of(tablo),
                               columns_html=board_columns(tablo, shown), task_form=task_form,
                               task_fields=task_fields(tablo, task_form), board_args=board_args(shown), **context, **marks)

    if context or not isinstance(task_form, EmptyTaskForm):
        return Markup(draw())
    key = ("board-wrap", tablo.id, tablo.board_version, shown, tablo.current_role.allows(Role.EDITOR), str(get_locale()),
           date.today(), task_form.status, task_form.etape_id)
    return fragments.with_csrf_token(fragments.boards, key, lambda mark: draw(csrf_token=lambda: mark))


def board_filter(tablo: Tablo):
    """The board's filter from the query string: None (every task), NO_ETAPE, or the id of one of
    the tablo's étapes; UnknownEtape for anything else."""
    raw = request.args.get("etape", "")
    if raw in ("", NO_ETAPE):
        return raw or None
    etape = find_of_tablo(Etape, tablo, raw)
    if etape is None:
        raise UnknownEtape(raw)
    return etape.id


def board_args(shown) -> dict:
    """The query string that keeps the board's filter (posts made on it answer with it)."""
    return {} if shown is None else {"etape": shown}


def board_url(tablo_id: int, **values) -> str:
    """The board, filtered as the request that leads there was (a post's `?etape=`)."""
    shown = request.args.get("etape", "")
    return url_for("tablos.show", tablo_id=tablo_id, **({"etape": shown} if shown else {}), **values)


def etapes_of(tablo: Tablo) -> list:
    """The tablo's étapes as (id, title) rows, remembered per version of the board: renaming,
    adding or deleting one renews it (Etape.drawn_on_cards), so a board view costs no query."""
    key = ("etapes", tablo.id, tablo.board_version)
    return fragments.remembered(key, lambda: [(etape.id, etape.title) for etape in Etape.of(tablo)])


@dataclass(frozen=True)
class EmptyTaskForm:
    """An empty "Add a task" form, built only when its fields are not drawn already: building a
    WTForms form took about a tenth of a cached board view's CPU (bench/cpu.py)."""

    tablo: Tablo
    status: str = Status.TODO.value
    etape_id: str = ""
    errors = {}  # noqa: RUF012  (never any: it is empty)

    def build(self) -> TaskForm:
        form = TaskForm(formdata=None, status=self.status, etape_id=self.etape_id)
        form.etape_id.offer(etapes_of(self.tablo))
        return form


def new_task_form(tablo: Tablo, filtered: bool = True, status: str = Status.TODO.value, etape_id: str | None = None) -> EmptyTaskForm:
    """An empty "Add a task" form; on a board filtered by an étape, it files under that étape."""
    if filtered and etape_id is None and (raw := request.args.get("etape", "")).isdigit():
        etape_id = raw
    return EmptyTaskForm(tablo, status, etape_id or "")


def task_fields(tablo: Tablo, form) -> Markup:
    """The "Add a task" fields: drawn live when they carry input or errors, else from the cache
    (per version of the board: they offer its étapes)."""
    if not isinstance(form, EmptyTaskForm):
        return Markup(render_template("tablos/_task_fields.html", form=form))
    key = ("task-fields", tablo.id, tablo.board_version, form.status, form.etape_id, str(get_locale()))
    return fragments.cached(key, lambda: render_template("tablos/_task_fields.html", form=form.build()))


def board_columns(tablo: Tablo, shown) -> Markup:
    """The board's columns, drawn once per version of the board, filter, kind of reader (who may
    move cards or not), language and day (due dates say "today", "overdue"), in each worker."""
    editable = tablo.current_role.allows(Role.EDITOR)
    today = date.today()
    key = ("board", tablo.id, tablo.board_version, shown, editable, str(get_locale()), today)
    return fragments.cached(key, lambda: render_template(
        "tablos/_columns.html", tablo=tablo, columns=Task.board(tablo, shown), editable=editable, today=today, short_date=short_date,
    ))
