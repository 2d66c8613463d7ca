/**
 * The gateway's parts, built once from injected dependencies: the Lambda entry
 * points and the local server construct one Gateway and hand it to createApp.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ProofVerifier } from "./auth/dpop.ts";
import { DpopNonces } from "./auth/dpop-nonce.ts";
import type { GatewayKeys } from "./auth/keys.ts";
import type { PseudonymKeys } from "./auth/pseudonyms.ts";
import { type ClientSecrets, PEPPER_LABEL, pepperedSecrets } from "./auth/secrets.ts";
import { TokenVerifier } from "./auth/tokens.ts";
import type { AddressPolicy } from "./exchange/address.ts";
import { createUpstreamTransport, type UpstreamTransport } from "./exchange/upstream.ts";
import { createLogger, type Logger } from "./log.ts";
import { PeopleProvider } from "./people/provider.ts";
import type { PeopleSettings } from "./people/settings.ts";
import { PeopleVerifier } from "./people/verifier.ts";
import { AuditLog, type AuditLogOptions } from "./store/audit.ts";
import { Credentials } from "./store/credentials.ts";
import { Db, type TableNames } from "./store/db.ts";
import { Meter } from "./store/meter.ts";
import { MeterReader } from "./store/meter-read.ts";
import { NO_OBJECT_STORE, type ObjectStore } from "./store/objects.ts";
import { Outbox } from "./store/outbox.ts";
import { ProofReplays, RecentProofs } from "./store/proof-replays.ts";
import { Registry } from "./store/registry.ts";
import { Sessions } from "./store/sessions.ts";
import { noTelemetry, type Telemetry } from "./telemetry/telemetry.ts";
import { tracedTransport } from "./telemetry/traced-transport.ts";
import type { TransferDispatcher } from "./transfers/dispatch.ts";
import { NO_TRANSFER_STORAGE, type TransferStorage } from "./transfers/storage.ts";

export interface GatewaySettings {
  /** `iss` of the tokens the gateway issues, and the base of its URLs. */
  readonly issuer: string;
  /** `aud` of access tokens. */
  readonly audience: string;
  readonly tokenTtlSeconds: number;
  /** Local mode: http and loopback partner backends are allowed. */
  readonly localBackends: boolean;
  readonly upstreamTimeoutMs: number;
  /** Cap on request bodies, upstream answers and decoded bodies. */
  readonly maxBodyBytes: number;
  /** Where people sign in (the console) and whose access tokens admin and metrics accept. */
  readonly people?: PeopleSettings | undefined;
  /**
   * A released body kept for Idempotency-Key retries rides in the claim (in
   * the metering transaction) up to this many bytes once sealed; a larger one
   * goes to the object store. See docs/metering.md.
   */
  readonly replayInlineMaxBytes: number;
  /** DPoP proofs must carry a nonce the gateway gave (RFC 9449 §8, §9). @default false */
  readonly dpopNonce?: boolean | undefined;
  /**
   * The custom domain where API Gateway requires client certificates (mTLS):
   * tokens asked for there are bound to the certificate (RFC 8705).
   */
  readonly mtlsDomain?: string | undefined;
  /** Cap of a transfer's body once decoded (`TRANSFER_MAX_BYTES`). @default 5 GiB */
  readonly transferMaxBytes?: number | undefined;
  /**
   * How long one transfer run holds its transfer (renewed every quarter of it
   * while the body streams). @default 16 minutes (longer than a Lambda's 15)
   */
  readonly transferLeaseMs?: number | undefined;
}

/** What sender-constrained tokens use: proof checks, replay claims, nonces. */
export interface DpopParts {
  readonly verifier: ProofVerifier;
  /** Proofs this process saw: a replay to the same instance costs no store call. */
  readonly recent: RecentProofs;
  /** The store's claims of proofs (exact across instances). */
  readonly replays: ProofReplays;
  /** The nonce source when the deployment asks for nonces, else undefined. */
  nonces(): Promise<DpopNonces | undefined>;
}

export interface GatewayDeps {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** The object store (bodies kept for replays); without one, such bodies cannot be kept (503). */
  readonly objects?: ObjectStore | undefined;
  readonly keys: GatewayKeys;
  readonly pseudonyms: PseudonymKeys;
  /**
   * How client secrets are hashed and checked.
   * @default keyed hashes under a pepper derived from `pseudonyms` (the local master secret)
   */
  readonly secrets?: ClientSecrets | undefined;
  readonly settings: GatewaySettings;
  readonly log?: Logger | undefined;
  readonly clock?: (() => Date) | undefined;
  readonly transport?: UpstreamTransport | undefined;
  /** Resolves a host name to addresses (registration-time SSRF checks). */
  readonly resolveHost?: ((host: string) => Promise<string[]>) | undefined;
  /** Business figures and spans (Powertools in Lambda; none locally). */
  readonly telemetry?: Telemetry | undefined;
  /** How the audit trail is laid out (the bench measures the single-head layout too). */
  readonly audit?: AuditLogOptions | undefined;
  /** Where transfer bodies live; without it, transfers fail closed (503). */
  readonly transferStorage?: TransferStorage | undefined;
  /** Where transfer jobs go (in AWS the worker Lambda; locally this process). */
  readonly transferDispatcher?: TransferDispatcher | undefined;
}

