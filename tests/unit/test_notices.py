"""The notices and papers of a case: what they print, as HTML and as PDF (text extracted back with pypdf)."""

from __future__ import annotations

import io
import os
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from engine.errors import Invalid, NotFound
from intake.notices import (
    NOTICE_KINDS,
    NoticeContext,
    NoticeFontMissing,
    SignedOpinion,
    cn_date,
    cn_datetime,
    find_font,
    render_html,
    render_pdf,
)

CTX = NoticeContext(
    office_name="北京市朝阳区政务服务中心",
    case_no="CY20260212-0007",
    applicant_name="张三",
    applicant_id="110101********1233",
    service_name="食品经营许可（新办）",
    service_code="110105-XK-0001",
    # 06:05 UTC is 14:05 in Beijing
    issued_at=datetime(2026, 2, 12, 6, 5, tzinfo=UTC),
    received_on=date(2026, 2, 11),
    accepted_on=date(2026, 2, 12),
    decided_on=date(2026, 2, 13),
    promised_due_date=date(2026, 3, 18),
    statutory_due_date=date(2026, 3, 26),
    reason="申请事项依法不属于本机关职权范围",
    redirect_office="北京市朝阳区卫生健康委员会",
    missing_materials=(("lease", "经营场所证明"), ("layout", "设备布局图"), ("rules", "食品安全规章制度")),
    received_materials=(("id_card", "身份证明"),),
    office_phone="010-65090000",
    result="refused",
    legal_basis="《中华人民共和国食品安全法》第三十五条",
    opinions=(
        # 01:30 UTC is 09:30 in Beijing
        SignedOpinion("承办", "提交审核", "经现场核查，经营场所与食品安全要求不符，建议不予许可。", "市场监管局 王强",
                      datetime(2026, 2, 12, 1, 30, tzinfo=UTC)),
        SignedOpinion("审核", "通过", "同意承办意见。", "市场监管局 赵磊", datetime(2026, 2, 12, 7, 0, tzinfo=UTC)),
        SignedOpinion("批准", "不予许可", "经营场所未达标，不予许可。", "市场监管局 科长",
                      datetime(2026, 2, 13, 2, 15, tzinfo=UTC)),
    ),
    delivery="pickup",
    delivered_at=datetime(2026, 2, 14, 3, 0, tzinfo=UTC),
    deliverer="综合窗口 张敏",
    documents=("不予行政许可决定书（申办流水号 CY20260212-0007）",),
)


def _font_or_skip() -> Path:
    """The CJK font; skip where it is not installed, fail in CI where it must be."""
    try:
        return find_font()
    except NoticeFontMissing:
        if os.environ.get("CI"):
            raise
        pytest.skip("no CJK font installed (apt-get install fonts-wqy-microhei)")


def _pdf_text(kind: str, ctx: NoticeContext = CTX) -> str:
    if os.environ.get("CI"):
        import pypdf
    else:
        pypdf = pytest.importorskip("pypdf")
    data = render_pdf(kind, ctx, font=_font_or_skip())
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    # Lines wrap anywhere in Chinese text: compare without the line breaks.
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


@pytest.fixture(scope="module")
def pdf_texts() -> dict[str, str]:
    # The font takes a few tenths of a second to load: render each kind once for all PDF tests.
    return {kind: _pdf_text(kind) for kind in NOTICE_KINDS}


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


# --- dates -------------------------------------------------------------------------------------


def test_dates_print_the_official_way():
    assert cn_date(date(2026, 3, 18)) == "2026年3月18日"
    assert cn_date(None) == ""
    assert cn_datetime(datetime(2026, 3, 17, 16, 30, tzinfo=UTC)) == "2026年3月18日 00:30"


# --- HTML --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_every_notice_is_a_printable_page_with_the_case(kind):
    html = render_html(kind, CTX)
    assert html.startswith("<!doctype html>")
    assert '<html lang="zh-CN">' in html and "size: A4" in html and "@media print" in html
    for text in (CTX.case_no, CTX.service_name, CTX.service_code, CTX.applicant_name, CTX.office_name):
        assert text in html
    assert "2026年2月12日" in html  # issued on


def test_receipt(pdf_texts):
    html = _text(render_html("receipt", CTX))
    assert "收件凭证" in html and "2026年2月11日" in html and "2026年2月12日 14:05" in html
    assert "身份证明" in html and "不表示申请已被受理" in html


