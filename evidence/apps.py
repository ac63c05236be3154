from django.apps import AppConfig
from django.db.models.signals import post_migrate


class EvidenceConfig(AppConfig):
    name = "evidence"

    def ready(self) -> None:
        from config.schedules import ensure_periodic_tasks

        # After the last migration of this app, the beat tables exist: write any missing schedule.
        post_migrate.connect(ensure_periodic_tasks, sender=self, dispatch_uid="evidence-periodic-tasks")
