// The console's webhooks: the Webhooks page (list, add with the secret shown once, edit,
// enable/disable, rotate, test, delete, the delivery log and its retry) and the banner on
// every page for webhooks the service disabled.
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { App } from "./App";
import { WebhookBanner } from "./components/WebhookBanner";
import { Webhooks } from "./pages/Webhooks";
import { href, parseRoute } from "./router";
import { fakeFetch, type Routes } from "./test-support";
import type { Delivery, Webhook } from "./types";
import { announceChange, createBody, deliveriesPath, disabledText, EVENT_TYPES, FORM_DEFAULTS, formOf, listPath, patchBody } from "./webhooks";

// A page's first render can take over a second on a busy machine.
const SLOW = { timeout: 5000 };

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
  window.location.hash = "";
});

const ID = "0c9e6a52-0000-4000-8000-00000000000a";
const GONE_ID = "0c9e6a52-0000-4000-8000-00000000000b";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

function webhook(patch: Partial<Webhook> = {}): Webhook {
  return {
    id: ID,
    url: "https://hooks.example.com/calls",
    events: ["call.completed", "call.failed"],
    description: "CRM",
    enabled: true,
    disabledReason: null,
    disabledAt: null,
    previousSecretUntil: null,
    createdAt: "2026-12-02T09:00:00Z",
    updatedAt: "2026-12-02T09:00:00Z",
    ...patch,
  };
}

const GONE = webhook({
  id: GONE_ID,
  url: "https://old.example.com/hook",
  events: ["*"],
  description: null,
  enabled: false,
  disabledReason: "GONE",
  disabledAt: "2026-12-02T12:00:00Z",
});

function listed(rows: Webhook[], total = rows.length): Routes {
  return { "GET /api/v1/webhooks": { body: rows, headers: { "X-Total-Count": String(total) } } };
}

/** The row of the webhook with this URL, in the list's table. */
async function rowOf(url: string): Promise<HTMLElement> {
  const table = await screen.findByRole("table", {}, SLOW);
  return (await within(table).findByText(url, {}, SLOW)).closest("tr")!;
}

describe("the webhook requests", () => {
  it("sends the form as the API reads it", () => {
    expect(createBody({ url: " https://a.example/h ", allEvents: false, events: ["call.failed"], description: " " })).toEqual({
      url: "https://a.example/h",
      events: ["call.failed"],
    });
    expect(createBody({ ...FORM_DEFAULTS, url: "https://a.example/h", allEvents: true, events: ["call.failed"] }).events).toEqual(["*"]);
    expect(listPath(2)).toBe("/api/v1/webhooks?page=2&size=25");
    expect(deliveriesPath(ID, "FAILED", 1)).toBe(`/api/v1/webhooks/${ID}/deliveries?page=1&size=25&status=FAILED`);
    expect(deliveriesPath(ID, "", 0)).toBe(`/api/v1/webhooks/${ID}/deliveries?page=0&size=25`);
  });

  it("patches only what changed; a cleared description is null", () => {
    const w = webhook();
    expect(patchBody(w, formOf(w))).toEqual({});
    // The same events in another order are no change.
    expect(patchBody(w, { ...formOf(w), events: ["call.failed", "call.completed"] })).toEqual({});
    expect(patchBody(w, { ...formOf(w), url: "https://b.example/h", description: "" })).toEqual({
      url: "https://b.example/h",
      description: null,
    });
    expect(patchBody(w, { ...formOf(w), allEvents: true })).toEqual({ events: ["*"] });
    expect(formOf(GONE)).toMatchObject({ allEvents: true, events: [], description: "" });
  });

  it("routes #/webhooks and words the banner", () => {
    expect(parseRoute("#/webhooks")).toEqual({ page: "webhooks" });
    expect(href({ page: "webhooks" })).toBe("#/webhooks");
    expect(disabledText({ count: 1, atLeast: false })).toBe("1 webhook disabled: deliveries stopped");
    expect(disabledText({ count: 3, atLeast: true })).toBe("At least 3 webhooks disabled: deliveries stopped");
  });
});

