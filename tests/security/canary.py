"""Canary secrets and the places a leaked one would show up.

A canary is a secret made up for one test, with a random middle that
nothing else contains. Its token hint may show the last four characters by
design, so the search looks for the middle, its halves, and the encoded
forms a leak would take: base64 (as in Basic authorization), URL encoding,
JSON and HTML escapes. A certificate's canaries are the lines of its
base64 body.
"""

import base64
import html
import json
import os
import secrets
import shutil
import string
import subprocess
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from urllib.parse import quote, quote_plus

import redis
from django.conf import settings
from django.db import connection

ALPHANUMERIC = string.ascii_letters + string.digits
# Middles shorter than this could occur by chance in a large dump.
MIN_MIDDLE = 20


def random_text(length, alphabet=ALPHANUMERIC):
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class Token:
    value: str
    middle: str


def github_token():
    """A classic GitHub token: ghp_ and 36 characters."""
    middle = "Cnry" + random_text(28)
    return Token("ghp_" + middle + random_text(4), middle)


def dockerhub_token():
    middle = "Cnry" + random_text(24)
    return Token("dckr_pat_" + middle + random_text(4), middle)


def custom_token():
    """A custom registry's secret, shaped like no known token."""
    middle = "canary" + random_text(20, string.ascii_lowercase + string.digits)
    return Token("robot." + middle + "-" + random_text(4), middle)


def b64(text):
    return base64.b64encode(text.encode()).decode()


@dataclass
class Needles:
    """Named strings that must appear nowhere, with their encoded forms."""

    forms: dict = field(default_factory=dict)

    def add(self, name, text):
        if len(text) < 12:
            raise ValueError(f"needle {name} is too short to search for")
        variants = {
            text,
            html.escape(text),
            json.dumps(text)[1:-1],
            quote(text, safe=""),
            quote_plus(text),
        }
        for variant in variants:
            self.forms.setdefault(variant, name)

    def add_token(self, name, token, login=None):
        middle = token.middle
        self.add(name, middle)
        half = len(middle) // 2
        self.add(f"{name} (first half)", middle[:half])
        self.add(f"{name} (second half)", middle[half:])
        self.add(f"{name} (base64)", b64(token.value)[:-4])
        if login is not None:
            self.add(f"{name} (Basic)", b64(f"{login}:{token.value}")[:-4])

    def add_certificate(self, name, pem):
        lines = pem.strip().splitlines()[1:-1]
        # The first line is mostly fixed ASN.1 structure and the last one
        # may be short; the lines between are key and signature bytes.
        for number, line in enumerate(lines[1:-1], start=2):
            self.add(f"{name} (line {number})", line)

    def found(self, text):
        """Return the names of the needles that occur in `text`."""
        return sorted({name for form, name in self.forms.items() if form in text})

    def leaks(self, haystacks):
        """Return {place: [needle names]} for every haystack with a needle."""
        leaks = {}
        for place, text in haystacks:
            hits = self.found(text)
            if hits:
                leaks[place] = hits
        return leaks


def message_bodies(value):
    """Yield the decoded `body` of every Kombu message inside JSON `value`."""
    if isinstance(value, dict):
        body = value.get("body")
        if (
            isinstance(body, str)
            and value.get("properties", {}).get("body_encoding") == "base64"
        ):
            yield base64.b64decode(body).decode("utf-8", "replace")
        for item in value.values():
            yield from message_bodies(item)
    elif isinstance(value, list):
        for item in value:
            yield from message_bodies(item)


def decoded_variants(raw):
    """Return `raw` as text, plus the decoded bodies of messages it holds."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    try:
        value = json.loads(text)
    except ValueError:
        return [text]
    return [text, *message_bodies(value)]


def redis_dump(url=None):
    """Return (key, text) for every value in the Redis database of `url`."""
    client = redis.Redis.from_url(url or settings.REDIS_URL)
    dump = []
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key)]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = [client.dump(key) or b""]
        name = key.decode("utf-8", "replace")
        dump.append((f"redis key {name}", name))
        for value in values:
            for text in decoded_variants(value or b""):
                dump.append((f"redis key {name}", text))
    return dump


def celery_messages(url=None, queue="celery"):
    """Return the task messages waiting in a queue, decoded."""
    client = redis.Redis.from_url(url or settings.REDIS_URL)
    messages = []
    for raw in client.lrange(queue, 0, -1):
        envelope = json.loads(raw)
        body = json.loads(base64.b64decode(envelope["body"]))
        messages.append({"headers": envelope["headers"], "body": body})
    return messages


def table_rows():
    """Return (table, text) with every column of every row of every table."""
    dump = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608
            for row in cursor.fetchall():
                dump.append((f"table {table}", " ".join(map(str, row))))
    return dump


def pg_dump():
    """Return the SQL text of the test database from pg_dump, or None."""
    binary = shutil.which("pg_dump")
    if connection.vendor != "postgresql" or binary is None:
        return None
    db = connection.settings_dict
    command = [
        binary,
        "--data-only",
        "--no-owner",
        "-h",
        db.get("HOST") or "127.0.0.1",
        "-p",
        str(db.get("PORT") or 5432),
        "-U",
        db.get("USER") or "postgres",
        db["NAME"],
    ]
    environment = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=environment
    )
    if result.returncode != 0:
        raise RuntimeError(f"pg_dump failed: {result.stderr[-2000:]}")
    return result.stdout


def email_texts(messages):
    """Return (place, text) for each raw message and each decoded part."""
    texts = []
    for number, item in enumerate(messages):
        raw = item["raw"]
        texts.append((f"email {number} (raw)", raw.decode("utf-8", "replace")))
        message = BytesParser(policy=policy.default).parsebytes(raw)
        for part in message.walk():
            if part.is_multipart():
                continue
            content = part.get_content()
            if isinstance(content, bytes):
                content = content.decode("utf-8", "replace")
            texts.append((f"email {number} ({part.get_content_type()})", content))
        texts.append((f"email {number} (headers)", str(dict(message.items()))))
    return texts
