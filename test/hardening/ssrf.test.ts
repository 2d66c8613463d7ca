/**
 * Upstreams: where a backend may be (checked at registration and again at
 * connect time, against the resolved address), no redirects, a deadline, a
 * size cap, and nothing partial ever released or metered.
 */
import type { LookupAddress } from "node:dns";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addressProblem, baseUrlProblem } from "../../functions/exchange/address.ts";
import {
  createUpstreamTransport,
  safeLookup,
  type UpstreamRequest,
  type UpstreamResponse,
  type UpstreamTransport,
} from "../../functions/exchange/upstream.ts";
import { DEFAULT_SETTINGS } from "../../functions/gateway.ts";
import { startBackend, type TestBackend } from "../support/backends.ts";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, ISSUER, type TestGateway } from "../support/gateway.ts";

const DEPLOYED = { allowLoopback: false };
const LOCAL = { allowLoopback: true };

/** A fake DNS: names the tests control, answered the way node's dns.lookup answers. */
const ZONE: Readonly<Record<string, readonly string[]>> = {
  "public.example": ["93.184.216.34"],
  "public6.example": ["2606:4700:4700::1111"],
  "rebind.example": ["127.0.0.1"],
  "loop6.example": ["::1"],
  "meta.example": ["169.254.169.254"],
  "private.example": ["10.1.2.3"],
  "mixed.example": ["93.184.216.34", "192.168.1.1"],
  "mapped.example": ["::ffff:127.0.0.1"],
  "nat64.example": ["64:ff9b::a9fe:a9fe"],
  "cgnat.example": ["100.64.0.1"],
  "empty.example": [],
};

function fakeLookup(
  hostname: string,
  options: { all?: boolean; family?: number },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
): void {
  const found = ZONE[hostname.replace(/\.$/, "")];
  if (found === undefined) {
    const err: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
    err.code = "ENOTFOUND";
    callback(err, []);
    return;
  }
  const all = found.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  callback(null, options.family ? all.filter((a) => a.family === options.family) : all);
}

const fakeResolve = async (host: string): Promise<string[]> =>
  new Promise((resolve, reject) =>
    fakeLookup(host, { all: true }, (err, list) =>
      err ? reject(err) : resolve(list.map((a) => a.address)),
    ),
  );

// ------------------------------------------------------------------ static checks

