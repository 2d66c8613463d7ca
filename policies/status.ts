/**
 * Effective statuses at a moment: a phase-out date takes effect by itself when
 * it passes (no scheduler), and it ends every agreement of the partner.
 */
import type { Agreement, Partner } from "./model.ts";

export type EffectivePartnerStatus = Partner["status"];
export type EffectiveAgreementStatus = Agreement["status"] | "ended";

export function partnerStatusAt(partner: Partner, now: Date): EffectivePartnerStatus {
  if (partner.status === "revoked" || partner.status === "offboarded") return partner.status;
  if (partner.phaseOutAt !== undefined && now.getTime() >= Date.parse(partner.phaseOutAt)) {
    return "offboarded";
  }
  return partner.status;
}

/** `ended`: the agreement is over because a party was phased out. */
export function agreementStatusAt(
  agreement: Agreement,
  parties: readonly (Partner | undefined)[],
  now: Date,
): EffectiveAgreementStatus {
  if (agreement.status === "terminated") return "terminated";
  if (parties.some((p) => p !== undefined && partnerStatusAt(p, now) === "offboarded"))
    return "ended";
  return agreement.status;
}
