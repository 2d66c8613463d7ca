/**
 * Pending agreement requests (partner self-service): listed on the
 * agreements page, each with Approve and Reject buttons that ask for a
 * confirmation (and, to reject, a reason) before the operators' API
 * (`/admin/agreement-requests/{id}/approve|reject`) is called with the
 * person's token, so the audit trail and the events name the person.
 */
import type { Context, Hono } from "hono";
import type { AgreementRequest } from "../../policies/offers.ts";
import { type Answer, type ConsoleApi, type Page as ListPage, type Problem, query } from "./api.ts";
import type { ConsoleEnv } from "./http.ts";
import { Csrf, money, Page, ProblemBox, Status, type Viewer, when } from "./pages/layout.tsx";
import { apiOf, formOf, pageStatus, render, viewerOf } from "./render.ts";

type C = Context<ConsoleEnv>;
type Step = "approve" | "reject";

const STEPS: Readonly<Record<Step, { label: string; explain: string; done: string }>> = {
  approve: {
    label: "Approve",
    explain:
      "An agreement with these terms is made at once (active, version 1, valid from now); the consumer can then get its scope.",
    done: "Approved",
  },
  reject: {
    label: "Reject",
    explain: "The request ends; both parties are told, with the reason.",
    done: "Rejected",
  },
};
const isStep = (s: string): s is Step => s in STEPS;

const requestPath = (id: string) => `/admin/agreement-requests/${encodeURIComponent(id)}`;

/** The requests waiting for a decision, a page of them from `cursor`. */
export function pendingRequests(
  api: ConsoleApi,
  cursor: string | undefined,
): Promise<Answer<ListPage<AgreementRequest>>> {
  return api.get<ListPage<AgreementRequest>>(
    `/admin/agreement-requests${query({ state: "requested", limit: 200, cursor })}`,
  );
}

const terms = (r: AgreementRequest) =>
  `${money(r.price.perRequest)} + ${money(r.price.perRecord)}/record ${r.price.currency}, ${r.durationDays} days`;

