"""The 固化信息 a file carries, verified offline: PDF signatures (PAdES/CMS) with pyhanko against
the trust roots the operator configures (``ARCHIVE_TRUST_ROOTS``; none by default), and OFD
signatures and GB/T 38540 electronic seals (:mod:`archive.casefile.ofdsign`).

Each signature gives the same fields: kind, signer, seal name, signing time, whether the signed
bytes are intact, whether the signature is mathematically valid, whether the signer's chain
reaches a configured root (``trusted``: None when it cannot be checked — never called trusted
then), what part of the file it covers, and the result in Chinese."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)
# pyHanko logs every chain it cannot build and every suspicious revision with a traceback; the
# archive records the outcome per signature instead.
for _library in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_library).setLevel(logging.CRITICAL)

PASSED = "验证通过"
MODIFIED = "签章后文件被修改"


@dataclass
class Signature:
    """One signature or seal found in a file, and what its verification showed."""

    kind: str  # pdf | ofd_seal | ofd_sign
    signer: str = ""
    seal_name: str = ""
    signed_at: str | None = None  # ISO 8601, as the signature states it
    timestamp: str | None = None  # an embedded timestamp token's time
    intact: bool | None = None  # the signed bytes are unchanged
    valid: bool | None = None  # the signature's mathematics hold
    trusted: bool | None = None  # the chain reaches a configured root; None: not checked
    coverage: str = ""  # whole | revision (an earlier revision, later changes) | part
    result: str = ""  # 验证通过 / 签章后文件被修改 / 无法验证（原因）
    reason: str = ""  # the detail behind the result ("中文 / English")

    def view(self) -> dict:
        return asdict(self)


def load_roots(directory: str | Path | None) -> list:
    """The trust roots: every certificate (PEM or DER) in ``directory``."""
    if not directory:
        return []
    from asn1crypto import pem, x509

    roots = []
    for p in sorted(Path(directory).glob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        try:
            if pem.detect(data):
                roots += [x509.Certificate.load(der) for _, _, der in pem.unarmor(data, multiple=True)]
            else:
                roots.append(x509.Certificate.load(data))
        except Exception as exc:  # a stray file in the directory is skipped, not fatal
            log.warning("trust root %s not read: %s", p.name, exc)
    return roots


def _iso(t: dt.datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _name(cert) -> str:
    try:
        return cert.subject.human_friendly
    except Exception:
        return ""


def pdf_signatures(path: Path, roots: list) -> list[Signature]:
    """Every signature of the PDF at ``path``, validated offline (no fetching of revocation data)."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    out: list[Signature] = []
    with open(path, "rb") as f:
        try:
            reader = PdfFileReader(f, strict=False)
            embedded = list(reader.embedded_signatures)
        except Exception as exc:  # not a readable PDF, or encrypted: no signatures to speak of
            log.info("PDF signatures of %s not read: %s", path.name, exc)
            return []
        for sig in embedded:
            s = Signature("pdf")
            try:
                vc = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
                status = validate_pdf_signature(sig, vc)
            except Exception as exc:
                s.result = f"无法验证（{type(exc).__name__}）"
                s.reason = f"签名无法解析 / the signature could not be read: {str(exc)[:200]}"
                out.append(s)
                continue
            s.signer = _name(status.signing_cert)
            s.seal_name = str(sig.sig_field.get("/T", "")) if sig.sig_field is not None else ""
            s.signed_at = _iso(status.signer_reported_dt or sig.self_reported_timestamp)
            ts = status.timestamp_validity
            s.timestamp = _iso(ts.timestamp) if ts is not None else None
            s.intact, s.valid = bool(status.intact), bool(status.valid)
            s.trusted = bool(status.trusted) if roots else None
            coverage = status.coverage
            if coverage == SignatureCoverageLevel.ENTIRE_FILE:
                s.coverage = "whole"
            elif coverage == SignatureCoverageLevel.ENTIRE_REVISION:
                s.coverage = "revision"
            else:
                s.coverage = "part"
            _conclude(s, status)
            out.append(s)
    return out


def _conclude(s: Signature, status) -> None:
    """The result in Chinese, the detail behind it, for a pyhanko status."""
    notes: list[tuple[str, str]] = []
    if not (s.intact and s.valid):
        s.result = MODIFIED if not s.intact else "无法验证（签名值不正确）"
        s.reason = ("签名所保护的内容已被改动 / the signed bytes were changed" if not s.intact
                    else "签名值与内容不符 / the signature value does not verify")
        return
    if s.coverage == "revision":
        level = getattr(status.modification_level, "name", "OTHER")
        if level in ("OTHER", "ANNOTATIONS", "FORM_FILLING"):
            s.result = MODIFIED
            s.reason = f"签名覆盖文件的早期版本，签名后另有增量修改（{level}）/ signed an earlier revision; changed after signing"
            return
        notes.append(("签名后仅追加了验证信息", "only validation data added after signing"))
    elif s.coverage == "part":
        s.result = MODIFIED
        s.reason = "签名未覆盖整个文件 / the signature does not cover the whole file"
        return
    s.result = PASSED
    if s.trusted is None:
        notes.append(("未配置信任根，证书链未验证，不据此认定可信", "no trust roots configured: the chain was not checked"))
    elif not s.trusted:
        notes.append(("证书链不能验证至已配置的信任根", "the chain does not reach a configured root"))
    else:
        notes.append(("证书链可信", "the chain reaches a configured root"))
    s.reason = "；".join(zh for zh, _ in notes) + " / " + "; ".join(en for _, en in notes)
