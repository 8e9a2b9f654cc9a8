// The do-not-call lists as the console uses them: the requests and the paths of /api/v1/suppressions.
import { type ApiError, type FieldError, post, request } from "./api";
import { localInputToRfc3339, pastedNumbers } from "./format";
import type { Suppression, SuppressionReport } from "./types";

export const SUPPRESSION_PAGE_SIZE = 25;

/** What the "Add numbers" form holds; campaignId "" is the global list. */
export interface AddForm {
  numbers: string;
  reason: string;
  campaignId: string;
  /** A datetime-local value in the browser's zone; "" for never. */
  expiresAt: string;
  /** true: a number that is not a phone number is skipped and listed; false: the API refuses it all. */
  skipInvalid: boolean;
}

export const ADD_DEFAULTS: AddForm = { numbers: "", reason: "", campaignId: "", expiresAt: "", skipInvalid: true };

/** The options both requests carry, only those given (the API reads an absent one as none). */
function options(form: AddForm): Record<string, string | boolean> {
  return {
    ...(form.reason.trim() ? { reason: form.reason.trim() } : {}),
    ...(form.campaignId ? { campaignId: form.campaignId } : {}),
    // Text that is not a date-time is sent as typed, so the API names the field.
    ...(form.expiresAt.trim() ? { expiresAt: localInputToRfc3339(form.expiresAt) ?? form.expiresAt.trim() } : {}),
    ...(form.skipInvalid ? { skipInvalid: true } : {}),
  };
}

/** POST /api/v1/suppressions: the pasted numbers as typed (the API normalises them). */
export function addBody(form: AddForm): Record<string, unknown> {
  return { phoneNumbers: pastedNumbers(form.numbers), ...options(form) };
}

/** POST /api/v1/suppressions/import: the file and the same options as form fields. */
export function importData(form: AddForm, file: File): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(options(form))) data.append(name, String(value));
  data.append("file", file);
  return data;
}

export async function addNumbers(form: AddForm): Promise<SuppressionReport> {
  return post<SuppressionReport>("/api/v1/suppressions", addBody(form));
}

export async function importFile(form: AddForm, file: File): Promise<SuppressionReport> {
  return (await request<SuppressionReport>("POST", "/api/v1/suppressions/import", { form: importData(form, file) })).body;
}

/** One page of a list: no campaignId is the global list, a campaignId that campaign's only. */
export function listPath(campaignId: string, phoneNumber: string, page: number): string {
  const query = new URLSearchParams({ page: String(page), size: String(SUPPRESSION_PAGE_SIZE) });
  if (phoneNumber.trim()) query.set("phoneNumber", phoneNumber.trim());
  if (campaignId) query.set("campaignId", campaignId);
  return `/api/v1/suppressions?${query}`;
}

export async function listEntries(
  campaignId: string,
  phoneNumber: string,
  page: number,
): Promise<{ rows: Suppression[]; total: number }> {
  const answer = await request<Suppression[]>("GET", listPath(campaignId, phoneNumber, page));
  return { rows: answer.body, total: Number(answer.headers.get("X-Total-Count") ?? answer.body.length) };
}

/** The entry's own path: the number URL-encoded ("+" is "%2B"), its campaign as a query. */
export function entryPath(entry: Pick<Suppression, "phoneNumber" | "campaignId">): string {
  const scope = entry.campaignId ? `?campaignId=${encodeURIComponent(entry.campaignId)}` : "";
  return `/api/v1/suppressions/${encodeURIComponent(entry.phoneNumber)}${scope}`;
}

export async function removeEntry(entry: Suppression): Promise<void> {
  await request<null>("DELETE", entryPath(entry));
}

export async function optOut(callId: string): Promise<Suppression> {
  return post<Suppression>(`/api/v1/calls/${callId}/opt-out`);
}

/**
 * The numbers' errors in words: the JSON list names `phoneNumbers[3]` (the 4th number), the
 * file `file (line 3)`; each becomes "number 4: ..." or "line 3: ...".
 */
export function numberMessages(errors: FieldError[], kind: "paste" | "file"): string[] {
  const own = errors.filter((e) => (kind === "paste" ? /^phoneNumbers(\[|$)/ : /^file(\b|$)/).test(e.field));
  return own.map((e) => {
    const listed = /^phoneNumbers\[(\d+)\]/.exec(e.field);
    if (listed) return `number ${Number(listed[1]) + 1}: ${e.message}`;
    const line = /^file \(line (\d+)\)/.exec(e.field);
    if (line) return `line ${line[1]}: ${e.message}`;
    return e.message;
  });
}

/** The fields the form shows beside an input; any other error is listed at the top. */
export function shownBesideAnInput(field: string): boolean {
  return /^(phoneNumbers(\[\d+\])?|file( \(line \d+\))?|reason|campaignId|expiresAt|skipInvalid)$/.test(field);
}

/** A 413 is the file's problem, not the form's: shown beside the file input. */
export function fileTooLarge(error: ApiError | null): boolean {
  return error?.status === 413;
}
