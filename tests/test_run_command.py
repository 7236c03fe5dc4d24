"""README command one, `python3 run.py`, in a fresh copy of the repository."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120
ADMIN_PASSWORD = "run-test-admin-pw-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def running_system(tmp_path_factory):
    """Start run.py in a copy of the tree, on SQLite and the embedded broker."""
    tmp_path = tmp_path_factory.mktemp("run")
    copy = tmp_path / "gimlet"
    shutil.copytree(
        ROOT,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", ".env", "__pycache__"),
    )
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        and not key.startswith(("DJANGO_", "FIELD_ENCRYPTION", "GIMLET_"))
    }
    env.update(
        GIMLET_SKIP_INSTALL="1",
        GIMLET_RUN_PORT=str(port),
        GIMLET_DEMO_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # Beat's sweep schedule, created by a migration, then fires within
        # the test's wait.
        GIMLET_REVALIDATE_INTERVAL_MINUTES="1",
        PYTHONUNBUFFERED="1",
    )
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [sys.executable, "run.py"],
        cwd=copy,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + START_SECONDS
    output = ""
    while time.monotonic() < deadline and process.poll() is None:
        log.seek(0)
        output = log.read()
        if "Gimlet registries is running." in output:
            break
        time.sleep(1)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "output": output,
            "dir": copy,
            "log": tmp_path / "run.log",
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_run_prints_admin_url_and_logins(running_system):
    output = running_system["output"]

    assert "Gimlet registries is running." in output, output[-3000:]
    assert f"{running_system['url']}/admin/" in output
    assert "Created superuser 'admin'" in output
    assert re.search(r"'demo-admin' with password: \S+", output)


def test_run_writes_env_with_fresh_keys(running_system):
    env_file = running_system["dir"] / ".env"

    text = env_file.read_text()
    assert re.search(r"^FIELD_ENCRYPTION_KEY=[A-Za-z0-9_\-]{43}=$", text, re.M)
    assert re.search(r"^DJANGO_SECRET_KEY=\S{50,}$", text, re.M)
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


def test_seeded_admin_logs_in(running_system):
    session = requests.Session()
    login_url = f"{running_system['url']}/admin/login/"
    page = session.get(login_url, timeout=10)
    assert page.status_code == 200

    response = session.post(
        login_url,
        data={
            "username": "admin",
            "password": ADMIN_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
            "next": "/admin/",
        },
        headers={"Referer": login_url},
        timeout=10,
    )

    assert response.status_code == 200
    assert response.url.endswith("/admin/")
    assert 'id="login-form"' not in response.text
    assert "/admin/logout/" in response.text


def test_worker_sweeps_and_prints_alert_email(running_system):
    deadline = time.monotonic() + 90
    output = ""
    while time.monotonic() < deadline:
        output = running_system["log"].read_text()
        if "Subject: [Gimlet] Demo" in output and "Sweep " in output:
            break
        time.sleep(1)

    assert "Subject: [Gimlet] Demo" in output, output[-3000:]
    assert re.search(r"Sweep \S+ finished", output)
    assert "CA certificate expires in 10 days" in output


def test_beat_sends_the_scheduled_sweep(running_system):
    """Beat's sweep reaches the worker, which runs it or skips it.

    It skips it when the demo's first sweep already took the same minute's
    slot, which happens when beat's first send falls in that minute.
    """
    deadline = time.monotonic() + 100
    output = ""
    handled = re.compile(
        r"Sweep \S+ started: 3 credentials|This interval was swept; sweep \S+ skipped"
    )
    while time.monotonic() < deadline:
        output = running_system["log"].read_text()
        sent = "Sending due task Check every registry credential" in output
        if sent and len(handled.findall(output)) >= 2:
            break
        time.sleep(2)

    assert "Sending due task Check every registry credential" in output, output[-3000:]
    assert len(handled.findall(output)) >= 2
