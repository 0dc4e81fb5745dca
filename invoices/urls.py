from django.urls import path

from . import views

app_name = "invoices"
urlpatterns = [
    path("", views.invoice_list, name="list"),
    path("<int:pk>/", views.invoice_detail, name="detail"),
    path("<int:pk>/resend/", views.resend, name="resend"),
    path("<int:pk>/pdf/", views.invoice_pdf, name="pdf"),
    path("drafts/<int:pk>/pdf/", views.draft_pdf, name="draft_pdf"),
    path("drafts/<int:pk>/", views.draft_detail, name="draft"),
    path("runs/", views.run_list, name="runs"),
    path("runs/new/", views.run_new, name="run_new"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/issue/", views.run_issue, name="run_issue"),
    path("runs/<int:pk>/rebuild/", views.run_rebuild, name="run_rebuild"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="run_cancel"),
    path("payments/new/", views.record_payment, name="record_payment"),
]
