/** Finds the proxy function's bundled code in a synthesized cloud assembly (cdk.out or a temp dir). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** `functionId` is the construct id in the stack: "Proxy" (the proxy) or "Rotation". */
export function bundleDirIn(assemblyDir: string, stackName: string, functionId = "Proxy"): string {
  const templatePath = join(assemblyDir, `${stackName}.template.json`);
  if (!existsSync(templatePath)) throw new Error(`${templatePath} not found: run \`npx cdk synth\` first`);
  const template = JSON.parse(readFileSync(templatePath, "utf8")) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
  };
  const fn = Object.entries(template.Resources).find(([id, r]) => r.Type === "AWS::Lambda::Function" && new RegExp(`^${functionId}[0-9A-F]{8}$`).test(id))?.[1];
  const assetPath = fn?.Metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string") throw new Error(`no bundled function ${functionId} in ${templatePath}`);
  return join(assemblyDir, assetPath);
}
