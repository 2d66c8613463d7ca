import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Rule, RuleTargetInput, Schedule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import {
  FilterCriteria,
  FilterRule,
  type IFunction,
  StartingPosition,
} from "aws-cdk-lib/aws-lambda";
import { DynamoEventSource, SqsDlq } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { TICK_SOURCE } from "../../functions/events/tick.ts";

export interface OutboxEventsProps {
  /** The function delivering outbox events to counterparties. */
  readonly handler: IFunction;
  /** The outbox table; it must have a stream. */
  readonly outbox: ITable;
  /**
   * Records per invocation.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * Retries of a failing batch (after bisecting) before it goes to the DLQ.
   * @default 5
   */
  readonly retryAttempts?: number;
  /**
   * Records older than this are not retried any more and go to the DLQ.
   * @default Duration.hours(6)
   */
  readonly maxRecordAge?: Duration;
  /**
   * How often the function also runs without a stream record, to attempt
   * deliveries whose backoff has expired.
   * @default Duration.minutes(1)
   */
  readonly retryInterval?: Duration;
  /**
   * What happens to the failure queue when the stack is deleted.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Runs the events function:
 * - on new outbox items: DynamoDB stream, LATEST, INSERTs only (so TTL expiries
 *   and the function's own status updates never re-trigger it), bisect on
 *   error, bounded retries and record age, partial batch responses, and an
 *   encrypted, TLS-only SQS queue receiving the batches it gave up on;
 * - on a schedule (the retry tick), so that deliveries waiting out their
 *   backoff are attempted even when no new event arrives.
 */
export class OutboxEvents extends Construct {
  readonly deadLetterQueue: Queue;
  readonly retryTick: Rule;

  constructor(scope: Construct, id: string, props: OutboxEventsProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, "FailedBatches", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    props.handler.addEventSource(
      new DynamoEventSource(props.outbox, {
        startingPosition: StartingPosition.LATEST,
        batchSize: props.batchSize ?? 10,
        bisectBatchOnError: true,
        retryAttempts: props.retryAttempts ?? 5,
        maxRecordAge: props.maxRecordAge ?? Duration.hours(6),
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(this.deadLetterQueue),
        filters: [FilterCriteria.filter({ eventName: FilterRule.isEqual("INSERT") })],
      }),
    );

    const interval = props.retryInterval ?? Duration.minutes(1);
    // Ticks are the function's only asynchronous invocations: no Lambda-side
    // retries either, the next tick does the work.
    props.handler.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.seconds(60) });
    this.retryTick = new Rule(this, "RetryTick", {
      description: "Attempts outbox deliveries whose backoff has expired",
      schedule: Schedule.rate(interval),
      targets: [
        new LambdaFunction(props.handler, {
          event: RuleTargetInput.fromObject({ source: TICK_SOURCE }),
          // A tick carries no data: a missed one is replaced by the next.
          retryAttempts: 0,
          maxEventAge: Duration.seconds(60),
        }),
      ],
    });
  }
}
