/**
 * RFC 9457 problem details: the one shape every non-OAuth error takes. Codes,
 * statuses and titles come from the table in problems.ts.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type ProblemStatus, REASON_PHRASES } from "../problems.ts";

export const PROBLEM_TYPE_BASE = "urn:dsg:problem:";

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly [extension: string]: unknown;
}

/**
 * The body's `title` is the reason phrase of its status (what clients and the
 * ops CLI have always shown), not the code's own title in the table: every
 * code of one status shares it.
 */
export const problemTitle = (status: ProblemStatus): string => REASON_PHRASES[status];

export function problemBody(err: GatewayError): ProblemBody {
  return {
    ...err.extensions,
    type: `${PROBLEM_TYPE_BASE}${err.code}`,
    title: problemTitle(err.status),
    status: err.status,
    detail: err.message,
    code: err.code,
  };
}

export function problemResponse(err: GatewayError): Response {
  return new Response(JSON.stringify(problemBody(err)), {
    status: err.status,
    headers: {
      ...err.headers,
      "Content-Type": "application/problem+json",
      "X-Content-Type-Options": "nosniff",
    },
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
    return problemResponse(err);
  }
  log.error("internal_error", {
    message: String((err as Error)?.message ?? err),
    stack: (err as Error)?.stack,
  });
  return problemResponse(
    new GatewayError("internal_error", "the gateway failed to answer; the failure was logged"),
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
    const callerRequestId = c.get("callerRequestId");
    const res = errorToResponse(
      err,
      log.child({
        requestId: c.get("requestId"),
        ...(callerRequestId === undefined ? {} : { callerRequestId }),
      }),
    );
    const id = c.get("requestId");
    if (typeof id === "string") res.headers.set("X-Request-Id", id);
    return res;
  };

export const onNotFound: NotFoundHandler = (c) =>
  problemResponse(
    new GatewayError("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`),
  );
