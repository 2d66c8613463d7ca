/**
 * The soak's ecosystem, made through the admin API: providers (each with a
 * dataset) and consumers, every partner with a backend of its own on
 * loopback, and agreements between them: a quarter with a daily request
 * quota, a quarter with a monthly record quota (both small enough to be hit). One provider's backend fails a small
 * share of its answers (the gateway must answer 502 and count nothing).
 */
import { createServer, type Server } from "node:http";
import { datasetInput, telemetryBody } from "../fixtures.ts";
import type { LoadTarget } from "./local.ts";

export interface SoakPartner {
  readonly index: number;
  readonly id: string;
  readonly role: "provider" | "consumer";
  readonly url: string;
  secret: string;
  /** How many times its secret was rotated. */
  generation: number;
}

export interface SoakAgreement {
  readonly index: number;
  readonly id: string;
  readonly provider: number;
  readonly consumer: number;
  readonly quota: { readonly requestsPerDay?: number; readonly recordsPerMonth?: number };
  readonly price: { readonly perRequest: number; readonly perRecord: number };
}

export interface SoakWorld {
  readonly runId: string;
  readonly partners: readonly SoakPartner[];
  readonly agreements: readonly SoakAgreement[];
  /** Records a read releases (the provider bodies are all alike). */
  readonly recordsPerRead: number;
  readonly deliverBody: string;
  readonly recordsPerDeliver: number;
  /** Index of the provider whose backend fails now and then, or -1. */
  readonly flakyProvider: number;
  /** GETs the backends answered with 500. */
  readonly upstreamFailures: () => number;
  close(): Promise<void>;
}

export const PURPOSE = "fleet-analytics";
const FLAKY_SHARE = 0.02;

interface Backend {
  readonly url: string;
  readonly server: Server;
}

/**
 * A provider's answer differs on every call (mileage carries the call's
 * number), so a replayed answer can be told from a new one by its bytes.
 */
function startBackend(
  body: () => Buffer,
  flaky: () => boolean,
  onFailure: () => void,
): Promise<Backend> {
  const accepted = Buffer.from('{"accepted":true}');
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.method === "GET") {
        if (flaky()) {
          onFailure();
          res.writeHead(500, { "Content-Type": "text/plain" });
          res.end("backend failure");
          return;
        }
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(body());
        return;
      }
      // Deliveries (POST {path}) and gateway events (POST /gateway-events).
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(accepted);
    });
  });
  server.keepAliveTimeout = 60_000;
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({
        url: `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}`,
        server,
      });
    }),
  );
}

export async function buildWorld(
  target: LoadTarget,
  options: { partners: number; quota: number; tradeRules: boolean; random: () => number },
): Promise<SoakWorld> {
  const runId = Date.now().toString(36);
  const providers = Math.max(1, Math.ceil(options.partners / 2));
  const consumers = Math.max(1, options.partners - providers);
  const base = JSON.parse(telemetryBody(2048)) as { items: { mileage: number }[] };
  let calls = 0;
  const body = () => {
    const n = ++calls;
    return Buffer.from(
      JSON.stringify({ ...base, items: base.items.map((r) => ({ ...r, mileage: r.mileage + n })) }),
    );
  };
  let failures = 0;
  const backends: Backend[] = [];
  const partners: SoakPartner[] = [];
  const close = async () => {
    for (const b of backends) {
      b.server.closeAllConnections();
      await new Promise<void>((r) => b.server.close(() => r()));
    }
  };
  try {
    if (options.tradeRules) {
      // As a deployment would have them (and as bench/fixtures.ts's typical state does).
      await target.operator.expect(200, "PUT", "/admin/trade-rules", {
        embargoedJurisdictions: ["KP", "IR"],
        deniedParties: ["shadyco"],
      });
    }
    for (let i = 0; i < providers + consumers; i++) {
      const role = i < providers ? "provider" : "consumer";
      const flaky = i === 0 ? () => options.random() < FLAKY_SHARE : () => false;
      const backend = await startBackend(body, flaky, () => failures++);
      backends.push(backend);
      const id = `soak-${role === "provider" ? "p" : "c"}${String(i).padStart(3, "0")}-${runId}`;
      const created = await target.operator.expect<{ clientSecret: string }>(
        201,
        "POST",
        "/admin/partners",
        {
          id,
          name: `Soak ${role} ${i}`,
          jurisdiction: role === "provider" ? "SE" : i % 2 === 0 ? "DE" : "FR",
          baseUrl: backend.url,
        },
      );
      partners.push({
        index: i,
        id,
        role,
        url: backend.url,
        secret: created.clientSecret,
        generation: 0,
      });
    }
    for (const p of partners.filter((x) => x.role === "provider")) {
      await target.operator.expect(
        201,
        "POST",
        "/admin/datasets",
        datasetInput(`ds-${p.id}`, p.id),
      );
    }
    // Every consumer gets two agreements, with providers taken in turn.
    const agreements: SoakAgreement[] = [];
    const consumerList = partners.filter((x) => x.role === "consumer");
    const providerList = partners.filter((x) => x.role === "provider");
    const now = Date.now();
    let k = 0;
    for (const c of consumerList) {
      const chosen = new Set<number>();
      for (let j = 0; j < Math.min(2, providerList.length); j++) {
        let p = providerList[k++ % providerList.length] as SoakPartner;
        if (chosen.has(p.index)) p = providerList[k++ % providerList.length] as SoakPartner;
        chosen.add(p.index);
        const index = agreements.length;
        const quota =
          index % 4 === 0
            ? { requestsPerDay: options.quota }
            : index % 4 === 1
              ? { recordsPerMonth: options.quota * 8 }
              : {};
        const price = { perRequest: 100 + index, perRecord: 2000 };
        const id = `agr-${String(index).padStart(3, "0")}-${runId}`;
        await target.operator.expect(201, "POST", "/admin/agreements", {
          id,
          dataset: `ds-${p.id}`,
          provider: p.id,
          consumer: c.id,
          actions: ["read", "deliver"],
          fields: ["vin", "mileage", "speed.avg", "driver.name", "notes"],
          pseudonymize: ["driver.name"],
          purposes: [PURPOSE],
          validFrom: new Date(now - 86_400_000).toISOString(),
          validUntil: new Date(now + 365 * 86_400_000).toISOString(),
          ...(Object.keys(quota).length > 0 ? { quota } : {}),
          price: { currency: "EUR", ...price },
          retentionDays: 30,
        });
        agreements.push({ index, id, provider: p.index, consumer: c.index, quota, price });
      }
    }
    const deliverItems = Array.from({ length: 3 }, (_, i) => ({
      vin: `VIN-D${i}`,
      mileage: 1000 + i,
      speed: { avg: 50 + i },
      notes: "delivered",
    }));
    return {
      runId,
      partners,
      agreements,
      recordsPerRead: base.items.length,
      deliverBody: JSON.stringify({ items: deliverItems }),
      recordsPerDeliver: deliverItems.length,
      flakyProvider: 0,
      upstreamFailures: () => failures,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
