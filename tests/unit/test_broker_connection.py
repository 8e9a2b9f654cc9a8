"""Broker URLs naming several nodes, the queue arguments of each queue type, and the private
aio-pika hook that ClusterConnection relies on."""

from __future__ import annotations

import pytest
from aio_pika.robust_connection import RobustConnection

from shared.broker_connection import ClusterConnection, broker_urls
from shared.settings import Settings
from shared.topology import (
    QUORUM_DELIVERY_LIMIT,
    campaign_queue_arguments,
    work_queue_arguments,
)


def test_one_node_is_one_url() -> None:
    url = "amqp://guest:guest@127.0.0.1:5672/vcs"
    assert broker_urls(url) == [url]


def test_several_nodes_share_credentials_vhost_and_options() -> None:
    urls = broker_urls("amqps://u:p%40ss@a:5671,b,c.example:5673/v%2Fh?heartbeat=30")
    assert urls == [
        "amqps://u:p%40ss@a:5671/v%2Fh?heartbeat=30",
        "amqps://u:p%40ss@b/v%2Fh?heartbeat=30",
        "amqps://u:p%40ss@c.example:5673/v%2Fh?heartbeat=30",
    ]


def test_nodes_without_credentials() -> None:
    assert broker_urls("amqp://a:1,b:2/") == ["amqp://a:1/", "amqp://b:2/"]


@pytest.mark.parametrize(
    "url", ["amqp://u:p@a,,b/", "amqp://u:p@a,/", "http://a:5672/", "amqp://u:p@/"]
)
def test_a_malformed_broker_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        Settings(amqp_url=url)


def test_classic_queues_keep_the_arguments_they_always_had() -> None:
    dead_lettered = {"x-dead-letter-exchange": "dlx"}
    assert work_queue_arguments("classic", dead_lettered) == dead_lettered
    assert work_queue_arguments("classic", {}) == {}
    assert campaign_queue_arguments("classic") == {
        "x-dead-letter-exchange": "vcs.dead-letter",
        "x-single-active-consumer": True,
        "x-queue-type": "classic",
    }


def test_quorum_queues_dead_letter_at_least_once_and_limit_deliveries() -> None:
    quorum = work_queue_arguments("quorum", {"x-dead-letter-exchange": "dlx"})
    assert quorum == {
        "x-dead-letter-exchange": "dlx",
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
        "x-delivery-limit": QUORUM_DELIVERY_LIMIT,
    }
    # The dead letters' own queue has nowhere to dead-letter to: no strategy, no limit.
    assert work_queue_arguments("quorum", {}) == {"x-queue-type": "quorum"}
    campaign = campaign_queue_arguments("quorum")
    assert campaign["x-queue-type"] == "quorum"
    assert campaign["x-single-active-consumer"] is True


def test_the_queue_type_setting_accepts_only_the_two_types() -> None:
    assert Settings().queue_type == "classic"
    assert Settings(queue_type="quorum").queue_type == "quorum"
    with pytest.raises(ValueError, match="queue_type"):
        Settings(queue_type="stream")


def test_the_private_hook_cluster_connection_overrides_still_exists() -> None:
    # ClusterConnection overrides RobustConnection.__connect_transport (name-mangled); if an
    # aio-pika upgrade renames it, connections would silently stay on one node.
    hook = "_RobustConnection__connect_transport"
    assert hook in vars(RobustConnection)
    assert hook in vars(ClusterConnection)
