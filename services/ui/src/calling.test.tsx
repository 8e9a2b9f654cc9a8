// The console's calling-rules pieces: zones and local times, "why not now", inventory,
// forecast, and the schedule fields of the create form.
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { ForecastCard } from "./components/ForecastCard";
import { WhyNotNow } from "./components/WhyNotNow";
import { clockIn, localInputToRfc3339, localTimes, wallClock } from "./format";
import { campaignBody, DEFAULTS, seedDailyHours } from "./pages/campaignForm";
import { CampaignPage } from "./pages/CampaignPage";
import { CreateCampaign } from "./pages/CreateCampaign";
import { fakeFetch } from "./test-support";

// A page's first render can take over a second on a busy machine.
const SLOW = { timeout: 5000 };

// 15:07 UTC: 09:07 in Chicago, 08:07 in Denver, 16:07 in Paris (all on standard time).
const NOW = new Date("2026-12-02T15:07:30Z");

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
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
  businessHours: { timezoneMode: "RECIPIENT" },
  nextDialAt: "2026-12-02T15:07:00Z",
  startAt: "2026-12-02T14:00:00Z",
  autoStart: true,
  holidayCalendars: ["US", "US-CA"],
  metrics: {
    totalCalls: 3,
    pendingCalls: 3,
    inProgressCalls: 0,
    completedCalls: 0,
    failedCalls: 0,
    permanentlyFailedCalls: 0,
    totalRetries: 0,
  },
  createdAt: "2026-12-01T10:00:00Z",
  updatedAt: "2026-12-01T10:00:00Z",
};

function call(id: string, phoneNumber: string, timezone: string | string[] | null, timezoneSource: string) {
  return {
    id,
    campaignId: "c-1",
    phoneNumber,
    status: "PENDING",
    retryCount: 0,
    lastAttemptedAt: null,
    nextRetryAt: null,
    externalCallId: null,
    failureReason: null,
    callDurationSeconds: null,
    createdAt: "2026-12-01T10:00:00Z",
    updatedAt: "2026-12-01T10:00:00Z",
    attributes: null,
    timezone,
    timezoneSource,
    attempts: [],
  };
}

const INVENTORY = {
  dialableNow: 1,
  waiting: { OUTSIDE_CAMPAIGN_WINDOW: 2, UNKNOWN_TIMEZONE: 1 },
  final: { COMPLETED: 4 },
  nextOpeningAt: "2026-12-02T16:00:00Z",
};

function campaignRoutes(extra: Record<string, unknown> = {}) {
  return {
    "GET /api/v1/campaigns/c-1": { body: CAMPAIGN },
    "GET /api/v1/campaigns/c-1/stats": { body: {} },
    "GET /api/v1/campaigns/c-1/calls": {
      body: [
        call("k-1", "+13125550100", "America/Chicago", "area_code"),
        call("k-2", "+19705550100", ["America/Denver", "America/Chicago"], "area_code"),
        call("k-3", "+80012345678", null, "unknown"),
      ],
      headers: { "X-Total-Count": "3" },
    },
    "GET /api/v1/campaigns/c-1/inventory": { body: INVENTORY },
    ...extra,
  };
}

describe("local time", () => {
  it("is the wall clock in the zone, 24-hour", () => {
    expect(clockIn("America/Chicago", NOW)).toContain("09:07");
    expect(clockIn("Asia/Kathmandu", NOW)).toContain("20:52");
    expect(clockIn("Not/AZone", NOW)).toBeNull();
  });

  it("joins several zones, and says nothing for an unknown one", () => {
    const text = localTimes(["America/Denver", "America/Chicago"], NOW);
    expect(text).toMatch(/08:07.* \/ .*09:07/);
    expect(localTimes(null, NOW)).toBe("—");
  });

  it("reads the server's local time as its wall clock", () => {
    expect(wallClock("2026-12-02T21:07-06:00")).toBe("2026-12-02 21:07 (UTC-06:00)");
    expect(wallClock("2026-12-02T21:07:00Z")).toBe("2026-12-02 21:07 (UTC+00:00)");
    expect(wallClock("whatever")).toBe("whatever");
  });
});

// The browser's zone is Node's TZ here; each test that sets it gets it put back.
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("datetime-local to RFC 3339", () => {
  it("writes the browser's offset in force at that date", () => {
    vi.stubEnv("TZ", "America/New_York");
    expect(localInputToRfc3339("2026-07-01T09:00")).toBe("2026-07-01T09:00:00-04:00");
    expect(localInputToRfc3339("2026-12-24T14:30")).toBe("2026-12-24T14:30:00-05:00");
    vi.stubEnv("TZ", "Asia/Kathmandu");
    expect(localInputToRfc3339("2026-12-24T14:30")).toBe("2026-12-24T14:30:00+05:45");
  });

  it("names the same instant as the input", () => {
    const text = localInputToRfc3339("2026-03-08T12:15")!;
    expect(new Date(text).getTime()).toBe(new Date("2026-03-08T12:15").getTime());
    expect(localInputToRfc3339("soon")).toBeNull();
  });
});

