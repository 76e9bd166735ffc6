"""Signed Content Credentials (C2PA) on converted MP4/MOV outputs, and reading them back.

With a signing certificate and key (`--sign-cert`, `--sign-key`, or FACESWAP_SIGN_CERT /
FACESWAP_SIGN_KEY, or a batch manifest's options), convert embeds a C2PA manifest into its
MP4/MOV output with c2pa-python (the Content Authenticity Initiative's c2pa-rs): a
`c2pa.opened` action on the input (an ingredient, hashed by c2pa) followed by `c2pa.edited`
with the IPTC digital source type for media composited with a trained model
(compositeWithTrainedAlgorithmicMedia), faceswap as the software agent, and the model's and
inputs' hashes from the provenance record in its parameters and in an
`org.faceswap.provenance` assertion. The manifest binds the file's bytes (a BMFF hash): any
later edit, re-encode or trim leaves it invalid or stripped, which is why the watermark
exists beside it.

The signature is checked by c2pa's own reader; whether the signer is trusted is a policy of
the reader (a trust list), not of this tool: a certificate not on one reads as "valid"
(signature and hashes intact) rather than "trusted".

Reference: C2PA Technical Specification 2.1 (c2pa.org), IPTC Digital Source Type vocabulary.
"""

from __future__ import annotations

import datetime
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .errors import FaceswapError
from .log import get_logger

__all__ = ["DIGITAL_SOURCE_TYPE", "SIGNABLE", "SigningKey", "check_signable", "load_signing_key", "manifest_for",
           "check_trust", "read_credentials", "sign_output", "signing_for"]

log = get_logger(__name__)

# The containers c2pa embeds a manifest into that convert writes, and their media types.
SIGNABLE = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime"}
# c2pa's code for a signer not on the reader's trust list
_UNTRUSTED = "signingCredential.untrusted"
# IPTC's term for media that a trained model composited into a capture: a face swap.
DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeWithTrainedAlgorithmicMedia"


@dataclass(frozen=True)
class SigningKey:
    """A signing certificate chain and its private key, checked and ready for c2pa."""

    cert_pem: bytes     # the signer's certificate first, then its issuers (PEM)
    key_pem: bytes      # the private key (PEM, unencrypted)
    alg: str            # C2PA's name of the signature algorithm: ES256, ES384, ES512, PS256, ED25519
    subject: str        # the signer certificate's subject, for the record and the report


