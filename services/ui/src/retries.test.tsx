// The console's retry pieces: per-outcome rules and jitter in the create form and on the
// campaign page, and who answered each attempt.
import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { AttemptList } from "./components/AttemptList";
import { RetryRulesCard } from "./components/RetryRulesCard";
import { answeredByText, durationMs } from "./format";
import { campaignBody, DEFAULTS, type Form, shownBesideAField } from "./pages/campaignForm";
import { CampaignPage } from "./pages/CampaignPage";
import { CreateCampaign } from "./pages/CreateCampaign";
import { fakeFetch } from "./test-support";
import type { Attempt, Call, RetryConfig } from "./types";

// A page's first render can take over a second on a busy machine.
const SLOW = { timeout: 5000 };

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const BLANK = { retry: "", maxRetries: "", delaySeconds: "", backoffMultiplier: "" } as const;

function withRules(patch: Partial<Form["outcomes"]>, extra: Partial<Form> = {}): Form {
  return { ...DEFAULTS, name: "x", outcomes: { ...DEFAULTS.outcomes, ...patch }, ...extra };
}

const RETRY_CONFIG: RetryConfig = {
  maxRetries: 3,
  syncInitialBackoffMs: 1000,
  syncBackoffMultiplier: 2,
  callbackRetryDelayMs: 30000,
  callbackTimeoutMs: 120000,
  jitterRatio: 0.1,
  outcomes: {
    BUSY: { delayMs: 60000, maxRetries: 5, retry: null, backoffMultiplier: null },
    NO_ANSWER: { delayMs: 3600000, backoffMultiplier: 2, maxRetries: 2 },
    NO_RESULT: { retry: false },
  },
};

describe("the create form's retry rules as the request body", () => {
  it("sends only the outcomes and fields filled in, the delay in milliseconds", () => {
    const body = campaignBody(
      withRules(
        {
          BUSY: { ...BLANK, maxRetries: "5", delaySeconds: "60" },
          NO_ANSWER: { ...BLANK, delaySeconds: "1.5", backoffMultiplier: "2" },
          REJECTED: { ...BLANK, retry: "yes", maxRetries: "0" },
          NO_RESULT: { ...BLANK, retry: "no" },
        },
        { jitterRatio: "0.1" },
      ),
    );
    const retryConfig = body.retryConfig as Record<string, unknown>;
    expect(retryConfig.outcomes).toEqual({
      BUSY: { maxRetries: 5, delayMs: 60000 },
      NO_ANSWER: { delayMs: 1500, backoffMultiplier: 2 },
      REJECTED: { retry: true, maxRetries: 0 },
      NO_RESULT: { retry: false },
    });
    expect(retryConfig.jitterRatio).toBe(0.1);
    // The general fields are still sent beside them.
    expect(retryConfig).toMatchObject({ maxRetries: 3, callbackRetryDelayMs: 30000 });
  });

  it("sends neither outcomes nor jitter when nothing is filled in", () => {
    const retryConfig = campaignBody({ ...DEFAULTS, name: "x" }).retryConfig as Record<string, unknown>;
    expect(retryConfig).not.toHaveProperty("outcomes");
    expect(retryConfig).not.toHaveProperty("jitterRatio");
    const blanks = campaignBody(withRules({ FAILED: { ...BLANK, maxRetries: "  " } }, { jitterRatio: " " }));
    expect(blanks.retryConfig).not.toHaveProperty("outcomes");
    expect(blanks.retryConfig).not.toHaveProperty("jitterRatio");
  });

  it("passes text that is not a number through, so the API names the field", () => {
    const body = campaignBody(withRules({ BUSY: { ...BLANK, delaySeconds: "soon" } }, { jitterRatio: "lots" }));
    expect(body.retryConfig).toMatchObject({ outcomes: { BUSY: { delayMs: "soon" } }, jitterRatio: "lots" });
  });

  it("shows the rules' errors beside their inputs, and lists what it has no input for", () => {
    for (const field of [
      "retryConfig.outcomes",
      "retryConfig.outcomes.BUSY",
      "retryConfig.outcomes.BUSY.delayMs",
      "retryConfig.outcomes.NO_RESULT.retry",
      "retryConfig.outcomes.REJECTED.maxRetries",
      "retryConfig.outcomes.FAILED.backoffMultiplier",
      "retryConfig.jitterRatio",
    ]) {
      expect(shownBesideAField(field), field).toBe(true);
    }
    expect(shownBesideAField("retryConfig.outcomes.MACHINE")).toBe(true);
    expect(shownBesideAField("retryConfig.outcomes.VOICEMAIL")).toBe(false);
    expect(shownBesideAField("retryConfig.outcomes.BUSY.delay")).toBe(false);
  });
});

