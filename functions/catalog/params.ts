/** What the self-service routes read from a request besides their bodies. */
import type { Context } from "hono";
import { ID_PATTERN } from "../../policies/model.ts";
import type { RequestStep } from "../../policies/offers.ts";
import { InvalidRequestError } from "../errors.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith, readJsonWith, readOptionalJson } from "../http/validate.ts";
import { OptionalReasonBody, ReasonBody } from "./schemas.ts";

/** A path parameter that must be an id: 400 invalid_request naming it otherwise. */
export function idParam(c: Context<AppEnv>, name: string): string {
  const value = c.req.param(name) ?? "";
  if (!ID_PATTERN.test(value)) throw new InvalidRequestError(name, "is not a valid id");
  return value;
}

/** Whether the caller asks for JSON-LD. */
export const wantsLd = (accept: string | undefined) =>
  accept !== undefined && /application\/ld\+json/i.test(accept);

/** The reason of a step: required to reject, optional otherwise. */
export async function stepReason(
  c: Context<AppEnv>,
  step: RequestStep,
): Promise<string | undefined> {
  if (step === "reject") return (await readJsonWith(c, ReasonBody)).reason;
  return parseWith(OptionalReasonBody, await readOptionalJson(c)).reason;
}
