/**
 * Consistent reads of concurrent requests, grouped: while `inFlight`
 * BatchGetItems of this process are out, further reads wait and then go
 * together in the next one (at most 100 distinct keys; a key several
 * requests want is read once). Under light load a read goes at once, alone.
 *
 * Not a cache: a read is only ever answered by a BatchGetItem sent after it
 * was asked for, so it sees every write that completed before it was made,
 * as a read of its own would. A failed BatchGetItem fails every read in it
 * with the same error.
 */
import type { Item } from "../store/codec.ts";
import type { Db, KeyRef } from "../store/db.ts";

const MAX_KEYS = 100;

interface Waiting {
  readonly refs: readonly KeyRef[];
  resolve(items: (Item | undefined)[]): void;
  reject(err: unknown): void;
}

const refKey = (r: KeyRef): string =>
  JSON.stringify([r.table, r.key.pk?.S ?? "", r.key.sk?.S ?? ""]);

export class GroupedReads {
  private readonly waiting: Waiting[] = [];
  private running = 0;
  /** BatchGetItems sent (the bench and tests read it). */
  batches = 0;

  constructor(
    private readonly db: Pick<Db, "getMany">,
    private readonly inFlight = 4,
    private readonly operation = "read",
  ) {}

  /** The items of `refs` (at most 100), in order, from one consistent read sent after this call. */
  read(refs: readonly KeyRef[]): Promise<(Item | undefined)[]> {
    if (refs.length > MAX_KEYS) return Promise.reject(new RangeError("at most 100 keys"));
    return new Promise((resolve, reject) => {
      this.waiting.push({ refs, resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    while (this.running < this.inFlight && this.waiting.length > 0) {
      const group: Waiting[] = [];
      const keys = new Map<string, KeyRef>();
      for (;;) {
        const next = this.waiting[0];
        if (next === undefined) break;
        const added = next.refs.filter((r) => !keys.has(refKey(r)));
        if (group.length > 0 && keys.size + new Set(added.map(refKey)).size > MAX_KEYS) break;
        this.waiting.shift();
        group.push(next);
        for (const r of added) keys.set(refKey(r), r);
      }
      this.running++;
      this.batches++;
      const refs = [...keys.values()];
      void this.db
        .getMany(refs, this.operation)
        .then(
          (items) => {
            const found = new Map(refs.map((r, i) => [refKey(r), items[i]]));
            for (const w of group) w.resolve(w.refs.map((r) => found.get(refKey(r))));
          },
          (err: unknown) => {
            for (const w of group) w.reject(err);
          },
        )
        .finally(() => {
          this.running--;
          this.flush();
        });
    }
  }
}
