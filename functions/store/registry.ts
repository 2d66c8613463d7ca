/**
 * Partners, datasets, agreements (with their versions) and the ecosystem's
 * trade rules in the `registry` table. Reads are consistent by default: the
 * exchange path never acts on a stale status. Writes are returned as
 * transaction items so that a change, its audit entry and its outbox events
 * commit together.
 */
import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { ExchangeState } from "../../policies/decide.ts";
import {
  type Agreement,
  type Dataset,
  EMPTY_TRADE_RULES,
  type Partner,
  type TradeRules,
} from "../../policies/model.ts";
import { docOf, type Item, key, N, num, S, str } from "./codec.ts";
import type { Db, KeyRef } from "./db.ts";
import { allPages, decodeCursor, encodeCursor, type Page } from "./paging.ts";

export interface Stored<T> {
  readonly value: T;
  /** Bumped on every write; conditions on it make read-modify-write safe. */
  readonly rev: number;
}

export const partnerKey = (id: string) => key(`P#${id}`, "P");
export const datasetKey = (id: string) => key(`D#${id}`, "D");
export const agreementKey = (id: string) => key(`A#${id}`, "A");
export const agreementVersionKey = (id: string, version: number) =>
  key(`A#${id}`, `V#${String(version).padStart(6, "0")}`);
export const tradeRulesKey = () => key("TRADE", "TRADE");
const edgeKey = (partner: string, a: Agreement) => key(`P#${partner}`, `A#${a.createdAt}#${a.id}`);
/**
 * Attestations live in partitions of their own (`T#<partner>`): the
 * exchange function, which records a phased-out partner's attestation, may
 * write only items whose partition key starts with `T#` (IAM
 * dynamodb:LeadingKeys), so it can never write a partner, an agreement or a
 * status, and so never un-revoke anyone.
 */
export const ATTESTATION_PARTITION_PREFIX = "T#";
const attestationKey = (a: Attestation) =>
  key(`${ATTESTATION_PARTITION_PREFIX}${a.partner}`, `${a.agreement}#${a.recordedAt}`);

/**
 * Every exchange reads its agreement, both partners, the dataset and the
 * trade rules with a consistent read, and condition-checks the statuses when
 * it meters. So that no single item carries all of that for a busy flow (or,
 * for the trade rules, for the whole gateway), each of these entities is
 * kept in REPLICAS identical copies (sk `R#<n>`), written in the same
 * transaction as the entity; an exchange reads and checks one copy, chosen
 * at random. A change is in every copy at once or in none.
 */
export const REPLICAS = 8;
/** The items of a flow's state read per exchange (agreement, provider, consumer, dataset, trade rules). */
const STATE_ITEMS = 5;
/** Flows x replicas whose state keys are kept (8 replicas each). */
const MAX_STATE_REFS = 8 * 1024;
const deepFreeze = (item: Item): Item => {
  for (const v of Object.values(item)) Object.freeze(v);
  return Object.freeze(item);
};
export const replicaKey = (main: Item, n: number): Item => ({
  pk: main.pk as Item[string],
  sk: S(`R#${n}`),
});
export const randomReplica = (): number => Math.floor(Math.random() * REPLICAS);
const ACTIVE: AttributeValue = Object.freeze(S("active"));
const STATUS_NAMES: Readonly<Record<string, string>> = Object.freeze({ "#s": "status" });
const AGREEMENT_ACTIVE = "#s = :active AND validFrom <= :now AND validUntil > :now";

const ms = (iso: string) => Date.parse(iso);

function stored<T>(item: Item | undefined): Stored<T> | undefined {
  const value = docOf<T>(item);
  return value === undefined ? undefined : { value, rev: num(item, "rev") ?? 0 };
}

/** The parties and dataset of an agreement never change, so a token may name them. */
export interface AgreementBinding {
  readonly provider: string;
  readonly consumer: string;
  readonly dataset: string;
}

/** A partner's statement that it deleted what it received under an agreement. */
export interface Attestation {
  readonly partner: string;
  readonly agreement: string;
  readonly deletedAt: string;
  readonly statement: string;
  readonly recordedAt: string;
  /** Who recorded it: the partner itself, or the operator acting for a revoked partner. */
  readonly recordedBy: string;
}

