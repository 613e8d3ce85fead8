"""The officials' audit log becomes a signed hash chain (seq, previous hash, body, hash, signature) with a head row."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('voting', '0003_election_mobile_voting'),
    ]

    operations = [
        migrations.CreateModel(
            name='OfficialLogHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('seq', models.BigIntegerField(default=-1)),
                ('record_hash', models.CharField(blank=True, default='', max_length=64)),
            ],
        ),
        migrations.AddField(
            model_name='officialaction',
            name='body',
            field=models.TextField(blank=True, default=''),
        ),
        migrations.AddField(
            model_name='officialaction',
            name='prev_hash',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='officialaction',
            name='record_hash',
            field=models.CharField(blank=True, db_index=True, default='', max_length=64),
        ),
        migrations.AddField(
            model_name='officialaction',
            name='seq',
            field=models.BigIntegerField(null=True, unique=True),
        ),
        migrations.AddField(
            model_name='officialaction',
            name='signature',
            field=models.CharField(blank=True, default='', max_length=128),
        ),
        migrations.CreateModel(
            name='OfficialLogAnchor',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('label', models.CharField(max_length=64)),
                ('anchor_seq', models.BigIntegerField()),
                ('log_seq', models.BigIntegerField()),
                ('record_hash', models.CharField(max_length=64)),
                ('tx_id', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['-anchor_seq'],
                'constraints': [models.UniqueConstraint(fields=('label', 'anchor_seq'), name='official_log_anchor_unique')],
            },
        ),
    ]
