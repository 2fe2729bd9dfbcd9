"""Where alerts send what they find: a file, or e-mail.

An endpoint is set up once per alert run (`setup(alert)`), gets each
object to report (`process(obj, utcnow)`), and is closed at the end
(`teardown(...)`). Endpoints only log; they never print.
"""

from __future__ import annotations

import logging
import os
import smtplib
from email.message import EmailMessage
from pathlib import Path

from ..errors import ImproperlyConfigured

logger = logging.getLogger("corral.run.endpoints")

PASSWORD_VARIABLE = "CORRAL_EMAIL_PASSWORD"


class EndPoint:
    """Base of every endpoint. Subclass it to report somewhere else."""

    def __init__(self):
        self.alert = None

    def setup(self, alert) -> None:
        self.alert = alert

    def render(self, obj, utcnow) -> str:
        return self.alert.render_alert(utcnow, self, obj)

    def process(self, obj, utcnow) -> None:
        raise NotImplementedError

    def teardown(self, exc_type=None, exc_value=None, traceback=None) -> None:
        self.alert = None


class File(EndPoint):
    """Appends one rendered alert per object to a text file.

    A relative path is taken from the project directory (where in_corral.py
    is), so the file is the same whatever directory the pipeline runs from.
    """

    def __init__(self, path, mode="a", encoding="utf-8"):
        super().__init__()
        self.path = path
        self.mode = mode
        self.encoding = encoding
        self._fp = None

    def resolved_path(self) -> Path:
        path = Path(self.path)
        if not path.is_absolute():
            from ..conf import settings

            project = settings.project if settings.configured else None
            if project is not None and project.directory is not None:
                path = project.directory / path
        return path

    def setup(self, alert) -> None:
        super().setup(alert)
        path = self.resolved_path()
        try:
            self._fp = open(path, self.mode, encoding=self.encoding)
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{alert.retrieve_python_path()}: cannot open alert file "
                f"{path}: {exc.strerror}"
            ) from exc

    def process(self, obj, utcnow) -> None:
        text = self.render(obj, utcnow)
        self._fp.write(text if text.endswith("\n") else text + "\n")
        # Flushed per object so what the alert table records as sent is
        # really in the file, even if the process dies right after.
        self._fp.flush()

    def teardown(self, exc_type=None, exc_value=None, traceback=None) -> None:
        if self._fp is not None and not self._fp.closed:
            self._fp.close()
        self._fp = None
        super().teardown(exc_type, exc_value, traceback)

    def __repr__(self):
        return f"File({self.path!r})"


class Email(EndPoint):
    """Sends one e-mail per object through the server in `settings.EMAIL`.

    settings.EMAIL holds "server" ("host:port"), "tls" (STARTTLS), "user"
    and "password". The password may instead come from the environment
    variable named by EMAIL["password_env"] (default CORRAL_EMAIL_PASSWORD),
    so it need not be written in a file.
    """

    def __init__(self, to, sent_from=None, subject=None, message=None):
        super().__init__()
        if isinstance(to, str):
            to = [to]
        self.to = list(to)
        if not self.to:
            raise ImproperlyConfigured("ep.Email needs at least one address")
        self.sent_from = sent_from
        self.subject = subject
        self.message = message
        self._smtp = None

    @staticmethod
    def server_settings() -> dict:
        from ..conf import settings

        config = dict(settings.get("EMAIL") or {})
        if not config.get("server"):
            raise ImproperlyConfigured(
                "settings.EMAIL has no 'server' ('host:port'); set it to "
                "use ep.Email"
            )
        if not config.get("password"):
            variable = config.get("password_env", PASSWORD_VARIABLE)
            if os.environ.get(variable):
                config["password"] = os.environ[variable]
        return config

    def setup(self, alert) -> None:
        super().setup(alert)
        config = self.server_settings()
        host, _, port = config["server"].partition(":")
        try:
            smtp = smtplib.SMTP(host, int(port or 25), timeout=60)
            if config.get("tls"):
                smtp.starttls()
            if config.get("user") and config.get("password"):
                smtp.login(config["user"], config["password"])
        except (OSError, smtplib.SMTPException) as exc:
            raise ImproperlyConfigured(
                f"{alert.retrieve_python_path()}: cannot use the mail server "
                f"settings.EMAIL['server'] = {config['server']!r}: {exc}"
            ) from exc
        self._smtp = smtp
        self._config = config

    def sender(self) -> str:
        if self.sent_from:
            return self.sent_from
        user = self._config.get("user") or "corral"
        if "@" in user:
            return user
        return f"{user}@{self._config['server'].partition(':')[0]}"

    def render(self, obj, utcnow) -> str:
        if self.message is not None:
            return self.message.format(obj, obj=obj, utcnow=utcnow)
        return super().render(obj, utcnow)

    def make_subject(self) -> str:
        if self.subject:
            return self.subject
        from ..conf import settings

        return (
            f"[{settings.get('PIPELINE_NAME', 'corral')}] "
            f"{type(self.alert).__name__}"
        )

    def process(self, obj, utcnow) -> None:
        message = EmailMessage()
        message["From"] = self.sender()
        message["To"] = ", ".join(self.to)
        message["Subject"] = self.make_subject()
        message.set_content(self.render(obj, utcnow))
        self._smtp.send_message(message)
        logger.info("mailed %r to %s", obj, ", ".join(self.to))

    def teardown(self, exc_type=None, exc_value=None, traceback=None) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
        self._smtp = None
        super().teardown(exc_type, exc_value, traceback)

    def __repr__(self):
        return f"Email(to={self.to!r})"
