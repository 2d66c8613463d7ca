/** The short tour the local server prints: copy-paste commands, in order. */

export interface TourInput {
  readonly base: string;
  readonly dataDir: string;
  readonly operator: { id: string; secret: string };
  readonly finance: { id: string; secret: string };
  readonly demo?: { secrets: Readonly<Record<string, string>>; inbox: string } | undefined;
  /** The console and, with the embedded sign-in provider, its two people. */
  readonly console?: {
    readonly url: string;
    readonly people?: readonly { role: string; username: string; password: string }[];
    readonly issuer: string;
  };
}

const tokenCmd = (base: string, id: string, secret: string, scope: string) =>
  `$(curl -s -u '${id}:${secret}' -d grant_type=client_credentials -d scope=${scope} ${base}/oauth/token | sed -E 's/.*"access_token":"([^"]+)".*/\\1/')`;

function consoleLines(t: TourInput): string[] {
  if (t.console === undefined) return [];
  const people = t.console.people ?? [];
  return [
    `  console:         ${t.console.url}   (people sign in at ${t.console.issuer})`,
    ...people.map((p) => `    ${`${p.role}:`.padEnd(10)} ${p.username} / ${p.password}`),
  ];
}

/**
 * Step 8: partner self-service with plain curl. InsureCo browses the catalog
 * and asks for FleetCo's offer; FleetCo approves (the agreement exists from
 * then on); InsureCo gets the new agreement's scope and reads.
 */
function selfService(base: string, s: Readonly<Record<string, string>>): string[] {
  const field = (name: string) => `sed -E 's/.*"${name}":"([^"]+)".*/\\1/'`;
  return [
    "# 8. Self-service: InsureCo browses the catalog (no core field in it) and asks for FleetCo's offer;",
    "#    FleetCo approves, which makes the agreement; InsureCo takes its scope and reads",
    `INSURECO_CATALOG=${tokenCmd(base, "insureco", s.insureco ?? "", "catalog")}`,
    `curl -s -H "Authorization: Bearer $INSURECO_CATALOG" ${base}/v1/catalog -w '\\n'`,
    `REQUEST=$(curl -s -H "Authorization: Bearer $INSURECO_CATALOG" -H 'Content-Type: application/json' -d '{"offer":"telemetry-basic","purposes":["fleet-analytics"]}' ${base}/v1/agreement-requests | ${field("id")})`,
    `FLEETCO_CATALOG=${tokenCmd(base, "fleetco", s.fleetco ?? "", "catalog")}`,
    `AGREEMENT=$(curl -s -X POST -H "Authorization: Bearer $FLEETCO_CATALOG" ${base}/v1/agreement-requests/$REQUEST/approve | ${field("agreement")})`,
    `INSURECO_NEW=${tokenCmd(base, "insureco", s.insureco ?? "", "agreement:$AGREEMENT")}`,
    `curl -s -i -H "Authorization: Bearer $INSURECO_NEW" -H 'Data-Purpose: fleet-analytics' ${base}/v1/exchange/$AGREEMENT -w '\\n'`,
    "",
  ];
}

/**
 * Step 9: a large transfer with plain curl. InsureCo starts a read transfer of
 * FleetCo's bulk export (streamed through the guard into object storage),
 * waits until it has ended, and downloads the cut body from its short-lived
 * URL, which needs no token.
 */
function largeTransfer(base: string, s: Readonly<Record<string, string>>): string[] {
  const auth = `-H "Authorization: Bearer $INSURECO_BULK"`;
  return [
    "# 9. A large transfer: InsureCo asks for FleetCo's bulk export (NDJSON, streamed through the guard",
    "#    into storage, metered once when whole), waits for it, and downloads the cut body with plain curl",
    `INSURECO_BULK=${tokenCmd(base, "insureco", s.insureco ?? "", "agreement:agr-1")}`,
    `TRANSFER=$(curl -s ${auth} -H 'Data-Purpose: insurance-pricing' -H 'Content-Type: application/json' -d '{"agreement":"agr-1","subpath":"/bulk"}' ${base}/v1/transfers | sed -E 's/.*"id":"([^"]+)".*/\\1/')`,
    `until curl -s ${auth} ${base}/v1/transfers/$TRANSFER | grep -qE '"state":"(ready|blocked|failed|revoked)"'; do sleep 1; done`,
    `curl -s ${auth} ${base}/v1/transfers/$TRANSFER -w '\\n'`,
    `URL=$(curl -s ${auth} ${base}/v1/transfers/$TRANSFER | sed -E 's/.*"url":"([^"]+)".*/\\1/')`,
    `curl -s "$URL" -o transfer.ndjson && wc -l transfer.ndjson && sha256sum transfer.ndjson`,
    "",
  ];
}

