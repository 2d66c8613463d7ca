/**
 * The local gateway as a value: started by `npm start`, by the tests that
 * need a real server, by the soak and the benchmarks.
 */

import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { getRequestListener } from "@hono/node-server";
import { createApp } from "../app.ts";
import { loadOrCreateLocalKeys } from "../auth/local-keys.ts";
import { loadOrCreatePseudonymSecret, pseudonymKeysFromSecret } from "../auth/pseudonyms.ts";
import { issueAccessToken } from "../auth/tokens.ts";
import { ensureClient, ensureTradeRules } from "../bootstrap.ts";
import { fileAssets } from "../console/assets-files.ts";
import { consoleSurface } from "../console/surface.tsx";
import { GatewayError } from "../errors.ts";
import { startOutboxWorker } from "../events/worker.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../gateway.ts";
import { problemBody, problemResponse, problemTitle } from "../http/problem.ts";
import { rawPathProblem } from "../http/raw-path.ts";
import { createLogger } from "../log.ts";
import {
  DEFAULT_ROLE_MAP,
  type PeopleSettings,
  parseRoleMap,
  peopleSettingsFromEnv,
} from "../people/settings.ts";
import { ensureTables, localTableNames } from "../store/create-tables.ts";
import { ensureBucket, localS3Client, S3ObjectStore } from "../store/objects.ts";
import { ALL_SURFACES } from "../surfaces/index.ts";
import { InProcessDispatcher } from "../transfers/dispatch.ts";
import { LOCAL_OBJECTS_PATH, localObjectsSurface } from "../transfers/local-urls.ts";
import { S3TransferStorage } from "../transfers/s3-storage.ts";
import { multipartWrite } from "../transfers/s3-upload.ts";
import { runTransferJob } from "../transfers/worker.ts";
import type { LocalConfig } from "./config.ts";
import { type DemoBackend, startConsumerBackend, startProviderBackend } from "./demo-backends.ts";
import { type DynamoLocal, startDynamoLocal } from "./dynamo-local.ts";
import type { EmbeddedIdp } from "./identity-provider.tsx";
import { startReplaySweeper } from "./replay-sweeper.ts";
import { startS3Local } from "./s3-local.ts";
import { operatorCaller, seedDemo } from "./seed.ts";
import { tour } from "./tour.ts";

export interface LocalGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly tour: string;
  readonly operator: { id: string; secret: string };
  readonly finance: { id: string; secret: string };
  readonly demoSecrets: Readonly<Record<string, string>>;
  /** The console, and the people of the embedded sign-in provider (none with OIDC_ISSUER). */
  readonly console: {
    readonly url: string;
    readonly issuer: string;
    readonly operator?: { username: string; password: string } | undefined;
    readonly finance?: { username: string; password: string } | undefined;
  };
  stop(): Promise<void>;
}

export interface LocalGatewayOptions {
  /**
   * Prefix of the table names (several gateways on one DynamoDB, as the tests run them).
   * @default "dsg"
   */
  readonly tablePrefix?: string;
}

/** How long the embedded provider's access tokens (and so console sessions) last. */
const PERSON_TOKEN_TTL_SECONDS = 3600;

const generatedPerson = (username: string) => ({
  username,
  password: randomBytes(12).toString("base64url"),
});

/**
 * People's sign-in: the provider of OIDC_ISSUER, or the embedded one at
 * `<base>/idp` with the two people of CONSOLE_OPERATOR / CONSOLE_FINANCE.
 */
async function peopleSignIn(config: LocalConfig, base: string) {
  const external = peopleSettingsFromEnv(config);
  if (external !== undefined) return { settings: external, idp: undefined, people: undefined };
  const operator = config.CONSOLE_OPERATOR ?? generatedPerson("operator");
  const finance = config.CONSOLE_FINANCE ?? generatedPerson("finance");
  if (operator.username === finance.username)
    throw new Error("CONSOLE_OPERATOR and CONSOLE_FINANCE must name two different people");
  // Loaded only when used: importing oidc-provider prints its runtime warnings.
  const { createEmbeddedIdp } = await import("./identity-provider.tsx");
  const idp: EmbeddedIdp = await createEmbeddedIdp({
    base,
    people: [
      { ...operator, name: "Console operator", groups: ["operators"] },
      { ...finance, name: "Console finance", groups: ["finance"] },
    ],
    redirectUri: `${base}/console/callback`,
    resource: base,
    accessTokenTtlSeconds: PERSON_TOKEN_TTL_SECONDS,
    assets: fileAssets(),
  });
  const settings: PeopleSettings = {
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
    audience: idp.resource,
    audienceClaim: "aud",
    rolesClaim: "groups",
    roleMap: parseRoleMap(DEFAULT_ROLE_MAP),
    usernameClaim: "preferred_username",
    scopes: "openid profile",
    resource: idp.resource,
    maxTokenLifetimeSeconds: PERSON_TOKEN_TTL_SECONDS,
  };
  return { settings, idp, people: { operator, finance } };
}

