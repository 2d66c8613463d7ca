import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../infra/bundling.ts";
import { ConfigError, resolveConfig, STAGE_CONFIGS } from "../../infra/config.ts";
import { cdkJsonContext, createGatewayApp } from "../../infra/gateway-app.ts";

describe("stage configuration", () => {
  it("defaults to dev", () => {
    expect(resolveConfig({})).toEqual(STAGE_CONFIGS.dev);
    expect(resolveConfig({ stage: "prod" })).toEqual(STAGE_CONFIGS.prod);
  });

  it("both stage configs are valid", () => {
    expect(resolveConfig({ stage: "dev" }).stage).toBe("dev");
    expect(resolveConfig({ stage: "prod" }).logRetentionDays).toBe(365);
  });

  it("merges overrides from -c config='{…}' (JSON string or object)", () => {
    const fromString = resolveConfig({
      stage: "dev",
      config: '{"issuer":"https://gw.example.com","throttling":{"rateLimit":100}}',
    });
    expect(fromString.issuer).toBe("https://gw.example.com");
    expect(fromString.throttling).toEqual({ ...STAGE_CONFIGS.dev.throttling, rateLimit: 100 });
    const fromObject = resolveConfig({ stage: "dev", config: { tokenTtlSeconds: 600 } });
    expect(fromObject.tokenTtlSeconds).toBe(600);
  });

  it.each([
    [{ stage: "qa" }, /Invalid context "stage": expected one of dev, prod, got "qa"/],
    [{ stage: 1 }, /Invalid context "stage"/],
    [{ config: "{nope" }, /Invalid context "config": not JSON/],
    [{ config: "[1]" }, /Invalid context "config": expected a JSON object/],
    [{ config: { stage: "prod" } }, /select the stage with -c stage=/],
    [
      { config: { issuer: "http://gw.example.com" } },
      /issuer must be an https URL[\s\S]*at issuer/,
    ],
    [{ config: { issuer: "https://gw.example.com/" } }, /must not end with a slash/],
    [{ config: { logRetentionDays: 15 } }, /CloudWatch retention value[\s\S]*at logRetentionDays/],
    [{ config: { throttling: { rateLimit: -1 } } }, /at throttling\.rateLimit/],
    [{ config: { throttling: { burstLimit: 10 } } }, /burstLimit must be >= rateLimit/],
    [{ config: { tokenTtlSeconds: 10 } }, /at tokenTtlSeconds/],
    [{ config: { reservedConcurrency: { exchange: 0 } } }, /at reservedConcurrency\.exchange/],
    [{ config: { reservedConcurrency: { scanner: 1 } } }, /scanner/],
    [{ config: { alarms: { exchangeP99LatencyMs: 30_000 } } }, /at alarms\.exchangeP99LatencyMs/],
    [{ config: { unknownKey: true } }, /unknownKey/],
    [
      {
        config: {
          throttling: {
            rateLimit: 500,
            burstLimit: 1000,
            routes: {
              ...STAGE_CONFIGS.dev.throttling.routes,
              "POST /oauth/token": { rateLimit: 200, burstLimit: 400 },
            },
          },
        },
      },
      /POST \/oauth\/token'\]\.rateLimit must stay within half of kmsSignsPerSecond/,
    ],
    [
      { stage: "prod", config: { frontDoor: undefined } },
      /prod needs a frontDoor: the issuer must be the gateway's own domain/,
    ],
    [
      { stage: "prod", config: { issuer: "https://other.example.com" } },
      /with a frontDoor the issuer is https:\/\/<frontDoor\.domainName>/,
    ],
    [
      { stage: "prod", config: { reservedConcurrency: { admin: undefined } } },
      /prod reserves concurrency for token and admin/,
    ],
    [
      {
        stage: "prod",
        config: {
          frontDoor: { ...STAGE_CONFIGS.prod.frontDoor, domainName: "gateway.elsewhere.org" },
        },
      },
      /frontDoor\.domainName must be in frontDoor\.zoneName/,
    ],
    [
      { config: { alarmSubscriptions: [{ protocol: "email", endpoint: "not-an-address" }] } },
      /the endpoint does not suit its protocol/,
    ],
    [
      { config: { frontDoor: STAGE_CONFIGS.prod.frontDoor } },
      /a frontDoor needs account and region/,
    ],
  ])("rejects %j with a clear message", (context, message) => {
    expect(() => resolveConfig(context)).toThrow(ConfigError);
    expect(() => resolveConfig(context)).toThrow(message);
  });

  it("invalid context fails the app before any resource is built", () => {
    expect(() => createGatewayApp({ context: { stage: "staging" } })).toThrow(ConfigError);
  });

  it("npm run synth with invalid context exits 1 with the message, before synthesising", () => {
    const run = spawnSync("npx", ["tsx", "infra/app.ts", "-c", "stage=qa"], {
      cwd: PROJECT_ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('Invalid context "stage": expected one of dev, prod, got "qa"');
  });
});

describe("cdk.json", () => {
  it("runs the app with tsx and enables every recommended feature flag of aws-cdk-lib", () => {
    const require = createRequire(import.meta.url);
    const cdkJson = require("../../cdk.json") as { app: string };
    expect(cdkJson.app).toBe("npx tsx infra/app.ts");
    const recommended = require("aws-cdk-lib/recommended-feature-flags.json") as Record<
      string,
      unknown
    >;
    expect(cdkJsonContext()).toMatchObject(recommended);
  });
});
