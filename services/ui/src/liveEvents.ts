// The api's live event stream (GET /api/v1/events) for the pages: they reload when something
// happened instead of every two seconds, and poll as before while the stream is down.
// EventSource cannot send the API key header, so the stream is read with fetch.
import { useEffect, useState } from "react";

import { storedKey } from "./api";

export interface StreamEvent {
  id: string;
  type: string;
  data: string;
}

/** Splits a text/event-stream into events as chunks arrive (the rules EventSource follows). */
export class SseParser {
  private buffer = "";
  private fields: Record<string, string> = {};

  push(chunk: string): StreamEvent[] {
    this.buffer += chunk;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop() ?? "";
    const done: StreamEvent[] = [];
    for (const line of lines) {
      if (line === "") {
        if (this.fields.data !== undefined) {
          done.push({ id: this.fields.id ?? "", type: this.fields.event ?? "message", data: this.fields.data });
        }
        this.fields = {};
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        this.fields[name] = name === "data" && this.fields.data !== undefined ? `${this.fields.data}\n${value}` : value;
      }
    }
    return done;
  }
}

export interface LiveState {
  /** Whether the stream is open now. */
  connected: boolean;
  /** Goes up (at most every `settleMs`) when events came: a dependency that reloads a page. */
  version: number;
}

const FIRST_RETRY_MS = 2000;
const LONGEST_RETRY_MS = 30_000;

/** Follows the stream (of one campaign when `campaignId` is given) while the page is shown. */
export function useLiveEvents(campaignId?: string, settleMs = 500): LiveState {
  const [connected, setConnected] = useState(false);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    const stop = new AbortController();
    let settle: ReturnType<typeof setTimeout> | undefined;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let lastId = "";
    let delay = FIRST_RETRY_MS;

    const happened = () => {
      if (settle === undefined) {
        settle = setTimeout(() => {
          settle = undefined;
          setVersion((v) => v + 1);
        }, settleMs);
      }
    };

    const follow = async () => {
      const query = campaignId ? `?campaignId=${encodeURIComponent(campaignId)}` : "";
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      const key = storedKey();
      if (key) headers.Authorization = `Bearer ${key}`;
      if (lastId) headers["Last-Event-ID"] = lastId;
      try {
        const response = await fetch(`/api/v1/events${query}`, { headers, signal: stop.signal });
        const type = response.headers.get("Content-Type") ?? "";
        if (response.status === 410) lastId = ""; // too old to resume: follow from now on
        if (!response.ok || !type.startsWith("text/event-stream") || !response.body) throw new Error("no stream");
        setConnected(true);
        delay = FIRST_RETRY_MS;
        happened(); // whatever happened while it was down
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        const parser = new SseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          const events = parser.push(decoder.decode(value, { stream: true }));
          if (events.length) {
            lastId = events[events.length - 1].id || lastId;
            happened();
          }
        }
      } catch {
        // down, refused, or left: the page polls meanwhile
      }
      setConnected(false);
      if (!stop.signal.aborted) {
        retry = setTimeout(() => void follow(), delay);
        delay = Math.min(delay * 2, LONGEST_RETRY_MS);
      }
    };
    void follow();
    return () => {
      stop.abort();
      clearTimeout(settle);
      clearTimeout(retry);
    };
  }, [campaignId, settleMs]);

  return { connected, version };
}
