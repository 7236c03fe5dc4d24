"""Benchmarks of the sweep, the registry list API and the admin changelist.

    python -m benchmarks.run            full run (N=2,000, 100 ms latency)
    python -m benchmarks.run --quick    smaller run, for a quick look

Needs PostgreSQL and Redis on loopback (DATABASE_URL and REDIS_URL, which
default to the local servers). The database named in --database is dropped
and created again. Prints a table and writes the same figures to
docs/benchmarks.md (unless --no-write). A full run exits with status 1,
naming each, when a target is missed.
"""

import argparse
import io
import json
import os
import platform
import secrets
import shlex
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "gimlet.settings",
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "benchmark-secret-key-" + "b" * 40,
    "FIELD_ENCRYPTION_KEY": "Cf7XIPSCnDk6ipVCwuCpQpW8EHiSzDBFRk5Qsq07zkw=",
    "DJANGO_ALLOWED_HOSTS": "testserver,localhost",
    "DJANGO_SECURE_SSL_REDIRECT": "false",
    "DJANGO_LOG_LEVEL": "WARNING",
    # The fake returns ghcr.io's token endpoint at once, so each check waits
    # for one latency, that of GitHub's /user.
    "GIMLET_GHCR_CHECK": "true",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


@contextmanager
def fake_upstream(latency):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "benchmarks.fake_upstream",
            "--port",
            str(port),
            "--latency",
            str(latency),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def time_upstream_alone(port, requests, concurrency, latency):
    output = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.load_upstream",
            "--port",
            str(port),
            "--requests",
            str(requests),
            "--concurrency",
            str(concurrency),
            "--latency",
            str(latency),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return json.loads(output)


def recreate_database(database_url, name):
    """Drop and create the benchmark database; return its URL."""
    import psycopg

    base = database_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def setup_django(env):
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(count, tenants, *, upstream_url=None, prefix="bench"):
    """Create `count` GHCR credentials spread over `tenants` tenants."""
    from django_scopes import scopes_disabled

    from environments.models import Environment
    from gimlet.models import Tenant
    from registries.models import Kind, Registry

    with scopes_disabled():
        rows = []
        environments = []
        for number in range(tenants):
            tenant = Tenant.objects.create(
                name=f"{prefix} {number}", slug=f"{prefix}-{number}"
            )
            environments.append(Environment.objects.create(tenant=tenant, name="prod"))
        for number in range(count):
            registry = Registry(
                environment=environments[number % tenants],
                kind=Kind.GHCR,
                name=f"ghcr-{number}",
                url="ghcr.io",
                login="octocat",
                token="ghp_" + secrets.token_hex(18),
            )
            registry._sync_secret_metadata()
            rows.append(registry)
        Registry.objects.bulk_create(rows, batch_size=500)
        return environments


