/**
 * The audit trail: append-only and hash-chained. Filters and paging through
 * GET /admin/audit; what it must hold (operator actions, tokens issued, leak
 * blocks); GET /admin/audit/verify on an intact chain, after tampering with
 * any stored field of an entry (straight in DynamoDB), after removing,
 * reordering entries or moving the head; and concurrent appends.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../functions/store/audit.ts";
import { json } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { type AuditItem, accessToken, adminJson, auditAll, read, secretToken } from "./helpers.ts";

let t: TestGateway;
let eco: Ecosystem;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
});
afterAll(() => eco.close());

interface Verdict {
  valid: boolean;
  entries: number;
  firstBroken: string | null;
}
const verify = () => adminJson<Verdict>(t, "GET", "/admin/audit/verify");

const table = () => t.gw.db.name("audit");
const entryKey = (id: string) => ({ pk: { S: "CHAIN" }, sk: { S: `E#${id}` } });
const headKey = { pk: { S: "CHAIN" }, sk: { S: "HEAD" } };

async function getItem(key: Record<string, { S: string }>) {
  const out = await t.client.send(
    new GetItemCommand({ TableName: table(), Key: key, ConsistentRead: true }),
  );
  if (out.Item === undefined) throw new Error(`no item ${JSON.stringify(key)}`);
  return out.Item;
}
const putItem = (item: Record<string, unknown>) =>
  t.client.send(new PutItemCommand({ TableName: table(), Item: item as never }));

/** Changes the stored item, checks what verify says, and puts the original back. */
async function tampered(
  key: Record<string, { S: string }>,
  change: () => Promise<unknown>,
): Promise<Verdict> {
  const original = await getItem(key);
  try {
    await change();
    return await verify();
  } finally {
    await putItem(original);
  }
}

function setDoc(id: string, edit: (doc: Record<string, unknown>) => void) {
  return async () => {
    const item = await getItem(entryKey(id));
    const doc = JSON.parse(item.doc?.S ?? "{}") as Record<string, unknown>;
    edit(doc);
    await t.client.send(
      new UpdateItemCommand({
        TableName: table(),
        Key: entryKey(id),
        UpdateExpression: "SET doc = :d",
        ExpressionAttributeValues: { ":d": { S: JSON.stringify(doc) } },
      }),
    );
  };
}

describe("what the trail holds", () => {
  it("records operator actions, tokens issued and leak blocks with actor, target and request id", async () => {
    const leaky = await createEcosystem(t, {
      providerHandler: json({ items: [{ ...RECORDS[0], vin: "CAL-999999" }] }),
    });
    try {
      const token = await leaky.partnerToken(leaky.ids.consumer);
      const res = await read(t, leaky, token);
      expect(res.status).toBe(502);
      const requestId = res.headers.get("X-Request-Id");
      const blocks = await auditAll(t, { action: "exchange.leak_blocked" });
      expect(blocks.find((e) => e.requestId === requestId)).toMatchObject({
        actor: "gateway",
        target: `agreement:${leaky.agreement}`,
        partners: [leaky.ids.consumer, leaky.ids.provider].sort(),
        details: expect.objectContaining({ dataset: leaky.ids.dataset, path: "vin" }),
      });
      const json = JSON.stringify(blocks);
      expect(json).not.toContain("CAL-999999");

      const issued = await auditAll(t, { partner: leaky.ids.consumer, action: "token.issue" });
      expect(issued).toHaveLength(1);
      expect(issued[0]).toMatchObject({
        actor: leaky.ids.consumer,
        target: `client:${leaky.ids.consumer}`,
        details: expect.objectContaining({ scopes: [`agreement:${leaky.agreement}`] }),
      });
      expect(JSON.stringify(issued)).not.toContain(token);

      const ops = await auditAll(t, { partner: leaky.ids.provider });
      expect(ops.map((e) => e.action)).toEqual(
        expect.arrayContaining(["partner.create", "dataset.create", "agreement.create"]),
      );
      for (const e of ops.filter((x) => x.actor === "operator"))
        expect(e.requestId, e.action).toBeTruthy();
    } finally {
      await leaky.close();
    }
  });

  it("filters by partner, action and time window, newest first, with paging", async () => {
    const from = t.gw.clock().toISOString();
    const e2 = await createEcosystem(t);
    try {
      for (let i = 0; i < 3; i++) {
        await adminJson(t, "POST", `/admin/partners/${e2.ids.consumer}/suspend`, {
          reason: `r${i}`,
        });
        await adminJson(t, "POST", `/admin/partners/${e2.ids.consumer}/resume`, {
          reason: `r${i}`,
        });
      }
      const to = t.gw.clock().toISOString();
      const everything = await auditAll(t);
      const inWindow = everything.filter(
        (e) =>
          e.partners.includes(e2.ids.consumer) &&
          Date.parse(e.at) >= Date.parse(from) &&
          Date.parse(e.at) <= Date.parse(to),
      );
      expect(inWindow.length).toBeGreaterThanOrEqual(8);

      const filtered = await auditAll(t, { partner: e2.ids.consumer, from, to });
      expect(filtered.map((e) => e.id)).toEqual(inWindow.map((e) => e.id));
      const seqs = filtered.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => b - a));

      const paged: AuditItem[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const q = new URLSearchParams({
          partner: e2.ids.consumer,
          from,
          to,
          limit: "3",
          ...(cursor === null ? {} : { cursor }),
        });
        const page = await adminJson<{ items: AuditItem[]; next: string | null }>(
          t,
          "GET",
          `/admin/audit?${q}`,
        );
        expect(page.items.length).toBeLessThanOrEqual(3);
        paged.push(...page.items);
        cursor = page.next;
        pages++;
      } while (cursor !== null);
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(paged.map((e) => e.id)).toEqual(filtered.map((e) => e.id));

      const suspends = await auditAll(t, { partner: e2.ids.consumer, action: "partner.suspend" });
      expect(suspends.map((e) => e.reason)).toEqual(["r2", "r1", "r0"]);
      const none = await auditAll(t, { partner: e2.ids.consumer, to: from });
      expect(none.filter((e) => e.action === "partner.suspend")).toEqual([]);
      const bad = await t.call("GET", "/admin/audit?from=yesterday", {
        token: await t.token("operator", ["admin"]),
      });
      expect(bad.status).toBe(400);
    } finally {
      await e2.close();
    }
  });
});

