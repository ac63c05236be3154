"""How Greenlight writes things for people, in one place: dates as "21 November 2026"."""

from __future__ import annotations

from datetime import date, datetime

from django.utils import timezone

# Spelled out rather than taken from the locale, so a server set to another language still writes UK English.
MONTHS = ("", "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip


def long_date(day: date) -> str:
    """21 November 2026."""
    return f"{day.day} {MONTHS[day.month]} {day.year}"


def long_date_time(moment: datetime) -> str:
    """21 November 2026, 14:05 in the site's time zone."""
    local = timezone.localtime(moment)
    return f"{long_date(local.date())}, {local:%H:%M}"
