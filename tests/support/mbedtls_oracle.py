"""Real mbedTLS 2.28 (python-mbedtls's bundled library) as the reference verifier.

Two views of the same library:
- :func:`handshake` — a python-mbedtls TLS 1.2 client with the trust set as CA list,
  against a real server on 127.0.0.1: what a device's handshake returns.
- :func:`x509_verify` — ``mbedtls_x509_crt_verify`` called through ctypes on the very
  ``libmbedx509`` python-mbedtls loaded: the exact verification flags, which the TLS API
  does not expose.

mbedTLS checks dates against the host clock (MBEDTLS_HAVE_TIME_DATE is on upstream), so
scenarios must be minted relative to now and compared with the ``synced`` clock.
"""

from __future__ import annotations

import ctypes
import glob
import os
import socket
from collections.abc import Sequence

from .verify_pki import Minted, tls_server

try:
    from mbedtls import tls as mtls
    from mbedtls import x509 as mx509
    from mbedtls.exceptions import TLSError

    HAVE_MBEDTLS = True
except ImportError:  # pragma: no cover - CI installs python-mbedtls
    HAVE_MBEDTLS = False


def _trust_store(trust_ders: Sequence[bytes]) -> object:
    # TrustStore([a, b]) would hand mbedTLS only the first certificate: add one by one.
    # A certificate mbedTLS refuses is left out, as mbedtls_x509_crt_parse leaves it out of
    # a CA file (the C harness checks that behaviour on the library itself).
    store = mtls.TrustStore()
    for der in trust_ders:
        try:
            crt = mx509.CRT.from_DER(der)
        except Exception:  # python-mbedtls raises its TLSError family for parse errors
            continue
        store.add(crt)
    return store


def handshake(
    trust_ders: Sequence[bytes],
    chain: Sequence[Minted],
    *,
    hostname: str | None = "localhost",
    timeout: float = 10,
) -> int:
    """0 when the real mbedTLS client accepts the chain served by a real TLS server, else
    the (negative) mbedTLS error of the failed handshake. ``hostname`` is the name the
    client checks (None: python-mbedtls sets none)."""
    with tls_server(chain) as port:
        conf = mtls.TLSConfiguration(
            trust_store=_trust_store(trust_ders),
            validate_certificates=True,
            lowest_supported_version=mtls.TLSVersion.TLSv1_2,
            highest_supported_version=mtls.TLSVersion.TLSv1_2,
        )
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        conn = mtls.ClientContext(conf).wrap_socket(sock, server_hostname=hostname)
        try:
            conn.do_handshake()
            return 0
        except TLSError as e:
            return -int(e.err)
        finally:
            conn.close()


def _load(name: str) -> ctypes.CDLL | None:
    """python-mbedtls's own copy of the library ``name`` (its wheel's bundled one, else
    the one its extension loaded), so the oracle is the mbedTLS the handshakes use."""
    site = os.path.dirname(os.path.dirname(mx509.__file__))
    found = glob.glob(os.path.join(site, "python_mbedtls.libs", f"{name}*.so*"))
    if not found:
        with open("/proc/self/maps") as maps:
            found = sorted({ln.split()[-1] for ln in maps if name in ln})
    return ctypes.CDLL(found[0]) if found else None


_LIB: ctypes.CDLL | None = None
_CRT_BYTES = 4096  # generously above sizeof(mbedtls_x509_crt) in 2.28 (~600 bytes)


def _lib() -> ctypes.CDLL | None:
    global _LIB
    if _LIB is not None or not HAVE_MBEDTLS:
        return _LIB
    lib = _load("libmbedx509")
    if lib is None:
        return None
    lib.mbedtls_x509_crt_init.argtypes = [ctypes.c_void_p]
    lib.mbedtls_x509_crt_free.argtypes = [ctypes.c_void_p]
    lib.mbedtls_x509_crt_parse_der.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.mbedtls_x509_crt_verify.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.POINTER(ctypes.c_uint32),
        ctypes.c_void_p,
        ctypes.c_void_p,
    ]
    _LIB = lib
    return lib


def x509_available() -> bool:
    return _lib() is not None


def x509_verify(trust_ders: Sequence[bytes], chain_ders: Sequence[bytes]) -> tuple[int, int]:
    """(return code, flags) of ``mbedtls_x509_crt_verify(chain, trust, NULL, NULL, ...)``
    with mbedTLS's default profile (the one TLS uses)."""
    lib = _lib()
    assert lib is not None
    chain = ctypes.create_string_buffer(_CRT_BYTES)
    trust = ctypes.create_string_buffer(_CRT_BYTES)
    lib.mbedtls_x509_crt_init(chain)
    lib.mbedtls_x509_crt_init(trust)
    try:
        for der in chain_ders:
            rc = lib.mbedtls_x509_crt_parse_der(chain, der, len(der))
            assert rc == 0, f"mbedTLS cannot parse a chain certificate: -0x{-rc:04x}"
        for der in trust_ders:
            rc = lib.mbedtls_x509_crt_parse_der(trust, der, len(der))
            assert rc == 0, f"mbedTLS cannot parse a trusted certificate: -0x{-rc:04x}"
        flags = ctypes.c_uint32(0)
        ret = lib.mbedtls_x509_crt_verify(
            chain, trust if trust_ders else None, None, None, ctypes.byref(flags), None, None
        )
        return ret, flags.value
    finally:
        lib.mbedtls_x509_crt_free(chain)
        lib.mbedtls_x509_crt_free(trust)