export function tour(t: TourInput): string {
  const { base } = t;
  const lines = [
    "",
    `Data-sharing gateway ready on ${base}   (store: DynamoDB Local, data in ${t.dataDir})`,
    `  operator client: ${t.operator.id} / ${t.operator.secret}`,
    `  finance client:  ${t.finance.id} / ${t.finance.secret}`,
    `  API reference:   ${base}/docs   (OpenAPI: ${base}/openapi.json)`,
    ...consoleLines(t),
  ];
  if (t.demo === undefined) {
    lines.push(
      "",
      "DEMO=0: no demo ecosystem. Create partners with POST /admin/partners (see README).",
      "",
    );
    return lines.join("\n");
  }
  const s = t.demo.secrets;
  lines.push(
    `  demo partners:   fleetco / ${s.fleetco}  (provider)   insureco / ${s.insureco}  (consumer)`,
    "",
    "Tour (copy-paste into a shell; each answer ends with a newline):",
    "",
    "# 1. InsureCo gets a token for agreement agr-1",
    `INSURECO=${tokenCmd(base, "insureco", s.insureco ?? "", "agreement:agr-1")}`,
    "",
    "# 2. It pulls FleetCo's telemetry through the gateway: engine calibration (core), route plans and",
    "#    driver licences (not granted) are cut away; driver names arrive pseudonymized",
    `curl -s -i -H "Authorization: Bearer $INSURECO" -H 'Data-Purpose: insurance-pricing' ${base}/v1/exchange/agr-1 -w '\\n'`,
    "",
    "# 3. A record carrying a core marker (CAL-nnnnnn) in a granted field is refused: 502 leak_blocked",
    `curl -s -H "Authorization: Bearer $INSURECO" -H 'Data-Purpose: insurance-pricing' ${base}/v1/exchange/agr-1/incidents -w '\\n'`,
    "",
    "# 4. FleetCo pushes records to InsureCo (agreement agr-2); only vin and mileage arrive",
    `FLEETCO=${tokenCmd(base, "fleetco", s.fleetco ?? "", "agreement:agr-2")}`,
    `curl -s -H "Authorization: Bearer $FLEETCO" -H 'Content-Type: application/json' -d '{"items":[{"vin":"YV1DZ8256C2271234","mileage":182400,"engine":{"calibration":"secret"}}]}' ${base}/v1/exchange/agr-2 -w '\\n'`,
    `curl -s ${t.demo.inbox}/inbox -w '\\n'`,
    "",
    "# 5. The operator revokes InsureCo; its very next exchange is refused: 403 partner_revoked",
    `OPERATOR=${tokenCmd(base, t.operator.id, t.operator.secret, "admin")}`,
    `curl -s -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: application/json' -d '{"reason":"tour"}' ${base}/admin/partners/insureco/revoke -w '\\n'`,
    `curl -s -H "Authorization: Bearer $INSURECO" -H 'Data-Purpose: insurance-pricing' ${base}/v1/exchange/agr-1 -w '\\n'`,
    `curl -s -H "Authorization: Bearer $OPERATOR" -H 'Content-Type: application/json' -d '{"reason":"tour done"}' ${base}/admin/partners/insureco/reinstate -w '\\n'`,
    "",
    "# 6. Finance reads the flows: the exchange of step 2 counted once, with its value in micro-EUR",
    `FINANCE=${tokenCmd(base, t.finance.id, t.finance.secret, "metrics:read")}`,
    `curl -s -H "Authorization: Bearer $FINANCE" '${base}/metrics/flows?granularity=day' -w '\\n'`,
    `curl -s -H "Authorization: Bearer $FINANCE" '${base}/metrics/attribution' -w '\\n'`,
    "",
    "# 7. The operator's view: the audit trail (hash-chained) and the data-flow map",
    `curl -s -H "Authorization: Bearer $OPERATOR" ${base}/admin/audit/verify -w '\\n'`,
    `curl -s -H "Authorization: Bearer $OPERATOR" '${base}/admin/flows?format=mermaid'`,
    "",
    ...selfService(base, s),
    ...largeTransfer(base, s),
    "Ctrl-C stops the gateway, DynamoDB Local and the demo backends.",
    "",
  );
  return lines.join("\n");
}
