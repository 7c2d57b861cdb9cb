"""The kernel: SpiffWorkflow behind one door, definitions, the case store, clock, events, broker."""


def init_app(app) -> None:
    from engine import access, api, cli, ops, outbox, pages, web  # noqa: F401 - outbox declares its actor

    access.init_app(app)
    web.register_error_handlers(app)
    app.session_interface = web.CookieSessions()
    # Pages link to features only when those are installed (the shell must not import them).
    app.context_processor(lambda: {"has_endpoint": lambda endpoint: endpoint in app.view_functions})
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    ops.init_app(app)
    cli.register(app)
