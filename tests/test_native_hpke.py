"""HPKE (RFC 9180) base mode in the native engine: the RFC's known answers, cryptography's HPKE, hostile input."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hpke as cryptography_hpke
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from tlsapi_native._hpke import (
    AEAD_AES_128_GCM,
    AEAD_AES_256_GCM,
    AEAD_CHACHA20_POLY1305,
    MAX_INFO_LENGTH,
    DecapError,
    HPKEError,
    OpenError,
    Suite,
    decapsulate,
    derive_key_pair,
    encapsulate,
    key_schedule,
    setup_base_recipient,
    setup_base_sender,
)

INFO = bytes.fromhex("4f6465206f6e2061204772656369616e2055726e")  # "Ode on a Grecian Urn"
PLAINTEXT = bytes.fromhex("4265617574792069732074727574682c20747275746820626561757479")


@dataclass(frozen=True)
class BaseVector:
    """One RFC 9180 appendix A base-mode vector (mode 0, kem_id 32, kdf_id 1)."""

    aead_id: int
    ikm_e: str
    pk_em: str
    sk_em: str
    ikm_r: str
    pk_rm: str
    sk_rm: str
    shared_secret: str
    key: str
    base_nonce: str
    ciphertexts: dict[int, str]  # sequence number -> ct, for pt PLAINTEXT and aad "Count-<seq>"


# RFC 9180 appendix A.1.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM.
A_1_1 = BaseVector(
    aead_id=AEAD_AES_128_GCM,
    ikm_e="7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
    pk_em="37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    sk_em="52c4a758a802cd8b936eceea314432798d5baf2d7e9235dc084ab1b9cfa2f736",
    ikm_r="6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
    pk_rm="3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
    sk_rm="4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
    shared_secret="fe0e18c9f024ce43799ae393c7e8fe8fce9d218875e8227b0187c04e7d2ea1fc",
    key="4531685d41d65f03dc48f6b8302c05b0",
    base_nonce="56d890e5accaaf011cff4b7d",
    ciphertexts={
        0: "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a",
        1: "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84",
        2: "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180",
        4: "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d",
        255: "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a",
        256: "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2",
    },
)

# RFC 9180 appendix A.2.1: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305.
A_2_1 = BaseVector(
    aead_id=AEAD_CHACHA20_POLY1305,
    ikm_e="909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
    pk_em="1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
    sk_em="f4ec9b33b792c372c1d2c2063507b684ef925b8c75a42dbcbf57d63ccd381600",
    ikm_r="1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
    pk_rm="4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
    sk_rm="8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
    shared_secret="0bbe78490412b4bbea4812666f7916932b828bba79942424abb65244930d69a7",
    key="ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91",
    base_nonce="5c4d98150661b848853b547f",
    ciphertexts={
        0: "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28",
        1: "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c",
        2: "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b",
        4: "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16",
        255: "18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c",
        256: "7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b",
    },
)

VECTORS = pytest.mark.parametrize("vector", [A_1_1, A_2_1], ids=["A.1.1-aes128gcm", "A.2.1-chacha20poly1305"])


def _raw_private(key: X25519PrivateKey) -> str:
    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return raw.hex()


def _aad(sequence: int) -> bytes:
    return f"Count-{sequence}".encode()


@VECTORS
def test_derive_key_pair_matches_the_rfc(vector: BaseVector) -> None:
    ephemeral, recipient = derive_key_pair(bytes.fromhex(vector.ikm_e)), derive_key_pair(bytes.fromhex(vector.ikm_r))
    assert _raw_private(ephemeral) == vector.sk_em
    assert ephemeral.public_key().public_bytes_raw().hex() == vector.pk_em
    assert _raw_private(recipient) == vector.sk_rm
    assert recipient.public_key().public_bytes_raw().hex() == vector.pk_rm


@VECTORS
def test_kem_and_key_schedule_match_the_rfc(vector: BaseVector) -> None:
    recipient = derive_key_pair(bytes.fromhex(vector.ikm_r))
    shared_secret, enc = encapsulate(recipient.public_key(), derive_key_pair(bytes.fromhex(vector.ikm_e)))
    assert enc.hex() == vector.pk_em  # enc is the serialized ephemeral public key
    assert shared_secret.hex() == vector.shared_secret
    assert decapsulate(enc, recipient).hex() == vector.shared_secret
    key, base_nonce = key_schedule(Suite(aead_id=vector.aead_id), shared_secret, INFO)
    assert (key.hex(), base_nonce.hex()) == (vector.key, vector.base_nonce)


@VECTORS
def test_context_encryptions_match_the_rfc(vector: BaseVector) -> None:
    suite = Suite(aead_id=vector.aead_id)
    recipient = derive_key_pair(bytes.fromhex(vector.ikm_r))
    enc, sender = setup_base_sender(
        suite, recipient.public_key(), INFO, ephemeral_key=derive_key_pair(bytes.fromhex(vector.ikm_e))
    )
    receiver = setup_base_recipient(suite, enc, recipient, INFO)
    for sequence in range(max(vector.ciphertexts) + 1):
        assert sender.sequence == receiver.sequence == sequence
        ciphertext = sender.seal(_aad(sequence), PLAINTEXT)
        if sequence in vector.ciphertexts:
            assert ciphertext.hex() == vector.ciphertexts[sequence], f"sequence number {sequence}"
        assert receiver.open(_aad(sequence), ciphertext) == PLAINTEXT


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (AEAD_AES_128_GCM, cryptography_hpke.AEAD.AES_128_GCM),
        (AEAD_AES_256_GCM, cryptography_hpke.AEAD.AES_256_GCM),
        (AEAD_CHACHA20_POLY1305, cryptography_hpke.AEAD.CHACHA20_POLY1305),
    ],
    ids=["aes128gcm", "aes256gcm", "chacha20poly1305"],
)
def test_interoperates_with_cryptography_single_shot_hpke(ours: int, theirs: cryptography_hpke.AEAD) -> None:
    """cryptography's one-shot API frames its output as enc || ct, with empty AAD; both directions agree."""
    suite = Suite(aead_id=ours)
    their_suite = cryptography_hpke.Suite(cryptography_hpke.KEM.X25519, cryptography_hpke.KDF.HKDF_SHA256, theirs)
    recipient = X25519PrivateKey.generate()
    info = b"tls ech\x00" + bytes(range(40))

    sealed_by_them = their_suite.encrypt(PLAINTEXT, recipient.public_key(), info=info)
    opened = setup_base_recipient(suite, sealed_by_them[:32], recipient, info).open(b"", sealed_by_them[32:])
    assert opened == PLAINTEXT

    enc, sender = setup_base_sender(suite, recipient.public_key(), info)
    assert their_suite.decrypt(enc + sender.seal(b"", PLAINTEXT), recipient, info=info) == PLAINTEXT


