/**
 * Errors the SDK throws. A refusal by the gateway is a GatewayProblem with
 * the contract's `status` and stable `code` (RFC 9457 problem details, or an
 * RFC 6749 error from the token endpoint); callers switch on `code`.
 */

/** The gateway answered with an error (4xx or 5xx). */
export class GatewayProblem extends Error {
  override readonly name = "GatewayProblem";

  constructor(
    /** The HTTP status. */
    readonly status: number,
    /** The contract's code (`quota_exceeded`, `invalid_scope`, ...), or `unexpected_response`. */
    readonly code: string,
    /** The human-readable detail (may change; never switch on it). */
    readonly detail: string,
    readonly extras: {
      /** The problem's `title`. */
      readonly title?: string | undefined;
      /** The problem's `type` URI. */
      readonly type?: string | undefined;
      /** The gateway's `X-Request-Id` of the answer. */
      readonly requestId?: string | undefined;
      /** `Retry-After`, in milliseconds, when the gateway sent one. */
      readonly retryAfterMs?: number | undefined;
      /** The whole problem body (extensions such as `errors` or `violations` included). */
      readonly body?: Readonly<Record<string, unknown>> | undefined;
    } = {},
  ) {
    super(`${status} ${code}: ${detail}`);
  }

  get requestId(): string | undefined {
    return this.extras.requestId;
  }

  get retryAfterMs(): number | undefined {
    return this.extras.retryAfterMs;
  }

  /** Reads a problem (or OAuth error) answer; the response body is consumed. */
  static async from(res: Response): Promise<GatewayProblem> {
    const text = await res.text().catch(() => "");
    let body: Record<string, unknown> | undefined;
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
        body = parsed as Record<string, unknown>;
      }
    } catch {
      // not JSON: a proxy's page, say; described by status only
    }
    return GatewayProblem.fromBody(res.status, body, res.headers);
  }

  static fromBody(
    status: number,
    body: Readonly<Record<string, unknown>> | undefined,
    headers: Headers,
  ): GatewayProblem {
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    const code = str(body?.code) ?? str(body?.error) ?? "unexpected_response";
    const detail =
      str(body?.detail) ?? str(body?.error_description) ?? `the gateway answered ${status}`;
    return new GatewayProblem(status, code, detail, {
      title: str(body?.title),
      type: str(body?.type),
      requestId: headers.get("X-Request-Id") ?? undefined,
      retryAfterMs: retryAfterMs(headers.get("Retry-After")),
      body,
    });
  }
}

/** The gateway could not be reached (after the retries the call allows). */
export class GatewayUnreachable extends Error {
  override readonly name = "GatewayUnreachable";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** `Retry-After` as milliseconds: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