describe("the Webhooks page", () => {
  it("lists the webhooks with their events, state and why the service disabled one", { timeout: 30_000 }, async () => {
    const calls = fakeFetch(listed([webhook(), GONE], 30));
    render(<Webhooks />);
    const active = await rowOf("https://hooks.example.com/calls");
    expect(active.textContent).toContain("call.completed, call.failed");
    expect(active.textContent).toContain("CRM");
    expect(active.textContent).toContain("enabled");
    expect(within(active).getByRole("button", { name: "Disable" })).toBeTruthy();
    const gone = await rowOf("https://old.example.com/hook");
    expect(gone.textContent).toContain("all events");
    expect(gone.textContent).toContain("disabled");
    expect(gone.textContent).toContain("the receiver answered 410 Gone");
    expect(gone.textContent).toContain(new Date("2026-12-02T09:00:00Z").toLocaleString());
    expect(within(gone).getByRole("button", { name: "Enable" })).toBeTruthy();
    expect(screen.getByText("Page 1 of 2 (30 webhooks)")).toBeTruthy();
    expect(calls[0].path).toBe("/api/v1/webhooks?page=0&size=25");

    const user = userEvent.setup({ delay: null });
    await user.click(screen.getByRole("button", { name: "Next" }));
    await waitFor(() => expect(calls.map((c) => c.path)).toContain("/api/v1/webhooks?page=1&size=25"));
  });

  it("says FAILING in words, and when there is none yet", { timeout: 30_000 }, async () => {
    fakeFetch(listed([webhook({ enabled: false, disabledReason: "FAILING" })]));
    render(<Webhooks />);
    const row = await rowOf("https://hooks.example.com/calls");
    expect(row.textContent).toContain("nothing was delivered for the whole retry period");
    cleanup();
    fakeFetch(listed([]));
    render(<Webhooks />);
    expect(await screen.findByText(/No webhooks yet/, {}, SLOW)).toBeTruthy();
  });

  it("adds a webhook for chosen events and shows its secret once", { timeout: 30_000 }, async () => {
    const created = { ...webhook({ description: null }), secret: SECRET };
    const calls = fakeFetch({ ...listed([]), "POST /api/v1/webhooks": { status: 201, body: created } });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    await screen.findByText(/No webhooks yet/, {}, SLOW);
    const form = screen.getByRole("form", { name: "Add a webhook" });
    await user.type(within(form).getByLabelText("URL"), "https://hooks.example.com/calls");
    await user.click(within(form).getByLabelText("call.completed"));
    await user.click(within(form).getByLabelText("call.permanently_failed"));
    await user.click(within(form).getByRole("button", { name: "Add the webhook" }));

    const box = await screen.findByRole("region", { name: "Secret for https://hooks.example.com/calls" });
    expect(within(box).getByText("Copy it now, it is not shown again.")).toBeTruthy();
    expect((within(box).getByLabelText("Signing secret") as HTMLInputElement).value).toBe(SECRET);
    // user-event gives the page a clipboard: Copy puts the secret there.
    await user.click(within(box).getByRole("button", { name: "Copy" }));
    await within(box).findByText("Copied.");
    expect(await navigator.clipboard.readText()).toBe(SECRET);

    const sent = calls.find((c) => c.method === "POST")!;
    expect(sent.path).toBe("/api/v1/webhooks");
    expect(sent.body).toEqual({ url: "https://hooks.example.com/calls", events: ["call.completed", "call.permanently_failed"] });
    // The form is ready for the next one, and the list was read again.
    expect((within(form).getByLabelText("URL") as HTMLInputElement).value).toBe("");
    await waitFor(() => expect(calls.filter((c) => c.method === "GET").length).toBeGreaterThan(1));

    // Once dismissed, it is nowhere on the page.
    await user.click(within(box).getByRole("button", { name: "I have stored it" }));
    expect(screen.queryByRole("region", { name: /Secret for/ })).toBeNull();
    expect(document.body.innerHTML).not.toContain(SECRET);
  });

  it('sends ["*"] for all events, with the description', { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      ...listed([]),
      "POST /api/v1/webhooks": { status: 201, body: { ...webhook({ events: ["*"] }), secret: SECRET } },
    });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    const form = screen.getByRole("form", { name: "Add a webhook" });
    await user.type(within(form).getByLabelText("URL"), "https://hooks.example.com/calls");
    await user.click(within(form).getByLabelText("call.failed"));
    await user.click(within(form).getByLabelText(/^All events/));
    // Every type is shown ticked and cannot be changed while all are chosen.
    for (const type of EVENT_TYPES) expect((within(form).getByLabelText(type) as HTMLInputElement).disabled).toBe(true);
    await user.type(within(form).getByLabelText("Description"), "Data warehouse");
    await user.click(within(form).getByRole("button", { name: "Add the webhook" }));
    await screen.findByRole("region", { name: /Secret for/ });
    expect(calls.find((c) => c.method === "POST")!.body).toEqual({
      url: "https://hooks.example.com/calls",
      events: ["*"],
      description: "Data warehouse",
    });
  });

  it("shows a 422 beside the URL and the events, and a 503's detail", { timeout: 30_000 }, async () => {
    let reply = {
      status: 422,
      body: {
        detail: "invalid fields",
        errors: [
          { field: "url", message: "names a loopback address" },
          { field: "events", message: "List should have at least 1 item after validation, not 0" },
        ],
      },
    };
    fakeFetch({ ...listed([]), "POST /api/v1/webhooks": () => reply });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    const form = screen.getByRole("form", { name: "Add a webhook" });
    await user.type(within(form).getByLabelText("URL"), "http://127.0.0.1/hook");
    await user.click(within(form).getByRole("button", { name: "Add the webhook" }));

    const url = within(form).getByLabelText("URL");
    await waitFor(() => expect(url.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(url.getAttribute("aria-describedby")!)!.textContent).toBe("names a loopback address");
    const events = within(form).getByRole("group", { name: "Events" });
    expect(events.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(events.getAttribute("aria-describedby")!)!.textContent).toBe(
      "List should have at least 1 item after validation, not 0",
    );
    expect(within(form).getByLabelText("Description").getAttribute("aria-invalid")).toBe("false");
    expect(screen.queryByRole("region", { name: /Secret for/ })).toBeNull();

    reply = { status: 503, body: { detail: "webhook secrets are not configured (VCS_WEBHOOK_SECRET_KEY)", errors: [] } };
    await user.click(within(form).getByRole("button", { name: "Add the webhook" }));
    expect(await within(form).findByText("webhook secrets are not configured (VCS_WEBHOOK_SECRET_KEY)")).toBeTruthy();
    expect(url.getAttribute("aria-invalid")).toBe("false");
  });

  it("edits only the fields changed", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({ ...listed([webhook()]), [`PATCH /api/v1/webhooks/${ID}`]: { body: { ...webhook(), secret: null } } });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    const row = await rowOf("https://hooks.example.com/calls");
    await user.click(within(row).getByRole("button", { name: "Edit" }));
    const form = screen.getByRole("form", { name: "Edit the webhook to https://hooks.example.com/calls" });
    expect((within(form).getByLabelText("call.completed") as HTMLInputElement).checked).toBe(true);
    expect((within(form).getByLabelText("call.cancelled") as HTMLInputElement).checked).toBe(false);
    await user.click(within(form).getByLabelText("call.failed"));
    await user.click(within(form).getByLabelText("campaign.completed"));
    await user.clear(within(form).getByLabelText("Description"));
    await user.click(within(form).getByRole("button", { name: "Save changes" }));
    await screen.findByText("Saved the webhook to https://hooks.example.com/calls.");
    const sent = calls.find((c) => c.method === "PATCH")!;
    expect(sent.path).toBe(`/api/v1/webhooks/${ID}`);
    expect(sent.body).toEqual({ events: ["call.completed", "campaign.completed"], description: null });
    expect(screen.queryByRole("form", { name: /^Edit/ })).toBeNull();
  });

  it("disables and enables with a PATCH of enabled", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      ...listed([webhook(), GONE]),
      [`PATCH /api/v1/webhooks/${ID}`]: { body: { ...webhook({ enabled: false }), secret: null } },
      [`PATCH /api/v1/webhooks/${GONE_ID}`]: { body: { ...GONE, enabled: true, disabledReason: null, secret: null } },
    });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    await user.click(within(await rowOf("https://hooks.example.com/calls")).getByRole("button", { name: "Disable" }));
    await screen.findByText(/^Disabled https:\/\/hooks.example.com\/calls/);
    await user.click(within(await rowOf("https://old.example.com/hook")).getByRole("button", { name: "Enable" }));
    await screen.findByText(/^Enabled https:\/\/old.example.com\/hook/);
    const patches = calls.filter((c) => c.method === "PATCH");
    expect(patches.map((c) => [c.path, c.body])).toEqual([
      [`/api/v1/webhooks/${ID}`, { enabled: false }],
      [`/api/v1/webhooks/${GONE_ID}`, { enabled: true }],
    ]);
  });

  it("rotates the secret after a confirm and shows the new one with the overlap", { timeout: 30_000 }, async () => {
    const until = "2026-12-04T09:00:00Z";
    const calls = fakeFetch({
      ...listed([webhook()]),
      [`PATCH /api/v1/webhooks/${ID}`]: { body: { ...webhook({ previousSecretUntil: until }), secret: SECRET } },
    });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    const row = await rowOf("https://hooks.example.com/calls");
    await user.click(within(row).getByRole("button", { name: "Rotate secret" }));
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await user.click(within(row).getByRole("button", { name: "Yes, rotate secret" }));
    const box = await screen.findByRole("region", { name: "New secret for https://hooks.example.com/calls" });
    expect((within(box).getByLabelText("Signing secret") as HTMLInputElement).value).toBe(SECRET);
    expect(box.textContent).toContain("Copy it now, it is not shown again.");
    expect(box.textContent).toContain(`The previous secret keeps signing beside it until ${new Date(until).toLocaleString()}.`);
    expect(calls.find((c) => c.method === "PATCH")!.body).toEqual({ rotateSecret: true });
  });

  it("sends a test and says it was queued", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      ...listed([webhook()]),
      [`POST /api/v1/webhooks/${ID}/test`]: { status: 202, body: { eventId: "e-1", deliveryId: "d-1" } },
    });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    await user.click(within(await rowOf("https://hooks.example.com/calls")).getByRole("button", { name: "Send a test" }));
    expect((await screen.findByText(/webhook.test event was queued/)).textContent).toBe(
      "A webhook.test event was queued for https://hooks.example.com/calls: its delivery is in the log.",
    );
    expect(calls.find((c) => c.method === "POST")!.path).toBe(`/api/v1/webhooks/${ID}/test`);
  });

  it("deletes only after the confirm", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({ ...listed([webhook()]), [`DELETE /api/v1/webhooks/${ID}`]: { status: 204 } });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    const row = await rowOf("https://hooks.example.com/calls");
    await user.click(within(row).getByRole("button", { name: "Delete" }));
    const confirm = within(row).getByRole("group", { name: "Delete the webhook to https://hooks.example.com/calls and its delivery log?" });
    await user.click(within(confirm).getByRole("button", { name: "No" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(row).getByRole("button", { name: "Delete" }));
    await user.click(within(row).getByRole("button", { name: "Yes, delete" }));
    await screen.findByText("Deleted the webhook to https://hooks.example.com/calls and its delivery log.");
    expect(calls.filter((c) => c.method === "DELETE").map((c) => c.path)).toEqual([`/api/v1/webhooks/${ID}`]);
  });

  it("shows the delivery log with its attempts, filters it, and retries a delivery", { timeout: 30_000 }, async () => {
    const failing: Delivery = {
      id: "d-2",
      eventId: "e-2",
      eventType: "call.failed",
      status: "PENDING",
      attemptCount: 2,
      nextAttemptAt: "2026-12-02T10:00:20Z",
      createdAt: "2026-12-02T10:00:00Z",
      finishedAt: null,
      attempts: [
        { attemptNumber: 1, attemptedAt: "2026-12-02T10:00:01Z", statusCode: 500, latencyMs: 120, error: "HTTP 500", nextRetryAt: "2026-12-02T10:00:06Z" },
        { attemptNumber: 2, attemptedAt: "2026-12-02T10:00:06Z", statusCode: null, latencyMs: 10000, error: "timed out", nextRetryAt: "2026-12-02T10:00:20Z" },
      ],
    };
    const delivered: Delivery = {
      ...failing,
      id: "d-1",
      eventId: "e-1",
      eventType: "webhook.test",
      status: "DELIVERED",
      attemptCount: 1,
      nextAttemptAt: null,
      finishedAt: "2026-12-02T09:59:00Z",
      attempts: [{ attemptNumber: 1, attemptedAt: "2026-12-02T09:59:00Z", statusCode: 204, latencyMs: 35, error: null, nextRetryAt: null }],
    };
    const calls = fakeFetch({
      ...listed([webhook()]),
      [`GET /api/v1/webhooks/${ID}/deliveries`]: { body: [failing, delivered], headers: { "X-Total-Count": "2" } },
      [`POST /api/v1/webhooks/${ID}/deliveries/d-2/retry`]: { status: 202, body: { ...failing, nextAttemptAt: null } },
    });
    const user = userEvent.setup({ delay: null });
    render(<Webhooks />);
    await user.click(within(await rowOf("https://hooks.example.com/calls")).getByRole("button", { name: "Deliveries" }));
    const log = screen.getByRole("region", { name: "Deliveries to https://hooks.example.com/calls" });
    const attempts = await within(log).findByRole("list", { name: "Attempts of call.failed e-2" }, SLOW);
    expect(within(attempts).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      `${new Date("2026-12-02T10:00:01Z").toLocaleString()}: 500 in 120 ms — HTTP 500; next retry ${new Date("2026-12-02T10:00:06Z").toLocaleString()}`,
      `${new Date("2026-12-02T10:00:06Z").toLocaleString()}: no answer in 10s — timed out; next retry ${new Date("2026-12-02T10:00:20Z").toLocaleString()}`,
    ]);
    const first = within(log).getByText("webhook.test").closest("tr")!;
    expect(first.textContent).toContain("e-1");
    expect(first.textContent).toContain("delivered");
    expect(within(first).getByRole("list").textContent).toContain("204 in 35 ms");
    expect(calls.map((c) => c.path)).toContain(`/api/v1/webhooks/${ID}/deliveries?page=0&size=25`);

    await user.selectOptions(within(log).getByLabelText("Filter deliveries by status"), "FAILED");
    await waitFor(() => expect(calls.map((c) => c.path)).toContain(`/api/v1/webhooks/${ID}/deliveries?page=0&size=25&status=FAILED`));

    const reads = () => calls.filter((c) => c.method === "GET" && c.path.includes("/deliveries")).length;
    const before = reads();
    await user.click(within(log).getByRole("button", { name: "Retry now: call.failed e-2" }));
    await within(log).findByText("Delivery of call.failed (e-2) is due again now.");
    expect(calls.filter((c) => c.method === "POST").map((c) => c.path)).toEqual([`/api/v1/webhooks/${ID}/deliveries/d-2/retry`]);
    // The log is read again after the retry.
    await waitFor(() => expect(reads()).toBeGreaterThan(before));
  });
});