def load_signing_key(cert: str | Path, key: str | Path) -> SigningKey:
    """Read and check a PEM certificate chain and its PEM private key (with the `cryptography`
    package): both readable, the key the certificate's, the certificate valid today; the
    algorithm follows from the key (EC P-256/384/521 -> ES256/384/512, RSA -> PS256, Ed25519).
    Raises FaceswapError (one line) otherwise, so that a bad key is caught before any work."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    cert, key = Path(cert), Path(key)
    for path, what in ((cert, "--sign-cert"), (key, "--sign-key")):
        if not path.is_file():
            raise FaceswapError(f"{what} {path}: no such file")
    cert_pem, key_pem = cert.read_bytes(), key.read_bytes()
    try:
        chain = x509.load_pem_x509_certificates(cert_pem)
    except ValueError:
        raise FaceswapError(f"--sign-cert {cert.name} is not a PEM certificate (chain)") from None
    try:
        private = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as err:
        why = "it is encrypted: give an unencrypted key" if isinstance(err, TypeError) else "not a PEM private key"
        raise FaceswapError(f"--sign-key {key.name}: {why}") from None
    signer = chain[0]
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    if signer.public_key().public_bytes(serialization.Encoding.DER, public) != \
            private.public_key().public_bytes(serialization.Encoding.DER, public):
        raise FaceswapError(f"--sign-key {key.name} is not the key of the certificate in {cert.name}")
    now = datetime.datetime.now(datetime.timezone.utc)
    if not signer.not_valid_before_utc <= now <= signer.not_valid_after_utc:
        raise FaceswapError(f"--sign-cert {cert.name} is valid from {signer.not_valid_before_utc:%Y-%m-%d} to "
                            f"{signer.not_valid_after_utc:%Y-%m-%d}, not today")
    if isinstance(private, ec.EllipticCurvePrivateKey):
        alg = {256: "ES256", 384: "ES384", 521: "ES512"}.get(private.curve.key_size)
    elif isinstance(private, rsa.RSAPrivateKey):
        alg = "PS256"
    elif isinstance(private, ed25519.Ed25519PrivateKey):
        alg = "ED25519"
    else:
        alg = None
    if alg is None:
        raise FaceswapError(f"--sign-key {key.name}: C2PA signs with EC P-256/384/521, RSA or Ed25519 keys")
    return SigningKey(cert_pem, key_pem, alg, signer.subject.rfc4514_string())


def signing_for(options: Any, output: str | Path) -> SigningKey | None:
    """The checked signing key of a convert job's options (`sign_cert`, `sign_key`; None when
    it signs nothing). Raises FaceswapError (one line) for an output c2pa cannot sign or a key
    `load_signing_key` refuses: before any work."""
    if not getattr(options, "sign_cert", None):
        return None
    check_signable(output)
    return load_signing_key(options.sign_cert, options.sign_key)


def check_signable(output: str | Path) -> None:
    """Raise FaceswapError (one line) unless `output` is a container c2pa signs (SIGNABLE)."""
    suffix = Path(output).suffix.lower()
    if suffix not in SIGNABLE:
        raise FaceswapError(f"Content Credentials are signed into {', '.join(SIGNABLE)} outputs, not "
                            f"{Path(output).name}: its sidecar and watermark label it")


def manifest_for(record: dict[str, Any], title: str, source: str | None = None) -> dict[str, Any]:
    """The C2PA manifest definition (c2pa's JSON form) of a converted output from its
    provenance `record`: the actions, the tool, and the model's and inputs' hashes; `source`:
    the footage's name when it is declared here rather than added (and hashed) by c2pa."""
    from .provenance import record_digest

    model = record.get("model") or {}
    inputs = {role: {"name": item.get("name"), "sha256": item.get("sha256")}
              for role, item in (record.get("inputs") or {}).items()}
    facts = {"record_sha256": record_digest(record), "kind": record.get("kind"),
             "model_config_sha256": model.get("config_sha256"), "model_weights_sha256": model.get("weights"),
             "inputs": inputs, "output_id": (record.get("watermark") or {}).get("output_id")}
    agent = {"name": "faceswap", "version": __version__}
    return {
        "claim_generator_info": [agent],
        "title": title,
        **({"ingredients": [{"title": source, "relationship": "parentOf", "label": "input",
                             "format": "application/octet-stream"}]} if source else {}),
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [
                {"action": "c2pa.opened", "parameters": {"ingredientIds": ["input"]}},
                {"action": "c2pa.edited", "digitalSourceType": DIGITAL_SOURCE_TYPE, "softwareAgent": agent,
                 "description": f"faces {'swapped' if record.get('kind') == 'swap' else 'reenacted'} by a "
                                f"trained model", "parameters": facts},
            ]}},
            {"label": "org.faceswap.provenance", "data": facts},
        ],
    }


