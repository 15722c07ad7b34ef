"""What every enclave web page sends, whichever hub service serves it (egress review, governance).

The pages run no script and are never framed or cached: one policy, written once, so a service cannot drift
into a weaker one. The reader's language comes from the browser, the same way for every service.
"""

from __future__ import annotations

from typing import Any

from enclave.i18n import pick_language

CSP = ("default-src 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


class PageBasics:
    """Mixed into a tornado RequestHandler: the security headers and the reader's language."""

    request: Any
    set_header: Any  # tornado's RequestHandler provides both; this class comes first in the bases

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", CSP)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    @property
    def lang(self) -> str:
        return pick_language(self.request.headers.get("Accept-Language", ""))
