/**
 * The audit trail: append-only, hash-chained in several chains, anchored.
 * Filters and paging through GET /admin/audit (newest first across chains);
 * what it must hold (operator actions, tokens issued, leak blocks);
 * GET /admin/audit/verify on an intact trail, after tampering with any stored
 * field of an entry (straight in DynamoDB), after removing, reordering
 * entries or moving a head, after recomputing or cutting back a chain that
 * was anchored, after tampering with an anchor; the unsharded trail of
 * earlier versions; and concurrent appends (grouped: audit-groups.test.ts).
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { decodeJwt } from "jose";
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
/** An entry id names its chain and position: `03-000000000012`, or `000000000012` (unsharded). */
const chainOf = (id: string) => (id.includes("-") ? `CHAIN#${id.split("-")[0]}` : "CHAIN");
const positionOf = (id: string) => id.split("-").at(-1) as string;
const entryKey = (id: string) => ({ pk: { S: chainOf(id) }, sk: { S: `E#${positionOf(id)}` } });
const headKey = (id: string) => ({ pk: { S: chainOf(id) }, sk: { S: "HEAD" } });
const idAt = (id: string, seq: number) =>
  `${id.includes("-") ? `${id.split("-")[0]}-` : ""}${String(seq).padStart(12, "0")}`;
/** Entries of one chain, newest first. */
const sameChain = (all: AuditItem[], id: string) =>
  all.filter((e) => chainOf(e.id) === chainOf(id));
/** A chain with at least `n` entries, newest first. */
function chainWith(all: AuditItem[], n: number): AuditItem[] {
  for (const e of all) {
    const chain = sameChain(all, e.id);
    if (chain.length >= n) return chain;
  }
  throw new Error(`no chain with ${n} entries`);
}

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
      // Newest first across the chains; within a chain, by position.
      const times = filtered.map((e) => e.at);
      expect(times).toEqual([...times].sort().reverse());
      for (const e of filtered) {
        const seqs = sameChain(filtered, e.id).map((x) => x.seq);
        expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
      }
      // The partner's entries went to more than one chain: no single head.
      expect(new Set(filtered.map((e) => chainOf(e.id))).size).toBeGreaterThan(1);

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
  it("finds the trail valid, each entry linked to the one before in its chain", async () => {
    const v = await verify();
    expect(v).toMatchObject({ valid: true, entries: v.entries, firstBroken: null });
    const all = await auditAll(t);
    expect(v.entries).toBe(all.length);
    const chains = new Set(all.map((e) => chainOf(e.id)));
    expect(chains.size).toBeGreaterThan(1);
    for (const chain of chains) {
      expect(chain).toMatch(/^CHAIN#\d{2}$/);
      const ids = all
        .filter((e) => chainOf(e.id) === chain)
        .map((e) => e.id)
        .reverse();
      expect(ids).toEqual(ids.map((id, i) => idAt(id, i + 1)));
    }
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
    const [, next, target] = chainWith(await auditAll(t), 3);
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
    const [last, b, a] = chainWith(await auditAll(t), 3);
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
      const v = await tampered(headKey(last.id), () =>
        t.client.send(
          new UpdateItemCommand({
            TableName: table(),
            Key: headKey(last.id),
            UpdateExpression: edit.UpdateExpression,
            ExpressionAttributeNames: { "#h": edit.name },
            ExpressionAttributeValues: { ":v": edit.value },
          }),
        ),
      );
      expect(v.valid, `${edit.name} = ${JSON.stringify(edit.value)}`).toBe(false);
      expect(v.firstBroken).toMatch(/^\d{2}-\d{12}$/);
      expect(chainOf(v.firstBroken ?? "")).toBe(chainOf(last.id));
    }
    expect((await verify()).valid).toBe(true);
  });
});

async function getDocOf(id: string): Promise<Record<string, unknown>> {
  const item = await getItem(entryKey(id));
  return JSON.parse(item.doc?.S ?? "{}") as Record<string, unknown>;
}

/** Changes several stored items, checks what verify says, and puts them all back. */
async function tamperedAll(
  keys: Record<string, { S: string }>[],
  change: () => Promise<unknown>,
): Promise<Verdict> {
  const originals = await Promise.all(keys.map(getItem));
  try {
    await change();
    return await verify();
  } finally {
    for (const item of originals) await putItem(item);
  }
}

