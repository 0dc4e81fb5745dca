"""The management commands and the demo seed."""

import pytest
from django.core.management import CommandError, call_command

from clients import demo as clients_demo
from opportunities import demo
from opportunities.models import DetectionRun, Device, MappingRule, Opportunity, SourceImport

from .factories import ClientFactory, DeviceFactory, DeviceRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_detect_missed_billing_for_one_client(capsys):
    acme = ClientFactory()
    DeviceRuleFactory()
    DeviceFactory(client=acme)
    DeviceFactory()
    call_command("detect_missed_billing", "--client", str(acme.pk))
    out = capsys.readouterr().out
    assert "1 clients, 1 devices" in out and "1 created" in out
    assert DetectionRun.objects.get().client_ids == [acme.pk]


def test_detect_missed_billing_warns_when_nothing_was_examined(capsys):
    call_command("detect_missed_billing")
    assert "Nothing was examined" in capsys.readouterr().out


def test_detect_missed_billing_refuses_an_unknown_client():
    with pytest.raises(CommandError, match="No client with id 999"):
        call_command("detect_missed_billing", "--client", "999")


def test_import_csv_commits_a_file_and_reports_errors_by_line(tmp_path, capsys):
    ClientFactory(rmm_id="RMM-9")
    good = tmp_path / "good.csv"
    good.write_text("device_id,client,hostname,device_type\nd-1,RMM-9,WS-1,workstation\n")
    call_command("import_csv", "devices", str(good))
    assert "Imported 1 rows" in capsys.readouterr().out
    assert Device.objects.get().device_id == "d-1"
    bad = tmp_path / "bad.csv"
    bad.write_text("device_id,client,hostname,device_type\nd-2,RMM-404,WS-2,workstation\n")
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_csv", "devices", str(bad))
    assert 'line 2: unknown client "RMM-404"' in capsys.readouterr().err
    assert Device.objects.get().device_id == "d-1"


def test_the_demo_fills_the_queue_with_every_kind_and_is_idempotent():
    clients_demo.seed()
    demo.seed()
    kinds = set(Opportunity.objects.values_list("kind", flat=True))
    assert kinds == {"unbilled", "quantity_gap", "unmigrated", "unmapped"}
    assert Opportunity.objects.filter(ready_to_apply=True).exists()
    assert Opportunity.objects.filter(ready_to_apply=False).exclude(kind="unmapped").exists()
    assert set(Opportunity.objects.values_list("severity", flat=True)) == {"high", "medium", "low"}
    assert Device.objects.filter(excluded=True).exists()
    before = (Opportunity.objects.count(), DetectionRun.objects.count(), SourceImport.objects.count())
    rules = MappingRule.objects.count()
    demo.seed()
    assert (Opportunity.objects.count(), DetectionRun.objects.count(), SourceImport.objects.count()) == before
    assert MappingRule.objects.count() == rules


def test_the_nightly_detection_is_scheduled_in_the_organisation_time_zone(settings):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="Missed billing: nightly detection")
    assert task.task == "opportunities.detect_nightly" and task.enabled
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("2", "30", settings.TIME_ZONE)


def test_the_nightly_task_runs_detection_over_every_client(celery_eager, django_capture_on_commit_callbacks):
    from opportunities.tasks import detect_nightly

    DeviceRuleFactory()
    DeviceFactory()
    DeviceFactory()
    with django_capture_on_commit_callbacks(execute=True):  # its chunks are queued on commit
        run = DetectionRun.objects.get(pk=detect_nightly.apply().get())
    run.refresh_from_db()
    assert (run.trigger, run.status, run.clients_examined, run.created) == ("nightly", "succeeded", 2, 2)
