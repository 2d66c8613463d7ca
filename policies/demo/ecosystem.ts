/**
 * The example ecosystem, written once: the contract's example partners,
 * dataset and agreement (shared/CONTRACT.md), and the demo that `npm start`
 * seeds, built from them. The OpenAPI document's examples, the tests and the
 * benchmarks import these instead of keeping copies.
 */
import type { AgreementInput, DatasetInput, PartnerInput } from "../model.ts";
import type { OfferInput } from "../offers.ts";

/** The example's partners, without a backend (each use gives its own `baseUrl`). */
export const EXAMPLE_PARTNERS = {
  /** Provider: owns the dataset. */
  fleetco: { id: "fleetco", name: "FleetCo Logistics", jurisdiction: "SE" },
  /** Consumer. */
  insureco: { id: "insureco", name: "InsureCo Mutual", jurisdiction: "DE" },
  /** Neither party: shares in the value of the flow. */
  telematico: { id: "telematico", name: "Telematico Devices", jurisdiction: "NO" },
} as const satisfies Record<string, Omit<PartnerInput, "baseUrl">>;

/** The contract's example dataset, as an operator registers it. */
export const EXAMPLE_DATASET = {
  id: "vehicle-telemetry",
  owner: "fleetco",
  path: "/telemetry",
  recordsAt: "items",
  fields: {
    vin: "shared",
    mileage: "shared",
    "speed.avg": "shared",
    "engine.calibration": "core",
    "driver.name": "personal",
  },
  coreMarkers: ["CAL-[0-9]{6}"],
  onMarker: "block",
  exportControl: { allowedJurisdictions: ["SE", "DE", "FR", "NO"] },
} satisfies DatasetInput;

/** The contract's example agreement. */
export const EXAMPLE_AGREEMENT = {
  id: "agr-1",
  dataset: "vehicle-telemetry",
  provider: "fleetco",
  consumer: "insureco",
  actions: ["read"],
  fields: ["vin", "mileage", "speed.avg", "driver.name"],
  pseudonymize: ["driver.name"],
  purposes: ["insurance-pricing"],
  validFrom: "2026-01-01T00:00:00Z",
  validUntil: "2027-01-01T00:00:00Z",
  quota: { requestsPerDay: 10000, recordsPerMonth: 1000000 },
  price: { currency: "EUR", perRequest: 0, perRecord: 2000 },
  retentionDays: 30,
  valueShares: [
    { partner: "fleetco", bps: 8000 },
    { partner: "telematico", bps: 2000 },
  ],
} satisfies AgreementInput;

/** The demo's dataset: the example's, with a free-text `notes` field shared too, and a title for the catalog. */
export const DEMO_DATASET = {
  ...EXAMPLE_DATASET,
  title: "Vehicle telemetry",
  description:
    "Mileage, average speed and service notes of FleetCo's delivery vehicles, per vehicle.",
  fields: { ...EXAMPLE_DATASET.fields, notes: "shared" },
} satisfies DatasetInput;

/** A demo agreement: its validity is a window around the time the demo starts. */
export type DemoAgreement = Omit<AgreementInput, "validFrom" | "validUntil">;

const { validFrom: _from, validUntil: _until, ...exampleTerms } = EXAMPLE_AGREEMENT;

/** The demo's read agreement: the example's, `notes` granted too. */
export const DEMO_READ_AGREEMENT = {
  ...exampleTerms,
  fields: [...EXAMPLE_AGREEMENT.fields, "notes"],
} satisfies DemoAgreement;

/** The demo's deliver agreement: FleetCo pushes vin and mileage to InsureCo. */
export const DEMO_DELIVER_AGREEMENT = {
  id: "agr-2",
  dataset: EXAMPLE_DATASET.id,
  provider: EXAMPLE_PARTNERS.fleetco.id,
  consumer: EXAMPLE_PARTNERS.insureco.id,
  actions: ["deliver"],
  fields: ["vin", "mileage"],
  purposes: [],
  price: { currency: "EUR", perRequest: 500, perRecord: 1000 },
} satisfies DemoAgreement;

/** The demo's offer on its dataset, published for the owner (partner self-service). */
export const DEMO_OFFER = {
  id: "telemetry-basic",
  dataset: DEMO_DATASET.id,
  actions: ["read"],
  fields: ["vin", "mileage", "speed.avg"],
  purposes: ["fleet-analytics", "insurance-pricing"],
  price: { currency: "EUR", perRequest: 0, perRecord: 1000 },
  quota: { requestsPerDay: 1000 },
  retentionDays: 30,
  durationDays: 90,
} satisfies OfferInput & { dataset: string };

/** Which of the local server's demo backends a demo partner's `baseUrl` points at. */
export type DemoBackend = "provider" | "consumer";

/** What the local server seeds through the operators' API. */
export const DEMO_ECOSYSTEM: {
  readonly partners: readonly (Omit<PartnerInput, "baseUrl"> & { backend: DemoBackend })[];
  readonly datasets: readonly DatasetInput[];
  readonly offers: readonly (OfferInput & { id: string; dataset: string })[];
  readonly agreements: readonly DemoAgreement[];
} = {
  partners: [
    { ...EXAMPLE_PARTNERS.fleetco, backend: "provider" },
    { ...EXAMPLE_PARTNERS.insureco, backend: "consumer" },
    { ...EXAMPLE_PARTNERS.telematico, backend: "consumer" },
  ],
  datasets: [DEMO_DATASET],
  offers: [DEMO_OFFER],
  agreements: [DEMO_READ_AGREEMENT, DEMO_DELIVER_AGREEMENT],
};