describe("CreateCampaign's retries per outcome", () => {
  it("labels every input, sends what was typed and marks the API's errors", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      "POST /api/v1/campaigns": {
        status: 422,
        body: {
          detail: "invalid fields",
          errors: [
            { field: "retryConfig.outcomes.BUSY.delayMs", message: "Input should be less than or equal to 86400000" },
            { field: "retryConfig.outcomes.NO_ANSWER.backoffMultiplier", message: "Input should be greater than or equal to 1" },
            { field: "retryConfig.jitterRatio", message: "Input should be less than or equal to 1" },
          ],
        },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<CreateCampaign />);
    const group = screen.getByRole("group", { name: "Retries per outcome" });
    // Empty inputs show the general value they fall back to.
    expect(within(group).getByLabelText("Busy: max retries").getAttribute("placeholder")).toBe("3");
    expect(within(group).getByLabelText("Busy: delay in seconds").getAttribute("placeholder")).toBe("30");
    expect(within(group).getByRole("option", { name: "general (no)" })).toBeTruthy();

    await user.type(screen.getByLabelText("Name"), "Clinic");
    await user.type(within(group).getByLabelText("Busy: delay in seconds"), "100000");
    await user.type(within(group).getByLabelText("Busy: max retries"), "5");
    await user.type(within(group).getByLabelText("No answer: backoff multiplier"), "0.5");
    await user.selectOptions(within(group).getByLabelText("No result: retry"), "no");
    await user.selectOptions(within(group).getByLabelText("Rejected: retry"), "yes");
    await user.type(within(group).getByLabelText("Jitter ratio"), "1.5");
    await user.click(screen.getByRole("button", { name: /Create/ }));

    const delay = within(group).getByLabelText("Busy: delay in seconds");
    await screen.findByText("Input should be less than or equal to 86400000 (delayMs, in milliseconds)");
    expect(delay.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(delay.getAttribute("aria-describedby")!)!.textContent).toBe(
      "Input should be less than or equal to 86400000 (delayMs, in milliseconds)",
    );
    const multiplier = within(group).getByLabelText("No answer: backoff multiplier");
    expect(multiplier.getAttribute("aria-invalid")).toBe("true");
    expect(document.getElementById(multiplier.getAttribute("aria-describedby")!)!.textContent).toBe(
      "Input should be greater than or equal to 1",
    );
    expect(within(group).getByLabelText("Busy: max retries").getAttribute("aria-invalid")).toBe("false");
    expect(within(group).getByLabelText("Jitter ratio").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Input should be less than or equal to 1")).toBeTruthy();
    // Each is shown beside its input, none in the list at the top.
    expect(screen.queryByText(/^retryConfig\./)).toBeNull();

    const sent = calls.find((c) => c.method === "POST")!.body as Record<string, any>;
    expect(sent.retryConfig.outcomes).toEqual({
      BUSY: { maxRetries: 5, delayMs: 100000000 },
      NO_ANSWER: { backoffMultiplier: 0.5 },
      REJECTED: { retry: true },
      NO_RESULT: { retry: false },
    });
    expect(sent.retryConfig.jitterRatio).toBe(1.5);
  });
});

