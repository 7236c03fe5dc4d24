#!/usr/bin/env python3
"""Run Gimlet registries, or its tests, from a fresh clone.

    python3 run.py          install, migrate, seed the demo, start web,
                            worker and beat, and print the admin login
    python3 run.py test     install with the test extras and run pytest
                            (extra arguments go to pytest)

Only the Python standard library is used until the virtual environment in
`.venv/` exists; the script then runs itself again inside it. DATABASE_URL
and REDIS_URL, when set, switch from SQLite and the embedded broker to
PostgreSQL and Redis.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".installed"
ENV_FILE = ROOT / ".env"
HOST = os.environ.get("GIMLET_RUN_HOST", "127.0.0.1")
PORT = os.environ.get("GIMLET_RUN_PORT", "8000")
WEB_WAIT_SECONDS = 60


def in_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


def install(extras):
    """Create .venv and install the project, when pyproject.toml is newer."""
    if not VENV_PYTHON.exists():
        print("Creating the virtual environment in .venv/ ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    version = str((ROOT / "pyproject.toml").stat().st_mtime_ns)
    if STAMP.exists():
        installed_extras, _, installed_version = STAMP.read_text().partition(":")
        if installed_version == version and extras in {installed_extras, ""}:
            return
    print("Installing dependencies (a minute or two the first time) ...", flush=True)
    target = f"{ROOT}[{extras}]" if extras else str(ROOT)
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "-q", "--upgrade", "pip"],
        check=True,
    )
    subprocess.run(
        [str(VENV_PYTHON), "-m", "pip", "install", "-q", "-e", target], check=True
    )
    STAMP.write_text(f"{extras}:{version}")


def write_env_file():
    """Write a development .env with fresh keys, unless one exists."""
    if ENV_FILE.exists():
        return
    import secrets

    from cryptography.fernet import Fernet

    ENV_FILE.write_text(
        "# Written by run.py for local development. Keep it secret: it holds\n"
        "# the key that decrypts the stored registry tokens.\n"
        "DJANGO_DEBUG=true\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n"
        f"GIMLET_BASE_URL=http://{HOST}:{PORT}\n"
    )
    ENV_FILE.chmod(0o600)
    print("Wrote .env with freshly generated keys.", flush=True)


def manage(*args):
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], check=True)


def wait_for_web(url):
    deadline = time.monotonic() + WEB_WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    return False


def serve():
    write_env_file()
    manage("migrate", "--no-input", "-v", "0")
    manage("seed_demo")
    celery = [sys.executable, "-m", "celery", "-A", "gimlet"]
    processes = {
        "web": subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "runserver", f"{HOST}:{PORT}"]
        ),
        "worker": subprocess.Popen(
            [*celery, "worker", "--loglevel", "INFO", "--pool", "threads"]
        ),
        "beat": subprocess.Popen([*celery, "beat", "--loglevel", "INFO"]),
    }
    # Beat's first run of an interval comes one interval after it starts;
    # the demo shows check results and an alert email right away.
    manage("run_periodic_now")
    base = f"http://{HOST}:{PORT}"
    if wait_for_web(f"{base}/admin/login/"):
        print(
            f"\nGimlet registries is running.\n"
            f"  Admin:  {base}/admin/  (logins printed above by seed_demo)\n"
            f"  Mail is printed on the worker's console.\n"
            f"  Stop with Ctrl-C.\n",
            flush=True,
        )
    else:
        print(f"The web process did not answer at {base} in time.", flush=True)
    try:
        while all(process.poll() is None for process in processes.values()):
            time.sleep(1)
        stopped = [name for name, p in processes.items() if p.poll() is not None]
        print(f"Stopping because {', '.join(stopped)} exited.", flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def run_tests(args):
    return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT)


def main(argv):
    command = argv[0] if argv else "serve"
    if command not in {"serve", "test"}:
        print(__doc__)
        return 2
    # GIMLET_SKIP_INSTALL=1 runs with the current interpreter, whose
    # environment already has the project's dependencies.
    if not in_venv() and not os.environ.get("GIMLET_SKIP_INSTALL"):
        install("dev" if command == "test" else "")
        return subprocess.call([str(VENV_PYTHON), __file__, *argv])
    if command == "test":
        return run_tests(argv[1:])
    return serve()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
