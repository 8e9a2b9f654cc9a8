import { type FormEvent, useEffect, useState } from "react";

import { ApiError, get, post } from "../api";
import { CallDetail } from "../components/CallDetail";
import { Field } from "../components/Field";
import { StatusBadge } from "../components/StatusBadge";
import { seconds } from "../format";
import type { Call } from "../types";


const FINAL = new Set(["COMPLETED", "PERMANENTLY_FAILED", "CANCELLED"]);

export function SingleCall() {
  const [number, setNumber] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [call, setCall] = useState<Call | null>(null);

  async function place(event: FormEvent) {
    event.preventDefault();
    setError(null);
    try {
      setCall(await post<Call>("/api/v1/calls", { phoneNumber: number.trim() }));
    } catch (exc) {
      setError(exc instanceof ApiError ? exc : new ApiError(0, String(exc)));
    }
  }

  useEffect(() => {
    if (!call || FINAL.has(call.status)) return;
    const timer = setTimeout(async () => {
      try {
        setCall(await get<Call>(`/api/v1/calls/${call.id}`));
      } catch (exc) {
        setError(exc instanceof ApiError ? exc : new ApiError(0, String(exc)));
      }
    }, 700);
    return () => clearTimeout(timer);
  }, [call]);

  return (
    <section aria-labelledby="call-title">
      <h1 id="call-title">Place one call</h1>
      <form onSubmit={place} className="card">
        <Field label="Phone number" error={error?.forField("phoneNumber") ?? error?.detail} hint="E.164, e.g. +14155550100">
          {(p) => <input {...p} type="tel" value={number} onChange={(e) => setNumber(e.target.value)} required />}
        </Field>
        <button type="submit" className="primary" disabled={!number.trim()}>Call</button>
      </form>
      {call && (
        <div className="card" aria-live="polite">
          <p>
            {call.phoneNumber}: <StatusBadge status={call.status} />
            {call.callDurationSeconds !== null && ` ${seconds(call.callDurationSeconds)}`}
            {call.failureReason && ` — ${call.failureReason}`}
          </p>
          <CallDetail call={call} />
        </div>
      )}
    </section>
  );
}
