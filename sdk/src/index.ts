/**
 * The data-sharing gateway's partner SDK: a client for partner backends
 * (tokens, reads, delivers, transfers, catalog, agreement requests) and the
 * checks a backend makes on what the gateway sends it. See ../README.md.
 */
export {
  type AgreementRequest,
  type AgreementRequestInput,
  type AgreementRequestList,
  type CatalogEntry,
  type CatalogPage,
  type DeliverOptions,
  type DeliverResult,
  GatewayClient,
  type GatewayClientOptions,
  type Offer,
  type OfferInput,
  type PartnerAgreement,
  type RawBody,
  type ReadOptions,
  type ReadResult,
} from "./client.ts";
export { type DpopKeyPair, dpopAlgorithm } from "./dpop.ts";
export type { components, paths } from "./generated/gateway-api.ts";
export { GatewayProblem, GatewayUnreachable } from "./problem.ts";
export type { Transfer, TransferState, Upload, UploadContentType } from "./transfers.ts";
export { DEFAULT_RETRY, type RetryPolicy } from "./transport.ts";
export {
  GATEWAY_EVENT_TYPE,
  GATEWAY_REQUEST_TYPE,
  type GatewayEvent,
  type GatewayRequest,
  GatewayVerificationError,
  gatewayKeys,
  type VerificationCode,
  type VerifyOptions,
  verifyGatewayEvent,
  verifyGatewayRequest,
} from "./verify.ts";
