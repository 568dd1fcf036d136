"""The archive's vocabulary in Chinese: what clerks read for roles, stages, forms and statuses.

Codes stay English in data and code; every page, message and warning text shows these names.
"""
from __future__ import annotations

from forms import load_catalog

ROLE_NAMES = {
    "agency_clerk": "经办人员", "agency_legal": "法制审核人员", "district_office": "区司法局/区政府法制办",
    "city_office": "市级（市司法局/市政府法制办）", "reviewer": "评查人员", "complaint_handler": "投诉处理人员",
    "auditor": "审计人员",
    "sys_admin": "系统管理员", "security_admin": "安全管理员", "audit_admin": "审计管理员",
}
STAGE_NAMES = {"inspection": "行政检查", "filing": "立案", "investigation": "调查取证", "review": "法制审核",
               "decision": "处罚决定", "execution": "执行", "closing": "结案"}
KIND_NAMES = {"inspection": "行政检查", "penalty": "行政处罚"}
POWER_CATEGORY_NAMES = {"penalty": "行政处罚", "inspection": "行政检查", "licensing": "行政许可", "coercion": "行政强制",
                        "enforcement": "行政征收、给付等", "other": "其他"}
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
                     "refused": "超出识别上限，未识别", "disposed": "已销毁"}
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


AUDIT_ACTION_NAMES = {
    "access.refused": "拒绝访问", "amendment.decide": "审批更正申请", "amendment.download": "下载更正文件",
    "amendment.request": "申请更正", "amendment.view": "查看更正申请", "audit.verify": "校验审计哈希链",
    "audit.view": "查看审计日志", "auth.login": "登录", "auth.login_failed": "登录失败", "auth.login_throttled": "登录受限（尝试过多）",
    "auth.logout": "退出登录", "auth.token_refused": "令牌被拒", "basic_info.change_decision": "审批基础信息变更",
    "basic_info.change_request": "申请基础信息变更", "basic_info.import": "导入基础信息", "calendar.load": "导入节假日安排",
    "case.binder": "生成案卷 PDF", "case.bundle": "下载案卷包", "case.create": "新建案件", "case.period": "登记延长或中止",
    "case.period_end": "结束中止", "case.view": "查看案件", "complaint.attach": "上传投诉附件",
    "complaint.attachment": "下载投诉附件", "complaint.close": "办结投诉", "complaint.create": "登记投诉",
    "complaint.link": "关联案件", "complaint.step": "记录办理情况", "complaint.view": "查看投诉",
    "document.download": "下载文书", "document.upload": "上传文书", "document.versions": "查看版本记录",
    "document.view": "查看文书", "filing.review": "备案审查", "fixity.mismatch": "存证校验不符",
    "report.monthly": "下载月度简报", "review.access": "调阅评查案卷", "review.conflict": "声明回避",
    "review.draft": "保存评查草稿", "review.submit": "提交评查", "sample.draw": "抽取样本",
    "sample.draw_refused": "抽取被拒", "sample.freeze": "冻结抽查名单", "sample.plan": "新建抽查计划",
    "sample.results": "查看评查结果", "sample.view": "查看抽查计划", "search": "检索", "stage.record": "登记环节",
    "stats.threshold": "设定履职比例合格线", "task.accept": "办结任务", "task.answer": "答复任务",
    "task.attachment": "下载任务附件", "task.create": "交办转办", "token.issue": "签发令牌", "token.revoke": "吊销令牌",
    "user.create": "新建账号", "user.disable": "停用账号", "user.password": "设置密码", "warning.handle": "处理预警",
    "task.decide": "审核任务", "task.send_back": "退回任务", "user.sessions_end": "结束会话", "sample.withdraw": "撤回抽查计划",
    "case.correction_request": "申请更正案件信息", "case.correction_decide": "审批案件信息更正",
    # identification, sessions and the administrators (等保 level three)
    "auth.password_ok": "密码验证通过（待动态口令）", "auth.mfa_failed": "动态口令错误", "auth.mfa_enrolled": "绑定动态口令",
    "auth.recovery_code_used": "使用恢复码登录", "auth.locked": "账号被锁定", "auth.login_refused_locked": "锁定期间尝试登录",
    "auth.password_changed": "修改密码", "user.unlock": "解除锁定", "user.mfa_reset": "重置动态口令",
    "user.role": "调整角色", "user.sessions_end_others": "结束本人其他会话", "export": "导出文件",
    "case.archive": "归档", "archive.check": "四性检测", "archive.metadata": "修改归档元数据",
    "archive.transfer_export": "导出移交包", "archive.transfer_accept": "移交接收", "audit.timestamp": "审计链加盖时间戳",
    "archive.transfer_download": "下载移交包", "archive.keep": "鉴定：延长保管", "archive.dispose_propose": "鉴定：提出销毁",
    "archive.dispose_approve": "批准销毁", "archive.dispose_reject": "不批准销毁", "archive.dispose": "销毁（删除存储文件）",
    "audit.digest": "审计链改用 SM3", "audit.chain_broken": "审计链断开告警", "alert.acknowledge": "记录告警核查情况",
}

