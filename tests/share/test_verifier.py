"""Evidence bundles and the offline verifier: each tampering fails at its step; pinning
catches a rewritten history."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from factoryax.config import Workspace
from factoryax.ledger import (
    Ledger,
    PayloadDeletedError,
    RecordInput,
    SignerKey,
    VerificationError,
    VerifierKey,
)
from factoryax.share import (
    BundleFormatError,
    EvidenceBundle,
    PinStore,
    ShareError,
    build_bundle,
    issue_certificate,
    verify_bundle,
)

from .conftest import LOT

APPROVAL = {"action": "ship lot", "operator": "kim", "decision": "approved"}


def _keys(ledger: Ledger) -> list[VerifierKey]:
    return ledger.keys.verifiers()


def _fill(ledger: Ledger, n: int) -> None:
    ledger.commit_many([RecordInput("operator_approval", APPROVAL)] * n)


def test_certificate_bundle_verifies_with_the_pdf(
    workspace_copy: Workspace, plant_ledger: Ledger, tmp_path: Path
) -> None:
    """A certificate bundle with chosen fields verifies offline; the PDF matches its digest."""
    ws = workspace_copy
    issued = issue_certificate(plant_ledger, ws.lake, ws.plant, LOT, out_dir=tmp_path)
    shown = {"lot", "product", "verdict", "parts_shipped", "measurements", "pdf_sha256"}
    bundle = build_bundle(plant_ledger, issued.receipt.index, disclose=shown)
    text = bundle.to_json()
    assert len(text.encode()) < 4096
    assert "first_pass_yield" not in text  # withheld fields leave no plaintext behind
    result = verify_bundle(text, _keys(plant_ledger), attachments=[issued.pdf_path])
    assert set(result.fields) == shown
    assert result.fields["lot"] == LOT and result.record_type == "quality_certificate"
    assert result.undisclosed == len(plant_ledger.disclosures(issued.receipt.index)) - len(shown)
    assert result.attachments == {issued.pdf_path.name: "pdf_sha256"}
    other = tmp_path / "other.pdf"
    other.write_bytes(issued.pdf_path.read_bytes() + b"\n")
    with pytest.raises(VerificationError) as exc:
        verify_bundle(text, _keys(plant_ledger), attachments=[other])
    assert exc.value.step == "attachment"


def _doc(ledger: Ledger, index: int = 2) -> dict[str, object]:
    _fill(ledger, 5)
    doc: dict[str, object] = json.loads(build_bundle(ledger, index).to_json())
    return doc


def _edit_leaf(doc: dict[str, object]) -> None:
    doc["leaf"] = str(doc["leaf"]).replace("2026", "2027", 1)


def _edit_disclosure(doc: dict[str, object]) -> None:
    disclosures = list(doc["disclosures"])  # type: ignore[call-overload]
    raw = base64.urlsafe_b64decode(disclosures[0] + "==")
    salt, name, _ = json.loads(raw)
    forged = json.dumps([salt, name, "rejected"]).encode()
    disclosures[0] = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    doc["disclosures"] = disclosures


def _edit_index(doc: dict[str, object]) -> None:
    doc["proof"] = str(doc["proof"]).replace("index 2\n", "index 3\n")


def _edit_root(doc: dict[str, object]) -> None:
    proof = str(doc["proof"])
    head, _, note = proof.partition("\n\n")
    lines = note.split("\n")
    lines[2] = base64.b64encode(b"\x01" * 32).decode()
    doc["proof"] = head + "\n\n" + "\n".join(lines)


def _edit_origin(doc: dict[str, object]) -> None:
    doc["origin"] = "factoryax.local/another-plant"


TAMPERS = {
    "leaf": (_edit_leaf, "inclusion"),
    "disclosure": (_edit_disclosure, "disclosure"),
    "index": (_edit_index, "inclusion"),
    "checkpoint-root": (_edit_root, "signature"),
    "origin": (_edit_origin, "origin"),
}


@pytest.mark.parametrize("case", list(TAMPERS))
def test_tampered_bundle_fails_at_its_step(plant_ledger: Ledger, case: str) -> None:
    """Editing any part of a bundle makes verification fail at the matching step."""
    doc = _doc(plant_ledger)
    verify_bundle(json.dumps(doc), _keys(plant_ledger))
    edit, step = TAMPERS[case]
    edit(doc)
    with pytest.raises(VerificationError) as exc:
        verify_bundle(json.dumps(doc), _keys(plant_ledger))
    assert exc.value.step == step


def test_wrong_key_is_refused(plant_ledger: Ledger) -> None:
    """A bundle checked against another plant's key fails at the signature."""
    doc = _doc(plant_ledger)
    stranger = SignerKey.generate(plant_ledger.origin).verifier
    with pytest.raises(VerificationError) as exc:
        verify_bundle(json.dumps(doc), [stranger])
    assert exc.value.step == "signature"


def test_not_a_bundle_is_a_format_error() -> None:
    """Random JSON is reported as not being a bundle, not as a failed proof."""
    with pytest.raises(BundleFormatError):
        verify_bundle('{"format": "factoryax.evidence/1"}', [])


