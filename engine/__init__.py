"""The kernel: SpiffWorkflow behind one door, definitions, the case store, clock, events, broker."""


def init_app(app) -> None:
    from engine import (  # noqa: F401 - outbox declares its actor
        access,
        admin_pages,
        api,
        cli,
        csrf,
        designer,
        diagram_api,
        headers,
        inputs,
        ops,
        outbox,
        pages,
        policy,
        scheduler,
        throttle,
        web,
    )

    # Before any route is added: an <int:...> id past what an id column holds matches no route (404),
    # instead of reaching the database as an overflow
    app.url_map.converters["int"] = inputs.IdConverter
    access.init_app(app)
    web.register_error_handlers(app)
    # First of all, before the access check too: sizes are set before anything reads the body, and
    # nothing reads the database with text it cannot hold
    app.before_request_funcs.setdefault(None, []).insert(0, inputs.check_request)
    csrf.init_app(app)
    headers.init_app(app)
    app.extensions.setdefault("engine.sign_in_limits", throttle.Limits())
    scheduler.on_tick("engine.sign_in_counters", _prune_sign_in_counters)
    scheduler.on_tick("engine.applicant_sessions", _prune_applicant_sessions)
    app.session_interface = web.CookieSessions()
    # Pages link to features only when those are installed (the shell must not import them).
    app.context_processor(lambda: {"has_endpoint": lambda endpoint: endpoint in app.view_functions,
                                   "may_design": policy.may_design, "may_migrate": policy.may_migrate})
    app.register_blueprint(api.bp)
    app.register_blueprint(diagram_api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(designer.bp)
    app.register_blueprint(admin_pages.bp)
    ops.init_app(app)
    cli.register(app)


def _prune_sign_in_counters(db, now) -> dict:
    from engine import throttle

    with db.unit_of_work() as uow:
        return {"forgotten": throttle.prune(uow.session, now, throttle.Limits())}


def _prune_applicant_sessions(db, now) -> dict:
    from engine import applicants

    with db.unit_of_work() as uow:
        return {"ended": applicants.prune(uow.session, now)}