def process_tree_peak_kib(pid):
    """Sum of VmHWM (peak resident memory) over a process and its children."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for one in pids:
        status = Path(f"/proc/{one}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
    return total


def bench_sweep(args, env, port):
    """Sweep N credentials through a real worker; compare with the bounds."""
    from django.core.cache import cache
    from django.db.models import Count
    from django_scopes import scopes_disabled

    from registries.models import Registry
    from registries.tasks import run_sweep

    seed(args.credentials, args.tenants)
    cache.clear()
    worker_env = {
        **os.environ,
        **env,
        "GIMLET_VALIDATION_CONCURRENCY": str(args.concurrency),
    }
    log = open(ROOT / "var" / "benchmark-worker.log", "w")  # noqa: SIM115
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "gimlet",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(args.worker_processes),
            "--loglevel",
            args.worker_log_level,
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=ROOT,
        env=worker_env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(args.worker_start_seconds)
        peak = 0
        started = time.perf_counter()
        run_sweep.delay()
        with scopes_disabled():
            deadline = time.monotonic() + args.sweep_timeout
            while time.monotonic() < deadline:
                done = Registry.objects.filter(checked_at__isnull=False).count()
                peak = max(peak, process_tree_peak_kib(worker.pid))
                if done >= args.credentials:
                    break
                time.sleep(0.05)
            wall = time.perf_counter() - started
            statuses = dict(
                Registry.objects.values_list("status").annotate(n=Count("id"))
            )
        peak = max(peak, process_tree_peak_kib(worker.pid))
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    in_flight = args.concurrency * args.worker_processes
    ideal = args.credentials * args.latency / in_flight
    return {
        "wall": wall,
        "ideal": ideal,
        "in_flight": in_flight,
        "checked": done,
        "statuses": statuses,
        "peak_mib": peak / 1024,
    }


def bench_baseline(args, port):
    """Check a sample one after another with plain requests; scale to N."""
    import requests

    session = requests.Session()
    headers = {
        "Authorization": "Bearer ghp_" + "x" * 36,
        "Accept": "application/vnd.github+json",
    }
    started = time.perf_counter()
    for _ in range(args.baseline_sample):
        session.get(f"http://127.0.0.1:{port}/user", headers=headers, timeout=10)
        session.get(
            f"http://127.0.0.1:{port}/token",
            params={"service": "ghcr.io", "scope": "repository:octocat/x:pull"},
            timeout=10,
        )
    per_check = (time.perf_counter() - started) / args.baseline_sample
    return {"per_check": per_check, "scaled": per_check * args.credentials}


@contextmanager
def counting_decryptions():
    from registries import fields

    calls = {"n": 0}
    original = fields.decrypt

    def counted(ciphertext):
        calls["n"] += 1
        return original(ciphertext)

    fields.decrypt = counted
    try:
        yield calls
    finally:
        fields.decrypt = original


def median_seconds(*functions, repeat):
    """Median time of each function, calling them in turn `repeat` times.

    Taking turns spreads a burst of load from elsewhere on the machine over
    every function alike, so the ratios between them stay fair.
    """
    timings = [[] for _ in functions]
    for _ in range(repeat):
        for function, times in zip(functions, timings, strict=True):
            started = time.perf_counter()
            function()
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in timings]


class WSGIRequest:
    """A GET of `path` on the Django application, made as a WSGI server makes it.

    gunicorn hands the application an environ and reads the body it
    returns. This does the same, so the request passes every middleware
    and the request signals, which run the connection's health check. Django's
    test client adds its own instrumentation to each request (templates,
    exceptions, cookies), which no server pays, so it is not used here.
    """

    def __init__(self, path, query="", headers=None):
        from django.core.wsgi import get_wsgi_application

        self.application = get_wsgi_application()
        self.path = path
        self.query = query
        self.headers = {
            f"HTTP_{name.upper().replace('-', '_')}": value
            for name, value in (headers or {}).items()
        }

    def __call__(self):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": self.path,
            "QUERY_STRING": self.query,
            "SERVER_NAME": "localhost",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "localhost",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""),
            "wsgi.errors": sys.stderr,
            **self.headers,
        }
        statuses = []
        body = b"".join(
            self.application(environ, lambda status, headers: statuses.append(status))
        )
        return int(statuses[0].split()[0]), body


@contextmanager
def counting_queries():
    """Count the SQL statements the application runs on the default database."""
    from django.db import connection

    count = {"n": 0}

    def counted(execute, sql, params, many, context):
        count["n"] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        yield count


def bench_api(args):
    """List a tenant's registries at several sizes; compare with values()."""
    from django.contrib.auth import get_user_model
    from django_scopes import scopes_disabled
    from rest_framework.authtoken.models import Token

    from gimlet.models import Membership, Role
    from registries.models import Registry

    results = []
    user_model = get_user_model()
    for size in args.api_sizes:
        environment = seed(size, 1, prefix=f"api{size}")[0]
        with scopes_disabled():
            user = user_model.objects.create_user(f"api-user-{size}", password="x")
            Membership.objects.create(
                user=user, tenant=environment.tenant, role=Role.ADMIN
            )
        # CI scripts call the API with a token, not a browser session.
        token = Token.objects.create(user=user)
        api_page = WSGIRequest(
            "/api/v1/registries/",
            f"environment={environment.pk}",
            {"Authorization": f"Token {token.key}"},
        )
        api_page()
        with counting_queries() as queries, counting_decryptions() as d:
            status, body = api_page()
        assert status == 200, body[:500]
        page_size = len(json.loads(body)["results"])

        def plain_page(environment=environment, page_size=page_size):
            with scopes_disabled():
                rows = list(
                    Registry.objects.filter(environment=environment)
                    .order_by("name")
                    .values(
                        "id",
                        "name",
                        "kind",
                        "url",
                        "login",
                        "token_hint",
                        "status",
                        "status_message",
                        "checked_at",
                        "last_valid_at",
                        "expires_at",
                        "scopes",
                        "certificate_subject",
                        "certificate_fingerprint",
                        "certificate_expires_at",
                        "created_at",
                        "updated_at",
                    )[:page_size]
                )
            json.dumps(rows, default=str)

        api, plain = median_seconds(api_page, plain_page, repeat=args.repeat)
        results.append(
            {
                "size": size,
                "page": page_size,
                "queries": queries["n"],
                "decryptions": d["n"],
                "api_ms": api * 1000,
                "plain_ms": plain * 1000,
            }
        )
    return results


