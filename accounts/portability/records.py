"""Field values to JSON and back, exactly: nothing may change on the way through an export and an import.

Django's JSON encoder is not used because it shortens times to milliseconds. Times keep their microseconds
and their UTC offset, decimals are strings (a float would round them), and JSON fields are written as the
JSON they hold. Relations and files are written by export.py and read by importer.py, not here.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from typing import Any

from django.db import models
from django.utils.duration import duration_iso_string


def encode(field: models.Field, value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return duration_iso_string(value)
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def decode(field: models.Field, value: Any) -> Any:
    if value is None or isinstance(field, models.JSONField):
        return value
    if isinstance(field, models.BinaryField):
        return base64.b64decode(value)
    return field.to_python(value)
