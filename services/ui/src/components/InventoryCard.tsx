import { get } from "../api";
import { humanStatus, REASON_MEANINGS, when } from "../format";
import type { Inventory } from "../types";
import { usePolling } from "../usePolling";

/** The campaign's numbers by what holds them: dialable now, waiting (by reason), final (by status). */
export function InventoryCard({
  campaignId,
  nextDialAt,
  pace,
}: {
  campaignId: string;
  nextDialAt: string | null | undefined;
  pace: number;
}) {
  const inventory = usePolling(() => get<Inventory>(`/api/v1/campaigns/${campaignId}/inventory`), pace, [campaignId]);
  const inv = inventory.data;
  return (
    <section className="card" aria-labelledby="inventory-title">
      <h2 id="inventory-title">Numbers now</h2>
      {inventory.error && <p className="error" role="alert">{inventory.error.detail}</p>}
      {!inv && !inventory.error && <p className="muted">Loading…</p>}
      {inv && (
        <>
          <dl className="stats" aria-label="Dialable numbers">
            <div><dt>Dialable now</dt><dd data-testid="dialable-now">{inv.dialableNow}</dd></div>
            <div><dt>Next opening</dt><dd data-testid="next-opening">{when(inv.nextOpeningAt)}</dd></div>
            <div><dt>Next dial allowed</dt><dd>{when(nextDialAt)}</dd></div>
          </dl>
          <div className="split">
            <CountTable caption="Waiting, by reason" head="Reason" counts={inv.waiting} code empty="Nothing waiting." />
            <CountTable caption="Final, by status" head="Status" counts={inv.final} empty="No number has finished yet." />
          </div>
        </>
      )}
    </section>
  );
}

function CountTable({
  caption,
  head,
  counts,
  code = false,
  empty,
}: {
  caption: string;
  head: string;
  counts: Record<string, number> | undefined;
  code?: boolean;
  empty: string;
}) {
  const rows = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  return (
    <table className="counts">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">{head}</th>
          <th scope="col">Numbers</th>
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 && (
          <tr>
            <td colSpan={2} className="muted">{empty}</td>
          </tr>
        )}
        {rows.map(([key, n]) => (
          <tr key={key}>
            <th scope="row">
              {code ? <code>{key}</code> : humanStatus(key)}
              {code && REASON_MEANINGS[key] && <span className="hint"> {REASON_MEANINGS[key]}</span>}
            </th>
            <td>{n}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