export class Registry {
  constructor(private readonly db: Db) {}

  private ref(k: Item): KeyRef {
    return { table: "registry", key: k };
  }

  async getPartner(id: string): Promise<Stored<Partner> | undefined> {
    return stored(await this.db.get("registry", partnerKey(id), "read the partner"));
  }

  async getDataset(id: string): Promise<Stored<Dataset> | undefined> {
    return stored(await this.db.get("registry", datasetKey(id), "read the dataset"));
  }

  async getAgreement(id: string): Promise<Stored<Agreement> | undefined> {
    return stored(await this.db.get("registry", agreementKey(id), "read the agreement"));
  }

  async getTradeRules(): Promise<Stored<TradeRules>> {
    return (
      stored(await this.db.get("registry", tradeRulesKey(), "read the trade rules")) ?? {
        value: EMPTY_TRADE_RULES,
        rev: 0,
      }
    );
  }

  async getPartners(ids: readonly string[]): Promise<Map<string, Partner | undefined>> {
    const unique = [...new Set(ids)];
    const items = await this.db.getMany(
      unique.map((id) => this.ref(partnerKey(id))),
      "read partners",
    );
    return new Map(unique.map((id, i) => [id, docOf<Partner>(items[i])]));
  }

  async getAgreements(ids: readonly string[]): Promise<Map<string, Agreement | undefined>> {
    const unique = [...new Set(ids)];
    const items = await this.db.getMany(
      unique.map((id) => this.ref(agreementKey(id))),
      "read agreements",
    );
    return new Map(unique.map((id, i) => [id, docOf<Agreement>(items[i])]));
  }

  /**
   * Everything one exchange decides on, in one consistent round trip when the
   * binding is known (from the token): one replica of the agreement, both
   * partners, the dataset and the trade rules. `replica` says which copy was
   * read, so the metering step checks the same one; it is undefined when the
   * state had to be read from the entities themselves (no binding, or
   * entities written before replicas existed).
   */
  async loadExchangeState(
    agreementId: string,
    binding?: AgreementBinding,
    /** Other items to read in the same round trip (an Idempotency-Key claim), answered in `also`. */
    also: readonly KeyRef[] = [],
  ): Promise<ExchangeState & { replica?: number; also: (Item | undefined)[] }> {
    if (binding !== undefined) {
      const replica = randomReplica();
      const refs = this.replicaRefs(agreementId, binding, replica);
      const read = await this.db.getMany(
        also.length === 0 ? refs : [...refs, ...also],
        "read the exchange state",
      );
      const [a, provider, consumer, dataset, trade] = read;
      const agreement = docOf<Agreement>(a);
      if (
        a !== undefined &&
        provider !== undefined &&
        consumer !== undefined &&
        dataset !== undefined &&
        trade !== undefined &&
        agreement !== undefined &&
        agreement.provider === binding.provider &&
        agreement.consumer === binding.consumer &&
        agreement.dataset === binding.dataset
      ) {
        return {
          agreement,
          provider: docOf<Partner>(provider),
          consumer: docOf<Partner>(consumer),
          dataset: docOf<Dataset>(dataset),
          tradeRules: docOf<TradeRules>(trade) ?? EMPTY_TRADE_RULES,
          replica,
          also: also.length === 0 ? [] : read.slice(STATE_ITEMS),
        };
      }
      // A copy is missing (an entity older than the replicas, rules never set)
      // or the binding is stale: read the entities themselves.
    }
    return this.loadFromEntities(agreementId, also);
  }

  /**
   * The keys of one replica of a flow's state (agreement, both partners,
   * dataset, trade rules), made once per flow and replica: the exchange reads
   * them on every request. Shared and frozen: nothing writes into a ref.
   */
  private replicaRefs(agreementId: string, binding: AgreementBinding, replica: number) {
    const { provider, consumer, dataset } = binding;
    // Lengths first: no id can pass for another, whatever it holds.
    const id = `${agreementId.length}:${provider.length}:${consumer.length}:${replica}:${agreementId}${provider}${consumer}${dataset}`;
    let refs = this.stateRefs.get(id);
    if (refs === undefined) {
      refs = Object.freeze(
        [
          agreementKey(agreementId),
          partnerKey(binding.provider),
          partnerKey(binding.consumer),
          datasetKey(binding.dataset),
          tradeRulesKey(),
        ].map((k) => Object.freeze(this.ref(deepFreeze(replicaKey(k, replica))))),
      );
      if (this.stateRefs.size >= MAX_STATE_REFS) this.stateRefs.clear();
      this.stateRefs.set(id, refs);
    }
    return refs;
  }

