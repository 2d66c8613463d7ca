/**
 * The operator CLI, run in-process (main(argv, env, io)) against the gateway
 * served by a real HTTP server on a free loopback port: the daily commands,
 * tables and --json, problem details printed readably, and exit codes.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processOutbox } from "../../functions/events/deliver.ts";
import { listen } from "../../functions/local/server.ts";
import { main } from "../../functions/ops/cli.ts";
import { startBackend, type TestBackend } from "../support/backends.ts";
import { createEcosystem, type Ecosystem } from "../support/ecosystem.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { read, secretToken } from "./helpers.ts";

let t: TestGateway;
let eco: Ecosystem;
let server: Server;
let url: string;
let newcomerBackend: TestBackend;

beforeAll(async () => {
  t = await createTestGateway();
  eco = await createEcosystem(t);
  newcomerBackend = await startBackend();
  server = await listen(t.app, "127.0.0.1", 0);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await eco.close();
  await newcomerBackend.close();
});

interface Ran {
  code: number;
  out: string;
  err: string;
}

async function ops(args: string[], env: Record<string, string | undefined> = {}): Promise<Ran> {
  let out = "";
  let err = "";
  const code = await main(
    args,
    {
      GATEWAY_URL: url,
      OPERATOR_CLIENT_ID: "operator",
      OPERATOR_CLIENT_SECRET: t.operatorSecret,
      ...env,
    },
    {
      stdout: (s) => {
        out += s;
      },
      stderr: (s) => {
        err += s;
      },
    },
  );
  return { code, out, err };
}

/** The data rows of a table: header first, then one array of cells per row. */
const tableRows = (text: string) =>
  text
    .trim()
    .split("\n")
    .map((line) => line.split(/ {2,}/));

