/**
 * The request kernel every function is built from: request id, one JSON log line per
 * request, CORS, method dispatch, and the single place where thrown errors become the
 * contract's error responses.
 */
import type { Clock } from "./clock.ts";
import { corsHeaders, type CorsOptions, preflightResponse } from "./cors.ts";
import { errorResponse, HttpError, notFound } from "./errors.ts";
import { createLogger, describeError, type LogFields, type Logger, type LogSink } from "./log.ts";
import { mapDatabaseError } from "./pg_errors.ts";
import { currentErrorReporter } from "./sentry.ts";

/** What every operation receives besides the request. */
export interface RequestContext {
  requestId: string;
  /** The function's name, as in `/functions/v1/<name>`. */
  functionName: string;
  /** Logger bound to the function and request id. */
  log: Logger;
  /** Adds fields (such as `userId`) to the request's log line. */
  annotate(fields: LogFields): void;
}

/** An operation, or a wrapper around one. */
export type Handler = (request: Request, context: RequestContext) => Promise<Response>;

/** HTTP methods the contract uses. */
export type Method = "GET" | "POST" | "DELETE";

/**
 * What every function's handler takes besides its own collaborators; each handler's options
 * extend it (`interface EndSessionOptions extends HandlerOptions`).
 */
export interface HandlerOptions {
  /** Origins whose browsers may call the function. */
  cors: CorsOptions;
  /** The source of `now`; tests pass a fixed one. */
  clock: Clock;
  /** Where log lines go. @default {stdout} */
  logSink?: LogSink;
}

/** Options of {@linkcode createFunction}. */
export interface FunctionOptions extends Pick<HandlerOptions, "cors" | "logSink"> {
  /** The function's name, as in `/functions/v1/<name>`. */
  name: string;
  /** Called with every unexpected error. @default {the isolate's Sentry reporter, if any} */
  reportError?: (error: unknown, context: RequestContext) => void;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** The caller's request id when it is well-formed, otherwise a new one. */
export function requestIdOf(request: Request): string {
  const given = request.headers.get("x-request-id");
  return given && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

/** Whether `pathname` addresses the function itself (not a sub-path). */
function isOwnPath(pathname: string, name: string): boolean {
  const path = pathname.replace(/^\/functions\/v1/, "").replace(/\/+$/, "");
  return path === `/${name}`;
}

/** A JSON response. */
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return Response.json(body, { status, headers });
}

/** Turns anything thrown into an {@linkcode HttpError}; unknown errors become a generic 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  return mapDatabaseError(error) ??
    new HttpError(500, "internal_error", "Something went wrong on our side.", { cause: error });
}

/**
 * Builds a function's `fetch` from its routes. Every response carries `x-request-id` and the
 * CORS headers of an allowed origin; every request writes one log line.
 */
export function createFunction(
  options: FunctionOptions,
  routes: Partial<Record<Method, Handler>>,
): (request: Request) => Promise<Response> {
  const baseLog = createLogger({ function: options.name }, options.logSink);
  const methods = Object.keys(routes) as Method[];

  return async function handle(request: Request): Promise<Response> {
    const started = performance.now();
    const requestId = requestIdOf(request);
    const path = new URL(request.url).pathname;
    const fields: LogFields = {};
    const log = baseLog.with({ requestId });
    const context: RequestContext = {
      requestId,
      functionName: options.name,
      log,
      annotate: (extra) => Object.assign(fields, extra),
    };
    let response: Response;
    let failure: HttpError | undefined;
    try {
      const route = routes[request.method as Method];
      if (!isOwnPath(path, options.name)) {
        throw notFound(`There is no function at ${path}.`);
      } else if (request.method === "OPTIONS") {
        response = preflightResponse(request, methods, options.cors);
      } else if (!route) {
        throw new HttpError(
          405,
          "method_not_allowed",
          `${options.name} does not accept ${request.method}; use ${methods.join(" or ")}.`,
          { headers: { allow: [...methods, "OPTIONS"].join(", ") } },
        );
      } else {
        response = await route(request, context);
      }
    } catch (error) {
      failure = toHttpError(error);
      if (failure.status >= 500) {
        log.error("request failed", { code: failure.code, ...describeError(error) });
        if (failure.status === 500) {
          (options.reportError ?? currentErrorReporter())?.(error, context);
        }
      }
      response = errorResponse(failure, requestId);
    }
    response = withHeaders(response, request, requestId, options.cors);
    log.info("request", {
      method: request.method,
      path,
      status: response.status,
      durationMs: Math.round((performance.now() - started) * 10) / 10,
      ...(failure ? { code: failure.code } : {}),
      ...fields,
    });
    return response;
  };
}

function withHeaders(
  response: Response,
  request: Request,
  requestId: string,
  cors: CorsOptions,
): Response {
  const extra = corsHeaders(request.headers.get("origin"), cors);
  extra.set("x-request-id", requestId);
  try {
    // In place: re-wrapping would turn a ready body into a stream on every response.
    for (const [name, value] of extra) response.headers.set(name, value);
    return response;
  } catch {
    // Immutable headers (a response from fetch): copy them.
    const headers = new Headers(response.headers);
    for (const [name, value] of extra) headers.set(name, value);
    return new Response(response.body, { status: response.status, headers });
  }
}
