"""Friendly Chinese error pages for the browser (the API keeps its JSON error shape)."""
from __future__ import annotations

from flask import render_template

TITLES = {400: "请求有误", 401: "请先登录", 403: "没有权限", 404: "找不到这个页面", 405: "不允许的操作",
          409: "操作冲突", 410: "文件已缺失", 413: "文件太大", 416: "范围无效", 422: "填写有误", 429: "操作过于频繁",
          500: "服务器出错了", 502: "存储服务出错", 503: "服务暂不可用"}
HINTS = {403: "您的角色不能进行这项操作。如需办理，请联系有权限的人员。",
         404: "您要找的案件、文书或页面不存在，或不在您的查看范围内。",
         405: "已归档的记录不可修改或删除；更正请通过更正申请。",
         500: "服务器处理时出错，已记录。请稍后再试；问题持续时请联系管理员。",
         503: "对象存储或数据库暂时不可用，没有保存任何内容。请稍后再试。"}


def error_page(status: int, message: str = ""):
    """(html, status) of the Chinese page for ``status``."""
    detail = message.split(" / ")[0] if message else ""
    if not any("\u4e00" <= ch <= "\u9fff" for ch in detail):
        detail = ""  # an English-only message says nothing to a clerk: the hint does
    return render_template("error.html", status=status, title=TITLES.get(status, "出错了"),
                           hint=HINTS.get(status, ""), detail=detail), status