  private readonly stateRefs = new Map<string, readonly KeyRef[]>();

  private async loadFromEntities(
    agreementId: string,
    also: readonly KeyRef[],
  ): Promise<ExchangeState & { also: (Item | undefined)[] }> {
    const agreement = (await this.getAgreement(agreementId))?.value;
    if (agreement === undefined)
      return { tradeRules: (await this.getTradeRules()).value, also: also.map(() => undefined) };
    const [provider, consumer, dataset, trade, ...rest] = await this.db.getMany(
      [
        this.ref(partnerKey(agreement.provider)),
        this.ref(partnerKey(agreement.consumer)),
        this.ref(datasetKey(agreement.dataset)),
        this.ref(tradeRulesKey()),
        ...also,
      ],
      "read the exchange state",
    );
    return {
      also: rest,
      agreement,
      provider: docOf<Partner>(provider),
      consumer: docOf<Partner>(consumer),
      dataset: docOf<Dataset>(dataset),
      tradeRules: docOf<TradeRules>(trade) ?? EMPTY_TRADE_RULES,
    };
  }

  // ------------------------------------------------------------ lists

  private async listCollection<T>(
    collection: string,
    limit: number,
    cursor?: string,
  ): Promise<Page<T>> {
    const out = await this.db.query(
      "registry",
      {
        IndexName: "byCollection",
        KeyConditionExpression: "gsi1pk = :c",
        ExpressionAttributeValues: { ":c": S(collection) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
      },
      `list ${collection.toLowerCase()}`,
    );
    return {
      items: (out.Items ?? []).map((i) => docOf<T>(i) as T),
      next: encodeCursor(out.LastEvaluatedKey),
    };
  }

  listPartners(limit: number, cursor?: string): Promise<Page<Partner>> {
    return this.listCollection("PARTNERS", limit, cursor);
  }

  listDatasets(limit: number, cursor?: string): Promise<Page<Dataset>> {
    return this.listCollection("DATASETS", limit, cursor);
  }

  async listAgreements(limit: number, cursor?: string, partner?: string): Promise<Page<Agreement>> {
    if (partner === undefined) return this.listCollection("AGREEMENTS", limit, cursor);
    const out = await this.db.query(
      "registry",
      {
        KeyConditionExpression: "pk = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues: { ":p": S(`P#${partner}`), ":a": S("A#") },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: decodeCursor(cursor),
      },
      "list the partner's agreements",
    );
    const ids = (out.Items ?? []).map((i) => str(i, "agreement") ?? "");
    const items: Agreement[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const batch = ids.slice(i, i + 100);
      const found = await this.db.getMany(
        batch.map((id) => this.ref(agreementKey(id))),
        "read the partner's agreements",
      );
      for (const f of found) {
        const a = docOf<Agreement>(f);
        if (a !== undefined) items.push(a);
      }
    }
    return { items, next: encodeCursor(out.LastEvaluatedKey) };
  }

  async listAgreementVersions(id: string): Promise<Agreement[]> {
    const out = await this.db.query(
      "registry",
      {
        KeyConditionExpression: "pk = :p AND begins_with(sk, :v)",
        ExpressionAttributeValues: { ":p": S(`A#${id}`), ":v": S("V#") },
        ScanIndexForward: false,
      },
      "list the agreement's versions",
    );
    return (out.Items ?? []).map((i) => docOf<Agreement>(i) as Agreement);
  }

  /** Every agreement, or every agreement of one partner. */
  allAgreements(partner?: string): Promise<Agreement[]> {
    return allPages((limit, cursor) => this.listAgreements(limit, cursor, partner));
  }

  async listAttestations(partner: string): Promise<Attestation[]> {
    const [own, legacy] = await Promise.all([
      this.db.query(
        "registry",
        {
          KeyConditionExpression: "pk = :p",
          ExpressionAttributeValues: { ":p": S(`${ATTESTATION_PARTITION_PREFIX}${partner}`) },
          ScanIndexForward: false,
        },
        "list the partner's attestations",
      ),
      // Attestations recorded before they had partitions of their own.
      this.db.query(
        "registry",
        {
          KeyConditionExpression: "pk = :p AND begins_with(sk, :t)",
          ExpressionAttributeValues: { ":p": S(`P#${partner}`), ":t": S("T#") },
          ScanIndexForward: false,
        },
        "list the partner's attestations",
      ),
    ]);
    return [...(own.Items ?? []), ...(legacy.Items ?? [])]
      .map((i) => docOf<Attestation>(i) as Attestation)
      .sort((a, b) => b.recordedAt.localeCompare(a.recordedAt));
  }

  // ------------------------------------------------------------ write ops

  attestationOps(a: Attestation): TransactWriteItem[] {
    return [this.put(attestationKey(a), { doc: S(JSON.stringify(a)) }, "attribute_not_exists(pk)")];
  }

  private put(k: Item, attrs: Item, condition: string, values?: Item): TransactWriteItem {
    return {
      Put: {
        TableName: this.db.name("registry"),
        Item: { ...k, ...attrs },
        ConditionExpression: condition,
        ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
      },
    };
  }

  /** The copies an exchange reads, written with the entity (see REPLICAS). */
  private replicaPuts(main: Item, attrs: Item): TransactWriteItem[] {
    return Array.from({ length: REPLICAS }, (_, n) => ({
      Put: { TableName: this.db.name("registry"), Item: { ...replicaKey(main, n), ...attrs } },
    }));
  }

  private guardRev(rev: number | null): { condition: string; values?: Item } {
    return rev === null
      ? { condition: "attribute_not_exists(pk)" }
      : { condition: "rev = :rev", values: { ":rev": N(rev) } };
  }

  /** Writes a partner: a create when `rev` is null, else an update of that revision. */
  partnerOps(partner: Partner, rev: number | null): TransactWriteItem[] {
    const g = this.guardRev(rev);
    const attrs: Item = {
      doc: S(JSON.stringify(partner)),
      status: S(partner.status),
      rev: N((rev ?? 0) + 1),
      gsi1pk: S("PARTNERS"),
      gsi1sk: S(`${partner.createdAt}#${partner.id}`),
      ...(partner.phaseOutAt === undefined ? {} : { phaseOutAt: N(ms(partner.phaseOutAt)) }),
    };
    const { gsi1pk: _p, gsi1sk: _s, ...copy } = attrs;
    return [
      this.put(partnerKey(partner.id), attrs, g.condition, g.values),
      ...this.replicaPuts(partnerKey(partner.id), copy),
    ];
  }

  datasetOps(dataset: Dataset, rev: number | null): TransactWriteItem[] {
    const g = this.guardRev(rev);
    const copy: Item = { doc: S(JSON.stringify(dataset)), version: N(dataset.version) };
    const attrs: Item = {
      ...copy,
      rev: N((rev ?? 0) + 1),
      gsi1pk: S("DATASETS"),
      gsi1sk: S(`${dataset.createdAt}#${dataset.id}`),
    };
    return [
      this.put(datasetKey(dataset.id), attrs, g.condition, g.values),
      ...this.replicaPuts(datasetKey(dataset.id), copy),
    ];
  }

  /**
   * Writes an agreement. A new version (create or amendment) also writes its
   * snapshot; a create also writes the edges that list it under both parties.
   */
  agreementOps(agreement: Agreement, rev: number | null, newVersion: boolean): TransactWriteItem[] {
    const g = this.guardRev(rev);
    const doc = S(JSON.stringify(agreement));
    const copy: Item = {
      doc,
      status: S(agreement.status),
      version: N(agreement.version),
      validFrom: N(ms(agreement.validFrom)),
      validUntil: N(ms(agreement.validUntil)),
    };
    const ops = [
      this.put(
        agreementKey(agreement.id),
        {
          ...copy,
          rev: N((rev ?? 0) + 1),
          gsi1pk: S("AGREEMENTS"),
          gsi1sk: S(`${agreement.createdAt}#${agreement.id}`),
        },
        g.condition,
        g.values,
      ),
      ...this.replicaPuts(agreementKey(agreement.id), copy),
    ];
    if (newVersion) {
      ops.push(
        this.put(
          agreementVersionKey(agreement.id, agreement.version),
          { doc },
          "attribute_not_exists(pk)",
        ),
      );
    }
    if (rev === null) {
      for (const [partner, role] of [
        [agreement.provider, "provider"],
        [agreement.consumer, "consumer"],
      ] as const) {
        if (role === "consumer" && agreement.consumer === agreement.provider) continue;
        ops.push(
          this.put(
            edgeKey(partner, agreement),
            { agreement: S(agreement.id), role: S(role) },
            "attribute_not_exists(pk)",
          ),
        );
      }
    }
    return ops;
  }

  tradeRulesOps(rules: TradeRules, rev: number): TransactWriteItem[] {
    const condition = rev === 0 ? "attribute_not_exists(pk) OR rev = :rev" : "rev = :rev";
    const copy: Item = { doc: S(JSON.stringify(rules)), version: N(rules.version) };
    return [
      this.put(tradeRulesKey(), { ...copy, rev: N(rev + 1) }, condition, { ":rev": N(rev) }),
      ...this.replicaPuts(tradeRulesKey(), copy),
    ];
  }

  /** Asserts an item does not exist (e.g. an id not taken) inside a transaction. */
  absentCheck(k: Item): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("registry"),
        Key: k,
        ConditionExpression: "attribute_not_exists(pk)",
      },
    };
  }

  /**
   * The atomic re-check of the metering step: the party is active and not
   * phased out at `now`.
   */
  partnerActiveCheck(id: string, now: Date, replica?: number): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("registry"),
        Key: replica === undefined ? partnerKey(id) : replicaKey(partnerKey(id), replica),
        ConditionExpression:
          "#s = :active AND (attribute_not_exists(phaseOutAt) OR phaseOutAt > :now)",
        ExpressionAttributeNames: STATUS_NAMES,
        ExpressionAttributeValues: { ":active": ACTIVE, ":now": this.millis(now) },
      },
    };
  }

  /** `now` in milliseconds as a value: the same instant for every check of one transaction. */
  private millis(now: Date): AttributeValue {
    const ms = now.getTime();
    if (this.lastMillis.ms !== ms) this.lastMillis = { ms, value: Object.freeze(N(ms)) };
    return this.lastMillis.value;
  }

  private lastMillis: { ms: number; value: AttributeValue } = { ms: Number.NaN, value: N(0) };

  /** With `version`: also that the agreement is still that version (no amendment meanwhile). */
  agreementActiveCheck(
    id: string,
    now: Date,
    replica?: number,
    version?: number,
  ): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("registry"),
        Key: replica === undefined ? agreementKey(id) : replicaKey(agreementKey(id), replica),
        ConditionExpression:
          version === undefined ? AGREEMENT_ACTIVE : `${AGREEMENT_ACTIVE} AND version = :v`,
        ExpressionAttributeNames: STATUS_NAMES,
        ExpressionAttributeValues:
          version === undefined
            ? { ":active": ACTIVE, ":now": this.millis(now) }
            : { ":active": ACTIVE, ":now": this.millis(now), ":v": N(version) },
      },
    };
  }

  /** The dataset (in the copy the exchange read) is still the version it was decided under. */
  datasetVersionCheck(id: string, version: number, replica?: number): TransactWriteItem {
    return this.versionCheck(datasetKey(id), version, replica);
  }

  /** The trade rules are still the version the exchange was decided under (0: never set). */
  tradeRulesVersionCheck(version: number, replica?: number): TransactWriteItem {
    return this.versionCheck(tradeRulesKey(), version, replica);
  }

  /**
   * An item's `version` attribute still holds `version`. Items written before
   * the attribute existed have none and pass: their first change writes it,
   * so a change is still caught. Version 0 (trade rules never set) also
   * passes while the item does not exist.
   */
  private versionCheck(main: Item, version: number, replica?: number): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("registry"),
        Key: replica === undefined ? main : replicaKey(main, replica),
        ConditionExpression: "attribute_not_exists(version) OR version = :v",
        ExpressionAttributeValues: { ":v": N(version) },
      },
    };
  }
}
