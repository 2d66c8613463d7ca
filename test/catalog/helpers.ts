/**
 * A self-service world built through the public API: a provider that owns a
 * dataset, consumers in several jurisdictions, and each partner's catalog
 * calls made with a token from the real token endpoint.
 */
import { type Handler, json, startBackend, type TestBackend } from "../support/backends.ts";
import { datasetInput } from "../support/ecosystem.ts";
import type { TestGateway } from "../support/gateway.ts";

let counter = 0;
export const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

export async function expectStatus(res: Response, status: number): Promise<unknown> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
  return text === "" ? null : JSON.parse(text);
}

export interface Member {
  readonly id: string;
  readonly secret: string;
  readonly backend: TestBackend;
  /** A token from the token endpoint (default scope: catalog). */
  token(scope?: string): Promise<string>;
  /** A call with a catalog token (fetched once, reused). */
  call(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<Response>;
}

export async function tokenFor(
  t: TestGateway,
  id: string,
  secret: string,
  scope: string,
): Promise<Response> {
  return t.app.request("/oauth/token", {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope }).toString(),
  });
}

export async function createMember(
  t: TestGateway,
  id: string,
  jurisdiction: string,
  handler: Handler = json({ items: [] }),
): Promise<Member> {
  const backend = await startBackend(handler);
  const created = (await expectStatus(
    await t.admin("POST", "/admin/partners", {
      id,
      name: `Partner ${id}`,
      jurisdiction,
      baseUrl: backend.url,
    }),
    201,
  )) as { clientSecret: string };
  const secret = created.clientSecret;
  const token = async (scope = "catalog") => {
    const body = (await expectStatus(await tokenFor(t, id, secret, scope), 200)) as {
      access_token: string;
    };
    return body.access_token;
  };
  let catalogToken: string | undefined;
  return {
    id,
    secret,
    backend,
    token,
    async call(method, path, body, headers = {}) {
      catalogToken ??= await token();
      return t.call(method, path, {
        token: catalogToken,
        ...(body === undefined ? {} : { body }),
        headers,
      });
    },
  };
}

export interface World {
  readonly provider: Member;
  /** DE: inside the dataset's export control. */
  readonly consumer: Member;
  /** US: outside it. */
  readonly outsider: Member;
  readonly dataset: string;
  close(): Promise<void>;
}

export const RECORDS = [
  { vin: "VIN-1", mileage: 1000, speed: { avg: 50 }, engine: { calibration: "x" } },
  { vin: "VIN-2", mileage: 2000, speed: { avg: 60 }, engine: { calibration: "y" } },
];

export async function createWorld(t: TestGateway): Promise<World> {
  const provider = await createMember(t, unique("prov"), "SE", json({ items: RECORDS }));
  const consumer = await createMember(t, unique("cons"), "DE");
  const outsider = await createMember(t, unique("far"), "US");
  const dataset = unique("ds");
  await expectStatus(
    await t.admin(
      "POST",
      "/admin/datasets",
      datasetInput(dataset, provider.id, {
        title: "Vehicle telemetry",
        description: "Mileage and average speed of a delivery fleet, per vehicle.",
      }),
    ),
    201,
  );
  return {
    provider,
    consumer,
    outsider,
    dataset,
    close: async () => {
      for (const m of [provider, consumer, outsider]) await m.backend.close();
    },
  };
}

/** A valid offer on the test dataset (fields of datasetInput). */
export const OFFER = {
  actions: ["read"],
  fields: ["vin", "mileage", "speed.avg", "driver.name"],
  pseudonymize: ["driver.name"],
  purposes: ["insurance-pricing", "fleet-analytics"],
  price: { currency: "EUR", perRequest: 100, perRecord: 2000 },
  quota: { requestsPerDay: 100 },
  retentionDays: 30,
  durationDays: 90,
};

export interface OfferView {
  id: string;
  dataset: string;
  provider: string;
  status: string;
  fields: string[];
  purposes: string[];
  pseudonymize: string[];
  durationDays: number;
  publishedBy: string;
  createdAt: string;
}

export async function publish(w: World, extra: Record<string, unknown> = {}): Promise<OfferView> {
  return (await expectStatus(
    await w.provider.call("POST", `/v1/datasets/${w.dataset}/offers`, { ...OFFER, ...extra }),
    201,
  )) as OfferView;
}

export interface RequestView {
  id: string;
  offer: string;
  dataset: string;
  provider: string;
  consumer: string;
  fields: string[];
  purposes: string[];
  pseudonymize: string[];
  actions: string[];
  state: string;
  agreement: string | null;
  createdAt: string;
  decidedBy: string | null;
  reason: string | null;
}
