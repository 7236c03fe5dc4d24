"""Fields that every log line carries where they are known.

Requests, Celery tasks and services bind fields such as the request id,
the task id, the tenant and the registry with `log_context(...)`.
LogContextFilter copies the bound fields onto each record, where the
formatters in gimlet.log_formatting find them. The fields live in a context
variable, so each thread and each asyncio task has its own; a thread pool
carries them over with `carry_log_context`.
"""

import contextvars
import functools
import re
import uuid
from contextlib import contextmanager

_fields = contextvars.ContextVar("gimlet_log_fields", default=None)

REQUEST_ID_HEADER = "X-Request-ID"
# A request id from a proxy is kept when it looks like one, such as a UUID
# or another short token. Anything else is replaced, so that a client
# cannot write arbitrary text into every log line of its request.
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def log_fields():
    """Return the fields bound in the current context."""
    return _fields.get() or {}


@contextmanager
def log_context(**fields):
    """Bind `fields` to every log record emitted inside the block.

    Nested blocks add to the outer fields; a field set to None is dropped.
    """
    merged = {**log_fields(), **fields}
    token = _fields.set(
        {key: value for key, value in merged.items() if value is not None}
    )
    try:
        yield
    finally:
        _fields.reset(token)


def carry_log_context(function):
    """Wrap `function` to run with the caller's log fields in another thread.

    Threads start with an empty context (Python 3.11 and 3.12), so work
    submitted to a ThreadPoolExecutor would lose the task id otherwise.
    Only the log fields are carried over, not other context variables.
    """
    fields = log_fields()

    @functools.wraps(function)
    def run(*args, **kwargs):
        with log_context(**fields):
            return function(*args, **kwargs)

    return run


class LogContextFilter:
    """Copy the bound fields onto each record, unless it sets them itself.

    A value passed with `extra=` wins over the bound one, so a line about
    another object can name it.
    """

    def filter(self, record):
        for key, value in log_fields().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class RequestLogContextMiddleware:
    """Bind a request id to the log lines of each request.

    The id comes from the X-Request-ID header that a proxy set, or is
    generated, and goes back in the response's X-Request-ID header.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request.headers.get(REQUEST_ID_HEADER, "")
        if not REQUEST_ID_PATTERN.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


# Receivers of Celery signals, connected in gimlet/celery.py. The tracer
# sends task_prerun and task_postrun in the thread or process that runs the
# task, so the context variable set here is the one the task's log lines
# see (celery 5.7, celery/app/trace.py).
_task_tokens = {}


def bind_task_fields(task_id=None, task=None, **kwargs):
    merged = {**log_fields(), "task_id": task_id, "task_name": task.name}
    _task_tokens[task_id] = _fields.set(merged)


def unbind_task_fields(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        try:
            _fields.reset(token)
        except ValueError:
            # Reset from another context than the one that set it: the
            # thread's next task overwrites the fields at its prerun.
            pass


def propagate_task_logger(logger=None, **kwargs):
    """Send celery.task records to the root handlers, like every other line.

    Celery gives its task logger a handler of its own that does not
    propagate, which would bypass the JSON formatter and the redaction
    filter.
    """
    if logger is not None:
        logger.handlers = []
        logger.propagate = True
