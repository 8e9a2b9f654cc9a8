// Helpers for component tests: a fake fetch answering by method and path.
import { vi } from "vitest";

export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Routes = Record<string, Reply | ((init: RequestInit | undefined) => Reply)>;

/** Replaces fetch; "POST /api/v1/campaigns" style keys, matched on the path without query. */
export function fakeFetch(routes: Routes) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://console.test");
    const method = init?.method ?? "GET";
    const body = typeof init?.body === "string" ? JSON.parse(init.body) : init?.body;
    calls.push({ method, path: url.pathname + url.search, body });
    const route = routes[`${method} ${url.pathname}`];
    const reply = typeof route === "function" ? route(init) : route;
    if (!reply) return new Response(JSON.stringify({ detail: "not found" }), { status: 404 });
    const status = reply.status ?? 200;
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status,
      headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json", ...reply.headers },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return calls;
}
