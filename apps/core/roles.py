"""Roles as permission groups. The agency's caseworkers are the back-office."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

CASEWORKERS = "Caseworkers"
CASEWORKER_APPS = ("programs", "providers", "registry", "consent", "measurements", "settlements")


def caseworker_group() -> Group:
    """Every back-office model and the access log (read), but not user accounts."""
    group, _created = Group.objects.get_or_create(name=CASEWORKERS)
    permissions = Permission.objects.filter(content_type__app_label__in=CASEWORKER_APPS)
    log = Permission.objects.filter(content_type__app_label="core", codename="view_accesslogentry")
    group.permissions.set([*permissions, *log])
    return group
