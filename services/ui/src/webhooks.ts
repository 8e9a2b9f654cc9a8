// The webhooks as the console uses them: the requests and the paths of /api/v1/webhooks.
import { del, patch, post, request } from "./api";
import type { Delivery, Webhook, WebhookDisabledReason, WebhookTest, WebhookUpdated, WebhookWithSecret } from "./types";

export const WEBHOOK_PAGE_SIZE = 25;
export const DELIVERY_PAGE_SIZE = 25;

/** The event types a webhook may subscribe to (docs/webhooks.md), in the order the form lists them. */
export const EVENT_TYPES = [
  "call.attempt.started",
  "call.attempt.ended",
  "call.completed",
  "call.failed",
  "call.permanently_failed",
  "call.cancelled",
  "campaign.started",
  "campaign.paused",
  "campaign.resumed",
  "campaign.completed",
  "campaign.cancelled",
  "webhook.disabled",
] as const;

/** What `events` holds for every event, including types added later. */
export const ALL_EVENTS = "*";

export const DELIVERY_STATUSES = ["PENDING", "DELIVERED", "FAILED"] as const;

export const DISABLED_REASONS: Record<WebhookDisabledReason, string> = {
  GONE: "the receiver answered 410 Gone",
  FAILING: "nothing was delivered for the whole retry period",
};

/** What the add and edit forms hold. */
export interface WebhookForm {
  url: string;
  allEvents: boolean;
  /** The types ticked, in the order they were ticked or read; ignored while allEvents. */
  events: string[];
  description: string;
}

export const FORM_DEFAULTS: WebhookForm = { url: "", allEvents: false, events: [], description: "" };

export function formOf(webhook: Webhook): WebhookForm {
  const all = webhook.events.includes(ALL_EVENTS);
  return {
    url: webhook.url,
    allEvents: all,
    events: all ? [] : [...webhook.events],
    description: webhook.description ?? "",
  };
}

/** The `events` the form sends; an empty list is sent as such, so the API names the field. */
export function eventsOf(form: WebhookForm): string[] {
  return form.allEvents ? [ALL_EVENTS] : form.events;
}

/** POST /api/v1/webhooks: the URL trimmed, the description only when given. */
export function createBody(form: WebhookForm): Record<string, unknown> {
  const description = form.description.trim();
  return { url: form.url.trim(), events: eventsOf(form), ...(description ? { description } : {}) };
}

function sameEvents(a: string[], b: string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((e, i) => e === right[i]);
}

/** PATCH /api/v1/webhooks/{id}: only what differs from the webhook; a cleared description is null. */
export function patchBody(webhook: Webhook, form: WebhookForm): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const url = form.url.trim();
  if (url !== webhook.url) body.url = url;
  const events = eventsOf(form);
  if (!sameEvents(events, webhook.events)) body.events = events;
  const description = form.description.trim() || null;
  if (description !== (webhook.description || null)) body.description = description;
  return body;
}

/** The events in words: ["*"] is every event. */
export function eventsText(events: string[]): string {
  return events.includes(ALL_EVENTS) ? "all events" : events.join(", ");
}

export function webhookPath(id: string): string {
  return `/api/v1/webhooks/${encodeURIComponent(id)}`;
}

export function listPath(page: number, size = WEBHOOK_PAGE_SIZE): string {
  return `/api/v1/webhooks?${new URLSearchParams({ page: String(page), size: String(size) })}`;
}

/** A page of a webhook's deliveries, newest first; status "" is every status. */
export function deliveriesPath(id: string, status: string, page: number): string {
  const query = new URLSearchParams({ page: String(page), size: String(DELIVERY_PAGE_SIZE) });
  if (status) query.set("status", status);
  return `${webhookPath(id)}/deliveries?${query}`;
}

export function retryPath(webhookId: string, deliveryId: string): string {
  return `${webhookPath(webhookId)}/deliveries/${encodeURIComponent(deliveryId)}/retry`;
}

export interface Page<T> {
  rows: T[];
  total: number;
}

async function listed<T>(path: string): Promise<Page<T>> {
  const answer = await request<T[]>("GET", path);
  return { rows: answer.body, total: Number(answer.headers.get("X-Total-Count") ?? answer.body.length) };
}

export function listWebhooks(page: number): Promise<Page<Webhook>> {
  return listed<Webhook>(listPath(page));
}

export function listDeliveries(id: string, status: string, page: number): Promise<Page<Delivery>> {
  return listed<Delivery>(deliveriesPath(id, status, page));
}

export function createWebhook(form: WebhookForm): Promise<WebhookWithSecret> {
  return post<WebhookWithSecret>("/api/v1/webhooks", createBody(form));
}

export function updateWebhook(id: string, body: Record<string, unknown>): Promise<WebhookUpdated> {
  return patch<WebhookUpdated>(webhookPath(id), body);
}

export function setEnabled(id: string, enabled: boolean): Promise<WebhookUpdated> {
  return updateWebhook(id, { enabled });
}

export function rotateSecret(id: string): Promise<WebhookUpdated> {
  return updateWebhook(id, { rotateSecret: true });
}

export function sendTest(id: string): Promise<WebhookTest> {
  return post<WebhookTest>(`${webhookPath(id)}/test`);
}

export function deleteWebhook(id: string): Promise<void> {
  return del(webhookPath(id));
}

export function retryDelivery(webhookId: string, deliveryId: string): Promise<Delivery> {
  return post<Delivery>(retryPath(webhookId, deliveryId));
}

/** A window event the Webhooks page sends after each change, so the banner need not wait for its next check. */
export const WEBHOOKS_CHANGED = "vcs:webhooks-changed";

export function announceChange(): void {
  window.dispatchEvent(new Event(WEBHOOKS_CHANGED));
}

/** The webhooks the service disabled, among the first 100; `atLeast` when more exist unread. */
export interface DisabledSummary {
  count: number;
  atLeast: boolean;
}

/** For the banner: one page is enough to say that deliveries stopped somewhere. */
export const BANNER_PAGE_SIZE = 100;

export async function loadDisabled(): Promise<DisabledSummary> {
  const page = await listed<Webhook>(listPath(0, BANNER_PAGE_SIZE));
  const count = page.rows.filter((w) => w.disabledReason).length;
  return { count, atLeast: page.total > page.rows.length };
}

export function disabledText({ count, atLeast }: DisabledSummary): string {
  return `${atLeast ? "At least " : ""}${count} ${count === 1 ? "webhook" : "webhooks"} disabled: deliveries stopped`;
}
