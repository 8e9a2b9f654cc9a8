"""The Twilio adapter's pure parts: signatures (held to the official `twilio` package), the
dial request's form, the classification of the carrier's answers, and status mapping."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from services.api.http.twilio_callback import CallbackTarget, TwilioStatusCallback, provider_report
from services.worker.telephony.base import DialRequest, ProviderConfigError
from services.worker.telephony.providers import available_providers, check_provider
from services.worker.telephony.providers.twilio import TwilioConfig, call_sid_from
from shared.errors import ProviderOutcomeUnknown, ProviderRejected, ProviderUnavailable
from shared.settings import Settings
from shared.twilio_protocol import is_valid_twilio_signature, twilio_signature

TOKEN = "12345abcdef"
URL = "https://voice.example.com/api/v1/calls/callback/twilio?callId=abc&attemptNo=2"
FORM = [
    ("CallSid", "CA1234"),
    ("CallStatus", "completed"),
    ("CallDuration", "42"),
    ("To", "+14155550100"),
    ("AccountSid", "AC42"),
]


def twilio_settings(**changes: object) -> Settings:
    values: dict[str, object] = {
        "telephony_provider": "twilio",
        "twilio_account_sid": "AC42",
        "twilio_auth_token": TOKEN,
        "twilio_from": "+14155550000",
        "twilio_twiml_url": "https://voice.example.com/twiml",
        "public_base_url": "https://voice.example.com/",
    }
    values.update(changes)
    return Settings.model_validate(values)


class TestSignature:
    def test_ours_is_twilios(self) -> None:
        expected = RequestValidator(TOKEN).compute_signature(URL, dict(FORM))
        assert twilio_signature(TOKEN, URL, FORM) == expected

    def test_a_signature_by_twilios_validator_is_accepted(self) -> None:
        signature = RequestValidator(TOKEN).compute_signature(URL, dict(FORM))
        assert is_valid_twilio_signature(TOKEN, URL, FORM, signature)

    def test_repeated_fields_sign_as_twilio_signs_them(self) -> None:
        form = [("StatusCallbackEvent", "ringing"), ("StatusCallbackEvent", "answered")]
        expected = RequestValidator(TOKEN).compute_signature(URL, MultiDict(form))
        assert twilio_signature(TOKEN, URL, form) == expected

    def test_ours_passes_twilios_validation(self) -> None:
        assert RequestValidator(TOKEN).validate(URL, dict(FORM), twilio_signature(TOKEN, URL, FORM))

    @pytest.mark.parametrize(
        ("url", "form", "token"),
        [
            (URL.replace("attemptNo=2", "attemptNo=3"), FORM, TOKEN),
            (URL, [*FORM[:1], ("CallStatus", "busy"), *FORM[2:]], TOKEN),
            (URL, [*FORM, ("Extra", "1")], TOKEN),
            (URL, FORM, "another-token"),
        ],
        ids=["other url", "changed field", "added field", "other token"],
    )
    def test_any_change_breaks_it(self, url: str, form: list[tuple[str, str]], token: str) -> None:
        signature = RequestValidator(TOKEN).compute_signature(URL, dict(FORM))
        assert not is_valid_twilio_signature(token, url, form, signature)

    def test_missing_signature_is_refused(self) -> None:
        assert not is_valid_twilio_signature(TOKEN, URL, FORM, None)
        assert not is_valid_twilio_signature(TOKEN, URL, FORM, "")

    def test_url_signed_with_its_default_port_is_accepted(self) -> None:
        with_port = URL.replace("voice.example.com", "voice.example.com:443")
        signature = RequestValidator(TOKEN).compute_signature(with_port, dict(FORM))
        assert is_valid_twilio_signature(TOKEN, URL, FORM, signature)


class TestDialRequest:
    def test_form_has_what_twilio_needs(self) -> None:
        config = TwilioConfig.from_settings(twilio_settings())
        request = DialRequest(uuid4(), 2, uuid4(), "+14155550100")
        form = config.call_form(request)
        fields = dict(form)
        assert fields["To"] == "+14155550100"
        assert fields["From"] == "+14155550000"
        assert fields["Url"] == "https://voice.example.com/twiml"
        assert fields["StatusCallbackMethod"] == "POST"
        assert fields["Timeout"] == "30"
        events = [value for name, value in form if name == "StatusCallbackEvent"]
        assert events == ["initiated", "ringing", "answered", "completed"]
        callback = urlsplit(fields["StatusCallback"])
        assert f"{callback.scheme}://{callback.netloc}{callback.path}" == (
            "https://voice.example.com/api/v1/calls/callback/twilio"
        )
        query = parse_qs(callback.query)
        assert query["callId"] == [str(request.call_id)]
        assert query["attemptNo"] == ["2"]
        assert config.calls_url == "https://api.twilio.com/2010-04-01/Accounts/AC42/Calls.json"

    def test_inline_twiml_when_no_url(self) -> None:
        config = TwilioConfig.from_settings(
            twilio_settings(twilio_twiml_url=None, twilio_twiml="<Response/>")
        )
        fields = dict(config.call_form(DialRequest(uuid4(), 1, uuid4(), "+14155550100")))
        assert fields["Twiml"] == "<Response/>"
        assert "Url" not in fields

    def test_missing_settings_are_named(self) -> None:
        with pytest.raises(ProviderConfigError) as caught:
            check_provider(twilio_settings(twilio_from=None, public_base_url=None))
        assert "VCS_TWILIO_FROM" in str(caught.value)
        assert "VCS_PUBLIC_BASE_URL" in str(caught.value)

    def test_unknown_provider_is_refused_with_the_choices(self) -> None:
        with pytest.raises(ProviderConfigError) as caught:
            check_provider(Settings(telephony_provider="vonage"))
        assert "mock, twilio" in str(caught.value)

    def test_providers_are_the_modules(self) -> None:
        assert available_providers() == ["mock", "twilio"]


class TestCarrierAnswers:
    def test_created_call_gives_its_sid(self) -> None:
        assert call_sid_from(201, b'{"sid": "CA9", "status": "queued"}') == "CA9"

    def test_created_without_sid_is_in_doubt(self) -> None:
        with pytest.raises(ProviderOutcomeUnknown):
            call_sid_from(201, b"{}")

    @pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
    def test_busy_or_broken_carrier_is_transient(self, status: int) -> None:
        with pytest.raises(ProviderUnavailable):
            call_sid_from(status, b'{"code": 20503, "message": "Service Unavailable"}')

    def test_retry_after_is_passed_on(self) -> None:
        with pytest.raises(ProviderUnavailable) as caught:
            call_sid_from(429, b'{"code": 20429, "message": "Too Many Requests"}', "2")
        assert caught.value.extra["retry_after_s"] == 2.0
        with pytest.raises(ProviderUnavailable) as caught:
            call_sid_from(503, b"{}", "soon")
        assert caught.value.extra["retry_after_s"] is None

    @pytest.mark.parametrize("status", [401, 403, 404])
    def test_account_errors_blame_no_number(self, status: int) -> None:
        with pytest.raises(ProviderUnavailable, match="account"):
            call_sid_from(status, b'{"code": 20003, "message": "Authenticate"}')

    def test_invalid_number_is_permanent_with_the_carriers_message(self) -> None:
        body = b'{"code": 21211, "message": "Invalid \'To\' Phone Number: +1555", "status": 400}'
        with pytest.raises(ProviderRejected) as caught:
            call_sid_from(400, body)
        assert caught.value.detail == "21211: Invalid 'To' Phone Number: +1555"

    def test_unreadable_error_body_still_explains(self) -> None:
        with pytest.raises(ProviderRejected, match="bad request"):
            call_sid_from(400, b"bad request")


class TestStatusCallback:
    def report(self, **form: str):  # type: ignore[no-untyped-def]
        call_id = uuid4()
        callback = TwilioStatusCallback.model_validate({"CallSid": "CA1", **form})
        target = CallbackTarget.model_validate({"callId": str(call_id), "attemptNo": "3"})
        return provider_report(callback, target), call_id

    def test_completed_carries_duration_and_who_answered(self) -> None:
        report, call_id = self.report(
            CallStatus="completed", CallDuration="42", AnsweredBy="human", SipResponseCode="200"
        )
        assert report.status == "COMPLETED"
        assert report.duration_seconds == 42
        assert report.answered_by == "human"
        assert report.failure_reason is None
        assert report.ref is not None and report.ref.call_id == call_id
        assert report.ref.attempt_no == 3

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("busy", "BUSY"),
            ("no-answer", "NO_ANSWER"),
            ("failed", "FAILED"),
            ("canceled", "CANCELLED"),
        ],
    )
    def test_failures_keep_the_carriers_word_and_sip_code(self, status: str, expected: str) -> None:
        report, _ = self.report(CallStatus=status, SipResponseCode="486")
        assert report.status == expected
        assert report.failure_reason == f"{status} (SIP 486)"
        assert report.duration_seconds is None

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("queued", "QUEUED"),
            ("initiated", "INITIATED"),
            ("ringing", "RINGING"),
            ("in-progress", "IN_PROGRESS"),
        ],
    )
    def test_progress_is_not_a_result(self, status: str, expected: str) -> None:
        report, _ = self.report(CallStatus=status)
        assert report.status == expected
        assert report.failure_reason is None

    def test_unknown_status_is_refused(self) -> None:
        with pytest.raises(ValueError):
            TwilioStatusCallback.model_validate({"CallSid": "CA1", "CallStatus": "exploded"})