def test_existence_only_bundle_survives_payload_deletion(plant_ledger: Ledger) -> None:
    """After a payload is forgotten the entry still proves; its fields cannot be shown."""
    _fill(plant_ledger, 3)
    plant_ledger.forget(1, "personal data request")
    with pytest.raises(PayloadDeletedError):
        build_bundle(plant_ledger, 1)
    result = verify_bundle(
        build_bundle(plant_ledger, 1, disclose=set()).to_json(), _keys(plant_ledger)
    )
    assert result.fields == {} and result.undisclosed == 3


def test_unknown_field_is_refused(plant_ledger: Ledger) -> None:
    """Asking to disclose a field the record does not have lists the fields it has."""
    _fill(plant_ledger, 1)
    with pytest.raises(ShareError, match="operator"):
        build_bundle(plant_ledger, 0, disclose={"nope"})


def test_pins_advance_with_consistency_proofs(plant_ledger: Ledger, tmp_path: Path) -> None:
    """First use pins; the same checkpoint matches; a later one advances with a proof."""
    pins = PinStore(tmp_path / "pins.json")
    keys = _keys(plant_ledger)
    _fill(plant_ledger, 4)
    first = verify_bundle(build_bundle(plant_ledger, 1).to_json(), keys, pins=pins)
    assert first.pin is not None and first.pin.kind == "first"
    again = verify_bundle(build_bundle(plant_ledger, 2).to_json(), keys, pins=pins)
    assert again.pin is not None and again.pin.kind == "same"
    _fill(plant_ledger, 2)
    unseen = plant_ledger.checkpoint()  # size 6, never shown to this partner
    _fill(plant_ledger, 3)
    plant_ledger.checkpoint()
    without = build_bundle(plant_ledger, 7)
    with pytest.raises(VerificationError, match="--since 4") as missing:
        verify_bundle(without.to_json(), keys, pins=pins)
    assert missing.value.step == "pin"
    advanced = verify_bundle(build_bundle(plant_ledger, 7, since=[4]).to_json(), keys, pins=pins)
    assert advanced.pin is not None and advanced.pin.kind == "advanced"
    assert pins.pinned(plant_ledger.origin)[-1][0] == 9
    old = build_bundle(plant_ledger, 1, checkpoint=unseen)
    with pytest.raises(VerificationError, match="older") as older:
        verify_bundle(old.to_json(), keys, pins=pins)
    assert older.value.step == "pin"


def _rewrite_history(ledger: Ledger, folder: Path, changed: int, size: int) -> Ledger:
    """What a dishonest operator with the key would do: rebuild a log that differs at
    ``changed`` (fresh salts: same-looking records, other commitments) and re-sign it."""
    forged = Ledger.open(folder, origin=ledger.origin)
    for key in ledger.keys.signers():
        forged.keys.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = forged.keys.folder / f"{key.key_id:08x}.key"
        path.write_text(key.encode() + "\n")
        path.chmod(0o600)
        (forged.keys.folder / "signers").write_text(f"{key.key_id:08x}\n")
    for i in range(size):
        if i == changed or i >= ledger.size:
            forged.commit("operator_approval", {**APPROVAL, "decision": "rejected"})
        else:
            forged.append_leaves([ledger.entry(i).leaf])
    forged.checkpoint()
    return forged


def test_partner_with_older_pin_catches_rewritten_history(
    plant_ledger: Ledger, tmp_path: Path
) -> None:
    """A re-signed log that changed an old entry fails the consistency check against the
    partner's pin, whether it grew (consistency) or kept the size (fork)."""
    pins = PinStore(tmp_path / "pins.json")
    keys = _keys(plant_ledger)
    _fill(plant_ledger, 6)
    verify_bundle(build_bundle(plant_ledger, 5).to_json(), keys, pins=pins)  # pins size 6
    grown = _rewrite_history(plant_ledger, tmp_path / "forged", changed=2, size=9)
    bundle = build_bundle(grown, 8, since=[6])
    verify_bundle(bundle.to_json(), keys)  # on its own the forged bundle looks fine
    with pytest.raises(VerificationError) as exc:
        verify_bundle(bundle.to_json(), keys, pins=pins)
    assert exc.value.step == "consistency"
    same = _rewrite_history(plant_ledger, tmp_path / "forged-same", changed=2, size=6)
    with pytest.raises(VerificationError, match="two different roots") as fork:
        verify_bundle(build_bundle(same, 4, disclose=set()).to_json(), keys, pins=pins)
    assert fork.value.step == "pin"
    grown.close()
    same.close()


def test_bundle_text_round_trips(plant_ledger: Ledger) -> None:
    """A bundle parses back to an equal object."""
    _fill(plant_ledger, 3)
    plant_ledger.checkpoint()
    _fill(plant_ledger, 2)
    bundle = build_bundle(plant_ledger, 4, since=[3])
    assert EvidenceBundle.parse(bundle.to_json()) == bundle
    assert bundle.checkpoint_size == 5


def test_claimed_time_is_reported(plant_ledger: Ledger) -> None:
    """The verifier reports the commitment's claimed time."""
    at = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    plant_ledger.commit("operator_approval", APPROVAL, claimed_at=at)
    result = verify_bundle(build_bundle(plant_ledger, 0).to_json(), _keys(plant_ledger))
    assert result.claimed_at == at
