"""The window at both ends: applicants, catalog, applications, acceptance, notices, issuance."""


def init_app(app) -> None:
    from engine import cases, scheduler
    from intake import acceptance, api, demo, pages, public_pages
    from intake.cli import catalog_cli, load_configured, materials_cli
    from intake.ratelimit import RateLimiter, SharedRateLimiter

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(public_pages.bp)
    app.cli.add_command(catalog_cli)
    app.cli.add_command(materials_cli)
    redis_url = app.config["ONEWINDOW"].redis_url
    app.extensions.setdefault("intake.rate_limiter", SharedRateLimiter(redis_url, limit=30, seconds=60)
                              if redis_url else RateLimiter(limit=30, seconds=60))
    app.extensions.setdefault("onewindow.demo_hooks", []).append(demo.seed)
    app.extensions.setdefault("onewindow.startup_hooks", []).append(load_configured)
    cases.add_completion_check("intake", acceptance.completion_check)
    scheduler.on_tick("intake.deemed_acceptance", acceptance.deemed_acceptance_tick)
