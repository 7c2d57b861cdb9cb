"""``onewindow sla ...``: run the sweep, send the daily digest."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from engine import clock
from sla import runtime

sla_cli = AppGroup("sla", help="Time limits: sweep, digest.")


def _now(text: str | None):
    try:
        return clock.parse_instant(text) if text else clock.now()
    except ValueError:
        raise click.ClickException(f"--now: '{text}' is not an ISO 8601 instant") from None


@sla_cli.command("sweep")
@click.option("--now", "now_text", default=None, help="ISO instant; default: the system clock")
@click.option("--no-lock", is_flag=True, help="Sweep even if another process does (drills: alerts stay unique).")
def sweep_command(now_text: str | None, no_lock: bool) -> None:
    """Move clocks to their level and raise alerts (what every tick does)."""
    from sla.sweep import sweep, tick_hook

    now = _now(now_text)
    with clock.frozen(now):
        click.echo(sweep(runtime.database(), now) if no_lock else tick_hook(runtime.database(), now))


@sla_cli.command("digest")
@click.option("--now", "now_text", default=None, help="ISO instant; default: the system clock")
def digest_command(now_text: str | None) -> None:
    """Send today's digest to every supervisor not served yet (whatever the hour)."""
    from sla.digest import send_digests

    now = _now(now_text)
    with clock.frozen(now):
        click.echo(f"{send_digests(runtime.database(), now, force=True)} digest(s) sent")
