/**
 * A small ecosystem built through the operators' API: a provider with a
 * backend on loopback, a consumer with an inbox, a dataset and an agreement.
 */
import { EXAMPLE_AGREEMENT, EXAMPLE_DATASET } from "../../policies/demo/ecosystem.ts";
import type { AgreementInput, DatasetInput } from "../../policies/model.ts";
import { type Handler, json, startBackend, type TestBackend } from "./backends.ts";
import type { TestGateway } from "./gateway.ts";

export const RECORDS = [
  {
    vin: "VIN-1",
    mileage: 1000,
    speed: { avg: 50, max: 120 },
    engine: { calibration: "CAL-123456" },
    driver: { name: "Anna", license: "L-1" },
  },
  {
    vin: "VIN-2",
    mileage: 2000,
    speed: { avg: 60, max: 130 },
    engine: { calibration: "CAL-654321" },
    driver: { name: "Ben", license: "L-2" },
  },
];

export interface Ecosystem {
  readonly provider: TestBackend;
  readonly consumer: TestBackend;
  readonly secrets: Record<string, string>;
  readonly agreement: string;
  readonly ids: { provider: string; consumer: string; dataset: string };
  /** A token from the real token endpoint for a partner. */
  partnerToken(partner: string, scope?: string): Promise<string>;
  close(): Promise<void>;
}

async function ok(res: Response, status: number, what: string): Promise<unknown> {
  const body = await res.text();
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${body}`);
  return body === "" ? null : JSON.parse(body);
}

/** The example dataset (policies/demo/ecosystem.ts) under another id and owner. */
export function datasetInput(
  id: string,
  owner: string,
  extra: Partial<DatasetInput> = {},
): Record<string, unknown> {
  return { ...structuredClone(EXAMPLE_DATASET), id, owner, ...extra };
}

/**
 * The example agreement's fields and purpose, for both actions, valid from a
 * day ago for a year, priced per request and per record, and nothing else
 * (no pseudonyms, quota, retention or value shares): tests add what they check.
 */
export function agreementInput(
  id: string,
  provider: string,
  consumer: string,
  dataset: string,
  extra: Partial<Record<keyof AgreementInput, unknown>> = {},
): Record<string, unknown> {
  const now = Date.now();
  return {
    id,
    dataset,
    provider,
    consumer,
    actions: ["read", "deliver"],
    fields: [...EXAMPLE_AGREEMENT.fields],
    purposes: [...EXAMPLE_AGREEMENT.purposes],
    validFrom: new Date(now - 86_400_000).toISOString(),
    validUntil: new Date(now + 365 * 86_400_000).toISOString(),
    price: { ...EXAMPLE_AGREEMENT.price, perRequest: 100 },
    ...extra,
  };
}

let counter = 0;

export async function createEcosystem(
  t: TestGateway,
  options: {
    providerHandler?: Handler;
    agreement?: Partial<Record<keyof AgreementInput, unknown>>;
    dataset?: Partial<DatasetInput>;
  } = {},
): Promise<Ecosystem> {
  const n = `${process.pid}-${++counter}`;
  const ids = { provider: `prov-${n}`, consumer: `cons-${n}`, dataset: `ds-${n}` };
  const agreement = `agr-${n}`;
  const provider = await startBackend(options.providerHandler ?? json({ items: RECORDS }));
  const consumer = await startBackend(json({ accepted: true }));
  const secrets: Record<string, string> = {};
  for (const [id, jurisdiction, backend] of [
    [ids.provider, "SE", provider],
    [ids.consumer, "DE", consumer],
  ] as const) {
    const created = (await ok(
      await t.admin("POST", "/admin/partners", {
        id,
        name: `Partner ${id}`,
        jurisdiction,
        baseUrl: backend.url,
      }),
      201,
      `create ${id}`,
    )) as { clientSecret: string };
    secrets[id] = created.clientSecret;
  }
  await ok(
    await t.admin(
      "POST",
      "/admin/datasets",
      datasetInput(ids.dataset, ids.provider, options.dataset),
    ),
    201,
    "create dataset",
  );
  await ok(
    await t.admin(
      "POST",
      "/admin/agreements",
      agreementInput(agreement, ids.provider, ids.consumer, ids.dataset, options.agreement),
    ),
    201,
    "create agreement",
  );
  const partnerToken = async (partner: string, scope = `agreement:${agreement}`) => {
    const res = await t.app.request("/oauth/token", {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`${partner}:${secrets[partner]}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
    });
    const body = (await ok(res, 200, `token for ${partner}`)) as { access_token: string };
    return body.access_token;
  };
  return {
    provider,
    consumer,
    secrets,
    agreement,
    ids,
    partnerToken,
    close: async () => {
      await provider.close();
      await consumer.close();
    },
  };
}
