"""Caseworkers: inbox / queue / archive, claim, complete, hand back, reassign, the task pages."""


def init_app(app) -> None:
    from worklists import api, pages

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
