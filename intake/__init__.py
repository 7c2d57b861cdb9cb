"""The window at both ends: applicants, catalog, applications, acceptance, notices, issuance."""


def init_app(app) -> None:
    from engine import cases, scheduler
    from engine.access import APPLICANT_SIGN_IN
    from intake import (
        acceptance,
        admin_pages,
        api,
        demo,
        followup_pages,
        indicators,
        oidc,
        online_pages,
        pages,
        public_pages,
    )
    from intake.cli import catalog_cli, load_configured, materials_cli
    from intake.dev_idp import dev_idp_command
    from intake.ratelimit import RateLimiter, SharedRateLimiter

    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(public_pages.bp)
    app.register_blueprint(online_pages.bp)
    oidc.init_app(app)
    app.extensions[APPLICANT_SIGN_IN] = "online.sign_in"
    app.register_blueprint(followup_pages.bp)
    app.register_blueprint(admin_pages.bp)
    app.cli.add_command(catalog_cli)
    app.cli.add_command(materials_cli)
    app.cli.add_command(dev_idp_command)
    redis_url = app.config["ONEWINDOW"].redis_url
    app.extensions.setdefault("intake.rate_limiter", SharedRateLimiter(redis_url, limit=30, seconds=60)
                              if redis_url else RateLimiter(limit=30, seconds=60))
    app.extensions.setdefault("onewindow.demo_hooks", []).append(demo.seed)
    app.extensions.setdefault("onewindow.startup_hooks", []).append(load_configured)
    cases.add_completion_check("intake", acceptance.completion_check)
    indicators.register()
    scheduler.on_tick("intake.deemed_acceptance", acceptance.deemed_acceptance_tick)
