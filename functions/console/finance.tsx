/**
 * Finance: value and records per day, per flow and currency, as charts
 * (uPlot, served by the gateway) and as the table `/metrics/flows` answers
 * for the same window, row for row; attribution (earned vs paid); and the
 * same rows as CSV, straight from the API.
 */
import type { Hono } from "hono";
import type { FlowRow } from "../metrics/flows.ts";
import { query } from "./api.ts";
import type { ConsoleEnv } from "./http.ts";
import { money, Page, ProblemBox, type Viewer } from "./pages/layout.tsx";
import { apiOf, pageStatus, render, viewerOf } from "./render.ts";

const DAY_MS = 86_400_000;

interface Attribution {
  readonly partner: string;
  readonly earned: Readonly<Record<string, number>>;
  readonly paid: Readonly<Record<string, number>>;
}

export interface FinanceWindow {
  /** First day, `YYYY-MM-DD` (UTC). */
  readonly fromDay: string;
  /** Last day, inclusive. */
  readonly toDay: string;
  /** The API's window: [from, to). */
  readonly from: string;
  readonly to: string;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The window of the page: the days asked for, else the last 30 days (UTC). */
export function financeWindow(
  fromDay: string | undefined,
  toDay: string | undefined,
  now: Date,
): FinanceWindow {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
  const valid = (d: string | undefined) =>
    d !== undefined && DAY.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`));
  const last = valid(toDay) ? new Date(`${toDay}T00:00:00Z`) : today;
  const first = valid(fromDay)
    ? new Date(`${fromDay}T00:00:00Z`)
    : new Date(last.getTime() - 29 * DAY_MS);
  const day = (d: Date) => d.toISOString().slice(0, 10);
  return {
    fromDay: day(first),
    toDay: day(last),
    from: first.toISOString(),
    to: new Date(last.getTime() + DAY_MS).toISOString(),
  };
}

export interface ChartSpec {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  /** Epoch seconds of each UTC day. */
  readonly x: number[];
  readonly series: { label: string; values: number[] }[];
}

/** Value (one chart per currency) and records per day, one series per flow. */
export function chartsOf(rows: readonly FlowRow[], w: FinanceWindow): ChartSpec[] {
  const days: string[] = [];
  for (let t = Date.parse(w.from); t < Date.parse(w.to); t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10));
  const x = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
  const index = new Map(days.map((d, i) => [d, i]));
  const flows = [...new Set(rows.map((r) => r.agreement ?? "all"))].sort();
  const currencies = [...new Set(rows.map((r) => r.value.currency))].sort();
  const zeros = () => days.map(() => 0);
  const charts: ChartSpec[] = currencies.map((cur) => {
    const series = new Map(flows.map((f) => [f, zeros()]));
    for (const r of rows) {
      const i = index.get(r.period);
      const s = series.get(r.agreement ?? "all");
      if (r.value.currency === cur && i !== undefined && s !== undefined)
        s[i] = (s[i] ?? 0) + r.value.amount / 1_000_000;
    }
    return {
      id: `chart-value-${cur}`,
      title: `Value per day (${cur})`,
      unit: cur,
      x,
      series: [...series]
        .filter(([, v]) => v.some((n) => n !== 0))
        .map(([label, values]) => ({ label, values })),
    };
  });
  const records = new Map(flows.map((f) => [f, zeros()]));
  for (const r of rows) {
    const i = index.get(r.period);
    const s = records.get(r.agreement ?? "all");
    if (i !== undefined && s !== undefined) s[i] = (s[i] ?? 0) + r.records;
  }
  charts.push({
    id: "chart-records",
    title: "Records released per day",
    unit: "records",
    x,
    series: [...records].map(([label, values]) => ({ label, values })),
  });
  return charts;
}

function FinancePage(props: {
  viewer: Viewer;
  w: FinanceWindow;
  rows: readonly FlowRow[];
  attribution: readonly Attribution[] | null;
  csvHref: string;
}) {
  const charts = chartsOf(props.rows, props.w);
  // JSON in a data block is never executed; `<` is escaped so it cannot close the element
  // (hono/jsx would HTML-escape it as text, which a script element does not decode).
  const data = JSON.stringify({ charts }).replace(/</g, "\\u003c");
  return (
    <Page
      title="Finance"
      viewer={props.viewer}
      section="finance"
      styles={["/console/assets/uplot.css"]}
      scripts={["/console/assets/uplot.js", "/console/assets/console.js"]}
    >
      <form method="get" action="/console/finance" class="filters">
        <div>
          <label for="from">From (UTC day)</label>
          <input id="from" name="from" type="date" value={props.w.fromDay} required />
        </div>
        <div>
          <label for="to">To (UTC day, inclusive)</label>
          <input id="to" name="to" type="date" value={props.w.toDay} required />
        </div>
        <button type="submit">Show</button>
        <a class="button secondary" href={props.csvHref} download="">
          Download CSV
        </a>
      </form>
      <p class="muted" id="window">
        {"Window: "}
        <time dateTime={props.w.from}>{props.w.from}</time>
        {" to "}
        <time dateTime={props.w.to}>{props.w.to}</time>
        {" (the API's from and to)."}
      </p>
      <h2>Flows over time</h2>
      {charts.map((chart) => (
        <figure>
          <div
            class="chart"
            id={chart.id}
            role="img"
            aria-label={`${chart.title}: ${chart.series.length} flows over ${chart.x.length} days; the table below has the figures`}
          />
          <figcaption class="muted">{chart.title}</figcaption>
        </figure>
      ))}
      <script type="application/json" id="chart-data" dangerouslySetInnerHTML={{ __html: data }} />
      <h2>Attribution</h2>
      {props.attribution === null ? (
        <p class="muted">Attribution could not be read.</p>
      ) : (
        <table id="attribution">
          <caption>Earned (value shares) and paid (as consumer) per partner and currency</caption>
          <thead>
            <tr>
              <th scope="col">Partner</th>
              <th scope="col">Currency</th>
              <th scope="col" class="num">
                Earned
              </th>
              <th scope="col" class="num">
                Paid
              </th>
            </tr>
          </thead>
          <tbody>
            {props.attribution.flatMap((a) =>
              [...new Set([...Object.keys(a.earned), ...Object.keys(a.paid)])].sort().map((cur) => (
                <tr>
                  <th scope="row">{a.partner}</th>
                  <td>{cur}</td>
                  <td class="num">{money(a.earned[cur] ?? 0)}</td>
                  <td class="num">{money(a.paid[cur] ?? 0)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
      <h2>Flows per day</h2>
      <table id="flows">
        <caption>The rows of /metrics/flows for this window, per day and agreement</caption>
        <thead>
          <tr>
            <th scope="col">Agreement</th>
            <th scope="col">Day</th>
            <th scope="col" class="num">
              Requests
            </th>
            <th scope="col" class="num">
              Denied
            </th>
            <th scope="col" class="num">
              Blocked
            </th>
            <th scope="col" class="num">
              Failed
            </th>
            <th scope="col" class="num">
              Records
            </th>
            <th scope="col" class="num">
              Bytes
            </th>
            <th scope="col">Currency</th>
            <th scope="col" class="num">
              Value
            </th>
          </tr>
        </thead>
        <tbody>
          {props.rows.map((r) => (
            <tr>
              <th scope="row">{r.agreement ?? "all"}</th>
              <td>{r.period}</td>
              <td class="num">{String(r.requests)}</td>
              <td class="num">{String(r.denied)}</td>
              <td class="num">{String(r.blocked)}</td>
              <td class="num">{String(r.failed)}</td>
              <td class="num">{String(r.records)}</td>
              <td class="num">{String(r.bytes)}</td>
              <td>{r.value.currency}</td>
              <td class="num" data-micros={String(r.value.amount)}>
                {money(r.value.amount)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.rows.length === 0 ? <p>No traffic in this window.</p> : null}
    </Page>
  );
}

/** The `/metrics/flows` query the page's table and CSV both use. */
export const flowsQuery = (w: FinanceWindow) =>
  query({ from: w.from, to: w.to, granularity: "day", groupBy: "agreement" });

export function registerFinance(app: Hono<ConsoleEnv>, now: () => Date): void {
  app.get("/finance", async (c) => {
    const w = financeWindow(c.req.query("from"), c.req.query("to"), now());
    const api = apiOf(c);
    const [flows, attribution] = await Promise.all([
      api.get<{ items: FlowRow[] }>(`/metrics/flows${flowsQuery(w)}`),
      api.get<{ items: Attribution[] }>(`/metrics/attribution${query({ from: w.from, to: w.to })}`),
    ]);
    if (!flows.ok) {
      return render(
        c,
        <Page title="Finance" viewer={viewerOf(c)} section="finance">
          <ProblemBox problem={flows.problem} doing="read the flows" />
        </Page>,
        pageStatus(flows.status),
      );
    }
    return render(
      c,
      <FinancePage
        viewer={viewerOf(c)}
        w={w}
        rows={flows.value.items}
        attribution={attribution.ok ? attribution.value.items : null}
        csvHref={`/console/finance/flows.csv${query({ from: w.fromDay, to: w.toDay })}`}
      />,
    );
  });

  app.get("/finance/flows.csv", async (c) => {
    const w = financeWindow(c.req.query("from"), c.req.query("to"), now());
    const csv = await apiOf(c).text(`/metrics/flows${flowsQuery(w)}`, "text/csv");
    if (!csv.ok) return c.text(csv.body, pageStatus(csv.status));
    return c.body(csv.body, 200, {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="flows-${w.fromDay}-to-${w.toDay}.csv"`,
    });
  });
}