# ---------------------------------------------------------------------------------------
# ESP-IDF's bundle callback on top of real mbedTLS

_VRFY = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_uint32)
)
_NOT_TRUSTED, _BAD_MD = 0x08, 0x4000
_VERIFY_FAILED = -0x2700


def _crt_raw(crt: int) -> bytes:
    """``crt->raw`` of an ``mbedtls_x509_crt``: after ``int own_buffer`` comes the
    ``mbedtls_x509_buf raw`` {int tag; size_t len; unsigned char *p} (2.28, LP64)."""
    length = ctypes.c_size_t.from_address(crt + 16).value
    pointer = ctypes.c_void_p.from_address(crt + 24).value
    return ctypes.string_at(pointer, length) if pointer else b""


def _signed_with(child_der: bytes, spki: bytes) -> bool:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    child = x509.load_der_x509_certificate(child_der)
    key = load_der_public_key(spki)
    h = child.signature_hash_algorithm
    assert h is not None
    try:
        if isinstance(key, rsa.RSAPublicKey):
            params = child.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            key.verify(child.signature, child.tbs_certificate_bytes, pad, h)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(child.signature, child.tbs_certificate_bytes, ec.ECDSA(h))
        else:
            return False
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def x509_verify_idf_bundle(
    bundle: Sequence[tuple[bytes, bytes]], chain_ders: Sequence[bytes]
) -> tuple[int, int]:
    """``mbedtls_x509_crt_verify`` against ESP-IDF's empty dummy CA, with a verify
    callback written from ``esp_crt_verify_callback`` (binary search on the DER subject,
    ``memcmp`` over the shorter length; signature with the stored key; flags cleared)."""
    from cryptography import x509

    lib = _lib()
    assert lib is not None
    entries = sorted(bundle, key=lambda e: e[0])

    def find(issuer: bytes) -> tuple[bytes, bytes] | None:
        start, end = 0, len(entries) - 1
        while start <= end:
            middle = (start + end) // 2
            name = entries[middle][0]
            n = min(len(issuer), len(name))
            if issuer[:n] == name[:n]:
                return entries[middle]
            if issuer[:n] < name[:n]:
                end = middle - 1
            else:
                start = middle + 1
        return None

    def callback(_ctx: int, crt: int, _depth: int, flags: ctypes._Pointer) -> int:  # type: ignore[type-arg]
        if flags[0] & ~_BAD_MD != _NOT_TRUSTED:
            return 0
        der = _crt_raw(crt)
        issuer = x509.load_der_x509_certificate(der).issuer.public_bytes()
        hit = find(issuer)
        if hit is not None and _signed_with(der, hit[1]):
            flags[0] = 0
            return 0
        return _VERIFY_FAILED

    chain = ctypes.create_string_buffer(_CRT_BYTES)
    dummy = ctypes.create_string_buffer(_CRT_BYTES)  # ESP-IDF's zeroed s_dummy_crt
    lib.mbedtls_x509_crt_init(chain)
    try:
        for der in chain_ders:
            assert lib.mbedtls_x509_crt_parse_der(chain, der, len(der)) == 0
        assert _crt_raw(ctypes.addressof(chain)) == chain_ders[0], "unexpected struct layout"
        flags = ctypes.c_uint32(0)
        cb = _VRFY(callback)
        ret = lib.mbedtls_x509_crt_verify(
            chain, dummy, None, None, ctypes.byref(flags), ctypes.cast(cb, ctypes.c_void_p), None
        )
        return ret, flags.value
    finally:
        lib.mbedtls_x509_crt_free(chain)


# ---------------------------------------------------------------------------------------
# mbedtls_pk_parse_public_key, as ESP-IDF's esp_crt_check_signature calls it on a key

_CRYPTO: ctypes.CDLL | None = None
_PK_BYTES = 64  # mbedtls_pk_context is {pk_info, pk_ctx}: two pointers in 2.28


def _crypto() -> ctypes.CDLL | None:
    global _CRYPTO
    if _CRYPTO is not None or not HAVE_MBEDTLS:
        return _CRYPTO
    lib = _load("libmbedcrypto")
    if lib is None:
        return None
    lib.mbedtls_pk_init.argtypes = [ctypes.c_void_p]
    lib.mbedtls_pk_free.argtypes = [ctypes.c_void_p]
    lib.mbedtls_pk_parse_public_key.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    _CRYPTO = lib
    return lib


def pk_available() -> bool:
    return _crypto() is not None


def pk_parse_public_key(key: bytes) -> int:
    """What real mbedTLS 2.28's ``mbedtls_pk_parse_public_key`` returns for ``key`` (0,
    or the negative error): what an ESP-IDF 4.4/5.0 unit does with a bundle root's key."""
    lib = _crypto()
    assert lib is not None
    ctx = ctypes.create_string_buffer(_PK_BYTES)
    lib.mbedtls_pk_init(ctx)
    try:
        return int(lib.mbedtls_pk_parse_public_key(ctx, key, len(key)))
    finally:
        lib.mbedtls_pk_free(ctx)
