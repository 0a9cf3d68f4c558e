"""Loading certificates, keys and trust anchors, and converting PEM/DER.

These are the backend-neutral parsers behind ``Context.load_cert_chain``, ``load_verify_locations`` and
``load_default_certs``: they turn what the caller passes (paths, PEM text, DER bytes, passwords given as
str, bytes or a callable) into ``cryptography`` objects, with the ``ssl`` module's errors for bad input.
"""

from __future__ import annotations

import _ssl
import base64
import errno
import getpass
import os
import re
import ssl
import textwrap
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeAlias, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning

from ._errors import SSLError, from_ssl, make_error

PEM_HEADER = "-----BEGIN CERTIFICATE-----"
PEM_FOOTER = "-----END CERTIFICATE-----"
_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)

PrivateKey: TypeAlias = (
    rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
)
Password: TypeAlias = str | bytes | bytearray | Callable[[], str | bytes | bytearray] | None
StrPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]


@dataclass(frozen=True)
class CertChain:
    """A certificate chain (leaf first) with the leaf's private key, as given to ``load_cert_chain``."""

    certificates: tuple[x509.Certificate, ...]
    key: PrivateKey

    @property
    def leaf(self) -> x509.Certificate:
        return self.certificates[0]


#: OpenSSL's certificate slots (one chain per key type); RSA-PSS signatures use RSA keys.
_KEY_TYPES: dict[str, type[PrivateKey]] = {
    "RSA": rsa.RSAPrivateKey, "EC": ec.EllipticCurvePrivateKey, "Ed25519": ed25519.Ed25519PrivateKey,
    "Ed448": ed448.Ed448PrivateKey,
}


def key_type(key: PrivateKey) -> str:
    """The OpenSSL certificate slot ``key`` goes in: ``'RSA'``, ``'EC'``, ``'Ed25519'`` or ``'Ed448'``."""
    return next(name for name, cls in _KEY_TYPES.items() if isinstance(key, cls))


def DER_cert_to_PEM_cert(der_cert_bytes: bytes) -> str:
    """The PEM text of a DER certificate, as :func:`ssl.DER_cert_to_PEM_cert` writes it."""
    body = base64.standard_b64encode(der_cert_bytes).decode("ascii")
    return PEM_HEADER + "\n" + textwrap.fill(body, 64) + "\n" + PEM_FOOTER + "\n"


def PEM_cert_to_DER_cert(pem_cert_string: str) -> bytes:
    """The DER bytes of one PEM certificate; ``ValueError`` without the PEM header and footer."""
    if not pem_cert_string.startswith(PEM_HEADER):
        raise ValueError(f"Invalid PEM encoding; must start with {PEM_HEADER}")
    if not pem_cert_string.strip().endswith(PEM_FOOTER):
        raise ValueError(f"Invalid PEM encoding; must end with {PEM_FOOTER}")
    body = pem_cert_string.strip()[len(PEM_HEADER) : -len(PEM_FOOTER)]
    return base64.decodebytes(body.encode("ascii", "strict"))


def _pem_error(reason: str, message: str) -> SSLError:
    return make_error(SSLError, message, reason, library="PEM")


def _read(path: StrPath) -> bytes:
    with open(os.fspath(path), "rb") as handle:  # OSError (FileNotFoundError, ...) as the stdlib raises
        return handle.read()


def parse_certificates(data: bytes) -> list[x509.Certificate]:
    """Every certificate in ``data``: PEM (any number) or a single DER certificate.

    Parsed once per distinct ``data`` in this process (see ``PARSED``): contexts that load the same trust
    store share its certificate objects, which are immutable. Errors are not remembered.
    """
    data = bytes(data)
    return list(PARSED.get(data, lambda: _parse_uncached(data)))


