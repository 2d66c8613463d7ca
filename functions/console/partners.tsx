/**
 * Partners: status at a glance, and each lifecycle step (suspend, resume,
 * revoke, reinstate, rotate credentials, phase out) as a button that asks
 * for a reason and a confirmation before the API is called.
 */
import type { Context, Hono } from "hono";
import type { Partner } from "../../policies/model.ts";
import { TRANSITIONS, type Transition } from "../admin/partners.ts";
import { type Page as ListPage, query } from "./api.ts";
import type { ConsoleEnv } from "./http.ts";
import { Csrf, Notice, Page, ProblemBox, Status, type Viewer, when } from "./pages/layout.tsx";
import { apiOf, formOf, pageStatus, render, utcFromLocalField, viewerOf } from "./render.ts";

const STEPS: Readonly<Record<Transition, { label: string; explain: string; danger: boolean }>> = {
  suspend: {
    label: "Suspend",
    explain: "Its exchanges and token requests are refused until it is resumed.",
    danger: true,
  },
  resume: { label: "Resume", explain: "It can exchange data again.", danger: false },
  revoke: {
    label: "Revoke",
    explain:
      "Its exchanges and token requests are refused at once; only a reinstatement undoes this.",
    danger: true,
  },
  reinstate: { label: "Reinstate", explain: "It becomes active again.", danger: false },
};

const STATUSES = ["active", "suspended", "revoked", "offboarded"] as const;

const isTransition = (s: string): s is Transition => s in TRANSITIONS;

function RowActions(props: { partner: Partner }) {
  const p = props.partner;
  const can = (t: Transition) => (TRANSITIONS[t].from as readonly string[]).includes(p.status);
  // Suspend, Revoke and Reinstate on every row (those the status does not allow are
  // disabled); Resume where the partner is suspended.
  const steps: Transition[] =
    p.status === "suspended"
      ? ["suspend", "resume", "revoke", "reinstate"]
      : ["suspend", "revoke", "reinstate"];
  return (
    <div class="actions">
      {steps.map((t) => (
        <form method="get" action={`/console/partners/${p.id}/${t}`}>
          <button type="submit" class={STEPS[t].danger ? "danger" : ""} disabled={!can(t)}>
            {STEPS[t].label}
            <span class="visually-hidden">{` ${p.id}`}</span>
          </button>
        </form>
      ))}
      <form method="get" action={`/console/partners/${p.id}/credentials`}>
        <button type="submit" class="secondary">
          Rotate credentials<span class="visually-hidden">{` of ${p.id}`}</span>
        </button>
      </form>
      <form method="get" action={`/console/partners/${p.id}/phase-out`}>
        <button
          type="submit"
          class="secondary"
          disabled={p.status === "revoked" || p.status === "offboarded"}
        >
          Phase out<span class="visually-hidden">{` ${p.id}`}</span>
        </button>
      </form>
    </div>
  );
}