describe("addressProblem and baseUrlProblem", () => {
  const refusedEverywhere = [
    "https://10.0.0.1",
    "https://172.16.5.4",
    "https://192.168.0.1",
    "https://169.254.169.254",
    "https://[fe80::1]",
    "https://224.0.0.1",
    "https://239.255.255.250",
    "https://[ff02::1]",
    "https://100.64.0.1",
    "https://100.127.255.254",
    "https://0.0.0.0",
    "https://0",
    "https://255.255.255.255",
    "https://[::]",
    "https://[fc00::1]",
    "https://[fd12:3456::1]",
    "https://[fec0::1]",
    "https://[64:ff9b::7f00:1]",
    "https://[64:ff9b::a9fe:a9fe]",
    "https://[64:ff9b:1::1]",
    "https://[2002:7f00:1::]",
    "https://[2002:a9fe:a9fe::1]",
    "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    "https://[2001:db8::1]",
    "https://[3fff::1]",
    "https://[100::1]",
    "https://[::7f00:1]",
    "https://[::a9fe:a9fe]",
    "https://[::ffff:169.254.169.254]",
    "https://[::ffff:a00:1]",
    "https://[::ffff:8.8.8.8]",
    "https://[::ffff:0:7f00:1]",
    "https://[::ffff:0:a9fe:a9fe]",
    "https://198.18.0.1",
    "https://192.0.2.1",
    "https://192.0.0.8",
    "https://240.0.0.1",
    "https://public@127.0.0.1",
    "https://user:pass@example.com",
    "https://127.0.0.1:443@evil.example",
    "https://evil.example?x=1",
    "https://evil.example#@127.0.0.1",
    "ftp://example.com",
    "file:///etc/passwd",
    "not a url",
  ];

  const loopbackNotations = [
    "https://127.0.0.1",
    "https://127.0.0.1.",
    "https://127.255.255.254",
    "https://2130706433",
    "https://0177.0.0.1",
    "https://0177.1",
    "https://0x7f.1",
    "https://0x7f000001",
    "https://0x7F.0.0.1",
    "https://127.1",
    "https://127.0.1",
    "https://[::1]",
    "https://[0:0:0:0:0:0:0:1]",
    "https://[::ffff:127.0.0.1]",
    "https://[::ffff:7f00:1]",
    "https://[0:0:0:0:0:ffff:127.0.0.1]",
    "https://[0000:0000:0000:0000:0000:ffff:7f00:0001]",
    "https://localhost",
    "https://LOCALHOST",
    "https://localhost.",
    "https://localhost..",
    "https://api.localhost",
    "https://api.localhost.",
    "https://LocalHost.:8443/x",
  ];

  it("deployed: loopback in every notation, and localhost names, are refused", () => {
    for (const url of loopbackNotations) {
      expect(baseUrlProblem(url, DEPLOYED), url).not.toBeNull();
    }
  });

  it("deployed and local: private, link-local, multicast, CGNAT, mapped, NAT64, 6to4, userinfo are refused", () => {
    for (const url of refusedEverywhere) {
      expect(baseUrlProblem(url, DEPLOYED), url).not.toBeNull();
      expect(baseUrlProblem(url, LOCAL), url).not.toBeNull();
    }
  });

  it("deployed: http is refused even for a public address", () => {
    expect(baseUrlProblem("http://93.184.216.34", DEPLOYED)).toMatch(/https/);
    expect(baseUrlProblem("http://example.com", DEPLOYED)).toMatch(/https/);
  });

  it("deployed: public IPv4 and IPv6 addresses and names are allowed", () => {
    for (const url of [
      "https://93.184.216.34",
      "https://8.8.8.8",
      "https://1.1.1.1/base",
      "https://[2606:4700:4700::1111]",
      "https://[2a00:1450:4001:80b::200e]:8443",
      "https://example.com",
      "https://api.partner.example:8443/v2",
    ]) {
      expect(baseUrlProblem(url, DEPLOYED), url).toBeNull();
    }
  });

  it("local: plain loopback backends are allowed (the contract's local mode)", () => {
    for (const url of ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:9000/x"]) {
      expect(baseUrlProblem(url, LOCAL), url).toBeNull();
    }
  });

  it("resolved addresses as DNS hands them over, including mapped and scoped forms", () => {
    for (const a of [
      "127.0.0.1",
      "::1",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "::ffff:169.254.169.254",
      "169.254.169.254",
      "fe80::1%eth0",
      "fe80::1",
      "10.0.0.1",
      "0177.0.0.1",
      "2130706433",
      "",
      "localhost",
    ]) {
      expect(addressProblem(a, DEPLOYED), a).not.toBeNull();
    }
    for (const a of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]) {
      expect(addressProblem(a, DEPLOYED), a).toBeNull();
    }
    expect(addressProblem("127.0.0.1", LOCAL)).toBeNull();
    expect(addressProblem("::1", LOCAL)).toBeNull();
    expect(addressProblem("::ffff:127.0.0.1", LOCAL)).not.toBeNull();
    expect(addressProblem("169.254.169.254", LOCAL)).not.toBeNull();
  });
});

// ------------------------------------------------------------------ the transport

