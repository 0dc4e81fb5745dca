from django.urls import path

from . import views
from .views import imports as import_views
from .views import rules as rule_views
from .views import runs as run_views

app_name = "opportunities"
urlpatterns = [
    path("", views.queue, name="queue"),
    # Detection half (issue 3): mapping rules, thresholds, imports, runs.
    path("rules/", rule_views.rule_list, name="rules"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/<int:pk>/edit/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", rule_views.rule_delete, name="rule_delete"),
    path("rules/thresholds/", rule_views.thresholds, name="thresholds"),
    path("imports/", import_views.import_list, name="imports"),
    path("imports/upload/", import_views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/commit/", import_views.import_commit, name="import_commit"),
    path("imports/<int:pk>/discard/", import_views.import_discard, name="import_discard"),
    path("runs/", run_views.run_list, name="runs"),
    path("runs/start/", run_views.run_now, name="run_detection"),
]
