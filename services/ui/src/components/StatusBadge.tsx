import { humanStatus } from "../format";

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{humanStatus(status)}</span>;
}
