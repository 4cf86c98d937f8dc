from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from apps.core import clock
from apps.core.health import check_broker, check_database


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness and readiness: 200 when the database and broker answer, else 503."""
    db_ok, db_detail = check_database()
    broker_ok, broker_detail = check_broker()
    healthy = db_ok and broker_ok
    return JsonResponse(
        {
            "status": "ok" if healthy else "fail",
            "database": {"ok": db_ok, "detail": db_detail},
            "broker": {"ok": broker_ok, "detail": broker_detail},
            "time": clock.now().isoformat(),
        },
        status=200 if healthy else 503,
    )
