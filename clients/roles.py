"""The console's roles as Django groups with named permissions.

Code checks permissions (``user.has_perm("invoices.add_payment")``), never group
names. Each app grants its own permissions to the groups from a data migration
with :func:`grant`, so a new app never has to edit another app's migrations.
"""

VIEWER = "Viewer"
FINANCE = "Finance"
ADMIN = "Admin"
ROLES = (VIEWER, FINANCE, ADMIN)


def ensure_permissions(apps, app_label):
    """Create an app's permissions now (Django only does it after all migrations)."""
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config(app_label)
    saved, app_config.models_module = getattr(app_config, "models_module", None), True
    try:
        create_permissions(app_config, apps=apps, verbosity=0)
    finally:
        app_config.models_module = saved


def grant(
    apps, app_label, *, viewer=(), finance=(), admin=(), all_model_perms_to_admin=True, views_to_all=True, strict=True
):
    """Give the three roles an app's permissions, cumulatively (Finance ⊇ Viewer, Admin ⊇ Finance).

    ``viewer`` etc. are permission codenames of ``app_label``. Every ``view_*``
    permission of the app goes to all three roles (unless ``views_to_all`` is false); with ``all_model_perms_to_admin``
    the add/change/delete permissions go to Admin as well. A data migration passes
    ``strict=False``: a permission a later migration creates is granted when that one runs
    (and by the post_migrate hook, which is strict, so a misspelt codename still fails).
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ensure_permissions(apps, app_label)
    perms = Permission.objects.filter(content_type__app_label=app_label)
    views = set()
    if views_to_all:
        views = set(perms.filter(codename__startswith="view_").values_list("codename", flat=True))
    levels = {VIEWER: views | set(viewer)}
    levels[FINANCE] = levels[VIEWER] | set(finance)
    levels[ADMIN] = levels[FINANCE] | set(admin)
    if all_model_perms_to_admin:
        levels[ADMIN] |= set(perms.values_list("codename", flat=True))
    for role, codenames in levels.items():
        group, _ = Group.objects.get_or_create(name=role)
        wanted = list(perms.filter(codename__in=codenames))
        missing = set(codenames) - {p.codename for p in wanted}
        if missing and strict:
            raise LookupError(f"{app_label}: no such permission(s) {sorted(missing)}")
        group.permissions.add(*wanted)


def revoke(apps, app_label):
    """Reverse of :func:`grant`: take an app's permissions away from the roles."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    perms = Permission.objects.filter(content_type__app_label=app_label)
    for group in Group.objects.filter(name__in=ROLES):
        group.permissions.remove(*perms)


# What each app grants the roles, declared once (in the app's AppConfig.ready() for
# project apps). The data migrations and the post_migrate hook below both use it.
GRANTS = {
    "clients": {},
    "auth": {"views_to_all": False},
    "django_celery_beat": {"views_to_all": False},
    "axes": {"views_to_all": False},  # Admin sees and clears failed sign-ins (unlocks a user)
}


def declare(app_label, **spec):
    """Declare an app's role grants (see :func:`grant` for the keys)."""
    GRANTS[app_label] = spec


def grant_declared(apps, app_label, *, strict=False):
    """Grant an app's declared permissions (for data migrations; see :func:`grant`)."""
    Group = apps.get_model("auth", "Group")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    grant(apps, app_label, strict=strict, **GRANTS[app_label])


def restore_roles(sender, apps=None, **kwargs):
    """post_migrate: keep the roles whole after ``migrate`` and after a ``flush``
    (which empties the groups the data migrations made)."""
    from django.apps import apps as global_apps

    apps = apps or global_apps
    if sender.label in GRANTS:
        try:
            apps.get_model("auth", "Group")
            # ``migrate <app> <migration>`` on a new database: apps not migrated yet are not in
            # the state; their own data migrations grant their permissions when they run.
            apps.get_app_config(sender.label)
        except LookupError:
            return
        grant_declared(apps, sender.label, strict=True)
