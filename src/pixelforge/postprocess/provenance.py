"""C2PA content credentials (c2pa-python): sign every output, read and verify any image.

Each output gets a manifest saying that it was made by an AI model (IPTC digital source type
``trainedAlgorithmicMedia``; ``compositeWithTrainedAlgorithmicMedia`` for edits of an input),
which model, Pixelforge's own ``dev.pixelforge.generation`` assertion (model, seed, watermark
id), and, for edits, the input images as ingredients: the image edited as ``parentOf``, other
references as ``componentOf``. An ingredient that carries its own C2PA manifest (a hosted
model's output, an upload from another tool) keeps it inside ours.

Signing uses a configured certificate chain and key. Without one, a development identity is
made on first use under ``<home>/c2pa/``: a throwaway root CA and a signing certificate whose
names say ``DEVELOPMENT - NOT TRUSTED``. Readers then report the signature as valid but the
signer as untrusted, which is the truth.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pixelforge import __version__

GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
COMPOSITE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"
ASSERTION = "dev.pixelforge.generation"
DEV_MARK = "DEVELOPMENT - NOT TRUSTED"
ALGORITHMS = {"es256": c2pa.C2paSigningAlg.ES256, "es384": c2pa.C2paSigningAlg.ES384,
              "ps256": c2pa.C2paSigningAlg.PS256, "ed25519": c2pa.C2paSigningAlg.ED25519}  # fmt: skip
MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}
Relationship = Literal["parentOf", "componentOf", "inputTo"]


class ProvenanceError(Exception):
    """Signing failed (bad certificate or key, unsupported format)."""


@dataclass(frozen=True, slots=True)
class SigningIdentity:
    chain_pem: bytes
    key_pem: bytes
    alg: str = "es256"
    development: bool = False

    @property
    def subject(self) -> str:
        cert = x509.load_pem_x509_certificates(self.chain_pem)[0]
        return cert.subject.rfc4514_string()


@dataclass(frozen=True, slots=True)
class Ingredient:
    data: bytes
    format: str
    title: str
    relationship: Relationship = "componentOf"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an image's C2PA manifest says, and whether it holds."""

    present: bool
    valid: bool = False
    trusted: bool = False
    state: str = "absent"
    signer: str | None = None
    development: bool = False
    generator: str | None = None
    model: str | None = None
    ai_generated: bool = False
    actions: tuple[str, ...] = ()
    ingredients: tuple[dict[str, Any], ...] = ()
    generation: dict[str, Any] = field(default_factory=dict)
    failures: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "present": self.present, "valid": self.valid, "trusted": self.trusted,
            "state": self.state, "signer": self.signer, "development": self.development,
            "generator": self.generator, "model": self.model, "ai_generated": self.ai_generated,
            "actions": list(self.actions), "ingredients": list(self.ingredients),
            "generation": self.generation, "failures": list(self.failures),
        }  # fmt: skip


def _name(common: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Pixelforge {DEV_MARK}"),
    ])  # fmt: skip


def _key_usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=not sign,
        crl_sign=not sign, encipher_only=False, decipher_only=False,
    )  # fmt: skip


