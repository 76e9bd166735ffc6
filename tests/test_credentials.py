"""Signed Content Credentials (C2PA): convert signs its MP4/MOV output with a certificate made
here (a test CA and its signer, with the `cryptography` package), c2pa's own reader validates
the manifest, an edited file fails validation, a re-muxed one has none, and a key that cannot
sign is refused before any work."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from faceswap import cli
from faceswap.convert.options import ConvertOptions
from faceswap.convert.pipeline import convert
from faceswap.credentials import DIGITAL_SOURCE_TYPE, read_credentials
from faceswap.media.ffmpeg_bin import run_ffmpeg
from faceswap.provenance import read_sidecar
from faceswap.verify import verify_file

pytestmark = pytest.mark.slow


def _certificate(folder: Path, days: int = 30) -> tuple[Path, Path]:
    """(chain.pem, key.pem): an EC P-256 signer certificate issued by a test CA, as C2PA wants
    one (not self-signed itself, digitalSignature usage, e-mail protection purpose, key ids)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Studio")])

    def usage(ca: bool) -> x509.KeyUsage:
        return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                             encipher_only=False, decipher_only=False)

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    signer = (x509.CertificateBuilder().subject_name(name("faceswap test signer")).issuer_name(ca.subject)
              .public_key(key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=days))
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .add_extension(usage(False), critical=True)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
              .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    chain, private = folder / "chain.pem", folder / "key.pem"
    chain.write_bytes(signer.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return chain, private


@pytest.fixture(scope="module")
def signed(data, swap_model, tmp_path_factory) -> tuple[Path, Path]:
    """(d18 frames 0-11 converted and signed as .mp4, its input clip)."""
    folder = tmp_path_factory.mktemp("signed")
    clip = folder / "d18_short.mp4"
    run_ffmpeg(["-y", "-i", str(data / "video" / "d18.mp4"), "-frames:v", "12", "-c:v", "libx264", "-an", str(clip)],
               "cut d18")
    chain, key = _certificate(folder)
    out = folder / "out.mp4"
    convert(clip, swap_model, out, ConvertOptions(all_faces=True, sign_cert=str(chain), sign_key=str(key)),
            progress=False)
    return out, clip


def test_a_signed_output_validates_with_c2pa_and_says_what_was_done(signed):
    out, clip = signed
    found = read_credentials(out)
    assert found["status"] == "valid" and found["failures"] == [], found
    assert found["synthetic"] is True and found["signer"] == "faceswap test signer"
    record = read_sidecar(out)
    facts = found["faceswap"]
    assert facts["model_weights_sha256"] == record["model"]["weights"]          # the model's hash
    assert facts["inputs"]["input"]["sha256"] == record["inputs"]["input"]["sha256"]   # the input's
    assert facts["output_id"] == record["watermark"]["output_id"]
    assert record["credentials"]["alg"] == "ES256"
    assert record["credentials"]["digital_source_type"] == DIGITAL_SOURCE_TYPE
    verdict = verify_file(out)
    # the sidecar's hash is of the signed file; the container tags survive the signing
    assert verdict.sidecar["output_hash_ok"] and verdict.tags_synthetic and verdict.labelled
    assert verdict.c2pa["status"] == "valid"
    assert read_credentials(clip) == {"status": "none"}                        # the input was never signed


def test_a_studio_that_trusts_its_own_ca_reads_trusted(signed, tmp_path, monkeypatch):
    out, _ = signed
    ca = (out.parent / "chain.pem").read_text()
    anchors = tmp_path / "studio_ca.pem"
    anchors.write_text(ca[ca.index("-----BEGIN CERTIFICATE-----", 10):])    # the test CA alone
    found = read_credentials(out, anchors)
    assert found["status"] == "trusted" and found["on_trust_list"] is True, found
    (tmp_path / "other").mkdir()
    other, _ = _certificate(tmp_path / "other")
    other_ca = other.read_text()
    (tmp_path / "other_ca.pem").write_text(other_ca[other_ca.index("-----BEGIN CERTIFICATE-----", 10):])
    found = read_credentials(out, tmp_path / "other_ca.pem")
    assert found["status"] == "valid" and found["on_trust_list"] is False, found
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    result = CliRunner().invoke(cli.main, ["verify", str(out), "--trust", str(anchors), "--max-windows", "1",
                                           "--no-progress"])
    assert result.exit_code == 0 and "c2pa: trusted, signed by faceswap test signer" in result.output, result.output
    result = CliRunner().invoke(cli.main, ["verify", str(out), "--trust", str(out), "--no-progress"])
    assert (result.exit_code, result.stderr) == (1, "error: --trust out.mp4 holds no PEM certificate\n")


def test_an_edited_file_fails_validation_and_a_remuxed_one_has_no_manifest(signed, tmp_path):
    out, _ = signed
    data = bytearray(out.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 2000] ^= 0xFF                        # one byte of the picture changed after signing
    edited = tmp_path / "edited.mp4"
    edited.write_bytes(bytes(data))
    found = read_credentials(edited)
    assert found["status"] == "invalid" and any("hash" in code.lower() for code in found["failures"]), found
    assert verify_file(edited, max_windows=1).c2pa["status"] == "invalid"
    remuxed = tmp_path / "remuxed.mp4"
    run_ffmpeg(["-y", "-i", str(out), "-c", "copy", str(remuxed)], "remux")
    assert read_credentials(remuxed)["status"] == "none"


def test_a_key_that_cannot_sign_is_refused_before_any_work(data, tmp_path, monkeypatch):
    chain, key = _certificate(tmp_path)
    (tmp_path / "other").mkdir()
    _, other_key = _certificate(tmp_path / "other")      # another signer's key
    monkeypatch.setattr(cli, "filter_native_stderr", lambda: None)
    monkeypatch.setattr(cli, "setup_logging", lambda level: None)
    clip = data / "video" / "d18.mp4"

    def run(output: str, *extra: str):
        return CliRunner().invoke(cli.main, ["convert", str(clip), "-m", str(tmp_path / "no-model"), "-o",
                                             str(tmp_path / output), *extra, "--no-progress"])

    result = run("x.mp4", "--sign-cert", str(chain), "--sign-key", str(other_key))
    assert (result.exit_code, result.stderr) == (1, "error: --sign-key key.pem is not the key of the certificate "
                                                    "in chain.pem\n")
    result = run("x.mkv", "--sign-cert", str(chain), "--sign-key", str(key))
    assert result.exit_code == 1 and result.stderr.startswith("error: Content Credentials are signed into .mp4")
    result = run("x.mp4", "--sign-cert", str(chain))
    assert result.stderr == "error: --sign-cert and --sign-key go together: the certificate and its private key\n"
    result = run("x.mp4", "--sign-cert", str(key), "--sign-key", str(key))
    assert result.stderr == "error: --sign-cert key.pem is not a PEM certificate (chain)\n"
    assert not (tmp_path / "x.mp4").exists() and not (tmp_path / "x.mkv").exists()
