import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tradelab_auth.domain.keys import KeyRing, SigningKey, parse_private_keys, public_jwk


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


def test_public_jwk_and_kid_match_the_rfc_8037_example() -> None:
    # RFC 8037 appendix A.1 (key) and A.3 (its RFC 7638 thumbprint).
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = Ed25519PrivateKey.from_private_bytes(d)
    assert public_jwk(key.public_key()) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        "alg": "EdDSA",
        "use": "sig",
    }


def test_ring_of_two_keys_signs_with_the_first_and_publishes_both_in_order() -> None:
    new, old = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ring = KeyRing.from_pem(pem(new) + pem(old))
    assert ring.signing_key.kid == SigningKey.of(new).kid
    assert [jwk["kid"] for jwk in ring.jwks()] == [SigningKey.of(new).kid, SigningKey.of(old).kid]
    assert ring.jwks()[1] == public_jwk(old.public_key())


def test_key_id_is_stable_for_the_same_key() -> None:
    key = Ed25519PrivateKey.generate()
    assert KeyRing.from_pem(pem(key)).signing_key.kid == KeyRing.from_pem(pem(key)).signing_key.kid


def test_pem_with_escaped_newlines_on_one_line_parses() -> None:
    key = Ed25519PrivateKey.generate()
    one_line = pem(key).replace("\n", "\\n")
    assert KeyRing.from_pem(one_line).signing_key.kid == SigningKey.of(key).kid


def test_text_without_a_pem_block_is_refused() -> None:
    with pytest.raises(ValueError, match="no PEM block"):
        parse_private_keys("changeme")


def test_corrupt_pem_is_refused_without_quoting_it() -> None:
    corrupt = "-----BEGIN PRIVATE KEY-----\nTUFMRk9STUVE\n-----END PRIVATE KEY-----\n"
    with pytest.raises(ValueError, match="#1 is not a readable") as excinfo:
        parse_private_keys(corrupt)
    assert "TUFMRk9STUVE" not in str(excinfo.value)


def test_non_ed25519_key_is_refused() -> None:
    ec = generate_private_key(SECP256R1())
    ec_pem = ec.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    good = pem(Ed25519PrivateKey.generate())
    with pytest.raises(ValueError, match="#2 is not an Ed25519 key"):
        parse_private_keys(good + ec_pem)


def test_empty_ring_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one key"):
        KeyRing(())


def test_generated_rings_hold_different_keys() -> None:
    assert KeyRing.generate().signing_key.kid != KeyRing.generate().signing_key.kid
