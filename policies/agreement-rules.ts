/**
 * The rules an agreement must keep when it is made or amended. Returns every
 * broken rule as data (the contract's 422 codes); an empty list means it holds.
 */
import type { AgreementRuleCode, Reason } from "./codes.ts";
import { tradeComplianceIssues } from "./decide.ts";
import { classify } from "./fields.ts";
import type { Action, AgreementTerms, Dataset, Partner, TradeRules, ValueShare } from "./model.ts";
import { partnerStatusAt } from "./status.ts";

export type RuleIssue = Reason<AgreementRuleCode>;

export interface AgreementDraft extends AgreementTerms {
  readonly dataset: string;
  readonly provider: string;
  readonly consumer: string;
  readonly actions: readonly Action[];
  readonly valueShares?: readonly ValueShare[] | undefined;
}

export interface AgreementContext {
  readonly dataset?: Dataset | undefined;
  readonly provider?: Partner | undefined;
  readonly consumer?: Partner | undefined;
  /** Every partner named in `valueShares`, undefined where unknown. */
  readonly sharePartners: ReadonlyMap<string, Partner | undefined>;
  readonly tradeRules: TradeRules;
}

export const BPS_TOTAL = 10_000;

export function checkAgreement(
  draft: AgreementDraft,
  ctx: AgreementContext,
  now: Date,
): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const add = (code: AgreementRuleCode, message: string, field?: string) =>
    issues.push(field === undefined ? { code, message } : { code, message, field });

  const { dataset, provider, consumer } = ctx;
  if (dataset === undefined)
    add("dataset_not_found", `dataset ${draft.dataset} does not exist`, "dataset");
  if (provider === undefined)
    add("partner_not_found", `partner ${draft.provider} does not exist`, "provider");
  if (consumer === undefined)
    add("partner_not_found", `partner ${draft.consumer} does not exist`, "consumer");
  if (dataset !== undefined && dataset.owner !== draft.provider) {
    add(
      "provider_not_owner",
      `dataset ${dataset.id} is owned by ${dataset.owner}, not ${draft.provider}`,
      "provider",
    );
  }
  for (const [field, p] of [
    ["provider", provider],
    ["consumer", consumer],
  ] as const) {
    if (p !== undefined && partnerStatusAt(p, now) !== "active") {
      add("partner_not_active", `partner ${p.id} is ${partnerStatusAt(p, now)}`, field);
    }
  }
  if (dataset !== undefined) checkFields(draft, dataset, add);
  for (const message of tradeComplianceIssues(ctx))
    add("jurisdiction_blocked", message, "consumer");
  checkShares(draft, ctx, add);
  checkValidity(draft, now, add);
  return issues;
}

export type Add = (code: AgreementRuleCode, message: string, field?: string) => void;

export function checkFields(
  draft: Pick<AgreementDraft, "fields" | "purposes" | "pseudonymize">,
  dataset: Dataset,
  add: Add,
): void {
  const personal: string[] = [];
  for (const f of draft.fields) {
    const cls = classify(dataset.fields, f);
    if (cls === "core") {
      const why = Object.hasOwn(dataset.fields, f)
        ? "is classified core"
        : "is not classified (counts as core)";
      add("core_field_not_shareable", `field ${f} ${why}`, "fields");
    } else if (cls === "personal") {
      personal.push(f);
    }
  }
  if (personal.length > 0 && draft.purposes.length === 0) {
    add(
      "personal_field_needs_purpose",
      `personal fields ${personal.join(", ")} need at least one purpose`,
      "purposes",
    );
  }
  for (const p of draft.pseudonymize ?? []) {
    const granted = draft.fields.some((f) => f === p || p.startsWith(`${f}.`));
    if (!granted || classify(dataset.fields, p) !== "personal") {
      add(
        "pseudonymize_not_granted",
        `pseudonymize names ${p}, which is not a granted personal field`,
        "pseudonymize",
      );
    }
  }
}

export function checkShares(
  draft: Pick<AgreementDraft, "valueShares">,
  ctx: Pick<AgreementContext, "sharePartners">,
  add: Add,
): void {
  const shares = draft.valueShares;
  if (shares === undefined) return;
  const total = shares.reduce((sum, s) => sum + s.bps, 0);
  if (total !== BPS_TOTAL)
    add("invalid_shares", `valueShares sum to ${total} bps, not ${BPS_TOTAL}`, "valueShares");
  const seen = new Set<string>();
  for (const s of shares) {
    if (seen.has(s.partner))
      add("invalid_shares", `valueShares name ${s.partner} twice`, "valueShares");
    seen.add(s.partner);
    if (ctx.sharePartners.get(s.partner) === undefined) {
      add("invalid_shares", `valueShares name ${s.partner}, which is not a partner`, "valueShares");
    }
  }
}

function checkValidity(draft: AgreementDraft, now: Date, add: Add): void {
  const from = Date.parse(draft.validFrom);
  const until = Date.parse(draft.validUntil);
  if (!(from < until)) add("invalid_validity", "validFrom must be before validUntil", "validUntil");
  else if (until <= now.getTime())
    add("invalid_validity", "validUntil is already past", "validUntil");
}

/** The shares of a flow's value; by default all of it goes to the provider. */
export const sharesOf = (draft: Pick<AgreementDraft, "provider" | "valueShares">): ValueShare[] =>
  draft.valueShares === undefined
    ? [{ partner: draft.provider, bps: BPS_TOTAL }]
    : [...draft.valueShares];
