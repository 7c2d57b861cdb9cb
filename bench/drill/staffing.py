"""The drill office's people: the demo office (its users, the reference process, the catalog) plus
more desks and caseworkers, as a province-level centre has; their bearer tokens; the catalog's guides.
"""

from __future__ import annotations

import asyncio
import os

from bench.drill.client import Client
from bench.drill.office import Staff

DESKS = 8  # 综合窗口
MEMBERS = {"market_dept": 9, "health_dept": 6, "housing_dept": 6, "general_dept": 3}  # 承办/审核/批准 staff
PREFIX = {"market_dept": "market", "health_dept": "health", "housing_dept": "housing", "general_dept": "general"}


def seed(env: dict[str, str]) -> list[str]:
    """Seed the demo office and the extra staff into the drill's database; returns every username."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from engine import identity
        from engine.passwords import DEMO_PASSWORD
        from onewindow import demo
        from onewindow.app import create_app
        from onewindow.config import from_env

        app = create_app(from_env())
        demo.seed(app)
        users = [u[0] for u in demo.USERS]
        with app.extensions["onewindow.db"].unit_of_work() as uow:
            extra = [(f"window{i}", "front_desk") for i in range(3, DESKS + 1)]
            extra += [(f"{PREFIX[g]}{i}", g) for g, n in MEMBERS.items() for i in range(4, n + 1)]
            for username, group in extra:
                identity.add_user(uow.session, username, DEMO_PASSWORD, groups=[group], demo=True,
                                  display_name=f"演练 {username}")
                users.append(username)
        app.extensions["onewindow.db"].dispose()
        return users
    finally:
        os.environ.clear()
        os.environ.update(saved)


async def sign_in(client: Client, users: list[str]) -> Staff:
    """Tokens for everyone, and the catalog's guides, through the API."""
    from engine.passwords import DEMO_PASSWORD

    staff = Staff()
    for username in users:
        answer = await client.request("POST", "/api/auth/token", json_body={"username": username,
                                                                          "password": DEMO_PASSWORD})
        if answer.status != 200:
            raise RuntimeError(f"sign-in of {username}: {answer.status} {answer.body[:200]!r}")
        staff.tokens[username] = answer.json()["token"]
    staff.desks = [f"window{i}" for i in range(1, DESKS + 1)]
    staff.members = {g: [f"{PREFIX[g]}{i}" for i in range(1, n + 1)] for g, n in MEMBERS.items()}
    guides = (await client.request("GET", "/api/services")).json()
    staff.services = {g["code"]: g for g in guides}
    await asyncio.sleep(0)
    return staff
