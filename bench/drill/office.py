"""The office day, compressed: who works at the service centre, and what one application puts them
through, step by step, over HTTP. The proportions are :class:`Mix`'s; docs/scaling.md says where each
comes from.

A case's journey: the front desk registers the application and looks at it, then accepts it, asks
for a correction (补正, the applicant resubmits, the desk accepts) or refuses it (不予受理). The lead
department's 承办, 审核 and 批准 are three different people (审批分离; each one opens the queue,
searches the case, opens the task, claims it, completes it, and the list reloads); 审核 sometimes
sends the case back to 承办. A joint case (并联, 开餐馆一件事) is co-reviewed by the health department at
the same time. The window issues the result; the applicant looks up the progress a few times and
sometimes rates the service.
"""

from __future__ import annotations

import asyncio
import base64
import random
from dataclasses import dataclass, field
from typing import Any

from bench.drill.client import Answer, Client, Lost
from bench.drill.record import Recorder

PASSWORD = "Drill-Office-2026!"
STEPS = ("handle", "review", "approve")
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@dataclass(frozen=True)
class Mix:
    """Shares of the applications (each a probability) and requests per case."""

    # service items by share of applications (the catalog's; 一件事 joint cases 10%)
    services: tuple[tuple[str, float], ...] = (
        ("110105-XK-0001", 0.30), ("110105-XK-0002", 0.15), ("110105-DJ-0001", 0.20),
        ("110105-XK-0101", 0.05), ("110105-XK-0102", 0.10), ("110105-XK-0201", 0.10), ("110105-YJS-0001", 0.10))
    correction: float = 0.15  # 补正: materials incomplete at the counter
    reject: float = 0.05  # 不予受理: not this office's remit
    send_back: float = 0.05  # 审核 sends it back to 承办 once
    refused: float = 0.08  # 批准: 不予许可
    public_queries: int = 3  # the applicant's progress look-ups per case
    rating: float = 0.30  # 好差评 given
    think: float = 0.3  # mean seconds between two steps of one case (exponential)
    office_day: bool = True  # False: only what a whole reference case needs (acceptance 5)


@dataclass
class Staff:
    tokens: dict[str, str] = field(default_factory=dict)
    desks: list[str] = field(default_factory=list)
    members: dict[str, list[str]] = field(default_factory=dict)
    leads: dict[str, str] = field(default_factory=dict)
    services: dict[str, dict] = field(default_factory=dict)  # code -> guide (department, materials)


def _uscc(n: int) -> str:
    """The ``n``-th drill company's unified social credit code (a new applicant per application)."""
    from stdnum.cn import uscc

    digits = ""
    for _ in range(9):
        n, d = divmod(n, len(USCC_ALPHABET))
        digits = USCC_ALPHABET[d] + digits
    body = "91110105" + digits
    return body + uscc.calc_check_digit(body)


def _pdf(tag: str) -> dict[str, str]:
    content = b"%PDF-1.4\n% drill material " + tag.encode() + b"\n" + b"0" * 2048 + b"\n%%EOF\n"
    return {"name": f"{tag}.pdf", "content_base64": base64.b64encode(content).decode()}