def sign_output(path: str | Path, record: dict[str, Any], signing: SigningKey, source: str | Path) -> dict[str, Any]:
    """Embed a signed C2PA manifest (`manifest_for`) into the finished output `path`, with
    `source` (the footage) as its parent ingredient; atomic: signed into a temporary file
    beside it, then renamed over it. Returns what the provenance record keeps of it. Raises
    FaceswapError (one line) when c2pa refuses the certificate or cannot write the file."""
    import c2pa

    path, source = Path(path), Path(source)
    media = SIGNABLE[path.suffix.lower()]
    tmp = path.with_name(f".{path.name}.signing{path.suffix}")
    # footage c2pa cannot read (a plate sequence, MKV) is declared by name; its hash is in the facts
    declared = None if source.suffix.lower() in SIGNABLE else source.name
    try:
        info = c2pa.C2paSignerInfo(signing.alg, signing.cert_pem, signing.key_pem, None)
        with c2pa.Signer.from_info(info) as signer, \
                c2pa.Builder.from_json(json.dumps(manifest_for(record, path.name, declared))) as builder:
            if declared is None:   # an MP4/MOV: hashed by c2pa, and its own credentials kept as a chain
                with open(source, "rb") as stream:
                    builder.add_ingredient({"title": source.name, "relationship": "parentOf", "label": "input"},
                                           SIGNABLE[source.suffix.lower()], stream)
            with open(path, "rb") as src, open(tmp, "w+b") as dst:
                builder.sign(signer, media, src, dst)
        os.replace(tmp, path)
    except c2pa.C2paError as err:
        tmp.unlink(missing_ok=True)
        raise FaceswapError(f"cannot sign {path.name}: {str(err).splitlines()[0]}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    log.info("Content Credentials: %s signed by %s (%s)", path.name, signing.subject, signing.alg)
    return {"standard": "C2PA", "signer": signing.subject, "alg": signing.alg,
            "digital_source_type": DIGITAL_SOURCE_TYPE}


def check_trust(path: str | Path) -> str:
    """The PEM text of a trust-anchor file (`verify --trust`), checked to hold at least one
    certificate. Raises FaceswapError (one line) otherwise."""
    from cryptography import x509

    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"--trust {path}: no such file")
    text = path.read_bytes()
    try:
        x509.load_pem_x509_certificates(text)
    except ValueError:
        raise FaceswapError(f"--trust {path.name} holds no PEM certificate") from None
    return text.decode("ascii", errors="replace")


def read_credentials(path: str | Path, trust: str | Path | None = None) -> dict[str, Any]:
    """The C2PA manifest of `path` as c2pa's reader validates it: {"status": "valid" (signature
    and content hashes intact; `on_trust_list` says whether the signer is on c2pa's), "trusted"
    (c2pa's own state for both),
    "invalid" (with the failure codes: the file was changed after signing), "none" (no
    manifest) or "unsupported" (a file type c2pa does not read)}, and for a manifest the signer,
    whether it says AI-composited (`synthetic`), and faceswap's facts. `trust`: a PEM file of
    the certificate authorities the reader trusts (a studio's own CA), given to c2pa's trust
    list. Raises FaceswapError (one line) for a `trust` file that holds no certificate."""
    import c2pa

    path = Path(path)
    if path.suffix.lower() not in SIGNABLE:
        return {"status": "unsupported"}
    context = None
    if trust is not None:
        anchors = check_trust(trust)
        context = c2pa.Context.from_dict({"trust": {"trust_anchors": anchors}})
    try:
        with c2pa.Reader(str(path), context=context) as reader:
            state = (reader.get_validation_state() or "").lower()
            results = reader.get_validation_results() or {}
            manifest = reader.get_active_manifest() or {}
    except c2pa.C2paError as err:
        if type(err).__name__.endswith("ManifestNotFound"):
            return {"status": "none"}
        return {"status": "invalid", "failures": [str(err).splitlines()[0]]}
    codes = [f.get("code") for f in (results.get("activeManifest") or {}).get("failure", [])]
    # a signer missing from the reader's trust list is the reader's policy, not damage to the file
    failures = [c for c in codes if c != _UNTRUSTED]
    status = "trusted" if state == "trusted" and not codes else "valid" if not failures else "invalid"
    actions = [a for assertion in manifest.get("assertions", []) if assertion.get("label", "").startswith("c2pa.actions")
               for a in assertion.get("data", {}).get("actions", [])]
    facts = next((a.get("data") for a in manifest.get("assertions", []) if a.get("label") == "org.faceswap.provenance"),
                 None)
    signature = manifest.get("signature_info") or {}
    return {"status": status, "failures": failures, "on_trust_list": _UNTRUSTED not in codes, "signer": signature.get("common_name") or signature.get("issuer"),
            "synthetic": any(a.get("digitalSourceType") == DIGITAL_SOURCE_TYPE for a in actions),
            "faceswap": facts}
