/**
 * The audit trail: append-only and tamper-evident, without a single hot item.
 *
 * Entries are spread over AUDIT_CHAINS independent hash chains: each entry
 * carries the hash of the one before it in its chain, and each chain's head
 * item names its last entry. An append is in one transaction with the change
 * it records (so a change is never unaudited), conditioned on the head of the
 * chain it extends (so no chain forks); concurrent appends of different
 * processes mostly land on different chains, so token issuance no longer
 * serialises on one item, and those of one process to the same chain share
 * a transaction (group commit: audit-writer.ts).
 * Periodically (the events function's minute tick; locally the outbox
 * worker) an anchor commits to every chain's head in one digest, itself
 * chained to the anchor before: a chain recomputed or cut back after an
 * anchor no longer matches it. Layout: audit-chain.ts.
 *
 * The `single` layout is the trail before sharding (every append extends one
 * head); it is kept so that `npm run bench` measures both in the same run.
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { InvalidRequestError, StoreUnavailableError } from "../errors.ts";
import {
  ANCHOR_PARTITION,
  type Anchor,
  type AuditEntry,
  anchorHash,
  anchorSk,
  chainPk,
  checkAnchor,
  checkLink,
  entryId,
  GENESIS_HASH,
  HEAD_SK,
  type Head,
  LEGACY_CHAIN,
  parseAnchor,
  parseEntry,
} from "./audit-chain.ts";
import {
  type AppendResult,
  type AuditDraft,
  type AuditStats,
  AuditWriter,
} from "./audit-writer.ts";
import { type Item, key, num, S, str } from "./codec.ts";
import type { Db } from "./db.ts";
import type { Page } from "./paging.ts";

export { type AuditEntry, entryHash, GENESIS_HASH } from "./audit-chain.ts";
export type { AppendResult, AuditDraft, AuditStats } from "./audit-writer.ts";

/** At most this many appends in one transaction: with the head, 100 items. */
const MAX_GROUP = 99;
const DEFAULT_CHAINS_IN_FLIGHT = 1;

export interface AuditFilter {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly partner?: string | undefined;
  readonly action?: string | undefined;
}

export interface Verdict {
  readonly valid: boolean;
  readonly entries: number;
  readonly firstBroken: string | null;
  /** The newest anchor (keep its hash elsewhere: it proves the trail up to then). */
  readonly anchor: { readonly seq: number; readonly at: string; readonly hash: string } | null;
}

/** Chains appends spread over. */
export const AUDIT_CHAINS = 16;

export interface AuditLogOptions {
  /**
   * `sharded`: appends spread over `chains` chains; `single`: every append
   * extends the one chain of the unsharded trail.
   * @default "sharded"
   */
  readonly layout?: "sharded" | "single";
  /** @default AUDIT_CHAINS */
  readonly chains?: number;
  /**
   * Appends of this process that one transaction may carry (group commit,
   * audit-writer.ts); 1 writes every append in a transaction of its own.
   * @default 99
   */
  readonly maxGroup?: number;
  /**
   * Chains this process keeps transactions in flight on before further
   * appends queue behind them (and so group). One: the biggest groups and
   * fewest transactions (DynamoDB Local runs them one at a time, each with
   * a high fixed cost), an append waiting at most for the group ahead of it;
   * more: shorter waits, more transactions. A Lambda instance, one request
   * at a time, never reaches it.
   * @default 1
   */
  readonly chainsInFlight?: number;
}

export class AuditLog {
  private readonly writer: AuditWriter;
  private readonly chainCount: number;

  constructor(
    private readonly db: Db,
    private readonly clock: () => Date = () => new Date(),
    options: AuditLogOptions = {},
  ) {
    this.chainCount = options.chains ?? AUDIT_CHAINS;
    this.writer = new AuditWriter(db, clock, {
      layout: options.layout ?? "sharded",
      chains: this.chainCount,
      maxGroup: Math.max(1, Math.min(MAX_GROUP, options.maxGroup ?? MAX_GROUP)),
      chainsInFlight: Math.max(1, options.chainsInFlight ?? DEFAULT_CHAINS_IN_FLIGHT),
    });
  }

