import type { SuppressionReport } from "../types";

/** The API's answer to adding numbers: its counts, and the lines it could not read. */
export function SuppressionReportCard({ reports }: { reports: SuppressionReport[] }) {
  const sum = (key: "totalReceived" | "added" | "alreadyPresent" | "invalidSkipped") =>
    reports.reduce((total, r) => total + (r[key] ?? 0), 0);
  const invalid = reports.flatMap((r) => r.invalidLines ?? []);
  return (
    <section className="card" aria-labelledby="report-title">
      <h2 id="report-title">Numbers added</h2>
      <dl className="stats" aria-label="Do-not-call import summary">
        <div><dt>Received</dt><dd data-testid="dnc-received">{sum("totalReceived")}</dd></div>
        <div><dt>Added</dt><dd data-testid="dnc-added">{sum("added")}</dd></div>
        <div><dt>Already listed</dt><dd data-testid="dnc-already">{sum("alreadyPresent")}</dd></div>
        <div><dt>Invalid, skipped</dt><dd data-testid="dnc-invalid">{sum("invalidSkipped")}</dd></div>
      </dl>
      {invalid.length > 0 && (
        <details open={invalid.length <= 20}>
          <summary>Invalid lines ({invalid.length})</summary>
          <ul className="invalid-lines" aria-label="Invalid lines">
            {invalid.slice(0, 200).map((line, i) => (
              <li key={`${line.line}-${i}`}>
                line {line.line}: <code>{line.value}</code> — {line.reason}
              </li>
            ))}
          </ul>
          {invalid.length > 200 && <p className="hint">The first 200 of {invalid.length} are shown.</p>}
        </details>
      )}
    </section>
  );
}