def _parse_uncached(data: bytes) -> tuple[x509.Certificate, ...]:
    try:
        with warnings.catch_warnings():  # system stores hold a few legacy certificates (negative serials)
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return tuple(_parse_certificates(data))
    except ValueError:
        raise make_error(SSLError, "no certificate or crl found", "NO_CERTIFICATE_OR_CRL_FOUND",
                         library="X509") from None


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentResults(Generic[K, V]):
    """A thread-safe memo of the last ``size`` results of a pure computation (least recently used goes
    first). Exceptions are not remembered: failing input fails again, the same way."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, compute: Callable[[], V]) -> V:
        """The result remembered for ``key``, else ``compute()`` (outside the lock: a concurrent computation
        of the same key costs only time), remembered."""
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# The certificates parsed from recently loaded CA material, keyed by the exact bytes that were read. A client
# that builds a context per connection pool loads the same system trust store (~150 roots) each time; parsing
# it once per process makes every later context cheap. The key is the content itself, not a path or a file's
# metadata, so a changed file (even rewritten within the same second at the same size) is parsed again, and
# verification is unchanged: a certificate object is the immutable value that parsing the bytes again would
# give, and validity periods are checked per handshake by the engines.
PARSED: RecentResults[bytes, tuple[x509.Certificate, ...]] = RecentResults(32)


def _parse_certificates(data: bytes) -> list[x509.Certificate]:
    if b"-----BEGIN" in data:
        return x509.load_pem_x509_certificates(data) if b"CERTIFICATE-----" in data else []
    return [x509.load_der_x509_certificate(data)]


class _AskOnce:
    """The caller's password, with a callable asked at most once (as the stdlib asks), and OpenSSL's terminal
    prompt for an encrypted key given no password."""

    def __init__(self, password: Password) -> None:
        self.password = password
        self._answer: str | bytes | bytearray | None = None
        self._asked = False
        self.prompted = False  # the answer was typed at the terminal prompt

    def answer(self) -> str | bytes | bytearray | None:
        if not self._asked:
            self._asked = True
            self._answer = self.password() if callable(self.password) else self.password
            if self._answer is None and _has_terminal():
                self._answer = getpass.getpass("Enter PEM pass phrase:")
                self.prompted = True
        return self._answer

    def for_stdlib(self) -> Password:
        """The same password for the stdlib's own attempt (a callable is not asked again)."""
        if not callable(self.password):
            return self.password
        given = self.answer()
        return lambda: given  # type: ignore[return-value]  # a callable's wrong answer, for ssl to judge

    def secret(self) -> bytes | None:
        answer = self.answer()
        if answer is None:
            return None
        if isinstance(answer, str):
            return answer.encode("utf-8")
        if isinstance(answer, bytes | bytearray):
            return bytes(answer)
        raise TypeError("password callback must return a string")


def _has_terminal() -> bool:
    """Whether a terminal can answer a prompt (OpenSSL asks on ``/dev/tty``)."""
    try:
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return False
    return True


def _load_key(data: bytes, password: _AskOnce) -> PrivateKey:
    """The private key of a PEM file. An RSA key is not put through cryptography's full consistency check
    (primality and CRT values, ~0.5 s for a 3072-bit key): OpenSSL's ``SSL_CTX_use_PrivateKey`` does not run
    it either, the key is matched against the certificate's public key, and OpenSSL verifies each CRT result
    before using it."""
    secret = password.secret() if b"ENCRYPTED" in data else None
    try:
        key = serialization.load_pem_private_key(data, secret, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        # Encrypted key without a password, or a password for an unencrypted key.
        raise _pem_error("BAD_PASSWORD_READ", "bad password read") from None
    except ValueError:
        if secret is not None:
            raise _pem_error("BAD_DECRYPT", "bad decrypt") from None
        raise _pem_error("NO_START_LINE", "no start line") from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                      | ed448.Ed448PrivateKey):
        raise make_error(SSLError, "unsupported private key type", "UNSUPPORTED_ALGORITHM", library="EVP")
    return key


