import { answeredByText, humanStatus, seconds, when } from "../format";
import type { Call } from "../types";

export function AttemptList({ call }: { call: Call }) {
  if (!call.attempts.length) return <p className="muted">Not dialled yet.</p>;
  return (
    <ol className="attempts">
      {call.attempts.map((a) => (
        <li key={a.attemptNumber}>
          <strong>#{a.attemptNumber}</strong> {when(a.startedAt)}: {a.outcome ? humanStatus(a.outcome) : humanStatus(a.providerStatus ?? "dialling")}
          {a.durationSeconds !== null && `, ${seconds(a.durationSeconds)}`}
          {a.reason && ` — ${a.reason}`}
          {a.answeredBy && <span className="answered-by"> (answered by: {answeredByText(a.answeredBy)})</span>}
          {a.externalCallId && <span className="muted small"> {a.externalCallId}</span>}
        </li>
      ))}
    </ol>
  );
}
