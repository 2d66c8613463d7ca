/**
 * The policy model: partners, datasets, agreements and the ecosystem's trade
 * rules, as zod schemas with their inferred types. Input schemas describe what
 * operators send; stored schemas add what the gateway keeps (status, times,
 * versions). See ../shared/CONTRACT.md for the meaning of every field.
 */
import * as z from "zod";
import { COUNTRY_CODES, CURRENCY_CODES } from "./iso.ts";

export const ID_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;

export const Id = z.string().regex(ID_PATTERN, "must match ^[a-z0-9][a-z0-9-]{1,62}$");
export type Id = z.infer<typeof Id>;

export const Jurisdiction = z
  .string()
  .refine((v) => COUNTRY_CODES.has(v), "must be an ISO 3166-1 alpha-2 code");

export const Currency = z
  .string()
  .refine((v) => CURRENCY_CODES.has(v), "must be an ISO 4217 currency code");

/** An ISO 8601 time in UTC ("Z"), normalised to millisecond precision on parse. */
export const Timestamp = z.iso
  .datetime({ offset: false })
  .transform((v) => new Date(v).toISOString());

/** Integer micro-units (1 EUR = 1 000 000); bounded so sums stay exact in a double. */
export const Micros = z.int().min(0).max(1_000_000_000_000);

/** A dot path to a field inside a record, e.g. `speed.avg`. */
export const FieldPath = z
  .string()
  .min(1)
  .max(256)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it refuses
  .regex(/^[^.\u0000-\u001f]+(\.[^.\u0000-\u001f]+)*$/, "must be a dot path of non-empty segments");

/** Where the records sit in a JSON body: a dot path, or "" for the body itself. */
export const RecordsPath = z.union([z.literal(""), FieldPath]);

export const Purpose = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._:-]{0,127}$/, "must be a lower-case purpose token");

export const Classification = z.enum(["core", "personal", "shared"]);
export type Classification = z.infer<typeof Classification>;

export const Action = z.enum(["read", "deliver"]);
export type Action = z.infer<typeof Action>;

const uniqueList = <T extends z.ZodType>(item: T, what: string) =>
  z.array(item).refine((xs) => new Set(xs).size === xs.length, `${what} must not repeat`);

// ---------------------------------------------------------------- partners

export const PartnerStatus = z.enum(["active", "suspended", "revoked", "offboarded"]);
export type PartnerStatus = z.infer<typeof PartnerStatus>;

export const PartnerInput = z.strictObject({
  id: Id,
  name: z.string().trim().min(1).max(200),
  jurisdiction: Jurisdiction,
  baseUrl: z.url({ protocol: /^https?$/ }).max(2048),
});
export type PartnerInput = z.infer<typeof PartnerInput>;

export const PartnerPatch = z
  .strictObject({
    name: PartnerInput.shape.name.optional(),
    jurisdiction: Jurisdiction.optional(),
    baseUrl: PartnerInput.shape.baseUrl.optional(),
    requireDpop: z
      .boolean()
      .optional()
      .describe("true: only DPoP-bound tokens for this partner (token requests need a DPoP proof)"),
    reason: z.string().max(1000).optional(),
  })
  .refine(
    (p) =>
      p.name !== undefined ||
      p.jurisdiction !== undefined ||
      p.baseUrl !== undefined ||
      p.requireDpop !== undefined,
    "name, jurisdiction, baseUrl or requireDpop is required",
  );
export type PartnerPatch = z.infer<typeof PartnerPatch>;

