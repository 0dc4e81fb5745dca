from django.urls import path

from . import views

app_name = "opportunities"
urlpatterns = [
    path("", views.queue, name="queue"),
    # Queue half (issue 4)
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/snooze/", views.snooze, name="snooze"),
    path("<int:pk>/ignore/", views.ignore, name="ignore"),
    path("<int:pk>/review/", views.review, name="review"),
    path("<int:pk>/apply/", views.apply, name="apply"),
    path("bulk/", views.bulk_preview, name="bulk_preview"),
    path("bulk/<int:pk>/", views.bulk_progress_view, name="bulk_progress"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/open/", views.notification_open, name="notification_open"),
    path("notifications/read/", views.notification_read_all, name="notifications_read_all"),
]
