/**
 * The parts of the metering writes that repeat from one exchange to the next,
 * made once: a flow's attributes (per agreement object, checked on every use)
 * and the rollup ADD templates (per set of counts). The exchange path builds
 * a metering transaction on every release; building these anew each time was
 * most of its cost and garbage (docs/perf/exchange-repeat.md). The values are
 * frozen and shared between requests: nothing writes into a built request.
 */
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import type { Agreement } from "../../policies/model.ts";
import { type Item, S } from "./codec.ts";

/** What every write of one flow repeats. */
export interface Flow {
  readonly agreement: AttributeValue;
  readonly provider: AttributeValue;
  readonly consumer: AttributeValue;
  readonly dataset: AttributeValue;
  readonly currency: AttributeValue;
}

// By agreement object: the exchange meets the same (cached, frozen) agreement
// object again and again, and a WeakMap hit costs no key to build or hash. A
// hit is checked against the agreement's fields, so an object changed since
// never answers a stale flow.
const flows = new WeakMap<Agreement, Flow>();

export function flowOf(agreement: Agreement): Flow {
  const { id, provider, consumer, dataset } = agreement;
  const currency = agreement.price.currency;
  const hit = flows.get(agreement);
  if (
    hit !== undefined &&
    hit.agreement.S === id &&
    hit.provider.S === provider &&
    hit.consumer.S === consumer &&
    hit.dataset.S === dataset &&
    hit.currency.S === currency
  )
    return hit;
  const flow: Flow = Object.freeze({
    agreement: Object.freeze(S(id)),
    provider: Object.freeze(S(provider)),
    consumer: Object.freeze(S(consumer)),
    dataset: Object.freeze(S(dataset)),
    currency: Object.freeze(S(currency)),
  });
  flows.set(agreement, flow);
  return flow;
}

/** The flow attributes a rollup SET writes. */
export const FLOW_ATTRS = "provider = :p, consumer = :c, dataset = :d, currency = :cur";

/** One ADD of named counts on a rollup item: its expressions, made once per set of counts. */
export interface RollupTemplate {
  /** The value placeholders of the counts, in order (`:a0`, `:a1`, ...). */
  readonly values: readonly string[];
  readonly periodUpdate: string;
  readonly periodNames: Readonly<Record<string, string>>;
  readonly hourUpdate: string;
  readonly hourNames: Readonly<Record<string, string>>;
}

export function rollupTemplate(counts: readonly string[]): RollupTemplate {
  const add = `ADD ${counts.map((_, i) => `#a${i} :a${i}`).join(", ")}`;
  const names = Object.freeze(Object.fromEntries(counts.map((k, i) => [`#a${i}`, k])));
  return Object.freeze({
    values: Object.freeze(counts.map((_, i) => `:a${i}`)),
    periodUpdate: `${add} SET ${FLOW_ATTRS}`,
    periodNames: names,
    hourUpdate: `${add} SET ${FLOW_ATTRS}, #hour = :h`,
    hourNames: Object.freeze({ ...names, "#hour": "hour" }),
  });
}

/** The counts an exchange (or its reversal) adds, in this order. */
export const EXCHANGE_COUNTS = rollupTemplate(["requests", "records", "bytes", "value"]);

/** The values of a rollup ADD: the counts, then the flow's attributes. */
export function rollupValues(
  template: RollupTemplate,
  amounts: readonly AttributeValue[],
  flow: Flow,
): Item {
  const values: Item = {};
  for (let i = 0; i < template.values.length; i++) {
    const name = template.values[i];
    const amount = amounts[i];
    if (name !== undefined && amount !== undefined) values[name] = amount;
  }
  values[":p"] = flow.provider;
  values[":c"] = flow.consumer;
  values[":d"] = flow.dataset;
  values[":cur"] = flow.currency;
  return values;
}
