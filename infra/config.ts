/**
 * Per-stage configuration of the CDK app, selected with `-c stage=dev|prod`
 * (default dev) and validated with zod. Individual values can be overridden
 * with `-c config='{"issuer":"https://gw.example.com"}'` (merged one level
 * deep, then validated again). Invalid context fails synth with a
 * `ConfigError` that names the offending field.
 */
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import * as z from "zod";
import { PeopleEnv, peopleSettingsFromEnv } from "../functions/people/settings.ts";
import { FUNCTION_NAMES, type FunctionName } from "./bundling.ts";

export const STAGES = ["dev", "prod"] as const;
export type Stage = (typeof STAGES)[number];

const RETENTION_VALUES = new Set<number>(
  Object.values(RetentionDays).filter((v): v is number => typeof v === "number"),
);

const positiveInt = z.number().int().positive();

const reservedConcurrency = z
  .object(
    Object.fromEntries(FUNCTION_NAMES.map((name) => [name, positiveInt.max(1000).optional()])) as {
      [K in FunctionName]: z.ZodOptional<z.ZodNumber>;
    },
  )
  .strict();

export const GatewayConfigSchema = z
  .object({
    stage: z.enum(STAGES),
    /**
     * The `iss` of issued tokens and the OAuth metadata issuer. Must be the
     * base URL clients call (RFC 8414 §3.3); omit it to use the API endpoint.
     */
    issuer: z
      .url({ protocol: /^https$/, error: "issuer must be an https URL" })
      .refine((u) => !u.endsWith("/"), "issuer must not end with a slash")
      .optional(),
    logRetentionDays: z
      .number()
      .int()
      .refine(
        (d) => RETENTION_VALUES.has(d),
        "logRetentionDays must be a CloudWatch retention value",
      ),
    /** What happens to log groups when the stack is deleted. Tables and keys are always retained. */
    logRemovalPolicy: z.enum(["retain", "destroy"]),
    throttling: z
      .object({
        rateLimit: z.number().positive().max(10_000),
        burstLimit: positiveInt.max(5_000),
      })
      .strict()
      .refine((t) => t.burstLimit >= t.rateLimit, "throttling.burstLimit must be >= rateLimit"),
    tokenTtlSeconds: positiveInt.min(60).max(3_600),
    /**
     * People's sign-in at another OpenID provider (Entra ID, Okta, ...) instead
     * of the stack's Cognito user pool: the gateway's `OIDC_*` settings. A
     * client secret never goes into the template (register a public client
     * with PKCE, or set OIDC_CLIENT_SECRET on the admin function yourself).
     */
    oidc: PeopleEnv.omit({ OIDC_CLIENT_SECRET: true })
      .extend({ OIDC_ISSUER: z.url({ protocol: /^https$/ }) })
      .strict()
      .refine((env) => {
        try {
          return peopleSettingsFromEnv(env) !== undefined;
        } catch {
          return false;
        }
      }, "oidc needs OIDC_ISSUER and OIDC_CLIENT_ID, a valid OIDC_ROLE_MAP and openid in OIDC_SCOPES")
      .optional(),
    /** Prefix of the Cognito hosted sign-in domain; default `dsg-<stage>-<account id>`. */
    signInDomainPrefix: z
      .string()
      .regex(
        /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/,
        "signInDomainPrefix: lowercase letters, digits, hyphens",
      )
      .refine(
        (p) => !/aws|amazon|cognito/.test(p),
        "signInDomainPrefix may not contain aws, amazon or cognito",
      )
      .optional(),
    reservedConcurrency,
    alarms: z
      .object({
        /** API 5xx responses as a percentage of requests, over 5 minutes. */
        api5xxRatePercent: z.number().positive().max(100),
        /** p99 API latency in ms. */
        apiP99LatencyMs: positiveInt.max(29_000),
        /** p99 duration of the exchange function in ms (its timeout is 25 s). */
        exchangeP99LatencyMs: positiveInt.max(25_000),
        /** Errors per function per 5 minutes. */
        lambdaErrors: positiveInt,
        /** `leak_blocked` log lines per 5 minutes. */
        leakBlocked: positiveInt,
        /** Age of the oldest outbox stream record the events function has not processed. */
        eventsIteratorAgeSeconds: positiveInt.max(86_400),
      })
      .strict(),
  })
  .strict();

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export const STAGE_CONFIGS: Readonly<Record<Stage, GatewayConfig>> = {
  dev: {
    stage: "dev",
    logRetentionDays: RetentionDays.TWO_WEEKS,
    logRemovalPolicy: "destroy",
    throttling: { rateLimit: 50, burstLimit: 100 },
    tokenTtlSeconds: 900,
    // None: fresh accounts have too little unreserved concurrency to reserve any.
    reservedConcurrency: {},
    alarms: {
      api5xxRatePercent: 5,
      apiP99LatencyMs: 5_000,
      exchangeP99LatencyMs: 15_000,
      lambdaErrors: 5,
      leakBlocked: 10,
      eventsIteratorAgeSeconds: 900,
    },
  },
  prod: {
    stage: "prod",
    logRetentionDays: RetentionDays.ONE_YEAR,
    logRemovalPolicy: "retain",
    throttling: { rateLimit: 500, burstLimit: 1_000 },
    tokenTtlSeconds: 900,
    reservedConcurrency: { token: 50, exchange: 300, admin: 10, metrics: 10, events: 10, meta: 10 },
    alarms: {
      api5xxRatePercent: 1,
      apiP99LatencyMs: 3_000,
      exchangeP99LatencyMs: 10_000,
      lambdaErrors: 1,
      leakBlocked: 5,
      eventsIteratorAgeSeconds: 300,
    },
  },
};

/** A context value that cannot make a valid configuration. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function parseOverrides(raw: unknown): Record<string, unknown> {
  if (raw === undefined) return {};
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new ConfigError(`Invalid context "config": not JSON (${raw})`);
    }
  }
  if (!isRecord(value)) throw new ConfigError('Invalid context "config": expected a JSON object');
  return value;
}

/**
 * The validated configuration for the context values `stage` and `config`
 * (as given to `-c`, strings or objects).
 */
export function resolveConfig(context: {
  readonly stage?: unknown;
  readonly config?: unknown;
}): GatewayConfig {
  const stage = context.stage ?? "dev";
  if (typeof stage !== "string" || !(STAGES as readonly string[]).includes(stage)) {
    throw new ConfigError(
      `Invalid context "stage": expected one of ${STAGES.join(", ")}, got ${JSON.stringify(stage)}`,
    );
  }
  const base: Record<string, unknown> = { ...STAGE_CONFIGS[stage as Stage] };
  const overrides = parseOverrides(context.config);
  if ("stage" in overrides) {
    throw new ConfigError('Invalid context "config": select the stage with -c stage=…');
  }
  for (const [key, value] of Object.entries(overrides)) {
    const current = base[key];
    base[key] = isRecord(current) && isRecord(value) ? { ...current, ...value } : value;
  }
  const parsed = GatewayConfigSchema.safeParse(base);
  if (!parsed.success) {
    throw new ConfigError(
      `Invalid configuration for stage "${stage}":\n${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
