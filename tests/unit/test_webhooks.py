"""Webhook signing, the retry schedule, the address rules and secrets at rest."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from standardwebhooks import Webhook, WebhookVerificationError

from services.api.webhooks import signing
from services.api.webhooks.addresses import (
    ForbiddenAddress,
    PublicOnlyResolver,
    public,
    url_problem,
)
from services.api.webhooks.deliverer import Deliverer, endpoint_slots
from services.api.webhooks.secrets import PREFIX, SecretBox, SecretsUnavailable, new_secret
from shared.domain.webhook_retries import RetrySchedule, delivered
from shared.repositories.webhook_deliveries import DeliveryResult
from shared.settings import Settings

BODY = '{"id":"e1","type":"call.completed"}'


def test_a_delivery_verifies_with_the_standard_webhooks_library() -> None:
    secret = new_secret()
    at = datetime.now(UTC)
    headers = signing.headers([secret], "msg_1", at, BODY)
    assert Webhook(secret).verify(BODY, headers) == {"id": "e1", "type": "call.completed"}
    assert headers["webhook-timestamp"] == str(int(at.timestamp()))


def test_the_signature_is_the_hmac_of_id_timestamp_and_body() -> None:
    key = b"k" * 32
    secret = PREFIX + base64.b64encode(key).decode()
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    expected = hmac.new(key, f"msg_1.{int(at.timestamp())}.{BODY}".encode(), hashlib.sha256)
    assert signing.signature_header([secret], "msg_1", at, BODY) == (
        "v1," + base64.b64encode(expected.digest()).decode()
    )


def test_during_a_rotation_either_secret_verifies() -> None:
    new, old = new_secret(), new_secret()
    headers = signing.headers([new, old], "msg_1", datetime.now(UTC), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        Webhook(secret).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)


def test_a_changed_body_does_not_verify() -> None:
    secret = new_secret()
    headers = signing.headers([secret], "msg_1", datetime.now(UTC), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("e1", "e2"), headers)


def test_secrets_have_the_standard_format() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_secrets_are_stored_encrypted_and_keys_can_rotate() -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    stored = SecretBox(SecretStr(old_key)).encrypt("whsec_abc")
    assert "whsec_abc" not in stored
    rotated = SecretBox(SecretStr(f"{new_key},{old_key}"))
    assert rotated.decrypt(stored) == "whsec_abc"
    with pytest.raises(SecretsUnavailable):
        SecretBox(SecretStr(new_key)).decrypt(stored)


def test_without_a_key_nothing_is_encrypted() -> None:
    box = SecretBox(None)
    assert not box.available
    with pytest.raises(SecretsUnavailable):
        box.encrypt("whsec_abc")


SCHEDULE = RetrySchedule(
    base=timedelta(seconds=5), maximum=timedelta(hours=1), period=timedelta(hours=24)
)


def test_retries_back_off_exponentially_up_to_the_maximum() -> None:
    assert [SCHEDULE.delay(n, 0.0).total_seconds() for n in (1, 2, 3, 4)] == [5, 10, 20, 40]
    assert SCHEDULE.delay(30, 0.0) == timedelta(hours=1)


def test_jitter_stays_within_a_quarter() -> None:
    assert SCHEDULE.delay(3, -1.0) == timedelta(seconds=15)
    assert SCHEDULE.delay(3, 1.0) == timedelta(seconds=25)


def test_a_delivery_is_given_up_past_its_period() -> None:
    since = datetime(2026, 1, 1, tzinfo=UTC)
    early = SCHEDULE.next_try(1, since, since, 0.0)
    assert early == since + timedelta(seconds=5)
    late = since + timedelta(hours=23, minutes=30)
    assert SCHEDULE.next_try(20, late, since, 0.0) is None


def test_only_2xx_is_delivered() -> None:
    assert delivered(200) and delivered(204)
    assert not delivered(301) and not delivered(410) and not delivered(500)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/",
        "http://192.168.0.5:8080/",
        "http://172.16.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://100.64.0.1/",
        "http://localhost:8000/",
        "http://api.localhost/",
    ],
)
def test_private_addresses_are_refused(url: str) -> None:
    assert url_problem(url, allow_private=False) is not None
    assert url_problem(url, allow_private=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "example.com",
        "http://",
        "https://u:p@x.io",
        "https://\U000d9c3c/",  # the fuzzer's: a private-use character for a host
        "https://bücher.example/",  # a URI's host is ASCII: xn--bcher-kva.example
        "https://-bad-.example/",
    ],
)
def test_only_plain_http_urls_are_taken(url: str) -> None:
    assert url_problem(url, allow_private=True) is not None


def test_public_urls_are_taken() -> None:
    assert url_problem("https://hooks.example.com/vcs", allow_private=False) is None
    assert url_problem("https://xn--bcher-kva.example./in", allow_private=False) is None
    assert url_problem("http://93.184.216.34:8443/x", allow_private=False) is None
    assert public("8.8.8.8") and not public("127.0.0.1") and not public("224.0.0.1")


class FixedResolver:
    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[dict]:
        return [
            {"hostname": host, "host": a, "port": port, "family": family, "proto": 0, "flags": 0}
            for a in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_a_name_resolving_to_private_addresses_reaches_nothing() -> None:
    resolver = PublicOnlyResolver(FixedResolver("10.0.0.1", "127.0.0.1"))  # type: ignore[arg-type]
    with pytest.raises(ForbiddenAddress):
        await resolver.resolve("rebinding.example", 80)


async def test_only_the_public_addresses_of_a_name_are_used() -> None:
    resolver = PublicOnlyResolver(FixedResolver("10.0.0.1", "93.184.216.34"))  # type: ignore[arg-type]
    assert [r["host"] for r in await resolver.resolve("mixed.example", 80)] == ["93.184.216.34"]


A, B, C, D = (UUID(int=n) for n in range(1, 5))


def test_endpoints_that_answer_keep_their_allowance() -> None:
    slots = endpoint_slots({A: 3}, set(), per_endpoint=16)
    assert slots == {A: 13}  # B, C, D: absent, the full allowance


def test_a_failing_endpoint_claims_one_at_a_time() -> None:
    assert endpoint_slots({A: 1}, {A, B}, per_endpoint=16) == {A: 0, B: 1}


def test_many_failing_endpoints_leave_one_each_to_the_others() -> None:
    """Endpoints that failed and were deleted stay remembered as failing; a live one that
    failed once still gets its one (a share handed out one endpoint after another gave the
    deleted ones every slot, and a test's endpoint none, for good)."""
    gone = {UUID(int=n) for n in range(100, 200)}
    slots = endpoint_slots({}, gone | {A}, per_endpoint=16)
    assert slots[A] == 1 and set(slots.values()) == {1}


def test_an_endpoint_is_failing_from_a_failure_until_a_success() -> None:
    settings = Settings(webhook_max_concurrency=4)  # type: ignore[call-arg]
    deliverer = Deliverer(None, settings)  # type: ignore[arg-type]  # no database is used

    def result(status: str) -> DeliveryResult:
        at = datetime.now(UTC)
        return DeliveryResult(A, A, 1, at, 5, None, "refused", status, None)

    deliverer.note(result("PENDING"))
    assert deliverer.failing == {A}
    deliverer.note(result("DELIVERED"))
    assert deliverer.failing == set()
