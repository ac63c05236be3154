from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0005_partner_api'),
    ]

    operations = [
        migrations.AddField(
            model_name='webhookdelivery',
            name='dedupe_key',
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddIndex(
            model_name='webhookdelivery',
            index=models.Index(condition=models.Q(('status__in', ['pending', 'retrying'])), fields=['next_attempt_at'], name='webhook_delivery_due'),
        ),
        migrations.AddConstraint(
            model_name='webhookdelivery',
            constraint=models.UniqueConstraint(condition=models.Q(('dedupe_key', ''), _negated=True), fields=('endpoint', 'dedupe_key'), name='webhook_delivery_once'),
        ),
    ]
