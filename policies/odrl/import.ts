/**
 * ODRL 2.2 `Agreement` (compact JSON-LD, the subset ./export.ts writes) →
 * an agreement input, for the caller to validate with `AgreementInput`.
 * One agreement has one dataset, provider, consumer and set of terms, so every
 * permission must carry the same ones; each permission adds one action.
 */
import { type ActiveContext, readContext } from "./context.ts";
import {
  type PermissionTerms,
  type RuleTerms,
  readId,
  readPermission,
  readProhibition,
} from "./import-rules.ts";
import { invalid, isPlainObject, join, OdrlRefusal, unsupported } from "./issues.ts";
import {
  type Allowed,
  items,
  type Member,
  Node,
  pick,
  readInteger,
  readIri,
  readString,
} from "./node.ts";
import type { OdrlImport, OdrlOptions } from "./types.ts";
import {
  DEFAULT_AGREEMENT_BASE,
  DSG_PROFILE,
  dsg,
  ODRL_CONTEXT,
  odrl,
  PARTNER_BASE,
} from "./vocabulary.ts";

const ROOT_KEYS: Allowed = {
  "@context": "@context",
  "@type": "@type",
  "@id": "uid",
  [odrl("profile")]: "profile",
  [odrl("permission")]: "permission",
  [odrl("prohibition")]: "prohibition",
  [dsg("pseudonymize")]: "dsg:pseudonymize",
  [dsg("valueShares")]: "dsg:valueShares",
  [dsg("quota")]: "dsg:quota",
};
const SHARE_KEYS: Allowed = { [dsg("partner")]: "dsg:partner", [dsg("bps")]: "dsg:bps" };

/** Reads an ODRL agreement back; never fetches anything. */
export function odrlToAgreementInput(doc: unknown, options: OdrlOptions = {}): OdrlImport {
  try {
    return { ok: true, input: readAgreement(doc, options.baseIri ?? DEFAULT_AGREEMENT_BASE) };
  } catch (error) {
    if (error instanceof OdrlRefusal) return { ok: false, issues: [error.issue] };
    throw error;
  }
}

function readAgreement(doc: unknown, base: string): Record<string, unknown> {
  if (!isPlainObject(doc)) invalid("", "must be a JSON-LD object");
  if (!Object.hasOwn(doc, "@context")) invalid("@context", `is required: ${ODRL_CONTEXT}`);
  const context = readContext(doc["@context"], "@context");
  const root = Node.read(doc, "", context, ROOT_KEYS);
  pick(root.required("@type"), context, { [odrl("Agreement")]: true }, "policy class");
  const id = readId(root.required("@id"), context, base);
  const profile = root.get(odrl("profile"));
  for (const item of profile === undefined ? [] : items(profile)) {
    const iri = readIri(item, context);
    if (iri !== DSG_PROFILE) unsupported(item.field, `profile "${iri}" is outside the subset`);
  }
  const permissions = readPermissions(root.required(odrl("permission")), context);
  const first = permissions[0] ?? invalid("permission", "needs at least one permission");
  const prohibitions = root.get(odrl("prohibition"));
  for (const item of prohibitions === undefined ? [] : items(prohibitions)) {
    checkProhibition(readProhibition(item, context), first);
  }
  const pseudonymize = root.get(dsg("pseudonymize"));
  const shares = root.get(dsg("valueShares"));
  const quotaMarker = root.get(dsg("quota"));
  if (quotaMarker !== undefined) Node.read(quotaMarker.value, quotaMarker.field, context, {});
  const quota = first.quota;
  const hasQuota = quotaMarker !== undefined || Object.keys(quota).length > 0;
  return {
    id,
    dataset: first.dataset,
    provider: first.provider,
    consumer: first.consumer,
    actions: permissions.map((p) => p.action),
    fields: [...first.fields],
    ...(pseudonymize && { pseudonymize: items(pseudonymize).map((p) => readString(p, context)) }),
    ...(first.purposes && { purposes: first.purposes }),
    validFrom: first.validFrom,
    validUntil: first.validUntil,
    ...(hasQuota && { quota }),
    ...(first.price && { price: first.price }),
    ...(first.retentionDays !== undefined && { retentionDays: first.retentionDays }),
    ...(shares && {
      valueShares: items(shares).map((share) => {
        const node = Node.read(share.value, share.field, context, SHARE_KEYS);
        return {
          partner: readId(node.required(dsg("partner")), context, PARTNER_BASE),
          bps: readInteger(node.required(dsg("bps")), context),
        };
      }),
    }),
  };
}

