/**
 * Grouped reads (functions/token/grouped-reads.ts) over a Db whose getMany
 * the test answers by hand: a read alone goes at once; reads asked while a
 * batch is in flight go together in the next one, a key asked twice read
 * once; no read is ever answered by a batch sent before it was asked; a
 * batch holds at most 100 distinct keys; a failed batch fails each of its
 * reads with the same error, and the next reads go on.
 */
import { describe, expect, it } from "vitest";
import { type Item, key, S } from "../../../functions/store/codec.ts";
import type { KeyRef } from "../../../functions/store/db.ts";
import { GroupedReads } from "../../../functions/token/grouped-reads.ts";

interface Call {
  refs: readonly KeyRef[];
  answer(items?: (Item | undefined)[]): void;
  fail(err: unknown): void;
}

/** A getMany that records each call and waits for the test to answer it. */
function handDb() {
  const calls: Call[] = [];
  const db = {
    getMany: (refs: readonly KeyRef[]) =>
      new Promise<(Item | undefined)[]>((resolve, reject) => {
        calls.push({
          refs,
          // By default each key's item names its own pk, as the store would hold.
          answer: (items) =>
            resolve(items ?? refs.map((r) => ({ ...r.key, v: S(`${r.key.pk?.S}`) }))),
          fail: reject,
        });
      }),
  };
  return { db, calls };
}

const ref = (id: string): KeyRef => ({ table: "registry", key: key(id, "X") });
const tick = () => new Promise((r) => setImmediate(r));
const pks = (items: (Item | undefined)[]) => items.map((i) => i?.pk?.S);

describe("grouped reads", () => {
  it("send a read alone at once, and group the reads asked while it is in flight", async () => {
    const { db, calls } = handDb();
    const reads = new GroupedReads(db, 1);
    const first = reads.read([ref("a"), ref("b")]);
    expect(calls).toHaveLength(1);
    const second = reads.read([ref("b"), ref("c")]);
    const third = reads.read([ref("c"), ref("d")]);
    await tick();
    expect(calls).toHaveLength(1); // waiting for the one in flight
    calls[0]?.answer();
    expect(pks(await first)).toEqual(["a", "b"]);
    await tick();
    expect(calls).toHaveLength(2);
    // One batch for both, each key once.
    expect(calls[1]?.refs.map((r) => r.key.pk?.S)).toEqual(["b", "c", "d"]);
    calls[1]?.answer();
    expect(pks(await second)).toEqual(["b", "c"]);
    expect(pks(await third)).toEqual(["c", "d"]);
    expect(reads.batches).toBe(2);
  });

  it("never answer a read with a batch sent before it was asked", async () => {
    const { db, calls } = handDb();
    const reads = new GroupedReads(db, 1);
    const early = reads.read([ref("a")]);
    const late = reads.read([ref("a")]);
    // The item changed after the first batch went out; the later read sees the change.
    calls[0]?.answer([{ ...key("a", "X"), v: S("old") }]);
    expect((await early)[0]?.v?.S).toBe("old");
    await tick();
    calls[1]?.answer([{ ...key("a", "X"), v: S("new") }]);
    expect((await late)[0]?.v?.S).toBe("new");
  });

  it("send up to `inFlight` batches at once", async () => {
    const { db, calls } = handDb();
    const reads = new GroupedReads(db, 2);
    void reads.read([ref("a")]);
    void reads.read([ref("b")]);
    void reads.read([ref("c")]);
    expect(calls.map((c) => c.refs.length)).toEqual([1, 1]);
  });

  it("cut a batch at 100 distinct keys", async () => {
    const { db, calls } = handDb();
    const reads = new GroupedReads(db, 1);
    void reads.read([ref("first")]);
    const many = Array.from({ length: 3 }, (_, i) =>
      reads.read(Array.from({ length: 40 }, (_, j) => ref(`k${i}-${j}`))),
    );
    calls[0]?.answer();
    await tick();
    expect(calls[1]?.refs).toHaveLength(80);
    calls[1]?.answer();
    await tick();
    expect(calls[2]?.refs).toHaveLength(40);
    calls[2]?.answer();
    const answered = await Promise.all(many);
    expect(answered.map((items) => items.length)).toEqual([40, 40, 40]);
    expect(answered[2]?.[39]?.pk?.S).toBe("k2-39");
  });

  it("fail every read of a failed batch with its error, and go on", async () => {
    const { db, calls } = handDb();
    const reads = new GroupedReads(db, 1);
    const first = reads.read([ref("a")]);
    const grouped = [reads.read([ref("b")]), reads.read([ref("c")])];
    calls[0]?.answer();
    await first;
    await tick();
    const fault = new Error("store down");
    calls[1]?.fail(fault);
    for (const r of await Promise.allSettled(grouped))
      expect(r).toEqual({ status: "rejected", reason: fault });
    const after = reads.read([ref("d")]);
    await tick();
    calls[2]?.answer();
    expect(pks(await after)).toEqual(["d"]);
  });

  it("refuse more than 100 keys in one read", async () => {
    const { db } = handDb();
    const reads = new GroupedReads(db, 1);
    await expect(
      reads.read(Array.from({ length: 101 }, (_, i) => ref(`k${i}`))),
    ).rejects.toBeInstanceOf(RangeError);
  });
});
