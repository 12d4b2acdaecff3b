"""The TLS context of the TLS port, from the tls-* settings (Redis's tlsConfigure).

Room: turning configuration into an `ssl.SSLContext`. Imports: `config`, `ssl`.

The checks and their texts are Redis's: a certificate and a key are needed, and a CA
(file or directory) whenever clients must (or may) present a certificate. A context is
built whole before it replaces the old one, so a bad CONFIG SET changes nothing.
"""

from __future__ import annotations

import ssl

from diskredis.config import Config

__all__ = ["TlsError", "tls_context"]

_PROTOCOLS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}
_ORDER = list(_PROTOCOLS.values())


class TlsError(Exception):
    """The TLS settings can't make a context; the text says why, as Redis logs it."""


def tls_context(config: Config) -> ssl.SSLContext:
    cert, key = config["tls-cert-file"], config["tls-key-file"]
    if not cert:
        raise TlsError("No tls-cert-file configured!")
    if not key:
        raise TlsError("No tls-key-file configured!")
    auth = config["tls-auth-clients"]
    ca_file, ca_dir = config["tls-ca-cert-file"], config["tls-ca-cert-dir"]
    if auth != "no" and not ca_file and not ca_dir:
        raise TlsError(
            "Either tls-ca-cert-file or tls-ca-cert-dir must be specified when "
            "tls-cluster, tls-replication or tls-auth-clients are enabled!"
        )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    versions = _protocols(config["tls-protocols"])
    ctx.minimum_version, ctx.maximum_version = versions[0], versions[-1]
    try:
        ctx.load_cert_chain(cert, key, password=config["tls-key-file-pass"] or None)
    except (OSError, ssl.SSLError) as e:
        raise TlsError(
            "Failed to load certificate %s or private key %s: %s" % (cert, key, _why(e))
        ) from None
    if ca_file or ca_dir:
        try:
            ctx.load_verify_locations(cafile=ca_file or None, capath=ca_dir or None)
        except (OSError, ssl.SSLError) as e:
            raise TlsError(
                "Failed to configure CA certificate(s) file/directory: %s" % _why(e)
            ) from None
    ciphers = config["tls-ciphers"]
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TlsError("Failed to configure ciphers: %s" % ciphers) from None
    dh = config["tls-dh-params-file"]
    if dh:
        try:
            ctx.load_dh_params(dh)
        except (OSError, ssl.SSLError) as e:
            raise TlsError("Failed to load DH params file: %s: %s" % (dh, _why(e))) from None
    ctx.verify_mode = {
        "yes": ssl.CERT_REQUIRED,
        "optional": ssl.CERT_OPTIONAL,
        "no": ssl.CERT_NONE,
    }[auth]
    ctx.options |= ssl.OP_NO_RENEGOTIATION  # Redis: SSL_OP_NO_CLIENT_RENEGOTIATION
    if config["tls-prefer-server-ciphers"]:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    return ctx


def _protocols(text: str) -> list[ssl.TLSVersion]:
    """tls-protocols: the versions named (TLSv1.2 and TLSv1.3 when empty), as the span
    from the oldest to the newest named."""
    if not text.strip():
        return [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]
    chosen = []
    for word in text.split():
        version = _PROTOCOLS.get(word.lower())
        if version is None:
            raise TlsError(
                "Invalid tls-protocols specified. Use a combination of 'TLSv1', "
                "'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'."
            )
        chosen.append(version)
    span = sorted(set(chosen), key=_ORDER.index)
    if _ORDER.index(span[-1]) - _ORDER.index(span[0]) + 1 != len(span):
        raise TlsError(
            "tls-protocols must name consecutive versions (diskredis sets the "
            "oldest and the newest version allowed; there is no way to leave "
            "one out in between)"
        )
    return span


def _why(e: Exception) -> str:
    if isinstance(e, ssl.SSLError):
        return str(e.reason or e)
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)
