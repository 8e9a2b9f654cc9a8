import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";

import { ConfirmButton } from "./components/ConfirmButton";
import { DialsChart } from "./components/DialsChart";
import { ProgressBar } from "./components/ProgressBar";
import { progressOf } from "./format";
import { parseRoute } from "./router";

afterEach(cleanup);

describe("ProgressBar", () => {
  it("shows the share as text and to assistive technology", () => {
    render(<ProgressBar value={0.426} label="Progress" />);
    const bar = screen.getByRole("progressbar", { name: "Progress" });
    expect(bar.getAttribute("aria-valuenow")).toBe("43");
    expect(bar.textContent).toBe("43%");
  });

  it("never overflows", () => {
    render(<ProgressBar value={1.7} label="Over" />);
    expect(screen.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("100");
  });
});

describe("ConfirmButton", () => {
  it("acts only after the question is answered yes", async () => {
    const onConfirm = vi.fn();
    render(<ConfirmButton label="Cancel" question="Cancel for good?" onConfirm={onConfirm} />);
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(onConfirm).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "No" }));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    await userEvent.click(screen.getByRole("button", { name: "Yes, cancel" }));
    expect(onConfirm).toHaveBeenCalledOnce();
  });

  it("can be answered from the keyboard", async () => {
    const onConfirm = vi.fn();
    render(<ConfirmButton label="Cancel" question="Sure?" onConfirm={onConfirm} />);
    screen.getByRole("button", { name: "Cancel" }).focus();
    await userEvent.keyboard("{Enter}");
    // The confirming button takes the focus, so Enter again confirms.
    await userEvent.keyboard("{Enter}");
    expect(onConfirm).toHaveBeenCalledOnce();
  });
});

describe("DialsChart", () => {
  it("draws three bars a minute, scaled to the busiest", () => {
    const minutes = [
      { minute: "2026-11-29T10:00:00Z", dials: 10, completed: 5, failed: 2 },
      { minute: "2026-11-29T10:01:00Z", dials: 20, completed: 8, failed: 1 },
    ];
    const { container } = render(<DialsChart minutes={minutes} />);
    const bars = container.querySelectorAll("rect");
    expect(bars).toHaveLength(6);
    const heights = [...bars].map((b) => Number(b.getAttribute("height")));
    expect(Math.max(...heights)).toBe(180);
    expect(screen.getByText(/peak 20 a minute/)).toBeTruthy();
  });

  it("says when there is nothing yet", () => {
    render(<DialsChart minutes={[]} />);
    expect(screen.getByText("No dials yet.")).toBeTruthy();
  });
});

describe("routes and figures", () => {
  it("reads hash routes", () => {
    expect(parseRoute("#/campaigns/abc")).toEqual({ page: "campaign", id: "abc" });
    expect(parseRoute("#/campaigns/new")).toEqual({ page: "new" });
    expect(parseRoute("#/overview")).toEqual({ page: "overview" });
    expect(parseRoute("")).toEqual({ page: "campaigns" });
  });

  it("counts progress as numbers in a final state", () => {
    expect(progressOf({ totalCalls: 10, completedCalls: 6, permanentlyFailedCalls: 2 })).toBe(0.8);
    expect(progressOf({ totalCalls: 0, completedCalls: 0, permanentlyFailedCalls: 0 })).toBe(0);
  });
});