function PartnersPage(props: {
  viewer: Viewer;
  page: ListPage<Partner>;
  cursor: string | undefined;
  notice?: string | undefined;
}) {
  const counts = Object.fromEntries(
    STATUSES.map((s) => [s, props.page.items.filter((p) => p.status === s).length]),
  );
  return (
    <Page title="Partners" viewer={props.viewer} section="partners">
      {props.notice === undefined ? null : <Notice>{props.notice}</Notice>}
      <ul class="actions summary" aria-label="Partners by status">
        {STATUSES.map((s) => (
          <li class="panel">
            <Status value={s} /> <strong>{String(counts[s])}</strong>
          </li>
        ))}
      </ul>
      <table>
        <caption>Every partner, with what an operator can do</caption>
        <thead>
          <tr>
            <th scope="col">Partner</th>
            <th scope="col">Name</th>
            <th scope="col">Jurisdiction</th>
            <th scope="col">Status</th>
            <th scope="col">Backend</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.page.items.map((p) => (
            <tr data-partner={p.id}>
              <th scope="row">{p.id}</th>
              <td>{p.name}</td>
              <td>{p.jurisdiction}</td>
              <td>
                <Status value={p.status} />
                {p.phaseOutAt === undefined || p.status === "offboarded" ? null : (
                  <div class="muted">{`phase-out ${when(p.phaseOutAt)}`}</div>
                )}
              </td>
              <td>
                <code>{p.baseUrl}</code>
              </td>
              <td>
                <RowActions partner={p} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.page.next === null ? null : (
        <p>
          <a href={`/console/partners${query({ cursor: props.page.next })}`}>Next page</a>
        </p>
      )}
    </Page>
  );
}

function ConfirmPage(props: {
  viewer: Viewer;
  partner: Partner;
  step: Transition | "credentials" | "phase-out";
  problem?: import("./api.ts").Problem | undefined;
  reason?: string | undefined;
}) {
  const p = props.partner;
  const step = props.step;
  const title =
    step === "credentials"
      ? `Rotate the credentials of ${p.id}`
      : step === "phase-out"
        ? `Phase out ${p.id}`
        : `${STEPS[step].label} ${p.id}`;
  const explain =
    step === "credentials"
      ? "A new client secret is issued and shown once; the old secret and every token issued with it stop working at once."
      : step === "phase-out"
        ? "From the date on, its agreements end and it can only attest deletions."
        : STEPS[step].explain;
  return (
    <Page title={title} viewer={props.viewer} section="partners">
      {props.problem === undefined ? null : (
        <ProblemBox problem={props.problem} doing={title.toLowerCase()} />
      )}
      <p>
        {`${p.name} (${p.id}) is `}
        <Status value={p.status} />
        {`. ${explain}`}
      </p>
      <form method="post" action={`/console/partners/${p.id}/${step}`}>
        <Csrf viewer={props.viewer} />
        {step === "credentials" ? null : (
          <>
            {step === "phase-out" ? (
              <>
                <label for="at">Phase-out date and time (UTC)</label>
                <input id="at" name="at" type="datetime-local" required />
              </>
            ) : null}
            <label for="reason">Reason</label>
            <textarea id="reason" name="reason" required maxlength={1000}>
              {props.reason ?? ""}
            </textarea>
          </>
        )}
        <p class="actions">
          <button type="submit" class={step === "revoke" || step === "suspend" ? "danger" : ""}>
            {`Confirm: ${title.replace(` ${p.id}`, "").replace(` of ${p.id}`, "")}`}
          </button>
          <a class="button secondary" href="/console/partners">
            Cancel
          </a>
        </p>
      </form>
    </Page>
  );
}

function SecretPage(props: { viewer: Viewer; clientId: string; secret: string }) {
  return (
    <Page title={`New credentials of ${props.clientId}`} viewer={props.viewer} section="partners">
      <Notice>The old secret no longer works. This secret is shown once: copy it now.</Notice>
      <dl class="terms">
        <dt>Client id</dt>
        <dd>
          <code>{props.clientId}</code>
        </dd>
        <dt>Client secret</dt>
        <dd>
          <output class="secret" id="client-secret" aria-label="Client secret">
            {props.secret}
          </output>
        </dd>
      </dl>
      <p>
        <a href="/console/partners">Back to partners</a>
      </p>
    </Page>
  );
}

/** The message after a step, from the step's name and the partner as listed now (never echoed text). */
function noticeOf(
  step: string | undefined,
  id: string | undefined,
  partners: readonly Partner[],
): string | undefined {
  const p = partners.find((x) => x.id === id);
  if (step === undefined || p === undefined) return undefined;
  if (step === "phase-out") return `Phase-out of ${p.id} scheduled for ${when(p.phaseOutAt)}.`;
  if (!isTransition(step)) return undefined;
  return `${STEPS[step].label}: done. ${p.id} is now ${p.status}.`;
}

export function registerPartners(app: Hono<ConsoleEnv>): void {
  app.get("/partners", async (c) => {
    const cursor = c.req.query("cursor");
    const answer = await apiOf(c).get<ListPage<Partner>>(
      `/admin/partners${query({ limit: 200, cursor })}`,
    );
    if (!answer.ok) {
      return render(
        c,
        <Page title="Partners" viewer={viewerOf(c)} section="partners">
          <ProblemBox problem={answer.problem} doing="list the partners" />
        </Page>,
        pageStatus(answer.status),
      );
    }
    return render(
      c,
      <PartnersPage
        viewer={viewerOf(c)}
        page={answer.value}
        cursor={cursor}
        notice={noticeOf(c.req.query("done"), c.req.query("partner"), answer.value.items)}
      />,
    );
  });

  const loadPartner = async (c: Context<ConsoleEnv>, id: string) =>
    apiOf(c).get<Partner>(`/admin/partners/${encodeURIComponent(id)}`);

  app.get("/partners/:id/:step", async (c) => {
    const step = c.req.param("step");
    if (!isTransition(step) && step !== "credentials" && step !== "phase-out") return c.notFound();
    const found = await loadPartner(c, c.req.param("id"));
    if (!found.ok) {
      return render(
        c,
        <Page title="Partner" viewer={viewerOf(c)} section="partners">
          <ProblemBox problem={found.problem} doing="read the partner" />
        </Page>,
        pageStatus(found.status),
      );
    }
    return render(c, <ConfirmPage viewer={viewerOf(c)} partner={found.value} step={step} />);
  });

  app.post("/partners/:id/:step", async (c) => {
    const step = c.req.param("step");
    const id = c.req.param("id");
    if (!isTransition(step) && step !== "credentials" && step !== "phase-out") return c.notFound();
    const form = formOf(c);
    const api = apiOf(c);
    const path = `/admin/partners/${encodeURIComponent(id)}/${step}`;
    if (step === "credentials") {
      const rotated = await api.post<{ clientId: string; clientSecret: string }>(path);
      if (rotated.ok) {
        return render(
          c,
          <SecretPage
            viewer={viewerOf(c)}
            clientId={rotated.value.clientId}
            secret={rotated.value.clientSecret}
          />,
        );
      }
      return failed(c, id, step, rotated.problem, undefined);
    }
    const reason = form.reason ?? "";
    const body =
      step === "phase-out"
        ? { at: utcFromLocalField(form.at) ?? form.at ?? "", reason }
        : { reason };
    const changed = await api.post<Partner>(path, body);
    if (!changed.ok) return failed(c, id, step, changed.problem, reason);
    return c.redirect(`/console/partners${query({ done: step, partner: id })}`, 303);
  });

  async function failed(
    c: Context<ConsoleEnv>,
    id: string,
    step: Transition | "credentials" | "phase-out",
    problem: import("./api.ts").Problem,
    reason: string | undefined,
  ) {
    const found = await loadPartner(c, id);
    if (!found.ok) {
      return render(
        c,
        <Page title="Partner" viewer={viewerOf(c)} section="partners">
          <ProblemBox problem={problem} />
        </Page>,
        pageStatus(problem.status),
      );
    }
    return render(
      c,
      <ConfirmPage
        viewer={viewerOf(c)}
        partner={found.value}
        step={step}
        problem={problem}
        reason={reason}
      />,
      pageStatus(problem.status),
    );
  }
}