describe("ops CLI", () => {
  it("lists partners as a table and as JSON", async () => {
    const r = await ops(["partners", "list"]);
    expect(r).toMatchObject({ code: 0, err: "" });
    const [header, ...rows] = tableRows(r.out);
    expect(header).toEqual(["ID", "NAME", "JURISDICTION", "STATUS", "BASE URL", "PHASE-OUT"]);
    const ids = rows.map((row) => row[0]);
    expect(ids).toEqual(expect.arrayContaining([eco.ids.provider, eco.ids.consumer]));
    const consumerRow = rows.find((row) => row[0] === eco.ids.consumer);
    expect(consumerRow).toEqual([
      eco.ids.consumer,
      `Partner ${eco.ids.consumer}`,
      "DE",
      "active",
      eco.consumer.url,
    ]);

    const j = await ops(["partners", "list", "--json"]);
    expect(j.code).toBe(0);
    const parsed = JSON.parse(j.out) as { items: { id: string; status: string }[] };
    expect(parsed.items.map((p) => p.id).sort()).toEqual(ids.sort());
  });

  it("shows a partner", async () => {
    const r = await ops(["partners", "show", eco.ids.provider]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^id:\\s+${eco.ids.provider}$`, "m"));
    expect(r.out).toMatch(/^jurisdiction:\s+SE$/m);
    expect(r.out).toMatch(/^status:\s+active$/m);
  });

  it("onboards a partner and prints its secret once, which works at the token endpoint", async () => {
    const r = await ops([
      "onboard",
      "newcomer",
      "--name",
      "New Comer AB",
      "--jurisdiction",
      "SE",
      "--base-url",
      newcomerBackend.url,
    ]);
    expect(r.code).toBe(0);
    const secret = /^client secret:\s+(\S+)$/m.exec(r.out)?.[1];
    expect(secret).toBeDefined();
    expect(r.out).toMatch(/^client id:\s+newcomer$/m);
    // It has no agreement yet: the credentials are right, the scope is refused.
    const res = await secretToken(t, "newcomer", secret ?? "");
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_scope");
    const wrong = await secretToken(t, "newcomer", "not-it");
    expect(wrong.status).toBe(401);

    const again = await ops([
      "onboard",
      "newcomer",
      "--name",
      "Again",
      "--jurisdiction",
      "SE",
      "--base-url",
      newcomerBackend.url,
    ]);
    expect(again.code).toBe(1);
    expect(again.out).toBe("");
    expect(again.err).toMatch(/^error: 409 Conflict \(conflict\)$/m);
    expect(again.err).toContain("newcomer is taken");
    expect(again.err).toMatch(/request id: \S+/);
  });

  it("suspends, resumes, revokes and reinstates with a reason, audited under the operator", async () => {
    const id = eco.ids.consumer;
    const token = await eco.partnerToken(id);
    for (const [command, status] of [
      ["suspend", "suspended"],
      ["resume", "active"],
      ["revoke", "revoked"],
    ] as const) {
      const r = await ops([command, id, "--reason", `cli ${command}`]);
      expect(r, command).toMatchObject({ code: 0, out: `${id}: ${status}\n` });
    }
    expect((await read(t, eco, token)).status).toBe(403);
    const refused = await ops(["suspend", id, "--reason", "not from revoked"]);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain("409");
    expect(refused.err).toContain("a revoked partner cannot be suspended");
    const back = await ops(["reinstate", id, "--reason", "cli reinstate"]);
    expect(back.out).toBe(`${id}: active\n`);
    expect((await read(t, eco, token)).status).toBe(200);

    const audit = await ops(["audit", "--partner", id, "--action", "partner.revoke"]);
    expect(audit.code).toBe(0);
    const [header, ...rows] = tableRows(audit.out);
    expect(header).toEqual(["ENTRY", "AT", "ACTOR", "ACTION", "TARGET", "REASON", "REQUEST ID"]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.slice(2, 6)).toEqual([
      "operator",
      "partner.revoke",
      `partner:${id}`,
      "cli revoke",
    ]);
  });

  it("needs a reason for a transition: a usage error, nothing sent", async () => {
    const r = await ops(["revoke", eco.ids.provider]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("revoke needs --reason");
    const shown = await ops(["partners", "show", eco.ids.provider, "--json"]);
    expect((JSON.parse(shown.out) as { status: string }).status).toBe("active");
  });

  it("phases out at a date and shows the exit obligations", async () => {
    const e = await createEcosystem(t, { agreement: { retentionDays: 14 } });
    try {
      const token = await e.partnerToken(e.ids.consumer);
      expect((await read(t, e, token)).status).toBe(200);
      const at = new Date(t.gw.clock().getTime() + 86_400_000).toISOString();
      const r = await ops(["phase-out", e.ids.consumer, "--at", at, "--reason", "leaving"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`phased out at ${at}`);
      const bad = await ops(["phase-out", e.ids.consumer, "--at", "tomorrow", "--reason", "x"]);
      expect(bad.code).toBe(2);

      const exit = await ops(["exit", e.ids.consumer]);
      expect(exit.code).toBe(0);
      const lines = exit.out.trim().split("\n");
      expect(lines[0]).toBe(`${e.ids.consumer}: active`);
      const row = tableRows(lines.slice(1, 3).join("\n"))[1];
      expect(row).toEqual([
        e.agreement,
        e.ids.dataset,
        e.ids.provider,
        "2",
        "14 days",
        "OUTSTANDING",
      ]);
      expect(exit.out).toContain(`attestations outstanding: ${e.agreement}`);
    } finally {
      await e.close();
    }
  });

  it("rotates a secret: the printed one works, the old one stops", async () => {
    const id = eco.ids.provider;
    const r = await ops(["rotate", id]);
    expect(r.code).toBe(0);
    const secret = /^client secret:\s+(\S+)$/m.exec(r.out)?.[1] ?? "";
    expect((await secretToken(t, id, eco.secrets[id] ?? "")).status).toBe(401);
    expect((await secretToken(t, id, secret)).status).toBe(200);
    eco.secrets[id] = secret;
  });

  it("lists agreements, by partner", async () => {
    const r = await ops(["agreements", "list", "--partner", eco.ids.provider]);
    expect(r.code).toBe(0);
    const [header, ...rows] = tableRows(r.out);
    expect(header?.slice(0, 5)).toEqual(["ID", "PROVIDER", "CONSUMER", "DATASET", "STATUS"]);
    expect(rows.map((row) => row.slice(0, 5))).toEqual([
      [eco.agreement, eco.ids.provider, eco.ids.consumer, eco.ids.dataset, "active"],
    ]);
  });

  it("verifies the audit chain", async () => {
    const r = await ops(["audit", "verify"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^audit chain valid: \d+ entries$/m);
    const j = await ops(["audit", "verify", "--json"]);
    expect(JSON.parse(j.out)).toMatchObject({ valid: true, firstBroken: null });
  });

  it("prints the flow map as a table and as Mermaid", async () => {
    const r = await ops(["flows"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("AGREEMENT");
    const edge = r.out.split("\n").find((l) => l.startsWith(eco.agreement));
    expect(edge?.split(/ {2,}/).slice(0, 4)).toEqual([
      eco.agreement,
      eco.ids.provider,
      eco.ids.consumer,
      eco.ids.dataset,
    ]);
    const m = await ops(["flows", "--mermaid"]);
    expect(m.code).toBe(0);
    expect(m.out.startsWith("flowchart")).toBe(true);
    expect(m.out).toContain(eco.agreement);
  });

  it("lists deliveries by state", async () => {
    await ops(["suspend", eco.ids.provider, "--reason", "for an event"]);
    await ops(["resume", eco.ids.provider, "--reason", "done"]);
    await processOutbox(t.gw);
    const r = await ops(["deliveries", "--state", "delivered"]);
    expect(r.code).toBe(0);
    const rows = tableRows(r.out).slice(1);
    expect(rows).toEqual(
      expect.arrayContaining([
        expect.arrayContaining([
          "partner.suspended",
          `partner:${eco.ids.provider}`,
          eco.ids.consumer,
        ]),
      ]),
    );
    const bad = await ops(["deliveries", "--state", "lost"]);
    expect(bad.code).toBe(2);
  });

  it("answers usage errors with 2 and the help with 0", async () => {
    expect((await ops([])).code).toBe(2);
    expect((await ops(["frobnicate"])).code).toBe(2);
    expect((await ops(["partners", "list", "--no-such-option"])).code).toBe(2);
    expect((await ops(["partners", "show"])).code).toBe(2);
    const help = await ops(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("phase-out <id> --at");
    const noCreds = await ops(["partners", "list"], {
      OPERATOR_CLIENT_ID: undefined,
      OPERATOR_CLIENT_SECRET: undefined,
    });
    expect(noCreds.code).toBe(2);
    expect(noCreds.err).toContain("--client-id");
    const badUrl = await ops(["partners", "list", "--url", "not a url"]);
    expect(badUrl.code).toBe(2);
  });

  it("answers 1 for refused credentials and for an unknown partner, with the problem readably", async () => {
    const wrong = await ops(["partners", "list", "--client-secret", "wrong"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("401");
    expect(wrong.err).toContain("invalid_client");
    const fromFlags = await ops(
      // `=`: a base64url secret may begin with "-", which would read as a flag.
      ["partners", "list", "--client-id", "operator", `--client-secret=${t.operatorSecret}`],
      { OPERATOR_CLIENT_ID: "x", OPERATOR_CLIENT_SECRET: "y" },
    );
    expect(fromFlags.code).toBe(0);
    const missing = await ops(["partners", "show", "nobody-here"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^error: 404 Not Found \(partner_not_found\)$/m);
    expect(missing.err).toContain("partner nobody-here does not exist");
  });

  it("answers 3 when the gateway cannot be reached or fails", async () => {
    const closed = await startBackend();
    const deadUrl = closed.url;
    await closed.close();
    const r = await ops(["partners", "list", "--url", deadUrl]);
    expect(r.code).toBe(3);
    expect(r.err).toContain(`cannot reach the gateway at ${deadUrl}`);

    const failing = await startBackend((_req, res) => {
      res.writeHead(503, { "Content-Type": "application/problem+json" });
      res.end(
        JSON.stringify({
          type: "urn:dsg:problem:store_unavailable",
          title: "Service Unavailable",
          status: 503,
          detail: "the store could not complete read",
          code: "store_unavailable",
        }),
      );
    });
    try {
      const f = await ops(["partners", "list", "--url", failing.url]);
      expect(f.code).toBe(3);
      expect(f.err).toContain("503");
      expect(f.err).toContain("store_unavailable");
    } finally {
      await failing.close();
    }
  });
});