/** The permissions: one per action, all with the first one's parties, target and terms. */
function readPermissions(member: Member, context: ActiveContext): PermissionTerms[] {
  const list = items(member);
  if (list.length === 0) invalid(member.field, "needs at least one permission");
  const permissions: PermissionTerms[] = [];
  for (const item of list) {
    const permission = readPermission(item, context);
    const first = permissions[0];
    if (first !== undefined) {
      const differs = differingPart(first, permission);
      if (differs !== undefined) {
        unsupported(
          fieldOf(permission, differs),
          `the ${LABELS[differs]} differ from the first permission's: one agreement has the same for all its actions`,
        );
      }
      if (permissions.some((p) => p.action === permission.action)) {
        unsupported(
          fieldOf(permission, "action"),
          "a second permission for the same action is outside the subset",
        );
      }
    }
    permissions.push(permission);
  }
  return permissions;
}

/** A prohibition withholds, for one action, exactly what the permissions do not grant. */
function checkProhibition(prohibition: RuleTerms, first: PermissionTerms): void {
  for (const part of ["source", "fields", "assigner", "assignee"] as const) {
    if (canonical(prohibition)[part] !== canonical(first)[part]) {
      unsupported(
        fieldOf(prohibition, part),
        part === "fields"
          ? "a prohibition must withhold exactly what is not granted: dsg:field isNoneOf the granted fields"
          : `a prohibition with another ${LABELS[part]} than the permissions is outside the subset`,
      );
    }
  }
}

const PARTS = ["source", "fields", "assigner", "assignee", "constraint", "duty"] as const;
type Part = (typeof PARTS)[number];
const LABELS: Readonly<Record<Part, string>> = {
  source: "target dataset",
  fields: "target fields",
  assigner: "assigner (provider)",
  assignee: "assignee (consumer)",
  constraint: "constraints",
  duty: "duties",
};

function differingPart(a: PermissionTerms, b: PermissionTerms): Part | undefined {
  const ca = canonical(a);
  const cb = canonical(b);
  return PARTS.find((p) => ca[p] !== cb[p]);
}

const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();
/** A time as its instant when it parses, so equal instants compare equal however written. */
function instant(time: string | undefined): number | string | undefined {
  const ms = time === undefined ? Number.NaN : Date.parse(time);
  return Number.isNaN(ms) ? time : ms;
}

/** Each part of a rule as a string, so rules compare part by part (sets as sets). */
function canonical(t: RuleTerms & Partial<PermissionTerms>): Record<Part, string> {
  const price = t.price ?? {};
  return {
    source: t.dataset,
    fields: JSON.stringify(sorted(t.fields)),
    assigner: t.provider,
    assignee: t.consumer,
    constraint: JSON.stringify([
      sorted(t.purposes),
      instant(t.validFrom),
      instant(t.validUntil),
      t.quota?.requestsPerDay,
      t.quota?.recordsPerMonth,
    ]),
    duty: JSON.stringify([
      price.currency ?? "EUR",
      price.perRequest ?? 0,
      price.perRecord ?? 0,
      t.retentionDays,
    ]),
  };
}

function fieldOf(rule: RuleTerms, part: Part | "action"): string {
  if (part === "source" || part === "fields") return rule.paths[part];
  return rule.node.get(odrl(part))?.field ?? join(rule.node.field, part);
}
