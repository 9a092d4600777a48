/** The synthesized CloudFormation template: what a deploy creates, and that cdk-nag passes. */
import { Template, Match } from "aws-cdk-lib/assertions";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildApp } from "../lib/app.js";

let outdir: string;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-"));
  const { app, stack } = buildApp({ outdir, context: { allowedModels: "gpt-5.5,gpt-5.4", reservedConcurrency: "5", usageAlarmPercent: "85" } });
  app.synth(); // runs the cdk-nag AwsSolutions checks: any unacknowledged finding throws
  template = Template.fromStack(stack);
}, 120_000); // bundling two functions and the nag checks: slow on a loaded 2-core machine
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("ProxyStack", () => {
  it("exposes a public streaming Function URL with both invoke permissions", () => {
    template.hasResourceProperties("AWS::Lambda::Url", { AuthType: "NONE", InvokeMode: "RESPONSE_STREAM" });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: "NONE" });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunction", Principal: "*", InvokedViaFunctionUrl: true });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunction", Principal: "secretsmanager.amazonaws.com" });
    template.resourceCountIs("AWS::Lambda::Permission", 3);
  });

  it("runs the ESM bundle on Node 24, arm64, 256 MB, 15 minutes, with its environment", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
      Description: Match.stringLikeRegexp("^codex-openai-proxy: OpenAI Chat Completions, OpenAI Responses and Anthropic Messages endpoints"),
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      MemorySize: 256,
      Timeout: 900,
      Handler: "index.handler",
      ReservedConcurrentExecutions: 5,
      Environment: {
        Variables: {
          CODEX_SECRET_ID: { Ref: Match.stringLikeRegexp("^CodexTokens") },
          API_KEYS_SECRET_ID: { Ref: Match.stringLikeRegexp("^ApiKeys") },
          NODE_OPTIONS: "--enable-source-maps",
          ALLOWED_MODELS: "gpt-5.5,gpt-5.4",
          LOG_LEVEL: "info",
          POWERTOOLS_METRICS_NAMESPACE: "CodexOpenAIProxy",
          POWERTOOLS_SERVICE_NAME: "CodexOpenAIProxy",
        },
      },
    });
  });

  it("keeps the tokens secret on stack deletion and generates one strong client key", () => {
    const secrets = template.findResources("AWS::SecretsManager::Secret");
    const tokens = Object.entries(secrets).find(([id]) => id.startsWith("CodexTokens"))?.[1];
    const keys = Object.entries(secrets).find(([id]) => id.startsWith("ApiKeys"))?.[1];
    expect(tokens?.DeletionPolicy).toBe("Retain");
    expect(keys?.Properties.GenerateSecretString).toEqual({ SecretStringTemplate: "{}", GenerateStringKey: "key", ExcludePunctuation: true, PasswordLength: 48 });
  });

  it("gives each function exactly the permissions it needs, nothing broader", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statementsOf = (prefix: string) =>
      Object.entries(policies)
        .filter(([id]) => id.startsWith(prefix))
        .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement);
    const ref = (prefix: string) => ({ Ref: expect.stringMatching(new RegExp(`^${prefix}`)) });
    const arn = (prefix: string) => ({ "Fn::GetAtt": [expect.stringMatching(new RegExp(`^${prefix}`)), "Arn"] });
    // the proxy reads both secrets and may only *ask* for a rotation; it never writes a secret
    expect(statementsOf("ProxyRole")).toEqual([
      { Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Effect: "Allow", Resource: arn("ProxyLogs") },
      { Action: "secretsmanager:RotateSecret", Effect: "Allow", Resource: ref("CodexTokens") },
      { Action: "lambda:InvokeFunction", Effect: "Allow", Resource: arn("Rotation") },
      { Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Effect: "Allow", Resource: ref("CodexTokens") },
      { Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Effect: "Allow", Resource: ref("ApiKeys") },
    ]);
    // only the rotation function writes the tokens secret
    expect(statementsOf("RotationRole")).toEqual([
      { Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Effect: "Allow", Resource: arn("RotationLogs") },
      {
        Action: ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
        Effect: "Allow",
        Resource: ref("CodexTokens"),
      },
      { Action: "secretsmanager:GetRandomPassword", Effect: "Allow", Resource: "*" },
      { Action: "secretsmanager:TagResource", Effect: "Allow", Resource: ref("CodexTokens") },
    ]);
    expect(Object.keys(policies).every((id) => id.startsWith("ProxyRole") || id.startsWith("RotationRole"))).toBe(true);
    template.resourceCountIs("AWS::IAM::ManagedPolicy", 0);
    for (const role of Object.values(template.findResources("AWS::IAM::Role"))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("rotates the login daily with the rotation function, and alarms on failures", () => {
    template.hasResourceProperties("AWS::SecretsManager::RotationSchedule", {
      SecretId: { Ref: Match.stringLikeRegexp("^CodexTokens") },
      RotationLambdaARN: { "Fn::GetAtt": [Match.stringLikeRegexp("^Rotation"), "Arn"] },
      RotationRules: { ScheduleExpression: "rate(1 day)" },
      RotateImmediatelyOnUpdate: false,
    });
    template.hasResourceProperties("AWS::Lambda::Function", { Description: Match.stringLikeRegexp("^Refreshes the Codex login"), Runtime: "nodejs24.x", Architectures: ["arm64"] });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "Errors",
      Namespace: "AWS/Lambda",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: Match.stringLikeRegexp("^RotationAlarmTopic") }],
    });
  });

  it("alarms on the 5xx rate, on throttles and on the plan's usage window, all to the alarm topic", () => {
    const topic = [{ Ref: Match.stringLikeRegexp("^RotationAlarmTopic") }];
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      AlarmDescription: Match.stringLikeRegexp("5xx"),
      Threshold: 10,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      Metrics: Match.arrayWith([
        Match.objectLike({ Expression: "IF(requests > 0, 100 * errors / requests, 0)" }),
        Match.objectLike({
          Id: "errors",
          MetricStat: Match.objectLike({ Metric: { Namespace: "CodexOpenAIProxy", MetricName: "ServerErrors", Dimensions: [{ Name: "service", Value: "CodexOpenAIProxy" }] } }),
        }),
        Match.objectLike({ Id: "requests", MetricStat: Match.objectLike({ Metric: Match.objectLike({ MetricName: "Requests" }) }) }),
      ]),
      AlarmActions: topic,
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", { MetricName: "Throttles", Namespace: "AWS/Lambda", Threshold: 1, AlarmActions: topic });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "PrimaryUsedPercent",
      Namespace: "CodexOpenAIProxy",
      Statistic: "Maximum",
      Threshold: 85,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: topic,
    });
    template.resourceCountIs("AWS::CloudWatch::Alarm", 4);
  });

  it("has a dashboard of requests, errors, latency, tokens, usage windows and the alarms", () => {
    template.resourceCountIs("AWS::CloudWatch::Dashboard", 1);
    const body = JSON.stringify(Object.values(template.findResources("AWS::CloudWatch::Dashboard"))[0]?.Properties.DashboardBody);
    for (const name of [
      "Requests",
      "ServerErrors",
      "TimeToFirstByte",
      "Duration",
      "InputTokens",
      "OutputTokens",
      "CachedTokens",
      "ReasoningTokens",
      "PrimaryUsedPercent",
      "SecondaryUsedPercent",
      "Throttles",
      "alarm",
    ]) {
      expect(body).toContain(name);
    }
  });

  it("refuses a usage alarm percentage that is not one", () => {
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-bad-"));
    try {
      expect(() => buildApp({ outdir: dir, context: { usageAlarmPercent: "150", "aws:cdk:bundling-stacks": [] } })).toThrow(/usageAlarmPercent must be a percentage from 1 to 100/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a rotation interval Secrets Manager would refuse", () => {
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-bad-"));
    try {
      expect(() => buildApp({ outdir: dir, context: { rotationHours: "2", "aws:cdk:bundling-stacks": [] } })).toThrow(/rotationHours must be a whole number from 4 to 24000/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("sets a log retention", () => {
    template.resourceCountIs("AWS::Logs::LogGroup", 2);
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("outputs the /v1 base URL, both secret names and the two commands", () => {
    const outputs = template.findOutputs("*");
    expect(Object.keys(outputs).sort()).toEqual([
      "AlarmNames",
      "ApiKeysSecretName",
      "BaseUrl",
      "DashboardUrl",
      "GetApiKeyCommand",
      "RotationAlarmTopicArn",
      "SubscribeToAlarmCommand",
      "TokensSecretName",
      "UploadTokensCommand",
    ]);
    expect(JSON.stringify(outputs.BaseUrl?.Value)).toContain('"v1"');
    expect(JSON.stringify(outputs.UploadTokensCommand?.Value)).toContain("npm run tokens:upload -- --secret-id ");
    expect(JSON.stringify(outputs.GetApiKeyCommand?.Value)).toContain("aws secretsmanager get-secret-value --secret-id ");
    expect(JSON.stringify(outputs.DashboardUrl?.Value)).toMatch(/#dashboards:name=",\{"Ref":"Dashboard/);
    template.hasResourceProperties("AWS::CloudWatch::Dashboard", { DashboardName: "CodexOpenAIProxy-proxy" });
  });
});

describe("ProxyStack with several logins (-c logins=alice,bob)", () => {
  let logins: Template;
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-logins-"));
    // no bundling: the functions' code is the same; this is about each login's resources
    const { app, stack } = buildApp({ outdir: dir, context: { logins: "alice,bob", "aws:cdk:bundling-stacks": [] } });
    app.synth();
    logins = Template.fromStack(stack);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives each login a retained secret of its own, beside the default one, each rotated by the rotation function", () => {
    for (const name of ["alice", "bob"]) {
      logins.hasResource("AWS::SecretsManager::Secret", { DeletionPolicy: "Retain", Properties: Match.objectLike({ Name: `CodexOpenAIProxy-login-${name}` }) });
    }
    logins.resourceCountIs("AWS::SecretsManager::Secret", 4); // default, alice, bob, the client keys
    logins.resourceCountIs("AWS::SecretsManager::RotationSchedule", 3);
  });

  it("tells the function where each login is, and lets it read each and ask for its rotation, nothing more", () => {
    logins.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ CODEX_LOGINS: { "Fn::Join": ["", Match.arrayWith([Match.stringLikeRegexp("^alice=")])] } }) },
    });
    const rotate = Object.values(logins.findResources("AWS::IAM::Policy")).flatMap((p) =>
      (p as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement.filter(
        (s) => s.Action === "secretsmanager:RotateSecret",
      ),
    );
    expect(rotate).toHaveLength(1);
    expect((rotate[0]?.Resource as unknown[]).length).toBe(3);
  });

  it("alarms on each login's usage window, by its metric dimension, and prints each login's upload command", () => {
    for (const name of ["alice", "bob"]) {
      logins.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: "PrimaryUsedPercent",
        Dimensions: Match.arrayWith([{ Name: "login", Value: name }]),
      });
      expect(JSON.stringify(logins.findOutputs(`UploadLoginCommand${name}`))).toContain(`npm run tokens:upload -- --login ${name} --stack CodexOpenAIProxy`);
    }
  });

  it("names a dead login in an alarm of its own, from the rotation function's log line", () => {
    for (const name of ["default", "alice", "bob"]) {
      logins.hasResourceProperties("AWS::CloudWatch::Alarm", {
        AlarmDescription: Match.stringLikeRegexp(`^The login '${name}' can no longer be refreshed`),
        MetricName: `DeadLogin-${name}`,
      });
    }
    const filters = Object.values(logins.findResources("AWS::Logs::MetricFilter")).map((f) => JSON.stringify(f));
    expect(filters).toHaveLength(3);
    for (const f of filters) expect(f).toMatch(/rotation_failed.*permanent IS TRUE.*secret_id/);
  });

  it("refuses a login name that is none", () => {
    const bad = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-bad-"));
    try {
      expect(() => buildApp({ outdir: bad, context: { logins: "alice,Bad Name", "aws:cdk:bundling-stacks": [] } })).toThrow(/logins: 'Bad Name' is no login name/);
      expect(() => buildApp({ outdir: bad, context: { logins: "alice,alice", "aws:cdk:bundling-stacks": [] } })).toThrow(/named twice/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
