/**
 * The large-transfer operations (the contract's "Large transfers") as data,
 * with their schemas, for document.ts. Their guard is the exchange's: the
 * token needs the agreement's scope, and every step decides as an exchange.
 */
import { EXCHANGE_DENIAL_CODES } from "../../policies/codes.ts";
import { Purpose } from "../../policies/model.ts";
import {
  TransferInput,
  TransferListQuery,
  TransferPage,
  TransferView,
  UploadInput,
  UploadView,
} from "../transfers/schemas.ts";
import { inlineSchema, type Parameter, queryParameters, ref } from "./generate.ts";
import type { OperationSpec, ProblemRef } from "./operations.ts";

export const TRANSFER_REQUEST_SCHEMAS = { TransferInput, UploadInput };
export const TRANSFER_RESPONSE_SCHEMAS = {
  Transfer: TransferView,
  Upload: UploadView,
  TransferList: TransferPage,
};

export const TRANSFER_TAGS: readonly { name: string; description: string }[] = [
  {
    name: "Transfers",
    description:
      "Large transfers through object storage: the body is streamed through the guard, metered once when ready, and served from a short-lived URL (at most 300 s) that needs no token. Token scope agreement:<id>.",
  },
];

const JSON_TYPE = "application/json";
const answer = (description: string, name: string, headers = false) => ({
  description,
  content: { [JSON_TYPE]: { schema: ref(name) } },
  ...(headers
    ? {
        headers: {
          Location: { description: "/v1/transfers/{id}", schema: { type: "string" } },
        },
      }
    : {}),
});

const purpose: Parameter = {
  name: "Data-Purpose",
  in: "header",
  required: false,
  description: "As for an exchange: required where the agreement names purposes.",
  schema: inlineSchema(Purpose, "input"),
};
const idempotencyKey: Parameter = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description:
    "The same key on the same agreement and request within 24 hours answers the same transfer (200), metered once.",
  schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
};

const DECIDED: ProblemRef[] = [
  "invalid_request",
  "invalid_path",
  "invalid_token",
  ...EXCHANGE_DENIAL_CODES,
  "store_unavailable",
  "metering_unavailable",
];

export function transferOperations(): OperationSpec[] {
  return [
    {
      method: "post",
      path: "/v1/transfers",
      tag: "Transfers",
      operationId: "startTransfer",
      summary: "The consumer starts a read transfer",
      description:
        "The provider's backend is called as for a read (the same URL, the same gateway JWT) outside the request; its answer is streamed through the guard into storage. Poll GET /v1/transfers/{id}.",
      guard: "exchange",
      parameters: [purpose, idempotencyKey],
      body: {
        required: true,
        content: {
          [JSON_TYPE]: {
            schema: ref("TransferInput"),
            example: { agreement: "agr-1", subpath: "/daily", query: "day=2026-11-01" },
          },
        },
      },
      success: {
        "202": answer("The transfer, running", "Transfer", true),
        "200": answer("The transfer this Idempotency-Key started before", "Transfer", true),
      },
      problems: DECIDED,
    },
    {
      method: "get",
      path: "/v1/transfers",
      tag: "Transfers",
      operationId: "listTransfers",
      summary: "An agreement's transfers, newest first (either party; no URLs)",
      guard: "exchange",
      parameters: queryParameters([TransferListQuery]),
      success: { "200": answer("The transfers", "TransferList") },
      problems: DECIDED,
    },
    {
      method: "get",
      path: "/v1/transfers/{id}",
      tag: "Transfers",
      operationId: "getTransfer",
      summary: "A transfer (either party); for its consumer, once ready, a fresh URL",
      description:
        "Re-checks both parties and the agreement every time: once any is no longer active the answer is the exchange's 403 code and the transfer is revoked. `url` is valid for at most 300 s and needs no Authorization header; `sha256` and `bytes` describe exactly what it serves.",
      guard: "exchange",
      success: { "200": answer("The transfer", "Transfer") },
      problems: [...DECIDED, "transfer_not_found"],
    },
    {
      method: "post",
      path: "/v1/transfers/{id}/complete",
      tag: "Transfers",
      operationId: "completeUpload",
      summary: "The provider uploaded the body: the transfer runs",
      guard: "exchange",
      success: { "202": answer("The transfer, running", "Transfer", true) },
      problems: [...DECIDED, "transfer_not_found", "invalid_transition"],
    },
    {
      method: "post",
      path: "/v1/uploads",
      tag: "Transfers",
      operationId: "openUpload",
      summary: "The provider asks to deliver a large body",
      description:
        "PUT the body to uploadUrl with the headers given (no Authorization header) before expiresAt, then POST /v1/transfers/{id}/complete.",
      guard: "exchange",
      parameters: [purpose],
      body: {
        required: true,
        content: {
          [JSON_TYPE]: {
            schema: ref("UploadInput"),
            example: { agreement: "agr-2", contentType: "application/x-ndjson" },
          },
        },
      },
      success: { "201": answer("The transfer, awaiting its upload", "Upload", true) },
      problems: DECIDED,
    },
  ];
}
