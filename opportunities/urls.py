from django.urls import path

from . import views
from .views import imports as import_views
from .views import rules as rule_views
from .views import runs as run_views

app_name = "opportunities"
urlpatterns = [
    path("", views.queue, name="queue"),
    # The queue: items, their actions, bulk apply, notifications.
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/snooze/", views.snooze, name="snooze"),
    path("<int:pk>/ignore/", views.ignore, name="ignore"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/reopen/", views.reopen, name="reopen"),
    path("<int:pk>/apply/", views.apply, name="apply"),
    path("<int:pk>/check-again/", views.recheck, name="recheck"),
    path("bulk/", views.bulk_preview, name="bulk_preview"),
    path("bulk/<int:pk>/", views.bulk_progress_view, name="bulk_progress"),
    path("bulk/<int:pk>/resume/", views.bulk_resume, name="bulk_resume"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("notifications/read/", views.notification_read_all, name="notifications_read_all"),
    # Detection: mapping rules, thresholds, imports, runs.
    path("rules/", rule_views.rule_list, name="rules"),
    path("rules/new/", rule_views.rule_create, name="rule_create"),
    path("rules/<int:pk>/edit/", rule_views.rule_edit, name="rule_edit"),
    path("rules/<int:pk>/delete/", rule_views.rule_delete, name="rule_delete"),
    path("rules/unmapped/<slug:source>.csv", rule_views.unmapped_csv, name="unmapped_csv"),
    path("rules/thresholds/", rule_views.thresholds, name="thresholds"),
    path("imports/", import_views.import_list, name="imports"),
    path("imports/upload/", import_views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", import_views.import_detail, name="import_detail"),
    path("imports/<int:pk>/commit/", import_views.import_commit, name="import_commit"),
    path("imports/<int:pk>/resume/", import_views.import_resume, name="import_resume"),
    path("imports/<int:pk>/discard/", import_views.import_discard, name="import_discard"),
    path("runs/", run_views.run_list, name="runs"),
    path("runs/start/", run_views.run_now, name="run_detection"),
]