export interface Gateway {
  readonly settings: GatewaySettings;
  readonly keys: GatewayKeys;
  readonly pseudonyms: PseudonymKeys;
  readonly log: Logger;
  readonly clock: () => Date;
  readonly db: Db;
  readonly objects: ObjectStore;
  readonly registry: Registry;
  readonly credentials: Credentials;
  readonly secrets: ClientSecrets;
  /** People's console sessions. */
  readonly sessions: Sessions;
  readonly audit: AuditLog;
  readonly meter: Meter;
  readonly meterReader: MeterReader;
  readonly outbox: Outbox;
  readonly verifier: TokenVerifier;
  readonly dpop: DpopParts;
  /** People's access tokens, when a provider is configured. */
  readonly people: PeopleVerifier | undefined;
  /** Calls to partner backends, each with the gateway's traceparent. */
  readonly transport: UpstreamTransport;
  readonly telemetry: Telemetry;
  readonly addressPolicy: AddressPolicy;
  readonly resolveHost: (host: string) => Promise<string[]>;
  readonly transferStorage: TransferStorage;
  readonly transferDispatcher: TransferDispatcher;
}

export const DEFAULT_SETTINGS: Omit<GatewaySettings, "issuer" | "audience"> = {
  tokenTtlSeconds: 900,
  localBackends: false,
  upstreamTimeoutMs: 10_000,
  maxBodyBytes: 6 * 1024 * 1024,
  replayInlineMaxBytes: 32 * 1024,
};

export function createGateway(deps: GatewayDeps): Gateway {
  const clock = deps.clock ?? (() => new Date());
  const log = deps.log ?? createLogger();
  const db = new Db(deps.client, deps.tables);
  const registry = new Registry(db);
  const addressPolicy: AddressPolicy = { allowLoopback: deps.settings.localBackends };
  return {
    settings: deps.settings,
    keys: deps.keys,
    pseudonyms: deps.pseudonyms,
    log,
    clock,
    db,
    objects: deps.objects ?? NO_OBJECT_STORE,
    registry,
    credentials: new Credentials(db),
    secrets: deps.secrets ?? pepperedSecrets(() => deps.pseudonyms.derive(PEPPER_LABEL)),
    sessions: new Sessions(db),
    audit: new AuditLog(db, clock, deps.audit),
    meter: new Meter(db, registry, log, clock),
    meterReader: new MeterReader(db),
    outbox: new Outbox(db),
    verifier: new TokenVerifier(
      {
        issuer: deps.settings.issuer,
        audience: deps.settings.audience,
        maxLifetimeSeconds: deps.settings.tokenTtlSeconds,
      },
      deps.keys.accessTokenJwks,
    ),
    dpop: dpopParts(db, deps.pseudonyms, deps.settings.dpopNonce === true),
    people:
      deps.settings.people === undefined
        ? undefined
        : new PeopleVerifier(deps.settings.people, new PeopleProvider(deps.settings.people.issuer)),
    transport: tracedTransport(
      deps.transport ?? createUpstreamTransport(addressPolicy),
      deps.telemetry ?? noTelemetry,
    ),
    telemetry: deps.telemetry ?? noTelemetry,
    addressPolicy,
    resolveHost: deps.resolveHost ?? defaultResolve,
    transferStorage: deps.transferStorage ?? NO_TRANSFER_STORAGE,
    transferDispatcher: deps.transferDispatcher ?? noDispatcher(log),
  };
}

/** Without a dispatcher a transfer stays running until a read finds its lease over and fails it. */
const noDispatcher = (log: Logger): TransferDispatcher => ({
  dispatch: async (job) => log.warn("transfer_not_dispatched", { transfer: job.transferId }),
});

function dpopParts(db: Db, keys: PseudonymKeys, withNonces: boolean): DpopParts {
  let nonces: Promise<DpopNonces> | undefined;
  return {
    verifier: new ProofVerifier(),
    recent: new RecentProofs(),
    replays: new ProofReplays(db),
    nonces: async () => {
      if (!withNonces) return undefined;
      nonces ??= DpopNonces.from(keys).catch((err: unknown) => {
        nonces = undefined;
        throw err;
      });
      return nonces;
    },
  };
}

async function defaultResolve(host: string): Promise<string[]> {
  const { lookup } = await import("node:dns/promises");
  const found = await lookup(host, { all: true });
  return found.map((a) => a.address);
}
