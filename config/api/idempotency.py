"""`Idempotency-Key` on POST: a retried request gets the first response instead of a second write.

The record and the work share one transaction, so either both are stored or neither: a request that
failed can be retried with the same key. A concurrent duplicate waits on the unique index, then
replays. Reusing a key for a different request is refused (422); one still in flight answers 409.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import IdempotencyRecord
from config.api.access import principal_id
from config.encryption import decrypt_text, encrypt_text

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)


class IdempotencyConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "A request with this Idempotency-Key is still being processed. Retry shortly."


class IdempotencyMismatch(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was already used for a different request."


def fingerprint(request: Request) -> str:
    digest = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    data = request.data
    # A form's fields may repeat; a JSON body may be any JSON value, not only an object.
    plain = {key: data.getlist(key) for key in data} if hasattr(data, "getlist") else data
    digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    for name, upload in sorted(request.FILES.items()):
        digest.update(f"\n{name}:{upload.name}:{upload.size}:".encode())
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
    return digest.hexdigest()


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap an organisation view's `post` so an `Idempotency-Key` makes it safe to retry."""

    @wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER, "").strip()
        if not key:
            return handler(view, request, *args, **kwargs)
        if len(key) > 255:
            raise ValidationError({HEADER: ["Use at most 255 characters."]})
        organisation = view.resolve_access().organisation
        principal, request_fingerprint = principal_id(request), fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        organisation=organisation, principal=principal, key=key, request_fingerprint=request_fingerprint
                    )
            except IntegrityError:
                return _replay(organisation, principal, key, request_fingerprint)
            response = handler(view, request, *args, **kwargs)
            if response.status_code >= 500:
                transaction.set_rollback(True)
                return response
            record.response_status = response.status_code
            record.response_body = _as_json(response.data)
            record.response_location = response.headers.get("Location", "")
            record.save(update_fields=["response_status", "response_body", "response_location"])
            return response

    return wrapper


def _as_json(data: Any) -> Any:
    """What the client received, sealed: a response may carry a secret shown once (a webhook's signing
    secret), so the stored copy is encrypted like other secrets at rest (config.encryption)."""
    if data is None:
        return None
    # Rendered first: serializers may leave dates, decimals or lazy text in `data`.
    return {"sealed": encrypt_text(JSONRenderer().render(data).decode())}


def _unsealed(body: Any) -> Any:
    if isinstance(body, dict) and set(body) == {"sealed"}:
        return json.loads(decrypt_text(body["sealed"]))
    return body


def _replay(organisation: Any, principal: str, key: str, request_fingerprint: str) -> Response:
    record = IdempotencyRecord.objects.filter(organisation=organisation, principal=principal, key=key).first()
    if record is None or record.response_status is None:
        raise IdempotencyConflict()
    if record.request_fingerprint != request_fingerprint:
        raise IdempotencyMismatch()
    headers = {"Idempotent-Replayed": "true"}
    if record.response_location:
        headers["Location"] = record.response_location
    return Response(_unsealed(record.response_body), status=record.response_status, headers=headers)


def idempotency_records_prune() -> int:
    """Forget keys older than a day (run daily by beat)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEPT_FOR).delete()
    return deleted