describe("verification", () => {
  it("finds the chain valid, each entry linked to the one before", async () => {
    const v = await verify();
    expect(v).toEqual({ valid: true, entries: v.entries, firstBroken: null });
    const all = await auditAll(t);
    expect(v.entries).toBe(all.length);
    const ids = all.map((e) => e.id).reverse();
    expect(ids[0]).toBe("000000000001");
    expect(ids.at(-1)).toBe(String(all.length).padStart(12, "0"));
  });

  it("detects a change to any field of an entry's doc and names that entry", async () => {
    const all = await auditAll(t);
    const target = all.find((e) => e.reason !== null && e.details !== undefined);
    if (target === undefined) throw new Error("no entry with a reason and details");
    const fields = Object.keys(await getDocOf(target.id));
    expect(fields).toEqual(
      expect.arrayContaining(["id", "seq", "at", "actor", "action", "target", "reason"]),
    );
    expect(fields).toEqual(
      expect.arrayContaining(["requestId", "partners", "details", "prevHash", "hash"]),
    );
    for (const field of fields) {
      const v = await tampered(
        entryKey(target.id),
        setDoc(target.id, (doc) => {
          const value = doc[field];
          doc[field] =
            typeof value === "number"
              ? value + 1
              : typeof value === "string"
                ? `${value}x`
                : Array.isArray(value)
                  ? [...value, "someone-else"]
                  : value === null
                    ? "now set"
                    : { ...(value as object), added: true };
        }),
      );
      expect(v, field).toMatchObject({ valid: false, firstBroken: target.id });
    }
    expect((await verify()).valid).toBe(true);
  });

  it("detects a removed member, a doc that is not JSON and a changed `at` attribute", async () => {
    const [newest, , third] = await auditAll(t);
    if (newest === undefined || third === undefined) throw new Error("too few entries");
    const removed = await tampered(
      entryKey(third.id),
      setDoc(third.id, (doc) => {
        delete doc.reason;
      }),
    );
    expect(removed).toMatchObject({ valid: false, firstBroken: third.id });
    const garbage = await tampered(entryKey(third.id), () =>
      t.client.send(
        new UpdateItemCommand({
          TableName: table(),
          Key: entryKey(third.id),
          UpdateExpression: "SET doc = :d",
          ExpressionAttributeValues: { ":d": { S: "null" } },
        }),
      ),
    );
    expect(garbage).toMatchObject({ valid: false, firstBroken: third.id });
    for (const id of [third.id, newest.id]) {
      const at = await tampered(entryKey(id), () =>
        t.client.send(
          new UpdateItemCommand({
            TableName: table(),
            Key: entryKey(id),
            UpdateExpression: "SET #at = :at",
            ExpressionAttributeNames: { "#at": "at" },
            ExpressionAttributeValues: { ":at": { S: "2020-01-01T00:00:00.000Z" } },
          }),
        ),
      );
      expect(at).toMatchObject({ valid: false, firstBroken: id });
    }
  });

  it("names the next entry when a changed entry's hash was recomputed", async () => {
    const all = await auditAll(t);
    const [, next, target] = all;
    if (next === undefined || target === undefined) throw new Error("too few entries");
    const { entryHash } = await import("../../functions/store/audit.ts");
    const v = await tampered(
      entryKey(target.id),
      setDoc(target.id, (doc) => {
        doc.actor = "nobody";
        const { hash: _old, ...body } = doc;
        doc.hash = entryHash(body as never);
      }),
    );
    expect(v).toMatchObject({ valid: false, firstBroken: next.id });
  });

  it("detects a removed entry, the last one removed, reordered entries and a moved head", async () => {
    const all = await auditAll(t);
    const [last, b, a] = all;
    if (last === undefined || a === undefined || b === undefined) throw new Error("too few");

    const removed = await tampered(entryKey(a.id), () =>
      t.client.send(new DeleteItemCommand({ TableName: table(), Key: entryKey(a.id) })),
    );
    expect(removed).toMatchObject({ valid: false, firstBroken: a.id });

    const truncated = await tampered(entryKey(last.id), () =>
      t.client.send(new DeleteItemCommand({ TableName: table(), Key: entryKey(last.id) })),
    );
    expect(truncated).toMatchObject({ valid: false, firstBroken: last.id });

    // Swap what two neighbouring entries hold.
    const itemA = await getItem(entryKey(a.id));
    const itemB = await getItem(entryKey(b.id));
    try {
      await putItem({ ...itemB, sk: itemA.sk });
      await putItem({ ...itemA, sk: itemB.sk });
      expect(await verify()).toMatchObject({ valid: false, firstBroken: a.id });
    } finally {
      await putItem(itemA);
      await putItem(itemB);
    }

    for (const edit of [
      { UpdateExpression: "SET #h = :v", name: "hash", value: { S: "0".repeat(64) } },
      { UpdateExpression: "SET #h = :v", name: "seq", value: { N: String(last.seq - 1) } },
      { UpdateExpression: "SET #h = :v", name: "seq", value: { N: String(last.seq + 1) } },
    ]) {
      const v = await tampered(headKey, () =>
        t.client.send(
          new UpdateItemCommand({
            TableName: table(),
            Key: headKey,
            UpdateExpression: edit.UpdateExpression,
            ExpressionAttributeNames: { "#h": edit.name },
            ExpressionAttributeValues: { ":v": edit.value },
          }),
        ),
      );
      expect(v.valid, `${edit.name} = ${JSON.stringify(edit.value)}`).toBe(false);
      expect(v.firstBroken).toMatch(/^\d{12}$/);
    }
    expect((await verify()).valid).toBe(true);
  });
});

