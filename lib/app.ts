/** Builds the CDK app from context (`-c key=value` or cdk.json), with the cdk-nag AwsSolutions checks. */
import { App, Validations, type AppProps } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ProxyStack, type ProxyStackProps } from "./proxy-stack.js";

export function buildApp(props: AppProps = {}): { app: App; stack: ProxyStack } {
  const app = new App(props);
  const ctx = (key: string): string | undefined => {
    const value: unknown = app.node.tryGetContext(key);
    return value === undefined || value === null || value === "" ? undefined : String(value);
  };
  const number = (key: string): number | undefined => {
    const text = ctx(key);
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`context ${key} must be a whole number; got '${text}'`);
    return n;
  };
  const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
  const stackProps: ProxyStackProps = {
    description: "codex-openai-proxy: OpenAI-compatible endpoint for a ChatGPT subscription",
    ...(account && region ? { env: { account, region } } : {}),
  };
  const models = ctx("allowedModels");
  if (models) stackProps.allowedModels = models.split(",").map((m) => m.trim()).filter(Boolean);
  const memory = number("memorySize");
  if (memory !== undefined) stackProps.memorySize = memory;
  const reserved = number("reservedConcurrency");
  if (reserved !== undefined) stackProps.reservedConcurrency = reserved;
  const version = ctx("codexClientVersion");
  if (version) stackProps.codexClientVersion = version;
  const rotationHours = number("rotationHours");
  if (rotationHours !== undefined) stackProps.rotationHours = rotationHours;
  const usageAlarmPercent = number("usageAlarmPercent");
  if (usageAlarmPercent !== undefined) stackProps.usageAlarmPercent = usageAlarmPercent;
  const egress = ctx("upstreamProxyUrl");
  if (egress) stackProps.upstreamProxyUrl = egress;

  const stack = new ProxyStack(app, ctx("stackName") ?? "CodexOpenAIProxy", stackProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
