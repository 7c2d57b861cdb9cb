"""The window's notices and the case's papers, in Chinese, as printable HTML and as PDF.

收件凭证 (receipt), 受理通知书 (acceptance), 不予受理通知书 (refusal, with reason, where to go and
the right of appeal), 补正材料通知书 (correction: everything missing in one notice, 一次性告知), the
审批表 (every level's signed opinion), the 准予/不予行政许可决定书 (a refusal gives the reasons and the
rights of reconsideration and lawsuit) and the 送达回证 (delivery receipt).
The wording lives in ``templates/notices/``; one template body serves both outputs, so the paper a
browser prints and the PDF handed out say the same thing. Rendering is pure: the caller passes a
:class:`NoticeContext` holding every date, including the instant of issue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace, TextStyle
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from engine.errors import Invalid, NotFound, OneWindowError, Problem

TITLES = {
    "receipt": "收件凭证",
    "acceptance": "受理通知书",
    "refusal": "不予受理通知书",
    "correction": "补正材料通知书",
    "approval_form": "行政许可审批表",
    "decision": "行政许可决定书",
    "delivery_receipt": "送达回证",
}
DECISION_TITLES = {"approved": "准予行政许可决定书", "refused": "不予行政许可决定书"}
NOTICE_KINDS = tuple(TITLES)

# China keeps one time zone and no daylight saving time, so a fixed offset is exact and needs no
# tz database on the server.
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

_TEMPLATES = Path(__file__).parent / "templates" / "notices"
_PAGE_LAYOUT = "_page.html"  # a whole printable page, for browsers
_PDF_LAYOUT = "_fragment.html"  # the bare body, for fpdf2's write_html
_SHIPPED_FONTS = Path(__file__).parent / "fonts"

# Where a CJK font is looked for when none is configured, first found wins: a font an office ships
# in intake/fonts/, then Debian's packages (fonts-wqy-microhei is the one the project installs),
# then Windows' own. Each must have TrueType outlines: fpdf2 embeds and subsets those.
DEFAULT_FONT_PATHS: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    Path("/usr/share/fonts/truetype/arphic/uming.ttc"),
    Path("/usr/share/fonts/truetype/arphic/ukai.ttc"),
    Path("C:/Windows/Fonts/simsun.ttc"),
    Path("C:/Windows/Fonts/simhei.ttf"),
)


class NoticeFontMissing(OneWindowError):
    """No CJK font to embed: a deployment problem, not the applicant's."""

    status = 500
    title = "Notice font missing"


@dataclass(frozen=True)
class SignedOpinion:
    """One line of the 审批表: a step's opinion as signed (the signer's name as it was then)."""

    step_name: str
    decision_label: str
    text: str
    signer_name: str
    signed_at: datetime
    sent_back: bool = False


@dataclass(frozen=True)
class NoticeContext:
    """Everything a notice prints. Dates are the office's calendar days; ``issued_at`` is the instant
    of issue (an aware value is shown in Beijing time, a naive one as it is).

    ``applicant_id`` is printed as given: the caller decides whether the notice shows it whole (the
    applicant's own copy) or masked. ``missing_materials`` and ``received_materials`` are
    ``(code, name)`` pairs. ``due_provisional`` marks the due dates "（暂定）": their year's holiday
    arrangement is not published yet. ``deemed`` marks an acceptance the law deems made (no decision
    within five working days), which does not say the materials were complete. ``result`` is the
    case's decision (approved | refused); ``reason`` on a decision is the refusal's reasons.
    """

    office_name: str
    case_no: str
    applicant_name: str
    applicant_id: str
    service_name: str
    service_code: str
    issued_at: datetime
    received_on: date | None = None
    accepted_on: date | None = None
    decided_on: date | None = None
    promised_due_date: date | None = None
    statutory_due_date: date | None = None
    due_provisional: bool = False
    reason: str | None = None
    redirect_office: str | None = None
    missing_materials: tuple[tuple[str, str], ...] = ()
    received_materials: tuple[tuple[str, str], ...] = ()
    correction_due_date: date | None = None
    reconsideration_body: str | None = None  # 行政复议机关, when the office names it
    court: str | None = None  # 人民法院 with jurisdiction, when the office names it
    office_phone: str | None = None
    deemed: bool = False
    result: str | None = None
    certificate_no: str | None = None
    legal_basis: str | None = None
    opinions: tuple[SignedOpinion, ...] = ()
    delivery: str | None = None  # pickup | post
    tracking_no: str | None = None
    delivered_at: datetime | None = None
    deliverer: str | None = None
    documents: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Callers hand lists of pairs from JSON or the ORM; freeze them so the context stays hashable.
        for name in ("missing_materials", "received_materials"):
            object.__setattr__(self, name, tuple((str(c), str(n)) for c, n in getattr(self, name)))
        object.__setattr__(self, "opinions", tuple(self.opinions))
        object.__setattr__(self, "documents", tuple(str(d) for d in self.documents))


# What each kind cannot do without, beyond the fields every notice needs.
_REQUIRED = {
    "receipt": ("received_on",),
    "acceptance": ("accepted_on", "promised_due_date"),
    "refusal": ("decided_on", "reason"),
    "correction": ("received_on", "missing_materials"),
    "approval_form": ("opinions",),
    "decision": ("decided_on", "result"),
    "delivery_receipt": ("delivery", "delivered_at", "documents"),
}
_ALWAYS = ("office_name", "case_no", "applicant_name", "applicant_id", "service_name", "service_code")


