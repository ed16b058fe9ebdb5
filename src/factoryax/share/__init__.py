"""Partner evidence: quality certificates, evidence bundles, the offline verifier, pinning.

Built on :mod:`factoryax.ledger`. The plant side issues a certificate for a lot (PDF and
JSON, committed to the ledger) and hands a partner an evidence bundle — the disclosures it
chooses, the leaf, a C2SP tlog-proof and the signed checkpoint — in one small JSON file.
The partner side runs :func:`verify_bundle` (``factoryax verify``) with the plant's public
key only, and keeps a :class:`PinStore` so a log that rewrites its history is caught.

Contract:

- a certificate states only what the lake recorded for the lot (see :mod:`.certificate`);
- the same certificate renders to the same PDF bytes (its digest is committed);
- verification needs no network and no plant data; every failure names its step.
"""

from __future__ import annotations

from factoryax.share.bundle import (
    BUNDLE_FORMAT,
    ConsistencyStep,
    EvidenceBundle,
    SharedLog,
    build_bundle,
)
from factoryax.share.certificate import (
    CERTIFICATE_SCHEMA,
    Certificate,
    Measurement,
    SpecLimits,
    build_certificate,
    specs_from_plant,
)
from factoryax.share.errors import BundleFormatError, LotNotFoundError, ShareError
from factoryax.share.issue import IssuedCertificate, issue_certificate
from factoryax.share.pdf import render_certificate_pdf
from factoryax.share.pins import PinOutcome, PinStore
from factoryax.share.verifier import VerifiedEvidence, verify_bundle

__all__ = [
    "BUNDLE_FORMAT",
    "CERTIFICATE_SCHEMA",
    "BundleFormatError",
    "Certificate",
    "ConsistencyStep",
    "EvidenceBundle",
    "IssuedCertificate",
    "LotNotFoundError",
    "Measurement",
    "PinOutcome",
    "PinStore",
    "ShareError",
    "SharedLog",
    "SpecLimits",
    "VerifiedEvidence",
    "build_bundle",
    "build_certificate",
    "issue_certificate",
    "render_certificate_pdf",
    "specs_from_plant",
    "verify_bundle",
]
