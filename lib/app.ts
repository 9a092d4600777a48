/** Builds the CDK app from context (`-c key=value` or cdk.json), with the cdk-nag AwsSolutions checks. */
import { App, Validations, type AppProps } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { functionSettings } from "../lambda/settings.js";
import { SUMMARY } from "../lambda/version.js";
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
    description: `codex-openai-proxy: ${SUMMARY}`,
    ...(account && region ? { env: { account, region } } : {}),
  };
  // The function's settings (lambda/settings.ts): each from its context key, checked as the function will.
  const settings: Record<string, string> = {};
  for (const [env, key] of functionSettings()) {
    const value = ctx(key);
    if (value !== undefined) settings[env] = value;
  }
  stackProps.settings = settings;
  const memory = number("memorySize");
  if (memory !== undefined) stackProps.memorySize = memory;
  const reserved = number("reservedConcurrency");
  if (reserved !== undefined) stackProps.reservedConcurrency = reserved;
  const rotationHours = number("rotationHours");
  if (rotationHours !== undefined) stackProps.rotationHours = rotationHours;
  const usageAlarmPercent = number("usageAlarmPercent");
  if (usageAlarmPercent !== undefined) stackProps.usageAlarmPercent = usageAlarmPercent;

  // More logins beside the default: `-c logins=alice,bob`.
  const logins = ctx("logins");
  if (logins !== undefined) stackProps.logins = logins.split(",").map((name) => name.trim());

  const stack = new ProxyStack(app, ctx("stackName") ?? "CodexOpenAIProxy", stackProps);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
