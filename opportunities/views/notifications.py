"""The signed-in user's notifications: list, open one (marks it read), mark all read."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from ..models import Notification
from ..services.notifications import mark_read


@login_required
def notification_list(request) -> HttpResponse:
    notes = Notification.objects.filter(user=request.user).order_by("-created_at", "-id")[:100]
    return render(request, "opportunities/notifications.html", {"notifications": notes})


@require_POST
@login_required
def notification_open(request, pk: int) -> HttpResponse:
    note = Notification.objects.filter(user=request.user, pk=pk).first()
    if note is None:
        raise Http404("No such notification.")
    mark_read(user=request.user, notification_id=note.pk)
    return HttpResponseRedirect(note.url)


@require_POST
@login_required
def notification_read_all(request) -> HttpResponse:
    mark_read(user=request.user)
    return HttpResponseRedirect(reverse("opportunities:notifications"))
