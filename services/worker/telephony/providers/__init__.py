"""One module per telephony provider; VCS_TELEPHONY_PROVIDER names the module.

A provider module has `check(settings)`, which raises ProviderConfigError when the settings
do not describe a usable provider, and `connect(context: ProviderContext)`, an async context
manager yielding a TelephonyProvider and closing what it opened. Adding a provider is adding a
module here.
"""

from __future__ import annotations

import importlib
import pkgutil
from contextlib import AbstractAsyncContextManager
from typing import Protocol, cast

from services.worker.telephony.base import ProviderConfigError, ProviderContext, TelephonyProvider
from shared.settings import Settings


class ProviderModule(Protocol):
    def check(self, settings: Settings) -> None: ...

    def connect(
        self, context: ProviderContext
    ) -> AbstractAsyncContextManager[TelephonyProvider]: ...


def available_providers() -> list[str]:
    return sorted(module.name for module in pkgutil.iter_modules(__path__))


def provider_module(name: str) -> ProviderModule:
    known = available_providers()
    if name not in known:
        raise ProviderConfigError(
            f"VCS_TELEPHONY_PROVIDER={name!r} is not a provider; choose one of {', '.join(known)}"
        )
    return cast(ProviderModule, importlib.import_module(f"{__name__}.{name}"))


def check_provider(settings: Settings) -> None:
    """Refuse, before anything connects, settings that name no usable provider."""
    provider_module(settings.telephony_provider).check(settings)


def connect_provider(context: ProviderContext) -> AbstractAsyncContextManager[TelephonyProvider]:
    """The configured provider, connected for the worker's session."""
    return provider_module(context.settings.telephony_provider).connect(context)
