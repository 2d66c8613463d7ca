/**
 * Agreements: the list, and each agreement's terms, versions, ODRL policy,
 * an "explain" of what the policy decides for a party (`/admin/decisions`),
 * and its lifecycle (suspend, resume, terminate) behind a reason and a
 * confirmation. Pending agreement requests (partner self-service) are
 * listed below the agreements, to approve or reject (requests.tsx).
 */
import type { Context, Hono } from "hono";
import type { Agreement } from "../../policies/model.ts";
import type { AgreementRequest } from "../../policies/offers.ts";
import { TRANSITIONS, type Transition } from "../admin/agreements.ts";
import { type Answer, type Page as ListPage, type Problem, query } from "./api.ts";
import type { ConsoleEnv } from "./http.ts";
import {
  Csrf,
  money,
  Notice,
  Page,
  ProblemBox,
  Status,
  type Viewer,
  when,
} from "./pages/layout.tsx";
import { apiOf, formOf, pageStatus, render, utcFromLocalField, viewerOf } from "./render.ts";
import { PendingRequests, pendingRequests, requestNotice } from "./requests.tsx";

type C = Context<ConsoleEnv>;

const STEPS: Readonly<Record<Transition, { label: string; explain: string }>> = {
  suspend: { label: "Suspend", explain: "Its exchanges are refused until it is resumed." },
  resume: { label: "Resume", explain: "Its exchanges are allowed again under its terms." },
  terminate: {
    label: "Terminate",
    explain: "It ends for good: no exchange is ever allowed under it again.",
  },
};
const isStep = (s: string): s is Transition => s in TRANSITIONS;

interface Decision {
  readonly decision: "permit" | "deny";
  readonly reasons: readonly { code: string; message: string }[];
  readonly at: string;
}

interface Version {
  readonly version: number;
  readonly updatedAt?: string;
  readonly createdAt?: string;
  readonly [k: string]: unknown;
}

