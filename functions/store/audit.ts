/**
 * The audit trail: append-only and hash-chained. Each entry carries the hash
 * of the one before; a head item names the last entry. An append is one
 * transaction with the change it records (so a change is never unaudited),
 * conditioned on the head it extends (so the chain never forks).
 */
import { createHash } from "node:crypto";
import type { Put, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { StoreUnavailableError } from "../errors.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import { canonicalJson } from "./canonical.ts";
import { type Item, key, N, num, S, str } from "./codec.ts";
import type { CancelReason, Db } from "./db.ts";
import { decodeCursor, encodeCursor, type Page } from "./paging.ts";

export interface AuditDraft {
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly reason?: string | null | undefined;
  readonly requestId?: string | null | undefined;
  /** Partners the entry concerns, for `?partner=` filtering. */
  readonly partners?: readonly string[] | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}

export interface AuditEntry {
  readonly id: string;
  readonly seq: number;
  readonly at: string;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly reason: string | null;
  readonly requestId: string | null;
  readonly partners: readonly string[];
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly prevHash: string;
  readonly hash: string;
}

export type AppendResult =
  | { readonly ok: true; readonly entry: AuditEntry }
  | { readonly ok: false; readonly reasons: readonly CancelReason[] };

export interface AuditFilter {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly partner?: string | undefined;
  readonly action?: string | undefined;
}

export const GENESIS_HASH = "0".repeat(64);
const CHAIN = "CHAIN";
const headKey = () => key(CHAIN, "HEAD");
const entrySk = (seq: number) => `E#${String(seq).padStart(12, "0")}`;
const MAX_ATTEMPTS = 25;
/** Between appends that lost the chain head to another writer. */
const HEAD_BACKOFF = { baseMs: 5, capMs: 200 };

export function entryHash(entry: Omit<AuditEntry, "hash">): string {
  return createHash("sha256").update(entry.prevHash).update(canonicalJson(entry)).digest("hex");
}

interface Head {
  readonly seq: number;
  readonly hash: string;
}

export class AuditLog {
  private head: Head | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Appends an entry together with `ops`. If a condition of `ops` fails, nothing
   * is written and their reasons come back. Appends of this process are
   * serialised; other processes are handled by retrying on the head condition.
   */
  append(draft: AuditDraft, ops: readonly TransactWriteItem[] = []): Promise<AppendResult> {
    const run = this.tail.then(() => this.appendNow(draft, ops));
    this.tail = run.catch(() => {});
    return run;
  }

  private async appendNow(
    draft: AuditDraft,
    ops: readonly TransactWriteItem[],
  ): Promise<AppendResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const head = this.head ?? (await this.readHead());
      const entry = this.build(draft, head);
      const tx = this.db.transaction();
      const recorded = ops.map((op) => tx.add(op));
      const chain = [tx.put("audit", entryPut(entry)), tx.put("audit", headPut(head, entry))];
      const result = await tx.run("append to the audit trail");
      if (result.ok) {
        this.head = { seq: entry.seq, hash: entry.hash };
        return { ok: true, entry };
      }
      const chainMoved = chain.some((item) => result.reason(item) !== "None");
      const opsFailed = recorded.some(result.failed);
      if (!chainMoved && opsFailed) return { ok: false, reasons: recorded.map(result.reason) };
      this.head = undefined;
      if (result.reasons.some((r) => r === "TransactionConflict") || chainMoved) {
        await sleep(jitteredDelay(attempt, HEAD_BACKOFF));
        continue;
      }
      throw new StoreUnavailableError(
        "append to the audit trail",
        new Error(result.reasons.join(",")),
      );
    }
    throw new StoreUnavailableError(
      "append to the audit trail",
      new Error("the chain head stayed contended"),
    );
  }

  private async readHead(): Promise<Head> {
    const item = await this.db.get("audit", headKey(), "read the audit head");
    return { seq: num(item, "seq") ?? 0, hash: str(item, "hash") ?? GENESIS_HASH };
  }

  private build(draft: AuditDraft, head: Head): AuditEntry {
    const seq = head.seq + 1;
    const body: Omit<AuditEntry, "hash"> = {
      id: String(seq).padStart(12, "0"),
      seq,
      at: this.clock().toISOString(),
      actor: draft.actor,
      action: draft.action,
      target: draft.target,
      reason: draft.reason ?? null,
      requestId: draft.requestId ?? null,
      partners: [...new Set(draft.partners ?? [])].sort(),
      // As it will read back from the store (dates as strings, no undefined members).
      ...(draft.details === undefined
        ? {}
        : { details: JSON.parse(JSON.stringify(draft.details)) as Record<string, unknown> }),
      prevHash: head.hash,
    };
    return { ...body, hash: entryHash(body) };
  }

  /** Newest first, filtered; scans back until `limit` entries match or `from` is passed. */
  async list(filter: AuditFilter, limit: number, cursor?: string): Promise<Page<AuditEntry>> {
    const items: AuditEntry[] = [];
    let start = decodeCursor(cursor);
    for (;;) {
      const out = await this.db.query(
        "audit",
        {
          KeyConditionExpression: "pk = :c AND begins_with(sk, :e)",
          ExpressionAttributeValues: { ":c": S(CHAIN), ":e": S("E#") },
          ScanIndexForward: false,
          Limit: Math.min(1000, limit * 2),
          ExclusiveStartKey: start,
        },
        "list the audit trail",
      );
      let last: Item | undefined;
      for (const item of out.Items ?? []) {
        last = item;
        const entry = parseEntry(str(item, "doc"));
        if (entry === undefined) continue;
        const at = Date.parse(entry.at);
        if (filter.from !== undefined && at < filter.from.getTime()) return { items, next: null };
        if (matches(entry, filter)) items.push(entry);
        if (items.length === limit)
          return { items, next: encodeCursor(last === undefined ? undefined : pick(last)) };
      }
      if (out.LastEvaluatedKey === undefined) return { items, next: null };
      start = out.LastEvaluatedKey;
    }
  }

  /**
   * Recomputes the chain from the first entry and checks the head against its
   * end. Names the first entry that does not continue the chain as it must
   * (the id its position in the chain gives it, whatever its stored text says):
   * a changed field, a removed or reordered entry, or a head that names
   * another end than the entries do.
   */
  async verify(): Promise<{ valid: boolean; entries: number; firstBroken: string | null }> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let entries = 0;
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "audit",
        {
          KeyConditionExpression: "pk = :c AND begins_with(sk, :e)",
          ExpressionAttributeValues: { ":c": S(CHAIN), ":e": S("E#") },
          ScanIndexForward: true,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "verify the audit trail",
      );
      for (const item of out.Items ?? []) {
        entries++;
        const link = checkLink(item, prevHash, expectedSeq);
        if (!link.ok) return { valid: false, entries, firstBroken: link.broken };
        prevHash = link.hash;
        expectedSeq++;
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    const last = expectedSeq - 1;
    const head = await this.db.get("audit", headKey(), "read the audit head");
    const headSeq = num(head, "seq") ?? 0;
    const headHash = str(head, "hash") ?? GENESIS_HASH;
    if (headSeq === last && headHash === prevHash)
      return { valid: true, entries, firstBroken: null };
    // The head names more entries than there are (the last ones were removed), fewer (entries
    // were added past it), or another hash for the last one.
    const broken = headSeq > last ? last + 1 : headSeq < last ? headSeq + 1 : Math.max(1, last);
    return { valid: false, entries, firstBroken: entryId(broken) };
  }
}

