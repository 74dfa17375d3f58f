"""The loopback hop from the gateway's addons to the pool: the two headers that cross it.

Everything else the pool needs about a request is on its `Exchange`, found in-process by id.
"""

import secrets

SECRET_HEADER = "x-azt-pool-secret"  # this process's secret: nothing else may use the pool
EXCHANGE_HEADER = "x-azt-exchange"  # the id of the request's Exchange


def new_secret() -> str:
    return secrets.token_urlsafe(32)
