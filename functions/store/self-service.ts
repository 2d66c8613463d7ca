/**
 * Offers and agreement requests in the `registry` table (see
 * docs/data-model.md). Reads are consistent; writes come back as transaction
 * items, so that a change commits together with its audit entry, its events
 * and (for an approval) the agreement it makes.
 *
 * | item                               | pk             | sk                        |
 * |------------------------------------|----------------|---------------------------|
 * | an offer                           | `O#<id>`       | `O`                       |
 * | the offer, listed under its dataset| `D#<dataset>`  | `OF#<createdAt>#<id>`     |
 * | an agreement request               | `Q#<id>`       | `Q` (gsi1: all requests)  |
 * | the request, listed under a party  | `P#<partner>`  | `Q#<createdAt>#<id>`      |
 */
import type { TransactWriteItem } from "@aws-sdk/client-dynamodb";
import type { AgreementRequest, Offer, RequestState } from "../../policies/offers.ts";
import { docOf, type Item, key, N, num, S, str } from "./codec.ts";
import type { Db } from "./db.ts";
import { decodeCursor, encodeCursor, type Page } from "./paging.ts";
import type { Stored } from "./registry.ts";

export const offerKey = (id: string) => key(`O#${id}`, "O");
const offerListingKey = (o: Pick<Offer, "dataset" | "createdAt" | "id">) =>
  key(`D#${o.dataset}`, `OF#${o.createdAt}#${o.id}`);
export const requestKey = (id: string) => key(`Q#${id}`, "Q");
const requestEdgeKey = (partner: string, r: Pick<AgreementRequest, "createdAt" | "id">) =>
  key(`P#${partner}`, `Q#${r.createdAt}#${r.id}`);
const REQUESTS = "AGREEMENT_REQUESTS";

function stored<T>(item: Item | undefined): Stored<T> | undefined {
  const value = docOf<T>(item);
  return value === undefined ? undefined : { value, rev: num(item, "rev") ?? 0 };
}

export interface RequestFilter {
  readonly state?: RequestState | undefined;
  /** Only requests this partner is party to. */
  readonly partner?: string | undefined;
  /** With `partner`: only those where it is the provider, or the consumer. */
  readonly role?: "provider" | "consumer" | undefined;
}

export class SelfServiceStore {
  constructor(private readonly db: Db) {}

  // ------------------------------------------------------------ offers

  async getOffer(id: string): Promise<Stored<Offer> | undefined> {
    return stored(await this.db.get("registry", offerKey(id), "read the offer"));
  }

  /** A dataset's offers, newest first; only the active ones unless `all`. */
  async datasetOffers(dataset: string, all = false): Promise<Offer[]> {
    const offers: Offer[] = [];
    let start: Item | undefined;
    do {
      const out = await this.db.query(
        "registry",
        {
          KeyConditionExpression: "pk = :d AND begins_with(sk, :o)",
          ExpressionAttributeValues: {
            ":d": S(`D#${dataset}`),
            ":o": S("OF#"),
            ...(all ? {} : { ":active": S("active") }),
          },
          ...(all
            ? {}
            : { FilterExpression: "#s = :active", ExpressionAttributeNames: { "#s": "status" } }),
          ScanIndexForward: false,
          ConsistentRead: true,
          ExclusiveStartKey: start,
        },
        "list the dataset's offers",
      );
      for (const item of out.Items ?? []) {
        const offer = docOf<Offer>(item);
        if (offer !== undefined) offers.push(offer);
      }
      start = out.LastEvaluatedKey;
    } while (start !== undefined);
    return offers;
  }

  /** Publishes an offer: the id must be free. */
  offerCreateOps(offer: Offer): TransactWriteItem[] {
    const doc = S(JSON.stringify(offer));
    return [
      this.put(
        offerKey(offer.id),
        { doc, status: S(offer.status), rev: N(1) },
        "attribute_not_exists(pk)",
      ),
      this.put(
        offerListingKey(offer),
        { doc, status: S(offer.status) },
        "attribute_not_exists(pk)",
      ),
    ];
  }

  /** Writes a changed offer (a withdrawal) over revision `rev`. */
  offerUpdateOps(offer: Offer, rev: number): TransactWriteItem[] {
    const doc = S(JSON.stringify(offer));
    return [
      this.put(
        offerKey(offer.id),
        { doc, status: S(offer.status), rev: N(rev + 1) },
        "rev = :rev",
        {
          ":rev": N(rev),
        },
      ),
      this.put(offerListingKey(offer), { doc, status: S(offer.status) }, "attribute_exists(pk)"),
    ];
  }