/** A DynamoDB client for a local endpoint (any credentials do). */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: "local",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 4,
  });
}

const MAX_HEADER_BYTES = 16 * 1024;
/** The local object store's one bucket. */
const LOCAL_BUCKET = "dsg";

export async function startLocalGateway(
  config: LocalConfig,
  options: LocalGatewayOptions = {},
): Promise<LocalGateway> {
  await mkdir(config.dataDir, { recursive: true });
  const cleanups: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
  };
  try {
    let store: DynamoLocal | undefined;
    let endpoint = config.DYNAMODB_ENDPOINT;
    if (endpoint === undefined) {
      const dbPath = join(config.dataDir, "dynamodb");
      await mkdir(dbPath, { recursive: true });
      store = await startDynamoLocal({ dbPath });
      cleanups.push(() => (store as DynamoLocal).stop());
      endpoint = store.endpoint;
    }
    const client = localDynamoClient(endpoint);
    const tables = localTableNames(options.tablePrefix ?? "dsg");
    await ensureTables(client, tables);
    let s3Endpoint = config.S3_ENDPOINT;
    if (s3Endpoint === undefined) {
      const objectStore = await startS3Local({ directory: join(config.dataDir, "objects") });
      cleanups.push(() => objectStore.stop());
      s3Endpoint = objectStore.endpoint;
    }
    const s3 = localS3Client(s3Endpoint);
    await ensureBucket(s3, LOCAL_BUCKET);
    const objects = new S3ObjectStore(s3, LOCAL_BUCKET);
    const base = `http://${config.HOST}:${config.PORT}`;
    const signIn = await peopleSignIn(config, base);
    const log = createLogger({ level: process.env.LOG_LEVEL === "debug" ? "debug" : "warn" });
    // Transfer URLs point at the gateway, which checks them (s3rver checks no signatures).
    // s3rver copies any size in one CopyObject and implements no UploadPartCopy.
    const transferStorage = new S3TransferStorage(s3, LOCAL_BUCKET, {
      publicEndpoint: `${base}${LOCAL_OBJECTS_PATH}`,
      copy: { singleMaxBytes: Number.POSITIVE_INFINITY },
      write: multipartWrite,
    });
    const transferDispatcher = new InProcessDispatcher(log);
    const gw = createGateway({
      client,
      tables,
      objects,
      keys: await loadOrCreateLocalKeys(join(config.dataDir, "keys", "signing.json")),
      pseudonyms: pseudonymKeysFromSecret(
        await loadOrCreatePseudonymSecret(join(config.dataDir, "keys", "pseudonym.key")),
      ),
      settings: {
        ...DEFAULT_SETTINGS,
        issuer: base,
        audience: base,
        tokenTtlSeconds: config.TOKEN_TTL_SECONDS,
        localBackends: true,
        people: signIn.settings,
        dpopNonce: config.DPOP_NONCE,
        transferMaxBytes: config.TRANSFER_MAX_BYTES,
      },
      log,
      transferStorage,
      transferDispatcher,
    });
    transferDispatcher.bind((job) => runTransferJob(gw, job));
    await ensureTradeRules(gw);
    const operator = await ensureClient(
      gw,
      config.OPERATOR_CLIENT_ID,
      "admin",
      config.OPERATOR_CLIENT_SECRET,
    );
    const finance = await ensureClient(
      gw,
      config.FINANCE_CLIENT_ID,
      "metrics:read",
      config.FINANCE_CLIENT_SECRET,
    );
    const app = createApp(gw, [
      ...ALL_SURFACES,
      consoleSurface({ assets: fileAssets() }),
      localObjectsSurface(transferStorage, gw.clock, config.TRANSFER_MAX_BYTES),
    ]);

    let demo: { secrets: Record<string, string>; inbox: string } | undefined;
    if (config.DEMO) {
      const backends: DemoBackend[] = [
        await startProviderBackend("fleetco", base),
        await startConsumerBackend("insureco", base),
      ];
      for (const b of backends) cleanups.push(() => b.close());
      const [provider, consumer] = backends as [DemoBackend, DemoBackend];
      const { token } = await issueAccessToken(
        gw.keys.signer,
        { issuer: base, audience: base, maxLifetimeSeconds: 300 },
        { sub: "local-demo", scopes: ["admin"], ttlSeconds: 300 },
        gw.clock(),
      );
      const seeded = await seedDemo(
        operatorCaller(app, token),
        { provider: provider.url, consumer: consumer.url },
        gw.clock(),
      );
      demo = { secrets: { ...seeded.secrets }, inbox: consumer.url };
    }

    const worker = startOutboxWorker(gw);
    cleanups.push(() => worker.stop());
    // Transfers under way finish (or fail) before the stores stop.
    cleanups.push(() => transferDispatcher.idle());
    const sweeper = startReplaySweeper(objects, log, gw.clock);
    cleanups.push(() => sweeper.stop());
    const server = await listen(app, config.HOST, config.PORT, signIn.idp);
    cleanups.push(() => closeServer(server));
    return {
      url: base,
      gateway: gw,
      operator: { id: operator.clientId, secret: operator.clientSecret },
      finance: { id: finance.clientId, secret: finance.clientSecret },
      demoSecrets: demo?.secrets ?? {},
      console: {
        url: `${base}/console`,
        issuer: signIn.settings.issuer,
        operator: signIn.people?.operator,
        finance: signIn.people?.finance,
      },
      tour: tour({
        base,
        dataDir: config.dataDir,
        operator: { id: operator.clientId, secret: operator.clientSecret },
        finance: { id: finance.clientId, secret: finance.clientSecret },
        demo,
        console: {
          url: `${base}/console`,
          issuer: signIn.settings.issuer,
          ...(signIn.people === undefined
            ? {}
            : {
                people: [
                  { role: "operator", ...signIn.people.operator },
                  { role: "finance", ...signIn.people.finance },
                ],
              }),
        },
      }),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/**
 * Serves the app with node:http. Path tricks are refused on the raw target
 * before the URL parser can normalise them, and the raw target is handed to
 * the app so that exchange paths are cut from what the caller really sent.
 */
export function listen(
  app: ReturnType<typeof createApp>,
  host: string,
  port: number,
  /** Mounted ahead of the app: the embedded sign-in provider under /idp. */
  ahead?: { handle(req: IncomingMessage, res: ServerResponse): boolean },
  timeouts: ServerTimeouts = DEFAULT_TIMEOUTS,
): Promise<Server> {
  const listener = getRequestListener((req, env) =>
    app.fetch(req, { rawTarget: (env as { incoming: IncomingMessage }).incoming.url }),
  );
  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES },
    (req: IncomingMessage, res: ServerResponse) => {
      const problem = rawPathProblem(req.url ?? "/");
      if (problem !== null) {
        const r = problemResponse(new GatewayError("invalid_path", problem));
        res.writeHead(r.status, {
          "Content-Type": "application/problem+json",
          "X-Content-Type-Options": "nosniff",
          "X-Request-Id": crypto.randomUUID(),
        });
        void r.text().then((t) => res.end(t));
        req.resume();
        return;
      }
      if (ahead?.handle(req, res)) return;
      if (req.url?.startsWith(`${LOCAL_OBJECTS_PATH}/`)) idleLimit(req, res, timeouts.idleMs);
      else requestLimit(req, res, timeouts.requestMs, refuse);
      void listener(req, res);
    },
  );
  // Requests node's own parser refuses (control bytes in the target or a
  // header, oversized headers) still get problem details and a request id.
  const refuse = (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) return socket.destroy();
    const problem =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new GatewayError("headers_too_large", "the request headers are too large")
        : new GatewayError("invalid_request", "the request is not valid HTTP");
    const body = JSON.stringify(problemBody(problem));
    socket.end(
      `HTTP/1.1 ${problem.status} ${problemTitle(problem.status)}\r\n` +
        "Content-Type: application/problem+json\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${crypto.randomUUID()}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  };
  server.on("clientError", refuse);
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  // Node's request timeout is the server's for every route: it is applied
  // per request instead (requestLimit), so that the streaming routes are exempt.
  server.requestTimeout = 0;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

export interface ServerTimeouts {
  /** A request's whole body must have arrived by then (all routes but the streaming ones). */
  readonly requestMs: number;
  /**
   * The streaming routes (`/local-objects`: an upload's PUT, a body's GET) take
   * as long as the body does, but the socket may not go this long without a
   * byte either way (a stalled client holds no socket for ever).
   */
  readonly idleMs: number;
}

const DEFAULT_TIMEOUTS: ServerTimeouts = { requestMs: 60_000, idleMs: 60_000 };

/** As node's requestTimeout: a request not received whole in time is refused and its socket closed. */
function requestLimit(
  req: IncomingMessage,
  res: ServerResponse,
  ms: number,
  refuse: (err: NodeJS.ErrnoException, socket: Duplex) => void,
): void {
  const timer = setTimeout(() => {
    if (req.complete) return;
    if (res.headersSent) req.socket.destroy();
    else
      refuse(
        Object.assign(new Error("request timeout"), { code: "ERR_HTTP_REQUEST_TIMEOUT" }),
        req.socket,
      );
  }, ms);
  timer.unref();
  res.once("close", () => clearTimeout(timer));
}

/**
 * The socket of a streaming request is closed once idle (no byte read or
 * written) for `ms`, unless the wait is the gateway's own: the body arrived
 * whole and the answer has not started (the store completing an upload).
 */
function idleLimit(req: IncomingMessage, res: ServerResponse, ms: number): void {
  res.setTimeout(ms, () => {
    if (!(req.complete && !res.headersSent)) res.socket?.destroy();
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
