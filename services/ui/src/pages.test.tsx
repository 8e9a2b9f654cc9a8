import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { CampaignList } from "./pages/CampaignList";
import { campaignBody, DEFAULTS } from "./pages/campaignForm";
import { CreateCampaign } from "./pages/CreateCampaign";
import { SignIn } from "./pages/SignIn";
import { fakeFetch } from "./test-support";

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const CAMPAIGN = {
  id: "c-1",
  name: "Reminders",
  description: null,
  status: "IN_PROGRESS",
  concurrencyLimit: 5,
  priority: 5,
  callsPerSecond: null,
  retryConfig: {},
  businessHours: {},
  metrics: {
    totalCalls: 10,
    pendingCalls: 4,
    inProgressCalls: 2,
    completedCalls: 3,
    failedCalls: 0,
    permanentlyFailedCalls: 1,
    totalRetries: 0,
  },
  createdAt: "2026-11-29T10:00:00Z",
  updatedAt: "2026-11-29T10:00:00Z",
};

describe("SignIn", () => {
  it("keeps a key the API accepts", async () => {
    const calls = fakeFetch({ "GET /api/v1/campaigns": { body: [] } });
    sessionStorage.clear();
    const onSignedIn = vi.fn();
    render(<SignIn onSignedIn={onSignedIn} />);
    await userEvent.type(screen.getByLabelText("API key"), "good-key");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(onSignedIn).toHaveBeenCalled());
    expect(sessionStorage.getItem("vcs.apiKey")).toBe("good-key");
    expect(calls[0].path).toBe("/api/v1/campaigns?size=1");
  });

  it("says so when the key is refused", async () => {
    fakeFetch({ "GET /api/v1/campaigns": { status: 401, body: { detail: "missing or wrong key" } } });
    sessionStorage.clear();
    render(<SignIn onSignedIn={vi.fn()} />);
    await userEvent.type(screen.getByLabelText("API key"), "bad");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect((await screen.findByRole("alert")).textContent).toBe("This key is not accepted.");
    expect(sessionStorage.getItem("vcs.apiKey")).toBeNull();
  });
});

describe("CampaignList", () => {
  it("shows each campaign's progress, lines, answer rate and calling hours", async () => {
    fakeFetch({
      "GET /api/v1/campaigns": { body: [CAMPAIGN] },
      "GET /api/v1/campaigns/c-1/stats": { body: { answerRate: 0.75, insideBusinessHours: false } },
    });
    render(<CampaignList />);
    const row = (await screen.findByRole("link", { name: "Reminders" })).closest("tr")!;
    await waitFor(() => expect(within(row).getByText("75%")).toBeTruthy());
    expect(within(row).getByText("2 / 5")).toBeTruthy();
    expect(within(row).getByText("outside")).toBeTruthy();
    expect(within(row).getByRole("progressbar").getAttribute("aria-valuenow")).toBe("40");
  });

  it("filters by status through the API", async () => {
    const calls = fakeFetch({ "GET /api/v1/campaigns": { body: [] } });
    render(<CampaignList />);
    await userEvent.selectOptions(screen.getByLabelText("Filter by status"), "PAUSED");
    await waitFor(() => expect(calls.some((c) => c.path.includes("status=PAUSED"))).toBe(true));
    expect(await screen.findByText("No campaigns with this status yet.")).toBeTruthy();
  });
});

describe("CreateCampaign", () => {
  it("shows the API's validation messages next to their fields", async () => {
    fakeFetch({
      "POST /api/v1/campaigns": {
        status: 422,
        body: {
          detail: "2 invalid fields",
          errors: [
            { field: "name", message: "String should have at least 1 character" },
            { field: "retryConfig.maxRetries", message: "Input should be less than or equal to 20" },
          ],
        },
      },
    });
    render(<CreateCampaign />);
    const retries = screen.getByLabelText("Retries after the first call");
    await userEvent.clear(retries);
    await userEvent.type(retries, "99");
    await userEvent.click(screen.getByRole("button", { name: /Create/ }));
    await screen.findByText("Input should be less than or equal to 20");
    expect(retries.getAttribute("aria-invalid")).toBe("true");
    const describedBy = retries.getAttribute("aria-describedby")!;
    expect(document.getElementById(describedBy)!.textContent).toBe(
      "Input should be less than or equal to 20",
    );
    expect(screen.getByLabelText("Name").getAttribute("aria-invalid")).toBe("true");
  });

  it("creates, imports the pasted numbers and previews the counts before starting", async () => {
    const calls = fakeFetch({
      "POST /api/v1/campaigns": { status: 201, body: { ...CAMPAIGN, status: "PENDING" } },
      "POST /api/v1/campaigns/c-1/import/batch": {
        body: {
          totalReceived: 4,
          totalImported: 2,
          duplicatesSkipped: 1,
          invalidSkipped: 1,
          status: "PARTIALLY_IMPORTED",
          invalidLines: [{ line: 4, value: "nope", reason: "not a phone number" }],
          invalidLinesTruncated: false,
        },
      },
    });
    render(<CreateCampaign />);
    await userEvent.type(screen.getByLabelText("Name"), "Reminders");
    await userEvent.type(screen.getByLabelText("Paste numbers"), "+14155550100{enter}+14155550101{enter}+14155550101{enter}nope");
    await userEvent.click(screen.getByRole("button", { name: /Create/ }));
    expect((await screen.findByTestId("accepted")).textContent).toBe("2");
    expect(screen.getByTestId("duplicates").textContent).toBe("1");
    expect(screen.getByTestId("invalid").textContent).toBe("1");
    expect(screen.getByText(/not a phone number/)).toBeTruthy();
    const batch = calls.find((c) => c.path.endsWith("/import/batch"))!;
    expect(batch.body).toEqual({
      phoneNumbers: ["+14155550100", "+14155550101", "+14155550101", "nope"],
    });
    expect(screen.getByRole("button", { name: "Start campaign" })).toBeTruthy();
  });

  it("sends every setting the API takes", () => {
    const body = campaignBody({ ...DEFAULTS, name: "x", timezone: "Europe/Paris", callsPerSecond: "2.5" });
    expect(body).toMatchObject({
      name: "x",
      concurrencyLimit: 10,
      priority: 5,
      callsPerSecond: 2.5,
      retryConfig: {
        maxRetries: 3,
        syncInitialBackoffMs: 1000,
        syncBackoffMultiplier: 2,
        callbackRetryDelayMs: 30000,
        callbackTimeoutMs: 120000,
      },
      businessHours: {
        startTime: "09:00",
        endTime: "17:00",
        timezone: "Europe/Paris",
        allowedDays: ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        crossesMidnight: false,
      },
    });
  });
});
