/**
 * Seeds the demo ecosystem (policies/demo/ecosystem.ts) through the
 * operators' own API (so the demo takes the same checks as everyone), and
 * points the demo partners at this run's demo backends.
 */
import type { Hono } from "hono";
import { DEMO_ECOSYSTEM } from "../../policies/demo/ecosystem.ts";
import type { AppEnv } from "../http/env.ts";

export interface SeededDemo {
  readonly secrets: Readonly<Record<string, string>>;
}

type Caller = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: unknown }>;

export function operatorCaller(app: Hono<AppEnv>, token: string): Caller {
  return async (method, path, body) => {
    const res = await app.request(path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, json: text === "" ? null : JSON.parse(text) };
  };
}

function expect(res: { status: number; json: unknown }, ok: number[], what: string) {
  if (!ok.includes(res.status))
    throw new Error(`demo seed: ${what} answered ${res.status} ${JSON.stringify(res.json)}`);
}

/** A validity window around now, so the demo works whenever it runs. */
function rolling(now: Date): { validFrom: string; validUntil: string } {
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const until = new Date(Date.UTC(now.getUTCFullYear() + 1, now.getUTCMonth(), 1));
  return { validFrom: from.toISOString(), validUntil: until.toISOString() };
}

export async function seedDemo(
  call: Caller,
  backends: { provider: string; consumer: string },
  now: Date,
): Promise<SeededDemo> {
  const eco = DEMO_ECOSYSTEM;
  const secrets: Record<string, string> = {};
  for (const p of eco.partners) {
    const baseUrl = backends[p.backend];
    const found = await call("GET", `/admin/partners/${p.id}`);
    if (found.status === 404) {
      const created = await call("POST", "/admin/partners", {
        id: p.id,
        name: p.name,
        jurisdiction: p.jurisdiction,
        baseUrl,
      });
      expect(created, [201], `creating partner ${p.id}`);
    } else {
      expect(found, [200], `reading partner ${p.id}`);
      const current = found.json as { baseUrl: string; status: string };
      if (current.baseUrl !== baseUrl) {
        expect(
          await call("PATCH", `/admin/partners/${p.id}`, {
            baseUrl,
            reason: "local demo restarted",
          }),
          [200],
          `updating ${p.id}`,
        );
      }
      if (current.status === "revoked") {
        expect(
          await call("POST", `/admin/partners/${p.id}/reinstate`, {
            reason: "local demo restarted",
          }),
          [200],
          `reinstating ${p.id}`,
        );
      }
      if (current.status === "suspended") {
        expect(
          await call("POST", `/admin/partners/${p.id}/resume`, { reason: "local demo restarted" }),
          [200],
          `resuming ${p.id}`,
        );
      }
    }
    const rotated = await call("POST", `/admin/partners/${p.id}/credentials`);
    expect(rotated, [200], `issuing credentials for ${p.id}`);
    secrets[p.id] = (rotated.json as { clientSecret: string }).clientSecret;
  }
  for (const d of eco.datasets) {
    const found = await call("GET", `/admin/datasets/${d.id}`);
    if (found.status === 404)
      expect(await call("POST", "/admin/datasets", d), [201], `creating dataset ${d.id}`);
  }
  for (const { dataset, ...offer } of eco.offers) {
    const found = await call("GET", `/admin/datasets/${dataset}/offers`);
    expect(found, [200], `reading the offers of ${dataset}`);
    const offers = (found.json as { items: { id: string }[] }).items;
    if (!offers.some((o) => o.id === offer.id)) {
      expect(
        await call("POST", `/admin/datasets/${dataset}/offers`, offer),
        [201],
        `publishing offer ${offer.id}`,
      );
    }
  }
  for (const a of eco.agreements) {
    const found = await call("GET", `/admin/agreements/${a.id}`);
    const window = rolling(now);
    if (found.status === 404) {
      expect(
        await call("POST", "/admin/agreements", { ...a, ...window }),
        [201],
        `creating agreement ${a.id}`,
      );
      continue;
    }
    const current = found.json as { status: string; validUntil: string };
    if (current.status === "suspended") {
      expect(
        await call("POST", `/admin/agreements/${a.id}/resume`, { reason: "local demo restarted" }),
        [200],
        `resuming ${a.id}`,
      );
    }
    if (current.status !== "terminated" && Date.parse(current.validUntil) <= now.getTime()) {
      expect(
        await call("PATCH", `/admin/agreements/${a.id}`, {
          ...window,
          reason: "local demo renewed",
        }),
        [200],
        `renewing ${a.id}`,
      );
    }
  }
  return { secrets };
}
