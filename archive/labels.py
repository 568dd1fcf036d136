"""The archive's vocabulary in Chinese: what clerks read for roles, stages, forms and statuses.

Codes stay English in data and code; every page, message and warning text shows these names.
"""
from __future__ import annotations

from forms import load_catalog

ROLE_NAMES = {
    "agency_clerk": "经办人员", "agency_legal": "法制审核人员", "district_office": "区司法局/区政府法制办",
    "city_office": "市级（市司法局/市政府法制办）", "reviewer": "评查人员", "complaint_handler": "投诉处理人员",
    "auditor": "审计人员",
}
STAGE_NAMES = {"inspection": "行政检查", "filing": "立案", "investigation": "调查取证", "review": "法制审核",
               "decision": "处罚决定", "execution": "执行", "closing": "结案"}
KIND_NAMES = {"inspection": "行政检查", "penalty": "行政处罚"}
PROCEDURE_NAMES = {"general": "普通程序", "summary": "简易程序"}
PARTY_TYPE_NAMES = {"organisation": "法人或其他组织", "citizen": "公民"}
PENALTY_NAMES = {"warning": "警告", "fine": "罚款", "confiscation": "没收违法所得、没收非法财物",
                 "suspend_business": "责令停产停业", "revoke_licence": "吊销许可证件", "detention": "行政拘留",
                 "other": "其他"}
RULE_NAMES = {"late_upload": "逾期上传", "missing_documents": "缺少必需文书", "stage_out_of_order": "环节顺序异常",
              "decision_overdue": "超期未作决定", "major_without_review": "重大案件未经法制审核",
              "major_not_filed": "重大案件未备案", "calendar_missing": "缺少节假日安排",
              "fixity_damaged": "存档文件损坏", "fixity_missing": "存档文件丢失", "fixity_altered": "存档文件被改写",
              "late_basic_info_change": "基础信息变更迟报", "task_overdue": "交办任务逾期"}
WARNING_STATUS_NAMES = {"open": "待处理", "handled": "已处理", "resolved": "已自动解除"}
AMENDMENT_STATUS_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
TEXT_STATUS_NAMES = {"pending": "等待提取", "extracted": "已提取全文", "truncated": "全文过长，已截取前部",
                     "no_text_layer": "无文字层（扫描件）", "not_extracted": "此类文件不提取文字",
                     "failed": "提取失败", "ocr_pending": "等待文字识别（OCR）", "ocr": "已识别文字（OCR）",
                     "refused": "超出识别上限，未识别"}
LEVEL_NAMES = {1: "一级", 2: "二级", 3: "三级"}
HANDLER_NAMES = {1: "执法机关法制审核人员", 2: "区司法局/区政府法制办", 3: "市级"}


def form_name(code: str) -> str:
    """The Chinese name of a form code (alternatives joined by 或); an unknown code as is."""
    catalog = load_catalog()
    return "或".join(catalog[c].name if c in catalog else c for c in code.split("|"))


def stage_name(code: str | None) -> str:
    return STAGE_NAMES.get(code or "", code or "")


# Why a document's text was not (wholly) read, as the extractors and OCR record it in English
# (technical, kept for administrators): the Chinese a clerk reads, and whether the English is
# a technical detail worth folding away beside it.
_TEXT_REASONS: list[tuple[str, str, bool]] = [
    (r"^corrupt PDF: ", "PDF 文件已损坏，无法读取其中的文字", True),
    (r"^encrypted PDF: ", "PDF 文件已加密，需要密码才能读取文字", True),
    (r"^PDF has no text layer", "PDF 没有文字层（扫描件），文字由文字识别（OCR）读取", False),
    (r"^corrupt DOCX: ", "DOCX 文件已损坏，无法读取其中的文字", True),
    (r"^DOCX has no text", "DOCX 文件中没有文字", False),
    (r"^zip bomb: ", "文件解压后异常巨大（疑似“压缩炸弹”），为安全起见未读取文字", True),
    (r"^image: its text is read by OCR", "图片中的文字由文字识别（OCR）读取", False),
    (r"^text cut at (\d+) characters", "全文过长，只检索前 \\1 字（存档文件完整无缺）", False),
    (r"^[\w./+-]+: kept as evidence, no text extractor", "此类文件作为证据原样保存，不提取文字", True),
    (r"^[A-Z]\w*(Error|Exception): ", "读取文字时出错", True),
]


def text_reason(reason: str | None, status: str | None = None) -> tuple[str, str]:
    """(the Chinese a person reads, the technical detail or "") for a document's text_reason.
    A reason that only repeats its status's name gives ("", "")."""
    import re

    if not reason:
        return "", ""
    if status is not None and reason.strip() == TEXT_STATUS_NAMES.get(status):
        return "", ""
    for pattern, chinese, technical in _TEXT_REASONS:
        m = re.match(pattern, reason)
        if m:
            return m.expand(chinese) if m.groups() else chinese, (reason if technical else "")
    if re.search(r"[\u4e00-\u9fff]", reason):  # written in Chinese already (OCR's reasons)
        return reason, ""
    return "文字未能读取", reason


OCR_ENGINE_NAMES = {"rapidocr": "RapidOCR 中文文字识别（PP-OCRv4 模型）", "tesseract": "Tesseract 中文文字识别（chi_sim）"}


def ocr_engine_name(engine: str | None) -> str:
    """The OCR engine a document was read with, named in Chinese (the model in brackets)."""
    if not engine:
        return ""
    low = engine.lower()
    if "pp-ocr" in low or "rapidocr" in low:
        return f"{OCR_ENGINE_NAMES['rapidocr']}（{engine}）"
    if "chi_sim" in low or "tesseract" in low:
        return f"{OCR_ENGINE_NAMES['tesseract']}（{engine}）"
    return f"文字识别引擎（{engine}）"
