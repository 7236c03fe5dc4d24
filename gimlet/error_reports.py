"""Error reports that cannot show a secret: the debug page and error emails.

Django's SafeExceptionReporterFilter applies sensitive_variables and
sensitive_post_parameters only while DEBUG is off (Django 5.2,
`is_active()` in django/views/debug.py), and it shows every variable that
no decorator names, such as a library frame's copy of a submitted token.
Here the filter is always active and also hides variables, dictionary
keys and POST fields whose names mark a secret. The reporter first
collects the values hidden anywhere in the traceback. It then removes
them, and anything token-shaped, from every variable and from the
finished report, so a library frame that keeps a token under another
name does not show it.
"""

import contextlib
import html
import re
from pprint import pformat

from django.utils.datastructures import MultiValueDict
from django.utils.regex_helper import _lazy_re_compile
from django.utils.safestring import mark_safe
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from gimlet.logging import REDACTED, redact

# Names of variables, keys and fields that contain secrets, in this product
# and in the libraries it uses (requests' `auth`, Fernet's `key`).
SECRET_NAMES = _lazy_re_compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|CERT|PEM|CIPHER|PLAINTEXT"
    "|CREDENTIAL",
    flags=re.IGNORECASE,
)
# Shorter values are too likely to occur by chance to be removed by value.
MIN_SECRET_LENGTH = 6
# Containers deeper than this are shown as their type only.
MAX_DEPTH = 8
# Lines of a multi-line secret (a PEM bundle) removed one by one, because
# a report may show them apart.
MIN_LINE_LENGTH = 16


class Formatted:
    """A variable's finished text, which pprint shows as it is."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return self.text


def secret_strings(value, depth=0):
    """Yield every string inside `value`, through containers."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        yield value
    elif isinstance(value, MultiValueDict):
        for key in value:
            for item in value.getlist(key):
                yield from secret_strings(item, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_strings(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secret_strings(item, depth + 1)


def is_secret_name(name):
    return isinstance(name, str) and bool(SECRET_NAMES.search(name))


def secrets_under_names(value, depth=0):
    """Yield the strings stored under secret names inside containers."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, MultiValueDict):
        value = {key: value.getlist(key) for key in value}
    if isinstance(value, dict):
        for key, item in value.items():
            if is_secret_name(key):
                yield from secret_strings(item)
            else:
                yield from secrets_under_names(item, depth + 1)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from secrets_under_names(item, depth + 1)


def traceback_frames(exc_value, tb):
    """Yield every frame of the traceback and of its chained exceptions."""
    seen = set()
    pending = [(exc_value, tb)]
    while pending:
        exc, frame_tb = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        while frame_tb is not None:
            yield frame_tb.tb_frame
            frame_tb = frame_tb.tb_next
        for chained in (exc.__cause__, exc.__context__) if exc else ():
            if chained is not None:
                pending.append((chained, chained.__traceback__))


class SecretSafeExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hide secrets in reports whether DEBUG is on or off.

    `secrets` collects the values hidden so far; the reporter fills it
    from the whole traceback before any variable is shown.
    """

    hidden_settings = SECRET_NAMES

    def __init__(self):
        self.secrets = set()
        self._variants = None

    def is_active(self, request):
        return True

    def remember(self, values):
        for value in values:
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                self.secrets.add(value)
                self._variants = None

    def collect_frame(self, request, tb_frame):
        """Remember the secrets a frame contains, by name or by decorator."""
        variables = tb_frame.f_locals
        cleansed = dict(super().get_traceback_frame_variables(request, tb_frame))
        for name, value in variables.items():
            if is_secret_name(name) or cleansed.get(name) is self.cleansed_substitute:
                self.remember(secret_strings(value))
            else:
                self.remember(secrets_under_names(value))

    def collect_request(self, request):
        if request is None:
            return
        for params in (getattr(request, "POST", {}), getattr(request, "GET", {})):
            self.remember(secrets_under_names(params))
        sensitive = getattr(request, "sensitive_post_parameters", ())
        post = getattr(request, "POST", {})
        for name in post if sensitive == "__ALL__" else sensitive:
            self.remember(post.getlist(name))
        self.remember(secrets_under_names(getattr(request, "META", {})))

    def get_post_parameters(self, request):
        if request is None:
            return {}
        cleansed = super().get_post_parameters(request).copy()
        for name in cleansed:
            if is_secret_name(name):
                cleansed[name] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request, tb_frame):
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_variable(name, value)) for name, value in variables]

    def cleanse_variable(self, name, value):
        if value is self.cleansed_substitute or is_secret_name(name):
            return self.cleansed_substitute
        try:
            text = pformat(self.cleanse_value(value))
        except Exception as error:  # a broken __repr__ must not stop the report
            text = f"{type(error).__name__} while formatting {type(value).__name__}"
        return Formatted(self.scrub(text))

    def cleanse_value(self, value, depth=0):
        """Return a copy of `value` with secret keys and values replaced."""
        if depth > MAX_DEPTH:
            return Formatted(f"<{type(value).__name__}>")
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, MultiValueDict):
            value = {key: value.getlist(key) for key in value}
        if isinstance(value, dict):
            return {
                key: (
                    self.cleansed_substitute
                    if is_secret_name(key)
                    else self.cleanse_value(item, depth + 1)
                )
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [self.cleanse_value(item, depth + 1) for item in value]
        if isinstance(value, tuple):
            return tuple(self.cleanse_value(item, depth + 1) for item in value)
        return value

    def variants(self):
        """Return each remembered secret as a report may print it, longest first."""
        if self._variants is not None:
            return self._variants
        forms = set()
        for secret in self.secrets:
            forms.update({secret, repr(secret)[1:-1]})
            forms.update(
                line.strip()
                for line in secret.splitlines()
                if len(line.strip()) >= MIN_LINE_LENGTH
            )
        forms |= {html.escape(form) for form in forms}
        # Longest first, so that a secret containing another goes whole.
        self._variants = sorted(forms, key=len, reverse=True)
        return self._variants

    def scrub(self, text):
        for form in self.variants():
            text = text.replace(form, REDACTED)
        return redact(text)


class SecretSafeExceptionReporter(ExceptionReporter):
    """Django's reporter with a fresh SecretSafeExceptionReporterFilter.

    Each report gets its own filter, which first remembers the secrets of
    every frame of the traceback and of the request.
    """

    def __init__(self, request, exc_type, exc_value, tb, is_email=False):
        super().__init__(request, exc_type, exc_value, tb, is_email)
        self.filter = SecretSafeExceptionReporterFilter()
        # Collecting is best effort: a broken request (a body over the size
        # limit, say) must not stop the report. Names still hide secrets.
        with contextlib.suppress(Exception):
            self.filter.collect_request(request)
        for frame in traceback_frames(exc_value, tb):
            with contextlib.suppress(Exception):
                self.filter.collect_frame(request, frame)

    def get_traceback_html(self):
        return mark_safe(self.filter.scrub(super().get_traceback_html()))  # noqa: S308

    def get_traceback_text(self):
        return self.filter.scrub(super().get_traceback_text())
