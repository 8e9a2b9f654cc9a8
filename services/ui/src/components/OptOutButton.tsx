import { useState } from "react";

import { ApiError } from "../api";
import { when } from "../format";
import { optOut } from "../suppressions";
import type { Suppression } from "../types";
import { ConfirmButton } from "./ConfirmButton";

/** The recipient asked not to be called: the number goes on the global do-not-call list, this call its source. */
export function OptOutButton({ callId, phoneNumber }: { callId: string; phoneNumber: string }) {
  const [entry, setEntry] = useState<Suppression | null>(null);
  const [error, setError] = useState<string>();

  async function confirm() {
    setError(undefined);
    try {
      setEntry(await optOut(callId));
    } catch (exc) {
      setError(exc instanceof ApiError ? exc.detail : String(exc));
    }
  }

  return (
    <div className="opt-out" aria-live="polite">
      {entry ? (
        <p>
          {entry.phoneNumber} is on the global do-not-call list (opted out, {when(entry.createdAt)}): no campaign will
          dial it again.
        </p>
      ) : (
        <ConfirmButton
          label="Opt out"
          question={`Never call ${phoneNumber} again, from any campaign?`}
          onConfirm={() => void confirm()}
        />
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </div>
  );
}
