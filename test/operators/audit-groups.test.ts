/**
 * Group commit of audit appends (functions/store/audit-writer.ts), against
 * DynamoDB Local: appends of one process queued on a chain share the next
 * transaction, in order, each entry linked to the one before; a group fits
 * one transaction (at most 100 items) and never touches an item twice; ops
 * that fail their conditions fail only their own append; another process
 * moving the head under a group sends the whole group round again; a store
 * fault reaches every append of the group; `maxGroup: 1` writes one
 * transaction per append; a process that lost a head to another lately reads
 * heads before writing; processes with one append each spread over the
 * chains.
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { StoreUnavailableError } from "../../functions/errors.ts";
import { type AppendResult, type AuditEntry, AuditLog } from "../../functions/store/audit.ts";
import { S } from "../../functions/store/codec.ts";
import { Db, type TransactResult } from "../../functions/store/db.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";

let t: TestGateway;

beforeAll(async () => {
  t = await createTestGateway();
});

const draft = (n: number | string) => ({ actor: "test", action: "test.group", target: `n:${n}` });
const entryOf = (r: AppendResult): AuditEntry => {
  if (!r.ok) throw new Error(`append failed: ${r.reasons.join(",")}`);
  return r.entry;
};
const chainOf = (e: AuditEntry) => (e.id.includes("-") ? e.id.split("-")[0] : "legacy");

/** `n` entries of one chain, in order, each linked to the one before. */
function expectLinked(entries: readonly AuditEntry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const [prev, e] = [entries[i - 1] as AuditEntry, entries[i] as AuditEntry];
    expect(chainOf(e)).toBe(chainOf(prev));
    expect(e.seq).toBe(prev.seq + 1);
    expect(e.prevHash).toBe(prev.hash);
  }
}

async function expectValid(): Promise<void> {
  const v = await new AuditLog(t.gw.db, t.gw.clock).verify();
  expect(v).toMatchObject({ valid: true, firstBroken: null });
}

/** A Put of a scratch item in the audit table (no chain ever uses the `TEST#` partition). */
const scratchPut = (id: string, condition?: string): TransactWriteItem => ({
  Put: {
    TableName: t.gw.db.name("audit"),
    Item: { pk: S(`TEST#${id}`), sk: S("X") },
    ...(condition === undefined ? {} : { ConditionExpression: condition }),
  },
});

/** A Db that runs `before` once, just before the first transaction of more than `items` items. */
class HookedDb extends Db {
  transactions: number[] = [];
  constructor(
    private readonly items: number,
    private readonly before: () => Promise<void>,
  ) {
    super(t.gw.db.client, t.gw.db.tables);
  }
  private fired = false;
  override async transact(
    items: readonly TransactWriteItem[],
    operation: string,
    token?: string,
  ): Promise<TransactResult> {
    this.transactions.push(items.length);
    if (!this.fired && items.length > this.items) {
      this.fired = true;
      await this.before();
    }
    return super.transact(items, operation, token);
  }
}

