/**
 * The data-flow map: partners as nodes, agreements as edges with dataset,
 * fields by classification, status and value to date, checked against an
 * ecosystem with traffic; and the same as a Mermaid diagram.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEcosystem, type Ecosystem, RECORDS } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { admin, adminJson, read } from "./helpers.ts";

let t: TestGateway;
let a: Ecosystem;
let b: Ecosystem;
const PRICE = { currency: "EUR", perRequest: 500, perRecord: 1500 };

interface FlowMap {
  nodes: { id: string; name: string; jurisdiction: string; status: string; owns: string[] }[];
  edges: {
    agreement: string;
    from: string;
    to: string;
    dataset: string;
    status: string;
    actions: string[];
    fields: { shared: string[]; personal: string[]; core: string[] };
    value: Record<string, number>;
  }[];
}

beforeAll(async () => {
  t = await createTestGateway();
  a = await createEcosystem(t, { agreement: { price: PRICE, pseudonymize: ["driver.name"] } });
  b = await createEcosystem(t, {
    agreement: { fields: ["vin", "mileage"], purposes: [], price: PRICE },
  });
});
afterAll(async () => {
  await a.close();
  await b.close();
});

describe("GET /admin/flows", () => {
  it("maps partners and agreements, with the value each flow carried", async () => {
    const token = await a.partnerToken(a.ids.consumer);
    const reads = 3;
    for (let i = 0; i < reads; i++) expect((await read(t, a, token)).status).toBe(200);
    await adminJson(t, "POST", `/admin/agreements/${b.agreement}/suspend`, { reason: "x" });
    await adminJson(t, "POST", `/admin/partners/${b.ids.consumer}/revoke`, { reason: "y" });

    const map = await adminJson<FlowMap>(t, "GET", "/admin/flows");
    const ids = [a.ids.provider, a.ids.consumer, b.ids.provider, b.ids.consumer];
    expect(map.nodes.map((n) => n.id).sort()).toEqual([...ids].sort());
    expect(map.nodes.find((n) => n.id === a.ids.provider)).toMatchObject({
      jurisdiction: "SE",
      status: "active",
      owns: [a.ids.dataset],
    });
    expect(map.nodes.find((n) => n.id === b.ids.consumer)?.status).toBe("revoked");

    const edgeA = map.edges.find((e) => e.agreement === a.agreement);
    expect(edgeA).toMatchObject({
      from: a.ids.provider,
      to: a.ids.consumer,
      dataset: a.ids.dataset,
      status: "active",
      actions: ["read", "deliver"],
      fields: { shared: ["vin", "mileage", "speed.avg"], personal: ["driver.name"], core: [] },
      value: { EUR: reads * (PRICE.perRequest + RECORDS.length * PRICE.perRecord) },
    });
    const edgeB = map.edges.find((e) => e.agreement === b.agreement);
    expect(edgeB).toMatchObject({
      from: b.ids.provider,
      to: b.ids.consumer,
      status: "suspended",
      fields: { shared: ["vin", "mileage"], personal: [] },
      value: {},
    });
    expect(map.edges).toHaveLength(2);
  });

  it("renders the same map as a Mermaid flowchart", async () => {
    const res = await admin(t, "GET", "/admin/flows?format=mermaid");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text.startsWith("flowchart")).toBe(true);
    const lines = text.trim().split("\n");
    const node = (id: string) => `p_${id.replace(/-/g, "_")}`;
    for (const id of [a.ids.provider, a.ids.consumer, b.ids.provider, b.ids.consumer]) {
      expect(lines.some((l) => l.trim().startsWith(`${node(id)}["`))).toBe(true);
    }
    const edge = lines.find((l) => l.includes(`${a.agreement}:`));
    expect(edge?.trim().startsWith(`${node(a.ids.provider)} -->|"`)).toBe(true);
    expect(edge?.trim().endsWith(`| ${node(a.ids.consumer)}`)).toBe(true);
    expect(edge).toContain(a.ids.dataset);
    expect(edge).toContain("active");
    const suspended = lines.find((l) => l.includes(`${b.agreement}:`));
    expect(suspended).toContain("suspended");
    // Every label is one quoted string without brackets or quotes inside.
    for (const l of lines.slice(1)) expect(l.match(/"/g)?.length).toBe(2);
  });

  it("keeps names that would break the diagram inside their labels", async () => {
    const created = await admin(t, "POST", "/admin/partners", {
      id: "odd-name",
      name: 'Odd "Name" [x] | {y} <z>',
      jurisdiction: "NO",
      baseUrl: a.consumer.url,
    });
    expect(created.status).toBe(201);
    const text = await (await admin(t, "GET", "/admin/flows?format=mermaid")).text();
    const line = text.split("\n").find((l) => l.includes("p_odd_name["));
    expect(line).toBeDefined();
    expect(line?.match(/"/g)?.length).toBe(2);
    expect(line).not.toMatch(/[[\]{}|<>].*"$/);
  });
});