def _as_the_stdlib_reports(load: Callable[[ssl.SSLContext], object]) -> Callable[[Exception], BaseException]:
    """For a load that failed here, the exception the stdlib raises for the same input on this interpreter and
    its OpenSSL (its class, ``errno``, ``library``, ``reason`` and text, as tlsapi's class); the error
    raised here when the stdlib accepts the input."""

    def report(ours: Exception) -> BaseException:
        try:  # OpenSSL's own context: ssl.SSLContext may be redirected to tlsapi (injection, test_ssl's stage)
            load(_ssl._SSLContext(ssl.PROTOCOL_TLS_CLIENT))  # type: ignore[arg-type]
        except ssl.SSLError as theirs:
            return from_ssl(theirs)
        except (OSError, ValueError, TypeError) as theirs:
            return theirs
        return ours

    return report


def load_cert_chain(certfile: StrPath, keyfile: StrPath | None = None, password: Password = None) -> CertChain:
    """Read a PEM chain (leaf first) and its key, checking that the key matches the leaf. An encrypted key
    without a password is asked for on the terminal, as OpenSSL does; failures are the stdlib's errors."""
    if password is not None and not callable(password) and not isinstance(password, str | bytes | bytearray):
        raise TypeError("password should be a string or callable")
    asked = _AskOnce(password)
    try:
        return _load_cert_chain(certfile, keyfile, asked)
    except (SSLError, OSError, ValueError, TypeError) as exc:
        if asked.prompted:  # the stdlib, after OpenSSL's prompt, raises OSError with the errno the prompt left
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL)) from None
        stdlib = _as_the_stdlib_reports(lambda ctx: ctx.load_cert_chain(certfile, keyfile, asked.for_stdlib()))
        raise stdlib(exc) from None


def _load_cert_chain(certfile: StrPath, keyfile: StrPath | None, password: _AskOnce) -> CertChain:
    cert_data = _read(certfile)
    certificates = parse_certificates(cert_data) if b"CERTIFICATE-----" in cert_data else []
    if not certificates:
        raise _pem_error("NO_START_LINE", "no start line")
    key = _load_key(_read(keyfile) if keyfile is not None else cert_data, password)
    public = certificates[0].public_key()
    if public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) != (
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ):
        raise make_error(SSLError, "key values mismatch", "KEY_VALUES_MISMATCH", library="X509")
    return CertChain(tuple(certificates), key)


def parse_crls(data: bytes) -> list[x509.CertificateRevocationList]:
    """Every PEM CRL (``-----BEGIN X509 CRL-----``) in ``data``, as OpenSSL reads them from a CA file."""
    try:
        return [x509.load_pem_x509_crl(block) for block in _PEM_CRL.findall(data)]
    except ValueError:
        raise make_error(SSLError, "no certificate or crl found", "NO_CERTIFICATE_OR_CRL_FOUND",
                         library="X509") from None


def load_verify_locations(
    cafile: StrPath | None = None, capath: StrPath | None = None, cadata: str | bytes | None = None
) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """Trust anchors from a PEM file, a directory of PEM files, or PEM text / DER bytes; and the CRLs of the
    PEM file (as the stdlib, which reads CRLs from ``cafile`` only). Failures are the stdlib's errors."""
    if cafile is None and capath is None and cadata is None:
        raise TypeError("cafile, capath and cadata cannot be all omitted")
    try:
        return _load_verify_locations(cafile, capath, cadata)
    except (SSLError, OSError) as exc:
        stdlib = _as_the_stdlib_reports(lambda ctx: ctx.load_verify_locations(cafile, capath, cadata))
        raise stdlib(exc) from None


def _load_verify_locations(
    cafile: StrPath | None, capath: StrPath | None, cadata: str | bytes | None
) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    anchors: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    if cafile is not None:
        data = _read(cafile)
        crls += parse_crls(data)
        found = parse_certificates(data)
        if not found and not crls:
            raise make_error(SSLError, "no certificate or crl found", "NO_CERTIFICATE_OR_CRL_FOUND",
                             library="X509")
        anchors += found
    if capath is not None:
        found_anchors, found_crls = _load_directory(Path(os.fsdecode(capath)))
        anchors += found_anchors
        crls += found_crls
    if cadata is not None:
        if isinstance(cadata, str):
            found = parse_certificates(cadata.encode("ascii"))
        elif isinstance(cadata, bytes | bytearray | memoryview):
            found = _parse_der_sequence(bytes(cadata))
        else:
            raise TypeError("cadata should be an ASCII string or a bytes-like object")
        if not found:
            raise make_error(SSLError, "no certificate or crl found", "NO_CERTIFICATE_OR_CRL_FOUND",
                             library="X509")
        anchors += found
    return anchors, crls


