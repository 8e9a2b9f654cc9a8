import type { Call } from "../types";
import { AttemptList } from "./AttemptList";
import { LocalTime, sourceText, ZoneName } from "./CallZone";
import { OptOutButton } from "./OptOutButton";
import { WhyNotNow } from "./WhyNotNow";

/** One call opened: its zone and local time, why it is not being dialled, its attempts, the opt-out. */
export function CallDetail({ call }: { call: Call }) {
  const source = sourceText(call.timezoneSource);
  return (
    <div className="call-detail">
      <dl className="inline-facts">
        <div>
          <dt>Time zone</dt>
          <dd>
            <ZoneName zones={call.timezone} />
            {source && call.timezoneSource !== "unknown" && <span className="muted small"> ({source})</span>}
          </dd>
        </div>
        <div>
          <dt>Local time</dt>
          <dd><LocalTime zones={call.timezone} /></dd>
        </div>
      </dl>
      <WhyNotNow callId={call.id} zones={call.timezone} />
      <AttemptList call={call} />
      <OptOutButton key={call.id} callId={call.id} phoneNumber={call.phoneNumber} />
    </div>
  );
}
