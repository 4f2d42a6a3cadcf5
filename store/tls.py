"""The TLS context for a ``rediss://`` URL, built from the same ``ssl_*`` options redis-py takes.

:mod:`store.multiplex` opens its own connections, so it needs the context redis-py's
``SSLConnection`` would use. We build it here from the options of that class's public
constructor (``ssl_cert_reqs``, ``ssl_ca_certs``, ``ssl_check_hostname``...), with its
defaults: certificates required and host names checked unless the URL says otherwise.
"""

from __future__ import annotations

import ssl
from typing import Any

_CERT_REQS = {"none": ssl.CERT_NONE, "optional": ssl.CERT_OPTIONAL, "required": ssl.CERT_REQUIRED}


def tls_context(options: dict[str, Any]) -> ssl.SSLContext:
    """An ``SSLContext`` for redis-py connection options (a pool's ``connection_kwargs``)."""
    reqs = options.get("ssl_cert_reqs", "required")
    if isinstance(reqs, str):
        if reqs not in _CERT_REQS:
            raise ValueError(f"ssl_cert_reqs must be none, optional or required, not {reqs!r}")
        reqs = _CERT_REQS[reqs]
    context = ssl.create_default_context()
    check = options.get("ssl_check_hostname", True)
    context.check_hostname = bool(check) and reqs != ssl.CERT_NONE
    context.verify_mode = ssl.VerifyMode(reqs)
    for flag in options.get("ssl_include_verify_flags") or ():
        context.verify_flags |= flag
    for flag in options.get("ssl_exclude_verify_flags") or ():
        context.verify_flags &= ~flag
    certfile, keyfile = options.get("ssl_certfile"), options.get("ssl_keyfile")
    if keyfile and not certfile:
        raise ValueError("ssl_keyfile needs ssl_certfile (the client certificate)")
    if certfile:
        context.load_cert_chain(certfile, keyfile, options.get("ssl_password"))
    cafile, capath, cadata = (
        options.get(k) for k in ("ssl_ca_certs", "ssl_ca_path", "ssl_ca_data")
    )
    if cafile or capath or cadata:
        context.load_verify_locations(cafile=cafile, capath=capath, cadata=cadata)
    if options.get("ssl_min_version") is not None:
        context.minimum_version = options["ssl_min_version"]
    if options.get("ssl_ciphers") is not None:
        context.set_ciphers(options["ssl_ciphers"])
    return context
