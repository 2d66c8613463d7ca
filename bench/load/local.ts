/**
 * The local server as the load tools use it: `startLocalGateway` (the same
 * code `npm start` runs) with DEMO=0, a temporary DATA_DIR and DynamoDB Local
 * in memory, plus operator and finance API clients holding tokens from the
 * real token endpoint. `stop()` removes everything it started.
 */
import { mkdtemp, rm } from "node:fs/promises";
import type http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseLocalEnv } from "../../functions/local/config.ts";
import { freePort, startDynamoLocal } from "../../functions/local/dynamo-local.ts";
import { type LocalGateway, startLocalGateway } from "../../functions/local/server.ts";
import { accessToken, JsonApi, keepAliveAgent } from "./http.ts";

export interface LoadTarget {
  readonly local: LocalGateway;
  readonly base: string;
  /** Operator calls (scope admin), on an agent of their own. */
  readonly operator: JsonApi;
  /** Finance calls (scope metrics:read). */
  readonly finance: JsonApi;
  /** The agent of operator and finance calls. */
  readonly adminAgent: http.Agent;
  /** Fetches fresh operator and finance tokens (they last TOKEN_TTL_SECONDS). */
  refreshAdminTokens(): Promise<void>;
  stop(): Promise<void>;
}

export async function startLoadTarget(env: Record<string, string> = {}): Promise<LoadTarget> {
  const dataDir = await mkdtemp(join(tmpdir(), "dsg-load-"));
  const store = await startDynamoLocal({ dbPath: null, timeoutMs: 60_000 }).catch(
    async (err: unknown) => {
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    },
  );
  let local: LocalGateway | undefined;
  const adminAgent = keepAliveAgent(8);
  const stop = async () => {
    await local?.stop().catch(() => undefined);
    adminAgent.destroy();
    await store.stop().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    const config = parseLocalEnv({
      DEMO: "0",
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      DYNAMODB_ENDPOINT: store.endpoint,
      HOST: "127.0.0.1",
      ...env,
    });
    local = await startLocalGateway(config);
    const started = local;
    const base = started.url;
    const operator = new JsonApi(base, adminAgent);
    const finance = new JsonApi(base, adminAgent);
    const refreshAdminTokens = async () => {
      operator.bearer = await accessToken(
        adminAgent,
        base,
        started.operator.id,
        started.operator.secret,
        "admin",
      );
      finance.bearer = await accessToken(
        adminAgent,
        base,
        started.finance.id,
        started.finance.secret,
        "metrics:read",
      );
    };
    await refreshAdminTokens();
    return { local: started, base, operator, finance, adminAgent, refreshAdminTokens, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