describe("group commit", () => {
  it("puts appends queued on a chain into the next transaction, in order, each linked to the one before", async () => {
    const log = new AuditLog(t.gw.db, t.gw.clock, { chainsInFlight: 1 });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => log.append(draft(i))));
    const entries = results.map(entryOf);
    // The first went alone (the chain was idle); the 19 that queued behind it, in one.
    expect(log.stats).toMatchObject({ appends: 20, transactions: 2, conflicts: 0 });
    expect(entries.map((e) => e.target)).toEqual(entries.map((_, i) => `n:${i}`));
    expectLinked(entries);
    await expectValid();
  });

  it("writes one transaction per append with maxGroup 1", async () => {
    const log = new AuditLog(t.gw.db, t.gw.clock, { chainsInFlight: 1, maxGroup: 1 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => log.append(draft(i))));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(log.stats).toMatchObject({ appends: 8, transactions: 8 });
    await expectValid();
  });

  it("cuts a group at 100 items, ops included", async () => {
    const db = new HookedDb(Number.POSITIVE_INFINITY, async () => {});
    const log = new AuditLog(db, t.gw.clock, { chainsInFlight: 1 });
    // 30 appends of 3 ops each: 120 items with their entries, more than one transaction holds.
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        log.append(
          draft(i),
          [0, 1, 2].map((j) => scratchPut(`cut-${i}-${j}`)),
        ),
      ),
    );
    const entries = results.map(entryOf);
    expectLinked(entries);
    // Alone; then as many as fit in 100 items (24 × 4 + the head); then the rest.
    expect(db.transactions).toEqual([5, 97, 21]);
    await expectValid();
  });

  it("never puts two appends whose ops touch the same item in one transaction", async () => {
    const db = new HookedDb(Number.POSITIVE_INFINITY, async () => {});
    const log = new AuditLog(db, t.gw.clock, { chainsInFlight: 1 });
    const results = await Promise.all([
      log.append(draft("first")),
      log.append(draft("a"), [scratchPut("same")]),
      log.append(draft("b"), [scratchPut("other")]),
      log.append(draft("c"), [scratchPut("same")]),
    ]);
    expectLinked(results.map(entryOf));
    // `c` starts the next group (DynamoDB refuses two operations on one item).
    expect(db.transactions).toEqual([2, 5, 3]);
    await expectValid();
  });

  it("fails only the appends whose ops fail their conditions; the others are written", async () => {
    const log = new AuditLog(t.gw.db, t.gw.clock, { chainsInFlight: 1 });
    const missing = "attribute_exists(pk)";
    const results = await Promise.all([
      log.append(draft("first")),
      log.append(draft("ok-1")),
      log.append(draft("refused-1"), [scratchPut("refused-1", missing)]),
      log.append(draft("ok-2"), [scratchPut("ok-2")]),
      log.append(draft("refused-2"), [scratchPut("ok-3"), scratchPut("refused-2", missing)]),
      log.append(draft("ok-3")),
    ]);
    expect(results[2]).toEqual({ ok: false, reasons: ["ConditionalCheckFailed"] });
    expect(results[4]).toEqual({ ok: false, reasons: ["None", "ConditionalCheckFailed"] });
    const written = [0, 1, 3, 5].map((i) => entryOf(results[i] as AppendResult));
    expect(written.map((e) => e.target)).toEqual(["n:first", "n:ok-1", "n:ok-2", "n:ok-3"]);
    expectLinked(written);
    // The refused appends wrote nothing: not their ops, not their entries.
    const scratch = await t.gw.db.getMany(
      ["ok-2", "ok-3", "refused-1"].map((id) => ({
        table: "audit" as const,
        key: { pk: S(`TEST#${id}`), sk: S("X") },
      })),
      "read scratch items",
    );
    expect(scratch.map((item) => item !== undefined)).toEqual([true, false, false]);
    const listed = await log.list({ action: "test.group" }, 1000);
    expect(listed.items.some((e) => e.target.startsWith("n:refused"))).toBe(false);
    await expectValid();
  });

  it("sends the whole group round again when another process moves the head under it", async () => {
    // One chain for both (the unsharded layout), so the other process must land on it.
    const other = new AuditLog(t.gw.db, t.gw.clock, { layout: "single" });
    let interloper: AuditEntry | undefined;
    const db = new HookedDb(2, async () => {
      interloper = entryOf(await other.append(draft("interloper")));
    });
    const log = new AuditLog(db, t.gw.clock, { layout: "single" });
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => log.append(draft(i))));
    const entries = results.map(entryOf);
    expect(log.stats.conflicts).toBe(1);
    expect(interloper).toBeDefined();
    const [first, ...group] = entries as [AuditEntry, ...AuditEntry[]];
    // The first append, the other process's entry, then the group, in order.
    expectLinked([first, interloper as AuditEntry, ...group]);
    expect(group.map((e) => e.target)).toEqual(group.map((_, i) => `n:${i + 1}`));
    await expectValid();
  });

  it("gives every append of a group the store fault of its transaction, and goes on after it", async () => {
    const fault = new StoreUnavailableError("append to the audit trail", "injected");
    const db = new HookedDb(2, async () => {
      throw fault;
    });
    const log = new AuditLog(db, t.gw.clock, { layout: "single" });
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => log.append(draft(i))),
    );
    expect(settled[0]?.status).toBe("fulfilled");
    for (const s of settled.slice(1)) expect(s).toEqual({ status: "rejected", reason: fault });
    // The head is read again: the next append links to what is stored.
    const after = entryOf(await log.append(draft("after")));
    expect(after.prevHash).toBe(
      entryOf((settled[0] as PromiseFulfilledResult<AppendResult>).value).hash,
    );
    await expectValid();
  });

  it("reads the head before writing while other writers move heads, instead of losing again", async () => {
    const other = new AuditLog(t.gw.db, t.gw.clock, { layout: "single" });
    const log = new AuditLog(t.gw.db, t.gw.clock, { layout: "single" });
    const pause = () => new Promise((r) => setTimeout(r, 50));
    entryOf(await log.append(draft("mine-1")));
    entryOf(await other.append(draft("theirs-1")));
    // The head it knows is stale: it loses once, and goes round again.
    entryOf(await log.append(draft("mine-2")));
    expect(log.stats.conflicts).toBe(1);
    entryOf(await other.append(draft("theirs-2")));
    await pause();
    // Now it reads the head first (it lost a race lately): no second loss.
    const last = entryOf(await log.append(draft("mine-3")));
    expect(log.stats.conflicts).toBe(1);
    expect(last.seq).toBeGreaterThan(1);
    await expectValid();
  });

  it("spreads processes with one append each over the chains", async () => {
    const logs = Array.from({ length: 16 }, () => new AuditLog(t.gw.db, t.gw.clock));
    const results = await Promise.all(logs.map((log, i) => log.append(draft(`p${i}`))));
    const chains = new Set(results.map((r) => chainOf(entryOf(r))));
    // 16 picks at random over 16 chains: fewer than 4 distinct happens about once in 10^9 runs.
    expect(chains.size).toBeGreaterThanOrEqual(4);
    await expectValid();
  });
});
