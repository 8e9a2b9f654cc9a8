// The API as the console uses it: the key from the browser session, problem+json errors.

export interface FieldError {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly fieldErrors: FieldError[] = [],
  ) {
    super(detail);
  }

  /** The message for a field path (`retryConfig.maxRetries`), if the API named it. */
  forField(path: string): string | undefined {
    return this.fieldErrors.find((e) => e.field === path)?.message;
  }

  /** The errors at a path and beneath it (`restrictedPeriods[0].name` is under `restrictedPeriods[0]`). */
  under(path: string): FieldError[] {
    return this.fieldErrors.filter(
      (e) => e.field === path || e.field.startsWith(`${path}.`) || e.field.startsWith(`${path}[`),
    );
  }
}

const KEY_STORAGE = "vcs.apiKey";

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

export interface Answer<T> {
  body: T;
  headers: Headers;
}

export async function request<T>(
  method: string,
  path: string,
  options: { json?: unknown; form?: FormData; key?: string } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = {};
  const key = options.key ?? storedKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.form) {
    body = options.form;
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, "The service cannot be reached.");
  }
  const text = await response.text();
  const parsed: unknown = text ? safeJson(text) : null;
  if (!response.ok) {
    const problem = (parsed ?? {}) as { detail?: string; errors?: FieldError[] };
    throw new ApiError(
      response.status,
      problem.detail ?? `${response.status} ${response.statusText}`,
      problem.errors ?? [],
    );
  }
  return { body: parsed as T, headers: response.headers };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function get<T>(path: string): Promise<T> {
  return (await request<T>("GET", path)).body;
}

export async function post<T>(path: string, json?: unknown): Promise<T> {
  return (await request<T>("POST", path, { json })).body;
}

export async function patch<T>(path: string, json: unknown): Promise<T> {
  return (await request<T>("PATCH", path, { json })).body;
}

/** A DELETE: the API answers 204 with no body. */
export async function del(path: string): Promise<void> {
  await request<null>("DELETE", path);
}

/** A download that needs the key: fetched, then saved through a temporary link. */
export async function download(path: string, filename: string): Promise<void> {
  const key = storedKey();
  const response = await fetch(path, { headers: key ? { Authorization: `Bearer ${key}` } : {} });
  if (!response.ok) throw new ApiError(response.status, `Export failed (${response.status})`);
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  URL.revokeObjectURL(url);
}
