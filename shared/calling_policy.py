"""The calling policy a service runs under, read once at start (VCS_CALLING_POLICY)."""

from __future__ import annotations

import structlog

from shared.domain.calling import CallingPolicy, CallingPolicyError, load_calling_policy
from shared.settings import Settings

log = structlog.get_logger()


def service_policy(settings: Settings) -> CallingPolicy | None:
    """The policy the settings name, or None when it is turned off (said in a warning).

    A file that cannot be read or does not parse ends the process with the reason: a service
    must never dial as if no policy were there because its policy file is broken.
    """
    try:
        policy = load_calling_policy(settings.calling_policy)
    except CallingPolicyError as exc:
        log.critical("calling policy unusable; not starting", error=str(exc))
        raise SystemExit(f"calling policy unusable: {exc}") from exc
    if policy is None:
        log.warning(
            "calling policy is OFF: only the campaigns' own rules apply to dials"
            " (VCS_CALLING_POLICY=off is meant for tests and benchmarks)"
        )
    else:
        log.info(
            "calling policy loaded",
            path=settings.calling_policy,
            rules=[rule.name for rule in policy.rules],
            holiday_calendars=list(policy.holiday_calendars),
            restricted_periods=len(policy.restricted_periods),
        )
    return policy
