"""The admin dashboard: credentials by status, and the expiries ahead.

Staff see the tenants they administer, superusers all tenants: for each
tenant, how many credentials are in each status, and a timeline of the
tokens and CA certificates that expire in the next 30 days. The timeline
is SVG drawn on the server, so the page loads no script and nothing from
another host. The page runs a fixed number of queries and decrypts nothing.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator

from gimlet.admin_scoping import admin_tenant_ids, staff_may_administer
from gimlet.models import Tenant
from registries.admin_display import STATUS_TONES, countdown, status_badge
from registries.models import Registry, Status

TIMELINE_DAYS = 30
# More rows than this make the timeline unreadable. The page gives the
# number left out, and the registry list shows them all.
TIMELINE_MAX_ROWS = 40
ATTENTION_STATUSES = (
    Status.INVALID,
    Status.EXPIRED,
    Status.INSUFFICIENT_SCOPE,
    Status.TLS_ERROR,
    Status.CONFIG_ERROR,
)

# Timeline geometry in SVG user units; the SVG scales to the page width.
WIDTH = 960
LABEL_WIDTH = 380
COUNTDOWN_WIDTH = 100
TOP = 44
ROW_HEIGHT = 26
BOTTOM = 14
TICK_EVERY_DAYS = 5
LABEL_CHARS = 56
# Width of each tenant's stacked status bar, in SVG user units.
BAR_WIDTH = 200


@dataclass(frozen=True)
class Expiry:
    """One token or CA certificate that expires within the timeline."""

    registry_id: int
    tenant: str
    environment: str
    name: str
    subject: str
    moment: datetime
    status: str

    @property
    def label(self):
        return f"{self.tenant}/{self.environment}/{self.name}"

    @property
    def status_badge(self):
        return status_badge(self.status)


@dataclass(frozen=True)
class TimelineRow:
    expiry: Expiry
    y: int
    x: float
    tone: str
    countdown: str
    url: str
    label: str
    is_token: bool

    @property
    def diamond_points(self):
        """Corners of the certificate marker, a square on its tip."""
        size = 6
        return " ".join(
            f"{x:g},{y:g}"
            for x, y in (
                (self.x, self.y - size),
                (self.x + size, self.y),
                (self.x, self.y + size),
                (self.x - size, self.y),
            )
        )


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    plot_left: int
    plot_right: int
    window_right: float
    rows: list
    ticks: list

    @property
    def tick_label_y(self):
        return TOP - 22

    @property
    def grid_top(self):
        return TOP - 12

    @property
    def grid_height(self):
        return self.height - BOTTOM // 2 - self.grid_top

    @property
    def grid_bottom(self):
        return self.grid_top + self.grid_height

    @property
    def window_width(self):
        return round(self.window_right - self.plot_left, 1)

    @property
    def label_x(self):
        return self.plot_left - 12

    @property
    def countdown_x(self):
        return self.plot_right + 14


def urgency_tone(moment, now):
    """Colour of a timeline marker: the nearer the expiry, the hotter."""
    remaining = moment - now
    if remaining <= timedelta(days=3):
        return "error"
    if remaining <= timedelta(days=7):
        return "warning"
    if remaining <= timedelta(days=settings.GIMLET_EXPIRING_WINDOW_DAYS):
        return "caution"
    return "info"


def visible_registries(tenant_ids):
    """Registries of `tenant_ids`, or of every tenant when it is None."""
    registries = Registry.objects.without_secrets()
    if tenant_ids is None:
        return registries
    return registries.filter(environment__tenant_id__in=tenant_ids)


def tenant_status_rows(tenant_ids, now):
    """Count each tenant's credentials by status, in one query."""
    tenants = Tenant.objects.order_by("name")
    if tenant_ids is not None:
        tenants = tenants.filter(pk__in=tenant_ids)
    horizon = now + timedelta(days=settings.GIMLET_EXPIRING_WINDOW_DAYS)
    expiring = Q(expires_at__gt=now, expires_at__lte=horizon) | Q(
        certificate_expires_at__gt=now, certificate_expires_at__lte=horizon
    )
    counts = (
        visible_registries(tenant_ids)
        .values("environment__tenant_id")
        .annotate(
            total=Count("pk"),
            expiring=Count("pk", filter=expiring),
            **{
                f"status_{status}": Count("pk", filter=Q(status=status))
                for status in Status.values
            },
        )
        .order_by()
    )
    by_tenant = {row["environment__tenant_id"]: row for row in counts}
    changelist = reverse("admin:registries_registry_changelist")
    rows = []
    for tenant in tenants:
        row = by_tenant.get(tenant.pk, {})
        statuses = [
            {
                "status": status,
                "label": status.label,
                "tone": STATUS_TONES[status],
                "count": row.get(f"status_{status}", 0),
                "url": f"{changelist}?tenant={tenant.pk}&status__exact={status}",
            }
            for status in Status
        ]
        total = row.get("total", 0)
        segments = []
        start = 0.0
        for item in statuses:
            if item["count"]:
                width = BAR_WIDTH * item["count"] / total
                segments.append(
                    {**item, "x": round(start, 2), "width": round(width, 2)}
                )
                start += width
        rows.append(
            {
                "tenant": tenant,
                "total": total,
                "url": f"{changelist}?tenant={tenant.pk}",
                "expiring": row.get("expiring", 0),
                "expiring_url": f"{changelist}?tenant={tenant.pk}"
                f"&expiring={settings.GIMLET_EXPIRING_WINDOW_DAYS}",
                "attention": sum(
                    item["count"]
                    for item in statuses
                    if item["status"] in ATTENTION_STATUSES
                ),
                "statuses": statuses,
                "segments": segments,
            }
        )
    return rows


