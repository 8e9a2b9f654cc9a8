// The console's answering-machine pieces: the create form's fieldset and its request body,
// the campaign page's setting (shown and changed), the Machine retry row, and who answered.
import { cleanup, render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { AnsweringMachineCard } from "./components/AnsweringMachineCard";
import { RetryRulesCard } from "./components/RetryRulesCard";
import { campaignBody, DEFAULTS, shownBesideAField } from "./pages/campaignForm";
import { CampaignPage } from "./pages/CampaignPage";
import { CreateCampaign } from "./pages/CreateCampaign";
import { fakeFetch } from "./test-support";
import type { Campaign, RetryConfig } from "./types";

const SLOW = { timeout: 5000 };

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const RETRY_CONFIG: RetryConfig = {
  maxRetries: 3,
  syncInitialBackoffMs: 1000,
  syncBackoffMultiplier: 2,
  callbackRetryDelayMs: 30000,
  callbackTimeoutMs: 120000,
  outcomes: { MACHINE: { maxRetries: 1, delayMs: 3600000 } },
};

function campaign(patch: Partial<Campaign> = {}): Campaign {
  return {
    id: "c-1",
    name: "Reminders",
    description: null,
    status: "PAUSED",
    concurrencyLimit: 5,
    priority: 5,
    callsPerSecond: null,
    retryConfig: RETRY_CONFIG,
    businessHours: {} as Campaign["businessHours"],
    metrics: {
      totalCalls: 1,
      pendingCalls: 0,
      inProgressCalls: 0,
      completedCalls: 0,
      failedCalls: 0,
      permanentlyFailedCalls: 1,
      totalRetries: 1,
    } as Campaign["metrics"],
    createdAt: "2026-12-01T10:00:00Z",
    updatedAt: "2026-12-01T10:00:00Z",
    answeringMachine: { detect: true, onMachine: "HANG_UP" },
    ...patch,
  };
}

describe("the create form's answering machines as the request body", () => {
  it("sends nothing at the defaults, as a request from before the setting", () => {
    expect(campaignBody({ ...DEFAULTS, name: "x" })).not.toHaveProperty("answeringMachine");
  });

  it("sends detection and what a machine's answer does", () => {
    const body = campaignBody({ ...DEFAULTS, name: "x", machineDetect: true, onMachine: "RETRY" });
    expect(body.answeringMachine).toEqual({ detect: true, onMachine: "RETRY" });
  });

  it("shows the setting's and the Machine rule's errors beside their inputs", () => {
    for (const field of [
      "answeringMachine",
      "answeringMachine.detect",
      "answeringMachine.onMachine",
      "retryConfig.outcomes.MACHINE",
      "retryConfig.outcomes.MACHINE.delayMs",
    ]) {
      expect(shownBesideAField(field), field).toBe(true);
    }
    expect(shownBesideAField("answeringMachine.beep")).toBe(false);
  });
});

describe("CreateCampaign's answering machines", () => {
  it("sends what was chosen, with a Machine retry rule, and marks the API's error", { timeout: 30_000 }, async () => {
    const calls = fakeFetch({
      "POST /api/v1/campaigns": {
        status: 422,
        body: {
          detail: "invalid fields",
          errors: [{ field: "answeringMachine.onMachine", message: "Input should be 'COMPLETE', 'RETRY' or 'HANG_UP'" }],
        },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<CreateCampaign />);
    const group = screen.getByRole("group", { name: "Answering machines" });
    await user.type(screen.getByLabelText("Name"), "Clinic");
    await user.click(within(group).getByLabelText("Detect answering machines"));
    await user.selectOptions(within(group).getByLabelText("When a machine answers"), "RETRY");
    const rules = screen.getByRole("group", { name: "Retries per outcome" });
    await user.type(within(rules).getByLabelText("Machine: max retries"), "1");
    await user.type(within(rules).getByLabelText("Machine: delay in seconds"), "3600");
    await user.click(screen.getByRole("button", { name: /Create/ }));

    await screen.findByText("Input should be 'COMPLETE', 'RETRY' or 'HANG_UP'");
    expect(within(group).getByLabelText("When a machine answers").getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByText(/^answeringMachine\./)).toBeNull();
    const sent = calls.find((c) => c.method === "POST")!.body as Record<string, any>;
    expect(sent.answeringMachine).toEqual({ detect: true, onMachine: "RETRY" });
    expect(sent.retryConfig.outcomes).toEqual({ MACHINE: { maxRetries: 1, delayMs: 3600000 } });
  });
});

describe("AnsweringMachineCard", () => {
  it("says what the campaign does, and that an older server's campaign detects nothing", () => {
    render(<AnsweringMachineCard campaign={campaign()} onSaved={() => undefined} />);
    expect(screen.getByTestId("answering-machine").textContent).toBe(
      "Detected; when a machine answers: hang up at once; the call fails with MACHINE, never retried.",
    );
    cleanup();
    render(<AnsweringMachineCard campaign={campaign({ answeringMachine: undefined })} onSaved={() => undefined} />);
    expect(screen.getByTestId("answering-machine").textContent).toMatch(/^Not detected/);
  });

  it("changes the setting with a PATCH and reads the campaign again", async () => {
    const calls = fakeFetch({ "PATCH /api/v1/campaigns/c-1": { body: campaign() } });
    const saved = vi.fn();
    const user = userEvent.setup({ delay: null });
    render(<AnsweringMachineCard campaign={campaign()} onSaved={saved} />);
    await user.click(screen.getByRole("button", { name: "Change" }));
    const form = screen.getByRole("form", { name: "Answering machines" });
    await user.selectOptions(within(form).getByLabelText("When a machine answers"), "COMPLETE");
    await user.click(within(form).getByRole("button", { name: "Save" }));
    await vi.waitFor(() => expect(saved).toHaveBeenCalled());
    expect(calls).toEqual([
      { method: "PATCH", path: "/api/v1/campaigns/c-1", body: { answeringMachine: { detect: true, onMachine: "COMPLETE" } } },
    ]);
  });

  it("keeps the form open with the API's message when the change is refused", async () => {
    fakeFetch({
      "PATCH /api/v1/campaigns/c-1": {
        status: 409,
        body: { detail: "the campaign is COMPLETED; a finished campaign cannot change" },
      },
    });
    const user = userEvent.setup({ delay: null });
    render(<AnsweringMachineCard campaign={campaign()} onSaved={() => undefined} />);
    await user.click(screen.getByRole("button", { name: "Change" }));
    await user.click(screen.getByRole("button", { name: "Save" }));
    expect((await screen.findByRole("alert")).textContent).toBe(
      "the campaign is COMPLETED; a finished campaign cannot change",
    );
    expect(screen.getByRole("form", { name: "Answering machines" })).toBeTruthy();
  });

  it("offers no change once the campaign has ended", () => {
    render(<AnsweringMachineCard campaign={campaign({ status: "COMPLETED" })} onSaved={() => undefined} />);
    expect(screen.queryByRole("button", { name: "Change" })).toBeNull();
  });
});

describe("the Machine retry row and who answered", () => {
  it("shows the Machine rule on the campaign's retries", () => {
    render(<RetryRulesCard retryConfig={RETRY_CONFIG} />);
    const row = screen.getByRole("rowheader", { name: /^Machine/ }).closest("tr")!;
    expect([...row.querySelectorAll("td")].map((td) => td.textContent)).toEqual([
      "general (yes)",
      "1",
      "1h",
      "general (×1)",
    ]);
  });

  it("shows who answered each call in the campaign's list", async () => {
    fakeFetch({
      "GET /api/v1/campaigns/c-1": { body: campaign() },
      "GET /api/v1/campaigns/c-1/stats": { body: {} },
      "GET /api/v1/campaigns/c-1/calls": {
        body: [
          {
            id: "k-1",
            campaignId: "c-1",
            phoneNumber: "+13125550100",
            status: "PERMANENTLY_FAILED",
            retryCount: 0,
            lastAttemptedAt: null,
            nextRetryAt: null,
            externalCallId: null,
            failureReason: "MACHINE",
            callDurationSeconds: 2,
            answeredBy: "machine",
            createdAt: "2026-12-02T15:00:00Z",
            updatedAt: "2026-12-02T15:00:00Z",
            attempts: [],
          },
        ],
        headers: { "X-Total-Count": "1" },
      },
      "GET /api/v1/campaigns/c-1/inventory": { body: { dialableNow: 0, waiting: {}, final: {}, nextOpeningAt: null } },
    });
    render(<CampaignPage id="c-1" />);
    const number = await screen.findByRole("button", { name: "+13125550100" }, SLOW);
    const row = number.closest("tr")!;
    expect(within(row).getByText("machine").getAttribute("data-label")).toBe("Answered by");
    expect(screen.getByTestId("answering-machine").textContent).toMatch(/^Detected/);
  });
});
