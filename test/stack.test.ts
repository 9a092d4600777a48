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
  const { app, stack } = buildApp({ outdir, context: { allowedModels: "gpt-5.5,gpt-5.4", reservedConcurrency: "5" } });
  app.synth(); // runs the cdk-nag AwsSolutions checks: any unacknowledged finding throws
  template = Template.fromStack(stack);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("ProxyStack", () => {
  it("exposes a public streaming Function URL with both invoke permissions", () => {
    template.hasResourceProperties("AWS::Lambda::Url", { AuthType: "NONE", InvokeMode: "RESPONSE_STREAM" });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunctionUrl", Principal: "*", FunctionUrlAuthType: "NONE" });
    template.hasResourceProperties("AWS::Lambda::Permission", { Action: "lambda:InvokeFunction", Principal: "*", InvokedViaFunctionUrl: true });
    template.resourceCountIs("AWS::Lambda::Permission", 2);
  });

  it("runs the ESM bundle on Node 24, arm64, 256 MB, 15 minutes, with its environment", () => {
    template.hasResourceProperties("AWS::Lambda::Function", {
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

  it("grants read on exactly the two secrets, and logs on its own log group, nothing broader", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statements = Object.values(policies).flatMap((p) => (p.Properties.PolicyDocument as { Statement: { Action: string[]; Resource: unknown }[] }).Statement);
    expect(statements).toEqual([
      { Action: ["logs:CreateLogStream", "logs:PutLogEvents"], Effect: "Allow", Resource: { "Fn::GetAtt": [expect.stringMatching(/^ProxyLogs/), "Arn"] } },
      { Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Effect: "Allow", Resource: { Ref: expect.stringMatching(/^CodexTokens/) } },
      { Action: ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], Effect: "Allow", Resource: { Ref: expect.stringMatching(/^ApiKeys/) } },
    ]);
    expect(JSON.stringify(statements)).not.toContain('"*"');
    template.resourceCountIs("AWS::IAM::ManagedPolicy", 0);
    const roles = template.findResources("AWS::IAM::Role");
    for (const role of Object.values(roles)) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it("sets a log retention", () => {
    template.hasResourceProperties("AWS::Logs::LogGroup", { RetentionInDays: 30 });
  });

  it("outputs the /v1 base URL, both secret names and the two commands", () => {
    const outputs = template.findOutputs("*");
    expect(Object.keys(outputs).sort()).toEqual(["ApiKeysSecretName", "BaseUrl", "GetApiKeyCommand", "TokensSecretName", "UploadTokensCommand"]);
    expect(JSON.stringify(outputs.BaseUrl?.Value)).toContain('"v1"');
    expect(JSON.stringify(outputs.UploadTokensCommand?.Value)).toContain("npm run tokens:upload -- --secret-id ");
    expect(JSON.stringify(outputs.GetApiKeyCommand?.Value)).toContain("aws secretsmanager get-secret-value --secret-id ");
  });
});
