/** In-memory state of a typical agreement, and an 8 KB telemetry body, for the benchmarks. */
import type { ExchangeRequest, ExchangeState } from "../policies/decide.ts";
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

export const dataset: Dataset = {
  id: "vehicle-telemetry",
  owner: "fleetco",
  path: "/telemetry",
  recordsAt: "items",
  fields: {
    vin: "shared",
    mileage: "shared",
    "speed.avg": "shared",
    notes: "shared",
    "engine.calibration": "core",
    "driver.name": "personal",
  },
  coreMarkers: ["CAL-[0-9]{6}"],
  onMarker: "block",
  exportControl: { allowedJurisdictions: ["SE", "DE", "FR", "NO"] },
  version: 1,
  createdAt: at,
  updatedAt: at,
};

/** The fixture dataset as an operator registers it, under another id and owner. */
export function datasetInput(id: string, owner: string) {
  const { version: _v, createdAt: _c, updatedAt: _u, ...input } = dataset;
  return { ...input, id, owner };
}

export const agreement: Agreement = {
  id: "agr-1",
  dataset: "vehicle-telemetry",
  provider: "fleetco",
  consumer: "insureco",
  actions: ["read"],
  fields: ["vin", "mileage", "speed.avg", "driver.name", "notes"],
  pseudonymize: ["driver.name"],
  purposes: ["insurance-pricing"],
  validFrom: at,
  validUntil: "2099-01-01T00:00:00.000Z",
  quota: { requestsPerDay: 10_000_000, recordsPerMonth: 1_000_000_000 },
  price: { currency: "EUR", perRequest: 0, perRecord: 2000 },
  retentionDays: 30,
  valueShares: [
    { partner: "fleetco", bps: 8000 },
    { partner: "telematico", bps: 2000 },
  ],
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
      caller: "insureco",
      scopes: ["agreement:agr-1"],
      agreementId: "agr-1",
      action: "read",
      purpose: "insurance-pricing",
    },
    state: {
      agreement,
      dataset,
      provider: partner("fleetco", "SE"),
      consumer: partner("insureco", "DE"),
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
