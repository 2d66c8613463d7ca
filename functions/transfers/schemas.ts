/** The shapes of the transfer routes (validation and the OpenAPI document read the same). */
import * as z from "zod";
import { ID_PATTERN } from "../../policies/model.ts";
import { TRANSFER_STATES } from "../store/transfers.ts";

const AgreementId = z.string().regex(ID_PATTERN);

export const TransferInput = z.strictObject({
  agreement: AgreementId,
  subpath: z.string().max(2048).optional(),
  query: z.string().max(4096).optional(),
});

export const UploadInput = z.strictObject({
  agreement: AgreementId,
  contentType: z.enum(["application/x-ndjson", "text/csv", "application/json"]),
  contentEncoding: z.literal("gzip").optional(),
});

export const TransferListQuery = z.object({
  agreement: AgreementId.optional().describe(
    "The agreement whose transfers to list. Default: the token's one agreement (400 when it carries several).",
  ),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(2048).optional(),
});

export const TransferView = z.object({
  id: z.string(),
  agreement: z.string(),
  direction: z.enum(["read", "deliver"]),
  state: z.enum(TRANSFER_STATES),
  createdAt: z.string(),
  records: z.number().int().nullable(),
  bytes: z.number().int().nullable(),
  sha256: z.string().nullable(),
  contentType: z.string().nullable(),
  url: z.string().nullable(),
  expiresAt: z.string().nullable(),
  code: z.string().nullable(),
});
export type TransferView = z.infer<typeof TransferView>;

export const UploadView = TransferView.extend({
  uploadUrl: z.string(),
  expiresAt: z.string(),
  headers: z.record(z.string(), z.string()),
});

export const TransferPage = z.object({
  items: z.array(TransferView),
  next: z.string().nullable(),
});
