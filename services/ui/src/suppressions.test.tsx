// The console's do-not-call pieces: the Do-not-call page (add, the answer, search, remove),
// the opt-out on a call, frequency caps in the create form and on the campaign page, and the
// FREQUENCY_CAP and SUPPRESSED reasons.
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { CallDetail } from "./components/CallDetail";
import { WhyNotNow } from "./components/WhyNotNow";
import { capText, hoursText } from "./format";
import { campaignBody, DEFAULTS, shownBesideAField } from "./pages/campaignForm";
import { CampaignPage } from "./pages/CampaignPage";
import { CreateCampaign } from "./pages/CreateCampaign";
import { DoNotCall } from "./pages/DoNotCall";
import { ADD_DEFAULTS, addBody, entryPath, listPath, numberMessages } from "./suppressions";
import { fakeFetch, type Routes } from "./test-support";
import type { Call, Suppression } from "./types";

// A page's first render can take over a second on a busy machine.
const SLOW = { timeout: 5000 };

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const CAMPAIGN_ID = "7f1c2a4e-0000-4000-8000-000000000001";

const CAMPAIGN = {
  id: CAMPAIGN_ID,
  name: "Reminders",
  description: null,
  status: "PAUSED",
  concurrencyLimit: 5,
  priority: 5,
  callsPerSecond: null,
  retryConfig: {},
  businessHours: {},
  contactPolicy: { frequencyCaps: [{ maxAttempts: 3, periodHours: 24 }, { maxAttempts: 7, periodHours: 168 }] },
  metrics: {
    totalCalls: 10,
    pendingCalls: 4,
    inProgressCalls: 0,
    completedCalls: 3,
    failedCalls: 0,
    permanentlyFailedCalls: 1,
    suppressedCalls: 2,
    totalRetries: 0,
  },
  createdAt: "2026-12-01T10:00:00Z",
  updatedAt: "2026-12-01T10:00:00Z",
};

function entry(phoneNumber: string, patch: Partial<Suppression> = {}): Suppression {
  return {
    phoneNumber,
    campaignId: null,
    reason: null,
    sourceCallId: null,
    expiresAt: null,
    createdAt: "2026-12-02T09:00:00Z",
    ...patch,
  };
}

/** The page's reads: the campaigns for the pickers and one page of a list. */
function pageRoutes(extra: Routes = {}, rows: Suppression[] = [], total = rows.length): Routes {
  return {
    "GET /api/v1/campaigns": { body: [CAMPAIGN] },
    "GET /api/v1/suppressions": { body: rows, headers: { "X-Total-Count": String(total) } },
    ...extra,
  };
}

describe("the do-not-call requests", () => {
  it("sends the pasted numbers as typed with only the options given", () => {
    expect(addBody({ ...ADD_DEFAULTS, numbers: "(415) 555-0100\n+14155550101, 4155550102;\n\n" })).toEqual({
      phoneNumbers: ["(415) 555-0100", "+14155550101", "4155550102"],
      skipInvalid: true,
    });
    const body = addBody({
      numbers: "+14155550100",
      reason: " CUSTOMER_REQUEST ",
      campaignId: CAMPAIGN_ID,
      expiresAt: "2027-01-31T18:00",
      skipInvalid: false,
    });
    expect(body).toMatchObject({ reason: "CUSTOMER_REQUEST", campaignId: CAMPAIGN_ID });
    expect(body).not.toHaveProperty("skipInvalid");
    // The browser's local time, sent with its offset.
    expect(String(body.expiresAt)).toMatch(/^2027-01-31T18:00:00[+-]\d{2}:\d{2}$/);
    expect(addBody({ ...ADD_DEFAULTS, numbers: "1", expiresAt: "soon" }).expiresAt).toBe("soon");
  });

  it("names an entry and a list by their own paths", () => {
    expect(entryPath(entry("+14155550100"))).toBe("/api/v1/suppressions/%2B14155550100");
    expect(entryPath(entry("+14155550100", { campaignId: CAMPAIGN_ID }))).toBe(
      `/api/v1/suppressions/%2B14155550100?campaignId=${CAMPAIGN_ID}`,
    );
    expect(listPath("", "", 0)).toBe("/api/v1/suppressions?page=0&size=25");
    expect(listPath(CAMPAIGN_ID, " (415) 555-0100 ", 2)).toBe(
      `/api/v1/suppressions?page=2&size=25&phoneNumber=%28415%29+555-0100&campaignId=${CAMPAIGN_ID}`,
    );
  });

  it("words the numbers' errors by position or line", () => {
    const errors = [
      { field: "phoneNumbers[2]", message: "is not a phone number" },
      { field: "file (line 7)", message: "is not a phone number" },
      { field: "reason", message: "too long" },
    ];
    expect(numberMessages(errors, "paste")).toEqual(["number 3: is not a phone number"]);
    expect(numberMessages(errors, "file")).toEqual(["line 7: is not a phone number"]);
  });
});