export const Partner = z.object({
  ...PartnerInput.shape,
  status: PartnerStatus,
  statusReason: z.string().optional(),
  phaseOutAt: z.string().optional(),
  /**
   * The generation of the partner's credentials (raised by each rotation,
   * absent = 0), and when they were last rotated: tokens issued under an
   * older generation end with the rotation.
   */
  credentialGeneration: z.int().min(0).optional(),
  credentialsRotatedAt: z.string().optional(),
  /** Only sender-constrained (DPoP) tokens are issued to this partner. */
  requireDpop: z.boolean().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Partner = z.infer<typeof Partner>;

// ---------------------------------------------------------------- datasets

export const DatasetInput = z.strictObject({
  id: Id,
  owner: Id,
  path: z
    .string()
    .max(512)
    .regex(
      /^(\/[A-Za-z0-9._~!$&'()*+,;=:@-]+)*\/?$/,
      "must be an absolute URL path without dot segments",
    )
    .refine(
      (p) => !p.split("/").some((s) => s === "." || s === ".."),
      "must not hold dot segments",
    ),
  recordsAt: RecordsPath.default(""),
  fields: z
    .record(FieldPath, Classification)
    .refine((f) => Object.keys(f).length > 0, "must classify at least one field")
    .refine((f) => Object.keys(f).length <= 1000, "must classify at most 1000 fields"),
  coreMarkers: z.array(z.string().min(1).max(256)).max(32).default([]),
  onMarker: z.enum(["block", "redact"]).default("block"),
  pseudonymize: uniqueList(FieldPath, "pseudonymize").optional(),
  exportControl: z
    .strictObject({ allowedJurisdictions: uniqueList(Jurisdiction, "allowedJurisdictions") })
    .optional(),
  /** How the dataset is shown in the catalog (v2); never naming a core field. */
  title: z.string().trim().min(1).max(200).optional(),
  description: z.string().trim().min(1).max(4000).optional(),
});
export type DatasetInput = z.infer<typeof DatasetInput>;

export const Dataset = z.object({
  ...DatasetInput.shape,
  recordsAt: RecordsPath,
  coreMarkers: z.array(z.string()),
  onMarker: z.enum(["block", "redact"]),
  createdAt: z.string(),
  updatedAt: z.string(),
  version: z.int().min(1),
});
export type Dataset = z.infer<typeof Dataset>;

// ---------------------------------------------------------------- agreements

export const Quota = z.strictObject({
  requestsPerDay: z.int().min(1).max(1_000_000_000).optional(),
  recordsPerMonth: z.int().min(1).max(1_000_000_000_000).optional(),
});
export type Quota = z.infer<typeof Quota>;

export const Price = z.strictObject({
  currency: Currency,
  perRequest: Micros.default(0),
  perRecord: Micros.default(0),
});
export type Price = z.infer<typeof Price>;

export const ValueShare = z.strictObject({ partner: Id, bps: z.int().min(1).max(10_000) });
export type ValueShare = z.infer<typeof ValueShare>;

export const AgreementStatus = z.enum(["active", "suspended", "terminated"]);
export type AgreementStatus = z.infer<typeof AgreementStatus>;

/** The terms an amendment may change; every version of an agreement carries them. */
export const AgreementTerms = z.strictObject({
  fields: uniqueList(FieldPath, "fields").min(1).max(1000),
  pseudonymize: uniqueList(FieldPath, "pseudonymize").optional(),
  purposes: uniqueList(Purpose, "purposes").max(50).default([]),
  validFrom: Timestamp,
  validUntil: Timestamp,
  quota: Quota.optional(),
  price: Price.default({ currency: "EUR", perRequest: 0, perRecord: 0 }),
  retentionDays: z.int().min(0).max(36_500).optional(),
});
export type AgreementTerms = z.infer<typeof AgreementTerms>;

export const AgreementInput = z.strictObject({
  id: Id,
  dataset: Id,
  provider: Id,
  consumer: Id,
  actions: uniqueList(Action, "actions").min(1),
  ...AgreementTerms.shape,
  valueShares: z.array(ValueShare).min(1).max(20).optional(),
});
export type AgreementInput = z.infer<typeof AgreementInput>;

export const AgreementPatch = z
  .strictObject({
    fields: AgreementTerms.shape.fields.optional(),
    pseudonymize: AgreementTerms.shape.pseudonymize,
    purposes: uniqueList(Purpose, "purposes").max(50).optional(),
    validFrom: Timestamp.optional(),
    validUntil: Timestamp.optional(),
    quota: Quota.nullable().optional(),
    price: Price.optional(),
    retentionDays: AgreementTerms.shape.retentionDays,
    reason: z.string().max(1000).optional(),
  })
  .refine(
    (p) => Object.keys(p).some((k) => k !== "reason"),
    "at least one term (fields, purposes, validity, quota, price) is required",
  );
export type AgreementPatch = z.infer<typeof AgreementPatch>;

export const Agreement = z.object({
  ...AgreementInput.shape,
  valueShares: z.array(ValueShare),
  status: AgreementStatus,
  statusReason: z.string().optional(),
  version: z.int().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Agreement = z.infer<typeof Agreement>;

// ---------------------------------------------------------------- trade rules

export const TradeRulesInput = z.strictObject({
  embargoedJurisdictions: uniqueList(Jurisdiction, "embargoedJurisdictions").max(300).default([]),
  deniedParties: uniqueList(Id, "deniedParties").max(10_000).default([]),
});
export type TradeRulesInput = z.infer<typeof TradeRulesInput>;

export const TradeRules = z.object({
  ...TradeRulesInput.shape,
  version: z.int().min(0),
  updatedAt: z.string().nullable(),
});
export type TradeRules = z.infer<typeof TradeRules>;

export const EMPTY_TRADE_RULES: TradeRules = {
  embargoedJurisdictions: [],
  deniedParties: [],
  version: 0,
  updatedAt: null,
};

// ---------------------------------------------------------------- exit

/** A leaving partner's statement that it deleted what it received under an agreement. */
export const AttestationInput = z.strictObject({
  agreement: Id,
  deletedAt: Timestamp,
  statement: z.string().trim().min(1).max(4000),
});
export type AttestationInput = z.infer<typeof AttestationInput>;
