"""The pages' copy of an input schema that says its errors in Chinese. The API answers
marshmallow's own (English) messages; a clerk reads Chinese beside the field. The messages are
set on each field and validator by kind (required, not a date, too long, not in the list …), not
translated afterwards from English text."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

_BY_FIELD: list[tuple[type, dict[str, str]]] = [
    (fields.AwareDateTime, {"invalid": "时间格式不对。", "invalid_awareness": "时间格式不对。"}),
    (fields.DateTime, {"invalid": "时间格式不对。", "invalid_awareness": "时间格式不对。"}),
    (fields.Date, {"invalid": "日期格式不对（年-月-日）。"}),
    (fields.Integer, {"invalid": "请填写整数。", "too_large": "数字过大。"}),
    (fields.Float, {"invalid": "请填写数字。", "special": "请填写数字。"}),
    (fields.Boolean, {"invalid": "请选择是或否。"}),
    (fields.List, {"invalid": "请从列表中选择。"}),
    (fields.String, {"invalid": "请填写文字。", "invalid_utf8": "请填写文字。"}),
]
_EVERY_FIELD = {"required": "必填。", "null": "必填。", "validator_failed": "填写有误。"}


class _Length(validate.Length):
    """(An empty value where at least one character is needed is said to be required.)"""

    def __call__(self, value):
        if self.min == 1 and not value:
            raise ValidationError("必填。")
        return super().__call__(value)

    message_min = "必填。"
    message_max = "最多 {max} 个字符。"
    message_all = "长度应在 {min} 到 {max} 个字符之间。"
    message_equal = "应为 {equal} 个字符。"


class _Range(validate.Range):  # (marshmallow formats these twice: the bounds are {{min}}, {{max}})
    message_min = "不能小于 {{min}}。"
    message_max = "不能大于 {{max}}。"
    message_all = "应在 {{min}} 到 {{max}} 之间。"


def _validator(v):
    if type(v) is validate.Length:
        return _Length(v.min, v.max, equal=v.equal)
    if type(v) is validate.Range:
        return _Range(v.min, v.max, min_inclusive=v.min_inclusive, max_inclusive=v.max_inclusive)
    if type(v) is validate.OneOf:
        return validate.OneOf(v.choices, error="请从列表中选择。")
    return v  # the archive's own validators say their messages in Chinese already


def _field(f: fields.Field) -> None:
    messages = dict(_EVERY_FIELD)
    for cls, texts in _BY_FIELD:
        if isinstance(f, cls):
            messages.update(texts)
            break
    f.error_messages = {**f.error_messages, **messages}
    f.validators = [_validator(v) for v in f.validators]
    if isinstance(f, fields.List):
        _field(f.inner)


def in_chinese(schema: Schema) -> Schema:
    """``schema`` (an instance: its fields are its own copies) with Chinese messages."""
    schema.error_messages = {**schema.error_messages, "unknown": "无法识别的字段。", "type": "格式不对。"}
    for f in schema.fields.values():
        _field(f)
    return schema
