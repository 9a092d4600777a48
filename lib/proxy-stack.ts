/**
 * The deployed proxy: one streaming Lambda behind a public Function URL (the proxy checks its own
 * API keys), the Codex login and the client keys in Secrets Manager, least-privilege IAM.
 */
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, Validations, type StackProps } from "aws-cdk-lib";
import { Alarm, AlarmStatusWidget, ComparisonOperator, Dashboard, GraphWidget, MathExpression, Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, FunctionUrlAuthType, InvokeMode, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { FilterPattern, LogGroup, MetricFilter, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Topic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { fileURLToPath } from "node:url";
import { METRICS_NAMESPACE } from "../lambda/observe/namespace.js";
import { SUMMARY } from "../lambda/version.js";
import { ConfigError, LOGIN_NAME, readCoreConfig } from "../lambda/config.js";
import { builtinShimArgs } from "./builtin-shims.js";

export interface ProxyStackProps extends StackProps {
  /**
   * The function's settings by variable (lambda/settings.ts: ALLOWED_MODELS, CODEX_CLIENT_VERSION,
   * UPSTREAM_PROXY_URL, ANTHROPIC_MODEL_MAP, CORS_ORIGINS, …), checked here as the function checks them
   */
  settings?: Record<string, string>;
  /** MB; default 256 (the function mostly waits on the network) */
  memorySize?: number;
  /** caps concurrent executions (and so cost); default: no cap */
  reservedConcurrency?: number;
  logRetention?: RetentionDays;
  /** how often the login is refreshed by rotation; Secrets Manager allows 4 hours to 1000 days */
  rotationHours?: number;
  /** the usage alarm fires when the plan's primary (5-hour) window passes this percentage; default 90 */
  usageAlarmPercent?: number;
  /**
   * More ChatGPT logins beside the default one (context `logins=alice,bob`): each gets a secret of
   * its own (`<stack>-login-<name>`), with the rotation, permissions and alarms the default has.
   * Adding or removing a name touches only that login's resources.
   */
  logins?: readonly string[];
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export class ProxyStack extends Stack {
  readonly fn: NodejsFunction;
  readonly rotationFn: NodejsFunction;
  readonly tokensSecret: Secret;
  readonly apiKeysSecret: Secret;
  /** the named logins' secrets (the default login's is tokensSecret) */
  readonly loginSecrets = new Map<string, Secret>();

  constructor(scope: Construct, id: string, props: ProxyStackProps = {}) {
    super(scope, id, props);

    this.tokensSecret = new Secret(this, "CodexTokens", {
      description: "The Codex CLI auth.json the proxy uses (upload with `npm run tokens:upload`).",
      // A placeholder until the first upload; the proxy answers 503 with instructions meanwhile.
      secretStringValue: SecretValue.unsafePlainText('{"placeholder":"run npm run tokens:upload"}'),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.apiKeysSecret = new Secret(this, "ApiKeys", {
      description: 'Client API keys of the proxy: {"keys": ["..."]} (several may be valid at once).',
      generateSecretString: { secretStringTemplate: "{}", generateStringKey: "key", excludePunctuation: true, passwordLength: 48 },
    });

    for (const name of props.logins ?? []) {
      if (!LOGIN_NAME.test(name) || name === "default") throw new Error(`logins: '${name}' is no login name (letters, digits, - and _, at most 32, not 'default')`);
      if (this.loginSecrets.has(name)) throw new Error(`logins: '${name}' is named twice`);
      this.loginSecrets.set(
        name,
        new Secret(this, `CodexLogin-${name}`, {
          secretName: `${this.stackName}-login-${name}`,
          description: `The Codex CLI auth.json of the proxy's login '${name}' (upload with \`npm run tokens:upload -- --login ${name}\`).`,
          secretStringValue: SecretValue.unsafePlainText('{"placeholder":"run npm run tokens:upload"}'),
          removalPolicy: RemovalPolicy.RETAIN,
        }),
      );
    }
    const loginSecrets = [this.tokensSecret, ...this.loginSecrets.values()];

    const environment: Record<string, string> = {
      CODEX_SECRET_ID: this.tokensSecret.secretArn,
      ...(this.loginSecrets.size > 0 ? { CODEX_LOGINS: [...this.loginSecrets].map(([name, secret]) => `${name}=${secret.secretArn}`).join(",") } : {}),
      API_KEYS_SECRET_ID: this.apiKeysSecret.secretArn,
      NODE_OPTIONS: "--enable-source-maps",
      LOG_LEVEL: "info",
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_SERVICE_NAME: this.stackName,
    };
    const settings = props.settings ?? {};
    try {
      readCoreConfig(settings); // a bad value stops the synth with the message the function would log
    } catch (err) {
      if (err instanceof ConfigError) throw new Error(`${err.message} (set with cdk -c)`);
      throw err;
    }
    Object.assign(environment, settings);
    const upstreamProxyUrl = settings.UPSTREAM_PROXY_URL;

    this.fn = this.bundledFunction("Proxy", {
      entry: "lambda/handler.ts",
      description: `codex-openai-proxy: ${SUMMARY}`,
      memorySize: props.memorySize ?? 256,
      timeout: Duration.minutes(15),
      environment,
      retention: props.logRetention,
      ...(props.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrency }),
    });
    this.rotationFn = this.bundledFunction("Rotation", {
      entry: "lambda/rotation.ts",
      description: "Refreshes the Codex login in the tokens secret (Secrets Manager rotation)",
      memorySize: 256,
      timeout: Duration.minutes(2),
      environment: { NODE_OPTIONS: "--enable-source-maps", LOG_LEVEL: "info", ...(upstreamProxyUrl ? { UPSTREAM_PROXY_URL: upstreamProxyUrl } : {}) },
      retention: props.logRetention,
    });

    const hours = props.rotationHours ?? 24;
    if (!Number.isInteger(hours) || hours < 4 || hours > 24_000) throw new Error(`rotationHours must be a whole number from 4 to 24000 (Secrets Manager's limits); got ${hours}`);
    for (const [i, secret] of loginSecrets.entries()) {
      secret.addRotationSchedule(i === 0 ? "Rotation" : "LoginRotation", {
        rotationLambda: this.rotationFn,
        automaticallyAfter: Duration.hours(hours),
        rotateImmediatelyOnUpdate: false,
      });
    }
    const arns = loginSecrets.map((secret) => secret.secretArn);
    // The rotation function marks a login refused for good (lambda/auth/login-marks.ts).
    this.rotationFn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["secretsmanager:TagResource"], resources: arns }));
    // The proxy may only ask for a rotation; it never writes a login (reading one includes its description: grantRead below).
    this.fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["secretsmanager:RotateSecret"], resources: arns }));
    // RotateSecret runs the rotation function with the caller's rights: exactly this function, no versions.
    this.fn.addToRolePolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["lambda:InvokeFunction"], resources: [this.rotationFn.functionArn] }));

    const alarmTopic = new Topic(this, "RotationAlarmTopic", { displayName: "codex-openai-proxy alarms", enforceSSL: true });
    const alarm = new Alarm(this, "RotationFailures", {
      alarmDescription: "The Codex login could not be refreshed. Check the rotation function's logs; for a permanent failure renew the login (README: Tokens that stay valid).",
      metric: this.rotationFn.metricErrors({ period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(alarmTopic));
    const named = this.loginSecrets.size > 0 ? [["default", this.tokensSecret] as const, ...this.loginSecrets] : [];
    const alarms = [
      alarm,
      ...this.requestAlarms(props.usageAlarmPercent ?? 90),
      ...[...this.loginSecrets.keys()].map((name) => this.loginUsageAlarm(name, props.usageAlarmPercent ?? 90)),
      ...named.map(([name, secret]) => this.deadLoginAlarm(name, secret)),
    ];
    for (const a of alarms.slice(1)) a.addAlarmAction(new SnsAction(alarmTopic));
    const dashboard = this.dashboard(alarms);

    for (const secret of loginSecrets) secret.grantRead(this.fn);
    this.apiKeysSecret.grantRead(this.fn);

    const url = this.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.RESPONSE_STREAM });

    Validations.of(this.apiKeysSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason: 'Client API keys are rotated by the owner, without downtime, by adding a key to the {"keys": [...]} list and removing the old one later.',
    });
    Validations.of(this.rotationFn.role as Role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason: "CDK's rotation schedule grants secretsmanager:GetRandomPassword, which has no resource scope; every secret permission is scoped to the tokens secret.",
    });
    Validations.of(alarmTopic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason: "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the alarm carries no secret.",
    });

    const region = Stack.of(this).region;
    new CfnOutput(this, "BaseUrl", { value: `${url.url}v1`, description: "Base URL for clients (CLINE: OpenAI Compatible, Base URL)" });
    new CfnOutput(this, "TokensSecretName", { value: this.tokensSecret.secretName });
    new CfnOutput(this, "ApiKeysSecretName", { value: this.apiKeysSecret.secretName });
    new CfnOutput(this, "UploadTokensCommand", {
      value: `npm run tokens:upload -- --secret-id ${this.tokensSecret.secretName} --region ${region}`,
      description: "Uploads ~/.codex-proxy/auth.json (or --auth-path) as the proxy's Codex login",
    });
    for (const name of this.loginSecrets.keys()) {
      new CfnOutput(this, `UploadLoginCommand${name.replace(/[^A-Za-z0-9]/g, "")}`, {
        value: `npm run tokens:upload -- --login ${name} --stack ${this.stackName} --region ${region}`,
        description: `Uploads a Codex login as the proxy's login '${name}'`,
      });
    }
    new CfnOutput(this, "GetApiKeyCommand", {
      value: `aws secretsmanager get-secret-value --secret-id ${this.apiKeysSecret.secretName} --region ${region} --query SecretString --output text`,
      description: "Prints the proxy's client API key(s)",
    });
    new CfnOutput(this, "RotationAlarmTopicArn", { value: alarmTopic.topicArn, description: "Alarms: failed login refreshes, 5xx rate, throttles, usage limit" });
    new CfnOutput(this, "AlarmNames", { value: alarms.map((a) => a.alarmName).join(","), description: "The stack's CloudWatch alarms" });
    new CfnOutput(this, "DashboardUrl", {
      value: `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${dashboard.dashboardName}`,
      description: "Requests, errors, latency, tokens and the plan's usage windows",
    });
    new CfnOutput(this, "SubscribeToAlarmCommand", {
      value: `aws sns subscribe --topic-arn ${alarmTopic.topicArn} --protocol email --notification-endpoint you@example.com --region ${region}`,
      description: "Sends the rotation-failure alarm to your email",
    });
  }

  /** A per-request metric the proxy writes as EMF, summed over every dialect and model. */
  private requestMetric(name: string, statistic = "Sum"): Metric {
    return new Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { service: this.stackName }, period: Duration.minutes(5), statistic });
  }

  private requestAlarms(usagePercent: number): Alarm[] {
    if (!(usagePercent > 0 && usagePercent <= 100)) throw new Error(`usageAlarmPercent must be a percentage from 1 to 100; got ${usagePercent}`);
    const errorRate = new MathExpression({
      expression: "IF(requests > 0, 100 * errors / requests, 0)",
      usingMetrics: { errors: this.requestMetric("ServerErrors"), requests: this.requestMetric("Requests") },
      period: Duration.minutes(5),
      label: "5xx %",
    });
    return [
      new Alarm(this, "ServerErrorRate", {
        alarmDescription: "More than 10% of requests failed with a 5xx (status or in-band) in two of three 5-minute periods. The function's log lines with level error say why.",
        metric: errorRate,
        threshold: 10,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, "Throttles", {
        alarmDescription: "Lambda throttled requests: raise the reserved concurrency (context reservedConcurrency) or the account's concurrency limit.",
        metric: this.fn.metricThrottles({ period: Duration.minutes(5), statistic: "Sum" }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      new Alarm(this, "UsageLimit", {
        alarmDescription: `The ChatGPT plan's primary (5-hour) usage window is past ${usagePercent}%; requests will soon get 429 usage_limit_reached.`,
        metric: this.requestMetric("PrimaryUsedPercent", "Maximum"),
        threshold: usagePercent,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
    ];
  }

  /**
   * With several logins, one alarm per login that names it when its refresh is refused for good: a
   * metric from the rotation function's own log line (`rotation_failed`, permanent, its secret).
   */
  private deadLoginAlarm(name: string, secret: Secret): Alarm {
    const metricName = `DeadLogin-${name}`;
    new MetricFilter(this, `DeadLoginFilter-${name}`, {
      logGroup: this.rotationFn.logGroup,
      metricNamespace: METRICS_NAMESPACE,
      metricName,
      metricValue: "1",
      filterPattern: FilterPattern.all(
        FilterPattern.stringValue("$.event", "=", "rotation_failed"),
        FilterPattern.booleanValue("$.permanent", true),
        FilterPattern.stringValue("$.secret_id", "=", secret.secretArn),
      ),
    });
    return new Alarm(this, `DeadLogin-${name}`, {
      alarmDescription: `The login '${name}' can no longer be refreshed: log in again and upload it (npm run tokens:upload${name === "default" ? "" : ` -- --login ${name}`}). The other logins go on.`,
      metric: new Metric({ namespace: METRICS_NAMESPACE, metricName, period: Duration.minutes(5), statistic: "Sum" }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  /** A named login's usage alarm: its primary window, from the metrics the proxy writes by login. */
  private loginUsageAlarm(name: string, usagePercent: number): Alarm {
    return new Alarm(this, `UsageLimit-${name}`, {
      alarmDescription: `The primary (5-hour) usage window of the login '${name}' is past ${usagePercent}%; its conversations will soon move to the other logins.`,
      metric: new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: "PrimaryUsedPercent",
        dimensionsMap: { service: this.stackName, login: name },
        period: Duration.minutes(5),
        statistic: "Maximum",
      }),
      threshold: usagePercent,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  private dashboard(alarms: Alarm[]): Dashboard {
    const dashboard = new Dashboard(this, "Dashboard", { dashboardName: `${this.stackName}-proxy` });
    dashboard.addWidgets(
      new GraphWidget({ title: "Requests and 5xx", left: [this.requestMetric("Requests"), this.requestMetric("ServerErrors"), this.requestMetric("ClientErrors")], width: 8 }),
      new GraphWidget({
        title: "Time to first byte and duration (ms)",
        left: [
          this.requestMetric("TimeToFirstByte", "p50"),
          this.requestMetric("TimeToFirstByte", "p90"),
          this.requestMetric("Duration", "p50"),
          this.requestMetric("Duration", "p90"),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: "Tokens",
        left: ["InputTokens", "OutputTokens", "CachedTokens", "ReasoningTokens"].map((name) => this.requestMetric(name)),
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new GraphWidget({
        title: "Plan usage windows (%)",
        left: [this.requestMetric("PrimaryUsedPercent", "Maximum"), this.requestMetric("SecondaryUsedPercent", "Maximum")],
        width: 8,
      }),
      new GraphWidget({
        title: "Lambda",
        left: [this.fn.metricInvocations(), this.fn.metricThrottles(), this.fn.metricErrors()],
        right: [this.fn.metric("ConcurrentExecutions", { statistic: "Maximum" })],
        width: 8,
      }),
      new AlarmStatusWidget({ title: "Alarms", alarms, width: 8 }),
    );
    return dashboard;
  }

  /** An ESM, minified, source-mapped Node 24 arm64 function bundled by the local esbuild, with its own log group and role. */
  private bundledFunction(
    id: string,
    props: {
      entry: string;
      description: string;
      memorySize: number;
      timeout: Duration;
      environment: Record<string, string>;
      retention: RetentionDays | undefined;
      reservedConcurrentExecutions?: number;
    },
  ): NodejsFunction {
    const logGroup = new LogGroup(this, `${id}Logs`, { retention: props.retention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, `${id}Role`, { assumedBy: new ServicePrincipal("lambda.amazonaws.com"), description: `codex-openai-proxy ${id}` });
    role.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [logGroup.logGroupArn] }));
    return new NodejsFunction(this, id, {
      entry: `${ROOT}${props.entry}`,
      handler: "handler",
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      role,
      logGroup,
      environment: props.environment,
      description: props.description,
      ...(props.reservedConcurrentExecutions === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrentExecutions }),
      bundling: {
        format: OutputFormat.ESM,
        target: "node22",
        minify: true,
        sourceMap: true,
        externalModules: [],
        forceDockerBundling: false,
        mainFields: ["module", "main"],
        // CommonJS dependencies call require(); give the ESM bundle one.
        banner: "import { createRequire as __cjsRequire } from 'node:module'; const require = __cjsRequire(import.meta.url);",
        esbuildArgs: {
          ...builtinShimArgs(`${ROOT}node_modules/.cache/codex-openai-proxy/builtins`),
          // Lambda's credentials are in the environment: the SDK's default chain stays out (lambda/aws/env-credentials.ts).
          "--alias:@aws-sdk/credential-provider-node": `${ROOT}lambda/aws/env-credentials.ts`,
        },
      },
    });
  }
}
