/**
 * What a token request reads (functions/token/token-reads.ts): the client,
 * its partner item, the agreement and, once the agreement was granted
 * before, its other party, in one consistent BatchGetItem; statuses still
 * read every time, so a suspended agreement, a suspended client or a
 * phased-out other party is refused on the very next request of a process
 * that granted before; the scope's errors keep their order.
 */
import type { BatchGetItemCommandInput } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localDynamoClient } from "../../functions/local/server.ts";
import { accessToken, admin, codeOf, secretToken } from "../operators/helpers.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, dynamoEndpoint, type TestGateway } from "../support/gateway.ts";

/** Every read of the registry or credentials table: the operation and the keys it names. */
const reads: { op: string; keys: string[] }[] = [];

function countingClient() {
  const client = localDynamoClient(dynamoEndpoint());
  client.middlewareStack.add(
    (next, context) => (args) => {
      const op = (context.commandName ?? "").replace(/Command$/, "");
      const input = args.input as unknown as Record<string, unknown>;
      if (op === "BatchGetItem") {
        const items = (input as unknown as BatchGetItemCommandInput).RequestItems ?? {};
        const keys = Object.entries(items).flatMap(([table, k]) =>
          (k.Keys ?? []).map((key) => `${table.split("-").at(-1)}:${key.pk?.S}`),
        );
        if (keys.some((k) => !k.startsWith("audit:"))) reads.push({ op, keys });
      } else if (op === "GetItem" || op === "Query") {
        const table = String(input.TableName ?? "");
        if (!/audit$/.test(table)) reads.push({ op, keys: [table] });
      }
      return next(args);
    },
    { step: "initialize", name: "testReadCounter" },
  );
  return client;
}

let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway({ client: countingClient() });
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

const consumerToken = () =>
  secretToken(
    t,
    eco.ids.consumer,
    eco.secrets[eco.ids.consumer] ?? "",
    `agreement:${eco.agreement}`,
  );

async function transition(path: string, body: Record<string, string> = {}) {
  const res = await admin(t, "POST", path, { reason: "test", ...body });
  expect(res.status, path).toBe(200);
}

describe("the token request's reads", () => {
  it("are one BatchGetItem once the agreement's other party is known", async () => {
    reads.length = 0;
    expect((await consumerToken()).status).toBe(200);
    // First sight of the agreement: its provider is read after it.
    expect(reads).toEqual([
      {
        op: "BatchGetItem",
        keys: expect.arrayContaining([
          `credentials:C#${eco.ids.consumer}`,
          `registry:A#${eco.agreement}`,
          `registry:P#${eco.ids.consumer}`,
        ]),
      },
      { op: "BatchGetItem", keys: [`registry:P#${eco.ids.provider}`] },
    ]);
    reads.length = 0;
    expect((await consumerToken()).status).toBe(200);
    expect(reads).toHaveLength(1);
    expect([...(reads[0]?.keys ?? [])].sort()).toEqual(
      [
        `credentials:C#${eco.ids.consumer}`,
        `registry:A#${eco.agreement}`,
        `registry:P#${eco.ids.consumer}`,
        `registry:P#${eco.ids.provider}`,
      ].sort(),
    );
  });

  it("still see the agreement's status at once: suspended, then resumed", async () => {
    expect((await consumerToken()).status).toBe(200);
    await transition(`/admin/agreements/${eco.agreement}/suspend`);
    const refused = await consumerToken();
    expect(refused.status).toBe(400);
    expect(await codeOf(refused)).toBe("invalid_scope");
    await transition(`/admin/agreements/${eco.agreement}/resume`);
    await accessToken(await consumerToken());
  });

  it("still see the client's own status at once", async () => {
    expect((await consumerToken()).status).toBe(200);
    await transition(`/admin/partners/${eco.ids.consumer}/suspend`);
    const refused = await consumerToken();
    expect(refused.status).toBe(401);
    expect(await codeOf(refused)).toBe("invalid_client");
    await transition(`/admin/partners/${eco.ids.consumer}/resume`);
    await accessToken(await consumerToken());
  });

  it("answer a wrong secret with invalid_client before a malformed scope", async () => {
    const res = await secretToken(t, eco.ids.consumer, "wrong", "agreement:%%%");
    expect(res.status).toBe(401);
    expect(await codeOf(res)).toBe("invalid_client");
    const bad = await secretToken(t, eco.ids.consumer, eco.secrets[eco.ids.consumer] ?? "", "x y");
    expect(bad.status).toBe(400);
    expect(await codeOf(bad)).toBe("invalid_scope");
  });
  it("still see the other party's status at once: phased out, the agreement has ended", async () => {
    expect((await consumerToken()).status).toBe(200);
    const at = new Date(t.gw.clock().getTime() + 60_000).toISOString();
    await transition(`/admin/partners/${eco.ids.provider}/phase-out`, { at });
    expect((await consumerToken()).status).toBe(200);
    t.clock.offsetMs += 120_000;
    try {
      const refused = await consumerToken();
      expect(refused.status).toBe(400);
      expect(await codeOf(refused)).toBe("invalid_scope");
    } finally {
      t.clock.offsetMs -= 120_000;
    }
  });
});