  /** Appends, transactions and conflicts of this process. */
  get stats(): AuditStats {
    return this.writer.stats;
  }

  /** Every chain that may hold entries: the unsharded one first, then the shards. */
  private allChains(): string[] {
    return [LEGACY_CHAIN, ...Array.from({ length: this.chainCount }, (_, n) => chainPk(n))];
  }

  /**
   * Appends an entry together with `ops`, in one transaction (shared with
   * other appends of this process to the same chain: audit-writer.ts).
   * Returns once the entry is durable. If a condition of `ops` fails, nothing
   * of this append is written and their reasons come back. Other processes
   * are handled by retrying on the head condition.
   */
  append(draft: AuditDraft, ops: readonly TransactWriteItem[] = []): Promise<AppendResult> {
    return this.writer.append(draft, ops);
  }

  // ------------------------------------------------------------ listing

  /**
   * Newest first (by `at`, then id) across every chain, filtered; reads back
   * until `limit` entries match or `from` is passed. The cursor holds each
   * chain's position.
   */
  async list(filter: AuditFilter, limit: number, cursor?: string): Promise<Page<AuditEntry>> {
    const positions = decodePositions(cursor, this.allChains());
    const readers = this.allChains().map(
      (chain) => new ChainReader(this.db, chain, positions[chain], filter.from, limit),
    );
    const items: AuditEntry[] = [];
    for (;;) {
      const heads = await Promise.all(readers.map((r) => r.peek()));
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const e = heads[i];
        const b = best < 0 ? undefined : heads[best];
        if (e !== undefined && (b === undefined || newer(e, b))) best = i;
      }
      const reader = readers[best];
      if (reader === undefined) return { items, next: null };
      const entry = reader.take();
      if (matches(entry, filter)) items.push(entry);
      if (items.length === limit) {
        const more = (await Promise.all(readers.map((r) => r.peek()))).some((e) => e !== undefined);
        return { items, next: more ? encodePositions(readers) : null };
      }
    }
  }

  // ------------------------------------------------------------ verification

  /**
   * Recomputes every chain from its first entry, checks each head against its
   * chain's end and each anchor against the chains. Names the first entry
   * that does not continue its chain as it must (the id its position gives
   * it, whatever its stored text says): a changed field, a removed or
   * reordered entry, a head that names another end than the entries do, or
   * an entry that is not the one an anchor recorded at its position (a chain
   * recomputed or cut back after it was anchored). A broken anchor chain is
   * named by the anchor's id.
   */
  async verify(): Promise<Verdict> {
    const anchors = await this.readAnchors();
    const latest = anchors.latest;
    const anchor =
      latest === undefined ? null : { seq: latest.seq, at: latest.at, hash: latest.hash };
    if (anchors.broken !== undefined)
      return { valid: false, entries: 0, firstBroken: anchors.broken, anchor };
    let entries = 0;
    for (const chain of this.allChains()) {
      const result = await this.verifyChain(chain, anchors.marks.get(chain));
      entries += result.entries;
      if (result.broken !== null)
        return { valid: false, entries, firstBroken: result.broken, anchor };
    }
    return { valid: true, entries, firstBroken: null, anchor };
  }

  private async verifyChain(
    chain: string,
    marks: ReadonlyMap<number, string> | undefined,
  ): Promise<{ entries: number; broken: string | null }> {
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let entries = 0;
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "audit",
        {
          KeyConditionExpression: "pk = :c AND begins_with(sk, :e)",
          ExpressionAttributeValues: { ":c": S(chain), ":e": S("E#") },
          ScanIndexForward: true,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "verify the audit trail",
      );
      for (const item of out.Items ?? []) {
        entries++;
        const link = checkLink(item, chain, prevHash, expectedSeq);
        if (!link.ok) return { entries, broken: link.broken };
        const anchored = marks?.get(expectedSeq);
        if (anchored !== undefined && anchored !== link.hash)
          return { entries, broken: entryId(chain, expectedSeq) };
        prevHash = link.hash;
        expectedSeq++;
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    const last = expectedSeq - 1;
    const anchoredEnd = Math.max(0, ...(marks?.keys() ?? []));
    if (anchoredEnd > last) return { entries, broken: entryId(chain, last + 1) };
    const head = await this.db.get("audit", key(chain, HEAD_SK), "read the audit head");
    const headSeq = num(head, "seq") ?? 0;
    const headHash = str(head, "hash") ?? GENESIS_HASH;
    if (headSeq === last && headHash === prevHash) return { entries, broken: null };
    // The head names more entries than there are (the last ones were removed), fewer (entries
    // were added past it), or another hash for the last one.
    const broken = headSeq > last ? last + 1 : headSeq < last ? headSeq + 1 : Math.max(1, last);
    return { entries, broken: entryId(chain, broken) };
  }

  // ------------------------------------------------------------ anchors

  /**
   * Commits to every chain's head in a new anchor, chained to the one before;
   * nothing when no chain moved since. Two anchorers at once: one wins, the
   * other gets null.
   */
  async anchor(): Promise<Anchor | null> {
    const out = await this.db.query(
      "audit",
      {
        KeyConditionExpression: "pk = :a",
        ExpressionAttributeValues: { ":a": S(ANCHOR_PARTITION) },
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      },
      "read the last audit anchor",
    );
    const lastItem = out.Items?.[0];
    const last = lastItem === undefined ? undefined : parseAnchor(str(lastItem, "doc"));
    if (lastItem !== undefined && last === undefined) {
      throw new StoreUnavailableError("anchor the audit trail", "the last anchor is unreadable");
    }
    const chains = this.allChains();
    const found = await this.db.getMany(
      chains.map((chain) => ({ table: "audit" as const, key: key(chain, HEAD_SK) })),
      "read the audit heads",
    );
    const heads: Record<string, Head> = {};
    chains.forEach((chain, i) => {
      const item = found[i];
      const seq = num(item, "seq") ?? 0;
      if (seq > 0) heads[chain] = { seq, hash: str(item, "hash") ?? GENESIS_HASH };
    });
    if (JSON.stringify(heads) === JSON.stringify(last?.heads ?? {})) return null;
    const body: Omit<Anchor, "hash"> = {
      seq: (last?.seq ?? 0) + 1,
      at: this.clock().toISOString(),
      heads,
      prevHash: last?.hash ?? GENESIS_HASH,
    };
    const anchor: Anchor = { ...body, hash: anchorHash(body) };
    const tx = this.db.transaction();
    tx.put("audit", {
      Item: { ...key(ANCHOR_PARTITION, anchorSk(anchor.seq)), doc: S(JSON.stringify(anchor)) },
      ConditionExpression: "attribute_not_exists(pk)",
    });
    const result = await tx.run("anchor the audit trail");
    return result.ok ? anchor : null;
  }

  /** Every anchor, checked as a chain; per chain, the hash each anchor recorded at each position. */
  private async readAnchors(): Promise<{
    broken?: string;
    latest?: Anchor;
    marks: Map<string, Map<number, string>>;
  }> {
    const marks = new Map<string, Map<number, string>>();
    let prevHash = GENESIS_HASH;
    let expectedSeq = 1;
    let latest: Anchor | undefined;
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "audit",
        {
          KeyConditionExpression: "pk = :a",
          ExpressionAttributeValues: { ":a": S(ANCHOR_PARTITION) },
          ScanIndexForward: true,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "verify the audit anchors",
      );
      for (const item of out.Items ?? []) {
        const link = checkAnchor(item, prevHash, expectedSeq);
        if (!link.ok) return { broken: link.broken, marks };
        latest = parseAnchor(str(item, "doc")) as Anchor;
        for (const [chain, head] of Object.entries(latest.heads)) {
          let m = marks.get(chain);
          if (m === undefined) {
            m = new Map();
            marks.set(chain, m);
          }
          m.set(head.seq, head.hash);
        }
        prevHash = link.hash;
        expectedSeq++;
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return { ...(latest === undefined ? {} : { latest }), marks };
  }
}

/** Newest first: later `at`, then the greater id. */
const newer = (a: AuditEntry, b: AuditEntry): boolean =>
  a.at > b.at || (a.at === b.at && a.id > b.id);

function matches(entry: AuditEntry, filter: AuditFilter): boolean {
  if (filter.to !== undefined && Date.parse(entry.at) > filter.to.getTime()) return false;
  if (filter.partner !== undefined && !entry.partners.includes(filter.partner)) return false;
  if (filter.action !== undefined && entry.action !== filter.action) return false;
  return true;
}

/**
 * One chain read backwards, page by page. `position`: undefined to start at
 * the newest entry, an sk to resume after, "" when the chain is done.
 */
class ChainReader {
  private buffer: { sk: string; entry: AuditEntry }[] = [];
  private next: Item | undefined;
  private done: boolean;
  private started: boolean;
  /** The sk of the last entry taken (where a cursor resumes). */
  taken: string | undefined;

  constructor(
    private readonly db: Db,
    readonly chain: string,
    position: string | undefined,
    private readonly from: Date | undefined,
    private readonly limit: number,
  ) {
    this.done = position === "";
    this.started = position !== undefined && position !== "";
    this.taken = this.started ? position : undefined;
    this.next = this.started ? key(chain, position ?? "") : undefined;
  }

  get exhausted(): boolean {
    return this.done && this.buffer.length === 0;
  }

  async peek(): Promise<AuditEntry | undefined> {
    while (this.buffer.length === 0 && !this.done) await this.fill();
    return this.buffer[0]?.entry;
  }

  take(): AuditEntry {
    const first = this.buffer.shift();
    if (first === undefined) throw new Error("take() without a peeked entry");
    this.taken = first.sk;
    return first.entry;
  }

  private async fill(): Promise<void> {
    const out = await this.db.query(
      "audit",
      {
        KeyConditionExpression: "pk = :c AND begins_with(sk, :e)",
        ExpressionAttributeValues: { ":c": S(this.chain), ":e": S("E#") },
        ScanIndexForward: false,
        Limit: Math.min(1000, this.limit * 2),
        ExclusiveStartKey: this.next,
      },
      "list the audit trail",
    );
    this.started = true;
    for (const item of out.Items ?? []) {
      const entry = parseEntry(str(item, "doc"));
      if (entry === undefined) continue;
      if (this.from !== undefined && Date.parse(entry.at) < this.from.getTime()) {
        this.done = true;
        return;
      }
      this.buffer.push({ sk: str(item, "sk") ?? "", entry });
    }
    this.next = out.LastEvaluatedKey;
    if (this.next === undefined) this.done = true;
  }
}

function encodePositions(readers: readonly ChainReader[]): string {
  const positions: Record<string, string> = {};
  for (const r of readers) {
    if (r.exhausted) positions[r.chain] = "";
    else if (r.taken !== undefined) positions[r.chain] = r.taken;
  }
  return Buffer.from(JSON.stringify(positions)).toString("base64url");
}

function decodePositions(
  cursor: string | undefined,
  chains: readonly string[],
): Record<string, string | undefined> {
  if (cursor === undefined) return {};
  try {
    const raw: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new Error("shape");
    const out: Record<string, string> = {};
    for (const [chain, sk] of Object.entries(raw)) {
      if (!chains.includes(chain) || typeof sk !== "string" || !/^(E#\d{12})?$/.test(sk))
        throw new Error("member");
      out[chain] = sk;
    }
    return out;
  } catch {
    throw new InvalidRequestError("cursor", "is not a cursor this list returned");
  }
}
