"""Challenges of the SMS one-time codes and the device sessions they open."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('voting', '0003_election_mobile_voting'),
    ]

    operations = [
        migrations.CreateModel(
            name='DeviceSession',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token_sha256', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField()),
                ('blinded_sha256', models.CharField(blank=True, max_length=64)),
                ('election', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='voting.election')),
                ('roll_entry', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='voting.voterrollentry')),
            ],
            options={
                'indexes': [models.Index(fields=['expires_at'], name='device_session_expires_idx')],
            },
        ),
        migrations.CreateModel(
            name='OtpChallenge',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('challenge_sha256', models.CharField(max_length=64, unique=True)),
                ('code_hmac', models.CharField(max_length=64)),
                ('created_at', models.DateTimeField()),
                ('expires_at', models.DateTimeField()),
                ('attempts', models.PositiveSmallIntegerField(default=0)),
                ('used_at', models.DateTimeField(blank=True, null=True)),
                ('election', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='voting.election')),
                ('roll_entry', models.ForeignKey(null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='voting.voterrollentry')),
            ],
            options={
                'indexes': [models.Index(fields=['expires_at'], name='otp_expires_idx')],
            },
        ),
    ]
