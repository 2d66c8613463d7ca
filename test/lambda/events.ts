/** API Gateway HTTP API (payload format 2.0) events, as the service sends them. */
import { randomUUID } from "node:crypto";

export function httpApiEvent(
  method: string,
  target: string,
  options: {
    headers?: Record<string, string>;
    body?: string;
    routeKey?: string;
    /** The name the request came in on (default: the execute-api name). */
    domainName?: string;
    /** A client certificate API Gateway verified (mTLS names only). */
    clientCert?: { subjectDN: string; issuerDN: string; serialNumber: string };
  } = {},
) {
  const q = target.indexOf("?");
  const rawPath = q < 0 ? target : target.slice(0, q);
  const rawQueryString = q < 0 ? "" : target.slice(q + 1);
  const headers = Object.fromEntries(
    Object.entries(options.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const requestId = randomUUID();
  const domainName = options.domainName ?? "abc123.execute-api.eu-north-1.amazonaws.com";
  return {
    version: "2.0",
    routeKey: options.routeKey ?? "$default",
    rawPath,
    rawQueryString,
    cookies: undefined,
    headers: {
      host: domainName,
      "user-agent": "test",
      ...headers,
    },
    queryStringParameters:
      rawQueryString === ""
        ? undefined
        : Object.fromEntries(new URLSearchParams(rawQueryString).entries()),
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName,
      domainPrefix: domainName.split(".")[0],
      ...(options.clientCert === undefined
        ? {}
        : {
            authentication: {
              clientCert: {
                clientCertPem: "-----BEGIN CERTIFICATE-----\n...",
                ...options.clientCert,
                validity: {
                  notBefore: "Jan 1 00:00:00 2026 GMT",
                  notAfter: "Jan 1 00:00:00 2027 GMT",
                },
              },
            },
          }),
      http: {
        method,
        path: rawPath,
        protocol: "HTTP/1.1",
        sourceIp: "203.0.113.10",
        userAgent: "test",
      },
      requestId,
      routeKey: options.routeKey ?? "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: options.body,
    isBase64Encoded: false,
  };
}

export const lambdaContext = {
  callbackWaitsForEmptyEventLoop: false,
  functionName: "test",
  functionVersion: "$LATEST",
  invokedFunctionArn: "arn:aws:lambda:eu-north-1:123456789012:function:test",
  memoryLimitInMB: "512",
  awsRequestId: "req",
  logGroupName: "/aws/lambda/test",
  logStreamName: "stream",
  getRemainingTimeInMillis: () => 10_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};
