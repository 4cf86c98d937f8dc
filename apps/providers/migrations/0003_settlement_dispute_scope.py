"""The ``settlement:dispute`` scope for provider keys issued with every provider scope.

A key issued without explicit scopes gets every scope of its kind, so keys that
hold all the provider scopes of before are given the new one too; keys that
were narrowed on purpose keep exactly what they had.
"""

from django.db import migrations

PREVIOUS_PROVIDER_SCOPES = {"prepatients:read", "measurements:write", "settlement:read"}
SCOPE_ORDER = ["prepatients:read", "measurements:write", "settlement:read", "settlement:dispute"]


def grant_dispute_scope(apps, schema_editor):
    ApiCredential = apps.get_model("providers", "ApiCredential")
    for credential in ApiCredential.objects.filter(provider__isnull=False).only("scopes"):
        scopes = set(credential.scopes or ())
        if PREVIOUS_PROVIDER_SCOPES <= scopes and "settlement:dispute" not in scopes:
            credential.scopes = [s for s in SCOPE_ORDER if s in scopes | {"settlement:dispute"}]
            credential.save(update_fields=["scopes"])


def withdraw_dispute_scope(apps, schema_editor):
    ApiCredential = apps.get_model("providers", "ApiCredential")
    for credential in ApiCredential.objects.filter(provider__isnull=False).only("scopes"):
        if "settlement:dispute" in (credential.scopes or ()):
            credential.scopes = [s for s in credential.scopes if s != "settlement:dispute"]
            credential.save(update_fields=["scopes"])


class Migration(migrations.Migration):
    dependencies = [("providers", "0002_authorization_labs_scopes")]
    operations = [migrations.RunPython(grant_dispute_scope, withdraw_dispute_scope)]
