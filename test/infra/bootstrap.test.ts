/** `npm run bootstrap`: the first operator and finance clients of a fresh deployment. */
import { execFile } from "node:child_process";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { scryptSecrets } from "../../functions/auth/secrets.ts";
import { createTestGateway, dynamoEndpoint } from "../support/gateway.ts";

const run = promisify(execFile);

describe("bootstrap of a fresh deployment", () => {
  it("writes hashed operator and finance clients into the stack's tables and prints each secret once", async () => {
    const t = await createTestGateway();
    const tables = t.gw.db.tables;
    const dir = await mkdtemp(join(tmpdir(), "dsg-boot-"));
    const outputs = join(dir, "cdk-outputs.json");
    await writeFile(
      outputs,
      JSON.stringify({
        "DataSharingGateway-dev": {
          ApiUrl: "https://abc.execute-api.eu-north-1.amazonaws.com",
          Issuer: "https://abc.execute-api.eu-north-1.amazonaws.com",
          RegistryTableName: tables.registry,
          CredentialsTableName: tables.credentials,
          MeterTableName: tables.meter,
          AuditTableName: tables.audit,
          OutboxTableName: tables.outbox,
        },
      }),
    );
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        "infra/bootstrap-clients.ts",
        "--outputs",
        outputs,
        "--operator",
        "ops-alice",
        "--finance",
        "fin-bob",
      ],
      {
        env: {
          ...process.env,
          AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint(),
          AWS_REGION: "eu-north-1",
          AWS_ACCESS_KEY_ID: "local",
          AWS_SECRET_ACCESS_KEY: "local",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        },
      },
    );
    const secret = (who: string) => new RegExp(`${who} / ([A-Za-z0-9_-]{43})`).exec(stdout)?.[1];
    const opSecret = secret("ops-alice");
    const finSecret = secret("fin-bob");
    expect(opSecret).toBeDefined();
    expect(finSecret).toBeDefined();
    const op = await t.gw.credentials.get("ops-alice");
    expect(op?.value.role).toBe("admin");
    // scrypt: the bootstrap holds no pepper (the token function upgrades the hash on first use).
    expect((await scryptSecrets.verify(opSecret ?? "", op?.value.secretHash)).ok).toBe(true);
    expect(JSON.stringify(op)).not.toContain(opSecret);
    const fin = await t.gw.credentials.get("fin-bob");
    expect(fin?.value.role).toBe("metrics:read");
    expect((await scryptSecrets.verify(finSecret ?? "", fin?.value.secretHash)).ok).toBe(true);
    const audit = await t.gw.audit.list({ action: "client.create" }, 10);
    expect(audit.items.map((e) => e.target)).toEqual(
      expect.arrayContaining(["client:ops-alice", "client:fin-bob"]),
    );
  }, 60_000);
});
