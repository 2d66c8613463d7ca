/**
 * The local server as `npm start` runs it, minus the embedded store (the run's
 * DynamoDB Local is given as DYNAMODB_ENDPOINT): the printed tour works as
 * written (its self-service and large-transfer steps run as printed, with
 * bash and curl; the demo
 * backends check the gateway's JWTs and events with the partner SDK), the
 * demo survives a restart on the same data, DEMO=0 starts bare.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseLocalEnv } from "../../functions/local/config.ts";
import { BULK_RECORDS } from "../../functions/local/demo-backends.ts";
import { freePort } from "../../functions/local/dynamo-local.ts";
import { type LocalGateway, startLocalGateway } from "../../functions/local/server.ts";
import { dynamoEndpoint } from "../support/gateway.ts";

const run = promisify(execFile);
const started: LocalGateway[] = [];
afterAll(async () => {
  for (const g of started) await g.stop();
});

const usedPorts = new Set<number>();

async function start(env: Record<string, string>): Promise<LocalGateway> {
  // A new gateway never takes an earlier one's port: the demo backends of this
  // process cache each gateway's published keys by its URL.
  let port = await freePort();
  while (usedPorts.has(port)) port = await freePort();
  usedPorts.add(port);
  const g = await startLocalGateway(
    parseLocalEnv({ DYNAMODB_ENDPOINT: dynamoEndpoint(), PORT: String(port), ...env }),
  );
  started.push(g);
  return g;
}

async function token(base: string, id: string, secret: string, scope: string): Promise<string> {
  const res = await fetch(`${base}/oauth/token`, {
    method: "POST",
    headers: {
      Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`,
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: `grant_type=client_credentials&scope=${scope}`,
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** The lines of one numbered step of the tour, up to the blank line that ends it. */
function step(tour: string, n: number): string {
  const lines = tour.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`# ${n}.`));
  if (start < 0) throw new Error(`the tour has no step ${n}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

describe("npm start", () => {
  it("runs the tour it prints", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "dsg-local-"));
    const g = await start({
      DATA_DIR: dataDir,
      OPERATOR_CLIENT_SECRET: "operator-secret-for-tests",
    });
    const base = g.url;
    expect(g.tour).toContain(`${base}/v1/exchange/agr-1`);
    expect(g.tour).toContain("operator-secret-for-tests");
    expect((await fetch(`${base}/health`)).status).toBe(200);

    // 1-2. InsureCo pulls telemetry: core and ungranted fields cut, names pseudonymized.
    const insureco = await token(base, "insureco", g.demoSecrets.insureco ?? "", "agreement:agr-1");
    const read = await fetch(`${base}/v1/exchange/agr-1`, {
      headers: { Authorization: `Bearer ${insureco}`, "Data-Purpose": "insurance-pricing" },
    });
    expect(read.status).toBe(200);
    const text = await read.text();
    const body = JSON.parse(text) as { items: Record<string, unknown>[] };
    expect(read.headers.get("x-records")).toBe(String(body.items.length));
    expect(body.items.length).toBeGreaterThan(0);
    for (const forbidden of [
      "CAL-",
      "calibration",
      "routePlan",
      "license",
      "odometerMicros",
      "Anna Berg",
    ]) {
      expect(text).not.toContain(forbidden);
    }
    expect(Object.keys(body.items[0] ?? {}).sort()).toEqual([
      "driver",
      "mileage",
      "notes",
      "speed",
      "vin",
    ]);

    // 3. A core marker in a granted field: 502 leak_blocked.
    const leak = await fetch(`${base}/v1/exchange/agr-1/incidents`, {
      headers: { Authorization: `Bearer ${insureco}`, "Data-Purpose": "insurance-pricing" },
    });
    expect(leak.status).toBe(502);
    expect(((await leak.json()) as { code: string }).code).toBe("leak_blocked");

    // 4. FleetCo delivers: only vin and mileage arrive.
    const fleetco = await token(base, "fleetco", g.demoSecrets.fleetco ?? "", "agreement:agr-2");
    const delivered = await fetch(`${base}/v1/exchange/agr-2`, {
      method: "POST",
      headers: { Authorization: `Bearer ${fleetco}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        items: [{ vin: "V1", mileage: 1, engine: { calibration: "secret" } }],
      }),
    });
    expect(delivered.status).toBe(200);
    const inbox = /curl -s (http:\/\/127\.0\.0\.1:\d+)\/inbox/.exec(g.tour)?.[1];
    const received = (await (await fetch(`${inbox}/inbox`)).json()) as {
      items: { body?: string }[];
    };
    expect(received.items.at(-1)?.body).toBe('{"items":[{"vin":"V1","mileage":1}]}');

    // 5. Revoke InsureCo: its very next exchange is refused.
    const operator = await token(base, g.operator.id, g.operator.secret, "admin");
    const admin = (path: string, reason: string) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${operator}`, "Content-Type": "application/json" },
        body: JSON.stringify({ reason }),
      });
    expect((await admin("/admin/partners/insureco/revoke", "tour")).status).toBe(200);
    const refused = await fetch(`${base}/v1/exchange/agr-1`, {
      headers: { Authorization: `Bearer ${insureco}`, "Data-Purpose": "insurance-pricing" },
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { code: string }).code).toBe("partner_revoked");
    expect((await admin("/admin/partners/insureco/reinstate", "tour done")).status).toBe(200);

    // 6. Finance sees the read counted once, with its value.
    const finance = await token(base, g.finance.id, g.finance.secret, "metrics:read");
    const flows = (await (
      await fetch(`${base}/metrics/flows?granularity=total`, {
        headers: { Authorization: `Bearer ${finance}` },
      })
    ).json()) as {
      items: {
        agreement: string;
        requests: number;
        records: number;
        blocked: number;
        denied: number;
        value: { amount: number };
      }[];
    };
    const agr1 = flows.items.find((r) => r.agreement === "agr-1");
    expect(agr1).toMatchObject({ requests: 1, records: body.items.length, blocked: 1, denied: 1 });
    expect(agr1?.value.amount).toBe(2000 * body.items.length);

    // A restart on the same data keeps the ecosystem (and the counts).
    await g.stop();
    started.splice(started.indexOf(g), 1);
    const again = await start({
      DATA_DIR: dataDir,
      OPERATOR_CLIENT_SECRET: "operator-secret-for-tests",
    });
    const op2 = await token(again.url, again.operator.id, "operator-secret-for-tests", "admin");
    const partners = (await (
      await fetch(`${again.url}/admin/partners`, { headers: { Authorization: `Bearer ${op2}` } })
    ).json()) as { items: { id: string; status: string }[] };
    expect(partners.items.map((p) => `${p.id}:${p.status}`).sort()).toEqual([
      "fleetco:active",
      "insureco:active",
      "telematico:active",
    ]);
    const fin2 = await token(again.url, again.finance.id, again.finance.secret, "metrics:read");
    const flows2 = (await (
      await fetch(`${again.url}/metrics/flows?granularity=total`, {
        headers: { Authorization: `Bearer ${fin2}` },
      })
    ).json()) as { items: { agreement: string; requests: number }[] };
    expect(flows2.items.find((r) => r.agreement === "agr-1")?.requests).toBe(1);
  }, 120_000);

  it("runs the tour's self-service step as printed, with bash and curl: the approval event reaches the inbox", async () => {
    // One gateway on the shared tables at a time: another's outbox worker would sign
    // this one's events with its own keys.
    for (const earlier of started.splice(0)) await earlier.stop();
    const g = await start({ DATA_DIR: await mkdtemp(join(tmpdir(), "dsg-tour-")) });
    const script = step(g.tour, 8);
    expect(script).toContain("/v1/agreement-requests");
    const { stdout } = await run("bash", ["-c", `set -euo pipefail\n${script}`], {
      timeout: 60_000,
    });
    const [catalog = "", ...rest] = stdout.split("\n");
    const entries = (
      JSON.parse(catalog) as { items: { dataset: string; offers: { id: string }[] }[] }
    ).items;
    expect(entries.find((e) => e.dataset === "vehicle-telemetry")?.offers.map((o) => o.id)).toEqual(
      ["telemetry-basic"],
    );
    expect(catalog.toLowerCase()).not.toContain("calibration");
    const read = rest.join("\n");
    expect(read).toMatch(/^HTTP\/1\.1 200/);
    expect(read).toMatch(/x-records: 4/i);
    const body = JSON.parse(read.slice(read.indexOf("\r\n\r\n") + 4)) as {
      items: Record<string, unknown>[];
    };
    expect(Object.keys(body.items[0] ?? {}).sort()).toEqual(["mileage", "speed", "vin"]);

    const inbox = /curl -s (http:\/\/127\.0\.0\.1:\d+)\/inbox/.exec(g.tour)?.[1];
    const deadline = Date.now() + 10_000;
    let types: string[] = [];
    while (Date.now() < deadline) {
      const got = (await (await fetch(`${inbox}/inbox`)).json()) as {
        items: { event?: { type: string } }[];
      };
      types = got.items.flatMap((i) => (i.event === undefined ? [] : [i.event.type]));
      if (
        types.includes("agreement_request.approved") &&
        types.includes("agreement_request.created")
      )
        break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(types).toEqual(
      expect.arrayContaining(["agreement_request.created", "agreement_request.approved"]),
    );
  }, 120_000);

  it("runs the tour's large-transfer step as printed: curl pulls the cut bulk export from its URL", async () => {
    for (const earlier of started.splice(0)) await earlier.stop();
    const g = await start({ DATA_DIR: await mkdtemp(join(tmpdir(), "dsg-bulk-")) });
    const script = step(g.tour, 9);
    expect(script).toContain("/v1/transfers");
    const cwd = await mkdtemp(join(tmpdir(), "dsg-bulk-out-"));
    const { stdout } = await run("bash", ["-c", `set -euo pipefail\n${script}`], {
      timeout: 90_000,
      cwd,
    });
    const [shown = "", lines = "", sum = ""] = stdout.trim().split("\n");
    const transfer = JSON.parse(shown) as { state: string; records: number; sha256: string };
    expect(transfer).toMatchObject({ state: "ready", records: BULK_RECORDS });
    expect(lines.trim()).toBe(`${BULK_RECORDS} transfer.ndjson`);
    expect(sum.split(/\s+/)[0]).toBe(transfer.sha256);
    const body = await readFile(join(cwd, "transfer.ndjson"), "utf8");
    expect(body).not.toContain("CAL-");
    expect(body).not.toContain("routePlan");
  }, 120_000);

  it("with DEMO=0 starts without demo partners or backends", async () => {
    const g = await start({
      DATA_DIR: await mkdtemp(join(tmpdir(), "dsg-local-")),
      DEMO: "0",
      TOKEN_TTL_SECONDS: "120",
    });
    expect(g.tour).toContain("DEMO=0");
    expect(g.demoSecrets).toEqual({});
    const res = await fetch(`${g.url}/oauth/token`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${Buffer.from(`${g.finance.id}:${g.finance.secret}`).toString("base64")}`,
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    expect(((await res.json()) as { expires_in: number }).expires_in).toBe(120);
  }, 60_000);

  it("refuses invalid settings with a clear message", () => {
    expect(() => parseLocalEnv({ PORT: "http" })).toThrow(/PORT/);
    expect(() => parseLocalEnv({ DEMO: "yes" })).toThrow(/DEMO/);
    expect(() => parseLocalEnv({ TOKEN_TTL_SECONDS: "0" })).toThrow(/TOKEN_TTL_SECONDS/);
    expect(() => parseLocalEnv({ TRANSFER_MAX_BYTES: "0" })).toThrow(/TRANSFER_MAX_BYTES/);
    expect(parseLocalEnv({}).TRANSFER_MAX_BYTES).toBe(5 * 1024 ** 3);
  });
});
