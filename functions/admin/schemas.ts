/**
 * The operators' request schemas, apart from the routes that use them: the
 * routes validate with them and the OpenAPI document is generated from them,
 * without the document pulling in the routes' code.
 */
import * as z from "zod";
import { Action, Id, Purpose, Timestamp } from "../../policies/model.ts";
import { PageQuery } from "../store/paging.ts";

export { PageQuery };

export const ReasonBody = z.strictObject({ reason: z.string().trim().min(1).max(1000) });

export const ClientInput = z.strictObject({
  id: Id,
  role: z.enum(["admin", "metrics:read", "metrics:close"]),
});

export const DecisionInput = z.strictObject({
  partner: Id,
  agreement: Id,
  action: Action,
  purpose: Purpose.optional(),
  at: Timestamp.optional(),
});

const PublicJwk = z
  .looseObject({
    kty: z.enum(["EC", "RSA", "OKP"]),
    kid: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/),
    alg: z.enum(["ES256", "ES384", "PS256", "RS256", "EdDSA"]).optional(),
    use: z.literal("sig").optional(),
  })
  .refine(
    (k) => !["d", "p", "q", "dp", "dq", "qi", "oth", "k"].some((m) => m in k),
    "must be a public key (no private members)",
  );

export const KeysBody = z.strictObject({
  keys: z
    .array(PublicJwk)
    .min(1)
    .max(5)
    .refine((ks) => new Set(ks.map((k) => k.kid)).size === ks.length, "kids must not repeat"),
});

export const PhaseOutBody = z.strictObject({
  at: Timestamp,
  reason: z.string().trim().min(1).max(1000),
});

export const AgreementListQuery = PageQuery.extend({ partner: Id.optional() });

const instant = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

export const AuditQuery = PageQuery.extend({
  from: instant.optional(),
  to: instant.optional(),
  partner: Id.optional(),
  action: z
    .string()
    .regex(/^[a-z_]+\.[a-z_]+$/, "is not an action name")
    .optional(),
});

export const DeliveryQuery = PageQuery.extend({
  state: z.enum(["pending", "delivered", "failed"]).default("pending"),
});

export const FlowMapQuery = z.object({ format: z.enum(["json", "mermaid"]).default("json") });
