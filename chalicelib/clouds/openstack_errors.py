"""SDK and keystoneauth failures as the broker's CloudError family (chalicelib/domain/cloud.py).

One function, `map_cloud_error`, decides what every failure of the OpenStack adapter means to the broker
(docs/clouds.md, "Error mapping"). Imports `openstack`/`keystoneauth1`: only the adapter's modules use it.
"""

from __future__ import annotations

import re

import openstack.exceptions as sdk_exceptions
import requests
from keystoneauth1 import exceptions as ksa_exceptions

from chalicelib.domain.cloud import (
    CloudAuthFailed,
    CloudConflict,
    CloudError,
    CloudNotFound,
    CloudQuotaExceeded,
    CloudTransient,
    CloudUnreachable,
)

_QUOTA_PATTERN = re.compile(r"quota|limit ?exceeded|over ?limit", re.IGNORECASE)


class SentNotAnswered(requests.exceptions.RequestException):
    """A POST/PATCH went out and no answer came back (read timeout, connection lost): the cloud may have
    carried it out, so it is never sent again. keystoneauth retries timeouts and connection failures
    (CONNECT_RETRIES) but not this; map_cloud_error makes it a CloudTransient."""


def _http_error_message(error: Exception) -> str:
    details = getattr(error, "details", None)
    text = str(details).strip() if details else ""
    if not text:
        text = (getattr(error, "message", None) or str(error)).strip()
    return text or error.__class__.__name__


def _from_status(status: int | None, message: str) -> CloudError:
    if status == 401:
        return CloudAuthFailed(message)
    if status in (403, 409, 413) and _QUOTA_PATTERN.search(message):
        # Nova: 403 "Quota exceeded for instances" (413 in older releases); Cinder: 413 VolumeLimitExceeded;
        # Neutron: 409 "Quota exceeded for resources: ['floatingip']".
        return CloudQuotaExceeded(message)
    if status == 403:
        return CloudAuthFailed(message)  # policy forbids it: the center's account lacks a role
    if status == 404:
        return CloudNotFound(message)
    if status in (409, 412):
        return CloudConflict(message)
    if status in (413, 429) or (status is not None and status >= 500):
        return CloudTransient(message)
    return CloudError(message)


def _connection_failure_reason(error: Exception) -> str:
    text = str(error)
    for marker, reason in (("refused", "connection refused"), ("Name or service not known", "unknown host"),
                           ("No route to host", "no route to host"), ("reset", "connection reset")):
        if marker in text:
            return reason
    return text


def map_cloud_error(error: Exception, where: str) -> CloudError:
    """Turn an SDK or keystoneauth exception into the broker's CloudError family.

    `where` names what was being called ("Nova at http://...") for failures that carry no text of the
    cloud's own; HTTP errors keep the cloud's message verbatim.
    """
    if isinstance(error, CloudError):
        return error
    if isinstance(error, ksa_exceptions.ConnectTimeout):
        # keystoneauth reports both connect and read timeouts as ConnectTimeout; the cause tells them apart.
        if isinstance(error.__context__, requests.exceptions.ConnectTimeout):
            return CloudUnreachable(f"cannot reach {where}: connection timed out")
        return CloudTransient(f"{where} did not answer in time: {error}")
    if isinstance(error, ksa_exceptions.ConnectFailure | requests.exceptions.ConnectionError):
        return CloudUnreachable(f"cannot reach {where}: {_connection_failure_reason(error)}")
    if isinstance(error, ksa_exceptions.EndpointNotFound | sdk_exceptions.ServiceDiscoveryException):
        return CloudNotFound(f"the service catalog has no endpoint for {where}: {error}")
    if isinstance(error, ksa_exceptions.HttpError):
        return _from_status(error.http_status, _http_error_message(error))
    if isinstance(error, sdk_exceptions.HttpException):
        return _from_status(error.status_code, _http_error_message(error))
    if isinstance(error, sdk_exceptions.DuplicateResource):
        return CloudConflict(str(error))
    if isinstance(error, sdk_exceptions.ResourceTimeout):
        return CloudTransient(str(error))
    if isinstance(error, ksa_exceptions.UnknownConnectionError) and isinstance(
        error.original, SentNotAnswered
    ):
        return CloudTransient(f"{where} did not answer in time (the request may have been carried out): "
                              f"{error.original}")
    if isinstance(error, ksa_exceptions.ClientException | sdk_exceptions.SDKException):
        return CloudError(str(error) or error.__class__.__name__)
    raise error
