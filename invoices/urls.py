from django.urls import path

from . import views

app_name = "invoices"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/resend/", views.resend, name="resend"),
    path("payments/new/", views.record_payment, name="record_payment"),
]
