/**
 * The flow map as a drawn graph: partners on a circle, each agreement an
 * arrow from provider to consumer, coloured by status, labelled with the
 * agreement and dataset. Plain SVG rendered on the server (no script); the
 * table under it says the same for screen readers and keyboards.
 */
import type { Hono } from "hono";
import type { ConsoleEnv } from "./http.ts";
import { money, Page, ProblemBox, Status, type Viewer } from "./pages/layout.tsx";
import { apiOf, pageStatus, render, viewerOf } from "./render.ts";

export interface FlowNode {
  readonly id: string;
  readonly name: string;
  readonly jurisdiction: string;
  readonly status: string;
  readonly owns: readonly string[];
}

export interface FlowEdge {
  readonly agreement: string;
  readonly from: string;
  readonly to: string;
  readonly dataset: string;
  readonly status: string;
  readonly actions: readonly string[];
  readonly fields: { shared: string[]; personal: string[]; core: string[] };
  readonly pseudonymized: readonly string[];
  readonly value: Readonly<Record<string, number>>;
}

export interface FlowMap {
  readonly nodes: readonly FlowNode[];
  readonly edges: readonly FlowEdge[];
}

const STATUS_COLOURS: Readonly<Record<string, string>> = {
  active: "#1a6b2f",
  suspended: "#7a4d00",
  revoked: "#a4161a",
  terminated: "#a4161a",
  offboarded: "#5b2a86",
  ended: "#5b2a86",
};
const colourOf = (status: string) => STATUS_COLOURS[status] ?? "#4a5360";

export interface Placed {
  readonly x: number;
  readonly y: number;
}

/** Node positions on a circle (one node: the centre), in a `size` × `size` box. */
export function layoutCircle(count: number, size: number, margin: number): Placed[] {
  const c = size / 2;
  if (count === 1) return [{ x: c, y: c }];
  const r = c - margin;
  return Array.from({ length: count }, (_, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / count;
    return { x: Math.round(c + r * Math.cos(angle)), y: Math.round(c + r * Math.sin(angle)) };
  });
}

/**
 * A curved arrow from `a` to `b` that stops at the node circles; parallel
 * edges between the same pair bend further apart (`lane`), and the two
 * directions bend to opposite sides.
 */
export function edgePath(a: Placed, b: Placed, radius: number, lane: number) {
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const ux = dx / len;
  const uy = dy / len;
  const start = { x: a.x + ux * radius, y: a.y + uy * radius };
  const end = { x: b.x - ux * (radius + 6), y: b.y - uy * (radius + 6) };
  const bend = 34 + 46 * lane;
  const mid = { x: (start.x + end.x) / 2 - uy * bend, y: (start.y + end.y) / 2 + ux * bend };
  const r = (n: number) => Math.round(n * 10) / 10;
  return {
    d: `M ${r(start.x)} ${r(start.y)} Q ${r(mid.x)} ${r(mid.y)} ${r(end.x)} ${r(end.y)}`,
    label: { x: r((start.x + 2 * mid.x + end.x) / 4), y: r((start.y + 2 * mid.y + end.y) / 4) },
  };
}

const valueText = (v: Readonly<Record<string, number>>) =>
  Object.entries(v)
    .map(([cur, amount]) => `${money(amount)} ${cur}`)
    .join(", ") || "0";

