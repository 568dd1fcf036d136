"""Signatures and electronic seals inside OFD files (GB/T 33190 §18, GB/T 38540), verified offline.

For each ``Signature`` listed in the document's ``Signatures.xml``:

* every file its ``Signature.xml`` protects is digested again (``CheckMethod``: SM3 by Python's
  ``hashlib.new('sm3')``, or SHA-256/SHA-1/MD5) and compared with the recorded ``CheckValue``;
* for an electronic seal (``Type="Seal"``) in the GB/T 38540 v4 form (``SES_Signature``), the
  seal's data hash must be the SM3 of ``Signature.xml`` itself, and the SM2 signature over the
  DER of ``TBS_Sign`` must verify with the signer's certificate (``gmssl``, SM3 with the
  default user id ``1234567812345678``);
* a digital signature (``Type="Sign"``, GB/T 35275) has its digests checked; its signature value
  is reported as not verified.

No chain to a root CA is built (the archive holds no SM2 roots): ``trusted`` stays None and the
result says so — a seal that verifies is intact and mathematically valid, never called trusted.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from asn1crypto import core

from archive.casefile.signatures import MODIFIED, PASSED, Signature

log = logging.getLogger(__name__)

SM3_OID = "1.2.156.10197.1.401"
SM3_WITH_SM2 = "1.2.156.10197.1.501"
_DIGESTS = {"sm3": "sm3", SM3_OID: "sm3", "sha256": "sha256", "sha-256": "sha256", "2.16.840.1.101.3.4.2.1": "sha256",
            "sha1": "sha1", "sha-1": "sha1", "1.3.14.3.2.26": "sha1", "md5": "md5", "1.2.840.113549.2.5": "md5"}
MAX_PART = 64 * 1024 * 1024  # a part bigger than this is not digested (a zip bomb)
MAX_SIGNATURES = 200


# -- GB/T 38540 v4 structures (what the verification reads of them) -------------------------
class SESHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class ESPropertyInfo(core.Sequence):
    _fields = [("type", core.Integer), ("name", core.UTF8String), ("cert_list_type", core.Integer),
               ("cert_list", core.Any), ("create_date", core.GeneralizedTime),
               ("valid_start", core.GeneralizedTime), ("valid_end", core.GeneralizedTime)]


class ESPictureInfo(core.Sequence):
    _fields = [("type", core.IA5String), ("data", core.OctetString), ("width", core.Integer), ("height", core.Integer)]


class SESealInfo(core.Sequence):
    _fields = [("header", SESHeader), ("es_id", core.IA5String), ("property", ESPropertyInfo),
               ("picture", ESPictureInfo), ("ext_datas", core.Any, {"optional": True})]


class SESeal(core.Sequence):
    _fields = [("seal_info", SESealInfo), ("cert", core.OctetString), ("sign_alg_id", core.ObjectIdentifier),
               ("signed_value", core.OctetBitString)]


class TBSSign(core.Sequence):
    _fields = [("version", core.Integer), ("eseal", SESeal), ("time_info", core.GeneralizedTime),
               ("data_hash", core.OctetBitString), ("property_info", core.IA5String),
               ("ext_datas", core.Any, {"explicit": 0, "optional": True})]


class SESSignature(core.Sequence):
    _fields = [("to_sign", TBSSign), ("cert", core.OctetString), ("signature_alg_id", core.ObjectIdentifier),
               ("signature", core.OctetBitString), ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True})]


class SM2Signature(core.Sequence):
    _fields = [("r", core.Integer), ("s", core.Integer)]


# -- the package -----------------------------------------------------------------------------
def _resolve(base_dir: str, loc: str) -> str:
    """An ST_Loc as a name inside the package: absolute from the root, else relative to ``base_dir``."""
    loc = loc.strip().replace("\\", "/")
    path = loc.lstrip("/") if loc.startswith("/") else posixpath.join(base_dir, loc)
    return posixpath.normpath(path).lstrip("/")


class _Package:
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.names = {n.lstrip("/"): n for n in zf.namelist()}
        self.lower = {n.lower(): n for n in self.names}

    def read(self, name: str) -> bytes:
        real = self.names.get(name) or self.names.get(self.lower.get(name.lower(), ""))
        if real is None:
            raise KeyError(name)
        info = self.zf.getinfo(real)
        if info.file_size > MAX_PART:
            raise ValueError(f"{name} is larger than {MAX_PART} bytes")
        return self.zf.read(info)

    def xml(self, name: str) -> ElementTree.Element:
        return ElementTree.fromstring(self.read(name))


def _text(e: ElementTree.Element | None, path: str) -> str:
    found = e.find(path) if e is not None else None
    return (found.text or "").strip() if found is not None else ""


def signature_files(pkg: _Package) -> list[tuple[str, str]]:
    """(type, name of Signature.xml) of every signature of every document in the package."""
    out = []
    root = pkg.xml("OFD.xml")
    for body in root.findall("{*}DocBody"):
        loc = _text(body, "{*}Signatures")
        if not loc:
            continue
        name = _resolve("", loc)
        sigs = pkg.xml(name)
        for s in sigs.findall("{*}Signature")[:MAX_SIGNATURES]:
            base = s.get("BaseLoc", "")
            if base:
                out.append((s.get("Type", "Seal"), _resolve(posixpath.dirname(name), base)))
    return out


def ofd_signatures(path: Path) -> list[Signature]:
    """Every signature and seal of the OFD file at ``path``, verified."""
    try:
        with zipfile.ZipFile(path) as zf:
            pkg = _Package(zf)
            try:
                files = signature_files(pkg)
            except (KeyError, ValueError, ElementTree.ParseError) as exc:
                log.info("no signatures read from %s: %s", path.name, exc)
                return []
            return [_verify_one(pkg, kind, name) for kind, name in files]
    except (zipfile.BadZipFile, OSError) as exc:
        log.info("OFD %s not readable: %s", path.name, exc)
        return []


def _iso_time(raw: str) -> str | None:
    """SignatureDateTime as ISO 8601: ``20200620091849Z`` is UTC; a time without a zone is kept
    without one (the page shows it as written)."""
    import datetime as dt

    for fmt, zone in (("%Y%m%d%H%M%SZ", dt.timezone.utc), ("%Y-%m-%dT%H:%M:%SZ", dt.timezone.utc),
                      ("%Y-%m-%d %H:%M:%S", None), ("%Y-%m-%dT%H:%M:%S", None)):
        try:
            return dt.datetime.strptime(raw, fmt).replace(tzinfo=zone).isoformat()
        except ValueError:
            continue
    return raw or None


def _digest(method: str, data: bytes) -> bytes | None:
    name = _DIGESTS.get(method.strip().lower())
    return hashlib.new(name, data).digest() if name else None


def _verify_one(pkg: _Package, kind: str, name: str) -> Signature:
    s = Signature("ofd_seal" if kind.lower() == "seal" else "ofd_sign")
    try:
        raw = pkg.read(name)
        root = ElementTree.fromstring(raw)
    except (KeyError, ValueError, ElementTree.ParseError) as exc:
        s.result, s.reason = "无法验证（签名描述文件缺失或损坏）", f"Signature.xml 不可读 / not readable: {exc}"
        return s
    info = root.find("{*}SignedInfo")
    s.signed_at = _iso_time(_text(info, "{*}SignatureDateTime"))
    base_dir = posixpath.dirname(name)
    # 1. the digests of the protected files
    refs = info.find("{*}References") if info is not None else None
    changed, unknown = [], []
    method = refs.get("CheckMethod", "MD5") if refs is not None else "MD5"
    for ref in (refs.findall("{*}Reference") if refs is not None else []):
        target = _resolve(base_dir, ref.get("FileRef", ""))
        try:
            actual = _digest(method, pkg.read(target))
        except (KeyError, ValueError):
            changed.append(target)
            continue
        if actual is None:
            unknown.append(method)
            continue
        try:
            expected = base64.b64decode(_text(ref, "{*}CheckValue"), validate=True)
        except ValueError:
            expected = b""
        if actual != expected:
            changed.append(target)
    if unknown:
        s.result, s.reason = "无法验证（摘要算法不支持）", f"摘要算法 {unknown[0]} 不支持 / unknown digest method"
        return s
    s.intact = not changed
    s.coverage = "whole" if refs is not None else "part"
    # 2. the signed value
    value_loc = _text(root, "{*}SignedValue")
    try:
        signed_value = pkg.read(_resolve(base_dir, value_loc)) if value_loc else b""
    except (KeyError, ValueError):
        signed_value = b""
    if s.kind == "ofd_seal":
        _verify_seal(s, raw, signed_value)
    else:
        s.reason = "数字签名（GB/T 35275）的签名值未验证，仅核对了受保护文件的摘要 / signature value not verified; digests checked"
    if changed:
        s.result = MODIFIED
        names = ", ".join(changed[:5])
        s.reason = f"以下文件在签章后被修改：{names} / changed after signing: {names}"
        s.intact = False
    elif s.valid is False:
        s.result = s.result or "无法验证（签名值不正确）"
    elif s.kind == "ofd_sign":
        s.result = "无法验证（数字签名值不支持验证）"
    elif s.valid:
        s.result = PASSED
        s.reason = "签章数据与签名值验证通过；未配置 SM2 信任根，证书链未验证，不据此认定可信 / seal verifies; chain not checked"
    return s


def _verify_seal(s: Signature, signature_xml: bytes, signed_value: bytes) -> None:
    """The GB/T 38540 v4 checks: data hash = SM3(Signature.xml), SM2 signature over TBS_Sign."""
    try:
        ses = SESSignature.load(signed_value, strict=False)
        tbs = ses["to_sign"]
        seal = tbs["eseal"]
        version = int(seal["seal_info"]["header"]["version"].native)
        s.seal_name = seal["seal_info"]["property"]["name"].native or ""
        s.signed_at = tbs["time_info"].native.isoformat() if tbs["time_info"].native else s.signed_at
        data_hash = tbs["data_hash"].native
        cert_der = ses["cert"].native
        alg = ses["signature_alg_id"].dotted
        signature = ses["signature"].native
    except Exception as exc:  # v1 seals (another layout), or no seal at all
        s.valid = None
        s.result = "无法验证（不是 GB/T 38540 第 4 版电子签章数据）"
        s.reason = f"签章数据无法解析 / SES_Signature v4 not readable: {type(exc).__name__}"
        return
    signer, public_key = _sm2_cert(cert_der)
    s.signer = signer
    if version != 4:
        s.result, s.reason = "无法验证（电子印章版本不支持）", f"印章数据版本 {version} / seal version {version}"
        return
    if data_hash != hashlib.new("sm3", signature_xml).digest():
        s.intact, s.valid = False, False
        s.result = MODIFIED
        s.reason = "Signature.xml 在签章后被修改（原文杂凑值不符）/ Signature.xml changed after sealing"
        return
    if alg != SM3_WITH_SM2 or public_key is None:
        s.result = "无法验证（签名算法不支持）"
        s.reason = f"签名算法 {alg} 或证书公钥不支持 / algorithm or key not supported"
        return
    s.valid = _sm2_verify(public_key, tbs.dump(), signature)
    if not s.valid:
        s.result = "无法验证（签名值不正确）"
        s.reason = "签章签名值与签章数据不符 / the SM2 signature does not verify"


def _sm2_cert(der: bytes) -> tuple[str, bytes | None]:
    """The signer's name and SM2 public key (04||x||y) from an X.509 certificate."""
    from asn1crypto import x509

    try:
        cert = x509.Certificate.load(der)
        tbs = cert["tbs_certificate"]
        name = tbs["subject"].human_friendly
        key = tbs["subject_public_key_info"]["public_key"].native
    except Exception as exc:
        log.info("signer certificate not read: %s", exc)
        return "", None
    return name, key if isinstance(key, bytes) and len(key) == 65 and key[0] == 4 else None


def _sm2_verify(public_key: bytes, message: bytes, der_signature: bytes) -> bool:
    """SM3withSM2 with the default user id (GB/T 35276)."""
    from gmssl import sm2

    try:
        sig = SM2Signature.load(der_signature)
        r, s = int(sig["r"].native), int(sig["s"].native)
    except Exception:
        if len(der_signature) != 64:
            return False
        r, s = int.from_bytes(der_signature[:32], "big"), int.from_bytes(der_signature[32:], "big")
    crypt = sm2.CryptSM2(private_key="", public_key=public_key[1:].hex())
    try:
        return bool(crypt.verify_with_sm3(f"{r:064x}{s:064x}", message))
    except Exception:
        return False
