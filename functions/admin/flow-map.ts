/**
 * Operators: the ecosystem as a graph (partners as nodes, agreements as edges
 * with dataset, fields by classification, status and value to date), as JSON
 * or as a Mermaid diagram.
 */
import { Hono } from "hono";
import { classify } from "../../policies/fields.ts";
import type { Agreement, Dataset, Partner } from "../../policies/model.ts";
import { agreementStatusAt, partnerStatusAt } from "../../policies/status.ts";
import { hourKey } from "../../policies/windows.ts";
import type { Gateway } from "../gateway.ts";
import type { AppEnv } from "../http/env.ts";
import { parseWith } from "../http/validate.ts";
import { allPages } from "../store/paging.ts";
import { FlowMapQuery } from "./schemas.ts";

interface Edge {
  readonly agreement: string;
  readonly from: string;
  readonly to: string;
  readonly dataset: string;
  readonly status: string;
  readonly actions: readonly string[];
  /** The agreement's fields by their classification in the dataset (core ones never flow). */
  readonly fields: { shared: string[]; personal: string[]; core: string[] };
  readonly pseudonymized: readonly string[];
  readonly value: Record<string, number>;
}

export async function buildFlowMap(gw: Gateway) {
  const now = gw.clock();
  const [partners, datasets, agreements] = await Promise.all([
    allPages<Partner>((l, c) => gw.registry.listPartners(l, c)),
    allPages<Dataset>((l, c) => gw.registry.listDatasets(l, c)),
    gw.registry.allAgreements(),
  ]);
  const byId = new Map(partners.map((p) => [p.id, p]));
  const datasetById = new Map(datasets.map((d) => [d.id, d]));
  const earliest = agreements.reduce((t, a) => Math.min(t, Date.parse(a.createdAt)), now.getTime());
  const rows = await gw.meterReader.hourRows(
    agreements.map((a) => a.id),
    hourKey(new Date(earliest)),
    hourKey(now),
  );
  const value = new Map<string, Record<string, number>>();
  for (const r of rows) {
    const v = value.get(r.agreement) ?? {};
    v[r.currency] = (v[r.currency] ?? 0) + r.value;
    value.set(r.agreement, v);
  }
  const nodes = partners.map((p) => ({
    id: p.id,
    name: p.name,
    jurisdiction: p.jurisdiction,
    status: partnerStatusAt(p, now),
    owns: datasets.filter((d) => d.owner === p.id).map((d) => d.id),
  }));
  const edges: Edge[] = agreements.map((a: Agreement) => {
    const ds = datasetById.get(a.dataset);
    const fields = { shared: [] as string[], personal: [] as string[], core: [] as string[] };
    for (const f of a.fields) fields[ds === undefined ? "core" : classify(ds.fields, f)].push(f);
    return {
      agreement: a.id,
      from: a.provider,
      to: a.consumer,
      dataset: a.dataset,
      status: agreementStatusAt(a, [byId.get(a.provider), byId.get(a.consumer)], now),
      actions: a.actions,
      fields,
      pseudonymized: a.pseudonymize ?? [],
      value: value.get(a.id) ?? {},
    };
  });
  return { nodes, edges };
}

const mermaidId = (id: string) => `p_${id.replace(/-/g, "_")}`;
/** Text safe inside a quoted Mermaid label: no quotes, brackets, pipes, entities or line breaks. */
const label = (s: string) => s.replace(/["<>{}[\]|#;`\\\p{Cc}]/gu, " ");

export function toMermaid(map: Awaited<ReturnType<typeof buildFlowMap>>): string {
  const lines = ["flowchart LR"];
  for (const n of map.nodes)
    lines.push(
      `  ${mermaidId(n.id)}["${label(n.name)} (${n.id}, ${n.jurisdiction}, ${n.status})"]`,
    );
  for (const e of map.edges) {
    const money =
      Object.entries(e.value)
        .map(([cur, v]) => `${(v / 1_000_000).toFixed(2)} ${cur}`)
        .join(", ") || "0";
    const text = `${e.agreement}: ${e.dataset} [${e.fields.shared.length} shared, ${e.fields.personal.length} personal] ${e.status}, ${money}`;
    lines.push(`  ${mermaidId(e.from)} -->|"${label(text)}"| ${mermaidId(e.to)}`);
  }
  return `${lines.join("\n")}\n`;
}

export function flowMapApp(gw: Gateway): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const map = await buildFlowMap(gw);
    const { format } = parseWith(FlowMapQuery, c.req.query());
    if (format === "mermaid") return c.text(toMermaid(map));
    return c.json(map);
  });
  return app;
}
