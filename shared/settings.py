"""The one settings object of every service, read from `VCS_*` environment variables."""

from __future__ import annotations

import json
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.broker_connection import broker_urls

#: RabbitMQ closes the channel of a consumer holding a message longer than its
#: `consumer_timeout` (30 min by default). A worker holds a job until the call's result,
#: so no campaign may wait longer than this for a callback.
MAX_CALLBACK_TIMEOUT_MS = 20 * 60 * 1000


class Settings(BaseSettings):
    """Configuration shared by api, dispatcher, worker and telephony_mock."""

    model_config = SettingsConfigDict(env_prefix="VCS_", extra="ignore", frozen=True)

    # Connections
    database_url: str = "postgresql://postgres@127.0.0.1:5432/voicecampaign"
    #: One broker, or the nodes of a cluster: `amqp://user:pass@h1:5672,h2:5672,h3:5672/vhost`
    #: (every connection takes any node that answers: shared.broker_connection).
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    #: The type of every durable queue that carries work or results: `quorum` on a cluster
    #: (replicated), `classic` on one node (docs/scaling.md: what changes, how to switch).
    queue_type: Literal["classic", "quorum"] = "classic"
    db_pool_min_size: int = Field(2, ge=1)
    db_pool_max_size: int = Field(10, ge=1)

    # Logging
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    # The operator's calling policy (docs/calling-policy.md): a JSON file, read at start by
    # every service that decides or explains dials; "off" only for tests and benchmarks.
    calling_policy: str = "deploy/calling-policy.json"

    # HTTP: the address every service's HTTP server binds to (0.0.0.0 in containers)
    host: str = "127.0.0.1"

    # api
    api_port: int = 8081
    #: Comma-separated API keys accepted besides those in the api_keys table.
    api_keys: str = ""
    #: Signs the JSON provider callback (HMAC-SHA256 of the raw body). Unset: callbacks refused.
    callback_secret: str | None = None
    #: How long a key found in the database is trusted before it is looked up again.
    api_key_cache_ms: int = Field(5000, ge=0)
    rate_limit_per_second: float = Field(100.0, gt=0)
    rate_limit_burst: int = Field(200, ge=1)
    #: Redis that every api replica counts rate limits in (redis://host:6379/0); unset: each
    #: process counts its own (docs/scaling.md).
    redis_url: str | None = None
    max_request_bytes: int = Field(20 * 1024 * 1024, ge=1024)
    #: The built web console served at `/` (default: services/ui/dist of this checkout).
    ui_dir: str | None = None
    #: Processes that validate large number lists in parallel (0: one per CPU).
    validation_processes: int = Field(0, ge=0, le=64)

    # Webhooks (docs/webhooks.md), delivered by the api
    #: Fernet key(s), comma-separated, the first encrypting: endpoint secrets are stored
    #: encrypted with it. Unset: webhooks cannot be created and nothing is delivered.
    webhook_secret_key: SecretStr | None = None
    webhook_timeout_ms: int = Field(10_000, ge=100, le=60_000)
    #: A delivery is tried for this long (from its event) before it is given up.
    webhook_retry_hours: float = Field(24.0, gt=0, le=24 * 14)
    #: The first retry's delay; each next one doubles, with jitter, up to the maximum.
    webhook_retry_base_ms: int = Field(5000, ge=10)
    webhook_retry_max_ms: int = Field(3_600_000, ge=10)
    #: Delivered (and given-up) events are kept this long for the delivery log, then removed.
    webhook_retention_days: float = Field(7.0, gt=0)
    #: Allow endpoints on loopback, link-local and private addresses (development, tests).
    webhook_allow_private: bool = False
    #: Requests in flight at once per api replica, and per endpoint within them.
    webhook_max_concurrency: int = Field(64, ge=1, le=1000)
    webhook_endpoint_concurrency: int = Field(16, ge=1, le=100)
    #: How often a deliverer looks for new events and due retries when idle.
    webhook_poll_interval_ms: int = Field(100, ge=10, le=10_000)
    #: After a secret is rotated, the previous one still signs beside the new one this long.
    webhook_secret_overlap_hours: float = Field(24.0, ge=0)

    # The live event stream (GET /api/v1/events)
    #: Streams one api replica serves at once; one more is answered 503.
    event_stream_max_clients: int = Field(100, ge=1, le=10_000)
    #: How often a stream looks for new events.
    event_stream_poll_ms: int = Field(250, ge=10, le=10_000)
    #: A comment line after this long without an event keeps proxies from closing a stream.
    event_stream_heartbeat_s: float = Field(15.0, gt=0, le=300)

    # Defaults for what a campaign or single call leaves out
    default_concurrency_limit: int = Field(10, ge=1, le=1000)
    default_priority: int = Field(5, ge=1, le=10)
    default_max_retries: int = Field(3, ge=0, le=20)
    default_sync_initial_backoff_ms: int = Field(1000, ge=0)
    default_sync_backoff_multiplier: float = Field(2.0, ge=1.0, le=10.0)
    default_callback_retry_delay_ms: int = Field(30_000, ge=0)
    default_callback_timeout_ms: int = Field(120_000, ge=1000, le=MAX_CALLBACK_TIMEOUT_MS)
    default_region: str = "US"

    # Sharing lines among campaigns
    #: Calls in progress across all campaigns, at most: the carrier trunk's size.
    max_concurrent_calls: int = Field(100, ge=1)
    scheduling_strategy: Literal["round_robin", "priority", "remaining_calls"] = "round_robin"
    #: Call setups a second across all campaigns; unset: as fast as lines allow.
    max_calls_per_second: float | None = Field(None, gt=0)

    # dispatcher
    dispatcher_health_port: int = 8082
    dispatch_interval_ms: int = Field(250, ge=10, le=10_000)
    queued_jobs_per_line: float = Field(1.0, ge=0.0, le=10.0)
    #: A campaign queue's depth is asked of the broker when a worker may have taken a job from
    #: it (its lines or calls changed) and at least this often otherwise; 0: on every pass.
    queue_depth_refresh_ms: int = Field(5000, ge=0, le=600_000)
    leader_retry_interval_ms: int = Field(1000, ge=50)
    vacuum_check_interval_ms: int = Field(10_000, ge=100)

    # worker
    worker_id: str | None = None
    worker_health_port: int = 8083
    #: The module of services/worker/telephony/providers that places calls: mock, twilio.
    telephony_provider: str = Field("mock", pattern=r"^[a-z][a-z0-9_]*$")
    dial_timeout_ms: int = Field(10_000, ge=100)
    dial_max_tries: int = Field(4, ge=1, le=20)
    breaker_fail_max: int = Field(5, ge=1)
    breaker_reset_timeout_ms: int = Field(10_000, ge=100)
    held_attempt_check_interval_ms: int = Field(2000, ge=50)
    #: A job holds its line for at most this many calls, or this long, then goes back: well
    #: within RabbitMQ's consumer_timeout, and a chance for the dispatcher to rebalance.
    line_lease_calls: int = Field(100, ge=1)
    line_lease_ms: int = Field(60_000, ge=1000)
    campaign_refresh_interval_ms: int = Field(2000, ge=50)
    #: A worker consumes each running campaign on a channel of its own; past this many on one
    #: broker connection it opens another (RabbitMQ's channel_max is 2,047 by default).
    worker_channels_per_connection: int = Field(1000, ge=1, le=2000)
    #: How often a worker tells the database it is alive and what it holds (for the metrics).
    worker_heartbeat_interval_ms: int = Field(2000, ge=100)

    # A Twilio-compatible carrier (the worker's twilio provider; the mock's Twilio API too)
    twilio_base_url: str = "https://api.twilio.com"
    twilio_account_sid: str | None = None
    #: Basic-auth password of the REST API and the key of X-Twilio-Signature on callbacks.
    twilio_auth_token: SecretStr | None = None
    #: The caller id: a number (or SIP address) of the account.
    twilio_from: str | None = None
    #: What the answered call hears: a TwiML document's URL, or the TwiML itself.
    twilio_twiml_url: str | None = None
    twilio_twiml: str | None = None
    #: Twilio's MachineDetection mode, sent for campaigns whose answeringMachine.detect is
    #: on: Enable answers as soon as it knows; DetectMessageEnd waits for the greeting's end
    #: (the beep), to leave a message after it.
    twilio_machine_detection: Literal["Enable", "DetectMessageEnd"] = "Enable"
    #: Seconds the carrier lets a call ring before it reports no-answer.
    twilio_ring_timeout_s: int = Field(30, ge=5, le=600)
    #: Where the carrier reaches the api (behind any proxy): status callbacks go to
    #: {public_base_url}/api/v1/calls/callback/twilio, and their signatures are checked on it.
    public_base_url: str | None = None

    # telephony_mock
    mock_http_port: int = 8090
    mock_delay_min_ms: int = Field(3000, ge=0)
    mock_delay_max_ms: int = Field(10_000, ge=0)
    mock_failure_rate: float = Field(0.05, ge=0.0, le=1.0)
    mock_no_callback_rate: float = Field(0.01, ge=0.0, le=1.0)
    mock_sync_error_rate: float = Field(0.005, ge=0.0, le=1.0)
    mock_rate_limited_rate: float = Field(0.0, ge=0.0, le=1.0)
    mock_duplicate_callback_rate: float = Field(0.0, ge=0.0, le=1.0)
    mock_out_of_order_callback_rate: float = Field(0.0, ge=0.0, le=1.0)
    mock_late_callback_rate: float = Field(0.0, ge=0.0, le=1.0)
    mock_late_callback_delay_ms: int = Field(5000, ge=0)
    #: Answered calls that a machine answers (scenario step `machine` does it per number).
    mock_machine_rate: float = Field(0.0, ge=0.0, le=1.0)
    #: How long a machine's call lasts after it answers (greeting and message) unless hung up.
    mock_machine_message_ms: int = Field(3000, ge=0)
    mock_scenarios: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("amqp_url")
    @classmethod
    def _broker_nodes_named(cls, value: str) -> str:
        broker_urls(value)
        return value

    @field_validator("mock_scenarios", mode="before")
    @classmethod
    def _scenarios_from_json(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @property
    def static_api_keys(self) -> list[str]:
        return [key.strip() for key in self.api_keys.split(",") if key.strip()]

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.mock_delay_min_ms > self.mock_delay_max_ms:
            raise ValueError("VCS_MOCK_DELAY_MIN_MS must not exceed VCS_MOCK_DELAY_MAX_MS")
        if self.db_pool_min_size > self.db_pool_max_size:
            raise ValueError("VCS_DB_POOL_MIN_SIZE must not exceed VCS_DB_POOL_MAX_SIZE")
        rates = (
            self.mock_failure_rate
            + self.mock_no_callback_rate
            + self.mock_sync_error_rate
            + self.mock_rate_limited_rate
        )
        if rates > 1.0:
            raise ValueError(
                "the mock's failure, no-callback, sync-error and rate-limited rates add up past 1"
            )
        return self
