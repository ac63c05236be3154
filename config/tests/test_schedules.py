"""The periodic tasks declared in config/schedules.py reach django-celery-beat's tables."""

from __future__ import annotations

import pytest
from django_celery_beat.models import PeriodicTask

from config.celery import app
from config.schedules import PERIODIC_TASKS, ensure_periodic_tasks

pytestmark = pytest.mark.django_db


def test_every_schedule_exists_after_migrate_and_names_a_real_task():
    # post_migrate wrote them when the test database was built.
    stored = dict(PeriodicTask.objects.values_list("name", "task"))
    app.loader.import_default_modules()  # what a worker does at start: every app's tasks module
    for name, (task, _when) in PERIODIC_TASKS.items():
        assert stored[name] == task
        assert task in app.tasks, f"{task} is not a registered Celery task"


def test_running_again_keeps_what_an_administrator_changed():
    name = next(iter(PERIODIC_TASKS))
    PeriodicTask.objects.filter(name=name).update(enabled=False)
    ensure_periodic_tasks()
    assert PeriodicTask.objects.filter(name=name).count() == 1
    assert PeriodicTask.objects.get(name=name).enabled is False
    PeriodicTask.objects.filter(name=name).delete()
    ensure_periodic_tasks()
    assert PeriodicTask.objects.get(name=name).crontab.timezone.key == "Europe/London"
