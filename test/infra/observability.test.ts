/** Observability in the template: X-Ray on every function, Powertools' service and namespace, access logs. */
import { beforeAll, describe, expect, it } from "vitest";
import { FUNCTION_NAMES } from "../../infra/bundling.ts";
import { functionId, resources, type Synthesized, synth } from "./helpers.ts";

let dev: Synthesized;
beforeAll(() => {
  dev = synth({ stage: "dev" });
});

describe("observability", () => {
  it.each(FUNCTION_NAMES)(
    "%s: active X-Ray tracing, Powertools' service name and the stage's metrics namespace",
    (name) => {
      const fn = resources(dev.template)[functionId(dev, name)]?.Properties ?? {};
      expect(fn.TracingConfig).toEqual({ Mode: "Active" });
      expect((fn.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
        POWERTOOLS_SERVICE_NAME: `gateway-${name}`,
        POWERTOOLS_METRICS_NAMESPACE: "DataSharingGateway/dev",
      });
    },
  );

  it("the access log carries the integration (Lambda) request id with the API's own", () => {
    const stage = Object.values(resources(dev.template, "AWS::ApiGatewayV2::Stage"))[0];
    const format = JSON.parse(
      (stage?.Properties?.AccessLogSettings as { Format?: string } | undefined)?.Format ?? "{}",
    ) as Record<string, string>;
    expect(format).toMatchObject({
      requestId: "$context.requestId",
      integrationRequestId: "$context.integration.requestId",
      integrationStatus: "$context.integrationStatus",
    });
  });
});