export function FlowGraph(props: { map: FlowMap }) {
  const size = 640;
  const radius = 44;
  const nodes = props.map.nodes;
  const placed = new Map(nodes.map((n, i) => [n.id, layoutCircle(nodes.length, size, 90)[i]]));
  const lanes = new Map<string, number>();
  const statuses = [...new Set(props.map.edges.map((e) => e.status))].sort();
  return (
    <svg
      class="flow-map"
      viewBox={`0 0 ${size} ${size}`}
      role="img"
      aria-labelledby="flow-map-title flow-map-desc"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id="flow-map-title">Flow map</title>
      <desc id="flow-map-desc">
        {`${nodes.length} partners and ${props.map.edges.length} agreements; each arrow runs from provider to consumer. The table below lists every flow.`}
      </desc>
      <defs>
        {statuses.map((s) => (
          <marker
            id={`arrow-${s}`}
            viewBox="0 0 10 10"
            refX="8"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto-start-reverse"
          >
            <path d="M 0 0 L 10 5 L 0 10 z" fill={colourOf(s)} />
          </marker>
        ))}
      </defs>
      {props.map.edges.map((e) => {
        const a = placed.get(e.from);
        const b = placed.get(e.to);
        if (a === undefined || b === undefined) return null;
        const pair = `${e.from}>${e.to}`;
        const lane = lanes.get(pair) ?? 0;
        lanes.set(pair, lane + 1);
        const path = edgePath(a, b, radius, lane);
        return (
          <g class="edge" data-agreement={e.agreement}>
            <title>{`${e.agreement}: ${e.from} → ${e.to}, ${e.dataset}, ${e.status}, value ${valueText(e.value)}`}</title>
            <path d={path.d} stroke={colourOf(e.status)} marker-end={`url(#arrow-${e.status})`} />
            <text x={path.label.x} y={path.label.y} text-anchor="middle">
              {`${e.agreement} · ${e.dataset}`}
            </text>
          </g>
        );
      })}
      {nodes.map((n) => {
        const p = placed.get(n.id);
        if (p === undefined) return null;
        return (
          <g class="node" data-partner={n.id}>
            <title>{`${n.name} (${n.id}), ${n.jurisdiction}, ${n.status}`}</title>
            <circle
              cx={p.x}
              cy={p.y}
              r={radius}
              fill={n.status === "active" ? "#dcebf9" : "#f6dede"}
            />
            <text x={p.x} y={p.y - 2} text-anchor="middle">
              {n.id}
            </text>
            <text x={p.x} y={p.y + 14} text-anchor="middle">
              {`${n.jurisdiction} · ${n.status}`}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

function FlowsPage(props: { viewer: Viewer; map: FlowMap }) {
  return (
    <Page title="Flow map" viewer={props.viewer} section="flows">
      <FlowGraph map={props.map} />
      <table>
        <caption>Every flow: agreement, direction, fields by classification, value to date</caption>
        <thead>
          <tr>
            <th scope="col">Agreement</th>
            <th scope="col">From (provider)</th>
            <th scope="col">To (consumer)</th>
            <th scope="col">Dataset</th>
            <th scope="col">Status</th>
            <th scope="col">Shared fields</th>
            <th scope="col">Personal fields</th>
            <th scope="col">Value to date</th>
          </tr>
        </thead>
        <tbody>
          {props.map.edges.map((e) => (
            <tr>
              <th scope="row">
                <a href={`/console/agreements/${e.agreement}`}>{e.agreement}</a>
              </th>
              <td>{e.from}</td>
              <td>{e.to}</td>
              <td>{e.dataset}</td>
              <td>
                <Status value={e.status} />
              </td>
              <td>{e.fields.shared.join(", ") || "—"}</td>
              <td>
                {e.fields.personal.join(", ") || "—"}
                {e.pseudonymized.length === 0 ? null : (
                  <span class="muted">{` (pseudonymized: ${e.pseudonymized.join(", ")})`}</span>
                )}
              </td>
              <td>{valueText(e.value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export function registerFlows(app: Hono<ConsoleEnv>): void {
  app.get("/flows", async (c) => {
    const answer = await apiOf(c).get<FlowMap>("/admin/flows");
    if (!answer.ok) {
      return render(
        c,
        <Page title="Flow map" viewer={viewerOf(c)} section="flows">
          <ProblemBox problem={answer.problem} doing="draw the flow map" />
        </Page>,
        pageStatus(answer.status),
      );
    }
    return render(c, <FlowsPage viewer={viewerOf(c)} map={answer.value} />);
  });
}
