from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "clients"
    verbose_name = "Clients, catalogue and contracts"

    def ready(self):
        from django.db.models.signals import post_migrate

        from .roles import restore_roles

        post_migrate.connect(restore_roles, dispatch_uid="clients.restore_roles")
