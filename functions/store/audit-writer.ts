/**
 * How appends reach the audit chains: group commit.
 *
 * Appends of this process queued on the same chain while a transaction of
 * that chain is in flight go together into the next one: each entry links to
 * the one before it (the first to the head), the head moves once, to the
 * last. One transaction then carries many entries, which is what bounds the
 * issuance rate of one busy process (DynamoDB Local even runs transactions
 * one at a time). A Lambda instance has one request in flight, so its
 * appends stay one per transaction, as before.
 *
 * Per append, nothing changes for the caller: it returns once its entry is
 * durable (with the ops passed with it, in the same transaction), or with
 * the reasons its own ops failed, or throws. A group is cut so that it fits
 * one transaction (at most 100 items, head and ops included, about 1 MB)
 * and no two of its appends touch the same item (DynamoDB refuses that).
 * When a group's transaction is cancelled:
 * - ops of some appends failed their conditions (and the chain did not
 *   move): those appends return their reasons, as they would have alone
 *   (conditions see the store as it was before the transaction), and the
 *   others go again at once, in the same order;
 * - the chain moved under it (another process appended first), or a
 *   transaction conflict: the whole group goes again on another chain after
 *   a short backoff, each append giving up (503) after MAX_ATTEMPTS;
 * - anything else, or a store fault: every append of the group gets the
 *   same error.
 */
