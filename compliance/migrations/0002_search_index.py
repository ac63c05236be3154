"""The SQLite full-text index for control search. PostgreSQL searches the table itself, so it needs none."""

from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS compliance_control_fts USING fts5("
        "ref, title, description, synonyms, guidance, tokenize = 'porter unicode61')"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS compliance_control_fts")


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
