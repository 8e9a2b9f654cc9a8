import { useState } from "react";

import { get } from "../api";
import { SuppressionList } from "../components/SuppressionList";
import { SuppressionReportCard } from "../components/SuppressionReportCard";
import type { Campaign, SuppressionReport } from "../types";
import { usePolling } from "../usePolling";
import { AddSuppressionsForm } from "./AddSuppressionsForm";

/** The do-not-call lists: add numbers (pasted or a file), see the API's answer, search and remove. */
export function DoNotCall() {
  // For the list pickers only: the names change rarely.
  const campaigns = usePolling(() => get<Campaign[]>("/api/v1/campaigns?page=0&size=100"), 60_000, []);
  const [reports, setReports] = useState<SuppressionReport[] | null>(null);
  const [version, setVersion] = useState(0);
  const names = (campaigns.data ?? []).map((c) => ({ id: c.id, name: c.name }));

  return (
    <section aria-labelledby="dnc-title">
      <h1 id="dnc-title">Do-not-call lists</h1>
      <p className="muted">
        A listed number is never dialled again by an attempt that starts after it was added: its call ends
        cancelled with the reason SUPPRESSED. The global list bars it everywhere, a campaign's list in that campaign.
      </p>
      <AddSuppressionsForm
        campaigns={names}
        onAdded={(next) => {
          setReports(next);
          setVersion((v) => v + 1);
        }}
      />
      {reports && <SuppressionReportCard reports={reports} />}
      <SuppressionList campaigns={names} version={version} />
    </section>
  );
}
