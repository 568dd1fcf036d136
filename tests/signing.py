"""Test fixtures of the tests' own: a CA, a signer certificate and PDFs signed with pyHanko (one
intact, one changed after signing by an incremental update, one with a flipped byte)."""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

NOT_BEFORE = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
NOT_AFTER = dt.datetime(2045, 1, 1, tzinfo=dt.timezone.utc)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "测试市司法局"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn: str = "测试根证书") -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn)).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_signer_cert(ca_key, ca_cert, cn: str = "张执法", tsa: bool = False) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A signer's certificate issued by the CA (``tsa``: a time-stamping authority's, with an RSA
    key as pyHanko's own test authority wants)."""
    key = rsa.generate_private_key(65537, 2048) if tsa else ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca_cert.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER))
    if tsa:
        builder = builder.add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    cert = (builder
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def write_root(directory: Path, cert: x509.Certificate) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    p = directory / "root.pem"
    p.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p


def _asn1(key, cert):
    from asn1crypto import keys as akeys, x509 as ax509

    return (ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
            akeys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                        serialization.NoEncryption())))


def sign_pdf(pdf: bytes, key, cert, ca_cert, field: str = "执法签章", tsa=None) -> bytes:
    """``pdf`` signed (PAdES baseline) by ``cert``'s key, the chain embedded; with a signature
    timestamp from ``tsa`` = (key, certificate) acting as its own time-stamping authority."""
    from asn1crypto import keys as akeys, x509 as ax509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    signer = signers.SimpleSigner(
        signing_cert=ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=akeys.PrivateKeyInfo.load(key.private_bytes(serialization.Encoding.DER,
                                                                serialization.PrivateFormat.PKCS8,
                                                                serialization.NoEncryption())),
        cert_registry=SimpleCertificateStore.from_certs(
            [ax509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))]))
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    timestamper = None
    if tsa is not None:
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

        tsa_cert, tsa_key = _asn1(*tsa)
        timestamper = DummyTimeStamper(tsa_cert, tsa_key, certs_to_embed=SimpleCertificateStore.from_certs(
            [ax509.Certificate.load(ca_cert.public_bytes(serialization.Encoding.DER))]))
    out = signers.sign_pdf(w, signers.PdfSignatureMetadata(field_name=field), signer=signer, timestamper=timestamper)
    return out.getvalue()


def changed_after_signing(signed: bytes) -> bytes:
    """An incremental update after the signature that changes the page's content."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(signed))
    page = w.root["/Pages"]["/Kids"][0].get_object()
    stream = generic.StreamObject(stream_data=b"BT /F1 12 Tf 50 50 Td (changed) Tj ET")
    page["/Contents"] = w.add_object(stream)
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def flipped(signed: bytes, marker: bytes = b"/MediaBox") -> bytes:
    """One byte of the signed range changed (in the first occurrence of ``marker``)."""
    i = signed.index(marker) + len(marker) + 2
    b = bytearray(signed)
    b[i] = ord("7") if b[i] != ord("7") else ord("8")
    return bytes(b)


class LoopbackTSA:
    """A Time-Stamping Authority on 127.0.0.1 (RFC 3161 over HTTP), signing with its own CA's
    TSA certificate through pyHanko's test time stamper; ``pem`` holds its chain for verifiers.
    Use as a context manager; ``url`` is where it answers."""

    def __init__(self, directory: Path) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        from asn1crypto import tsp
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        ca_key, ca_cert = make_ca("测试时间戳根证书")
        key, cert = make_signer_cert(ca_key, ca_cert, cn="测试时间戳服务", tsa=True)
        tsa_cert, tsa_key = _asn1(key, cert)
        stamper = DummyTimeStamper(tsa_cert, tsa_key, certs_to_embed=SimpleCertificateStore.from_certs([tsa_cert]))
        directory.mkdir(parents=True, exist_ok=True)
        self.pem = directory / "tsa-chain.pem"
        self.pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests += 1
                answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsr"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "LoopbackTSA":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