describe("the transport refuses at connect time", () => {
  let backend: TestBackend;
  beforeAll(async () => {
    backend = await startBackend((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
  });
  afterAll(() => backend.close());

  const port = () => new URL(backend.url).port;
  const get = (transport: UpstreamTransport, url: string) =>
    transport({ method: "GET", url: new URL(url), headers: {}, timeoutMs: 2000, maxBytes: 1024 });

  it("safeLookup: localhost in deployed mode is refused, in local mode answered", async () => {
    const ask = (policy: typeof LOCAL, all: boolean) =>
      new Promise<{ err: Error | null; address: unknown }>((resolve) =>
        safeLookup(policy)("localhost", { all }, (err, address) => resolve({ err, address })),
      );
    for (const all of [false, true]) {
      const refused = await ask(DEPLOYED, all);
      expect(refused.err?.message).toMatch(/loopback/);
      const answered = await ask(LOCAL, all);
      expect(answered.err).toBeNull();
    }
  });

  it("an IP literal of loopback in deployed mode: refused, nothing sent", async () => {
    backend.received.length = 0;
    const res = await get(createUpstreamTransport(DEPLOYED), `http://127.0.0.1:${port()}/x`);
    expect(res).toMatchObject({ ok: false, kind: "refused_address" });
    expect(backend.received).toEqual([]);
  });

  it("localhost (real DNS) in deployed mode: refused, nothing sent; local mode reaches it", async () => {
    backend.received.length = 0;
    const refused = await get(createUpstreamTransport(DEPLOYED), `http://localhost:${port()}/x`);
    expect(refused).toMatchObject({ ok: false, kind: "refused_address" });
    expect(backend.received).toEqual([]);
    const reached = await get(createUpstreamTransport(LOCAL), `http://127.0.0.1:${port()}/x`);
    expect(reached).toMatchObject({ ok: true, status: 200 });
    expect(backend.received.length).toBe(1);
  });

  it("a name that resolves to loopback at call time (DNS rebinding): refused; the same name in local mode connects", async () => {
    backend.received.length = 0;
    const deployed = createUpstreamTransport(DEPLOYED, { lookup: fakeLookup });
    for (const host of ["rebind.example", "loop6.example", "mapped.example"]) {
      const res = await get(deployed, `http://${host}:${port()}/x`);
      expect(res, host).toMatchObject({ ok: false, kind: "refused_address" });
    }
    expect(backend.received).toEqual([]);
    const local = createUpstreamTransport(LOCAL, { lookup: fakeLookup });
    expect(await get(local, `http://rebind.example:${port()}/x`)).toMatchObject({ ok: true });
    expect(backend.received.length).toBe(1);
  });

  it("any non-public address among the answers refuses the call (even in local mode)", async () => {
    for (const policy of [DEPLOYED, LOCAL]) {
      const transport = createUpstreamTransport(policy, { lookup: fakeLookup });
      for (const host of [
        "meta.example",
        "private.example",
        "mixed.example",
        "nat64.example",
        "cgnat.example",
      ]) {
        const res = await get(transport, `https://${host}:${port()}/x`);
        expect(res, host).toMatchObject({ ok: false, kind: "refused_address" });
      }
    }
  });

  it("deployed mode refuses plain http at call time, before any lookup or connection", async () => {
    const res = await get(
      createUpstreamTransport(DEPLOYED, { lookup: fakeLookup }),
      "http://public.example/x",
    );
    expect(res).toMatchObject({ ok: false, kind: "refused_address" });
  });

  it("a scheme other than http(s) is refused, never spoken as http", async () => {
    backend.received.length = 0;
    for (const url of [`ftp://127.0.0.1:${port()}/x`, `ws://127.0.0.1:${port()}/x`]) {
      const res = await get(createUpstreamTransport(LOCAL), url);
      expect(res, url).toMatchObject({ ok: false });
    }
    expect(backend.received).toEqual([]);
  });

  it("a header the HTTP client refuses is an error answer, not a thrown exception", async () => {
    const transport = createUpstreamTransport(LOCAL);
    const req: UpstreamRequest = {
      method: "GET",
      url: new URL(`http://127.0.0.1:${port()}/x`),
      headers: { "X-Bad": "a\r\nInjected: 1" },
      timeoutMs: 1000,
      maxBytes: 1024,
    };
    await expect(transport(req)).resolves.toMatchObject({ ok: false, kind: "error" });
  });
});

// ------------------------------------------------------------------ registration and calls, deployed

describe("deployed mode through the admin API and the exchange", () => {
  let local: TestGateway;
  let deployed: TestGateway;
  let eco: Ecosystem;
  const seen: UpstreamResponse[] = [];

  beforeAll(async () => {
    local = await createTestGateway();
    eco = await createEcosystem(local);
    const real = createUpstreamTransport(DEPLOYED, { lookup: fakeLookup });
    // Same tables and keys: partners registered locally, served by a deployed gateway.
    deployed = await createTestGateway({
      client: local.client,
      tables: local.gw.db.tables,
      keys: local.gw.keys,
      settings: {
        ...DEFAULT_SETTINGS,
        issuer: ISSUER,
        audience: ISSUER,
        localBackends: false,
        upstreamTimeoutMs: 2000,
      },
      resolveHost: fakeResolve,
      transport: async (req) => {
        const res = await real(req);
        seen.push(res);
        return res;
      },
    });
  });
  afterAll(() => eco.close());

  const register = (baseUrl: string) =>
    deployed.admin("POST", "/admin/partners", {
      id: `p-${Math.random().toString(36).slice(2, 10)}`,
      name: "Backend check",
      jurisdiction: "SE",
      baseUrl,
    });

  it("registration refuses private targets: 422 backend_not_allowed", async () => {
    for (const baseUrl of [
      "https://127.0.0.1",
      "https://2130706433",
      "https://0177.0.0.1",
      "https://0x7f.1",
      "https://127.1",
      "https://[::1]",
      "https://[::ffff:127.0.0.1]",
      "https://[::ffff:7f00:1]",
      "https://[0:0:0:0:0:ffff:127.0.0.1]",
      "https://[64:ff9b::7f00:1]",
      "https://[2002:7f00:1::]",
      "https://169.254.169.254/latest/meta-data",
      "https://10.0.0.1",
      "https://100.64.0.1",
      "https://224.0.0.1",
      "https://localhost",
      "https://localhost.",
      "https://api.localhost.",
      "https://public@127.0.0.1",
      "http://public.example",
      "https://rebind.example",
      "https://rebind.example.",
      "https://meta.example",
      "https://mixed.example",
      "https://mapped.example",
      "https://nat64.example",
      "https://empty.example",
      "https://nxdomain.example",
    ]) {
      const res = await register(baseUrl);
      expect(res.status, baseUrl).toBe(422);
      expect(res.headers.get("Content-Type")).toBe("application/problem+json");
      expect(await res.json(), baseUrl).toMatchObject({ code: "backend_not_allowed" });
    }
  });

  it("registration accepts public backends by name and by address", async () => {
    for (const baseUrl of [
      "https://public.example",
      "https://public6.example:8443/api",
      "https://93.184.216.34",
      "https://8.8.8.8/base",
      "https://[2606:4700:4700::1111]",
    ]) {
      const res = await register(baseUrl);
      expect(res.status, baseUrl).toBe(201);
    }
  });

  it("a baseUrl update is checked the same way", async () => {
    const res = await deployed.admin("PATCH", `/admin/partners/${eco.ids.provider}`, {
      baseUrl: "https://169.254.169.254",
      reason: "test",
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: "backend_not_allowed" });
  });

  it("at call time: a stored loopback backend is refused (502), nothing reaches it, nothing is metered", async () => {
    eco.provider.received.length = 0;
    seen.length = 0;
    const token = await eco.partnerToken(eco.ids.consumer);
    const res = await deployed.call("GET", `/v1/exchange/${eco.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ code: "upstream_error" });
    expect(seen).toEqual([expect.objectContaining({ ok: false, kind: "refused_address" })]);
    expect(eco.provider.received).toEqual([]);
  });

  it("at call time: a name that looked public at registration and now resolves to loopback is refused", async () => {
    const e = await createEcosystem(local);
    try {
      const port = new URL(e.provider.url).port;
      // Registration resolves public.example to a public address...
      const patched = await deployed.admin("PATCH", `/admin/partners/${e.ids.provider}`, {
        baseUrl: `https://public.example:${port}`,
        reason: "move",
      });
      expect(patched.status).toBe(200);
      seen.length = 0;
      const token = await e.partnerToken(e.ids.consumer);
      // ...and the call resolves the same name through a lookup that now says 127.0.0.1.
      const res = await callWithZone(deployed, e, token, { "public.example": ["127.0.0.1"] });
      expect(res.status).toBe(502);
      expect(seen).toEqual([expect.objectContaining({ ok: false, kind: "refused_address" })]);
      expect(e.provider.received).toEqual([]);
    } finally {
      await e.close();
    }
  });

  /** Re-points names of the fake zone for one call. */
  async function callWithZone(
    t: TestGateway,
    e: Ecosystem,
    token: string,
    changes: Record<string, string[]>,
  ): Promise<Response> {
    const zone = ZONE as Record<string, readonly string[]>;
    const before = Object.fromEntries(Object.keys(changes).map((k) => [k, zone[k]]));
    Object.assign(zone, changes);
    try {
      return await t.call("GET", `/v1/exchange/${e.agreement}`, {
        token,
        headers: { "Data-Purpose": "insurance-pricing" },
      });
    } finally {
      Object.assign(zone, before);
    }
  }
});

