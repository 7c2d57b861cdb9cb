"""Administrators' page of the service catalog (``/admin/catalog``): the current items with their
versions, each item's versions, and loading catalog files (YAML) without a release: a file with any
problem is refused whole, naming file, line, item and field; the item versions it adds are recorded
with who loaded them."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.access import ADMIN, guard
from engine.errors import Invalid
from engine.inputs import accepts_uploads
from engine.web import current_actor, reading, unit_of_work
from intake import catalog_store

bp = Blueprint("intake_admin", __name__, template_folder="templates", url_prefix="/admin/catalog")


def _page(status: int = 200, report: catalog_store.LoadReport | None = None, error: Invalid | None = None):
    with reading() as s:
        items = catalog_store.current_items(s)
        counts = catalog_store.version_counts(s)
        return render_template("intake/admin_catalog.html", items=items, counts=counts, report=report,
                               error=error), status


@bp.get("")
@guard(ADMIN)
def catalog():
    return _page()


@bp.post("")
@guard(ADMIN)
@accepts_uploads
def load():
    files = [(f.filename or "catalog.yaml", f.read()) for f in request.files.getlist("file") if f.filename]
    try:
        items = catalog_store.read_uploads(files)
        with unit_of_work() as uow:
            report = catalog_store.store(uow.session, items, actor=current_actor().username)
    except Invalid as exc:
        return _page(422, error=exc)
    return _page(report=report)


@bp.get("/<code>")
@guard(ADMIN)
def item(code: str):
    with reading() as s:
        return render_template("intake/admin_item.html", rows=catalog_store.versions(s, code), code=code)
