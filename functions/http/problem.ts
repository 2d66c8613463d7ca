/**
 * RFC 9457 problem details: the one shape every non-OAuth error takes.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Reason phrases of the statuses the gateway answers (RFC 9110). */
export const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

export const PROBLEM_TYPE_BASE = "urn:dsg:problem:";

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly [extension: string]: unknown;
}

export function problemBody(
  status: number,
  code: string,
  detail: string,
  extensions: Readonly<Record<string, unknown>> = {},
): ProblemBody {
  return {
    ...extensions,
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: TITLES[status] ?? "Error",
    status,
    detail,
    code,
  };
}

export function problemResponse(
  status: number,
  code: string,
  detail: string,
  options: {
    headers?: Readonly<Record<string, string>>;
    extensions?: Readonly<Record<string, unknown>>;
  } = {},
): Response {
  return new Response(JSON.stringify(problemBody(status, code, detail, options.extensions)), {
    status,
    headers: { ...options.headers, "Content-Type": "application/problem+json" },
  });
}

export function errorToResponse(err: unknown, log: Logger): Response {
  if (err instanceof GatewayError) {
    // Logged under its own code, with the problem's code as a field: the
    // metric filters count leak_blocked and metering_unavailable from the
    // lines the exchange writes, once per event.
    if (err.status >= 500) {
      log.error("request_failed", {
        problem: err.code,
        status: err.status,
        message: err.message,
        cause: describeCause(err.cause),
      });
    }
    return problemResponse(err.status, err.code, err.message, {
      headers: err.headers,
      extensions: err.extensions,
    });
  }
  log.error("internal_error", {
    message: String((err as Error)?.message ?? err),
    stack: (err as Error)?.stack,
  });
  return problemResponse(
    500,
    "internal_error",
    "the gateway failed to answer; the failure was logged",
  );
}

const describeCause = (cause: unknown): string | undefined =>
  cause instanceof Error
    ? `${cause.name}: ${cause.message}`
    : cause === undefined
      ? undefined
      : String(cause);

export const onError =
  (log: Logger): ErrorHandler =>
  (err, c: Context) => {
    const res = errorToResponse(err, log.child({ requestId: c.get("requestId") }));
    const id = c.get("requestId");
    if (typeof id === "string") res.headers.set("X-Request-Id", id);
    return res;
  };

export const onNotFound: NotFoundHandler = (c) =>
  problemResponse(404, "not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
