export function percent(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(digits)}%`;
}

export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const total = Math.round(value);
  const minutes = Math.floor(total / 60);
  return minutes ? `${minutes}m ${total % 60}s` : `${total}s`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString();
}

export function humanStatus(status: string): string {
  return status.replaceAll("_", " ").toLowerCase();
}

/** Progress of a campaign: numbers in a final state, out of all. */
export function progressOf(metrics: {
  totalCalls: number;
  completedCalls: number;
  permanentlyFailedCalls: number;
}): number {
  if (!metrics.totalCalls) return 0;
  return (metrics.completedCalls + metrics.permanentlyFailedCalls) / metrics.totalCalls;
}

export const DAYS = [
  "MONDAY",
  "TUESDAY",
  "WEDNESDAY",
  "THURSDAY",
  "FRIDAY",
  "SATURDAY",
  "SUNDAY",
] as const;

/** The IANA time zones the browser knows, for the time zone picker. */
export function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf?.("timeZone") ?? [];
  return zones.includes("UTC") ? zones : ["UTC", ...zones];
}
