/**
 * The SDK as a package: its API types are those the gateway's own OpenAPI
 * document generates today (regenerate with `npm run sdk:types`), and it
 * builds to JavaScript that plain Node imports from a checkout.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { GENERATED_FILE, generatedTypes } from "../../sdk/scripts/generate-types.ts";

const run = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));

describe("the SDK package", () => {
  it("commits the types the OpenAPI document generates now (npm run sdk:types)", async () => {
    const committed = await readFile(GENERATED_FILE, "utf8");
    const fresh = await generatedTypes();
    expect(
      committed === fresh,
      "sdk/src/generated/gateway-api.ts is stale: run `npm run sdk:types` and commit it",
    ).toBe(true);
    // The self-service routes are in them.
    for (const path of [
      "/v1/catalog",
      "/v1/agreement-requests/{id}/approve",
      "/v1/exchange/{agreementId}",
    ])
      expect(fresh).toContain(`"${path}": {`);
  });

  it("shows in its README quick starts of under 15 lines that are the type-checked examples", async () => {
    const readme = await readFile(`${root}sdk/README.md`, "utf8");
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    for (const name of ["consumer", "provider"]) {
      const example = await readFile(`${root}sdk/examples/${name}.ts`, "utf8");
      expect(blocks, name).toContain(example);
      expect(example.trimEnd().split("\n").length, name).toBeLessThan(15);
    }
  });

  it("builds with tsc, and the build imports in plain Node with every export", async () => {
    await run(
      process.execPath,
      [`${root}node_modules/typescript/bin/tsc`, "-p", "sdk/tsconfig.build.json"],
      {
        cwd: root,
      },
    );
    const { stdout } = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const m = await import(${JSON.stringify(`${root}sdk/dist/index.js`)});
         console.log(JSON.stringify(Object.keys(m).sort()));`,
      ],
      { cwd: root },
    );
    expect(JSON.parse(stdout)).toEqual(
      [
        "DEFAULT_RETRY",
        "GATEWAY_EVENT_TYPE",
        "GATEWAY_REQUEST_TYPE",
        "GatewayClient",
        "dpopAlgorithm",
        "GatewayProblem",
        "GatewayUnreachable",
        "GatewayVerificationError",
        "gatewayKeys",
        "verifyGatewayEvent",
        "verifyGatewayRequest",
      ].sort(),
    );
  }, 60_000);
});
