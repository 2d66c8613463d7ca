/** The HTTP answer of each way an exchange can be refused. */
import type { ExchangeDenialCode } from "../../policies/codes.ts";
import type { DenialReason } from "../../policies/decide.ts";
import { GatewayError } from "../errors.ts";

const STATUS: Readonly<Record<ExchangeDenialCode, number>> = {
  scope_missing: 403,
  agreement_not_found: 404,
  not_party: 403,
  partner_revoked: 403,
  partner_suspended: 403,
  agreement_inactive: 403,
  agreement_not_yet_valid: 403,
  agreement_expired: 403,
  action_not_permitted: 403,
  purpose_not_permitted: 403,
  jurisdiction_blocked: 451,
};

export function denialError(reasons: readonly [DenialReason, ...DenialReason[]]): GatewayError {
  const [first] = reasons;
  return new GatewayError(STATUS[first.code], first.code, first.message, {
    extensions: { reasons: reasons.map(({ code, message }) => ({ code, message })) },
  });
}

export const upstreamError = (detail: string) => new GatewayError(502, "upstream_error", detail);
export const upstreamTimeout = (detail: string) =>
  new GatewayError(504, "upstream_timeout", detail);
export const uninspectable = (detail: string) =>
  new GatewayError(502, "uninspectable_content", detail);
export const meteringUnavailable = (cause?: unknown) =>
  new GatewayError(
    503,
    "metering_unavailable",
    "the flow could not be metered; nothing was released",
    {
      cause,
      headers: { "Retry-After": "1" },
    },
  );
export const quotaExceeded = (counter: string, retryAfter: number) =>
  new GatewayError(
    429,
    "quota_exceeded",
    `the agreement's ${counter} quota is used up until the next window`,
    {
      headers: { "Retry-After": String(retryAfter) },
    },
  );
