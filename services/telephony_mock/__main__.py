"""`python -m services.telephony_mock`: the fake carrier, until SIGTERM."""

from __future__ import annotations

import aiohttp
import structlog
from aiohttp import web

from services.telephony_mock.amqp_endpoint import AmqpEndpoint
from services.telephony_mock.behaviour import Behaviour, MockConfig
from services.telephony_mock.carrier import Carrier, Result
from services.telephony_mock.http_api import create_app
from services.telephony_mock.http_callbacks import HttpCallbacks
from services.telephony_mock.twilio_api import TwilioAccount, add_twilio_routes
from services.telephony_mock.twilio_callbacks import TwilioCallbacks
from shared.runtime import run_service, stop_event
from shared.settings import Settings

log = structlog.get_logger()


def config_from(settings: Settings) -> MockConfig:
    return MockConfig(
        delay_min_ms=settings.mock_delay_min_ms,
        delay_max_ms=settings.mock_delay_max_ms,
        failure_rate=settings.mock_failure_rate,
        no_callback_rate=settings.mock_no_callback_rate,
        sync_error_rate=settings.mock_sync_error_rate,
        rate_limited_rate=settings.mock_rate_limited_rate,
        duplicate_callback_rate=settings.mock_duplicate_callback_rate,
        out_of_order_callback_rate=settings.mock_out_of_order_callback_rate,
        late_callback_rate=settings.mock_late_callback_rate,
        late_callback_delay_ms=settings.mock_late_callback_delay_ms,
        machine_rate=settings.mock_machine_rate,
        machine_message_ms=settings.mock_machine_message_ms,
        scenarios=settings.mock_scenarios,
    )


async def serve(settings: Settings) -> None:
    stop = stop_event()
    endpoint = AmqpEndpoint(settings.amqp_url, settings.queue_type)
    async with aiohttp.ClientSession() as http:
        callbacks = HttpCallbacks(http, settings.callback_secret)
        token = settings.twilio_auth_token
        account = TwilioAccount(
            settings.twilio_account_sid, token.get_secret_value() if token else None
        )
        twilio = (
            TwilioCallbacks(http, account.account_sid or "", account.auth_token or "")
            if account.enabled
            else None
        )

        async def report(result: Result) -> None:
            if result.record.channel == "twilio":
                if twilio is not None:
                    await twilio.report(result)
            elif url := carrier.config.callback_url:
                await callbacks.report(url, result)
            else:
                await endpoint.report(result)

        carrier = Carrier(
            Behaviour(config_from(settings)), report, twilio.announce if twilio else None
        )

        async def broker() -> None:
            if not endpoint.connected:
                raise ConnectionError("no broker connection")

        app = create_app(carrier, {"broker": broker})
        add_twilio_routes(app, account)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, settings.host, settings.mock_http_port).start()
            log.info(
                "telephony mock ready",
                http_port=settings.mock_http_port,
                twilio_api="on" if account.enabled else "off",
            )
            # The HTTP side (Twilio's API, the controls) serves throughout; the message side
            # comes and goes with the broker.
            await endpoint.run(carrier, stop)
        finally:
            await runner.cleanup()
            await carrier.close()
    log.info("telephony mock stopped")


def main() -> None:
    run_service("telephony_mock", serve)


if __name__ == "__main__":
    main()
