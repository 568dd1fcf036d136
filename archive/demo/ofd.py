"""OFD files made by the archive itself for the demo, the tests and the benchmarks (GB/T 33190):
text pages, lines, and an electronic seal in the GB/T 38540 v4 form signed with SM2 (gmssl) by a
certificate made here — and the same files changed by one byte after sealing."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import secrets
import zipfile

from asn1crypto import core, keys, x509

from archive.casefile.ofdsign import (
    SM3_OID, SM3_WITH_SM2, ESPictureInfo, ESPropertyInfo, SESeal, SESealInfo, SESHeader, SESSignature, SM2Signature,
    TBSSign,
)

NS = "http://www.ofdspec.org/2016"
SIGNED_AT = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.timezone.utc)


def _xml(body: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body).encode("utf-8")


def _page(lines: list[str]) -> bytes:
    objs = "".join(
        f'<ofd:TextObject ID="{10 + i}" Boundary="20 {20 + i * 10} 170 8" Font="2" Size="4.2">'
        f'<ofd:FillColor Value="0 0 0"/><ofd:TextCode X="0" Y="6">{line}</ofd:TextCode></ofd:TextObject>'
        for i, line in enumerate(lines))
    objs += ('<ofd:PathObject ID="90" Boundary="20 15 170 1" LineWidth="0.3">'
             '<ofd:AbbreviatedData>M 0 0 L 170 0</ofd:AbbreviatedData></ofd:PathObject>')
    return _xml(f'<ofd:Page xmlns:ofd="{NS}"><ofd:Content><ofd:Layer ID="3">{objs}</ofd:Layer></ofd:Content></ofd:Page>')


def png(width: int = 40, height: int = 40, color=(200, 20, 20)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGBA", (width, height), (255, 255, 255, 0))
    ImageDraw.Draw(img).ellipse((2, 2, width - 3, height - 3), outline=color + (255,), width=3)
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def paginate(title: str, paragraphs: list[str], width: int = 38, lines_per_page: int = 24) -> list[list[str]]:
    """A title and paragraphs as pages of lines that fit the page (``width`` characters a line)."""
    lines = [title, ""]
    for p in paragraphs:
        lines += [p[i:i + width] for i in range(0, len(p), width)] or [""]
    lines = [ln for ln in lines if ln] or [title]
    return [lines[i:i + lines_per_page] for i in range(0, len(lines), lines_per_page)]


def parts(pages: list[list[str]], *, signed: bool = False, title: str = "行政处罚决定书") -> dict[str, bytes]:
    """The parts of an unsigned OFD package: one document, ``pages`` of text lines."""
    sigs = "<ofd:Signatures>Doc_0/Signs/Signatures.xml</ofd:Signatures>" if signed else ""
    out = {
        "OFD.xml": _xml(
            f'<ofd:OFD xmlns:ofd="{NS}" Version="1.1" DocType="OFD"><ofd:DocBody><ofd:DocInfo>'
            f'<ofd:DocID>{secrets.token_hex(16)}</ofd:DocID><ofd:Title>{title}</ofd:Title>'
            f'<ofd:Author>测试区市场监督管理局</ofd:Author><ofd:CreationDate>2026-03-02</ofd:CreationDate>'
            f'</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot>{sigs}</ofd:DocBody></ofd:OFD>'),
        "Doc_0/Document.xml": _xml(
            f'<ofd:Document xmlns:ofd="{NS}"><ofd:CommonData><ofd:MaxUnitID>100</ofd:MaxUnitID>'
            f'<ofd:PageArea><ofd:PhysicalBox>0 0 210 297</ofd:PhysicalBox></ofd:PageArea>'
            f'<ofd:PublicRes>PublicRes.xml</ofd:PublicRes></ofd:CommonData><ofd:Pages>'
            + "".join(f'<ofd:Page ID="{i + 1}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(len(pages)))
            + '</ofd:Pages></ofd:Document>'),
        "Doc_0/PublicRes.xml": _xml(
            f'<ofd:Res xmlns:ofd="{NS}" BaseLoc="Res"><ofd:Fonts>'
            f'<ofd:Font ID="2" FontName="SimSun" FamilyName="SimSun"/></ofd:Fonts></ofd:Res>'),
    }
    for i, lines in enumerate(pages):
        out[f"Doc_0/Pages/Page_{i}/Content.xml"] = _page(lines)
    return out


def package(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return out.getvalue()


def ofd(pages: list[list[str]], **kw) -> bytes:
    """An unsigned OFD file."""
    return package(parts(pages, **kw))


# -- SM2 -------------------------------------------------------------------------------------
class SM2Key:
    """An SM2 key pair (gmssl), its self-made certificate, and signing with SM3withSM2."""

    def __init__(self, cn: str = "测试区市场监督管理局") -> None:
        from gmssl import sm2

        n = int("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123", 16)
        g = ("32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
             "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0")
        self.d = secrets.randbelow(n - 2) + 1
        probe = sm2.CryptSM2(private_key=f"{self.d:064x}", public_key="")
        self.public_hex = probe._kg(self.d, g)
        self.crypt = sm2.CryptSM2(private_key=f"{self.d:064x}", public_key=self.public_hex)
        self.cert = self._certificate(cn)

    def sign(self, message: bytes) -> bytes:
        """DER SM2Signature over SM3(Z || message)."""
        hexsig = self.crypt.sign_with_sm3(message)
        r, s = int(hexsig[:64], 16), int(hexsig[64:], 16)
        return SM2Signature({"r": r, "s": s}).dump()

    def _certificate(self, cn: str) -> bytes:
        name = x509.Name.build({"country_name": "CN", "organization_name": "测试市", "common_name": cn})
        spki = keys.PublicKeyInfo({
            "algorithm": {"algorithm": "ec", "parameters": ("named", "1.2.156.10197.1.301")},
            "public_key": bytes.fromhex("04" + self.public_hex)})
        tbs = x509.TbsCertificate({
            "version": "v3", "serial_number": secrets.randbits(63), "signature": {"algorithm": SM3_WITH_SM2},
            "issuer": name, "subject": name, "subject_public_key_info": spki,
            "validity": {"not_before": x509.Time({"utc_time": dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)}),
                         "not_after": x509.Time({"utc_time": dt.datetime(2045, 1, 1, tzinfo=dt.timezone.utc)})}})
        return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": SM3_WITH_SM2},
                                 "signature_value": self.sign(tbs.dump())}).dump()


def _gtime(t: dt.datetime) -> core.GeneralizedTime:
    return core.GeneralizedTime(t)


def make_seal(key: SM2Key, name: str = "测试区市场监督管理局行政执法专用章") -> SESeal:
    info = SESealInfo({
        "header": SESHeader({"id": "ES", "version": 4, "vid": "test"}),
        "es_id": secrets.token_hex(8),
        "property": ESPropertyInfo({
            "type": 1, "name": name, "cert_list_type": 1,
            "cert_list": _cert_list(key.cert),
            "create_date": _gtime(dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)),
            "valid_start": _gtime(dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc)),
            "valid_end": _gtime(dt.datetime(2035, 6, 1, tzinfo=dt.timezone.utc))}),
        "picture": ESPictureInfo({"type": "PNG", "data": png(), "width": 40, "height": 40})})
    body = info.dump() + core.OctetString(key.cert).dump() + core.ObjectIdentifier(SM3_WITH_SM2).dump()
    to_be_signed = b"\x30" + _length(body) + body  # the seal maker signs (eSealInfo, cert, signAlgID)
    return SESeal({"seal_info": info, "cert": key.cert, "sign_alg_id": SM3_WITH_SM2,
                   "signed_value": key.sign(to_be_signed)})


def _cert_list(cert: bytes) -> core.Any:
    class Certs(core.SequenceOf):
        _child_spec = core.OctetString
    return core.Any.load(Certs([cert]).dump())


def _length(body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def sealed(pages: list[list[str]], key: SM2Key | None = None, seal_name: str = "测试区市场监督管理局行政执法专用章") -> bytes:
    """An OFD file sealed on its first page: Signature.xml protects every part by SM3, and the
    SES_Signature (v4) signs it with SM2."""
    key = key or SM2Key()
    files = parts(pages, signed=True)
    sign_dir = "Doc_0/Signs/Sign_0"
    refs = "".join(f'<ofd:Reference FileRef="/{n}"><ofd:CheckValue>'
                   f'{base64.b64encode(hashlib.new("sm3", data).digest()).decode()}</ofd:CheckValue></ofd:Reference>'
                   for n, data in files.items())
    signature_xml = _xml(
        f'<ofd:Signature xmlns:ofd="{NS}"><ofd:SignedInfo>'
        f'<ofd:Provider ProviderName="archive-tests" Version="1.0" Company="测试"/>'
        f'<ofd:SignatureMethod>{SM3_WITH_SM2}</ofd:SignatureMethod>'
        f'<ofd:SignatureDateTime>{SIGNED_AT:%Y%m%d%H%M%SZ}</ofd:SignatureDateTime>'
        f'<ofd:References CheckMethod="{SM3_OID}">{refs}</ofd:References>'
        f'<ofd:StampAnnot ID="1" PageRef="1" Boundary="140 200 40 40"/>'
        f'</ofd:SignedInfo><ofd:SignedValue>/{sign_dir}/SignedValue.dat</ofd:SignedValue></ofd:Signature>')
    tbs = TBSSign({"version": 4, "eseal": make_seal(key, seal_name), "time_info": _gtime(SIGNED_AT),
                   "data_hash": hashlib.new("sm3", signature_xml).digest(), "property_info": f"/{sign_dir}/Signature.xml"})
    ses = SESSignature({"to_sign": tbs, "cert": key.cert, "signature_alg_id": SM3_WITH_SM2,
                        "signature": key.sign(tbs.dump())})
    files["Doc_0/Signs/Signatures.xml"] = _xml(
        f'<ofd:Signatures xmlns:ofd="{NS}"><ofd:MaxSignId>1</ofd:MaxSignId>'
        f'<ofd:Signature ID="1" Type="Seal" BaseLoc="Sign_0/Signature.xml"/></ofd:Signatures>')
    files[f"{sign_dir}/Signature.xml"] = signature_xml
    files[f"{sign_dir}/SignedValue.dat"] = ses.dump()
    return package(files)


def changed(ofd_bytes: bytes, part: str, old: bytes, new: bytes) -> bytes:
    """The package with one part's bytes changed (``old`` replaced by ``new``, same length)."""
    assert len(old) == len(new)
    with zipfile.ZipFile(io.BytesIO(ofd_bytes)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    assert old in files[part], (part, old)
    files[part] = files[part].replace(old, new, 1)
    return package(files)


def flip_last_byte(ofd_bytes: bytes, part: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(ofd_bytes)) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    b = bytearray(files[part])
    b[-3] ^= 0x01
    files[part] = bytes(b)
    return package(files)
