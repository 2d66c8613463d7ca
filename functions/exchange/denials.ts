/** The HTTP answer of each way an exchange can be refused. */
import type { ExchangeDenialCode } from "../../policies/codes.ts";
import type { DenialReason } from "../../policies/decide.ts";
import { GatewayError } from "../errors.ts";
import type { ProblemCode, UsualStatusOf } from "../problems.ts";

/**
 * Every reason the policy can give is a problem code of the table whose usual
 * status is a refusal's (403, 404, 451): a reason code without such an entry
 * fails to compile here.
 */
type Denial = {
  [C in ExchangeDenialCode]: C extends ProblemCode
    ? UsualStatusOf<C> extends 403 | 404 | 451
      ? C
      : never
    : never;
}[ExchangeDenialCode];

export function denialError(reasons: readonly [DenialReason, ...DenialReason[]]): GatewayError {
  const [first] = reasons;
  const code: Denial = first.code;
  return new GatewayError(code, first.message, {
    extensions: { reasons: reasons.map(({ code, message }) => ({ code, message })) },
  });
}

export const upstreamError = (detail: string) => new GatewayError("upstream_error", detail);
export const upstreamTimeout = (detail: string) => new GatewayError("upstream_timeout", detail);
export const uninspectable = (detail: string) => new GatewayError("uninspectable_content", detail);
export const meteringUnavailable = (cause?: unknown) =>
  new GatewayError("metering_unavailable", "the flow could not be metered; nothing was released", {
    cause,
    headers: { "Retry-After": "1" },
  });
export const quotaExceeded = (counter: string, retryAfter: number) =>
  new GatewayError(
    "quota_exceeded",
    `the agreement's ${counter} quota is used up until the next window`,
    { headers: { "Retry-After": String(retryAfter) } },
  );
