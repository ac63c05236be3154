"""The assistant's full-text index of each organisation's policies and evidence (chat/document_index.py).

PostgreSQL: a stored tsvector column generated from the title (weight A) and body (weight B), with a
GIN index. SQLite: an FTS5 table over the entries' title and body, kept in step by triggers on every
insert, update and delete (cascades included). Then the index is filled from existing rows.

On SQLite, a later migration that alters chat_documentindex remakes the table and so drops the
triggers: it must create them again (TRIGGERS below) and run `manage.py reindex_documents`.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


FTS_TABLE = "chat_documentindex_fts"
TRIGGERS = (
    f"""CREATE TRIGGER chat_documentindex_fts_insert AFTER INSERT ON chat_documentindex BEGIN
        INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (new.id, new.title, new.body);
    END""",
    f"""CREATE TRIGGER chat_documentindex_fts_delete AFTER DELETE ON chat_documentindex BEGIN
        INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
    END""",
    f"""CREATE TRIGGER chat_documentindex_fts_update AFTER UPDATE ON chat_documentindex BEGIN
        INSERT INTO {FTS_TABLE} ({FTS_TABLE}, rowid, title, body) VALUES ('delete', old.id, old.title, old.body);
        INSERT INTO {FTS_TABLE} (rowid, title, body) VALUES (new.id, new.title, new.body);
    END""",
)


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE chat_documentindex ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
            "setweight(to_tsvector('english'::regconfig, title), 'A') || "
            "setweight(to_tsvector('english'::regconfig, body), 'B')) STORED"
        )
        schema_editor.execute(
            "CREATE INDEX chat_documentindex_search ON chat_documentindex USING gin (search_vector)"
        )
    elif schema_editor.connection.vendor == "sqlite":
        # External content: the words are indexed, the text itself stays in chat_documentindex only.
        schema_editor.execute(
            f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, body, content='chat_documentindex', "
            "content_rowid='id', tokenize='porter unicode61')"
        )
        for trigger in TRIGGERS:
            schema_editor.execute(trigger)


def drop_search_index(apps, schema_editor):
    # PostgreSQL's column and index go with the table, which the reversed CreateModel drops next.
    if schema_editor.connection.vendor == "sqlite":
        for name in ("insert", "delete", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS chat_documentindex_fts_{name}")
        schema_editor.execute(f"DROP TABLE IF EXISTS {FTS_TABLE}")


def fill_index(apps, schema_editor):
    # The shared builder, given this migration's models, so the text is indexed exactly as saves do.
    from chat.document_index import Sources, rebuild

    rebuild(
        sources=Sources(
            index=apps.get_model("chat", "DocumentIndex"),
            evidence=apps.get_model("evidence", "Evidence"),
            version=apps.get_model("policies", "PolicyVersion"),
        )
    )


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_notification'),
        ('chat', '0003_answers_and_proposals'),
        ('evidence', '0001_initial'),
        ('policies', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='DocumentIndex',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('policy', 'Policy'), ('evidence', 'Evidence')], max_length=10)),
                ('title', models.CharField(max_length=200)),
                ('body', models.TextField(blank=True)),
                ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('evidence', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='evidence.evidence')),
                ('organisation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organisation')),
                ('policy', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='policies.policy')),
            ],
            options={
                'verbose_name': 'document index entry',
                'verbose_name_plural': 'document index',
                'indexes': [models.Index(fields=['organisation', 'kind'], name='documentindex_org_kind')],
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('evidence__isnull', False), ('kind', 'evidence'), ('policy__isnull', True)), models.Q(('evidence__isnull', True), ('kind', 'policy'), ('policy__isnull', False)), _connector='OR'), name='documentindex_one_source')],
            },
        ),
        migrations.RunPython(create_search_index, drop_search_index),
        migrations.RunPython(fill_index, migrations.RunPython.noop),
    ]
