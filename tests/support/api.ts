/** Calls to the local server's functions, the way clients make them. */
import assert from "node:assert/strict";

/** Options of one call. */
export interface CallOptions {
  token?: string;
  headers?: Record<string, string>;
}

/** A response with its JSON body read. */
export interface JsonResponse {
  status: number;
  headers: Headers;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** A client of one server's `/functions/v1/`. */
export function apiClient(baseUrl: string) {
  async function call(
    method: string,
    path: string,
    body: unknown,
    options: CallOptions,
  ): Promise<JsonResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    if (body !== undefined) headers["content-type"] ??= "application/json";
    const response = await fetch(`${baseUrl}/functions/v1/${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      body: text ? JSON.parse(text) : undefined,
    };
  }
  return {
    post: (path: string, body: unknown, options: CallOptions = {}) =>
      call("POST", path, body, options),
    get: (path: string, options: CallOptions = {}) => call("GET", path, undefined, options),
    delete: (path: string, options: CallOptions = {}) => call("DELETE", path, undefined, options),
  };
}

/** Asserts the contract's error shape with this status and code; returns the error. */
export function assertError(response: JsonResponse, status: number, code: string) {
  assert.equal(response.status, status, JSON.stringify(response.body));
  assert.equal(response.body?.error?.code, code, JSON.stringify(response.body));
  assert.equal(typeof response.body.error.message, "string");
  assert.equal(response.body.error.requestId, response.headers.get("x-request-id"));
  return response.body.error;
}
