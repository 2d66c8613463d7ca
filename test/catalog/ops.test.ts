/**
 * `npm run ops -- requests ...`: operators list pending agreement requests,
 * approve and reject them, against the gateway served over HTTP.
 */
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listen } from "../../functions/local/server.ts";
import { main } from "../../functions/ops/cli.ts";
import { createTestGateway, type TestGateway } from "../support/gateway.ts";
import { createWorld, expectStatus, publish, type RequestView, type World } from "./helpers.ts";

let t: TestGateway;
let w: World;
let server: Server;
let url: string;

beforeAll(async () => {
  t = await createTestGateway();
  w = await createWorld(t);
  server = await listen(t.app, "127.0.0.1", 0);
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await w.close();
});

async function ops(args: string[]) {
  let out = "";
  let err = "";
  const code = await main(
    args,
    { GATEWAY_URL: url, OPERATOR_CLIENT_ID: "operator", OPERATOR_CLIENT_SECRET: t.operatorSecret },
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

describe("ops requests", () => {
  it("lists the pending requests, approves one (its agreement active), rejects another", async () => {
    const offer = await publish(w);
    const ask = async () =>
      (await expectStatus(
        await w.consumer.call("POST", "/v1/agreement-requests", { offer: offer.id }),
        201,
      )) as RequestView;
    const a = await ask();
    const b = await ask();

    const listed = await ops(["requests", "list", "--state", "requested"]);
    expect(listed).toMatchObject({ code: 0, err: "" });
    const [header, ...rows] = listed.out
      .trim()
      .split("\n")
      .map((l) => l.split(/ {2,}/));
    expect(header?.slice(0, 4)).toEqual(["REQUEST", "STATE", "CONSUMER", "PROVIDER"]);
    expect(rows.map((r) => r[0]).sort()).toEqual([a.id, b.id].sort());
    const asJson = await ops(["requests", "list", "--partner", w.consumer.id, "--json"]);
    expect(
      (JSON.parse(asJson.out) as { items: RequestView[] }).items.map((r) => r.id).sort(),
    ).toEqual([a.id, b.id].sort());

    const approved = await ops(["requests", "approve", a.id, "--reason", "checked"]);
    expect(approved.code).toBe(0);
    expect(approved.out).toContain(`${a.id}: agreed; agreement agr-`);
    const request = (await expectStatus(
      await t.admin("GET", `/admin/agreement-requests/${a.id}`),
      200,
    )) as RequestView;
    const agreement = (await expectStatus(
      await t.admin("GET", `/admin/agreements/${request.agreement}`),
      200,
    )) as { status: string };
    expect(agreement.status).toBe("active");

    const noReason = await ops(["requests", "reject", b.id]);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain("--reason");
    const rejected = await ops(["requests", "reject", b.id, "--reason", "not now"]);
    expect(rejected).toMatchObject({ code: 0, out: `${b.id}: rejected\n` });

    const again = await ops(["requests", "approve", b.id]);
    expect(again.code).toBe(1);
    expect(again.err).toContain("invalid_transition");
    expect((await ops(["requests", "list", "--state", "requested"])).out).toBe(
      "no requested agreement requests\n",
    );
    expect((await ops(["requests", "list", "--state", "open"])).code).toBe(2);
    expect((await ops(["requests", "approve"])).code).toBe(2);

    const audit = (await expectStatus(
      await t.admin("GET", "/admin/audit?action=agreement_request.approve"),
      200,
    )) as { items: { actor: string; target: string; reason: string | null }[] };
    expect(audit.items.find((e) => e.target === `agreement_request:${a.id}`)).toMatchObject({
      actor: "operator",
      reason: "checked",
    });
  });
});
