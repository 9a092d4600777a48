/**
 * One table owns the settings (lambda/settings.ts): the README's tables, `npm start -- --help`, the
 * variables `npm run dev:lambda` hands the function and the deployed function's environment all
 * follow it. Before it, dev:lambda silently dropped ANTHROPIC_MODEL_MAP, CORS_ORIGINS and
 * UPSTREAM_MAX_CONNECTIONS, and a deployment could not set them at all.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { buildApp } from "../lib/app.js";
import { SETTINGS } from "../lambda/settings.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const DEPLOY = readFileSync(join(ROOT, "docs/deploy.md"), "utf8");

/** The first column of the markdown table that follows a heading, as code spans. */
function tableKeys(heading: string, stopAt: string): string[] {
  const start = README.indexOf(heading);
  const section = README.slice(start, README.indexOf(stopAt, start + heading.length));
  return section
    .split("\n")
    .filter((line) => line.startsWith("| `"))
    .flatMap((line) => [...(line.split("|")[1] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1] as string));
}

describe("the settings table", () => {
  it("the README's Configuration table lists exactly the settings, each with its flag", () => {
    const listed = tableKeys("## Configuration", "\n## ");
    expect(listed.filter((k) => /^[A-Z_]+$/.test(k)).sort()).toEqual(SETTINGS.map((s) => s.env).sort());
    for (const s of SETTINGS.filter((x) => x.flag)) expect(listed).toContain(s.flag);
  });

  it("docs/deploy.md's context table lists every setting a deployment can set", () => {
    for (const s of SETTINGS.filter((x) => x.context)) expect(DEPLOY).toContain(`| \`${s.context}\` |`);
  });

  it("npm start -- --help lists every setting npm start reads", () => {
    const help = spawnSync(process.execPath, ["--import", "tsx", "lambda/local.ts", "--help"], { cwd: ROOT, encoding: "utf8" });
    expect(help.status).toBe(0);
    for (const s of SETTINGS) expect(help.stdout).toContain(s.env);
    for (const s of SETTINGS.filter((x) => x.flag)) expect(help.stdout).toContain(s.flag);
  });

  it("dev:lambda hands the function every setting it takes (its help names them)", () => {
    const help = spawnSync(process.execPath, ["--import", "tsx", "bin/dev-lambda.ts", "--help"], { cwd: ROOT, encoding: "utf8" });
    for (const s of SETTINGS.filter((x) => x.where === "both")) expect(help.stdout + help.stderr).toContain(s.env);
  });

  it("a deployment sets the function's settings from context, checked at synth as the function checks them", () => {
    const dir = mkdtempSync(join(tmpdir(), "codex-proxy-cdk-settings-"));
    try {
      const context = {
        anthropicModelMap: "opus=gpt-5.5,*=gpt-5.4",
        corsOrigins: "http://localhost:3000",
        upstreamMaxConnections: "8",
        logLevel: "debug",
        "aws:cdk:bundling-stacks": [],
      };
      const { app, stack } = buildApp({ outdir: dir, context });
      app.synth({ validateOnSynthesis: false });
      const fn = Object.values(Template.fromStack(stack).findResources("AWS::Lambda::Function")).find(
        (r) => (r as { Properties: { Handler?: string; Environment?: unknown } }).Properties.Environment && JSON.stringify(r).includes("API_KEYS_SECRET_ID"),
      ) as {
        Properties: { Environment: { Variables: Record<string, unknown> } };
      };
      expect(fn.Properties.Environment.Variables).toMatchObject({
        ANTHROPIC_MODEL_MAP: "opus=gpt-5.5,*=gpt-5.4",
        CORS_ORIGINS: "http://localhost:3000",
        UPSTREAM_MAX_CONNECTIONS: "8",
        LOG_LEVEL: "debug",
      });
      expect(() => buildApp({ outdir: dir, context: { corsOrigins: "*", "aws:cdk:bundling-stacks": [] } })).toThrow(/CORS_ORIGINS lists web origins/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
