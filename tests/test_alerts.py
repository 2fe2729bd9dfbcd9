"""Alerts: e-mail through a real SMTP server on 127.0.0.1, files, and the
promise that nothing is alerted twice."""

import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import run_corral

ALERTS = '''
from corral import run
from corral.run import endpoints as ep

from . import models


class MailAlert(run.Alert):
    model = models.Example
    conditions = [models.Example.checked.is_(True)]
    alert_to = [
        ep.Email(to=["night@obs.example", "day@obs.example"]),
        ep.File("mail-copy.log"),
    ]


class TemplateAlert(run.Alert):
    model = models.Example
    conditions = []
    groups = ["templates"]
    alert_to = [ep.Email(to="astro@obs.example", sent_from="pipe@obs.example",
                         subject="New object", message="Look at {obj.name}")]
'''


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(
            envelope.content, policy=email.policy.default)
        self.messages.append((envelope.rcpt_tos, message))
        return "250 OK"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        ok = auth_data.password == b"s3cret"
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        inbox, hostname="127.0.0.1", port=_free_port(),
        authenticator=authenticator, auth_require_tls=False,
    )
    controller.start()
    inbox.port = controller.port
    inbox.logins = logins
    yield inbox
    controller.stop()


@pytest.fixture
def project(tmp_path, smtp):
    assert run_corral("create", "pipe", cwd=tmp_path).returncode == 0
    project = tmp_path / "pipe"
    (project / "pipe" / "alerts.py").write_text(ALERTS)
    settings = project / "pipe" / "settings.py"
    settings.write_text(settings.read_text() + f'''
ALERTS = ["pipe.alerts.MailAlert", "pipe.alerts.TemplateAlert"]
EMAIL = {{"server": "127.0.0.1:{smtp.port}", "tls": False,
         "user": "pipe@obs.example"}}
''')
    for args in (["createdb", "--noinput"], ["load"], ["run", "--sync"]):
        assert run_corral(*args, cwd=project).returncode == 0
    return project


def test_email_alert_sends_real_mail(project, smtp):
    result = run_corral("check-alerts", "--sync", cwd=project,
                        env={"CORRAL_EMAIL_PASSWORD": "s3cret"})
    assert result.returncode == 0, result
    assert smtp.logins and smtp.logins[0] == (b"pipe@obs.example", b"s3cret")
    assert len(smtp.messages) == 2
    by_subject = {m["Subject"]: (rcpt, m) for rcpt, m in smtp.messages}
    rcpt, mail = by_subject["[pipe] MailAlert"]
    assert rcpt == ["night@obs.example", "day@obs.example"]
    assert mail["From"] == "pipe@obs.example"
    assert "Check the object '<Example 1: first example>'" in (
        mail.get_content())
    rcpt, mail = by_subject["New object"]
    assert rcpt == ["astro@obs.example"]
    assert mail["From"] == "pipe@obs.example"
    assert mail.get_content().strip() == "Look at first example"
    copy = (project / "mail-copy.log").read_text()
    assert "first example" in copy

    again = run_corral("check-alerts", "--sync", cwd=project,
                       env={"CORRAL_EMAIL_PASSWORD": "s3cret"})
    assert again.returncode == 0, again
    assert len(smtp.messages) == 2, "each object is alerted once"
    assert copy == (project / "mail-copy.log").read_text()


def test_wrong_password_is_one_clear_error(project, smtp):
    result = run_corral("check-alerts", "--sync", "-a", "MailAlert",
                        cwd=project, env={"CORRAL_EMAIL_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert "settings.EMAIL['server']" in result.stderr
    assert "Traceback" not in result.stderr
    assert smtp.messages == []
    # Nothing was recorded as sent, so a later run with the right password
    # still sends it.
    fixed = run_corral("check-alerts", "--sync", "-a", "MailAlert",
                       cwd=project, env={"CORRAL_EMAIL_PASSWORD": "s3cret"})
    assert fixed.returncode == 0, fixed
    assert len(smtp.messages) == 1


def test_alert_groups_select(project, smtp):
    result = run_corral("check-alerts", "--sync", "-ag", "templates",
                        cwd=project, env={"CORRAL_EMAIL_PASSWORD": "s3cret"})
    assert result.returncode == 0, result
    assert [m["Subject"] for _, m in smtp.messages] == ["New object"]
