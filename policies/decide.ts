/**
 * The exchange decision point: given who asks what of which agreement, the
 * state read from the store, and the time, permit or deny with every reason.
 * Pure and total: a deny is data, never an exception.
 */
import type { ExchangeDenialCode, Reason } from "./codes.ts";
import type { Action, Agreement, Dataset, Partner, TradeRules } from "./model.ts";
import { agreementStatusAt, partnerStatusAt } from "./status.ts";

export interface ExchangeRequest {
  /** The token's subject: the calling client's id. */
  readonly caller: string;
  readonly scopes: readonly string[];
  readonly agreementId: string;
  readonly action: Action;
  /** The `Data-Purpose` header, if sent. */
  readonly purpose?: string | undefined;
}

export interface ExchangeState {
  readonly agreement?: Agreement | undefined;
  readonly dataset?: Dataset | undefined;
  readonly provider?: Partner | undefined;
  readonly consumer?: Partner | undefined;
  readonly tradeRules: TradeRules;
}

export type DenialReason = Reason<ExchangeDenialCode>;

export type Decision =
  | { readonly decision: "permit"; readonly reasons: readonly [] }
  | { readonly decision: "deny"; readonly reasons: readonly [DenialReason, ...DenialReason[]] };

const PERMIT: Decision = { decision: "permit", reasons: [] };

export const agreementScope = (agreementId: string): string => `agreement:${agreementId}`;

export function decide(request: ExchangeRequest, state: ExchangeState, now: Date): Decision {
  const reasons: DenialReason[] = [];
  const deny = (code: ExchangeDenialCode, message: string) => reasons.push({ code, message });

  if (!request.scopes.includes(agreementScope(request.agreementId))) {
    deny("scope_missing", `the token does not carry agreement:${request.agreementId}`);
  }
  const { agreement } = state;
  if (agreement === undefined || agreement.id !== request.agreementId) {
    deny("agreement_not_found", `agreement ${request.agreementId} does not exist`);
    return finish(reasons);
  }

  const role = request.action === "read" ? "consumer" : "provider";
  if (agreement[role] !== request.caller) {
    deny("not_party", `${request.action} is open to the agreement's ${role} only`);
  }

  checkParties(state, now, deny);
  checkAgreement(agreement, state, now, deny);

  if (!agreement.actions.includes(request.action)) {
    deny("action_not_permitted", `the agreement does not permit ${request.action}`);
  }
  if (agreement.purposes.length > 0) {
    if (request.purpose === undefined) {
      deny(
        "purpose_not_permitted",
        "a Data-Purpose header naming a purpose of the agreement is required",
      );
    } else if (!agreement.purposes.includes(request.purpose)) {
      deny(
        "purpose_not_permitted",
        `purpose ${request.purpose} is not among the agreement's purposes`,
      );
    }
  }
  for (const r of tradeComplianceIssues(state)) deny("jurisdiction_blocked", r);
  return finish(reasons);
}

function finish(reasons: DenialReason[]): Decision {
  const [first, ...rest] = reasons;
  return first === undefined ? PERMIT : { decision: "deny", reasons: [first, ...rest] };
}

type Deny = (code: ExchangeDenialCode, message: string) => void;

function checkParties(state: ExchangeState, now: Date, deny: Deny): void {
  for (const [role, partner] of [
    ["provider", state.provider],
    ["consumer", state.consumer],
  ] as const) {
    if (partner === undefined) {
      deny("partner_revoked", `the ${role} is not registered`);
      continue;
    }
    const status = partnerStatusAt(partner, now);
    if (status === "revoked") deny("partner_revoked", `the ${role} ${partner.id} is revoked`);
    if (status === "suspended") deny("partner_suspended", `the ${role} ${partner.id} is suspended`);
    if (status === "offboarded")
      deny("partner_offboarded", `the ${role} ${partner.id} was phased out`);
  }
}

function checkAgreement(agreement: Agreement, state: ExchangeState, now: Date, deny: Deny): void {
  const status = agreementStatusAt(agreement, [state.provider, state.consumer], now);
  if (status === "ended")
    deny("agreement_inactive", "the agreement ended with a party's phase-out");
  else if (status !== "active") deny("agreement_inactive", `the agreement is ${status}`);
  if (state.dataset === undefined)
    deny("agreement_inactive", "the agreement's dataset no longer exists");
  const t = now.getTime();
  if (t < Date.parse(agreement.validFrom)) {
    deny("agreement_not_yet_valid", `the agreement is valid from ${agreement.validFrom}`);
  } else if (t >= Date.parse(agreement.validUntil)) {
    deny("agreement_expired", `the agreement expired at ${agreement.validUntil}`);
  }
}

/**
 * Trade compliance for the flow provider -> consumer: the dataset's export
 * control, the ecosystem's embargoes (either side) and its denied parties.
 * Shared with the agreement rules so both apply exactly the same checks.
 */
export function tradeComplianceIssues(state: {
  readonly dataset?: Dataset | undefined;
  readonly provider?: Partner | undefined;
  readonly consumer?: Partner | undefined;
  readonly tradeRules: TradeRules;
}): string[] {
  const issues: string[] = [];
  const { dataset, provider, consumer, tradeRules } = state;
  const allowed = dataset?.exportControl?.allowedJurisdictions;
  if (consumer !== undefined && allowed !== undefined && !allowed.includes(consumer.jurisdiction)) {
    issues.push(`dataset ${dataset?.id} may not flow to ${consumer.jurisdiction}`);
  }
  for (const p of [provider, consumer]) {
    if (p === undefined) continue;
    if (tradeRules.embargoedJurisdictions.includes(p.jurisdiction)) {
      issues.push(`${p.jurisdiction} (${p.id}) is under embargo`);
    }
    if (tradeRules.deniedParties.includes(p.id)) issues.push(`${p.id} is a denied party`);
  }
  return issues;
}
