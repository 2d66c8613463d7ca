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

const throttle = z
  .object({
    rateLimit: z.number().positive().max(10_000),
    burstLimit: positiveInt.max(5_000),
  })
  .strict()
  .refine((t) => t.burstLimit >= t.rateLimit, "burstLimit must be >= rateLimit");

/** Route keys that get a throttle of their own (the others use the stage's). */
export const THROTTLED_ROUTES = [
  "POST /oauth/token",
  "ANY /admin/{proxy+}",
  "GET /metrics/{proxy+}",
  "$default",
] as const;

const domainName = z
  .string()
  .regex(/^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, "not a DNS name");

const FrontDoor = z
  .object({
    /** The public name: the token issuer is https://<domainName>, served by CloudFront. */
    domainName,
    /** The Route 53 public hosted zone the names are in (certificates are validated there). */
    hostedZoneId: z.string().regex(/^Z[A-Z0-9]{1,31}$/, "not a hosted zone id"),
    zoneName: domainName,
    /** AWS WAF: requests per source IP per 5 minutes before the rate-based rule blocks it. */
    rateLimitPer5Minutes: positiveInt.min(100).max(2_000_000_000),
    /**
     * Mutual TLS for partners who want it: a second name on the API's own
     * regional custom domain (CloudFront cannot pass client certificates on),
     * with the CA bundle partners' certificates must chain to, in S3.
     */
    mtls: z
      .object({
        domainName,
        /** Object key of the PEM truststore in the stack's truststore bucket. */
        truststoreKey: z.string().min(1).max(1024).default("truststore.pem"),
        /** The S3 object version to use (pin it; upload a new version to rotate CAs). */
        truststoreVersion: z.string().min(1).max(1024).optional(),
      })
      .strict()
      .optional(),
  })
  .strict()
  .refine(
    (f) => f.domainName === f.zoneName || f.domainName.endsWith(`.${f.zoneName}`),
    "frontDoor.domainName must be in frontDoor.zoneName",
  )
  .refine(
    (f) => f.mtls === undefined || f.mtls.domainName.endsWith(`.${f.zoneName}`),
    "frontDoor.mtls.domainName must be in frontDoor.zoneName",
  );
export type FrontDoorConfig = z.infer<typeof FrontDoor>;

const Subscription = z
  .object({
    protocol: z.enum(["email", "https", "sms"]),
    endpoint: z.string().min(3).max(2048),
  })
  .strict()
  .refine(
    (s) =>
      s.protocol === "email"
        ? /^[^@\s]+@[^@\s]+$/.test(s.endpoint)
        : s.protocol === "https"
          ? s.endpoint.startsWith("https://")
          : /^\+[1-9]\d{6,14}$/.test(s.endpoint),
    "the endpoint does not suit its protocol",
  );

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
    /** The AWS account and region to deploy to (required with a front door). */
    account: z
      .string()
      .regex(/^\d{12}$/, "not an AWS account id")
      .optional(),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, "not an AWS region")
      .optional(),
    throttling: z
      .object({
        /** Stage-wide steady-state requests per second, and burst. */
        rateLimit: z.number().positive().max(10_000),
        burstLimit: positiveInt.max(5_000),
        /** Per route: tighter limits where a route is costly (tokens) or should stay small. */
        routes: z.object(
          Object.fromEntries(THROTTLED_ROUTES.map((r) => [r, throttle])) as {
            [K in (typeof THROTTLED_ROUTES)[number]]: typeof throttle;
          },
        ),
      })
      .strict()
      .refine((t) => t.burstLimit >= t.rateLimit, "throttling.burstLimit must be >= rateLimit"),
    /**
     * KMS's Sign quota for ECC keys in the account and region (requests/s,
     * 300 by default, shared by every signing key). Token issuance may use at
     * most half of it, so backend JWTs and events keep the rest.
     */
    kmsSignsPerSecond: positiveInt.max(100_000),
    /** The public name and its protection; required in prod (the issuer never changes later). */
    frontDoor: FrontDoor.optional(),
    /** Who is told when an alarm fires or recovers (SNS subscriptions). */
    alarmSubscriptions: z.array(Subscription).max(20),
    /** CodeDeploy canary for every function behind an alias; rolls back on the alarms. */
    deployment: z
      .object({
        /** Share of traffic the new version takes first, in percent, and for how long. */
        canaryPercent: z.union([z.literal(10), z.literal(25)]),
        canaryMinutes: z.union([z.literal(5), z.literal(10), z.literal(15), z.literal(30)]),
      })
      .strict(),
    /** CloudFormation refuses to delete the stack (prod). */
    terminationProtection: z.boolean(),
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
    /** Large transfers: how the worker's asynchronous jobs are retried. */
    transfers: z
      .object({
        /** Lambda's retries of a failed job (crash, timeout), from its start: 0 to 2. */
        workerRetryAttempts: z.number().int().min(0).max(2),
        /** A job not started within this many hours (worker throttled) goes to the failure queue. */
        jobMaxAgeHours: positiveInt.max(6),
      })
      .strict(),
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
        /** Transfers that ended `failed` (`transfer_failed` log lines) per 5 minutes. */
        transfersFailed: positiveInt,
        /** Transfers that ended `blocked` (`transfer_blocked` log lines) per 5 minutes. */
        transfersBlocked: positiveInt,
        /** Age of the oldest outbox stream record the events function has not processed. */
        eventsIteratorAgeSeconds: positiveInt.max(86_400),
        /** API 4xx answers, % of requests over 5 minutes (a flood of bad or refused calls). */
        api4xxRatePercent: z.number().positive().max(100),
        /** 429 answers per 5 minutes (throttled by API Gateway or over quota). */
        throttled429: positiveInt,
        /** KMS Sign requests as % of kmsSignsPerSecond (alarm before KMS throttles). */
        kmsSignUsagePercent: z.number().positive().max(100),
      })
      .strict(),
  })
  .strict()
  .refine(
    (c) => c.throttling.routes["POST /oauth/token"].rateLimit <= c.kmsSignsPerSecond / 2,
    "throttling.routes['POST /oauth/token'].rateLimit must stay within half of kmsSignsPerSecond",
  )
  .refine((c) => c.stage !== "prod" || c.frontDoor !== undefined, {
    message: "prod needs a frontDoor: the issuer must be the gateway's own domain from day one",
    path: ["frontDoor"],
  })
  .refine((c) => c.frontDoor === undefined || (c.account && c.region), {
    message: "a frontDoor needs account and region (its WAF and certificate live in us-east-1)",
    path: ["account"],
  })
  .refine((c) => c.frontDoor === undefined || c.issuer === undefined, {
    message: "with a frontDoor the issuer is https://<frontDoor.domainName>; drop issuer",
    path: ["issuer"],
  })
  .refine(
    (c) =>
      c.stage !== "prod" ||
      (c.reservedConcurrency.token !== undefined && c.reservedConcurrency.admin !== undefined),
    {
      message: "prod reserves concurrency for token and admin, so neither can be starved",
      path: ["reservedConcurrency"],
    },
  );

