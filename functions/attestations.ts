/**
 * Deletion attestations of a leaving partner: posted by the partner itself
 * (scope `attestation`) or recorded by an operator for a revoked partner.
 */
import type { Context } from "hono";
import type { AttestationInput } from "../policies/model.ts";
import { actorOf, auditedWrite } from "./admin/common.ts";
import { ConflictError, InvalidRequestError, NotFoundError } from "./errors.ts";
import type { Gateway } from "./gateway.ts";
import type { AppEnv } from "./http/env.ts";
import type { Attestation } from "./store/registry.ts";

export async function recordAttestation(
  gw: Gateway,
  c: Context<AppEnv>,
  partner: string,
  input: AttestationInput,
): Promise<Attestation> {
  const agreement = (await gw.registry.getAgreement(input.agreement))?.value;
  if (
    agreement === undefined ||
    (agreement.consumer !== partner && agreement.provider !== partner)
  ) {
    throw new NotFoundError(
      "agreement_not_found",
      `agreement ${input.agreement} is not one of ${partner}'s`,
    );
  }
  const now = gw.clock();
  if (Date.parse(input.deletedAt) > now.getTime() + 5000) {
    throw new InvalidRequestError("deletedAt", "lies in the future");
  }
  const actor = actorOf(c);
  const attestation = { partner, ...input, recordedAt: now.toISOString(), recordedBy: actor };
  await auditedWrite(
    gw,
    c,
    {
      action: "partner.attestation",
      target: `agreement:${agreement.id}`,
      partners: [agreement.provider, agreement.consumer],
      details: {
        deletedAt: input.deletedAt,
        ...(actor === partner ? {} : { onBehalfOf: partner }),
      },
    },
    gw.registry.attestationOps(attestation),
    [],
    "the attestation was already recorded",
  ).catch((err: unknown) => {
    throw err instanceof ConflictError
      ? new ConflictError("the attestation was already recorded")
      : err;
  });
  return attestation;
}
