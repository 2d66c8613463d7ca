/** The audit trail, filterable, with the verification of its hash chain. */
import type { Hono } from "hono";
import type { AuditEntry } from "../store/audit.ts";
import { type Page as ListPage, query } from "./api.ts";
import type { ConsoleEnv } from "./http.ts";
import { Page, ProblemBox, Status, type Viewer, when } from "./pages/layout.tsx";
import { apiOf, pageStatus, render, utcFromLocalField, viewerOf } from "./render.ts";

interface Verification {
  readonly valid: boolean;
  readonly entries: number;
  readonly firstBroken: string | null;
}

interface Filters {
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly partner?: string | undefined;
  readonly action?: string | undefined;
}

function AuditPage(props: {
  viewer: Viewer;
  filters: Filters;
  page: ListPage<AuditEntry> | null;
  /** undefined: not asked for (verifying reads the whole chain); null: it failed. */
  verification: Verification | null | undefined;
  problem?: import("./api.ts").Problem | undefined;
}) {
  const f = props.filters;
  const v = props.verification;
  return (
    <Page title="Audit trail" viewer={props.viewer} section="audit">
      <section class="panel" aria-labelledby="chain-title">
        <h2 id="chain-title">Hash chain</h2>
        {v === undefined ? (
          <form method="get" action="/console/audit" class="filters">
            {Object.entries(f).map(([k, value]) =>
              value === undefined ? null : <input type="hidden" name={k} value={value} />,
            )}
            <input type="hidden" name="verify" value="1" />
            <p>
              Verifying reads every entry of the trail and checks each against the one before it.
            </p>
            <button type="submit">Verify the hash chain</button>
          </form>
        ) : v === null ? (
          <p>The chain could not be verified just now.</p>
        ) : v.valid ? (
          <p>
            <Status value="valid" />
            {` Intact: all ${v.entries} entries verify, each against the one before it.`}
          </p>
        ) : (
          <p>
            <Status value="broken" />
            {` Broken at entry ${v.firstBroken ?? "?"} (of ${v.entries}): an entry was altered or removed.`}
          </p>
        )}
      </section>
      <form method="get" action="/console/audit" class="filters">
        <div>
          <label for="from">From (UTC)</label>
          <input id="from" name="from" type="datetime-local" value={f.from ?? ""} />
        </div>
        <div>
          <label for="to">To (UTC)</label>
          <input id="to" name="to" type="datetime-local" value={f.to ?? ""} />
        </div>
        <div>
          <label for="partner">Partner</label>
          <input id="partner" name="partner" value={f.partner ?? ""} />
        </div>
        <div>
          <label for="action">Action</label>
          <input id="action" name="action" value={f.action ?? ""} placeholder="partner.revoke" />
        </div>
        <button type="submit">Filter</button>
        <a class="button secondary" href="/console/audit">
          Clear
        </a>
      </form>
      {props.problem === undefined ? null : (
        <ProblemBox problem={props.problem} doing="read the trail" />
      )}
      {props.page === null ? null : (
        <table>
          <caption>Entries, newest first</caption>
          <thead>
            <tr>
              <th scope="col">At</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Reason</th>
              <th scope="col">Request</th>
            </tr>
          </thead>
          <tbody>
            {props.page.items.map((e) => (
              <tr>
                <td>{when(e.at)}</td>
                <td>{e.actor}</td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>{e.target}</td>
                <td>{e.reason ?? "—"}</td>
                <td>
                  <code>{e.requestId ?? "—"}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {props.page?.next == null ? null : (
        <p>
          <a href={`/console/audit${query({ ...f, cursor: props.page.next })}`}>Older entries</a>
        </p>
      )}
    </Page>
  );
}

export function registerAudit(app: Hono<ConsoleEnv>): void {
  app.get("/audit", async (c) => {
    const filters: Filters = {
      from: c.req.query("from") || undefined,
      to: c.req.query("to") || undefined,
      partner: c.req.query("partner") || undefined,
      action: c.req.query("action") || undefined,
    };
    const api = apiOf(c);
    const [entries, verification] = await Promise.all([
      api.get<ListPage<AuditEntry>>(
        `/admin/audit${query({
          from: utcFromLocalField(filters.from) ?? filters.from,
          to: utcFromLocalField(filters.to) ?? filters.to,
          partner: filters.partner,
          action: filters.action,
          limit: 100,
          cursor: c.req.query("cursor"),
        })}`,
      ),
      c.req.query("verify") === "1"
        ? api.get<Verification>("/admin/audit/verify")
        : Promise.resolve(undefined),
    ]);
    return render(
      c,
      <AuditPage
        viewer={viewerOf(c)}
        filters={filters}
        page={entries.ok ? entries.value : null}
        verification={
          verification === undefined ? undefined : verification.ok ? verification.value : null
        }
        problem={entries.ok ? undefined : entries.problem}
      />,
      entries.ok ? 200 : pageStatus(entries.status),
    );
  });
}