/** The agreements page's section of pending requests (or why they could not be read). */
export function PendingRequests(props: {
  pending: Answer<ListPage<AgreementRequest>>;
  partner: string | undefined;
}) {
  if (!props.pending.ok)
    return <ProblemBox problem={props.pending.problem} doing="list the agreement requests" />;
  const page = props.pending.value;
  if (page.items.length === 0) return <p class="muted">No agreement request is waiting.</p>;
  return (
    <>
      <table>
        <caption>Agreement requests waiting for a decision, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Request</th>
            <th scope="col">Consumer → provider</th>
            <th scope="col">Dataset (offer)</th>
            <th scope="col">Fields</th>
            <th scope="col">Purposes</th>
            <th scope="col">Terms</th>
            <th scope="col">Requested</th>
            <th scope="col">Decision</th>
          </tr>
        </thead>
        <tbody>
          {page.items.map((r) => (
            <tr data-request={r.id}>
              <th scope="row">{r.id}</th>
              <td>{`${r.consumer} → ${r.provider}`}</td>
              <td>{`${r.dataset} (${r.offer})`}</td>
              <td>{r.fields.join(", ")}</td>
              <td>{r.purposes.join(", ") || "any"}</td>
              <td>{terms(r)}</td>
              <td>{when(r.createdAt)}</td>
              <td>
                <div class="actions">
                  {(["approve", "reject"] as const).map((step) => (
                    <form method="get" action={`/console/agreement-requests/${r.id}/${step}`}>
                      <button type="submit" class={step === "reject" ? "danger" : ""}>
                        {STEPS[step].label}
                        <span class="visually-hidden">{` ${r.id}`}</span>
                      </button>
                    </form>
                  ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page.next === null ? null : (
        <p>
          <a
            href={`/console/agreements${query({ partner: props.partner, requests: page.next })}#requests`}
          >
            More agreement requests
          </a>
        </p>
      )}
    </>
  );
}

/** The message after a step, from the request as the API reads it now (never echoed text). */
export async function requestNotice(c: C): Promise<string | undefined> {
  const step = c.req.query("done");
  const id = c.req.query("request");
  if (step === undefined || id === undefined || !isStep(step)) return undefined;
  const found = await apiOf(c).get<AgreementRequest>(requestPath(id));
  if (!found.ok) return undefined;
  const r = found.value;
  return r.state === "agreed"
    ? `${STEPS[step].done}: request ${r.id}. Agreement ${r.agreement ?? ""} is active.`
    : `${STEPS[step].done}: request ${r.id} is now ${r.state}.`;
}

function ConfirmPage(props: {
  viewer: Viewer;
  r: AgreementRequest;
  step: Step;
  problem?: Problem | undefined;
  reason?: string | undefined;
}) {
  const { r, step } = props;
  const title = `${STEPS[step].label} agreement request ${r.id}`;
  return (
    <Page title={title} viewer={props.viewer} section="agreements">
      {props.problem === undefined ? null : (
        <ProblemBox problem={props.problem} doing={title.toLowerCase()} />
      )}
      <p>
        {`${r.consumer} asks ${r.provider} for ${r.dataset} (offer ${r.offer}). The request is `}
        <Status value={r.state} />
        {`. ${STEPS[step].explain}`}
      </p>
      <dl class="terms">
        <dt>Actions</dt>
        <dd>{r.actions.join(", ")}</dd>
        <dt>Fields</dt>
        <dd>{r.fields.join(", ")}</dd>
        <dt>Pseudonymized</dt>
        <dd>{r.pseudonymize.join(", ") || "none"}</dd>
        <dt>Purposes</dt>
        <dd>{r.purposes.join(", ") || "any"}</dd>
        <dt>Price and duration</dt>
        <dd>{terms(r)}</dd>
        <dt>Requested</dt>
        <dd>{when(r.createdAt)}</dd>
      </dl>
      <form method="post" action={`/console/agreement-requests/${r.id}/${step}`}>
        <Csrf viewer={props.viewer} />
        <label for="reason">{step === "reject" ? "Reason" : "Reason (optional)"}</label>
        <textarea id="reason" name="reason" required={step === "reject"} maxlength={1000}>
          {props.reason ?? ""}
        </textarea>
        <p class="actions">
          <button type="submit" class={step === "reject" ? "danger" : ""}>
            {`Confirm: ${STEPS[step].label.toLowerCase()}`}
          </button>
          <a class="button secondary" href="/console/agreements#requests">
            Cancel
          </a>
        </p>
      </form>
    </Page>
  );
}

async function confirm(
  c: C,
  id: string,
  step: Step,
  failed?: { problem: Problem; reason: string },
) {
  const found = await apiOf(c).get<AgreementRequest>(requestPath(id));
  if (!found.ok) {
    return render(
      c,
      <Page title="Agreement request" viewer={viewerOf(c)} section="agreements">
        <ProblemBox
          problem={failed?.problem ?? found.problem}
          doing={failed === undefined ? "read the agreement request" : undefined}
        />
      </Page>,
      pageStatus(failed?.problem.status ?? found.status),
    );
  }
  return render(
    c,
    <ConfirmPage
      viewer={viewerOf(c)}
      r={found.value}
      step={step}
      problem={failed?.problem}
      reason={failed?.reason}
    />,
    failed === undefined ? 200 : pageStatus(failed.problem.status),
  );
}

export function registerAgreementRequests(app: Hono<ConsoleEnv>): void {
  app.get("/agreement-requests/:id/:step", async (c) => {
    const step = c.req.param("step");
    if (!isStep(step)) return c.notFound();
    return confirm(c, c.req.param("id"), step);
  });

  app.post("/agreement-requests/:id/:step", async (c) => {
    const step = c.req.param("step");
    const id = c.req.param("id");
    if (!isStep(step)) return c.notFound();
    const reason = (formOf(c).reason ?? "").trim();
    // The API takes no empty reason: an approval without one sends none.
    const changed = await apiOf(c).post<AgreementRequest>(
      `${requestPath(id)}/${step}`,
      reason === "" && step === "approve" ? {} : { reason },
    );
    if (changed.ok)
      return c.redirect(`/console/agreements${query({ done: step, request: id })}`, 303);
    return confirm(c, id, step, { problem: changed.problem, reason });
  });
}