describe("RetryRulesCard", () => {
  const row = (name: string) => screen.getByRole("rowheader", { name: new RegExp(`^${name}`) }).closest("tr")!;
  const cells = (name: string) => [...row(name).querySelectorAll("td")].map((td) => td.textContent);

  it("shows what each outcome sets, 'general' for what falls back, and the jitter", () => {
    render(<RetryRulesCard retryConfig={RETRY_CONFIG} />);
    expect(screen.getByRole("table", { name: "Retries per outcome" })).toBeTruthy();
    expect(cells("Busy")).toEqual(["general (yes)", "5", "1m", "general (×1)"]);
    expect(cells("No answer")).toEqual(["general (yes)", "2", "1h", "×2"]);
    expect(cells("Failed")).toEqual(["general (yes)", "general (3)", "general (30s)", "general (×1)"]);
    expect(cells("Rejected")).toEqual(["general (no)", "general (3)", "general (30s)", "general (×1)"]);
    expect(cells("No result")).toEqual(["no", "general (3)", "general (30s)", "general (×1)"]);
    // What is set stands out from what falls back.
    expect(within(row("Busy")).getByText("5").tagName).toBe("STRONG");
    expect(screen.getByTestId("jitter").textContent).toBe("± 10% of each delay");
  });

  it("reads a campaign without rules or jitter (the seed's way, or an older server)", () => {
    render(<RetryRulesCard retryConfig={{ ...RETRY_CONFIG, outcomes: {}, jitterRatio: 0 }} />);
    expect(cells("Busy")).toEqual(["general (yes)", "general (3)", "general (30s)", "general (×1)"]);
    expect(screen.getByTestId("jitter").textContent).toBe("none");
    cleanup();
    render(<RetryRulesCard retryConfig={{}} />);
    expect(cells("Rejected")).toEqual(["general (no)", "general", "general", "general (×1)"]);
    expect(screen.getByTestId("jitter").textContent).toBe("none");
  });

  it("is on the campaign page", async () => {
    fakeFetch({
      "GET /api/v1/campaigns/c-1": {
        body: {
          id: "c-1",
          name: "Reminders",
          description: null,
          status: "PAUSED",
          concurrencyLimit: 5,
          priority: 5,
          callsPerSecond: null,
          retryConfig: RETRY_CONFIG,
          businessHours: {},
          metrics: { totalCalls: 0, pendingCalls: 0, inProgressCalls: 0, completedCalls: 0, failedCalls: 0, permanentlyFailedCalls: 0, totalRetries: 0 },
          createdAt: "2026-12-01T10:00:00Z",
          updatedAt: "2026-12-01T10:00:00Z",
        },
      },
      "GET /api/v1/campaigns/c-1/stats": { body: {} },
      "GET /api/v1/campaigns/c-1/calls": { body: [], headers: { "X-Total-Count": "0" } },
      "GET /api/v1/campaigns/c-1/inventory": { body: { dialableNow: 0, waiting: {}, final: {}, nextOpeningAt: null } },
    });
    render(<CampaignPage id="c-1" />);
    await screen.findByRole("table", { name: "Retries per outcome" }, SLOW);
    expect(cells("No result")[0]).toBe("no");
    expect(screen.getByTestId("jitter").textContent).toBe("± 10% of each delay");
  });
});

function attempt(attemptNumber: number, patch: Partial<Attempt> = {}): Attempt {
  return {
    attemptNumber,
    startedAt: "2026-12-02T15:00:00Z",
    endedAt: "2026-12-02T15:00:30Z",
    externalCallId: null,
    providerStatus: "completed",
    outcome: "COMPLETED",
    reason: null,
    durationSeconds: 30,
    ...patch,
  };
}

function callWith(attempts: Attempt[]): Call {
  return {
    id: "k-1",
    campaignId: "c-1",
    phoneNumber: "+13125550100",
    status: "COMPLETED",
    retryCount: attempts.length - 1,
    lastAttemptedAt: null,
    nextRetryAt: null,
    externalCallId: null,
    failureReason: null,
    callDurationSeconds: 30,
    createdAt: "2026-12-02T15:00:00Z",
    updatedAt: "2026-12-02T15:00:00Z",
    attempts,
  };
}

describe("AttemptList", () => {
  it("shows who answered each attempt when the carrier said", () => {
    render(
      <AttemptList
        call={callWith([
          attempt(1, { answeredBy: "machine_end_beep" }),
          attempt(2, { answeredBy: "human" }),
          attempt(3, { answeredBy: null, outcome: "NO_ANSWER" }),
          attempt(4),
        ])}
      />,
    );
    const items = screen.getAllByRole("listitem");
    expect(items[0].textContent).toContain("(answered by: machine, end beep)");
    expect(items[1].textContent).toContain("(answered by: human)");
    expect(items[2].textContent).not.toContain("answered by");
    expect(items[3].textContent).not.toContain("answered by");
  });
});

describe("retry figures", () => {
  it("writes delays as people read them", () => {
    expect(durationMs(750)).toBe("750 ms");
    expect(durationMs(1500)).toBe("1.5s");
    expect(durationMs(30000)).toBe("30s");
    expect(durationMs(90000)).toBe("1m 30s");
    expect(durationMs(3600000)).toBe("1h");
    expect(durationMs(86_400_000)).toBe("24h");
    expect(durationMs(7_500_000)).toBe("2h 5m");
    expect(durationMs(null)).toBe("—");
  });

  it("reads the carrier's answering detection", () => {
    expect(answeredByText("human")).toBe("human");
    expect(answeredByText("machine_start")).toBe("machine, start");
    expect(answeredByText("FAX")).toBe("fax");
  });
});
