"""Answering machines: who the carrier says answered, and what a campaign does about a machine.

A carrier that detects answering machines (Twilio's AnsweredBy) names what it heard in its
own words; `answered_by` reads them as one of four. A campaign's `answeringMachine` setting
says whether to ask for detection at all and what a machine's answer means for the call:
COMPLETE (a message was left: done), RETRY (the MACHINE retry rule decides) or HANG_UP (the
carrier hangs up at once, and the call fails for good). docs/answering-machines.md tells it to
people.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from shared.domain.statuses import AttemptOutcome


class AnsweredBy(StrEnum):
    """Who answered a call, as calls and attempts report it (`answeredBy`)."""

    HUMAN = "human"
    MACHINE = "machine"
    FAX = "fax"
    UNKNOWN = "unknown"


#: Twilio's AnsweredBy values, and the one each means here. Enable reports machine_start as
#: soon as it hears a machine; DetectMessageEnd waits for the greeting to end (beep, silence).
_CARRIER_WORDS: dict[str, AnsweredBy] = {
    "human": AnsweredBy.HUMAN,
    "machine": AnsweredBy.MACHINE,
    "machine_start": AnsweredBy.MACHINE,
    "machine_end_beep": AnsweredBy.MACHINE,
    "machine_end_silence": AnsweredBy.MACHINE,
    "machine_end_other": AnsweredBy.MACHINE,
    "fax": AnsweredBy.FAX,
    "unknown": AnsweredBy.UNKNOWN,
}


def answered_by(carrier_value: str | None) -> AnsweredBy | None:
    """The carrier's word for who answered, as one of ours; None when it said nothing. A word
    it has not used before is `unknown`, never a guess."""
    if carrier_value is None:
        return None
    word = carrier_value.strip().lower().replace("-", "_")
    if not word:
        return None
    return _CARRIER_WORDS.get(word, AnsweredBy.UNKNOWN)


#: Answers with nobody on the line to hear the call: what onMachine applies to. A fax cannot
#: take a message either.
_MACHINES = frozenset({AnsweredBy.MACHINE, AnsweredBy.FAX})

#: The failure reason of a call a machine answered, when it is not completed.
MACHINE_REASON = "MACHINE"


class OnMachine(StrEnum):
    """What a machine's answer does to the call (with detection on)."""

    #: The call is COMPLETED: the message was played to the machine (a voicemail left).
    COMPLETE = "COMPLETE"
    #: The attempt ends MACHINE and the MACHINE retry rule decides; PERMANENTLY_FAILED
    #: (reason MACHINE) once it allows no more.
    RETRY = "RETRY"
    #: The carrier is told to hang up at once; the call ends PERMANENTLY_FAILED (reason
    #: MACHINE), never retried.
    HANG_UP = "HANG_UP"


@dataclass(frozen=True)
class AnsweringMachine:
    """A campaign's `answeringMachine` setting."""

    detect: bool = False
    on_machine: OnMachine = OnMachine.COMPLETE

    def is_machine(self, who: AnsweredBy | None) -> bool:
        """Whether this answer counts as a machine's: only when detection was asked for, so
        that a campaign that did not ask keeps today's outcome whatever the carrier says."""
        return self.detect and who in _MACHINES

    def hangs_up_on(self, who: AnsweredBy | None) -> bool:
        """Whether a live call answered so must be hung up now."""
        return self.is_machine(who) and self.on_machine is OnMachine.HANG_UP

    def outcome(
        self, outcome: AttemptOutcome | None, who: AnsweredBy | None
    ) -> AttemptOutcome | None:
        """The attempt's outcome once the answer is known: an answered call (COMPLETED) a
        machine took is MACHINE; every other outcome stays as the carrier said."""
        if outcome is AttemptOutcome.COMPLETED and self.is_machine(who):
            return AttemptOutcome.MACHINE
        return outcome

    def completes(self, outcome: AttemptOutcome | None) -> bool:
        """Whether an attempt that ended with `outcome` completes its call."""
        if outcome is AttemptOutcome.MACHINE:
            return self.on_machine is OnMachine.COMPLETE
        return outcome is AttemptOutcome.COMPLETED


NO_DETECTION = AnsweringMachine()
