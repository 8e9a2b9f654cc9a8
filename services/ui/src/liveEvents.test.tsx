import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { storeKey } from "./api";
import { SseParser, useLiveEvents } from "./liveEvents";

beforeEach(() => storeKey("test-key"));
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

describe("SseParser", () => {
  it("splits events at blank lines, across chunks, and skips comments", () => {
    const parser = new SseParser();
    expect(parser.push("retry: 2000\n\n: keep-alive\n\nid: e1\nevent: call.comp")).toEqual([]);
    expect(parser.push('leted\ndata: {"a":1}\n\nid: e2\r\ndata: x\r\n')).toEqual([
      { id: "e1", type: "call.completed", data: '{"a":1}' },
    ]);
    expect(parser.push("data: y\n\n")).toEqual([{ id: "e2", type: "message", data: "x\ny" }]);
  });
});

/** A text/event-stream answer whose events the test sends. */
function openStream() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({ start: (c) => (controller = c) });
  const encoder = new TextEncoder();
  return {
    response: new Response(body, { headers: { "Content-Type": "text/event-stream" } }),
    send: (id: string) => controller.enqueue(encoder.encode(`id: ${id}\nevent: call.completed\ndata: {}\n\n`)),
    close: () => controller.close(),
  };
}

function Probe() {
  const live = useLiveEvents("c-1", 10);
  return (
    <p>
      {live.connected ? "connected" : "down"} {live.version}
    </p>
  );
}

describe("useLiveEvents", () => {
  it("counts events, and reconnects after the last one it saw when the stream ends", async () => {
    const streams = [openStream(), openStream()];
    const asked: { url: string; headers: Record<string, string> }[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: string, init: RequestInit) => {
        asked.push({ url, headers: init.headers as Record<string, string> });
        return streams[asked.length - 1].response;
      }),
    );
    render(<Probe />);
    await screen.findByText("connected 1"); // on connecting: reload once
    streams[0].send("e1");
    streams[0].send("e2");
    await screen.findByText(/connected [2-3]$/);
    expect(asked[0].url).toBe("/api/v1/events?campaignId=c-1");
    expect(asked[0].headers.Authorization).toBe("Bearer test-key");
    expect(asked[0].headers["Last-Event-ID"]).toBeUndefined();
    streams[0].close();
    await screen.findByText(/^down/);
    await waitFor(() => expect(asked).toHaveLength(2), { timeout: 4000 });
    expect(asked[1].headers["Last-Event-ID"]).toBe("e2");
    await screen.findByText(/^connected/);
  });

  it("stays down, so that the page polls, when there is no stream", async () => {
    vi.stubGlobal("fetch", vi.fn(async () => new Response("{}", { status: 404 })));
    render(<Probe />);
    await waitFor(() => expect(fetch).toHaveBeenCalledTimes(1));
    expect(screen.getByText("down 0")).toBeTruthy();
  });
});