async function getDocOf(id: string): Promise<Record<string, unknown>> {
  const item = await getItem(entryKey(id));
  return JSON.parse(item.doc?.S ?? "{}") as Record<string, unknown>;
}

describe("concurrent appends", () => {
  it("keeps the chain whole under 50 token requests at once", async () => {
    const before = await verify();
    const id = eco.ids.consumer;
    const results = await Promise.all(
      Array.from({ length: 50 }, () =>
        secretToken(t, id, eco.secrets[id] ?? "", `agreement:${eco.agreement}`),
      ),
    );
    const tokens = await Promise.all(results.map(accessToken));
    expect(new Set(tokens).size).toBe(50);
    const after = await verify();
    expect(after).toMatchObject({ valid: true, firstBroken: null });
    expect(after.entries).toBe(before.entries + 50);
  }, 120_000);

  it("keeps the chain whole when several processes append at once", async () => {
    const before = await verify();
    // Three audit logs over the same table: as three Lambda instances would be.
    const logs = [t.gw.audit, new AuditLog(t.gw.db, t.gw.clock), new AuditLog(t.gw.db, t.gw.clock)];
    const appended = await Promise.all(
      logs.flatMap((log, i) =>
        Array.from({ length: 10 }, (_, j) =>
          log.append({ actor: `worker-${i}`, action: "test.append", target: `n:${j}` }),
        ),
      ),
    );
    expect(appended.every((r) => r.ok)).toBe(true);
    const seqs = appended.map((r) => (r.ok ? r.entry.seq : 0));
    expect(new Set(seqs).size).toBe(30);
    const after = await verify();
    expect(after).toMatchObject({ valid: true, firstBroken: null });
    expect(after.entries).toBe(before.entries + 30);
  });
});