/** The entry, written once at its position in the chain. */
const entryPut = (entry: AuditEntry): Omit<Put, "TableName"> => ({
  Item: { ...key(CHAIN, entrySk(entry.seq)), doc: S(JSON.stringify(entry)), at: S(entry.at) },
  ConditionExpression: "attribute_not_exists(pk)",
});

/** The head moved to the entry, only from the head the entry extends (the chain never forks). */
const headPut = (head: Head, entry: AuditEntry): Omit<Put, "TableName"> => ({
  Item: { ...headKey(), seq: N(entry.seq), hash: S(entry.hash) },
  ConditionExpression: head.seq === 0 ? "attribute_not_exists(pk)" : "seq = :seq",
  ...(head.seq === 0 ? {} : { ExpressionAttributeValues: { ":seq": N(head.seq) } }),
});

const entryId = (seq: number) => String(seq).padStart(12, "0");
/** The key attributes of an item (a cursor resumes after it). */
const pick = (item: Item): Item => ({ pk: item.pk ?? S(""), sk: item.sk ?? S("") });

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.to !== undefined && Date.parse(entry.at) > filter.to.getTime()) return false;
  if (filter.partner !== undefined && !entry.partners.includes(filter.partner)) return false;
  if (filter.action !== undefined && entry.action !== filter.action) return false;
  return true;
}

type Link =
  | { readonly ok: true; readonly hash: string }
  | { readonly ok: false; readonly broken: string };

const isString = (v: unknown): v is string => typeof v === "string";
const isNullableString = (v: unknown) => v === null || typeof v === "string";

/** The stored doc as an entry, if it has an entry's shape. */
function parseEntry(raw: string | undefined): AuditEntry | undefined {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return undefined;
  const e = v as Record<string, unknown>;
  const ok =
    isString(e.id) &&
    typeof e.seq === "number" &&
    isString(e.at) &&
    isString(e.actor) &&
    isString(e.action) &&
    isString(e.target) &&
    isNullableString(e.reason) &&
    isNullableString(e.requestId) &&
    Array.isArray(e.partners) &&
    isString(e.prevHash) &&
    isString(e.hash);
  return ok ? (e as unknown as AuditEntry) : undefined;
}

/**
 * Whether the item at this position continues the chain: it sits where the
 * chain's next entry must sit, its doc is an entry naming that position and
 * the hash before it, its stored `at` is the doc's, and its hash is the hash
 * of its content. A failure names the entry by its position.
 */
function checkLink(item: Item, prevHash: string, expectedSeq: number): Link {
  const id = entryId(expectedSeq);
  if (str(item, "sk") !== entrySk(expectedSeq)) return { ok: false, broken: id };
  const entry = parseEntry(str(item, "doc"));
  if (entry === undefined) return { ok: false, broken: id };
  if (entry.seq !== expectedSeq || entry.id !== id) return { ok: false, broken: id };
  if (entry.prevHash !== prevHash || str(item, "at") !== entry.at) return { ok: false, broken: id };
  const { hash, ...body } = entry;
  return entryHash(body) === hash ? { ok: true, hash } : { ok: false, broken: id };
}
