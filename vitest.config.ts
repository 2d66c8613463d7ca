import { defineConfig } from "vitest/config";

/**
 * Two projects. `unit` (test/unit/**): pure code, nothing running, seconds:
 * `npx vitest run --project unit`; a test there that reached for DynamoDB
 * Local would find no endpoint. `integration` (every other test): DynamoDB
 * Local (Java) and an S3-compatible server (s3rver) started once per run by
 * its global setup, real servers on loopback, and the CDK synthesis and
 * bundling tests (no store, but tens of seconds). `npm test` runs both.
 */
export default defineConfig({
  test: {
    environment: "node",
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: files in parallel share DynamoDB Local, each in its own tables.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          // Pure code and no shared state to reset: each worker imports the
          // modules once for all its files (about a third less CPU).
          isolate: false,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: ["test/unit/**"],
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