  /** Inside a transaction: the offer is still published. */
  offerActiveCheck(id: string): TransactWriteItem {
    return {
      ConditionCheck: {
        TableName: this.db.name("registry"),
        Key: offerKey(id),
        ConditionExpression: "#s = :active",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":active": S("active") },
      },
    };
  }

  // ------------------------------------------------------------ requests

  async getRequest(id: string): Promise<Stored<AgreementRequest> | undefined> {
    return stored(await this.db.get("registry", requestKey(id), "read the agreement request"));
  }

  /**
   * Writes a request: a create when `rev` is null, else a step from
   * `requested` over revision `rev` (so of two concurrent steps one wins).
   * The parties' listings follow its state.
   */
  requestOps(request: AgreementRequest, rev: number | null): TransactWriteItem[] {
    const doc = S(JSON.stringify(request));
    const main = this.put(
      requestKey(request.id),
      {
        doc,
        state: S(request.state),
        rev: N((rev ?? 0) + 1),
        gsi1pk: S(REQUESTS),
        gsi1sk: S(`${request.createdAt}#${request.id}`),
      },
      rev === null ? "attribute_not_exists(pk)" : "rev = :rev AND #st = :requested",
      rev === null ? undefined : { ":rev": N(rev), ":requested": S("requested") },
      rev === null ? undefined : { "#st": "state" },
    );
    const edges = [
      [request.provider, "provider"],
      [request.consumer, "consumer"],
    ].map(([partner = "", role = ""]) =>
      this.put(
        requestEdgeKey(partner, request),
        { request: S(request.id), role: S(role), state: S(request.state) },
        rev === null ? "attribute_not_exists(pk)" : "attribute_exists(pk)",
      ),
    );
    return [main, ...edges];
  }

  /**
   * Requests newest first: a partner's (from its listing, filtered there),
   * or everyone's (operators). Filters scan on until `limit` match or the
   * list ends, so a page is never short while more would match.
   */
  async listRequests(
    filter: RequestFilter,
    limit: number,
    cursor?: string,
  ): Promise<Page<AgreementRequest>> {
    const conditions: string[] = [];
    const names: Record<string, string> = {};
    const values: Item = {};
    if (filter.state !== undefined) {
      conditions.push("#st = :state");
      names["#st"] = "state";
      values[":state"] = S(filter.state);
    }
    if (filter.partner !== undefined && filter.role !== undefined) {
      conditions.push("#role = :role");
      names["#role"] = "role";
      values[":role"] = S(filter.role);
    }
    const base =
      filter.partner === undefined
        ? {
            IndexName: "byCollection",
            KeyConditionExpression: "gsi1pk = :c",
            ExpressionAttributeValues: { ...values, ":c": S(REQUESTS) },
          }
        : {
            KeyConditionExpression: "pk = :p AND begins_with(sk, :q)",
            ExpressionAttributeValues: {
              ...values,
              ":p": S(`P#${filter.partner}`),
              ":q": S("Q#"),
            },
            ConsistentRead: true,
          };
    const ids: string[] = [];
    let start = decodeCursor(cursor);
    let next: string | null = null;
    for (;;) {
      const out = await this.db.query(
        "registry",
        {
          ...base,
          ...(conditions.length === 0
            ? {}
            : { FilterExpression: conditions.join(" AND "), ExpressionAttributeNames: names }),
          ScanIndexForward: false,
          Limit: Math.min(1000, limit - ids.length),
          ExclusiveStartKey: start,
        },
        "list agreement requests",
      );
      for (const item of out.Items ?? []) {
        const id =
          filter.partner === undefined ? docOf<AgreementRequest>(item)?.id : str(item, "request");
        if (id !== undefined) ids.push(id);
      }
      if (out.LastEvaluatedKey === undefined) break;
      if (ids.length >= limit) {
        next = encodeCursor(out.LastEvaluatedKey);
        break;
      }
      start = out.LastEvaluatedKey;
    }
    return { items: await this.requestsById(ids), next };
  }

  /** The requests themselves, read consistently, in the order of `ids`. */
  private async requestsById(ids: readonly string[]): Promise<AgreementRequest[]> {
    const out: AgreementRequest[] = [];
    for (let i = 0; i < ids.length; i += 100) {
      const found = await this.db.getMany(
        ids.slice(i, i + 100).map((id) => ({ table: "registry" as const, key: requestKey(id) })),
        "read agreement requests",
      );
      for (const item of found) {
        const r = docOf<AgreementRequest>(item);
        if (r !== undefined) out.push(r);
      }
    }
    return out;
  }

  private put(
    k: Item,
    attrs: Item,
    condition: string,
    values?: Item,
    names?: Record<string, string>,
  ): TransactWriteItem {
    return {
      Put: {
        TableName: this.db.name("registry"),
        Item: { ...k, ...attrs },
        ConditionExpression: condition,
        ...(values === undefined ? {} : { ExpressionAttributeValues: values }),
        ...(names === undefined ? {} : { ExpressionAttributeNames: names }),
      },
    };
  }
}
