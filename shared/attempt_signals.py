"""Telling the worker that holds an attempt's job that the attempt has ended."""

from __future__ import annotations

from shared.amqp import Publisher
from shared.domain.endings import EndEffect
from shared.messages import AttemptEnded, HangUpCall
from shared.topology import WORKER_SIGNALS


async def signal_attempt_ended(publisher: Publisher, effect: EndEffect) -> None:
    """Publish AttemptEnded to the holder's private queue, if the attempt held a line.

    The signal is a hint: a holder that is gone has already lost its job to the broker, and a
    holder that misses it finds the ended attempt in the database on its next check.
    """
    if not effect.released_line:
        return
    signal = AttemptEnded(
        campaign_id=effect.campaign_id,
        call_id=effect.ref.call_id,
        attempt_no=effect.ref.attempt_no,
    )
    # Not mandatory: if the holder is gone, so is the job it held, and nobody needs the signal.
    await publisher.publish(
        signal, WORKER_SIGNALS, effect.worker_id, persistent=False, mandatory=False
    )


async def signal_hang_up(publisher: Publisher, effect: EndEffect) -> None:
    """Ask the worker holding the attempt to hang its call up (a machine answered, and the
    campaign hangs up on machines), if the effect asks for it.

    A hint too: lost, the call runs until the carrier ends it, and ends with the same outcome
    (PERMANENTLY_FAILED, reason MACHINE).
    """
    if effect.machine_hang_up is None:
        return
    signal = HangUpCall(
        campaign_id=effect.campaign_id,
        call_id=effect.ref.call_id,
        attempt_no=effect.ref.attempt_no,
        external_call_id=effect.machine_hang_up,
    )
    await publisher.publish(
        signal, WORKER_SIGNALS, effect.worker_id, persistent=False, mandatory=False
    )
