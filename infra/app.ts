/**
 * CDK app entry: `npm run synth` (= `tsx infra/app.ts`, writes cdk.out/) or
 * `npx cdk synth|deploy -c stage=prod`. Configuration comes from the context
 * only: `-c stage=dev|prod`, `-c config='{…}'`, given to the CDK CLI or, for
 * `npm run synth -- -c stage=prod`, on this script's own command line.
 */
import { ConfigError } from "./config.ts";
import { createGatewayApp } from "./gateway-app.ts";

function contextFromArgs(args: readonly string[]): Record<string, string> {
  const context: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? "";
    const pair = arg === "-c" || arg === "--context" ? args[++i] : undefined;
    const match = pair?.match(/^([^=]+)=(.*)$/s);
    if (!match?.[1] || match[2] === undefined) {
      throw new ConfigError(`Unexpected argument ${JSON.stringify(arg)}: use -c key=value`);
    }
    context[match[1]] = match[2];
  }
  return context;
}

const started = performance.now();
try {
  const { app } = createGatewayApp({
    context: contextFromArgs(process.argv.slice(2)),
    // The CDK CLI names the output directory; run directly, we write cdk.out/.
    outdir: process.env.CDK_OUTDIR ?? "cdk.out",
  });
  const assembly = app.synth();
  const ms = Math.round(performance.now() - started);
  console.error(
    `Synthesized ${assembly.stacks.map((s) => s.stackName).join(", ")} to ${assembly.directory} in ${ms} ms`,
  );
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(error.message);
  process.exitCode = 1;
}