def _parse_der_sequence(data: bytes) -> list[x509.Certificate]:
    """Concatenated DER certificates (the stdlib accepts several in one ``cadata`` bytes object)."""
    certificates = []
    while data:
        if len(data) < 4 or data[0] != 0x30:
            raise make_error(SSLError, "not enough data", "NOT_ENOUGH_DATA", library="ASN1")
        length = data[1]
        header = 2
        if length & 0x80:
            count = length & 0x7F
            if count == 0 or count > 4 or len(data) < 2 + count:
                raise make_error(SSLError, "bad object header", "BAD_OBJECT_HEADER", library="ASN1")
            length = int.from_bytes(data[2 : 2 + count], "big")
            header += count
        end = header + length
        if end > len(data):
            raise make_error(SSLError, "not enough data", "NOT_ENOUGH_DATA", library="ASN1")
        certificates += parse_certificates(data[:end])
        data = data[end:]
    return certificates


#: How OpenSSL's hashed directory lookup names a CRL file: ``<issuer name hash>.r<n>``.
_CAPATH_CRL = re.compile(r"[0-9a-f]{8}\.r[0-9]+")


def _load_directory(directory: Path) -> tuple[list[x509.Certificate], list[x509.CertificateRevocationList]]:
    """The certificates of every PEM file in ``directory`` (unreadable or malformed files are passed over, as
    OpenSSL's lookup does), and the CRLs of the files named as OpenSSL looks CRLs up (``<hash>.r<n>``)."""
    anchors: list[x509.Certificate] = []
    crls: list[x509.CertificateRevocationList] = []
    if not directory.is_dir():
        return anchors, crls
    for entry in sorted(directory.iterdir()):
        if not entry.is_file():
            continue
        try:
            data = entry.read_bytes()
        except OSError:
            continue
        if _CAPATH_CRL.fullmatch(entry.name):
            crls += parse_crls(data)
        if b"-----BEGIN CERTIFICATE-----" not in data:
            continue
        try:
            anchors += parse_certificates(data)
        except SSLError:
            continue
    return anchors, crls


def default_trust_anchors() -> list[x509.Certificate]:
    """The system trust store (``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` or OpenSSL's paths), else certifi."""
    paths = ssl.get_default_verify_paths()
    cafile = os.environ.get(paths.openssl_cafile_env) or paths.cafile
    capath = os.environ.get(paths.openssl_capath_env) or paths.capath
    anchors: list[x509.Certificate] = []
    if cafile and os.path.isfile(cafile):
        anchors += parse_certificates(_read(cafile))
    if not anchors and capath:
        anchors += _load_directory(Path(capath))[0]
    if not anchors:
        import certifi

        anchors += parse_certificates(_read(certifi.where()))
    return anchors


def unique(certificates: Iterable[x509.Certificate]) -> list[x509.Certificate]:
    """``certificates`` in order, without repeats (by DER encoding: certificates hash and compare by it).

    Remembered for the last few sequences of the same certificate objects (by identity; the entry keeps
    them alive), since hashing ~150 roots is most of what a new context over a shared store costs.
    """
    given = tuple(certificates)
    # The entry keeps ``given`` alive, so the identities in its key stay unique to these objects.
    _, result = _UNIQUE.get(tuple(map(id, given)), lambda: (given, tuple(dict.fromkeys(given))))
    return list(result)


_UNIQUE: RecentResults[tuple[int, ...], tuple[tuple[x509.Certificate, ...], tuple[x509.Certificate, ...]]] = (
    RecentResults(32)
)
