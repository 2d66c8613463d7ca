/**
 * The Lambda functions' environment, parsed once per container with a schema.
 * In AWS the keys live in KMS, one per purpose, and a function's environment
 * names only the keys it may use (infra/access.ts decides both):
 * ACCESS_TOKEN_KEY_ID, BACKEND_TOKEN_KEY_ID, EVENT_KEY_ID (each with a
 * PREVIOUS_… during a rotation), PSEUDONYM_KEY_ID and CLIENT_SECRET_KEY_ID (the
 * HMAC key the client-secret pepper is derived from). Outside AWS a private
 * JWK (SIGNING_JWK, every purpose) and a secret (PSEUDONYM_SECRET, every keyed
 * hash) serve.
 */
import * as z from "zod";
import { PeopleEnv } from "../people/settings.ts";
import { TABLE_ENV, TABLES } from "../store/schema.ts";

export const LambdaEnv = z
  .object({
    REGISTRY_TABLE: z.string().min(3),
    CREDENTIALS_TABLE: z.string().min(3),
    METER_TABLE: z.string().min(3),
    AUDIT_TABLE: z.string().min(3),
    OUTBOX_TABLE: z.string().min(3),
    STAGE: z.string().min(1).default("dev"),
    ISSUER: z.string().min(1),
    AUDIENCE: z.string().min(1).optional(),
    TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
    ACCESS_TOKEN_KEY_ID: z.string().min(1).optional(),
    PREVIOUS_ACCESS_TOKEN_KEY_ID: z.string().min(1).optional(),
    BACKEND_TOKEN_KEY_ID: z.string().min(1).optional(),
    PREVIOUS_BACKEND_TOKEN_KEY_ID: z.string().min(1).optional(),
    EVENT_KEY_ID: z.string().min(1).optional(),
    PREVIOUS_EVENT_KEY_ID: z.string().min(1).optional(),
    SIGNING_JWK: z.string().min(1).optional(),
    PSEUDONYM_KEY_ID: z.string().min(1).optional(),
    PSEUDONYM_SECRET: z.string().min(1).optional(),
    CLIENT_SECRET_KEY_ID: z.string().min(1).optional(),
    LOCAL_BACKENDS: z.enum(["0", "1"]).default("0"),
    UPSTREAM_TIMEOUT_MS: z.coerce.number().int().min(100).max(25_000).default(10_000),
    DYNAMODB_ENDPOINT: z.url().optional(),
    /** The object store's bucket (kept replay bodies); its endpoint is the SDK's (AWS_ENDPOINT_URL_S3 outside AWS). */
    OBJECTS_BUCKET: z.string().min(3).optional(),
    /** The transfer worker's live alias ARN: the route function starts transfer jobs there. */
    TRANSFER_WORKER_FUNCTION: z.string().min(1).optional(),
    /**
     * Cap of a transfer's decoded body in bytes (default: the gateway's, 5 GiB).
     * At most 5 GiB here: one worker run (15 minutes) must guard, stage and
     * copy the whole body; README "How big can a transfer be in AWS" works out
     * what a run moves, and what would run larger ones.
     */
    TRANSFER_MAX_BYTES: z.coerce
      .number()
      .int()
      .positive()
      .max(5 * 1024 ** 3)
      .optional(),
    LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    /** DPoP proofs must carry a server nonce (RFC 9449 §8). */
    DPOP_NONCE: z.enum(["0", "1"]).default("0"),
    ...PeopleEnv.shape,
    /** Behind the front door: the secret CloudFront sends (requests without it are refused). */
    ORIGIN_VERIFY: z.string().min(32).optional(),
    /** The mTLS name: requests on it carry a client certificate API Gateway verified instead. */
    MTLS_DOMAIN: z.string().min(4).optional(),
  })
  .refine(
    (e) => e.ACCESS_TOKEN_KEY_ID ?? e.BACKEND_TOKEN_KEY_ID ?? e.EVENT_KEY_ID ?? e.SIGNING_JWK,
    "a KMS key id (ACCESS_TOKEN_KEY_ID, BACKEND_TOKEN_KEY_ID, EVENT_KEY_ID) or SIGNING_JWK is required",
  )
  .refine(
    (e) => !(e.SIGNING_JWK && (e.ACCESS_TOKEN_KEY_ID ?? e.BACKEND_TOKEN_KEY_ID ?? e.EVENT_KEY_ID)),
    "SIGNING_JWK and KMS key ids exclude each other",
  );
export type LambdaEnv = z.infer<typeof LambdaEnv>;

export function parseLambdaEnv(env: NodeJS.ProcessEnv): LambdaEnv {
  const result = LambdaEnv.safeParse(env);
  if (!result.success) {
    throw new Error(
      `invalid environment: ${result.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    );
  }
  return result.data;
}

export const tableNamesOf = (env: LambdaEnv) =>
  Object.fromEntries(
    TABLES.map((t) => [t, env[TABLE_ENV[t] as keyof LambdaEnv] as string]),
  ) as Record<(typeof TABLES)[number], string>;