function AgreementsPage(props: {
  viewer: Viewer;
  page: ListPage<Agreement>;
  partner: string | undefined;
  pending: Answer<ListPage<AgreementRequest>>;
  notice: string | undefined;
}) {
  const waiting = props.pending.ok ? props.pending.value.items.length : 0;
  return (
    <Page title="Agreements" viewer={props.viewer} section="agreements">
      {props.notice === undefined ? null : <Notice>{props.notice}</Notice>}
      {waiting === 0 ? null : (
        <p>
          <a href="#requests">
            {waiting === 1
              ? "1 agreement request is waiting for a decision"
              : `${waiting}${props.pending.ok && props.pending.value.next !== null ? "+" : ""} agreement requests are waiting for a decision`}
          </a>
        </p>
      )}
      <form method="get" action="/console/agreements" class="filters">
        <div>
          <label for="partner">Partner</label>
          <input
            id="partner"
            name="partner"
            value={props.partner ?? ""}
            pattern="[a-z0-9][a-z0-9\-]{1,62}"
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      <table>
        <caption>Agreements, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Agreement</th>
            <th scope="col">Dataset</th>
            <th scope="col">Provider → consumer</th>
            <th scope="col">Actions</th>
            <th scope="col">Status</th>
            <th scope="col" class="num">
              Version
            </th>
            <th scope="col">Valid until</th>
            <th scope="col">Price</th>
          </tr>
        </thead>
        <tbody>
          {props.page.items.map((a) => (
            <tr>
              <th scope="row">
                <a href={`/console/agreements/${a.id}`}>{a.id}</a>
              </th>
              <td>{a.dataset}</td>
              <td>{`${a.provider} → ${a.consumer}`}</td>
              <td>{a.actions.join(", ")}</td>
              <td>
                <Status value={a.status} />
              </td>
              <td class="num">{String(a.version)}</td>
              <td>{when(a.validUntil)}</td>
              <td>{`${money(a.price.perRequest)} + ${money(a.price.perRecord)}/record ${a.price.currency}`}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.page.next === null ? null : (
        <p>
          <a
            href={`/console/agreements${query({ partner: props.partner, cursor: props.page.next })}`}
          >
            Next page
          </a>
        </p>
      )}
      <h2 id="requests" tabindex={-1}>
        Pending agreement requests
      </h2>
      <PendingRequests pending={props.pending} partner={props.partner} />
    </Page>
  );
}

function Terms(props: { a: Agreement }) {
  const a = props.a;
  return (
    <dl class="terms">
      <dt>Status</dt>
      <dd>
        <Status value={a.status} />
        {a.statusReason === undefined ? null : <span class="muted">{` (${a.statusReason})`}</span>}
      </dd>
      <dt>Version</dt>
      <dd>{String(a.version)}</dd>
      <dt>Dataset</dt>
      <dd>{a.dataset}</dd>
      <dt>Provider</dt>
      <dd>{a.provider}</dd>
      <dt>Consumer</dt>
      <dd>{a.consumer}</dd>
      <dt>Actions</dt>
      <dd>{a.actions.join(", ")}</dd>
      <dt>Fields</dt>
      <dd>{a.fields.join(", ")}</dd>
      <dt>Pseudonymized</dt>
      <dd>{(a.pseudonymize ?? []).join(", ") || "none"}</dd>
      <dt>Purposes</dt>
      <dd>{a.purposes.join(", ") || "any"}</dd>
      <dt>Valid</dt>
      <dd>{`${when(a.validFrom)} – ${when(a.validUntil)}`}</dd>
      <dt>Quota</dt>
      <dd>
        {a.quota === undefined
          ? "none"
          : [
              a.quota.requestsPerDay === undefined
                ? null
                : `${a.quota.requestsPerDay} requests/day`,
              a.quota.recordsPerMonth === undefined
                ? null
                : `${a.quota.recordsPerMonth} records/month`,
            ]
              .filter((x) => x !== null)
              .join(", ")}
      </dd>
      <dt>Price</dt>
      <dd>{`${money(a.price.perRequest)} per request + ${money(a.price.perRecord)} per record (${a.price.currency})`}</dd>
      <dt>Retention</dt>
      <dd>{a.retentionDays === undefined ? "not limited" : `${a.retentionDays} days`}</dd>
      <dt>Value shares</dt>
      <dd>{a.valueShares.map((s) => `${s.partner} ${(s.bps / 100).toFixed(2)} %`).join(", ")}</dd>
    </dl>
  );
}

function DetailPage(props: {
  viewer: Viewer;
  a: Agreement;
  versions: readonly Version[];
  odrl: string | null;
  decision?: Decision | undefined;
  problem?: Problem | undefined;
  asked?: Readonly<Record<string, string>> | undefined;
  notice?: string | undefined;
}) {
  const a = props.a;
  const can = (t: Transition) =>
    (TRANSITIONS[t].from as readonly string[]).includes(a.status) ||
    (a.status === ("ended" as string) && t === "terminate");
  const asked = props.asked ?? {};
  return (
    <Page title={`Agreement ${a.id}`} viewer={props.viewer} section="agreements">
      {props.notice === undefined ? null : <Notice>{props.notice}</Notice>}
      {props.problem === undefined ? null : <ProblemBox problem={props.problem} />}
      <div class="actions">
        {(Object.keys(STEPS) as Transition[]).map((t) => (
          <form method="get" action={`/console/agreements/${a.id}/${t}`}>
            <button type="submit" class={t === "resume" ? "" : "danger"} disabled={!can(t)}>
              {STEPS[t].label}
              <span class="visually-hidden">{` ${a.id}`}</span>
            </button>
          </form>
        ))}
      </div>
      <h2>Terms</h2>
      <Terms a={a} />
      <h2 id="explain-title">Explain a decision</h2>
      <form
        method="post"
        action={`/console/agreements/${a.id}/explain`}
        class="filters"
        aria-labelledby="explain-title"
      >
        <Csrf viewer={props.viewer} />
        <div>
          <label for="explain-partner">Partner</label>
          <select id="explain-partner" name="partner">
            {[a.consumer, a.provider].map((p) => (
              <option value={p} selected={asked.partner === p}>
                {p === a.consumer ? `${p} (consumer)` : `${p} (provider)`}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="explain-action">Action</label>
          <select id="explain-action" name="action">
            {["read", "deliver"].map((x) => (
              <option value={x} selected={asked.action === x}>
                {x}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label for="explain-purpose">Purpose</label>
          <input id="explain-purpose" name="purpose" value={asked.purpose ?? a.purposes[0] ?? ""} />
        </div>
        <div>
          <label for="explain-at">At (UTC, optional)</label>
          <input id="explain-at" name="at" type="datetime-local" value={asked.at ?? ""} />
        </div>
        <button type="submit">Explain</button>
      </form>
      {props.decision === undefined ? null : (
        <section class="panel" aria-live="polite" aria-labelledby="decision-title">
          <h3 id="decision-title">
            {"Decision: "}
            <Status value={props.decision.decision} />
          </h3>
          <p class="muted">{`as of ${when(props.decision.at)}`}</p>
          {props.decision.reasons.length === 0 ? (
            <p>No rule stands in the way.</p>
          ) : (
            <ul>
              {props.decision.reasons.map((r) => (
                <li>
                  <code>{r.code}</code>
                  {`: ${r.message}`}
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
      <h2>Versions</h2>
      <table>
        <caption>Every version of the terms</caption>
        <thead>
          <tr>
            <th scope="col" class="num">
              Version
            </th>
            <th scope="col">Recorded</th>
            <th scope="col">Fields</th>
            <th scope="col">Valid until</th>
            <th scope="col">Price</th>
          </tr>
        </thead>
        <tbody>
          {props.versions.map((v) => {
            const t = v as unknown as Agreement;
            return (
              <tr>
                <td class="num">{String(v.version)}</td>
                <td>{when(t.updatedAt ?? t.createdAt)}</td>
                <td>{(t.fields ?? []).join(", ")}</td>
                <td>{when(t.validUntil)}</td>
                <td>
                  {t.price === undefined
                    ? "—"
                    : `${money(t.price.perRequest)} + ${money(t.price.perRecord)}/record ${t.price.currency}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h2 id="odrl-title">ODRL policy</h2>
      {props.odrl === null ? (
        <p class="muted">The ODRL view could not be read.</p>
      ) : (
        <section aria-labelledby="odrl-title">
          {/* Focusable so that keyboard users can scroll it. */}
          <pre tabindex={0}>{props.odrl}</pre>
        </section>
      )}
    </Page>
  );
}

function ConfirmPage(props: {
  viewer: Viewer;
  a: Agreement;
  step: Transition;
  problem?: Problem | undefined;
  reason?: string | undefined;
}) {
  const title = `${STEPS[props.step].label} agreement ${props.a.id}`;
  return (
    <Page title={title} viewer={props.viewer} section="agreements">
      {props.problem === undefined ? null : (
        <ProblemBox problem={props.problem} doing={title.toLowerCase()} />
      )}
      <p>
        {`${props.a.provider} → ${props.a.consumer} (${props.a.dataset}) is `}
        <Status value={props.a.status} />
        {`. ${STEPS[props.step].explain}`}
      </p>
      <form method="post" action={`/console/agreements/${props.a.id}/${props.step}`}>
        <Csrf viewer={props.viewer} />
        <label for="reason">Reason</label>
        <textarea id="reason" name="reason" required maxlength={1000}>
          {props.reason ?? ""}
        </textarea>
        <p class="actions">
          <button type="submit" class={props.step === "resume" ? "" : "danger"}>
            {`Confirm: ${STEPS[props.step].label.toLowerCase()}`}
          </button>
          <a class="button secondary" href={`/console/agreements/${props.a.id}`}>
            Cancel
          </a>
        </p>
      </form>
    </Page>
  );
}

async function detail(
  c: C,
  id: string,
  extra: {
    decision?: Decision;
    problem?: Problem;
    asked?: Record<string, string>;
    notice?: string;
  } = {},
) {
  const api = apiOf(c);
  const path = `/admin/agreements/${encodeURIComponent(id)}`;
  const [found, versions, odrl] = await Promise.all([
    api.get<Agreement>(path),
    api.get<ListPage<Version>>(`${path}/versions`),
    api.text(path, "application/ld+json"),
  ]);
  if (!found.ok) {
    return render(
      c,
      <Page title={`Agreement ${id}`} viewer={viewerOf(c)} section="agreements">
        <ProblemBox problem={found.problem} doing="read the agreement" />
      </Page>,
      pageStatus(found.status),
    );
  }
  return render(
    c,
    <DetailPage
      viewer={viewerOf(c)}
      a={found.value}
      versions={versions.ok ? versions.value.items : []}
      odrl={odrl.ok ? JSON.stringify(JSON.parse(odrl.body), null, 2) : null}
      {...extra}
    />,
    extra.problem === undefined ? 200 : pageStatus(extra.problem.status),
  );
}

export function registerAgreements(app: Hono<ConsoleEnv>): void {
  app.get("/agreements", async (c) => {
    const partner = c.req.query("partner") || undefined;
    const api = apiOf(c);
    const [answer, pending, notice] = await Promise.all([
      api.get<ListPage<Agreement>>(
        `/admin/agreements${query({ limit: 200, partner, cursor: c.req.query("cursor") })}`,
      ),
      pendingRequests(api, c.req.query("requests")),
      requestNotice(c),
    ]);
    if (!answer.ok) {
      return render(
        c,
        <Page title="Agreements" viewer={viewerOf(c)} section="agreements">
          <ProblemBox problem={answer.problem} doing="list the agreements" />
        </Page>,
        pageStatus(answer.status),
      );
    }
    return render(
      c,
      <AgreementsPage
        viewer={viewerOf(c)}
        page={answer.value}
        partner={partner}
        pending={pending}
        notice={notice}
      />,
    );
  });

  app.get("/agreements/:id", async (c) => {
    const done = c.req.query("done");
    return detail(
      c,
      c.req.param("id"),
      done !== undefined && isStep(done) ? { notice: `${STEPS[done].label}: done.` } : {},
    );
  });

  app.post("/agreements/:id/explain", async (c) => {
    const id = c.req.param("id");
    const form = formOf(c);
    const at = utcFromLocalField(form.at);
    const asked = {
      partner: form.partner ?? "",
      action: form.action ?? "",
      purpose: form.purpose ?? "",
      at: form.at ?? "",
    };
    const answer = await apiOf(c).post<Decision>("/admin/decisions", {
      partner: asked.partner,
      agreement: id,
      action: asked.action,
      ...(asked.purpose === "" ? {} : { purpose: asked.purpose }),
      ...(at === undefined ? {} : { at }),
    });
    return answer.ok
      ? detail(c, id, { decision: answer.value, asked })
      : detail(c, id, { problem: answer.problem, asked });
  });

  app.get("/agreements/:id/:step", async (c) => {
    const step = c.req.param("step");
    if (!isStep(step)) return c.notFound();
    const found = await apiOf(c).get<Agreement>(
      `/admin/agreements/${encodeURIComponent(c.req.param("id"))}`,
    );
    if (!found.ok) {
      return render(
        c,
        <Page title="Agreement" viewer={viewerOf(c)} section="agreements">
          <ProblemBox problem={found.problem} doing="read the agreement" />
        </Page>,
        pageStatus(found.status),
      );
    }
    return render(c, <ConfirmPage viewer={viewerOf(c)} a={found.value} step={step} />);
  });

  app.post("/agreements/:id/:step", async (c) => {
    const step = c.req.param("step");
    const id = c.req.param("id");
    if (!isStep(step)) return c.notFound();
    const reason = formOf(c).reason ?? "";
    const api = apiOf(c);
    const changed = await api.post<Agreement>(
      `/admin/agreements/${encodeURIComponent(id)}/${step}`,
      { reason },
    );
    if (changed.ok) return c.redirect(`/console/agreements/${id}${query({ done: step })}`, 303);
    const found = await api.get<Agreement>(`/admin/agreements/${encodeURIComponent(id)}`);
    if (!found.ok) {
      return render(
        c,
        <Page title="Agreement" viewer={viewerOf(c)} section="agreements">
          <ProblemBox problem={changed.problem} />
        </Page>,
        pageStatus(changed.status),
      );
    }
    return render(
      c,
      <ConfirmPage
        viewer={viewerOf(c)}
        a={found.value}
        step={step}
        problem={changed.problem}
        reason={reason}
      />,
      pageStatus(changed.status),
    );
  });
}
