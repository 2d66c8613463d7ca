/**
 * The self-service surface's request schemas, apart from its routes: the
 * routes validate with them and the OpenAPI document is generated from them.
 */
import * as z from "zod";
import { Id } from "../../policies/model.ts";
import { OfferStatus, RequestState } from "../../policies/offers.ts";
import { PageQuery, ReasonBody } from "../admin/schemas.ts";

export { AgreementRequestInput, OfferInput } from "../../policies/offers.ts";
export { ReasonBody };

export const CatalogQuery = PageQuery;

export const OfferListQuery = z.object({ status: OfferStatus.optional() });

export const RequestListQuery = PageQuery.extend({
  state: RequestState.optional(),
  role: z.enum(["provider", "consumer"]).optional(),
});

export const AdminRequestListQuery = PageQuery.extend({
  state: RequestState.optional(),
  partner: Id.optional(),
});

/** Approve, cancel and withdraw take a reason if the caller gives one; reject needs one. */
export const OptionalReasonBody = z.strictObject({
  reason: z.string().trim().min(1).max(1000).optional(),
});