import type { Put, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { StoreUnavailableError } from "../errors.ts";
import {
  type AuditEntry,
  chainPk,
  entryHash,
  entryId,
  entrySk,
  GENESIS_HASH,
  HEAD_SK,
  type Head,
  LEGACY_CHAIN,
} from "./audit-chain.ts";
import { jitteredDelay, sleep } from "./backoff.ts";
import { key, N, num, S, str } from "./codec.ts";
import type { CancelReason, Db } from "./db.ts";
import type { TxItem, TxResult } from "./transaction.ts";

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

export type AppendResult =
  | { readonly ok: true; readonly entry: AuditEntry }
  | { readonly ok: false; readonly reasons: readonly CancelReason[] };

/** Appends, transactions and conflicts of this process (the bench reports them). */
export interface AuditStats {
  appends: number;
  /** Append transactions run (a group of appends is one). */
  transactions: number;
  /** Transactions cancelled because another writer moved the chain head first. */
  conflicts: number;
}

export interface WriterOptions {
  readonly layout: "sharded" | "single";
  readonly chains: number;
  /** Appends one transaction may carry; 1: one transaction per append (no grouping). */
  readonly maxGroup: number;
  /** Chains this process keeps transactions in flight on before it groups on them. */
  readonly chainsInFlight: number;
}

const MAX_ATTEMPTS = 25;
/** Between attempts of a group that lost a chain head to another writer. */
const HEAD_BACKOFF = { baseMs: 5, capMs: 200 };
/** After losing a chain head to another writer, how long this process reads heads before writing. */
const CONTENDED_MS = 30_000;
/** A head learnt this recently is trusted even then (the group just before on the chain). */
const FRESH_MS = 20;
/** DynamoDB's limit of items in one transaction. */
const MAX_TRANSACTION_ITEMS = 100;
/** Well under DynamoDB's 4 MB per transaction (the estimate is of JSON text). */
const MAX_GROUP_BYTES = 1024 * 1024;

interface Pending {
  readonly draft: AuditDraft;
  readonly ops: readonly TransactWriteItem[];
  /** The items its ops touch (table, pk, sk). */
  readonly touches: readonly string[];
  readonly bytes: number;
  attempts: number;
  settle(result: AppendResult): void;
  fail(err: unknown): void;
}

interface Chain {
  readonly pk: string;
  /** The head as this process last wrote or read it; undefined: read it first. */
  head: Head | undefined;
  /** When `head` was learnt (ms). */
  headAt: number;
  /** Appends waiting for the next transaction on this chain. */
  readonly waiting: Pending[];
  /** Appends in the transaction in flight (0: none). */
  committing: number;
}

export class AuditWriter {
  readonly stats: AuditStats = { appends: 0, transactions: 0, conflicts: 0 };
  private readonly chains = new Map<string, Chain>();
  /** When another writer last moved a head under this process (ms; 0: never). */
  private lastConflictAt = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date,
    private readonly options: WriterOptions,
  ) {}

  append(draft: AuditDraft, ops: readonly TransactWriteItem[]): Promise<AppendResult> {
    return new Promise((settle, fail) => {
      const pending: Pending = {
        draft,
        ops,
        touches: ops.map(touchedItem),
        bytes: JSON.stringify(draft).length + JSON.stringify(ops).length + 512,
        attempts: 0,
        settle,
        fail,
      };
      this.enqueue(this.pickChain(), [pending], "back");
    });
  }

  private chain(pk: string): Chain {
    let c = this.chains.get(pk);
    if (c === undefined) {
      c = { pk, head: undefined, headAt: 0, waiting: [], committing: 0 };
      this.chains.set(pk, c);
    }
    return c;
  }

  /**
   * Where a new append (or a group that lost `avoid`) goes: a chain with
   * nothing in flight while fewer than `chainsInFlight` are busy (at random,
   * so processes spread over the chains); else behind the busy chain with
   * the fewest waiting, while its next group has room; else any idle chain.
   */
  private pickChain(avoid?: string): Chain {
    const { layout, chains, chainsInFlight, maxGroup } = this.options;
    if (layout === "single") return this.chain(LEGACY_CHAIN);
    const idle: Chain[] = [];
    const busy: Chain[] = [];
    for (let n = 0; n < chains; n++) {
      const pk = chainPk(n);
      if (pk === avoid && chains > 1) continue;
      const c = this.chain(pk);
      (c.committing > 0 || c.waiting.length > 0 ? busy : idle).push(c);
    }
    const anyIdle = () => idle[Math.floor(Math.random() * idle.length)] as Chain;
    if (idle.length > 0 && busy.length < chainsInFlight) return anyIdle();
    let best: Chain | undefined;
    for (const c of busy) {
      if (c.waiting.length >= maxGroup) continue;
      if (best === undefined || c.waiting.length < best.waiting.length) best = c;
    }
    if (best !== undefined) return best;
    if (idle.length > 0) return anyIdle();
    // Every chain busy and full: the least loaded.
    return busy.reduce((a, b) => (b.waiting.length < a.waiting.length ? b : a));
  }

  private enqueue(chain: Chain, pendings: Pending[], end: "front" | "back"): void {
    if (end === "front") chain.waiting.unshift(...pendings);
    else chain.waiting.push(...pendings);
    this.flush(chain);
  }

  /** Starts the chain's next transaction unless one is in flight. */
  private flush(chain: Chain): void {
    if (chain.committing > 0 || chain.waiting.length === 0) return;
    const group = this.takeGroup(chain.waiting);
    chain.committing = group.length;
    void this.commit(chain, group).finally(() => {
      chain.committing = 0;
      this.flush(chain);
    });
  }

  /** The longest prefix of `waiting` that fits one transaction, touching no item twice. */
  private takeGroup(waiting: Pending[]): Pending[] {
    const group: Pending[] = [];
    const touched = new Set<string>();
    let items = 1; // the head
    let bytes = 0;
    for (;;) {
      const next = waiting[0];
      if (next === undefined) break;
      const fits =
        group.length < this.options.maxGroup &&
        items + next.ops.length + 1 <= MAX_TRANSACTION_ITEMS &&
        bytes + next.bytes <= MAX_GROUP_BYTES &&
        !next.touches.some((t) => touched.has(t));
      if (!fits && group.length > 0) break;
      waiting.shift();
      group.push(next);
      items += next.ops.length + 1;
      bytes += next.bytes;
      for (const t of next.touches) touched.add(t);
    }
    return group;
  }

  /** One transaction for the group; settles each append or puts it back. Never rejects. */
  private async commit(chain: Chain, group: Pending[]): Promise<void> {
    let head: Head;
    let entries: AuditEntry[];
    let parts: { ops: TxItem[]; entry: TxItem }[];
    let headItem: TxItem;
    let result: TxResult;
    try {
      head = this.trusted(chain) ?? (await this.readHead(chain));
      entries = [];
      let prev = head;
      for (const p of group) {
        const entry = this.build(chain.pk, p.draft, prev);
        entries.push(entry);
        prev = entry;
      }
      const tx = this.db.transaction();
      parts = group.map((p, i) => ({
        ops: p.ops.map((op) => tx.add(op)),
        entry: tx.put("audit", entryPut(chain.pk, entries[i] as AuditEntry)),
      }));
      headItem = tx.put("audit", headPut(chain.pk, head, prev));
      this.stats.transactions++;
      result = await tx.run("append to the audit trail");
    } catch (err) {
      chain.head = undefined;
      for (const p of group) p.fail(err);
      return;
    }
    if (result.ok) {
      const last = entries[entries.length - 1] as AuditEntry;
      chain.head = { seq: last.seq, hash: last.hash };
      chain.headAt = Date.now();
      this.stats.appends += group.length;
      group.forEach((p, i) => {
        p.settle({ ok: true, entry: entries[i] as AuditEntry });
      });
      return;
    }
    const chainMoved =
      result.reason(headItem) !== "None" || parts.some((pt) => result.reason(pt.entry) !== "None");
    const opsFailed = parts.map((pt) => pt.ops.some(result.failed));
    if (!chainMoved && opsFailed.some(Boolean)) {
      // Nothing was written and the head still stands: the others go again at once.
      const rest: Pending[] = [];
      group.forEach((p, i) => {
        if (opsFailed[i]) p.settle({ ok: false, reasons: parts[i]?.ops.map(result.reason) ?? [] });
        else rest.push(p);
      });
      if (rest.length > 0) chain.waiting.unshift(...rest);
      return;
    }
    chain.head = undefined;
    if (chainMoved || result.reasons.some((r) => r === "TransactionConflict")) {
      this.stats.conflicts++;
      this.lastConflictAt = Date.now();
      this.retryElsewhere(chain, group);
      return;
    }
    const err = new StoreUnavailableError(
      "append to the audit trail",
      new Error(result.reasons.join(",")),
    );
    for (const p of group) p.fail(err);
  }

  /** Another writer is on this chain: the group tries another one, after a short backoff. */
  private retryElsewhere(lost: Chain, group: Pending[]): void {
    const again: Pending[] = [];
    for (const p of group) {
      p.attempts++;
      if (p.attempts < MAX_ATTEMPTS) again.push(p);
      else
        p.fail(
          new StoreUnavailableError(
            "append to the audit trail",
            new Error("the chain head stayed contended"),
          ),
        );
    }
    if (again.length === 0) return;
    const attempt = Math.min(...again.map((p) => p.attempts)) - 1;
    void sleep(jitteredDelay(attempt, HEAD_BACKOFF)).then(() => {
      this.enqueue(this.pickChain(lost.pk), again, "front");
    });
  }

  /**
   * The head this process knows, unless other writers have been moving heads
   * under it lately (it lost a race in the last CONTENDED_MS) and it learnt
   * this one more than FRESH_MS ago: then it is likely stale, and reading it
   * costs less than a cancelled transaction and a backoff. A process alone
   * on the trail (the local server) never reads a head twice.
   */
  private trusted(chain: Chain): Head | undefined {
    const now = Date.now();
    const contended = now - this.lastConflictAt < CONTENDED_MS;
    return contended && now - chain.headAt > FRESH_MS ? undefined : chain.head;
  }

  private async readHead(chain: Chain): Promise<Head> {
    const item = await this.db.get("audit", key(chain.pk, HEAD_SK), "read the audit head");
    chain.headAt = Date.now();
    return { seq: num(item, "seq") ?? 0, hash: str(item, "hash") ?? GENESIS_HASH };
  }

  private build(chain: string, draft: AuditDraft, head: Head): AuditEntry {
    const seq = head.seq + 1;
    const body: Omit<AuditEntry, "hash"> = {
      id: entryId(chain, seq),
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
}

/**
 * The item an op writes or checks. Every table keys on `pk` and `sk` (an op
 * keyed otherwise would count as touching the same item as any other such op
 * on its table: never grouped with it, which is safe).
 */
function touchedItem(op: TransactWriteItem): string {
  const target = op.Put ?? op.Update ?? op.Delete ?? op.ConditionCheck;
  const k = op.Put?.Item ?? op.Update?.Key ?? op.Delete?.Key ?? op.ConditionCheck?.Key;
  return JSON.stringify([target?.TableName ?? "", k?.pk?.S ?? "", k?.sk?.S ?? ""]);
}

/** The entry, written once at its position in its chain. */
const entryPut = (chain: string, entry: AuditEntry): Omit<Put, "TableName"> => ({
  Item: { ...key(chain, entrySk(entry.seq)), doc: S(JSON.stringify(entry)), at: S(entry.at) },
  ConditionExpression: "attribute_not_exists(pk)",
});

/** The chain's head moved to `last`, only from the head the group extends (no fork). */
const headPut = (chain: string, head: Head, last: Head): Omit<Put, "TableName"> => ({
  Item: { ...key(chain, HEAD_SK), seq: N(last.seq), hash: S(last.hash) },
  ConditionExpression: head.seq === 0 ? "attribute_not_exists(pk)" : "seq = :seq",
  ...(head.seq === 0 ? {} : { ExpressionAttributeValues: { ":seq": N(head.seq) } }),
});
