import { Duration, RemovalPolicy } from "aws-cdk-lib";
import { AccessLogFormat } from "aws-cdk-lib/aws-apigateway";
import {
  type CfnStage,
  HttpApi,
  HttpMethod,
  HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
} from "aws-cdk-lib/aws-apigatewayv2";
import { HttpLambdaIntegration } from "aws-cdk-lib/aws-apigatewayv2-integrations";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { FunctionName } from "../bundling.ts";

/** HTTP APIs give up on a Lambda integration after 29 s; the functions must answer first. */
export const API_GATEWAY_TIMEOUT = Duration.seconds(29);

/** The functions that run outside any request: no route reaches them. */
export const BACKGROUND_FUNCTIONS = ["events", "transferWorker"] as const;

/** The functions behind the API: every one but the background ones. */
export type ApiFunctionName = Exclude<FunctionName, (typeof BACKGROUND_FUNCTIONS)[number]>;

export interface ApiRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly target: ApiFunctionName;
}

/**
 * Every route of the public contract; anything else hits `$default`: the meta
 * function's problem+json 404, so scanner traffic takes no concurrency from
 * the token, exchange or admin functions.
 */
export const API_ROUTES: readonly ApiRoute[] = [
  { method: HttpMethod.POST, path: "/oauth/token", target: "token" },
  { method: HttpMethod.GET, path: "/.well-known/jwks.json", target: "meta" },
  { method: HttpMethod.GET, path: "/.well-known/oauth-authorization-server", target: "meta" },
  { method: HttpMethod.GET, path: "/health", target: "meta" },
  // ANY: other methods reach the function and get its 405, as locally.
  { method: HttpMethod.ANY, path: "/v1/exchange/{proxy+}", target: "exchange" },
  { method: HttpMethod.GET, path: "/v1/agreements", target: "exchange" },
  { method: HttpMethod.GET, path: "/v1/usage", target: "exchange" },
  { method: HttpMethod.POST, path: "/v1/attestations", target: "exchange" },
  // Large transfers: outside /v1/exchange/ (no dataset subpath), a function of their own.
  { method: HttpMethod.ANY, path: "/v1/transfers", target: "transfers" },
  { method: HttpMethod.ANY, path: "/v1/transfers/{proxy+}", target: "transfers" },
  { method: HttpMethod.ANY, path: "/v1/uploads", target: "transfers" },
  { method: HttpMethod.GET, path: "/v1/catalog", target: "catalog" },
  { method: HttpMethod.ANY, path: "/v1/datasets/{proxy+}", target: "catalog" },
  { method: HttpMethod.ANY, path: "/v1/agreement-requests", target: "catalog" },
  { method: HttpMethod.ANY, path: "/v1/agreement-requests/{proxy+}", target: "catalog" },
  { method: HttpMethod.ANY, path: "/admin/{proxy+}", target: "admin" },
  { method: HttpMethod.GET, path: "/openapi.json", target: "meta" },
  { method: HttpMethod.GET, path: "/docs", target: "meta" },
  { method: HttpMethod.GET, path: "/metrics/{proxy+}", target: "metrics" },
  { method: HttpMethod.POST, path: "/metrics/periods/{proxy+}", target: "metrics" },
  // The console's pages (GET) and forms (POST): served by the admin function.
  { method: HttpMethod.GET, path: "/console", target: "admin" },
  { method: HttpMethod.ANY, path: "/console/{proxy+}", target: "admin" },
];

/** One JSON object per request in the access log. */
export const ACCESS_LOG_FIELDS = {
  requestId: "$context.requestId",
  ip: "$context.identity.sourceIp",
  requestTime: "$context.requestTime",
  method: "$context.httpMethod",
  path: "$context.path",
  route: "$context.routeKey",
  status: "$context.status",
  protocol: "$context.protocol",
  responseLength: "$context.responseLength",
  latency: "$context.responseLatency",
  integrationLatency: "$context.integrationLatency",
  integrationStatus: "$context.integrationStatus",
  integrationError: "$context.integrationErrorMessage",
  /** The Lambda request id of the invocation: find the function's log lines of this request. */
  integrationRequestId: "$context.integration.requestId",
  userAgent: "$context.identity.userAgent",
  /** Set on the mTLS name: the client certificate's subject. */
  clientCertSubject: "$context.identity.clientCert.subjectDN",
} as const;

/** A throttle: steady requests per second and burst. */
export interface Throttle {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface GatewayApiProps {
  readonly functions: Readonly<Record<ApiFunctionName, IFunction>>;
  /** Stage-wide steady-state requests per second. */
  readonly rateLimit: number;
  /** Stage-wide burst. */
  readonly burstLimit: number;
  /**
   * Throttles of their own for some routes, by route key ("POST /oauth/token", "$default").
   * @default - every route uses the stage's
   */
  readonly routeThrottles?: Readonly<Record<string, Throttle>>;
  /**
   * Retention of the access log group.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the access log group when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The public HTTP API (API Gateway v2): the contract's routes to their
 * functions (payload format 2.0), `$default` to the meta function, one
 * auto-deployed `$default` stage with throttling and JSON access logs.
 * No API Gateway authorizer: every function verifies the bearer JWT itself,
 * reading revocation state from the store on each request.
 */
export class GatewayApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: GatewayApiProps) {
    super(scope, id);
    const integrations = Object.fromEntries(
      (Object.keys(props.functions) as ApiFunctionName[]).map((name) => [
        name,
        new HttpLambdaIntegration(`${name}Integration`, props.functions[name], {
          payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
        }),
      ]),
    ) as Record<ApiFunctionName, HttpLambdaIntegration>;

    this.api = new HttpApi(this, "HttpApi", {
      description: "Data-sharing gateway public API",
      createDefaultStage: false,
      defaultIntegration: integrations.meta,
    });
    const routes = API_ROUTES.flatMap((route) =>
      this.api.addRoutes({
        path: route.path,
        methods: [route.method],
        integration: integrations[route.target],
      }),
    );

    this.accessLogs = new LogGroup(this, "AccessLogs", {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stage = new HttpStage(this, "DefaultStage", {
      httpApi: this.api,
      stageName: "$default",
      autoDeploy: true,
      throttle: { rateLimit: props.rateLimit, burstLimit: props.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    const throttles = Object.entries(props.routeThrottles ?? {});
    const known = new Set(["$default", ...API_ROUTES.map((r) => `${r.method} ${r.path}`)]);
    for (const [routeKey] of throttles) {
      if (!known.has(routeKey)) throw new Error(`a throttle for the unknown route ${routeKey}`);
    }
    if (throttles.length > 0) {
      (this.stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
        throttles.map(([routeKey, t]) => [
          routeKey,
          // A JSON property: CloudFormation's own (Pascal case) names.
          { ThrottlingRateLimit: t.rateLimit, ThrottlingBurstLimit: t.burstLimit },
        ]),
      );
      // Route settings name routes that must exist first ($default's too).
      for (const route of routes) this.stage.node.addDependency(route);
      const fallback = this.api.node.tryFindChild("DefaultRoute");
      if (fallback !== undefined) this.stage.node.addDependency(fallback);
    }
  }

  /** The base URL of the API (no trailing slash). */
  get endpoint(): string {
    return this.api.apiEndpoint;
  }
}