describe("the disabled-webhooks banner", () => {
  it("counts the webhooks the service disabled and links to the page", async () => {
    const calls = fakeFetch(listed([webhook(), GONE, webhook({ id: "x", enabled: false, disabledReason: "FAILING" })]));
    render(<WebhookBanner />);
    const banner = await screen.findByRole("status", {}, SLOW);
    expect(banner.textContent).toContain("2 webhooks disabled: deliveries stopped");
    expect(within(banner).getByRole("link", { name: "See the webhooks" }).getAttribute("href")).toBe("#/webhooks");
    expect(calls[0].path).toBe("/api/v1/webhooks?page=0&size=100");
  });

  it('says "at least" when there are more webhooks than it read', async () => {
    fakeFetch(listed([GONE], 250));
    render(<WebhookBanner />);
    expect((await screen.findByRole("status", {}, SLOW)).textContent).toContain(
      "At least 1 webhook disabled: deliveries stopped",
    );
  });

  it("goes when none is disabled by the service any more: one disabled by hand does not count", async () => {
    let rows = [GONE];
    const calls = fakeFetch({ "GET /api/v1/webhooks": () => ({ body: rows, headers: { "X-Total-Count": String(rows.length) } }) });
    const { container } = render(<WebhookBanner />);
    await screen.findByText("1 webhook disabled: deliveries stopped", {}, SLOW);
    // What the page announces after a change makes the banner check again at once.
    rows = [webhook(), { ...GONE, disabledReason: null, disabledAt: null }];
    announceChange();
    await waitFor(() => expect(container.innerHTML).toBe(""));
    expect(calls).toHaveLength(2);
  });

  it("checks again every 30 s, and goes when a check fails", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      let answers = 0;
      const calls = fakeFetch({
        "GET /api/v1/webhooks": () => (++answers === 1 ? { body: [GONE], headers: { "X-Total-Count": "1" } } : { status: 503, body: { detail: "down" } }),
      });
      render(<WebhookBanner />);
      await screen.findByText("1 webhook disabled: deliveries stopped", {}, SLOW);
      await vi.advanceTimersByTimeAsync(29_000);
      expect(calls).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1_500);
      expect(calls).toHaveLength(2);
      await waitFor(() => expect(screen.queryByText(/webhook disabled/)).toBeNull());
    } finally {
      vi.useRealTimers();
    }
  });

  it("is shown above the page on every page of the console, with the Webhooks nav link", { timeout: 30_000 }, async () => {
    window.location.hash = "#/overview";
    fakeFetch({ ...listed([GONE]), "GET /api/v1/metrics": { status: 500, body: { detail: "metrics down" } } });
    render(<App />);
    expect(screen.getByRole("navigation", { name: "Main" }).querySelector('a[href="#/webhooks"]')!.textContent).toBe("Webhooks");
    const banner = await screen.findByText("1 webhook disabled: deliveries stopped", {}, SLOW);
    const main = document.getElementById("main")!;
    expect(main.contains(banner)).toBe(false);
    expect(banner.compareDocumentPosition(main) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it("goes at once when the disabled webhook is enabled on the page", { timeout: 30_000 }, async () => {
    window.location.hash = "#/webhooks";
    let current = GONE;
    const calls = fakeFetch({
      "GET /api/v1/webhooks": () => ({ body: [current], headers: { "X-Total-Count": "1" } }),
      [`PATCH /api/v1/webhooks/${GONE_ID}`]: () => {
        current = { ...GONE, enabled: true, disabledReason: null };
        return { body: { ...current, secret: null } };
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<App />);
    await screen.findByText("1 webhook disabled: deliveries stopped", {}, SLOW);
    await user.click(within(await rowOf("https://old.example.com/hook")).getByRole("button", { name: "Enable" }));
    // Well before the banner's own 30 s check.
    await waitFor(() => expect(screen.queryByText(/webhook disabled/)).toBeNull(), { timeout: 2000 });
    expect(calls.filter((c) => c.path === "/api/v1/webhooks?page=0&size=100").length).toBe(2);
  });
});
