"""RFC 8448 section 3 ("Simple 1-RTT Handshake") known answers for the native key schedule, and its
HKDF-Expand-Label over several blocks."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from tlsapi_native._keyschedule import KeySchedule, Transcript, hkdf_expand_label
from tlsapi_native._suites import TLS13_SUITES

H = bytes.fromhex
SUITE = TLS13_SUITES[0x1301]

CLIENT_HELLO = H(
    "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7000006130113031302010000910000"
    "000b0009000006736572766572ff01000100000a00140012001d0017001800190100010101020103010400230000003300260024"
    "001d002099381de560e4bd43d23d8e435a7dbafeb3c06e51c13cae4d5413691e529aaf2c002b0003020304000d0020001e040305"
    "030603020308040805080604010501060102010402050206020202002d00020101001c00024001"
)
SERVER_HELLO = H(
    "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800130100002e00330024001d0020"
    "c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f002b00020304"
)
ENCRYPTED_EXTENSIONS = H("080000240022000a00140012001d00170018001901000101010201030104001c0002400100000000")
CERTIFICATE = H(
    "0b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01010b0500300e310c300a0603550403"
    "1303727361301e170d3136303733303031323335395a170d3236303733303031323335395a300e310c300a060355040313037273"
    "6130819f300d06092a864886f70d010101050003818d0030818902818100b4bb498f8279303d980836399b36c6988c0c68de55e1"
    "bdb826d3901a2461eafd2de49a91d015abbc9a95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63"
    "264d449a6d38e22a5fda430846748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f"
    "1e3f0203010001a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b05000381"
    "810085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf36b7fd6c55b"
    "80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9b9eb2bd5203b1c3b84e0a8"
    "b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de10000"
)
CERTIFICATE_VERIFY = H(
    "0f000084080400805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a07"
    "8653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c181e818e95b8"
    "c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3"
)
SERVER_FINISHED = H("140000209b9b141d906337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f0718")
CLIENT_FINISHED = H("14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61")

CLIENT_PRIVATE = H("49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005")
SERVER_PUBLIC = H("c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f")


def test_hkdf_expand_label_derived() -> None:
    early = H("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a")
    empty_hash = H("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    assert hkdf_expand_label(SUITE.hash, early, b"derived", empty_hash, 32) == H(
        "6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba")


def test_rfc8448_simple_1rtt() -> None:
    shared = x25519.X25519PrivateKey.from_private_bytes(CLIENT_PRIVATE).exchange(
        x25519.X25519PublicKey.from_public_bytes(SERVER_PUBLIC))
    assert shared == H("8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d")

    schedule = KeySchedule(SUITE)
    transcript = Transcript(SUITE.hash, CLIENT_HELLO)
    transcript.update(SERVER_HELLO)
    assert transcript.digest() == H("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8")
    c_hs, s_hs = schedule.handshake_secrets(shared, transcript.digest())
    assert c_hs == H("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21")
    assert s_hs == H("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38")
    assert schedule.traffic_keys(s_hs) == (H("3fce516009c21727d0f2e4e86ee403bc"), H("5d313eb2671276ee13000b30"))
    assert schedule.traffic_keys(c_hs) == (H("dbfaa693d1762c5b666af5d950258d01"), H("5bd3c71b836e0b76bb73265f"))

    for message in (ENCRYPTED_EXTENSIONS, CERTIFICATE, CERTIFICATE_VERIFY):
        transcript.update(message)
    assert schedule.finished_verify_data(s_hs, transcript.digest()) == SERVER_FINISHED[4:]
    assert schedule.check_finished(s_hs, transcript.digest(), SERVER_FINISHED[4:])
    assert not schedule.check_finished(s_hs, transcript.digest(), bytes(32))
    transcript.update(SERVER_FINISHED)

    c_ap, s_ap, exporter = schedule.application_secrets(transcript.digest())
    assert c_ap == H("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5")
    assert s_ap == H("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643")
    assert exporter == H("fe22f881176eda18eb8f44529e6792c50c9a3f89452f68d8ae311b4309d3cf50")
    assert schedule.traffic_keys(s_ap) == (H("9f02283b6c9c07efc26bb9f2ac92e356"), H("cf782b88dd83549aadf1e984"))

    assert schedule.finished_verify_data(c_hs, transcript.digest()) == CLIENT_FINISHED[4:]
    transcript.update(CLIENT_FINISHED)
    assert schedule.resumption_master_secret(transcript.digest()) == H(
        "7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")


def test_resumption_psk_and_key_update() -> None:
    # RFC 8448: the ticket PSK is HKDF-Expand-Label(res_master, "resumption", nonce 0x0000, 32).
    res_master = H("7df235f2031d2a051287d02b0241b0bfdaf86cc856231f2d5aba46c434ec196c")
    assert hkdf_expand_label(SUITE.hash, res_master, b"resumption", b"\x00\x00", 32) == H(
        "4ecd0eb6ec3b4d87f5d6028f922ca4c5851a277fd41311c9e62d2c9492e1c4f3")
    schedule = KeySchedule(SUITE)
    secret = bytes(32)
    assert schedule.next_traffic_secret(secret) == hkdf_expand_label(SUITE.hash, secret, b"traffic upd", b"", 32)


@pytest.mark.parametrize("algorithm", [hashes.SHA256, hashes.SHA384])
@pytest.mark.parametrize("length", [12, 32, 48, 49, 100, 255])
def test_expand_label_over_several_blocks(algorithm: type[hashes.HashAlgorithm], length: int) -> None:
    """HKDF-Expand-Label longer than one hash output (exporters may ask for any length) is RFC 5869's
    ``T(1) || T(2) || ...``, as cryptography's HKDFExpand computes it."""
    secret = bytes(range(algorithm.digest_size))
    label, context = b"exporter", b"\x01\x02"
    full_label = b"tls13 " + label
    info = length.to_bytes(2, "big") + bytes((len(full_label),)) + full_label + bytes((len(context),)) + context
    assert hkdf_expand_label(algorithm, secret, label, context, length) == HKDFExpand(
        algorithm(), length, info).derive(secret)
