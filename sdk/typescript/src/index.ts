// The hookflow API client: openapi-fetch over the types openapi-typescript generates from
// api/openapi.yaml (src/schema.ts), so every path, parameter and body is checked by the
// compiler, with answers other than a 2xx thrown as HookflowError.

import createFetchClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, operations, paths } from "./schema.js";

export type { components, operations, paths } from "./schema.js";
export { verifyWebhook, WebhookVerificationError, DEFAULT_TOLERANCE_SECONDS } from "./verify.js";
export type { VerifyOptions, WebhookHeaders } from "./verify.js";

/** The document's schemas by name: `Schemas["Subscription"]`, `Schemas["Delivery"]` … */
export type Schemas = components["schemas"];

/** The API's error codes, for machines. */
export type ErrorCode = Schemas["Error"]["error"]["code"];

/** A client of the API: `client.GET("/v1/deliveries/{id}", …)`, `client.POST("/v1/events", …)`. */
export type HookflowClient = Client<paths>;

export interface ClientOptions {
  /** Where hookflow listens, such as `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** An account's API key (`hfk_…`), or the admin key for the account operations. */
  apiKey: string;
  /** A fetch of your own (tests, proxies); the global one by default. */
  fetch?: (request: Request) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

/**
 * An answer of the API other than a 2xx. `code` is the API's code for machines (empty when
 * the answer was not the API's error body, such as a proxy's page), `message` its text for
 * people, which names the field of an `invalid` error.
 */
export class HookflowError extends Error {
  readonly status: number;
  readonly code: ErrorCode | "";
  /** Seconds the API asked to wait before trying again (`rate_limited`, `unavailable`). */
  readonly retryAfter: number | undefined;

  constructor(status: number, code: ErrorCode | "", message: string, retryAfter?: number) {
    super(message);
    this.name = "HookflowError";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** True when err is a HookflowError, with the code if one is given. */
export function isHookflowError(err: unknown, code?: ErrorCode): err is HookflowError {
  return err instanceof HookflowError && (code === undefined || err.code === code);
}

// Every request goes through this middleware, so each operation, including those the
// document gains later, fails the same way.
const throwOnError: Middleware = {
  async onResponse({ response }) {
    if (response.ok) {
      return undefined;
    }
    const raw = await response.text();
    const retryAfterHeader = response.headers.get("Retry-After");
    const retryAfter = retryAfterHeader !== null && /^[0-9]+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : undefined;
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = undefined;
    }
    const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
    if (error && typeof error.code === "string" && error.code !== "") {
      throw new HookflowError(response.status, error.code as ErrorCode, String(error.message ?? ""), retryAfter);
    }
    const text = raw.trim().slice(0, 200) || response.statusText || `HTTP ${response.status}`;
    throw new HookflowError(response.status, "", text, retryAfter);
  },
};

/** Returns a client of the API at baseUrl that authenticates with apiKey. */
export function createClient(options: ClientOptions): HookflowClient {
  let url: URL;
  try {
    url = new URL(options.baseUrl);
  } catch {
    throw new TypeError(`hookflow: the API URL ${JSON.stringify(options.baseUrl)} is not an absolute URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(`hookflow: the API URL ${JSON.stringify(options.baseUrl)} is not an http or https URL`);
  }
  if (!options.apiKey) {
    throw new TypeError("hookflow: no API key");
  }
  const client = createFetchClient<paths>({
    baseUrl: options.baseUrl,
    headers: { ...options.headers, Authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(throwOnError);
  return client;
}

/**
 * The body of a call's answer: `const sub = await ok(client.GET("/v1/subscriptions/{id}", …))`.
 * An answer other than a 2xx has already thrown a HookflowError; an answer without a body
 * (204) gives undefined.
 */
export async function ok<T>(call: Promise<{ data?: T; response: Response }>): Promise<T> {
  const { data } = await call;
  return data as T;
}

/** A page of a `{data, next_cursor}` listing. */
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}

/**
 * Iterates over every item of a `{data, next_cursor}` listing, fetching each page as the
 * loop reaches it: `fetchPage(undefined)` is the first page, then `fetchPage(next_cursor)`
 * until a page has none.
 */
export async function* paginate<T>(fetchPage: (cursor: string | undefined) => Promise<Page<T>>): AsyncGenerator<T, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchPage(cursor);
    yield* page.data;
    if (!page.next_cursor) {
      return;
    }
    cursor = page.next_cursor;
  }
}

/** The filters of the deliveries listing. */
export type DeliveryFilter = Omit<NonNullable<operations["listDeliveries"]["parameters"]["query"]>, "cursor">;

/** Iterates over every delivery the filter matches, newest first, page by page. */
export function deliveries(client: HookflowClient, filter: DeliveryFilter = {}): AsyncGenerator<Schemas["Delivery"], void, undefined> {
  return paginate((cursor) => ok(client.GET("/v1/deliveries", { params: { query: { ...filter, cursor } } })));
}
