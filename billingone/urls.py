from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from . import views

admin.site.site_header = "BillingOne administration"
admin.site.site_title = "BillingOne admin"
admin.site.index_title = "Configuration"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz/", login_not_required(views.healthz), name="healthz"),
    path("clients/", include("clients.urls")),
    path("missed-billing/", include("opportunities.urls")),
    path("invoices/", include("invoices.urls")),
    path("admin/", admin.site.urls),
]
