/**
 * What a token request reads, in one consistent round trip (BatchGetItem):
 * the client's credentials, its partner item, the agreements its `scope`
 * names, and the other party of each of those agreements this process has
 * granted before. An agreement's parties never change, so which party items
 * to read along can be remembered (a bounded map, agreement → parties); the
 * items themselves (credentials, statuses, the agreements) are read every
 * time, so a revocation, suspension or phase-out takes effect at once. A
 * party not known in advance is read after the agreement (grant.ts), as
 * before. Concurrent requests' reads share BatchGetItems (grouped-reads.ts).
 */
import { LRUCache } from "lru-cache";
import type { Agreement, Partner } from "../../policies/model.ts";
import type { Gateway } from "../gateway.ts";
import { docOf, num } from "../store/codec.ts";
import { type ClientRecord, clientKey } from "../store/credentials.ts";
import type { KeyRef } from "../store/db.ts";
import { type AgreementBinding, agreementKey, partnerKey, type Stored } from "../store/registry.ts";
import { GroupedReads } from "./grouped-reads.ts";

/** What the grant needs, read with the client (grant.ts reads what is missing). */
export interface Prefetched {
  /** Agreements read, by id (undefined: there is none). */
  readonly agreements: ReadonlyMap<string, Agreement | undefined>;
  /** Partners read, by id (undefined: there is none), the client's own among them. */
  readonly parties: ReadonlyMap<string, Partner | undefined>;
}

const MAX_KEYS = 100;
const REMEMBERED_AGREEMENTS = 10_000;

export class TokenReads {
  private readonly parties = new LRUCache<string, readonly [string, string]>({
    max: REMEMBERED_AGREEMENTS,
  });

  /**
   * Reads of concurrent requests share BatchGetItems (grouped-reads.ts), one
   * in flight at a time by default: a busy local server reads once for many
   * requests; a Lambda instance, one request at a time, reads at once.
   */
  readonly reads: GroupedReads;

  constructor(gw: Pick<Gateway, "db">, readsInFlight = 1) {
    this.reads = new GroupedReads(gw.db, readsInFlight, "read the client");
  }

  /**
   * The client `id` and, in the same read, its partner item, the agreements
   * `agreementIds` and their parties as far as they are known.
   */
  async read(
    id: string,
    agreementIds: readonly string[],
  ): Promise<{ client: Stored<ClientRecord> | undefined; prefetched: Prefetched }> {
    const agreements = [...new Set(agreementIds)].slice(0, MAX_KEYS - 2);
    const partners = [id];
    for (const a of agreements) {
      for (const party of this.parties.get(a) ?? []) {
        if (!partners.includes(party) && partners.length + agreements.length < MAX_KEYS - 1)
          partners.push(party);
      }
    }
    const refs: KeyRef[] = [
      { table: "credentials", key: clientKey(id) },
      ...agreements.map((a) => ({ table: "registry" as const, key: agreementKey(a) })),
      ...partners.map((p) => ({ table: "registry" as const, key: partnerKey(p) })),
    ];
    const [clientItem, ...items] = await this.reads.read(refs);
    const value = docOf<ClientRecord>(clientItem);
    return {
      client: value === undefined ? undefined : { value, rev: num(clientItem, "rev") ?? 0 },
      prefetched: {
        agreements: new Map(agreements.map((a, i) => [a, docOf<Agreement>(items[i])])),
        parties: new Map(partners.map((p, i) => [p, docOf<Partner>(items[agreements.length + i])])),
      },
    };
  }

  /** The parties of agreements just granted: read along next time. */
  learn(bind: Readonly<Record<string, AgreementBinding>>): void {
    for (const [id, b] of Object.entries(bind)) this.parties.set(id, [b.provider, b.consumer]);
  }
}