describe("the Do-not-call page", () => {
  it("uploads a file to a campaign's list and shows the API's counts and invalid lines", { timeout: 30_000 }, async () => {
    const calls = fakeFetch(
      pageRoutes({
        "POST /api/v1/suppressions/import": {
          body: {
            totalReceived: 5,
            added: 3,
            alreadyPresent: 1,
            invalidSkipped: 1,
            invalidLines: [{ line: 4, value: "12ab", reason: "not a phone number" }],
          },
        },
      }),
    );
    const user = userEvent.setup({ delay: null });
    render(<DoNotCall />);
    await screen.findAllByRole("option", { name: "Campaign: Reminders" }, SLOW);
    const file = new File(["phone,reason\n+14155550100,asked\n"], "dnc.csv", { type: "text/csv" });
    await user.upload(screen.getByLabelText("Or upload a CSV or text file"), file);
    await user.selectOptions(screen.getByLabelText("Add to"), CAMPAIGN_ID);
    await user.type(screen.getByLabelText("Reason"), "CUSTOMER_REQUEST");
    await user.click(screen.getByRole("button", { name: "Add to the list" }));

    await waitFor(() => expect(screen.getByTestId("dnc-received").textContent).toBe("5"));
    expect(screen.getByTestId("dnc-added").textContent).toBe("3");
    expect(screen.getByTestId("dnc-already").textContent).toBe("1");
    expect(screen.getByTestId("dnc-invalid").textContent).toBe("1");
    expect(within(screen.getByRole("list", { name: "Invalid lines" })).getByRole("listitem").textContent).toBe(
      "line 4: 12ab — not a phone number",
    );

    const sent = calls.find((c) => c.method === "POST")!;
    expect(sent.path).toBe("/api/v1/suppressions/import");
    const form = sent.body as FormData;
    expect(form.get("campaignId")).toBe(CAMPAIGN_ID);
    expect(form.get("reason")).toBe("CUSTOMER_REQUEST");
    expect(form.get("skipInvalid")).toBe("true");
    expect((form.get("file") as File).name).toBe("dnc.csv");
    expect(form.has("expiresAt")).toBe(false);
    // Nothing pasted: no JSON request.
    expect(calls.filter((c) => c.path === "/api/v1/suppressions" && c.method === "POST")).toHaveLength(0);
    // The list is read again after the numbers were added.
    await waitFor(() => expect(calls.filter((c) => c.method === "GET" && c.path.startsWith("/api/v1/suppressions?")).length).toBeGreaterThan(1));
  });

  it("shows the API's 422 beside the inputs it names", { timeout: 30_000 }, async () => {
    const calls = fakeFetch(
      pageRoutes({
        "POST /api/v1/suppressions": {
          status: 422,
          body: {
            detail: "invalid fields",
            errors: [
              { field: "phoneNumbers[1]", message: "is not a phone number" },
              { field: "expiresAt", message: "Input should have timezone info" },
              { field: "reason", message: "String should have at most 200 characters" },
            ],
          },
        },
      }),
    );
    const user = userEvent.setup({ delay: null });
    render(<DoNotCall />);
    await screen.findAllByRole("option", { name: "Campaign: Reminders" }, SLOW);
    await user.type(screen.getByLabelText("Paste numbers"), "+14155550100{enter}555");
    await user.click(screen.getByLabelText(/^Skip numbers/));
    await user.type(screen.getByLabelText("Reason"), "x");
    await user.click(screen.getByRole("button", { name: "Add to the list" }));

    const described = (label: string) => {
      const input = screen.getByLabelText(label);
      expect(input.getAttribute("aria-invalid"), label).toBe("true");
      return document.getElementById(input.getAttribute("aria-describedby")!)!.textContent;
    };
    await screen.findByText("number 2: is not a phone number");
    expect(described("Paste numbers")).toBe("number 2: is not a phone number");
    expect(described("Expires")).toBe("Input should have timezone info");
    expect(described("Reason")).toBe("String should have at most 200 characters");
    expect(screen.getByLabelText("Add to").getAttribute("aria-invalid")).toBe("false");
    expect(screen.getByText(/The pasted numbers were refused/)).toBeTruthy();
    // No answer card: nothing was added.
    expect(screen.queryByTestId("dnc-added")).toBeNull();
    const sent = calls.find((c) => c.method === "POST")!.body as Record<string, unknown>;
    expect(sent).toEqual({ phoneNumbers: ["+14155550100", "555"], reason: "x" });
  });

  it("shows a file refused as too large beside the file input", { timeout: 30_000 }, async () => {
    fakeFetch(
      pageRoutes({
        "POST /api/v1/suppressions/import": { status: 413, body: { detail: "The upload is larger than 10 MB" } },
      }),
    );
    const user = userEvent.setup({ delay: null });
    render(<DoNotCall />);
    await screen.findAllByRole("option", { name: "Campaign: Reminders" }, SLOW);
    const input = screen.getByLabelText("Or upload a CSV or text file");
    await user.upload(input, new File(["+14155550100\n"], "big.txt", { type: "text/plain" }));
    await user.click(screen.getByRole("button", { name: "Add to the list" }));
    await waitFor(() => expect(input.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(input.getAttribute("aria-describedby")!)!.textContent).toBe(
      "The upload is larger than 10 MB",
    );
  });

  it("lists, searches, pages and removes entries, with a confirm", { timeout: 30_000 }, async () => {
    const rows = [
      entry("+14155550100", { reason: "OPT_OUT", sourceCallId: "k-9" }),
      entry("+14155550101", { reason: "CUSTOMER_REQUEST", expiresAt: "2027-01-31T18:00:00Z" }),
    ];
    const calls = fakeFetch(
      pageRoutes({ "DELETE /api/v1/suppressions/%2B14155550101": { status: 204 } }, rows, 30),
    );
    const user = userEvent.setup({ delay: null });
    render(<DoNotCall />);
    const table = await screen.findByRole("table", {}, SLOW);
    await within(table).findByText("+14155550100", {}, SLOW);
    expect(screen.getByText("Page 1 of 2 (30 numbers)")).toBeTruthy();
    const first = within(table).getByText("+14155550100").closest("tr")!;
    expect(within(first).getByText(/opted out during a call/)).toBeTruthy();
    expect(first.textContent).toContain("Global");
    const second = within(table).getByText("+14155550101").closest("tr")!;
    expect(second.textContent).toContain("CUSTOMER_REQUEST");
    expect(first.textContent).toContain("never");

    // Search: the number as typed (the server normalises it), on the chosen campaign's list.
    await user.selectOptions(screen.getByLabelText("List"), CAMPAIGN_ID);
    await user.type(screen.getByLabelText("Number"), "(415) 555-0101");
    await user.click(screen.getByRole("button", { name: "Search" }));
    await waitFor(() =>
      expect(calls.map((c) => c.path)).toContain(
        `/api/v1/suppressions?page=0&size=25&phoneNumber=%28415%29+555-0101&campaignId=${CAMPAIGN_ID}`,
      ),
    );
    await user.click(screen.getByRole("button", { name: "Next" }));
    await waitFor(() => expect(calls.some((c) => c.path.startsWith("/api/v1/suppressions?page=1&"))).toBe(true));

    // Remove asks first; No leaves it.
    const row = () => within(screen.getByRole("table")).getByText("+14155550101").closest("tr")!;
    await user.click(within(row()).getByRole("button", { name: "Remove" }));
    const confirm = within(row()).getByRole("group", { name: "Allow calls to +14155550101 again?" });
    await user.click(within(confirm).getByRole("button", { name: "No" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await user.click(within(row()).getByRole("button", { name: "Remove" }));
    await user.click(within(row()).getByRole("button", { name: "Yes, remove" }));
    await waitFor(() => expect(calls.some((c) => c.method === "DELETE")).toBe(true));
    expect(calls.find((c) => c.method === "DELETE")!.path).toBe("/api/v1/suppressions/%2B14155550101");
  });

  it("says so when the entry was already gone, and shows an empty search", { timeout: 30_000 }, async () => {
    fakeFetch(pageRoutes({}, [entry("+14155550100", { campaignId: CAMPAIGN_ID })]));
    const user = userEvent.setup({ delay: null });
    render(<DoNotCall />);
    const cell = await screen.findByText("+14155550100", {}, SLOW);
    const row = cell.closest("tr")!;
    await waitFor(() => expect(row.textContent).toContain("Campaign: Reminders"));
    await user.click(within(row).getByRole("button", { name: "Remove" }));
    await user.click(within(row).getByRole("button", { name: "Yes, remove" }));
    // The fake answers 404 for a DELETE it has no route for.
    expect((await screen.findByRole("alert")).textContent).toBe("+14155550100 was no longer on this list.");
  });
});

describe("Opt out on a call", () => {
  const call: Call = {
    id: "k-1",
    campaignId: CAMPAIGN_ID,
    phoneNumber: "+14155550100",
    status: "COMPLETED",
    retryCount: 0,
    lastAttemptedAt: null,
    nextRetryAt: null,
    externalCallId: null,
    failureReason: null,
    callDurationSeconds: 30,
    createdAt: "2026-12-02T15:00:00Z",
    updatedAt: "2026-12-02T15:00:00Z",
    attempts: [],
  };

  it("asks, then puts the number on the global list with the call as its source", async () => {
    const calls = fakeFetch({
      "POST /api/v1/calls/k-1/opt-out": {
        body: entry("+14155550100", { reason: "OPT_OUT", sourceCallId: "k-1" }),
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<CallDetail call={call} />);
    await user.click(screen.getByRole("button", { name: "Opt out" }));
    const confirm = screen.getByRole("group", { name: "Never call +14155550100 again, from any campaign?" });
    await user.click(within(confirm).getByRole("button", { name: "Yes, opt out" }));
    await screen.findByText(/is on the global do-not-call list/);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(["POST /api/v1/calls/k-1/opt-out"]);
    expect(screen.queryByRole("button", { name: "Opt out" })).toBeNull();
  });

  it("shows the API's refusal", async () => {
    fakeFetch({ "POST /api/v1/calls/k-1/opt-out": { status: 404, body: { detail: "no such call" } } });
    const user = userEvent.setup({ delay: null });
    render(<CallDetail call={call} />);
    await user.click(screen.getByRole("button", { name: "Opt out" }));
    await user.click(screen.getByRole("button", { name: "Yes, opt out" }));
    expect((await screen.findByRole("alert")).textContent).toBe("no such call");
  });
});

describe("frequency caps in the create form", () => {
  it("sends the rows typed, in order, numbers as numbers and other text as typed", () => {
    const body = campaignBody({
      ...DEFAULTS,
      name: "x",
      frequencyCaps: [
        { maxAttempts: "3", periodHours: "24" },
        { maxAttempts: " ", periodHours: "" },
        { maxAttempts: "0", periodHours: "many" },
      ],
    });
    expect(body.contactPolicy).toEqual({
      frequencyCaps: [
        { maxAttempts: 3, periodHours: 24 },
        { maxAttempts: 0, periodHours: "many" },
      ],
    });
    expect(campaignBody({ ...DEFAULTS, name: "x" })).not.toHaveProperty("contactPolicy");
    expect(campaignBody({ ...DEFAULTS, name: "x", frequencyCaps: [{ maxAttempts: "", periodHours: "" }] })).not.toHaveProperty(
      "contactPolicy",
    );
  });

  it("places the caps' errors beside their inputs", () => {
    for (const field of [
      "contactPolicy",
      "contactPolicy.frequencyCaps",
      "contactPolicy.frequencyCaps[0]",
      "contactPolicy.frequencyCaps[1].maxAttempts",
      "contactPolicy.frequencyCaps[12].periodHours",
    ]) {
      expect(shownBesideAField(field), field).toBe(true);
    }
    expect(shownBesideAField("contactPolicy.frequencyCaps[0].period")).toBe(false);
  });

  it("adds and removes rows, sends them and marks each input the API refuses", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      "POST /api/v1/campaigns": {
        status: 422,
        body: {
          detail: "invalid fields",
          errors: [
            { field: "contactPolicy.frequencyCaps[0].maxAttempts", message: "Input should be greater than or equal to 1" },
            { field: "contactPolicy.frequencyCaps[1].periodHours", message: "Input should be less than or equal to 744" },
          ],
        },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<CreateCampaign />);
    await user.type(screen.getByLabelText("Name"), "Clinic");
    const add = screen.getByRole("button", { name: "Add a cap" });
    await user.click(add);
    await user.click(add);
    await user.click(add);
    await user.type(screen.getByLabelText("Cap 1: most dials"), "5");
    await user.type(screen.getByLabelText("Cap 1: period in hours"), "1");
    // The second row is removed; the third (a blank "Add" click) is not sent.
    await user.click(screen.getByRole("button", { name: "Remove cap 2" }));
    await user.click(add);
    await user.type(screen.getByLabelText("Cap 3: most dials"), "0");
    await user.type(screen.getByLabelText("Cap 3: period in hours"), "800");
    await user.click(screen.getByRole("button", { name: /Create/ }));

    await screen.findByText("Input should be greater than or equal to 1");
    const sent = calls.find((c) => c.method === "POST")!.body as Record<string, any>;
    expect(sent.contactPolicy).toEqual({
      frequencyCaps: [
        { maxAttempts: 5, periodHours: 1 },
        { maxAttempts: 0, periodHours: 800 },
      ],
    });
    const describedBy = (label: string) => {
      const input = screen.getByLabelText(label);
      return input.getAttribute("aria-invalid") === "true"
        ? document.getElementById(input.getAttribute("aria-describedby")!)!.textContent
        : null;
    };
    // Error index 1 is the third row shown: the blank row between was not sent.
    expect(describedBy("Cap 1: most dials")).toBe("Input should be greater than or equal to 1");
    expect(describedBy("Cap 1: period in hours")).toBeNull();
    expect(describedBy("Cap 2: most dials")).toBeNull();
    expect(describedBy("Cap 3: period in hours")).toBe("Input should be less than or equal to 744");
    expect(describedBy("Cap 3: most dials")).toBeNull();
    expect(screen.queryByText(/^contactPolicy/)).toBeNull();
  });
});

describe("caps and suppressions on the campaign page and in Why not now?", () => {
  it("shows the campaign's own caps and its suppressed calls", async () => {
    fakeFetch({
      "GET /api/v1/campaigns/c-1": { body: CAMPAIGN },
      "GET /api/v1/campaigns/c-1/stats": { body: {} },
      "GET /api/v1/campaigns/c-1/calls": { body: [], headers: { "X-Total-Count": "0" } },
      "GET /api/v1/campaigns/c-1/inventory": { body: { dialableNow: 0, waiting: { FREQUENCY_CAP: 4 }, final: {}, nextOpeningAt: null } },
    });
    render(<CampaignPage id="c-1" />);
    const caps = await screen.findByTestId("frequency-caps", {}, SLOW);
    expect([...caps.querySelectorAll("li")].map((li) => li.textContent)).toEqual([
      "at most 3 calls in 24 hours",
      "at most 7 calls in 7 days",
    ]);
    expect(screen.getByTestId("suppressed-calls").textContent).toBe("2");
    // The inventory says what the code means.
    const waiting = await screen.findByRole("rowheader", { name: /^FREQUENCY_CAP/ }, SLOW);
    expect(waiting.textContent).toContain("called as often as a frequency cap allows");
  });

  it("says when a campaign has no caps of its own", async () => {
    fakeFetch({
      "GET /api/v1/campaigns/c-1": { body: { ...CAMPAIGN, contactPolicy: { frequencyCaps: [] } } },
      "GET /api/v1/campaigns/c-1/stats": { body: {} },
      "GET /api/v1/campaigns/c-1/calls": { body: [], headers: { "X-Total-Count": "0" } },
    });
    render(<CampaignPage id="c-1" />);
    expect((await screen.findByTestId("frequency-caps", {}, SLOW)).textContent).toBe("none (the calling policy's apply)");
  });

  it("explains FREQUENCY_CAP with the cap, the attempts counted and when the oldest leaves", async () => {
    fakeFetch({
      "GET /api/v1/calls/k-1/eligibility": {
        body: {
          eligible: false,
          reasons: [
            {
              code: "FREQUENCY_CAP",
              detail: "2 dials in the last 24 h (cap 2 in 24 h)",
              details: {
                maxAttempts: 2,
                periodHours: 24,
                countedAttempts: ["2026-12-02T08:00:00Z", "2026-12-02T09:30:00Z"],
              },
            },
            { code: "SUPPRESSED", detail: "on the global do-not-call list" },
          ],
          nextEligibleAt: "2026-12-03T08:00:00Z",
          timezone: "UTC",
          localTime: "2026-12-02T10:00+00:00",
        },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<WhyNotNow callId="k-1" zones="UTC" />);
    await user.click(screen.getByRole("button", { name: "Why not now?" }));
    const counted = await screen.findByRole("list", { name: "Attempts counted against the cap" });
    expect(within(counted).getAllByRole("listitem").map((li) => li.textContent)).toEqual([
      new Date("2026-12-02T08:00:00Z").toLocaleString(),
      new Date("2026-12-02T09:30:00Z").toLocaleString(),
    ]);
    const reasons = screen.getByRole("list", { name: "Reasons" });
    expect(reasons.textContent).toContain("Cap: at most 2 calls in 24 hours, across every campaign.");
    expect(reasons.textContent).toContain(
      `The oldest attempt counted leaves the period at ${new Date("2026-12-03T08:00:00Z").toLocaleString()}.`,
    );
    expect(reasons.textContent).toContain("(on a do-not-call list: ended as cancelled when reached, never dialled)");
  });

  it("writes caps as people read them", () => {
    expect(hoursText(1)).toBe("1 hour");
    expect(hoursText(24)).toBe("24 hours");
    expect(hoursText(36)).toBe("36 hours");
    expect(hoursText(168)).toBe("7 days");
    expect(capText({ maxAttempts: 1, periodHours: 744 })).toBe("at most 1 call in 31 days");
  });
});
