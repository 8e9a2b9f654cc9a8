import { JOIN, localTimes, zoneList } from "../format";
import type { Zones } from "../types";

/** Where a recipient's zone came from, as people say it. */
const SOURCES: Record<string, string> = {
  attribute_timezone: "from the contact's timezone",
  postal_code: "from the postal code",
  area_code: "from the area code",
  country: "from the country",
  unknown: "unknown",
};

export function sourceText(source: string | undefined): string | undefined {
  return source ? (SOURCES[source] ?? source) : undefined;
}

/** A call's zone(s), joined; several mean the number is called only when every one allows it. */
export function ZoneName({ zones }: { zones: Zones | undefined }) {
  const list = zoneList(zones);
  if (!list.length) return <span className="muted">unknown</span>;
  return <span title={list.length > 1 ? "Called only when every one of these zones allows it" : undefined}>{list.join(JOIN)}</span>;
}

/** Now in the call's zone(s), computed in the browser; `now` is passed so a table shows one instant. */
export function LocalTime({ zones, now }: { zones: Zones | undefined; now?: Date }) {
  const list = zoneList(zones);
  if (!list.length) return <span className="muted">—</span>;
  return <time>{localTimes(list, now)}</time>;
}