def test_acceptance_prints_both_due_dates():
    html = _text(render_html("acceptance", CTX))
    assert "受理通知书" in html
    assert "受理日期：2026年2月12日" in html
    assert "承诺办结日期：2026年3月18日" in html and "法定办结日期：2026年3月26日" in html
    assert "（暂定）" not in html


def test_provisional_due_dates_are_marked():
    html = _text(render_html("acceptance", replace(CTX, due_provisional=True)))
    assert "2026年3月18日（暂定）" in html and "2026年3月26日（暂定）" in html
    assert "节假日安排尚未公布" in html


def test_refusal_gives_reason_office_and_appeal_rights():
    html = _text(render_html("refusal", CTX))
    assert "不予受理通知书" in html and "决定日期：2026年2月13日" in html
    assert CTX.reason in html and "请您向北京市朝阳区卫生健康委员会提出申请" in html
    assert "60日内" in html and "行政复议" in html and "6个月内" in html and "行政诉讼" in html


def test_refusal_names_the_reconsideration_body_when_given():
    ctx = replace(
        CTX, reconsideration_body="北京市朝阳区人民政府", court="北京市朝阳区人民法院", redirect_office=None
    )
    html = _text(render_html("refusal", ctx))
    assert "向北京市朝阳区人民政府申请行政复议" in html and "向北京市朝阳区人民法院提起行政诉讼" in html
    assert "请您向" not in html


def test_correction_lists_everything_missing_once():
    html = _text(render_html("correction", CTX))
    assert "补正材料通知书" in html and "一次性告知" in html and "共3项" in html
    for code, name in CTX.missing_materials:
        assert name in html and code in html
    assert "补正材料所用时间不计入办理时限" in html and "次日起计算" in html
    assert "视为撤回申请" not in html  # no correction deadline given


def test_correction_deadline_when_given():
    html = _text(render_html("correction", replace(CTX, correction_due_date=date(2026, 3, 2))))
    assert "请于2026年3月2日前提交补正材料" in html


