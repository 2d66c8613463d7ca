/**
 * GET /v1/catalog: the datasets the caller may ask for, each with its
 * offers, a page at a time. Datasets are read in the registry's order
 * (newest first); the ones the caller may not see (its own, an inactive
 * owner, export control, embargoes, denied parties) and the ones without an
 * offer that still keeps the rules are skipped, so a page is only short at
 * the end of the list. The cursor names the last dataset listed.
 */
import {
  type CatalogEntry,
  catalogEntry,
  datasetVisible,
  offersStillValid,
} from "../../policies/catalog.ts";
import type { Dataset, Partner } from "../../policies/model.ts";
import type { Offer } from "../../policies/offers.ts";
import type { Gateway } from "../gateway.ts";
import { S } from "../store/codec.ts";
import { encodeCursor, type Page } from "../store/paging.ts";
import { SelfServiceStore } from "../store/self-service.ts";

/** How many datasets' offers are read at once. */
const CONCURRENCY = 8;

/** The position of a dataset in the registry's list (its byCollection key). */
const cursorAfter = (d: Dataset): string | null =>
  encodeCursor({
    pk: S(`D#${d.id}`),
    sk: S("D"),
    gsi1pk: S("DATASETS"),
    gsi1sk: S(`${d.createdAt}#${d.id}`),
  });

async function partnersOf(gw: Gateway, ids: readonly string[]) {
  const unique = [...new Set(ids)];
  const out = new Map<string, Partner | undefined>();
  for (let i = 0; i < unique.length; i += 100) {
    for (const [id, p] of await gw.registry.getPartners(unique.slice(i, i + 100))) out.set(id, p);
  }
  return out;
}

async function mapLimited<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

export async function catalogPage(
  gw: Gateway,
  caller: Partner,
  limit: number,
  cursor?: string,
): Promise<Page<CatalogEntry>> {
  const store = new SelfServiceStore(gw.db);
  const now = gw.clock();
  const tradeRules = (await gw.registry.getTradeRules()).value;
  const items: CatalogEntry[] = [];
  let position = cursor;
  for (;;) {
    const page = await gw.registry.listDatasets(Math.min(1000, limit * 2), position);
    const owners = await partnersOf(
      gw,
      page.items.map((d) => d.owner),
    );
    const visible = page.items.filter((d) =>
      datasetVisible(d, owners.get(d.owner), caller, tradeRules, now),
    );
    const offers = await mapLimited(visible, (d) => store.datasetOffers(d.id));
    const shares = await partnersOf(
      gw,
      offers.flat().flatMap((o: Offer) => o.valueShares.map((s) => s.partner)),
    );
    for (const [i, dataset] of visible.entries()) {
      const valid = offersStillValid(
        offers[i] ?? [],
        { dataset, provider: owners.get(dataset.owner), sharePartners: shares, tradeRules },
        now,
      );
      if (valid.length === 0) continue;
      items.push(catalogEntry(dataset, valid));
      if (items.length === limit) {
        const last = page.next === null && dataset === page.items.at(-1);
        return { items, next: last ? null : cursorAfter(dataset) };
      }
    }
    if (page.next === null) return { items, next: null };
    position = page.next;
  }
}