AUDIT_TARGET_NAMES = {
    "case": "案件", "document": "文书", "warning": "预警", "amendment": "更正申请", "complaint": "投诉",
    "task": "任务", "sampling_plan": "抽查计划", "review": "评查", "user": "账号", "calendar": "节假日安排",
    "stats": "统计", "audit": "审计日志", "path": "地址", "alert": "安全告警", "month": "月份", "filing": "备案", "basic_info": "基础信息",
    "agency": "执法机关", "chart": "图表", "token": "令牌", "stage": "环节", "fixity": "存证检查",
}

AUDIT_DETAIL_NAMES = {
    "case_id": "案件", "sha256": "SHA-256", "size": "大小（字节）", "filename": "文件名", "via": "途径",
    "note": "说明", "level": "级别", "rule": "预警类别", "stage": "环节", "number": "案号", "reason": "原因",
    "method": "请求方法", "path": "路径", "ip": "IP 地址", "format": "格式", "month": "月份", "pages": "页数",
    "name": "名称", "q": "检索词", "total": "结果数", "filters": "筛选条件", "ok": "结果", "entries": "条数",
    "together": "同批处理", "approve": "批准", "version": "版本", "district": "区", "kind": "类别",
    "review": "评查", "grade": "等级", "score": "得分", "strata": "各层", "assignments": "分配", "sample": "样本",
    "seed": "随机种子", "role": "角色", "agency": "执法机关", "outcome": "结果", "handling": "办理情况",
    "complaint": "投诉", "amendment": "更正申请", "page": "页", "text": "内容", "count": "数量",
    "from": "原", "to": "新", "from_scope": "原机关", "to_scope": "新机关", "file": "文件", "query": "查询参数",
    "enrolled": "已绑定动态口令", "enrolling": "绑定中", "left": "剩余恢复码", "until": "锁定至", "factor": "鉴别方式",
    "second_factor": "动态口令", "archival_no": "档号", "retention": "保管期限", "retain_until": "保管至",
    "check": "检测报告", "phase": "环节", "passed": "通过", "failed": "未通过项", "ended": "结束会话数", "first_bad": "断开位置", "sm3_entries": "SM3 条数",
}


def audit_action_name(code: str | None) -> str:
    """An audit action in Chinese, its code beside it (``上传文书（document.upload）``)."""
    if not code:
        return ""
    name = AUDIT_ACTION_NAMES.get(code)
    return f"{name}（{code}）" if name else code


def reviewer_shortfall(f: dict) -> str:
    """Why a sampled file cannot get its reviewers (a refused draw's figures), in Chinese."""
    return (f"{f['number']}：需要 {f['need']} 名评查人员，符合条件的只有 {f['eligible']} 名（共 {f['pool']} 名；"
            f"排除：本机关 {f['own']} 名，声明回避 {f['conflict']} 名，已达 {f['limit']} 份上限 {f['busy']} 名）")


# -- the names of statuses and kinds the pages, reports and exports show -------------------------
BRIEFING_WARNING_STATUS_NAMES = {"open": "未处置", "handled": "已处置", "resolved": "已补正"}
BASIC_INFO_KIND_NAMES = {"powers": "职权", "officers": "执法人员", "plans": "检查计划", "trainings": "培训记录",
                         "exams": "执法证考试与申领"}
BASIC_INFO_COLUMN_NAMES = {"agency": "执法机关编码", "code": "编码", "name": "名称", "category": "类别", "legal_basis": "依据",
                           "certificate_no": "执法证号", "valid_from": "有效期起", "valid_until": "有效期至", "year": "年度",
                           "power_code": "职权编码", "planned": "计划次数", "start_on": "开始日期", "end_on": "结束日期",
                           "suspended_from": "暂扣起", "suspended_until": "暂扣至", "course": "培训课程",
                           "organiser": "主办单位", "hours": "学时", "id_number": "身份证号", "exam_on": "考试日期",
                           "result": "考试结果", "application": "申领状态", "action": "操作"}
FILING_OUTCOME_NAMES = {"accepted": "审查通过", "problems": "发现问题，已交办整改"}
TASK_KIND_NAMES = {"transfer": "转办", "assign": "交办"}
TASK_STATUS_NAMES = {"assigned": "待办理", "answered": "已答复，待审核", "sent_back": "已退回，待重新办理", "accepted": "已办结"}
TASK_ACTION_NAMES = {"assign": "交办", "answer": "答复", "send_back": "退回", "accept": "办结"}
PLAN_STATUS_NAMES = {"draft": "草案", "frozen": "已冻结", "drawn": "已抽取", "withdrawn": "已撤回"}
PERFORMANCE_STATUS_NAMES = {"pass": "达标", "fail": "未达标", "inaction": "零履职", "no_powers": "未录入职权"}
COMPLAINT_STATUS_NAMES = {"open": "办理中", "closed": "已办结"}
CHANGE_STATUS_NAMES = {"pending": "待审批", "approved": "已批准", "rejected": "已退回"}
FILING_AUTO_NAMES = {"pass": "符合", "fail": "不符合", "unknown": "待人工判断"}
SECTOR_NAMES = {"public_security": "公安", "market_regulation": "市场监管", "environment": "生态环境",
                "transport": "交通运输", "emergency": "应急管理", "urban_management": "城市管理"}
SCORE_COMPONENT_NAMES = {"on_time": "上传及时率", "completeness": "文书齐全率", "warnings": "预警处置及时率",
                         "reviews": "案卷评查得分", "performance": "履职比例", "daily_use": "日常使用率",
                         "officers": "执法资格合规率"}