def test_html_is_autoescaped():
    html = render_html("refusal", replace(CTX, applicant_name="<script>x</script>", reason="A & B"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "A &amp; B" in html


def test_unknown_kind_is_not_found():
    with pytest.raises(NotFound):
        render_html("licence", CTX)
    with pytest.raises(NotFound):
        render_pdf("licence", CTX)


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    [
        ("receipt", {"received_on": None}, "ctx.received_on"),
        ("acceptance", {"promised_due_date": None}, "ctx.promised_due_date"),
        ("refusal", {"reason": "  "}, "ctx.reason"),
        ("correction", {"missing_materials": ()}, "ctx.missing_materials"),
        ("receipt", {"case_no": ""}, "ctx.case_no"),
    ],
)
def test_missing_context_is_invalid(kind, change, field):
    with pytest.raises(Invalid) as exc:
        render_html(kind, replace(CTX, **change))
    assert [p.field for p in exc.value.problems] == [field]


def test_approval_form_lists_every_opinion_with_signer_and_time():
    html = _text(render_html("approval_form", CTX))
    assert "行政许可审批表" in html and "许可依据：《中华人民共和国食品安全法》第三十五条" in html
    for line, when in zip(CTX.opinions, ("2026年2月12日 09:30", "2026年2月12日 15:00", "2026年2月13日 10:15"),
                          strict=True):
        assert f"〔{line.decision_label}〕{line.text}" in html and line.signer_name in html and when in html
    assert "共3条" in html


def test_a_sent_back_opinion_is_marked_as_such():
    back = SignedOpinion("批准", "退回审核", "请补充现场照片。", "市场监管局 科长", datetime(2026, 2, 13, tzinfo=UTC),
                         sent_back=True)
    html = _text(render_html("approval_form", replace(CTX, opinions=(*CTX.opinions[:2], back))))
    assert "〔退回〕请补充现场照片。" in html


def test_a_refusal_decision_gives_reasons_and_both_rights():
    html = _text(render_html("decision", CTX))
    assert "不予行政许可决定书" in html and "决定日期：2026年2月13日" in html
    assert f"理由如下：{CTX.reason}" in html and "第三十八条第二款" in html and "决定不予行政许可" in html
    assert "60日内" in html and "行政复议" in html and "6个月内" in html and "行政诉讼" in html


def test_an_approval_decision_names_the_basis_and_the_certificate():
    html = _text(render_html("decision", replace(CTX, result="approved", certificate_no="JY11101050000001")))
    assert "准予行政许可决定书" in html and "不予" not in html and "行政复议" not in html
    assert "根据《中华人民共和国食品安全法》第三十五条及《中华人民共和国行政许可法》第三十八条第一款" in html
    assert "许可证件编号：JY11101050000001" in html


def test_a_refusal_decision_without_reasons_is_refused():
    with pytest.raises(Invalid) as exc:
        render_html("decision", replace(CTX, reason=" "))
    assert [p.field for p in exc.value.problems] == ["ctx.reason"]


def test_delivery_receipt_says_what_to_whom_how_by_whom_and_when():
    html = _text(render_html("delivery_receipt", CTX))
    assert "送达回证" in html and "送达文书：不予行政许可决定书（申办流水号 CY20260212-0007）" in html
    assert "受送达人：张三" in html and "直接送达（统一窗口领取）" in html and "送达人：综合窗口 张敏" in html
    assert "送达时间：2026年2月14日 11:00" in html and "受送达人（签名或者盖章）" in html
    posted = _text(render_html("delivery_receipt", replace(CTX, delivery="post", tracking_no="SF1234567890")))
    assert "邮寄送达" in posted and "快递单号 SF1234567890" in posted


def test_a_deemed_acceptance_does_not_say_the_materials_were_complete():
    assert "申请材料齐全" in _text(render_html("acceptance", CTX))
    html = _text(render_html("acceptance", replace(CTX, deemed=True)))
    assert "申请材料齐全" not in html and "自收到申请材料之日起即为受理" in html


def test_context_freezes_lists():
    ctx = replace(CTX, missing_materials=[["a", "甲"]])  # type: ignore[arg-type]
    assert ctx.missing_materials == (("a", "甲"),)
    hash(ctx)


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_receipt_text_is_extractable(pdf_texts):
    text = pdf_texts["receipt"]
    for expected in ("收件凭证", CTX.case_no, CTX.service_name, "2026年2月11日", "2026年2月12日 14:05"):
        assert expected in text


def test_pdf_acceptance_has_case_dates_and_service(pdf_texts):
    text = pdf_texts["acceptance"]
    for expected in (
        "受理通知书",
        CTX.case_no,
        CTX.service_name,
        "2026年2月12日",
        "2026年3月18日",
        "2026年3月26日",
    ):
        assert expected in text


def test_pdf_refusal_has_appeal_rights(pdf_texts):
    text = pdf_texts["refusal"]
    for expected in ("不予受理通知书", CTX.case_no, CTX.reason, "60日内", "行政复议", "6个月内", "行政诉讼"):
        assert expected in text


def test_pdf_correction_lists_missing_materials(pdf_texts):
    text = pdf_texts["correction"]
    assert "补正材料通知书" in text and CTX.case_no in text
    for _, name in CTX.missing_materials:
        assert name in text


def test_pdf_papers_of_the_decision(pdf_texts):
    # the 审批表 with every signer and time, the 决定书 with its reasons and rights, the 送达回证
    approval = pdf_texts["approval_form"].replace(" ", "")
    for line in CTX.opinions:
        assert line.signer_name.replace(" ", "") in approval and line.text in approval
    assert "2026年2月13日10:15" in approval
    decision = pdf_texts["decision"]
    assert "不予行政许可决定书" in decision and CTX.reason in decision and "60日内" in decision
    assert "6个月内" in decision
    assert "送达回证" in pdf_texts["delivery_receipt"] and "受送达人" in pdf_texts["delivery_receipt"]


def test_pdf_provisional_mark():
    text = _pdf_text("acceptance", replace(CTX, due_provisional=True))
    assert "2026年3月18日（暂定）" in text


def test_pdf_is_reproducible_and_small():
    # Given the same context twice, the same bytes: dates come from the context, not the clock
    font = _font_or_skip()
    first, second = render_pdf("receipt", CTX, font=font), render_pdf("receipt", CTX, font=font)
    assert first == second
    # and the font is subset: a few tens of KB, not the megabytes of the whole font
    assert len(first) < 200_000


def test_missing_font_is_a_clear_error(tmp_path):
    with pytest.raises(NoticeFontMissing, match="does not exist"):
        render_pdf("receipt", CTX, font=tmp_path / "none.ttf")
    with pytest.raises(NoticeFontMissing, match="fonts-wqy-microhei"):
        find_font(candidates=[tmp_path / "none.ttc"])
