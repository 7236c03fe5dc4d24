"""docs/deployment.md: its variables and commands, run as the doc says.

The list of variables, the key-generation commands and the release commands
are parsed from the document, so the document and the test cannot drift
apart. Production settings are loaded in subprocesses whose environment
holds exactly the documented variables; only the database and Redis
addresses are replaced with the suite's own servers.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.conftest import require_server
from tests.ops.conftest import fresh_database, manage
from tests.worker import redis_answers

pytestmark = pytest.mark.server

BASE_DIR = Path(__file__).resolve().parents[2]
DOC = BASE_DIR / "docs" / "deployment.md"
ROW = re.compile(r"^\| `(?P<name>[A-Z][A-Z0-9_]*)` \| (?P<example>[^|]*) \|")
GENERATE = re.compile(r"^(?P<command>python -c '[^']+')\s+#\s*(?P<name>[A-Z0-9_]+)$")
# Variables whose example addresses a server; the test uses its own.
SUITE_SERVERS = {"DATABASE_URL", "REDIS_URL"}


def doc_section(title):
    """Return the lines under the heading `title`, up to the next heading."""
    lines = DOC.read_text().splitlines()
    start = next(
        number
        for number, line in enumerate(lines)
        if re.fullmatch(rf"#+ {re.escape(title)}", line)
    )
    rest = lines[start + 1 :]
    end = next(
        (number for number, line in enumerate(rest) if line.startswith("#")),
        len(rest),
    )
    return rest[:end]


def code_blocks(lines):
    """Return the fenced code blocks in `lines`, each a list of lines."""
    blocks, current = [], None
    for line in lines:
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append(current)
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def documented_variables():
    """Return {name: example} from the first table of the variables section.

    The example is the backquoted value, or None where the doc says the
    value is generated.
    """
    variables = {}
    for line in doc_section("Environment variables production needs"):
        match = ROW.match(line)
        if match is None:
            if variables and not line.startswith("|"):
                break
            continue
        example = match["example"].strip()
        literal = re.fullmatch(r"`([^`]*)`", example)
        variables[match["name"]] = literal.group(1) if literal else None
    return variables


def generation_commands():
    """Return {name: command} of the documented key-generation commands."""
    commands = {}
    for block in code_blocks(doc_section("Environment variables production needs")):
        for line in block:
            match = GENERATE.match(line)
            if match:
                commands[match["name"]] = match["command"]
    return commands


def release_commands():
    """Return the `python manage.py` command lines of the release section."""
    blocks = code_blocks(doc_section("Release commands"))
    return [
        line.split()[2:]
        for block in blocks
        for line in block
        if line.startswith("python manage.py ")
    ]


def run_documented_python(command):
    """Run a documented `python -c '...'` line and return its output."""
    code = re.fullmatch(r"python -c '([^']+)'", command).group(1)
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip()


def documented_env(database_url, home):
    """Return an environment of exactly the documented variables."""
    require_server("Redis", bool(settings.REDIS_URL) and redis_answers())
    variables = documented_variables()
    generated = generation_commands()
    env = {}
    for name, example in variables.items():
        if name in generated:
            env[name] = run_documented_python(generated[name])
        elif example is not None:
            env[name] = example
        else:
            pytest.fail(f"docs/deployment.md gives {name} no example or command")
    env["DATABASE_URL"] = database_url
    env["REDIS_URL"] = settings.REDIS_URL
    dot_env = BASE_DIR / ".env"
    if dot_env.exists():
        extra = {
            line.split("=", 1)[0].strip()
            for line in dot_env.read_text().splitlines()
            if "=" in line and not line.lstrip().startswith("#")
        } - set(env)
        if extra:
            pytest.skip(f".env sets variables that the doc does not list: {extra}")
    return {**env, "HOME": str(home), "PATH": "/usr/bin:/bin"}


@pytest.fixture
def fresh_env(database_server, tmp_path):
    """The documented environment on an empty database."""
    with fresh_database(database_server) as url:
        yield documented_env(url, tmp_path)


@pytest.fixture(scope="module")
def migrated_env(database_server, tmp_path_factory):
    """The documented environment on a database that `migrate` set up."""
    with fresh_database(database_server) as url:
        env = documented_env(url, tmp_path_factory.mktemp("home"))
        result = manage(env, ["migrate", "--no-input"])
        assert result.returncode == 0, result.stdout + result.stderr
        yield env


# The document itself.


def test_doc_lists_variables():
    variables = documented_variables()

    assert {"DJANGO_SECRET_KEY", "FIELD_ENCRYPTION_KEY", "REDIS_URL"} <= set(variables)
    assert SUITE_SERVERS <= set(variables)
    assert "DJANGO_LOG_FORMAT" not in variables


def test_doc_generates_every_secret():
    variables = documented_variables()
    generated = generation_commands()

    assert {name for name, example in variables.items() if example is None} == set(
        generated
    )


def test_doc_names_release_commands():
    commands = [command[0] for command in release_commands()]

    assert commands == ["check", "migrate", "check_deployment"]


def test_doc_key_commands_work():
    generated = generation_commands()

    assert len(run_documented_python(generated["DJANGO_SECRET_KEY"])) >= 50
    assert len(run_documented_python(generated["GIMLET_METRICS_TOKEN"])) >= 32
    assert len(run_documented_python(generated["FIELD_ENCRYPTION_KEY"])) == 44


# Production settings with exactly the documented variables.


def test_documented_env_is_exact(fresh_env):
    assert set(fresh_env) - {"HOME", "PATH"} == set(documented_variables())


def test_release_commands_pass(fresh_env):
    """On an empty database, each release command succeeds in turn."""
    for args in release_commands():
        result = manage(fresh_env, args)

        assert result.returncode == 0, (args, result.stdout + result.stderr)

    strict = manage(fresh_env, ["check_deployment", "--fail-level", "WARNING"])

    assert strict.returncode == 0, strict.stdout + strict.stderr
    assert "deployment.E" not in strict.stderr
    assert "deployment.W" not in strict.stderr


# Each documented variable without a safe default is reported when missing.


@pytest.mark.parametrize(
    ("variable", "reported"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is not set"),
        ("FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY is not set"),
        ("DJANGO_ALLOWED_HOSTS", "(deployment.E004)"),
        ("REDIS_URL", "(deployment.E005)"),
        ("EMAIL_URL", "(deployment.E007)"),
        ("GIMLET_BASE_URL", "(deployment.E008)"),
    ],
)
def test_missing_variable_reported(migrated_env, variable, reported):
    env = {key: value for key, value in migrated_env.items() if key != variable}

    result = manage(env, ["check_deployment"])

    assert result.returncode != 0
    assert reported in result.stderr


def test_migrated_env_passes(migrated_env):
    """The baseline of the cases above passes, so each failure is its own."""
    result = manage(migrated_env, ["check_deployment"])

    assert result.returncode == 0, result.stdout + result.stderr