// ------------------------------------------------------------------ hostile upstream answers

describe("hostile answers from a backend: nothing partial released, nothing metered", () => {
  const CAP = 64 * 1024;
  let t: TestGateway;
  let eco: Ecosystem;
  let elsewhere: TestBackend;
  let token: string;
  let providerToken: string;

  beforeAll(async () => {
    t = await createTestGateway({
      settings: {
        ...DEFAULT_SETTINGS,
        issuer: ISSUER,
        audience: ISSUER,
        localBackends: true,
        upstreamTimeoutMs: 600,
        maxBodyBytes: CAP,
      },
    });
    eco = await createEcosystem(t);
    elsewhere = await startBackend((_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ items: RECORDS }));
    });
    token = await eco.partnerToken(eco.ids.consumer);
    providerToken = await eco.partnerToken(eco.ids.provider);
  });
  afterAll(async () => {
    await elsewhere.close();
    await eco.close();
  });

  const read = () =>
    t.call("GET", `/v1/exchange/${eco.agreement}`, {
      token,
      headers: { "Data-Purpose": "insurance-pricing" },
    });

  async function expectProblem(res: Response, status: number, code: string): Promise<void> {
    expect(res.status).toBe(status);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(res.headers.get("X-Records")).toBeNull();
    const body = await res.text();
    expect(JSON.parse(body)).toMatchObject({ status, code });
    expect(body).not.toContain("VIN-");
  }

  it("control: a normal answer is released", async () => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ items: RECORDS }));
    };
    const res = await read();
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Records")).toBe("2");
  });

  it("redirects are not followed: 301/302/303/307/308 → 502 upstream_error, Location never fetched", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      eco.provider.handler = (_req, res) => {
        res.writeHead(status, {
          Location: `${elsewhere.url}/telemetry`,
          "Content-Type": "application/json",
        });
        res.end(JSON.stringify({ items: RECORDS }));
      };
      await expectProblem(await read(), 502, "upstream_error");
    }
    expect(elsewhere.received).toEqual([]);
  });

  it("headers never sent → 504 upstream_timeout", async () => {
    eco.provider.handler = () => {
      // never answers
    };
    await expectProblem(await read(), 504, "upstream_timeout");
  });

  it("a body trickling past the deadline → 504 upstream_timeout", async () => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(`{"items":${JSON.stringify(RECORDS).slice(0, -1)}`);
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
      setTimeout(() => {
        clearInterval(timer);
        res.end("]}");
      }, 3000).unref();
    };
    await expectProblem(await read(), 504, "upstream_timeout");
  });

  it("a declared Content-Length over the cap → 502 uninspectable_content", async () => {
    eco.provider.handler = (_req, res) => {
      const body = JSON.stringify({ items: RECORDS, pad: "x".repeat(CAP) });
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(body)),
      });
      res.end(body);
    };
    await expectProblem(await read(), 502, "uninspectable_content");
  });

  it("a chunked body over the cap → 502 uninspectable_content", async () => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(`{"items":${JSON.stringify(RECORDS)},"pad":"`);
      for (let i = 0; i < 10; i++) res.write("x".repeat(8 * 1024));
      res.end('"}');
    };
    await expectProblem(await read(), 502, "uninspectable_content");
  });

  it("a connection reset mid-body → 502 upstream_error", async () => {
    eco.provider.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.write(`{"items":${JSON.stringify(RECORDS)}`);
      setTimeout(() => res.socket?.resetAndDestroy?.() ?? res.socket?.destroy(), 20);
    };
    await expectProblem(await read(), 502, "upstream_error");
  });

  it("a Content-Length longer than the body (truncated) → 502 upstream_error", async () => {
    eco.provider.handler = (_req, res) => {
      const body = JSON.stringify({ items: RECORDS });
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(body) + 100),
      });
      res.write(body);
      setTimeout(() => res.socket?.end(), 20);
    };
    await expectProblem(await read(), 502, "upstream_error");
  });

  it("a body that is complete JSON but cut before its declared end → 502 upstream_error", async () => {
    eco.provider.handler = (_req, res) => {
      const body = JSON.stringify({ items: RECORDS });
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": String(Buffer.byteLength(body) + 1),
      });
      res.write(body);
      setTimeout(() => res.socket?.destroy(), 20);
    };
    await expectProblem(await read(), 502, "upstream_error");
  });

  it("garbage instead of HTTP → 502 upstream_error", async () => {
    eco.provider.handler = (_req, res) => {
      res.socket?.end("HTTP/1.1 20x Nope\r\nContent-Type: application/json\r\n\r\n{}");
    };
    await expectProblem(await read(), 502, "upstream_error");
  });

  it("deliver: the consumer's backend hanging → 504, resetting → 502; not counted", async () => {
    const deliver = () =>
      t.call("POST", `/v1/exchange/${eco.agreement}`, {
        token: providerToken,
        body: { items: [{ vin: "V-1", mileage: 1 }] },
        headers: { "Data-Purpose": "insurance-pricing" },
      });
    eco.consumer.handler = () => {
      // never answers
    };
    await expectProblem(await deliver(), 504, "upstream_timeout");
    eco.consumer.handler = (_req, res) => {
      res.socket?.destroy();
    };
    await expectProblem(await deliver(), 502, "upstream_error");
    eco.consumer.handler = (_req, res) => {
      res.writeHead(302, { Location: `${elsewhere.url}/inbox` });
      res.end();
    };
    await expectProblem(await deliver(), 502, "upstream_error");
    expect(elsewhere.received).toEqual([]);
  });

  it("the flow shows exactly the one released read, nothing for the refused ones", async () => {
    const finance = await t.token("finance", ["metrics:read"]);
    const flows = await t.call("GET", "/metrics/flows?granularity=total", { token: finance });
    expect(flows.status).toBe(200);
    const rows = (
      (await flows.json()) as { items: { agreement: string; requests: number; records: number }[] }
    ).items;
    const row = rows.find((r) => r.agreement === eco.agreement);
    // Only the control read released data (2 records).
    expect(row).toMatchObject({ requests: 1, records: 2 });
  });
});
