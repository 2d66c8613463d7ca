import { RemovalPolicy } from "aws-cdk-lib";
import {
  AttributeType,
  BillingMode,
  type CfnTable,
  StreamViewType,
  Table,
  TableEncryption,
} from "aws-cdk-lib/aws-dynamodb";
import { Construct } from "constructs";
import { TABLE_SPECS, TABLES, type TableName } from "../../functions/store/schema.ts";

/**
 * Pinned CloudFormation logical ids. Changing one replaces the table (and
 * orphans the retained old one), so test/infra asserts them verbatim.
 */
export const TABLE_LOGICAL_IDS: Readonly<Record<TableName, string>> = {
  registry: "RegistryTable",
  credentials: "CredentialsTable",
  meter: "MeterTable",
  audit: "AuditTable",
  outbox: "OutboxTable",
};

export interface TablesProps {
  /**
   * Whether CloudFormation refuses to delete the tables.
   * @default true
   */
  readonly deletionProtection?: boolean;
}

/**
 * The gateway's DynamoDB tables, declared from `TABLE_SPECS` (the same spec the
 * store code and the local server use): on-demand, point-in-time recovery,
 * deletion protection, AWS-managed KMS encryption, retained on stack deletion,
 * CloudFormation-generated names (functions get them through environment
 * variables named by `TABLE_ENV`).
 */
export class Tables extends Construct {
  readonly byName: Readonly<Record<TableName, Table>>;

  constructor(scope: Construct, id: string, props: TablesProps = {}) {
    super(scope, id);
    const byName: Partial<Record<TableName, Table>> = {};
    for (const name of TABLES) {
      byName[name] = this.createTable(name, props.deletionProtection ?? true);
    }
    this.byName = byName as Record<TableName, Table>;
  }

  /** The ARNs of a table's global secondary indexes. */
  indexArns(name: TableName): string[] {
    const table = this.byName[name];
    return TABLE_SPECS[name].indexes.map((index) => `${table.tableArn}/index/${index.name}`);
  }

  private createTable(name: TableName, deletionProtection: boolean): Table {
    const spec = TABLE_SPECS[name];
    const table = new Table(this, TABLE_LOGICAL_IDS[name], {
      partitionKey: { name: spec.partitionKey, type: AttributeType.STRING },
      sortKey: { name: spec.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection,
      encryption: TableEncryption.AWS_MANAGED,
      ...(spec.ttlAttribute ? { timeToLiveAttribute: spec.ttlAttribute } : {}),
      ...(spec.stream ? { stream: StreamViewType.NEW_IMAGE } : {}),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const index of spec.indexes) {
      table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
      });
    }
    (table.node.defaultChild as CfnTable).overrideLogicalId(TABLE_LOGICAL_IDS[name]);
    return table;
  }
}
