/** Finds the proxy function's bundled code in a synthesized cloud assembly (cdk.out or a temp dir). */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export function bundleDirIn(assemblyDir: string, stackName: string): string {
  const templatePath = join(assemblyDir, `${stackName}.template.json`);
  if (!existsSync(templatePath)) throw new Error(`${templatePath} not found: run \`npx cdk synth\` first`);
  const template = JSON.parse(readFileSync(templatePath, "utf8")) as {
    Resources: Record<string, { Type: string; Metadata?: Record<string, unknown>; Properties?: { Handler?: string } }>;
  };
  const fn = Object.values(template.Resources).find((r) => r.Type === "AWS::Lambda::Function" && r.Properties?.Handler === "index.handler");
  const assetPath = fn?.Metadata?.["aws:asset:path"];
  if (typeof assetPath !== "string") throw new Error(`no bundled proxy function in ${templatePath}`);
  return join(assemblyDir, assetPath);
}
