"""The kernel: SpiffWorkflow behind one door, definitions, the case store, clock, events, broker."""


def init_app(app) -> None:
    from engine import api, cli, pages, web

    web.register_error_handlers(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    cli.register(app)