def _pair(aead_id: int = AEAD_AES_128_GCM) -> tuple[bytes, X25519PrivateKey, Suite]:
    recipient = X25519PrivateKey.generate()
    return b"info", recipient, Suite(aead_id=aead_id)


def test_a_second_seal_after_the_first_uses_the_next_nonce_and_aad_binds() -> None:
    """ECH seals twice with one context when the server sends a HelloRetryRequest; AAD is the outer hello."""
    info, recipient, suite = _pair()
    enc, sender = setup_base_sender(suite, recipient.public_key(), info)
    receiver = setup_base_recipient(suite, enc, recipient, info)
    first, second = sender.seal(b"outer 1", b"inner"), sender.seal(b"outer 2", b"inner")
    assert first != second
    with pytest.raises(OpenError):
        receiver.open(b"outer 1", second)  # sequence 0 cannot open what sequence 1 sealed
    with pytest.raises(OpenError):
        receiver.open(b"outer 2", first)  # wrong AAD
    assert receiver.sequence == 0  # failed opens do not advance
    assert receiver.open(b"outer 1", first) == b"inner"
    assert receiver.open(b"outer 2", second) == b"inner"


@pytest.mark.parametrize("flip", [0, 17, -1], ids=["first-byte", "middle", "tag"])
def test_a_tampered_ciphertext_does_not_open(flip: int) -> None:
    info, recipient, suite = _pair(AEAD_CHACHA20_POLY1305)
    enc, sender = setup_base_sender(suite, recipient.public_key(), info)
    ciphertext = bytearray(sender.seal(b"aad", b"a secret inner ClientHello"))
    ciphertext[flip] ^= 0x01
    with pytest.raises(OpenError):
        setup_base_recipient(suite, enc, recipient, info).open(b"aad", bytes(ciphertext))


def test_a_wrong_recipient_key_or_info_does_not_open() -> None:
    info, recipient, suite = _pair()
    enc, sender = setup_base_sender(suite, recipient.public_key(), info)
    ciphertext = sender.seal(b"", b"payload")
    with pytest.raises(OpenError):
        setup_base_recipient(suite, enc, X25519PrivateKey.generate(), info).open(b"", ciphertext)
    with pytest.raises(OpenError):
        setup_base_recipient(suite, enc, recipient, b"other info").open(b"", ciphertext)


@pytest.mark.parametrize("length", [0, 16], ids=["empty", "tag-length"])
def test_short_ciphertexts_do_not_open(length: int) -> None:
    info, recipient, suite = _pair()
    enc, _ = setup_base_sender(suite, recipient.public_key(), info)
    with pytest.raises(OpenError):
        setup_base_recipient(suite, enc, recipient, info).open(b"", bytes(length))


@pytest.mark.parametrize(
    "enc",
    [b"", bytes(31), bytes(33), bytes(32), bytes([1]) + bytes(31)],
    ids=["empty", "short", "long", "zero-point", "low-order-point"],
)
def test_malformed_or_low_order_enc_is_a_decap_error(enc: bytes) -> None:
    info, recipient, suite = _pair()
    with pytest.raises(DecapError):
        setup_base_recipient(suite, enc, recipient, info)


def test_a_low_order_recipient_key_is_refused_by_the_sender() -> None:
    with pytest.raises(DecapError):
        setup_base_sender(Suite(), X25519PublicKey.from_public_bytes(bytes(32)), b"")


def test_oversized_info_is_refused() -> None:
    _, recipient, suite = _pair()
    with pytest.raises(HPKEError):
        setup_base_sender(suite, recipient.public_key(), bytes(MAX_INFO_LENGTH + 1))


@pytest.mark.parametrize(
    ("kem_id", "kdf_id", "aead_id"),
    [(0x0010, 1, 1), (0x0020, 2, 1), (0x0020, 1, 0xFFFF), (0x0020, 1, 0)],
    ids=["p256-kem", "sha384-kdf", "export-only-aead", "aead-zero"],
)
def test_unsupported_suites_are_refused(kem_id: int, kdf_id: int, aead_id: int) -> None:
    with pytest.raises(ValueError, match="unsupported HPKE"):
        Suite(kem_id, kdf_id, aead_id)
