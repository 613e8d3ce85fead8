"""On PostgreSQL, a trigger refuses UPDATE and DELETE on the officials' audit log (a no-op elsewhere).

The application never changes a record, so the trigger only stops someone with plain SQL
access to the application's role. Its one exception is sealing a row written before the
log was chained (``seq`` still null), which the first append after the upgrade does once.
A database owner can still drop the trigger; the hash chain, signatures and ledger anchors
are what detect that (``manage.py verify_official_log``).
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION voting_officialaction_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.seq IS NULL THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the officials'' audit log is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS voting_officialaction_append_only ON voting_officialaction;
CREATE TRIGGER voting_officialaction_append_only BEFORE UPDATE OR DELETE ON voting_officialaction
    FOR EACH ROW EXECUTE FUNCTION voting_officialaction_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS voting_officialaction_append_only ON voting_officialaction;
DROP FUNCTION IF EXISTS voting_officialaction_append_only();
"""


def create_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("voting", "0004_official_log_chain")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