describe("anchors", () => {
  const anchorKey = (seq: number) => ({
    pk: { S: "ANCHOR" },
    sk: { S: `A#${String(seq).padStart(12, "0")}` },
  });

  it("commit to every chain's head, once per change", async () => {
    await adminJson(t, "POST", `/admin/partners/${eco.ids.consumer}/suspend`, { reason: "a" });
    await adminJson(t, "POST", `/admin/partners/${eco.ids.consumer}/resume`, { reason: "a" });
    const anchor = await t.gw.audit.anchor();
    if (anchor === null) throw new Error("nothing anchored");
    expect(await t.gw.audit.anchor()).toBeNull();
    const all = await auditAll(t);
    for (const chain of new Set(all.map((e) => chainOf(e.id)))) {
      const newest = sameChain(all, all.find((e) => chainOf(e.id) === chain)?.id ?? "")[0];
      expect(anchor.heads[chain]).toMatchObject({ seq: newest?.seq });
    }
    const v = await verify();
    expect(v).toMatchObject({ valid: true, firstBroken: null });
    expect((v as Verdict & { anchor: unknown }).anchor).toEqual({
      seq: anchor.seq,
      at: anchor.at,
      hash: anchor.hash,
    });
  });

  it("catch a chain recomputed after it was anchored (valid link by link)", async () => {
    const { entryHash } = await import("../../functions/store/audit.ts");
    const [last, target] = chainWith(await auditAll(t), 2);
    if (last === undefined || target === undefined) throw new Error("too few entries");
    const v = await tamperedAll(
      [entryKey(target.id), entryKey(last.id), headKey(last.id)],
      async () => {
        const a = await getDocOf(target.id);
        a.actor = "nobody";
        const { hash: _a, ...aBody } = a;
        a.hash = entryHash(aBody as never);
        const b = await getDocOf(last.id);
        b.prevHash = a.hash;
        const { hash: _b, ...bBody } = b;
        b.hash = entryHash(bBody as never);
        for (const [id, doc] of [
          [target.id, a],
          [last.id, b],
        ] as const) {
          await putItem({ ...(await getItem(entryKey(id))), doc: { S: JSON.stringify(doc) } });
        }
        await putItem({ ...(await getItem(headKey(last.id))), hash: { S: String(b.hash) } });
      },
    );
    expect(v).toMatchObject({ valid: false, firstBroken: last.id });
    expect((await verify()).valid).toBe(true);
  });

  it("catch a chain cut back after it was anchored, head and all", async () => {
    const [last, before] = chainWith(await auditAll(t), 2);
    if (last === undefined || before === undefined) throw new Error("too few entries");
    const v = await tamperedAll([entryKey(last.id), headKey(last.id)], async () => {
      await t.client.send(new DeleteItemCommand({ TableName: table(), Key: entryKey(last.id) }));
      const doc = await getDocOf(before.id);
      await putItem({
        ...(await getItem(headKey(last.id))),
        seq: { N: String(before.seq) },
        hash: { S: String(doc.hash) },
      });
    });
    expect(v).toMatchObject({ valid: false, firstBroken: last.id });
  });

  it("are themselves chained: a changed anchor is named", async () => {
    const v = await tampered(anchorKey(1), async () => {
      const item = await getItem(anchorKey(1));
      const doc = JSON.parse(item.doc?.S ?? "{}") as { heads: Record<string, { seq: number }> };
      for (const head of Object.values(doc.heads)) head.seq += 1;
      await putItem({ ...item, doc: { S: JSON.stringify(doc) } });
    });
    expect(v).toMatchObject({ valid: false, firstBroken: "anchor-000000000001" });
  });
});

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
    // Each token has its entry. (One process now groups its appends on a few chains rather
    // than spreading them over all: audit-groups.test.ts; processes still spread.)
    const issued = await auditAll(t, { partner: id, action: "token.issue" });
    const audited = new Set(issued.map((e) => e.details?.jti));
    expect(tokens.every((tok) => audited.has(decodeJwt(tok).jti))).toBe(true);
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
    const ids = appended.map((r) => (r.ok ? r.entry.id : ""));
    expect(new Set(ids).size).toBe(30);
    const after = await verify();
    expect(after).toMatchObject({ valid: true, firstBroken: null });
    expect(after.entries).toBe(before.entries + 30);
  });
});

describe("the unsharded trail of earlier versions", () => {
  it("is listed and verified with the rest, and its tampering named", async () => {
    const single = new AuditLog(t.gw.db, t.gw.clock, { layout: "single" });
    const written = [];
    for (let i = 0; i < 3; i++) {
      const r = await single.append({ actor: "old", action: "test.legacy", target: `n:${i}` });
      if (!r.ok) throw new Error("append failed");
      written.push(r.entry.id);
    }
    expect(written).toEqual(["000000000001", "000000000002", "000000000003"]);
    const listed = await auditAll(t, { action: "test.legacy" });
    expect(listed.map((e) => e.id)).toEqual([...written].reverse());
    expect((await verify()).valid).toBe(true);
    const v = await tampered(
      entryKey("000000000002"),
      setDoc("000000000002", (doc) => {
        doc.target = "n:x";
      }),
    );
    expect(v).toMatchObject({ valid: false, firstBroken: "000000000002" });
  });
});