def bench_admin(args):
    """Render the registry changelist over many credentials as a superuser."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    results = []
    user = get_user_model().objects.create_superuser("bench-admin", password="x")
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    changelist = WSGIRequest(
        "/admin/registries/registry/",
        headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={session}"},
    )
    seeded = 0
    for size in args.admin_sizes:
        seed(size - seeded, 10, prefix=f"admin{size}")
        seeded = size
        changelist()
        with counting_queries() as queries, counting_decryptions() as d:
            status, body = changelist()
        assert status == 200, body[:500]
        (median,) = median_seconds(changelist, repeat=args.repeat)
        results.append(
            {
                "size": size,
                "queries": queries["n"],
                "decryptions": d["n"],
                "ms": median * 1000,
            }
        )
    return results


def machine():
    cpu = "unknown CPU"
    info = Path("/proc/cpuinfo")
    if info.exists():
        for line in info.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}"


def met(condition):
    return "yes" if condition else "no"


def targets(sweep, baseline, api, admin):
    """Return (target, measured, met) for each performance target."""
    ratio = sweep["wall"] / sweep["ideal"]
    speedup = baseline["scaled"] / sweep["wall"]
    api_queries = [row["queries"] for row in api]
    api_ratios = [row["api_ms"] / row["plain_ms"] for row in api]
    admin_queries = [row["queries"] for row in admin]
    api_decryptions = sum(row["decryptions"] for row in api)
    admin_decryptions = sum(row["decryptions"] for row in admin)
    rows = [
        ("sweep within 1.5x of the ideal", f"{ratio:.2f}x", ratio <= 1.5),
        (
            "sweep at least 25x faster than the baseline",
            f"{speedup:.1f}x",
            speedup >= 25,
        ),
        (
            "list API: same queries at every size",
            ", ".join(map(str, api_queries)),
            len(set(api_queries)) == 1,
        ),
        ("list API: no decryption", str(api_decryptions), api_decryptions == 0),
        (
            "list API: at most 3x the plain query",
            ", ".join(f"{value:.1f}x" for value in api_ratios),
            all(value <= 3 for value in api_ratios),
        ),
        (
            "admin list: queries do not grow with N",
            ", ".join(map(str, admin_queries)),
            len(set(admin_queries)) == 1,
        ),
        ("admin list: no decryption", str(admin_decryptions), admin_decryptions == 0),
    ]
    return rows


def report(args, upstream, sweep, baseline, api, admin, command):
    ratio = sweep["wall"] / sweep["ideal"]
    speedup = baseline["scaled"] / sweep["wall"]
    lines = [
        "# Benchmarks",
        "",
        f"Measured on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, on {machine()},",
        "with PostgreSQL and Redis on loopback. Every figure comes from this one",
        "run of:",
        "",
        "```sh",
        command,
        "```",
        "",
        "## Fake upstream alone",
        "",
        f"{upstream['requests']} requests, {upstream['concurrency']} at once, "
        f"{args.latency * 1000:.0f} ms latency each: {upstream['wall']:.2f} s, "
        f"{upstream['ratio']:.2f}x the ideal {upstream['ideal']:.2f} s. The fake "
        "is not the bottleneck at this load.",
        "",
        "## Sweep",
        "",
        f"{args.credentials} GHCR credentials over {args.tenants} tenants, checked by "
        f"the real sweep through a Celery worker ({args.worker_processes} prefork "
        f"processes, GIMLET_VALIDATION_CONCURRENCY={args.concurrency}, so "
        f"{sweep['in_flight']} checks in flight) on Redis, against the fake with "
        f"{args.latency * 1000:.0f} ms latency on GitHub's /user.",
        "",
        "| figure | value |",
        "| --- | --- |",
        f"| wall time | {sweep['wall']:.2f} s |",
        f"| ideal (checks x latency / in flight) | {sweep['ideal']:.2f} s |",
        f"| ratio to the ideal | {ratio:.2f}x |",
        f"| baseline: one after another with plain requests "
        f"({args.baseline_sample} sampled, scaled) | {baseline['scaled']:.1f} s |",
        f"| speed-up over the baseline | {speedup:.1f}x |",
        f"| checks per second | {sweep['checked'] / sweep['wall']:.0f} |",
        f"| worker peak memory (all processes) | {sweep['peak_mib']:.0f} MiB |",
        f"| credentials checked | {sweep['checked']} of {args.credentials} |",
        "",
        "## Against the targets",
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        *(
            f"| {name} | {value} | {met(ok)} |"
            for name, value, ok in targets(sweep, baseline, api, admin)
        ),
        "",
        "## Registry list API",
        "",
        "`GET /api/v1/registries/?environment=ID` with a tenant admin's token, "
        "one page, against a plain `values()` query of the same rows "
        "serialised with `json.dumps`. Each request is a WSGI call of the "
        "application, as gunicorn makes it: every middleware, the connection's "
        "health check and the rendered body, without an HTTP socket. The two "
        f"take turns, {args.repeat} times each, and the figures are the medians.",
        "",
        "| credentials | page rows | queries | decryptions | API ms | plain ms "
        "| ratio |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in api:
        lines.append(
            f"| {row['size']} | {row['page']} | {row['queries']} | "
            f"{row['decryptions']} | {row['api_ms']:.1f} | {row['plain_ms']:.1f} | "
            f"{row['api_ms'] / row['plain_ms']:.1f}x |"
        )
    lines += [
        "",
        "## Admin changelist",
        "",
        "`/admin/registries/registry/` as a superuser with a session, first "
        f"page, by WSGI calls as above. Median of {args.repeat} requests.",
        "",
        "| credentials | queries | decryptions | median ms |",
        "| --- | --- | --- | --- |",
    ]
    for row in admin:
        lines.append(
            f"| {row['size']} | {row['queries']} | {row['decryptions']} | "
            f"{row['ms']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="A smaller run.")
    parser.add_argument("--credentials", type=int, default=2000)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.1, help="Seconds.")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--baseline-sample", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database", default="gimlet_benchmark")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--sweep-timeout", type=float, default=300)
    parser.add_argument("--worker-start-seconds", type=float, default=4)
    parser.add_argument(
        "--worker-log-level",
        default="WARNING",
        help="The worker's log level; its log goes to var/benchmark-worker.log.",
    )
    args = parser.parse_args(argv)
    args.api_sizes = [10, 100, 1000]
    args.admin_sizes = [100, 1000, 10000]
    if args.quick:
        args.credentials = min(args.credentials, 400)
        args.baseline_sample = 20
        args.repeat = 10
        args.api_sizes = [10, 100]
        args.admin_sizes = [100, 1000]
    return args


def main(argv):
    args = parse_args(argv)
    command = " ".join(["python -m benchmarks.run", shlex.join(argv)]).strip()
    database_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres"
    )
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    (ROOT / "var").mkdir(exist_ok=True)
    sys.path.insert(0, str(ROOT))
    with fake_upstream(args.latency) as port:
        env = {
            **BENCH_ENV,
            "DATABASE_URL": recreate_database(database_url, args.database),
            "REDIS_URL": redis_url,
            "GIMLET_GITHUB_API_URL": f"http://127.0.0.1:{port}",
            "GIMLET_GHCR_URL": f"http://127.0.0.1:{port}",
        }
        setup_django(env)
        upstream = time_upstream_alone(port, 2000, 200, args.latency)
        print(f"fake upstream alone: {upstream['ratio']:.2f}x ideal", flush=True)
        sweep = bench_sweep(args, env, port)
        print(f"sweep: {sweep['wall']:.2f} s, ideal {sweep['ideal']:.2f} s", flush=True)
        baseline = bench_baseline(args, port)
        print(f"baseline: {baseline['scaled']:.1f} s scaled", flush=True)
        api = bench_api(args)
        admin = bench_admin(args)
    text = report(args, upstream, sweep, baseline, api, admin, command)
    print(text)
    if not args.no_write:
        DOC.parent.mkdir(exist_ok=True)
        existing = DOC.read_text() if DOC.exists() else ""
        marker = "\n## Scaling\n"
        notes = existing[existing.index(marker) :] if marker in existing else ""
        DOC.write_text(text + notes)
    if args.quick:
        # The targets are set for 2,000 credentials, and a quick run's short
        # sweep is dominated by its fixed start-up cost.
        return 0
    missed = [name for name, _, ok in targets(sweep, baseline, api, admin) if not ok]
    for name in missed:
        print(f"Target missed: {name}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