def upcoming_expiries(tenant_ids, now, *, days, limit):
    """Return the first `limit` expiries within `days`, and how many there are."""
    horizon = now + timedelta(days=days)
    registries = visible_registries(tenant_ids).select_related("environment__tenant")
    tokens = registries.filter(expires_at__gt=now, expires_at__lte=horizon)
    certificates = registries.filter(
        certificate_expires_at__gt=now, certificate_expires_at__lte=horizon
    )
    total = tokens.count() + certificates.count()
    entries = [
        _expiry(registry, "Token", registry.expires_at)
        for registry in tokens.order_by("expires_at")[:limit]
    ]
    entries += [
        _expiry(registry, "CA certificate", registry.certificate_expires_at)
        for registry in certificates.order_by("certificate_expires_at")[:limit]
    ]
    entries.sort(key=lambda entry: (entry.moment, entry.label, entry.subject))
    return entries[:limit], total


def _expiry(registry, subject, moment):
    return Expiry(
        registry_id=registry.pk,
        tenant=registry.environment.tenant.slug,
        environment=registry.environment.name,
        name=registry.name,
        subject=subject,
        moment=moment,
        status=registry.status,
    )


def timeline_layout(expiries, now, *, days=TIMELINE_DAYS):
    """Place each expiry on a day axis that starts now: one row each."""
    plot_left = LABEL_WIDTH
    plot_right = WIDTH - COUNTDOWN_WIDTH
    per_day = (plot_right - plot_left) / days

    def x_of(moment):
        return round(plot_left + (moment - now) / timedelta(days=1) * per_day, 1)

    ticks = [
        Tick(
            x=round(plot_left + day * per_day, 1),
            label="Today" if day == 0 else _short_date(now + timedelta(days=day)),
        )
        for day in range(0, days + 1, TICK_EVERY_DAYS)
    ]
    rows = []
    for index, expiry in enumerate(expiries):
        rows.append(
            TimelineRow(
                expiry=expiry,
                y=TOP + index * ROW_HEIGHT + ROW_HEIGHT // 2,
                x=x_of(expiry.moment),
                tone=urgency_tone(expiry.moment, now),
                countdown=countdown(expiry.moment, now).removeprefix("expires "),
                url=reverse(
                    "admin:registries_registry_change", args=[expiry.registry_id]
                ),
                label=Truncator(f"{expiry.label} · {expiry.subject}").chars(
                    LABEL_CHARS
                ),
                is_token=expiry.subject == "Token",
            )
        )
    window = min(settings.GIMLET_EXPIRING_WINDOW_DAYS, days)
    return Timeline(
        width=WIDTH,
        height=TOP + max(len(rows), 1) * ROW_HEIGHT + BOTTOM,
        plot_left=plot_left,
        plot_right=plot_right,
        window_right=round(plot_left + window * per_day, 1),
        rows=rows,
        ticks=ticks,
    )


def _short_date(moment):
    return f"{moment:%b} {moment.day}"


def dashboard_view(request):
    """Render the dashboard for the tenants the user administers."""
    if not staff_may_administer(request):
        raise PermissionDenied
    tenant_ids = None if request.user.is_superuser else admin_tenant_ids(request)
    now = timezone.now()
    tenants = tenant_status_rows(tenant_ids, now)
    expiries, expiry_total = upcoming_expiries(
        tenant_ids, now, days=TIMELINE_DAYS, limit=TIMELINE_MAX_ROWS
    )
    changelist = reverse("admin:registries_registry_changelist")
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "now": now,
        "tenants": tenants,
        "totals": {
            "credentials": sum(row["total"] for row in tenants),
            "attention": sum(row["attention"] for row in tenants),
            "unreachable": sum(
                item["count"]
                for row in tenants
                for item in row["statuses"]
                if item["status"] == Status.UNREACHABLE
            ),
            "expiring": expiry_total,
        },
        "statuses": [
            {"status": status, "label": status.label, "tone": STATUS_TONES[status]}
            for status in Status
        ],
        "timeline": timeline_layout(expiries, now) if expiries else None,
        "expiries": expiries,
        "expiry_total": expiry_total,
        "expiry_hidden": expiry_total - len(expiries),
        "timeline_days": TIMELINE_DAYS,
        "window_days": settings.GIMLET_EXPIRING_WINDOW_DAYS,
        "attention_url": changelist,
        "expiring_url": f"{changelist}?expiring={TIMELINE_DAYS}",
    }
    request.current_app = admin.site.name
    return TemplateResponse(request, "admin/gimlet/dashboard.html", context)