export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

export const STAGE_CONFIGS: Readonly<Record<Stage, GatewayConfig>> = {
  dev: {
    stage: "dev",
    logRetentionDays: RetentionDays.TWO_WEEKS,
    logRemovalPolicy: "destroy",
    throttling: {
      rateLimit: 50,
      burstLimit: 100,
      routes: {
        "POST /oauth/token": { rateLimit: 10, burstLimit: 20 },
        "ANY /admin/{proxy+}": { rateLimit: 10, burstLimit: 20 },
        "GET /metrics/{proxy+}": { rateLimit: 5, burstLimit: 10 },
        $default: { rateLimit: 5, burstLimit: 10 },
      },
    },
    kmsSignsPerSecond: 300,
    alarmSubscriptions: [],
    deployment: { canaryPercent: 25, canaryMinutes: 5 },
    terminationProtection: false,
    tokenTtlSeconds: 900,
    // None: fresh accounts have too little unreserved concurrency to reserve any.
    reservedConcurrency: {},
    transfers: { workerRetryAttempts: 1, jobMaxAgeHours: 6 },
    alarms: {
      api5xxRatePercent: 5,
      apiP99LatencyMs: 5_000,
      exchangeP99LatencyMs: 15_000,
      lambdaErrors: 5,
      leakBlocked: 10,
      transfersFailed: 5,
      transfersBlocked: 5,
      eventsIteratorAgeSeconds: 900,
      api4xxRatePercent: 50,
      throttled429: 500,
      kmsSignUsagePercent: 80,
    },
  },
  prod: {
    stage: "prod",
    // Replace with your account, region, domain and zone before the first deploy
    // (docs/deploy.md, "Front door and issuer"): the issuer never changes afterwards.
    account: "111111111111",
    region: "eu-north-1",
    frontDoor: {
      domainName: "gateway.example.com",
      hostedZoneId: "Z0EXAMPLE0ZONE",
      zoneName: "example.com",
      rateLimitPer5Minutes: 3_000,
      // mTLS: add { mtls: { domainName, truststoreKey } } once the truststore is uploaded.
    },
    logRetentionDays: RetentionDays.ONE_YEAR,
    logRemovalPolicy: "retain",
    throttling: {
      rateLimit: 500,
      burstLimit: 1_000,
      routes: {
        // KMS signs 300 ECC requests/s per account by default: tokens take at most 100.
        "POST /oauth/token": { rateLimit: 100, burstLimit: 150 },
        "ANY /admin/{proxy+}": { rateLimit: 50, burstLimit: 100 },
        "GET /metrics/{proxy+}": { rateLimit: 20, burstLimit: 40 },
        $default: { rateLimit: 10, burstLimit: 20 },
      },
    },
    kmsSignsPerSecond: 300,
    alarmSubscriptions: [{ protocol: "email", endpoint: "gateway-ops@example.com" }],
    deployment: { canaryPercent: 10, canaryMinutes: 10 },
    terminationProtection: true,
    tokenTtlSeconds: 900,
    // Token issuance and revocations (admin) always have capacity; meta (public
    // routes and scanner traffic) is capped small.
    reservedConcurrency: {
      token: 50,
      exchange: 300,
      // Starting, polling and completing transfers: short requests (the bodies go to S3).
      transfers: 50,
      catalog: 10,
      admin: 10,
      metrics: 10,
      events: 10,
      meta: 5,
      // At most this many transfers stream at once; more wait in Lambda's queue.
      transferWorker: 20,
    },
    transfers: { workerRetryAttempts: 1, jobMaxAgeHours: 6 },
    alarms: {
      api5xxRatePercent: 1,
      apiP99LatencyMs: 3_000,
      exchangeP99LatencyMs: 10_000,
      lambdaErrors: 1,
      leakBlocked: 5,
      transfersFailed: 3,
      transfersBlocked: 1,
      eventsIteratorAgeSeconds: 300,
      api4xxRatePercent: 25,
      throttled429: 200,
      kmsSignUsagePercent: 70,
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