def _check(kind: str, ctx: NoticeContext) -> None:
    if kind not in TITLES:
        raise NotFound(f"no notice of kind {kind!r}; known: {', '.join(NOTICE_KINDS)}")
    needed = _ALWAYS + _REQUIRED[kind]
    if kind == "decision" and ctx.result == "refused":
        needed += ("reason",)  # a refusal states its reasons (行政许可法第三十八条第二款)
    missing = [
        name
        for name in needed
        if getattr(ctx, name) in (None, "", ())
        or (isinstance(getattr(ctx, name), str) and not getattr(ctx, name).strip())
    ]
    if missing:
        raise Invalid(
            f"a {kind} notice needs {', '.join(missing)}",
            [
                Problem(f"required for a {kind} notice ({TITLES[kind]})", field=f"ctx.{name}")
                for name in missing
            ],
        )


def cn_date(value: date | None) -> str:
    """``date(2026, 3, 18)`` -> ``"2026年3月18日"``, the way official documents write dates."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value).date()
    return f"{value.year}年{value.month}月{value.day}日"


def cn_datetime(value: datetime) -> str:
    """``"2026年3月18日 14:05"`` in Beijing time."""
    local = _local(value)
    return f"{cn_date(local.date())} {local:%H:%M}"


def _local(value: datetime) -> datetime:
    return value.astimezone(BEIJING) if value.tzinfo is not None else value


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt field is an error, not a blank on an official paper
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cn_date"] = cn_date
    env.filters["cn_datetime"] = cn_datetime
    return env


def title_of(kind: str, ctx: NoticeContext) -> str:
    """The paper's title: a decision is titled by what it decides."""
    return DECISION_TITLES.get(ctx.result or "", TITLES[kind]) if kind == "decision" else TITLES[kind]


def _render(kind: str, ctx: NoticeContext, layout: str) -> str:
    _check(kind, ctx)
    provisional = ""
    if ctx.due_provisional:
        # fpdf2 takes no inline tag inside a table cell: the PDF gets the bare mark.
        provisional = (
            "（暂定）" if layout == _PDF_LAYOUT else Markup('<span class="provisional">（暂定）</span>')
        )
    return (
        _environment()
        .get_template(f"{kind}.html")
        .render(
            ctx=ctx,
            title=title_of(kind, ctx),
            layout=layout,
            provisional=provisional,
            issued_on=_local(ctx.issued_at).date(),
        )
    )


def render_html(kind: str, ctx: NoticeContext) -> str:
    """The notice as a whole HTML page (autoescaped, A4 print CSS).

    Raises NotFound for an unknown kind, Invalid when ``ctx`` lacks what the kind prints.
    """
    return _render(kind, ctx, _PAGE_LAYOUT)


def find_font(configured: str | Path | None = None, candidates: Iterable[Path] | None = None) -> Path:
    """The CJK font file to embed: ``configured`` if given (it must exist), else the first found of
    ``candidates`` (default: any font in ``intake/fonts/``, then :data:`DEFAULT_FONT_PATHS`).

    Raises NoticeFontMissing naming what was tried and how to install a font.
    """
    if configured is not None:
        path = Path(configured)
        if path.is_file():
            return path
        raise NoticeFontMissing(f"the configured notice font {path} does not exist")
    if candidates is None:
        shipped = sorted(p for p in _SHIPPED_FONTS.glob("*") if p.suffix.lower() in (".ttf", ".ttc", ".otf"))
        candidates = [*shipped, *DEFAULT_FONT_PATHS]
    tried = list(candidates)
    for path in tried:
        if path.is_file():
            return path
    raise NoticeFontMissing(
        "no CJK font found for PDF notices; install one (Debian: apt-get install fonts-wqy-microhei), "
        "put a TrueType font in intake/fonts/, or configure its path. Tried: "
        + ", ".join(str(p) for p in tried)
    )


# fpdf2's default headings are dark red and its <b> needs a bold face the CJK font lacks: plain
# black headings, and emphasis without a style change.
_PDF_STYLES = {
    "h1": TextStyle(font_size_pt=18, color="#000000", t_margin=0, b_margin=2, l_margin="Center"),
    "h2": TextStyle(font_size_pt=16, color="#000000", t_margin=2, b_margin=4, l_margin="Center"),
    "b": FontFace(),
    "strong": FontFace(),
}


def render_pdf(
    kind: str, ctx: NoticeContext, *, font: str | Path | None = None, font_index: int = 0
) -> bytes:
    """The notice as an A4 PDF with the CJK font embedded (subset to the characters used), so the
    Chinese text prints anywhere and can be extracted.

    ``font`` is a TrueType/OpenType file or collection (``font_index`` picks the face in a .ttc);
    None looks in the default places (:func:`find_font`).
    Raises NotFound, Invalid (as :func:`render_html`) or NoticeFontMissing.
    """
    body = _render(kind, ctx, _PDF_LAYOUT)
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(left=20, top=25, right=20)
    pdf.set_auto_page_break(auto=True, margin=20)
    # The document's dates come from the context, never from the clock: the same notice gives the
    # same file, and a reprint is byte-identical.
    pdf.set_creation_date(ctx.issued_at if ctx.issued_at.tzinfo else ctx.issued_at.replace(tzinfo=BEIJING))
    pdf.set_title(f"{title_of(kind, ctx)} {ctx.case_no}")
    pdf.set_author(ctx.office_name)
    pdf.set_lang("zh-CN")
    pdf.add_font("cjk", "", str(find_font(font)), collection_font_number=font_index)
    pdf.set_font("cjk", size=12)
    pdf.add_page()
    pdf.write_html(body, font_family="cjk", tag_styles=_PDF_STYLES)
    return bytes(pdf.output())
