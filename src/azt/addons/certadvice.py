"""When a client refuses azt's certificate, say which trust setting that client needs."""

import logging

from mitmproxy import tls

logger = logging.getLogger("azt.gateway")

ADVICE = (
    'trust the azt CA: `azt run -- CMD` or `eval "$(azt env)"` sets SSL_CERT_FILE (Python, '
    "Codex CLI), REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and NODE_EXTRA_CA_CERTS (Node); "
    "`azt certs trust` installs it system-wide"
)


class CertAdvice:
    def tls_failed_client(self, data: tls.TlsData) -> None:
        client = data.context.client
        host = client.sni or "an intercepted host"
        reason = client.error or "handshake failed"
        logger.warning("a client rejected azt's certificate for %s (%s); %s", host, reason, ADVICE)