class Journey:
    """One application through the office; every request goes through :meth:`call`."""

    def __init__(self, client: Client, staff: Staff, mix: Mix, rec: Recorder, rnd: random.Random, n: int):
        self.client, self.staff, self.mix, self.rec, self.rnd, self.n = client, staff, mix, rec, rnd, n
        self.applicant_ip = f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"

    async def call(self, op: str, user: str | None, method: str, path: str, body: Any = None,
                   ok: tuple[int, ...] = (200, 201), ip: str | None = None, retry: bool = True) -> Answer | None:
        """A request, recorded; None when it failed. A request that a fault broke (connection lost,
        503) is sent again a few times, as a clerk would press again; a 409 then means the lost try
        had gone through. Registering an application is never sent again (it would register twice)."""
        token = self.staff.tokens[user] if user else None
        ip = ip or f"192.168.1.{sum(map(ord, user or '')) % 200 + 10}"
        for attempt in range(6):
            try:
                answer = await self.client.request(method, path, json_body=body, token=token, client_ip=ip)
            except Lost as exc:
                injected = self.rec.failed(op, str(exc))
                if retry and injected:
                    await asyncio.sleep(1)
                    continue
                return None
            if attempt and answer.status == 409 and method == "POST":
                self.rec.answered(op, answer, True)
                self.rec.resolved += 1
                return answer
            good = answer.status in ok
            injected = self.rec.answered(op, answer, good)
            if not good and retry and injected:
                await asyncio.sleep(1)
                continue
            return answer if good else None
        return None

    async def think(self) -> None:
        if self.mix.think:
            await asyncio.sleep(self.rnd.expovariate(1 / self.mix.think))

    async def run(self) -> bool:
        """The whole journey; True when the case reached its end."""
        rnd, mix = self.rnd, self.mix
        codes, weights = zip(*mix.services, strict=True)
        service = self.staff.services[rnd.choices(codes, weights)[0]]
        desk = rnd.choice(self.staff.desks)
        fate = rnd.random() if mix.office_day else 1.0
        required = [m["code"] for m in service["materials"] if m["required"]]
        given = required[:-1] if fate < mix.correction else required
        org = _uscc(self.n)
        self.tail = org[-4:]
        a = await self.call("apply", desk, "POST", "/api/applications", retry=False, body={
            "service_code": service["code"], "channel": "window",
            "applicant": {"kind": "organization", "id_number": org, "name": f"演练商贸有限公司{self.n}",
                          "phone": f"138{rnd.randrange(10**8):08d}"},
            "materials": [{"code": c, "file": _pdf(f"{self.n}-{c}")} for c in given]})
        if a is None:
            return False
        no = a.json()["case_no"]
        await self.public(no)
        if mix.office_day and not await self.call("view_application", desk, "GET", f"/api/applications/{no}"):
            return False
        await self.think()
        if fate < mix.correction:
            if not await self.decide(desk, no, "correction", {"decision": "correction", "missing": [required[-1]],
                                                               "reason": "缺少材料，请一次性补齐"}):
                return False
            await self.think()
            await self.public(no)
            if not await self.call("resubmit", desk, "POST", f"/api/cases/{no}/materials",
                                   {"materials": [{"code": required[-1], "file": _pdf(f"{self.n}-again")}]}):
                return False
        elif fate < mix.correction + mix.reject:
            ok = await self.decide(desk, no, "reject", {"decision": "reject", "reason": "不属于本机关职权范围",
                                                         "redirect_office": "区民政局"})
            await self.public(no)
            return bool(ok)
        if not await self.decide(desk, no, "accept", {"decision": "accept"}):
            return False
        await self.public(no)
        await self.think()
        department = service["department"]
        people = rnd.sample(self.staff.members[department], 3)
        chain = self.chain(no, department, people)
        if service.get("co_departments"):
            co = service["co_departments"][0]
            results = await asyncio.gather(chain, self.step(no, co, rnd.choice(self.staff.members[co]), "co_review",
                                                            {"outcome": "agree", "opinion": "会办同意"}))
            if not all(results):
                return False
        elif not await chain:
            return False
        await self.public(no)
        await self.think()
        if mix.office_day:
            await self.call("list_queue", desk, "GET", "/api/tasks?view=queue&limit=20")
        result = "approved" if self.outcome != "refused" else "refused"
        issued = await self.call("issue", desk, "POST", f"/api/cases/{no}/issuance", {
            "delivery": "pickup", **({"certificate_no": f"JY{self.n:08d}"} if result == "approved" else {})})
        if not issued:
            return False
        await self.public(no)
        if mix.office_day and rnd.random() < mix.rating:
            await self.call("rating", None, "POST", f"/api/public/cases/{no}/rating",
                            {"id_tail": self.tail, "grade": rnd.choice(["非常满意", "满意", "满意", "基本满意"])},
                            ip=self.applicant_ip)
        return True

    async def decide(self, desk: str, no: str, op: str, body: dict) -> bool:
        return await self.call(op, desk, "POST", f"/api/cases/{no}/acceptance", body) is not None

    async def chain(self, no: str, department: str, people: list[str]) -> bool:
        handler, reviewer, approver = people
        submit = {"outcome": "submit", "opinion": "符合条件，建议准予"}
        if not await self.step(no, department, handler, "handle", submit):
            return False
        await self.think()
        if self.mix.office_day and self.rnd.random() < self.mix.send_back:
            back = {"outcome": "send_back", "opinion": "请补充核查"}
            if not await self.step(no, department, reviewer, "review", back):
                return False
            await self.think()
            if not await self.step(no, department, handler, "handle", {"outcome": "submit", "opinion": "已核查"}):
                return False
            await self.think()
        if not await self.step(no, department, reviewer, "review", {"outcome": "pass", "opinion": "同意"}):
            return False
        await self.think()
        self.outcome = "refused" if self.mix.office_day and self.rnd.random() < self.mix.refused else "approved"
        return await self.step(no, department, approver, "approve",
                               {"outcome": self.outcome, "opinion": "准予许可" if self.outcome == "approved"
                                else "经营场所不符合要求，不予许可"})

    async def step(self, no: str, group: str, user: str, element: str, data: dict) -> bool:
        """A caseworker's step: the queue, a search for the case, the task, claim, complete, the inbox."""
        if self.mix.office_day:
            await self.call("list_queue", user, "GET", "/api/tasks?view=queue&limit=20")
        found = await self.call("list_search", user, "GET", f"/api/tasks?view=queue&q={no}")
        if found is None:
            return False
        tasks = [t for t in found.json()["items"] if t["element_id"] == element]
        if not tasks:
            self.rec.failed("list_search", f"{no}: no open {element} task in {user}'s queue")
            return False
        task = tasks[0]
        if self.mix.office_day:
            if not await self.call("task_view", user, "GET", f"/api/tasks/{task['id']}"):
                return False
            claimed = await self.call("claim", user, "POST", f"/api/tasks/{task['id']}/claim",
                                      {"version": task["version"]})
            if claimed is None:
                return False
            # a claim that answered 409 on a second try had gone through: complete without a version
            task = claimed.json() if claimed.status == 200 else {"id": task["id"], "version": None}
        op = f"complete_{element}"
        body = {"data": data} if task["version"] is None else {"data": data, "version": task["version"]}
        if not await self.call(op, user, "POST", f"/api/tasks/{task['id']}/complete", body):
            return False
        if self.mix.office_day:
            await self.call("list_inbox", user, "GET", "/api/tasks?view=inbox&limit=20")
        return True

    async def public(self, no: str) -> None:
        if self.mix.office_day and self.rnd.random() < self.mix.public_queries / 4:  # four look-ups a case
            await self.call("public_progress", None, "GET", f"/api/public/cases/{no}?id_tail={self.tail}",
                            ip=self.applicant_ip)
