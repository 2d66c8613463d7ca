/** In-memory state of a typical agreement, and an 8 KB telemetry body, for the benchmarks. */
import type { ExchangeRequest, ExchangeState } from "../policies/decide.ts";
import { DEMO_DATASET, DEMO_READ_AGREEMENT, EXAMPLE_PARTNERS } from "../policies/demo/ecosystem.ts";
import type { Agreement, Dataset, Partner } from "../policies/model.ts";

const at = "2026-01-01T00:00:00.000Z";

export const partner = (id: string, jurisdiction: string): Partner => ({
  id,
  name: id,
  jurisdiction,
  baseUrl: "http://127.0.0.1:9",
  status: "active",
  createdAt: at,
  updatedAt: at,
});

/** The demo's dataset (policies/demo/ecosystem.ts) as the store holds it. */
export const dataset: Dataset = { ...DEMO_DATASET, version: 1, createdAt: at, updatedAt: at };

/** The fixture dataset as an operator registers it, under another id and owner. */
export function datasetInput(id: string, owner: string) {
  const { version: _v, createdAt: _c, updatedAt: _u, ...input } = dataset;
  return { ...input, id, owner };
}

/** The demo's read agreement, valid for decades and with quotas a benchmark does not reach. */
export const agreement: Agreement = {
  ...DEMO_READ_AGREEMENT,
  validFrom: at,
  validUntil: "2099-01-01T00:00:00.000Z",
  quota: { requestsPerDay: 10_000_000, recordsPerMonth: 1_000_000_000 },
  status: "active",
  version: 1,
  createdAt: at,
  updatedAt: at,
};

/** The state of a flow that may run: every part present. */
export type FullState = { [K in keyof ExchangeState]-?: NonNullable<ExchangeState[K]> };

export function typicalState(): { request: ExchangeRequest; state: FullState } {
  return {
    request: {
      caller: agreement.consumer,
      scopes: [`agreement:${agreement.id}`],
      agreementId: agreement.id,
      action: "read",
      purpose: "insurance-pricing",
    },
    state: {
      agreement,
      dataset,
      provider: partner(agreement.provider, EXAMPLE_PARTNERS.fleetco.jurisdiction),
      consumer: partner(agreement.consumer, EXAMPLE_PARTNERS.insureco.jurisdiction),
      tradeRules: {
        embargoedJurisdictions: ["KP", "IR"],
        deniedParties: ["shadyco"],
        version: 1,
        updatedAt: at,
      },
    },
  };
}

/** A telemetry body of about `bytes` bytes: records with granted, core, personal and unlisted fields. */
export function telemetryBody(bytes: number): string {
  const items: unknown[] = [];
  let size = 12;
  for (let i = 0; size < bytes; i++) {
    const record = {
      vin: `YV1DZ8256C22${String(71234 + i).padStart(5, "0")}`,
      mileage: 182345 + i,
      speed: { avg: 61.2, max: 131 },
      engine: { calibration: `CAL-${String(i % 1000000).padStart(6, "0")}`, temperature: 88 },
      driver: { name: `Driver ${i}`, license: `LIC-${i}` },
      notes: i % 3 === 0 ? "Serviced in Malmö" : "",
      routePlan: "depot-7 > E6 > customer-42",
    };
    size += JSON.stringify(record).length + 1;
    items.push(record);
  }
  return JSON.stringify({ items, next: null });
}
