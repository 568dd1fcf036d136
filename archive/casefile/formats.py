"""What a stored file is: its format (PRONOM identifier, name and version from siegfried via
``pygfried``; OFD by the archive's own rule, as PRONOM has no OFD signature and reports a plain
ZIP), whether it is encrypted or needs a password, and where it stands in the format policy
(``forms/formats.json``: a master copy of an enforcement document, evidence, or outside)."""
from __future__ import annotations

import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from xml.etree import ElementTree

from forms import FormatPolicy

log = logging.getLogger(__name__)

OFD_NS = "http://www.ofdspec.org/2016"
OFD_NS_DRAFT = "http://www.ofdspec.org"  # written by some producers (Suwell) before the 2016 namespace
OFD_PUID = "local/ofd"  # the archive's own identifier: PRONOM has none for OFD
OFD_MIME = "application/ofd"
_CFB = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE compound file (DOC, XLS, encrypted OOXML)
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")


@dataclass(frozen=True)
class Format:
    """A file's format: PRONOM identifier (or ``local/ofd``), name, version and media type."""

    puid: str
    name: str
    version: str
    mime: str
    basis: str = ""  # how it was recognised (siegfried's basis, or the archive's rule)

    def view(self) -> dict:
        return {"puid": self.puid, "name": self.name, "version": self.version, "mime": self.mime}


UNKNOWN = Format("UNKNOWN", "未识别的格式 / unidentified", "", "application/octet-stream")


def ofd_version(path: Path) -> str | None:
    """The version of an OFD package (``OFD.xml`` in the 2016 namespace), or None when it is not one."""
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("OFD.xml")
            if info.file_size > 1024 * 1024:
                return None
            root = ElementTree.fromstring(zf.read(info))
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, ElementTree.ParseError, RuntimeError):
        return None
    if root.tag not in (f"{{{OFD_NS}}}OFD", f"{{{OFD_NS_DRAFT}}}OFD"):
        return None
    return root.get("Version", "")


def identify(path: Path) -> Format:
    """The format of the file at ``path`` (its name's extension helps siegfried only to break ties)."""
    version = ofd_version(path)
    if version is not None:
        return Format(OFD_PUID, "OFD 版式文档 (GB/T 33190)", version, OFD_MIME, "OFD.xml in the ofdspec.org/2016 namespace")
    try:
        import pygfried

        result = pygfried.identify(str(path), detailed=True)
        match = result["files"][0]["matches"][0]
    except Exception as exc:  # siegfried fails on what it cannot read: the file stays unidentified
        log.warning("siegfried could not identify %s: %s", path.name, exc)
        return UNKNOWN
    if not match.get("id") or match["id"] == "UNKNOWN":
        return UNKNOWN
    return Format(match["id"], match.get("format", ""), match.get("version", ""),
                  match.get("mime") or "application/octet-stream", match.get("basis", ""))


def protection(path: Path, fmt: Format) -> str:
    """``password`` (cannot be opened without one), ``encrypted`` (opens, but encrypted: a PDF
    with an owner password and restrictions) or ``""``."""
    try:
        if fmt.mime == "application/pdf":
            return _pdf_protection(path)
        with open(path, "rb") as f:
            head = f.read(8)
        if head == _CFB:
            return "password" if fmt.puid == "fmt/494" or _cfb_encrypted(path) else ""
        if head.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(path) as zf:
                return "password" if any(i.flag_bits & 0x1 for i in zf.infolist()) else ""
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        log.info("protection of %s not known: %s", path.name, exc)
    return ""


def _pdf_protection(path: Path) -> str:
    import pikepdf

    try:
        with pikepdf.open(path) as pdf:
            return "encrypted" if pdf.is_encrypted else ""
    except pikepdf.PasswordError:
        return "password"
    except pikepdf.PdfError:
        return ""  # damaged: the rendition and text steps say so


def _cfb_encrypted(path: Path) -> bool:
    """An OLE file whose directory names an ``EncryptionInfo`` stream (an encrypted Office file)."""
    with open(path, "rb") as f:
        return _ENCRYPTION_INFO in f.read(4 * 1024 * 1024)


@dataclass(frozen=True)
class Standing:
    """Where a file stands in the format policy."""

    format_class: str  # fixed | editable | image | audio_video | text | other
    policy: str  # master | evidence | outside
    reason: str  # why it is outside ("中文 / English"), empty otherwise


def judge(policy: FormatPolicy, form_code: str, fmt: Format) -> Standing:
    """A master copy of an enforcement document must be of an accepted class; evidence may be anything."""
    cls = policy.class_of(fmt.mime)
    if form_code in policy.evidence_forms:
        return Standing(cls, "evidence", "")
    if cls in policy.accepted:
        return Standing(cls, "master", "")
    accepted = "、".join(policy.class_name(c) for c in policy.accepted)
    return Standing(cls, "outside", f"执法文书的正本应为{accepted}，此文件为{policy.class_name(cls)}"
                                    f"（{fmt.name or fmt.mime}）/ not an accepted master format")


_SAFE = re.compile(r"[^A-Za-z0-9]")


def suffix_for(filename: str) -> str:
    """The extension of a stored file's name, safe for a temporary file (siegfried's tie-break)."""
    ext = Path(filename).suffix[1:16]
    return "." + _SAFE.sub("", ext) if ext else ""


