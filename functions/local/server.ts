/**
 * The local gateway as a value: started by `npm start`, by the tests that
 * need a real server, by the soak and the benchmarks.
 */
import { mkdir } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { getRequestListener } from "@hono/node-server";
import { createApp } from "../app.ts";
import { loadOrCreateLocalKeys } from "../auth/local-keys.ts";
import { loadOrCreatePseudonymSecret, pseudonymKeysFromSecret } from "../auth/pseudonyms.ts";
import { issueAccessToken } from "../auth/tokens.ts";
import { ensureClient, ensureTradeRules } from "../bootstrap.ts";
import { GatewayError } from "../errors.ts";
import { startOutboxWorker } from "../events/worker.ts";
import { createGateway, DEFAULT_SETTINGS, type Gateway } from "../gateway.ts";
import { problemBody, problemResponse, problemTitle } from "../http/problem.ts";
import { rawPathProblem } from "../http/raw-path.ts";
import { createLogger } from "../log.ts";
import { ensureTables, localTableNames } from "../store/create-tables.ts";
import { ALL_SURFACES } from "../surfaces/index.ts";
import type { LocalConfig } from "./config.ts";
import { type DemoBackend, startConsumerBackend, startProviderBackend } from "./demo-backends.ts";
import { type DynamoLocal, startDynamoLocal } from "./dynamo-local.ts";
import { operatorCaller, seedDemo } from "./seed.ts";
import { tour } from "./tour.ts";

export interface LocalGateway {
  readonly url: string;
  readonly gateway: Gateway;
  readonly tour: string;
  readonly operator: { id: string; secret: string };
  readonly finance: { id: string; secret: string };
  readonly demoSecrets: Readonly<Record<string, string>>;
  stop(): Promise<void>;
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

export async function startLocalGateway(config: LocalConfig): Promise<LocalGateway> {
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
    const tables = localTableNames("dsg");
    await ensureTables(client, tables);
    const base = `http://${config.HOST}:${config.PORT}`;
    const log = createLogger({ level: process.env.LOG_LEVEL === "debug" ? "debug" : "warn" });
    const gw = createGateway({
      client,
      tables,
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
      },
      log,
    });
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
    const app = createApp(gw, ALL_SURFACES);

    let demo: { secrets: Record<string, string>; inbox: string } | undefined;
    if (config.DEMO) {
      const jwks = gw.keys.publicJwks;
      const backends: DemoBackend[] = [
        await startProviderBackend("fleetco", base, jwks),
        await startConsumerBackend("insureco", base, jwks),
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
    const server = await listen(app, config.HOST, config.PORT);
    cleanups.push(() => closeServer(server));
    return {
      url: base,
      gateway: gw,
      operator: { id: operator.clientId, secret: operator.clientSecret },
      finance: { id: finance.clientId, secret: finance.clientSecret },
      demoSecrets: demo?.secrets ?? {},
      tour: tour({
        base,
        dataDir: config.dataDir,
        operator: { id: operator.clientId, secret: operator.clientSecret },
        finance: { id: finance.clientId, secret: finance.clientSecret },
        demo,
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
          "X-Request-Id": crypto.randomUUID(),
        });
        void r.text().then((t) => res.end(t));
        req.resume();
        return;
      }
      void listener(req, res);
    },
  );
  // Requests node's own parser refuses (control bytes in the target or a
  // header, oversized headers) still get problem details and a request id.
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const problem =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new GatewayError("headers_too_large", "the request headers are too large")
        : new GatewayError("invalid_request", "the request is not valid HTTP");
    const body = JSON.stringify(problemBody(problem));
    socket.end(
      `HTTP/1.1 ${problem.status} ${problemTitle(problem.status)}\r\n` +
        "Content-Type: application/problem+json\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${crypto.randomUUID()}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
