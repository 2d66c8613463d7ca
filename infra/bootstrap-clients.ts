/**
 * `npm run bootstrap -- --stage <stage> --operator <id> --finance <id>`:
 * creates the first operator and finance clients of a fresh deployment with
 * the deployer's AWS credentials. Table names come from the stack's outputs
 * (or `--outputs <file>` written by `cdk deploy --outputs-file`). Only salted
 * hashes are stored; each secret is printed once.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { CloudFormationClient, DescribeStacksCommand } from "@aws-sdk/client-cloudformation";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ephemeralKeys } from "../functions/auth/local-keys.ts";
import { pseudonymKeysFromSecret } from "../functions/auth/pseudonyms.ts";
import { scryptSecrets } from "../functions/auth/secrets.ts";
import { ensureClient, ensureTradeRules } from "../functions/bootstrap.ts";
import { createGateway, DEFAULT_SETTINGS } from "../functions/gateway.ts";
import { createLogger } from "../functions/log.ts";
import { TABLES, type TableName } from "../functions/store/schema.ts";
import { ID_PATTERN } from "../policies/model.ts";

const USAGE =
  "usage: npm run bootstrap -- (--stage <dev|prod> | --outputs <cdk-outputs.json>) --operator <id> --finance <id>";

const outputKey = (table: TableName) =>
  `${table.charAt(0).toUpperCase()}${table.slice(1)}TableName`;

async function stackOutputs(
  stage: string | undefined,
  file: string | undefined,
): Promise<Record<string, string>> {
  if (file !== undefined) {
    const all = JSON.parse(await readFile(file, "utf8")) as Record<string, Record<string, string>>;
    const stack = Object.values(all)[0];
    if (stack === undefined) throw new Error(`${file} holds no stack outputs`);
    return stack;
  }
  const name = `DataSharingGateway-${stage}`;
  const out = await new CloudFormationClient({}).send(
    new DescribeStacksCommand({ StackName: name }),
  );
  const outputs = out.Stacks?.[0]?.Outputs ?? [];
  return Object.fromEntries(outputs.map((o) => [o.OutputKey ?? "", o.OutputValue ?? ""]));
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      stage: { type: "string" },
      outputs: { type: "string" },
      operator: { type: "string" },
      finance: { type: "string" },
    },
  });
  const { operator, finance } = values;
  if ((values.stage === undefined) === (values.outputs === undefined) || !operator || !finance) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  for (const id of [operator, finance]) {
    if (!ID_PATTERN.test(id)) {
      process.stderr.write(`${id} is not a valid client id (^[a-z0-9][a-z0-9-]{1,62}$)\n`);
      return 2;
    }
  }
  const outputs = await stackOutputs(values.stage, values.outputs);
  const tables = Object.fromEntries(TABLES.map((t) => [t, outputs[outputKey(t)] ?? ""])) as Record<
    TableName,
    string
  >;
  const missing = TABLES.filter((t) => tables[t] === "");
  if (missing.length > 0)
    throw new Error(`the stack outputs name no table for ${missing.join(", ")}`);
  const issuer = outputs.Issuer ?? outputs.ApiUrl ?? "";
  const gw = createGateway({
    client: new DynamoDBClient({}),
    tables,
    // Only clients and audit entries are written: no token is signed here.
    keys: await ephemeralKeys(),
    pseudonyms: pseudonymKeysFromSecret(new Uint8Array(32)),
    // Only the functions may use the client-secret key: scrypt hashes here,
    // which the token function replaces by keyed hashes on their first use.
    secrets: scryptSecrets,
    settings: { ...DEFAULT_SETTINGS, issuer, audience: issuer },
    log: createLogger({ level: "warn" }),
  });
  await ensureTradeRules(gw);
  const results = [
    await ensureClient(gw, operator, "admin", undefined, "bootstrap"),
    await ensureClient(gw, finance, "metrics:read", undefined, "bootstrap"),
  ];
  for (const [r, role] of [
    [results[0], "operator (admin)"],
    [results[1], "finance (metrics:read)"],
  ] as const) {
    process.stdout.write(
      `${role}: ${r?.clientId} / ${r?.clientSecret}${r?.created ? "" : "   (existing client: secret rotated)"}\n`,
    );
  }
  process.stdout.write(
    `token endpoint: ${issuer}/oauth/token — store the secrets now; they cannot be shown again.\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bootstrap failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(3);
  },
);
