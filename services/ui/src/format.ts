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

/** Who answered ("machine"; a carrier's "machine_end_beep" from an older server: "machine, end beep"). */
export function answeredByText(value: string): string {
  const [who, ...detail] = value.toLowerCase().split("_");
  return detail.length ? `${who}, ${detail.join(" ")}` : who;
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

/** A recipient's zone(s) as a list: one name, several candidates, or none when unknown. */
export function zoneList(zones: string | string[] | null | undefined): string[] {
  if (!zones) return [];
  return Array.isArray(zones) ? zones : [zones];
}

/** Several zones (or local times) are shown joined: the number is called only when each allows it. */
export const JOIN = " / ";

/** The wall clock in `zone` at `now` ("Wed 09:07"), or null for a zone the browser does not know. */
export function clockIn(zone: string, now: Date = new Date()): string | null {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: zone,
      weekday: "short",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(now);
  } catch {
    return null;
  }
}

/** Now in each of a call's zones, joined; "—" when the zone is unknown. */
export function localTimes(zones: string | string[] | null | undefined, now: Date = new Date()): string {
  const list = zoneList(zones);
  if (!list.length) return "—";
  return list.map((zone) => clockIn(zone, now) ?? "?").join(JOIN);
}

/** An instant in a zone with the date ("Thu, Dec 3, 08:00"), or null for an unknown zone. */
export function instantIn(iso: string, zone: string): string | null {
  try {
    return new Intl.DateTimeFormat(undefined, {
      timeZone: zone,
      weekday: "short",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(new Date(iso));
  } catch {
    return null;
  }
}

/** The wall clock an RFC 3339 local time names ("2026-12-02T21:07-06:00" -> "2026-12-02 21:07 (UTC-06:00)"). */
export function wallClock(rfc3339: string): string {
  const match = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(rfc3339);
  if (!match) return rfc3339;
  const offset = match[3] === "Z" ? "+00:00" : match[3];
  return `${match[1]} ${match[2]}${offset ? ` (UTC${offset})` : ""}`;
}

/** A datetime-local input's value ("2026-12-24T14:00") as RFC 3339 with the browser's offset then. */
export function localInputToRfc3339(value: string): string | null {
  const match = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.exec(value.trim());
  if (!match) return null;
  // Without an offset the text is read as the browser's local time; the offset written is the
  // one in force at that instant (a date across a DST change gets its own, not today's), and
  // the fields are written back from the Date so a time skipped by DST names a real instant.
  const local = new Date(match[1] ? match[0] : `${match[0]}:00`);
  if (Number.isNaN(local.getTime())) return null;
  const pad = (n: number) => String(n).padStart(2, "0");
  const minutes = -local.getTimezoneOffset();
  const abs = Math.abs(minutes);
  const date = `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())}`;
  const time = `${pad(local.getHours())}:${pad(local.getMinutes())}:${pad(local.getSeconds())}`;
  return `${date}T${time}${minutes >= 0 ? "+" : "-"}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** A delay in milliseconds as people read it: "750 ms", "1.5s", "1m 30s", "1h", "2h 5m". */
export function durationMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return `${ms} ms`;
  const total = ms / 1000;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = Math.round((total % 60) * 10) / 10;
  const parts = [hours && `${hours}h`, minutes && `${minutes}m`, rest && `${rest}s`].filter(Boolean);
  return parts.join(" ");
}

/** Pasted numbers: one a line, or separated by commas or semicolons; blanks dropped. */
export function pastedNumbers(text: string): string[] {
  return text
    .split(/[\n,;]+/)
    .map((n) => n.trim())
    .filter(Boolean);
}

/** A period in hours as people read it: "24 hours", "7 days", "36 hours". */
export function hoursText(hours: number): string {
  if (hours >= 48 && hours % 24 === 0) return `${hours / 24} days`;
  return hours === 1 ? "1 hour" : `${hours} hours`;
}

/** A frequency cap in words: "at most 3 calls in 24 hours". */
export function capText(cap: { maxAttempts?: number; periodHours?: number }): string {
  const calls = cap.maxAttempts === 1 ? "1 call" : `${cap.maxAttempts ?? "?"} calls`;
  return `at most ${calls} in ${cap.periodHours === undefined ? "?" : hoursText(cap.periodHours)}`;
}

/** What the newer reason codes mean, beside the code, where the console lists reasons. */
export const REASON_MEANINGS: Record<string, string> = {
  SUPPRESSED: "on a do-not-call list: ended as cancelled when reached, never dialled",
  FREQUENCY_CAP: "called as often as a frequency cap allows: waits until the oldest counted attempt leaves the period",
};