describe("CampaignPage", () => {
  it("shows each call's zone and local time, several zones joined", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(NOW);
    fakeFetch(campaignRoutes());
    render(<CampaignPage id="c-1" />);
    const chicago = (await screen.findByRole("button", { name: "+13125550100" }, SLOW)).closest("tr")!;
    expect(within(chicago).getByText("America/Chicago")).toBeTruthy();
    expect(within(chicago).getByText(/09:07/)).toBeTruthy();
    const denver = screen.getByRole("button", { name: "+19705550100" }).closest("tr")!;
    expect(within(denver).getByText("America/Denver / America/Chicago")).toBeTruthy();
    expect(within(denver).getByText(/08:07.*\/.*09:07/)).toBeTruthy();
    const unknown = screen.getByRole("button", { name: "+80012345678" }).closest("tr")!;
    expect(within(unknown).getByText("unknown")).toBeTruthy();
  });

  it("shows the inventory, and nothing of a forecast the server does not have", async () => {
    const calls = fakeFetch(campaignRoutes());
    render(<CampaignPage id="c-1" />);
    expect((await screen.findByTestId("dialable-now", {}, SLOW)).textContent).toBe("1");
    const waiting = screen.getByRole("table", { name: "Waiting, by reason" });
    expect(within(waiting).getByText("OUTSIDE_CAMPAIGN_WINDOW").closest("tr")!.textContent).toContain("2");
    expect(within(waiting).getByText("UNKNOWN_TIMEZONE").closest("tr")!.textContent).toContain("1");
    const final = screen.getByRole("table", { name: "Final, by status" });
    expect(within(final).getByText("completed").closest("tr")!.textContent).toContain("4");
    expect(screen.getByText("each recipient's time")).toBeTruthy();
    expect(screen.getByText("Starts by itself at").nextSibling!.textContent).toBe(new Date(CAMPAIGN.startAt).toLocaleString());
    expect(screen.getByText("US, US-CA")).toBeTruthy();
    expect(screen.getByTestId("next-opening").textContent).toBe(new Date(INVENTORY.nextOpeningAt).toLocaleString());
    await waitFor(() => expect(calls.some((c) => c.path.endsWith("/forecast"))).toBe(true));
    expect(screen.queryByRole("heading", { name: "Forecast" })).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("opens a call with its zone, where it came from, and the why-not-now button", async () => {
    fakeFetch(campaignRoutes());
    render(<CampaignPage id="c-1" />);
    await userEvent.click(await screen.findByRole("button", { name: "+13125550100" }, SLOW));
    expect(screen.getByText("(from the area code)")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Why not now?" })).toBeTruthy();
  });
});

describe("WhyNotNow", () => {
  it("asks only when clicked, and shows each reason and the next time, local and the viewer's", async () => {
    const next = "2026-12-03T14:00:00Z"; // 08:00 in Chicago
    const calls = fakeFetch({
      "GET /api/v1/calls/k-1/eligibility": {
        body: {
          eligible: false,
          reasons: [
            { code: "OUTSIDE_POLICY_HOURS", detail: "21:07 in America/Chicago is after the policy's 21:00" },
            { code: "HOLIDAY", detail: "Christmas Day in US" },
          ],
          nextEligibleAt: next,
          timezone: "America/Chicago",
          localTime: "2026-12-02T21:07-06:00",
        },
      },
    });
    render(<WhyNotNow callId="k-1" zones="America/Chicago" />);
    expect(calls).toHaveLength(0);
    await userEvent.click(screen.getByRole("button", { name: "Why not now?" }));
    expect(await screen.findByText("Not dialled now")).toBeTruthy();
    const reasons = screen.getByRole("list", { name: "Reasons" });
    expect(within(reasons).getByText("OUTSIDE_POLICY_HOURS")).toBeTruthy();
    expect(within(reasons).getByText(/after the policy's 21:00/)).toBeTruthy();
    expect(within(reasons).getByText("HOLIDAY")).toBeTruthy();
    expect(screen.getByText(/Local time now: 2026-12-02 21:07 \(UTC-06:00\)/)).toBeTruthy();
    const nextLine = screen.getByText(/Next eligible:/).textContent!;
    expect(nextLine).toMatch(/08:00 in America\/Chicago/);
    expect(nextLine).toContain(`your time: ${new Date(next).toLocaleString()}`);
    expect(screen.getByRole("button", { name: "Check again" })).toBeTruthy();
  });

  it("says when the number is dialable now, and shows the server's refusal", async () => {
    fakeFetch({
      "GET /api/v1/calls/k-1/eligibility": {
        body: { eligible: true, reasons: [], nextEligibleAt: null, timezone: ["America/Denver", "America/Chicago"], localTime: ["2026-12-02T08:07-07:00", "2026-12-02T09:07-06:00"] },
      },
      "GET /api/v1/calls/k-2/eligibility": { status: 404, body: { detail: "no such call" } },
    });
    render(<WhyNotNow callId="k-1" />);
    await userEvent.click(screen.getByRole("button", { name: "Why not now?" }));
    expect(await screen.findByText("Dialable now")).toBeTruthy();
    expect(screen.getByText(/08:07 \(UTC-07:00\) \/ 2026-12-02 09:07/)).toBeTruthy();
    cleanup();
    render(<WhyNotNow callId="k-2" />);
    await userEvent.click(screen.getByRole("button", { name: "Why not now?" }));
    expect((await screen.findByRole("alert")).textContent).toBe("no such call");
  });
});

describe("ForecastCard", () => {
  it("shows the finish, the assumptions, the zones and the caveats", async () => {
    fakeFetch({
      "GET /api/v1/campaigns/c-1/forecast": {
        body: {
          expectedFinishAt: "2026-12-04T18:00:00Z",
          remainingNumbers: 1200,
          expectedAttempts: 1500,
          assumptions: {
            lines: 5,
            callsPerSecond: 2,
            meanAttemptSeconds: 42,
            meanAttemptSecondsSource: "observed",
            retryRate: 0.25,
            retryRateSource: "configured",
            attemptsObserved: 80,
          },
          zones: [
            { timezone: "America/Chicago", remainingNumbers: 700, nextOpeningAt: null, openHoursNext7Days: 45, expectedFinishAt: "2026-12-03T20:00:00Z" },
            { timezone: ["America/Denver", "America/Chicago"], remainingNumbers: 500 },
          ],
          caveats: ["Calls that wait for a free line are not predicted.", "Holidays after 7 days are not counted."],
        },
      },
    });
    render(<ForecastCard campaignId="c-1" pace={60_000} />);
    expect((await screen.findByTestId("forecast-finish")).textContent).toBe(new Date("2026-12-04T18:00:00Z").toLocaleString());
    const assumptions = screen.getByLabelText("Assumptions");
    expect(within(assumptions).getByText("42s")).toBeTruthy();
    expect(within(assumptions).getByText("(observed)")).toBeTruthy();
    expect(within(assumptions).getByText("25.0%")).toBeTruthy();
    const zones = screen.getByRole("table", { name: "By time zone" });
    expect(within(zones).getByText("America/Chicago").closest("tr")!.textContent).toContain("700");
    expect(within(zones).getByText("America/Denver / America/Chicago").closest("tr")!.textContent).toContain("500");
    expect(screen.getByText("Calls that wait for a free line are not predicted.")).toBeTruthy();
    expect(screen.getByText("Holidays after 7 days are not counted.")).toBeTruthy();
  });

  it("survives a forecast with most fields missing", async () => {
    fakeFetch({ "GET /api/v1/campaigns/c-1/forecast": { body: { zones: [{}], caveats: "not a list" } } });
    render(<ForecastCard campaignId="c-1" pace={60_000} />);
    expect((await screen.findByTestId("forecast-finish")).textContent).toBe("not predicted");
    expect(within(screen.getByRole("table", { name: "By time zone" })).getByText("unknown")).toBeTruthy();
    expect(screen.queryByText("Caveats")).toBeNull();
  });

  it("asks once and then shows nothing when the server has no forecast", async () => {
    const calls = fakeFetch({});
    const { container } = render(<ForecastCard campaignId="c-1" pace={10} />);
    await waitFor(() => expect(calls.length).toBe(1));
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls.length).toBe(1);
    expect(container.textContent).toBe("");
  });
});

describe("CreateCampaign's calling rules", () => {
  it("sends the zone mode, per-day hours, holidays, periods and schedule", () => {
    vi.stubEnv("TZ", "America/Chicago");
    const form = {
      ...DEFAULTS,
      name: "x",
      timezone: "America/Chicago",
      timezoneMode: "RECIPIENT" as const,
      defaultTimeZone: "America/New_York",
      perDay: true,
      holidayCalendars: "US, US-CA,",
      restrictedPeriods: [
        { name: " Christmas ", startDate: "2026-12-24", endDate: "2026-12-26" },
        { name: "", startDate: "", endDate: "" },
      ],
      startAt: "2026-12-07T08:30",
      endAt: "2026-12-20T18:00",
      autoStart: true,
    };
    form.dailyHours = {
      ...seedDailyHours({ ...DEFAULTS, allowedDays: ["MONDAY"] }),
      SATURDAY: [{ startTime: "10:00", endTime: "12:00" }, { startTime: "14:00", endTime: "16:00" }],
    };
    const body = campaignBody(form);
    expect(body.businessHours).toEqual({
      timezone: "America/Chicago",
      timezoneMode: "RECIPIENT",
      defaultTimeZone: "America/New_York",
      dailyHours: {
        MONDAY: [{ startTime: "09:00", endTime: "17:00" }],
        SATURDAY: [{ startTime: "10:00", endTime: "12:00" }, { startTime: "14:00", endTime: "16:00" }],
      },
    });
    expect(body).toMatchObject({
      holidayCalendars: ["US", "US-CA"],
      restrictedPeriods: [{ name: "Christmas", startDate: "2026-12-24", endDate: "2026-12-26" }],
      startAt: "2026-12-07T08:30:00-06:00",
      endAt: "2026-12-20T18:00:00-06:00",
      autoStart: true,
    });
    expect(body.restrictedPeriods).toHaveLength(1);
  });

  it("leaves out what was not set, and keeps the single window in CAMPAIGN mode", () => {
    const body = campaignBody({ ...DEFAULTS, name: "x", defaultTimeZone: "Europe/Paris" });
    expect(body.businessHours).toMatchObject({ timezoneMode: "CAMPAIGN", startTime: "09:00", endTime: "17:00" });
    expect(body.businessHours).not.toHaveProperty("defaultTimeZone");
    expect(body.businessHours).not.toHaveProperty("dailyHours");
    for (const key of ["holidayCalendars", "restrictedPeriods", "startAt", "endAt", "autoStart"]) {
      expect(body).not.toHaveProperty(key);
    }
  });

  // Typing into a dozen inputs takes a few seconds under jsdom.
  it("edits per-day windows and periods, and shows the API's errors beside them", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      "POST /api/v1/campaigns": {
        status: 422,
        body: {
          detail: "invalid fields",
          errors: [
            { field: "businessHours.dailyHours.SATURDAY[0]", message: "the window is empty: endTime equals startTime" },
            { field: "holidayCalendars[1]", message: "unknown holiday calendar" },
            { field: "restrictedPeriods[0]", message: "endDate is before startDate" },
            { field: "autoStart", message: "autoStart needs startAt" },
            { field: "somethingNew", message: "not expected" },
          ],
        },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<CreateCampaign />);
    await user.type(screen.getByLabelText("Name"), "Clinic");
    await user.selectOptions(screen.getByLabelText("Read the hours in"), "RECIPIENT");
    expect(screen.getByLabelText("Zone for numbers whose zone is unknown")).toBeTruthy();
    await user.click(screen.getByLabelText(/Different hours per day/));
    // Seeded from the single window on the chosen days.
    expect((screen.getByLabelText("Monday window 1 from") as HTMLInputElement).value).toBe("09:00");
    expect(screen.queryByLabelText("Saturday window 1 from")).toBeNull();
    await user.click(screen.getByRole("button", { name: "Add a Saturday window" }));
    await user.click(screen.getByRole("button", { name: "Remove Friday window 1" }));
    expect(screen.queryByLabelText("Friday window 1 from")).toBeNull();
    await user.type(screen.getByLabelText("Holiday calendars"), "US, XX");
    await user.click(screen.getByRole("button", { name: "Add a restricted period" }));
    await user.type(screen.getByLabelText("Period 1 name"), "Winter");
    await user.type(screen.getByLabelText("Period 1 first day"), "2026-12-26");
    await user.type(screen.getByLabelText("Period 1 last day"), "2026-12-24");
    await user.click(screen.getByLabelText("Start by itself at the start time"));
    await user.click(screen.getByRole("button", { name: /Create/ }));

    await screen.findByText("the window is empty: endTime equals startTime");
    expect(screen.getByLabelText("Saturday window 1 from").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("XX: unknown holiday calendar")).toBeTruthy();
    expect(screen.getByLabelText("Holiday calendars").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("endDate is before startDate")).toBeTruthy();
    expect(screen.getByLabelText("Period 1 last day").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("autoStart needs startAt")).toBeTruthy();
    expect(screen.getByText("somethingNew: not expected")).toBeTruthy();

    const sent = calls.find((c) => c.method === "POST")!.body as Record<string, any>;
    expect(sent.businessHours.timezoneMode).toBe("RECIPIENT");
    expect(Object.keys(sent.businessHours.dailyHours)).toEqual(["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "SATURDAY"]);
    expect(sent.businessHours).not.toHaveProperty("startTime");
    expect(sent.holidayCalendars).toEqual(["US", "XX"]);
    expect(sent.restrictedPeriods).toEqual([{ name: "Winter", startDate: "2026-12-26", endDate: "2026-12-24" }]);
    expect(sent.autoStart).toBe(true);
  });
});
