import { humanStatus } from "../format";

/** A "Status: all / <status>..." select; "" means every status. */
export function StatusFilter({
  statuses,
  value,
  onChange,
  label,
}: {
  statuses: readonly string[];
  value: string;
  onChange: (status: string) => void;
  label: string;
}) {
  return (
    <label className="inline">
      Status{" "}
      <select value={value} aria-label={label} onChange={(e) => onChange(e.target.value)}>
        <option value="">all</option>
        {statuses.map((s) => (
          <option key={s} value={s}>
            {humanStatus(s)}
          </option>
        ))}
      </select>
    </label>
  );
}
