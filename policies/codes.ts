/**
 * Stable, machine-readable reason codes (the contract's `code`). Callers switch
 * on these; messages may change, codes never do.
 */

/** Why an exchange is refused; the order is the order in which they are reported. */
export const EXCHANGE_DENIAL_CODES = [
  "scope_missing",
  "agreement_not_found",
  "not_party",
  "partner_revoked",
  "partner_suspended",
  "partner_offboarded",
  "agreement_inactive",
  "agreement_not_yet_valid",
  "agreement_expired",
  "action_not_permitted",
  "purpose_not_permitted",
  "jurisdiction_blocked",
] as const;
export type ExchangeDenialCode = (typeof EXCHANGE_DENIAL_CODES)[number];

/** Why an agreement (or a dataset it relies on) cannot be made as asked. */
export const AGREEMENT_RULE_CODES = [
  "dataset_not_found",
  "partner_not_found",
  "provider_not_owner",
  "partner_not_active",
  "core_field_not_shareable",
  "personal_field_needs_purpose",
  "pseudonymize_not_granted",
  "jurisdiction_blocked",
  "invalid_shares",
  "invalid_validity",
  "unsafe_pattern",
  "unsupported_odrl_term",
] as const;
export type AgreementRuleCode = (typeof AGREEMENT_RULE_CODES)[number];

/** One reason of a decision or one broken rule, as data. */
export interface Reason<C extends string = string> {
  readonly code: C;
  readonly message: string;
  /** The input field the reason is about, where there is one. */
  readonly field?: string;
}