def make_development_identity() -> SigningIdentity:
    """A fresh root CA and ES256 signing certificate (10 years), both named as untrusted."""
    now = dt.datetime.now(dt.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder().subject_name(_name(f"Pixelforge root CA ({DEV_MARK})"))
        .issuer_name(_name(f"Pixelforge root CA ({DEV_MARK})"))
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    leaf = (
        x509.CertificateBuilder().subject_name(_name(f"Pixelforge signer ({DEV_MARK})"))
        .issuer_name(root.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(sign=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    chain = leaf.public_bytes(serialization.Encoding.PEM) + root.public_bytes(
        serialization.Encoding.PEM
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())  # fmt: skip
    return SigningIdentity(chain, pem, "es256", development=True)


def development_identity(folder: Path) -> SigningIdentity:
    """The development identity kept in ``folder`` (made on first use; the key is 0600)."""
    cert_file, key_file = folder / "dev-chain.pem", folder / "dev-key.pem"
    if cert_file.is_file() and key_file.is_file():
        return SigningIdentity(cert_file.read_bytes(), key_file.read_bytes(), "es256", True)
    folder.mkdir(parents=True, exist_ok=True)
    made = make_development_identity()
    for path, data, mode in ((key_file, made.key_pem, 0o600), (cert_file, made.chain_pem, 0o644)):
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    return made


def load_identity(cert_file: Path, key_file: Path, alg: str = "es256") -> SigningIdentity:
    """A configured identity: a PEM chain (signing certificate first) and its private key."""
    if alg not in ALGORITHMS:
        raise ProvenanceError(f"c2pa signing algorithm {alg!r} is not supported; "
                              f"allowed: {', '.join(ALGORITHMS)}")  # fmt: skip
    try:
        chain, key = cert_file.read_bytes(), key_file.read_bytes()
        x509.load_pem_x509_certificates(chain)
    except (OSError, ValueError) as exc:
        raise ProvenanceError(f"cannot load the C2PA certificate or key: {exc}") from None
    return SigningIdentity(chain, key, alg, development=DEV_MARK in chain.decode("latin-1"))


class ContentCredentials:
    """Signs images with one identity. Thread-safe: each signature has its own builder."""

    def __init__(self, identity: SigningIdentity, *, thumbnail: bool = False) -> None:
        self.identity = identity
        self._settings = {"builder": {"thumbnail": {"enabled": thumbnail}}}
        self._lock = threading.Lock()
        self._info = c2pa.C2paSignerInfo(
            ALGORITHMS[identity.alg], identity.chain_pem, identity.key_pem, None
        )

    def _signer(self) -> c2pa.Signer:
        with self._lock:
            try:
                return c2pa.Signer.from_info(self._info)
            except c2pa.C2paError as exc:
                raise ProvenanceError(f"the C2PA signing identity is unusable: {exc}") from None

    def sign(
        self, data: bytes, fmt: str, *, model: str, title: str,
        ingredients: Sequence[Ingredient] = (), generation: Mapping[str, Any] | None = None,
        transcoded: bool = False,
    ) -> bytes:  # fmt: skip
        """``data`` (an encoded ``fmt`` image) with a signed manifest embedded.

        The actions say what happened: ``c2pa.created`` by an AI model; with a ``parentOf``
        ingredient, ``c2pa.opened`` + ``c2pa.edited`` (an AI edit of that image); with
        ``transcoded``, ``c2pa.opened`` + ``c2pa.transcoded`` (the same pixels re-encoded, e.g.
        an export to another format).
        """
        mime = MIME.get(fmt.lower())
        if mime is None:
            raise ProvenanceError(f"cannot sign {fmt!r} images; allowed: png, jpeg, webp")
        edit = any(i.relationship == "parentOf" for i in ingredients)
        actions: list[dict[str, Any]] = []
        if edit:
            parents = [f"ingredient-{i}" for i, g in enumerate(ingredients)
                       if g.relationship == "parentOf"]  # fmt: skip
            actions.append({"action": "c2pa.opened", "parameters": {"ingredientIds": parents}})
            if transcoded:
                actions.append({"action": "c2pa.transcoded", "softwareAgent": {"name": model}})
            else:
                actions.append({"action": "c2pa.edited", "digitalSourceType": COMPOSITE,
                                "softwareAgent": {"name": model}})  # fmt: skip
        else:
            actions.append({"action": "c2pa.created", "digitalSourceType": GENERATED,
                            "softwareAgent": {"name": model}})  # fmt: skip
        manifest = {
            "claim_generator_info": [{"name": "Pixelforge", "version": __version__}],
            "title": title, "format": mime,
            "assertions": [
                {"label": "c2pa.actions", "data": {"actions": actions}},
                {"label": ASSERTION, "data": {"model": model, **dict(generation or {})}},
            ],
        }  # fmt: skip
        context = c2pa.Context(settings=c2pa.Settings.from_dict(self._settings))
        try:
            with c2pa.Builder(manifest, context=context) as builder:
                for i, ingredient in enumerate(ingredients):
                    kind = MIME.get(sniff_format(ingredient.data) or ingredient.format.lower())
                    if kind is None:
                        continue  # not an image format C2PA reads: nothing to record
                    builder.add_ingredient(
                        {"title": ingredient.title, "relationship": ingredient.relationship,
                         "label": f"ingredient-{i}"},
                        kind, io.BytesIO(ingredient.data),
                    )  # fmt: skip
                out = io.BytesIO()
                builder.sign(self._signer(), mime, io.BytesIO(data), out)
        except c2pa.C2paError as exc:
            raise ProvenanceError(f"C2PA signing failed: {exc}") from None
        finally:
            context.close()
        return out.getvalue()


def sniff_format(data: bytes) -> str:
    """``png``, ``jpeg`` or ``webp`` from the file's magic bytes; empty when none of them."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return ""


def read(data: bytes) -> Credentials:
    """The image's C2PA manifest, validated; ``present=False`` when it has none."""
    mime = MIME.get(sniff_format(data))
    if mime is None:
        return Credentials(False, state="unsupported format")
    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data))
    except c2pa.C2paError as exc:
        return Credentials(True, state="invalid", failures=(f"unreadable manifest: {exc}",))
    if reader is None:
        return Credentials(False)
    with reader:
        state = reader.get_validation_state() or "unknown"
        results = reader.get_validation_results() or {}
        active = reader.get_active_manifest() or {}
    failures = tuple(
        str(f.get("code")) for f in (results.get("activeManifest") or {}).get("failure", [])
    )
    untrusted_only = failures and all(f == "signingCredential.untrusted" for f in failures)
    valid = state in ("Valid", "Trusted") or bool(untrusted_only)
    info = active.get("signature_info") or {}
    generator = ", ".join(
        f"{g.get('name')} {g.get('version', '')}".strip()
        for g in active.get("claim_generator_info") or []
    )
    actions: list[str] = []
    ai = False
    generation: dict[str, Any] = {}
    for assertion in active.get("assertions") or []:
        label, body = assertion.get("label", ""), assertion.get("data") or {}
        if label.startswith("c2pa.actions"):
            for action in body.get("actions", []):
                actions.append(str(action.get("action")))
                ai = (
                    ai
                    or "trainedalgorithmicmedia" in str(action.get("digitalSourceType", "")).lower()
                )
        elif label == ASSERTION:
            generation = dict(body)
    ingredients = tuple(
        {
            "title": i.get("title"),
            "relationship": i.get("relationship"),
            "has_manifest": bool(i.get("active_manifest")),
        }
        for i in active.get("ingredients") or []
    )
    signer = info.get("common_name") or info.get("issuer")
    return Credentials(
        True, valid=valid, trusted=state == "Trusted", state=state, signer=signer,
        development=DEV_MARK in json.dumps(info), generator=generator or None,
        model=generation.get("model"), ai_generated=ai, actions=tuple(actions),
        ingredients=ingredients, generation=generation,
        failures=tuple(f for f in failures if f != "signingCredential.untrusted"),
    )  # fmt: skip
