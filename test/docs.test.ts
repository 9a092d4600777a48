/**
 * The docs stand on their own: every relative link and anchor in the README, CONTRIBUTING and docs/
 * points somewhere, every path a code comment cites exists in the repository, and the project is
 * described in the same words everywhere.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DIALECTS } from "../lambda/version.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DOCS = ["README.md", "CONTRIBUTING.md", "test/fixtures/upstream/README.md", ...readdirSync(join(ROOT, "docs")).map((f) => `docs/${f}`)];

/** GitHub's anchor for a heading. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[`*_]/g, "")
    .replace(/[^\p{L}\p{N} -]/gu, "")
    .replace(/ /g, "-");

function anchors(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] as string)));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory()) return e.name === "fixtures" ? [] : sourceFiles(path);
    return /\.(ts|mts|mjs)$/.test(e.name) ? [path] : [];
  });
}

describe("links and anchors", () => {
  it.each(DOCS)("%s: every relative link and anchor resolves", (file) => {
    const text = readFileSync(join(ROOT, file), "utf8").replace(/```[\s\S]*?```/g, "");
    const broken: string[] = [];
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target as string)) continue; // http(s):, mailto:
      const [path, anchor] = (target as string).split("#") as [string, string | undefined];
      const resolved = path === "" ? file : relative(ROOT, join(ROOT, dirname(file), path));
      if (!existsSync(join(ROOT, resolved))) broken.push(`${target} (no file ${resolved})`);
      else if (anchor && resolved.endsWith(".md") && !anchors(resolved).has(anchor)) broken.push(`${target} (no heading #${anchor} in ${resolved})`);
    }
    expect(broken).toEqual([]);
  });

  it("nothing cites the team's folder outside the repository", () => {
    for (const file of [...DOCS, ...sourceFiles("lambda"), ...sourceFiles("lib"), ...sourceFiles("bin"), ...sourceFiles("test")]) {
      expect(readFileSync(join(ROOT, file), "utf8"), file).not.toMatch(/\.\.\/shared\/|shared\/reference|shared\/fixtures/);
    }
  });
});

describe("paths cited in code comments exist", () => {
  const files = [...sourceFiles("lambda"), ...sourceFiles("lib"), ...sourceFiles("bin"), ...sourceFiles("test")];
  it.each(files)("%s", (file) => {
    const comments = [...readFileSync(join(ROOT, file), "utf8").matchAll(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g)].map((m) => m[0]).join("\n");
    const cited = [...comments.matchAll(/\b((?:docs|lambda|lib|bin|test)\/[\w./-]*\w\.(?:md|ts|mts|mjs|json|jsonl|sse|txt)|README\.md|CONTRIBUTING\.md)\b/g)].map(
      (m) => m[1] as string,
    );
    const missing = cited.filter((path) => !existsSync(join(ROOT, path)) && !existsSync(join(ROOT, dirname(file), path)));
    expect(missing).toEqual([]);
  });
});

describe("the same words everywhere", () => {
  it("the README's first lines and package.json's description name the three dialects", () => {
    const head = readFileSync(join(ROOT, "README.md"), "utf8").split("\n").slice(0, 15).join(" ");
    const description = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { description: string }).description;
    for (const dialect of DIALECTS) {
      expect(head.replace(/\*\*/g, "")).toContain(dialect);
      expect(description).toContain(dialect);
    }
  });

  it("the README fits on a few screens; depth lives in docs/", () => {
    expect(readFileSync(join(ROOT, "README.md"), "utf8").split("\n").length).toBeLessThanOrEqual(250);
  });
});
