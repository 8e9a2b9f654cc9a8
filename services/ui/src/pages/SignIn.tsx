import { type FormEvent, useState } from "react";

import { ApiError, request, storeKey } from "../api";
import { Field } from "../components/Field";

/** Asks for an API key and keeps it for this browser session once the API accepts it. */
export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await request("GET", "/api/v1/campaigns?size=1", { key: key.trim() });
      storeKey(key.trim());
      onSignedIn();
    } catch (exc) {
      setError(
        exc instanceof ApiError && exc.status === 401
          ? "This key is not accepted."
          : exc instanceof ApiError
            ? exc.detail
            : String(exc),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <h1>Voice Campaigns</h1>
      <form onSubmit={submit} className="card">
        <Field label="API key" error={error} hint="make run prints a development key">
          {(props) => (
            <input
              {...props}
              type="password"
              autoComplete="current-password"
              value={key}
              onChange={(e) => setKey(e.target.value)}
              required
              autoFocus
            />
          )}
        </Field>
        <button type="submit" className="primary" disabled={busy || !key.trim()}>
          Sign in
        </button>
      </form>
    </main>
  );
}
