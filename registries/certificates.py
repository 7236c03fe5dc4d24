"""Parsing of the CA certificate bundles stored for custom registries."""

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.core.exceptions import ValidationError

MAX_BUNDLE_BYTES = 64 * 1024
PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s*.*?-----END \1-----", re.DOTALL)
PEM_BOUNDARY = re.compile(r"-----(?:BEGIN|END) [A-Z0-9 ]+-----")


@dataclass(frozen=True)
class BundleInfo:
    subject: str
    fingerprint: str
    expires_at: datetime
    count: int


def parse_bundle(pem):
    """Return the metadata of a PEM bundle of certificates.

    Raise ValidationError for anything but one or more PEM certificates:
    oversized input, private keys, other PEM blocks and unparsable data.
    """
    data = pem.encode("utf-8", errors="replace")
    if len(data) > MAX_BUNDLE_BYTES:
        raise ValidationError(
            f"The certificate bundle is {len(data)} bytes; the maximum is "
            f"{MAX_BUNDLE_BYTES} bytes (64 KiB). Paste only the CA "
            "certificates the registry needs."
        )
    if "PRIVATE KEY" in pem:
        raise ValidationError(
            "This is a private key. Paste only the registry's CA certificate "
            "(-----BEGIN CERTIFICATE-----), and keep the key on the server."
        )
    blocks = PEM_BLOCK.findall(pem)
    labels = set(blocks)
    if not labels:
        raise ValidationError(
            "Enter one or more PEM certificates, each between "
            "-----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----."
        )
    if labels != {"CERTIFICATE"}:
        other = ", ".join(sorted(labels - {"CERTIFICATE"}))
        raise ValidationError(
            f"The bundle contains a PEM block of type {other}. Paste only "
            "CERTIFICATE blocks."
        )
    # load_pem_x509_certificates() (cryptography 50) skips a block that lacks
    # its END line, so a bundle cut short in copying would lose a certificate
    # without an error.
    if len(PEM_BOUNDARY.findall(pem)) != 2 * len(blocks):
        raise ValidationError(
            "A PEM block in the bundle has a BEGIN line without its END line "
            "(or the other way round). Copy each certificate again, from "
            "-----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----."
        )
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValidationError(
            "The PEM data is not a valid X.509 certificate. Copy the whole "
            "certificate again, including its BEGIN and END lines."
        ) from None
    first = certificates[0]
    return BundleInfo(
        subject=first.subject.rfc4514_string()[:500],
        fingerprint=first.fingerprint(hashes.SHA256()).hex(),
        expires_at=min(cert.not_valid_after_utc for cert in certificates),
        count=len(certificates),
    )
