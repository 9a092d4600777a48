/**
 * A loopback Secrets Manager speaking the real JSON 1.1 protocol (`POST /`, `X-Amz-Target:
 * secretsmanager.<Operation>`) to the real AWS SDK: versions with staging labels, idempotent
 * ClientRequestTokens, the service's error shapes, and injectable failures.
 */
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

interface Version {
  id: string;
  /** undefined for the version a rotation starts with, until createSecret puts its value */
  text: string | undefined;
  stages: Set<string>;
  created: number;
}

interface Secret {
  name: string;
  arn: string;
  versions: Map<string, Version>;
  rotationEnabled: boolean;
  rotationLambdaArn?: string;
  rotationRules?: unknown;
  /** when the service would rotate it next, and last did (as DescribeSecret gives them: epoch seconds) */
  nextRotationDate?: number;
  lastRotatedDate?: number;
  tags: Map<string, string>;
}

export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export type Operation = "GetSecretValue" | "PutSecretValue" | "DescribeSecret" | "UpdateSecretVersionStage" | "RotateSecret" | "TagResource";
type Body = Record<string, unknown>;

export class FakeSecretsManager {
  readonly secrets = new Map<string, Secret>();
  readonly calls: { op: string; body: Body }[] = [];
  private readonly failures: { op: string; error: AwsError }[] = [];
  private readonly server: Server;
  /** called by RotateSecret, as Secrets Manager invokes the rotation function */
  onRotate: ((secretId: string, token: string) => Promise<void>) | undefined;
  /** the service runs one rotation of a secret at a time */
  private rotating = Promise.resolve();
  /** settles when every rotation started so far has run */
  get rotationsSettled(): Promise<void> {
    return this.rotating;
  }
  url = "";
  /** GetSecretValue of these secrets answers this many ms late (a slow key check) */
  readonly slow = new Map<string, number>();

  constructor() {
    this.server = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const target = String(req.headers["x-amz-target"] ?? "");
      const op = target.replace(/^secretsmanager\./, "");
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Body;
      this.calls.push({ op, body });
      try {
        const failure = this.failures.findIndex((f) => f.op === op || f.op === "*");
        if (failure >= 0) throw this.failures.splice(failure, 1)[0]?.error;
        const late = op === "GetSecretValue" ? this.slow.get(String(body.SecretId)) : undefined;
        if (late) await new Promise((resolve) => setTimeout(resolve, late).unref());
        const out = await this.dispatch(op, body);
        res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify(out));
      } catch (err) {
        const e = err instanceof AwsError ? err : new AwsError("InternalServiceError", String(err), 500);
        res.writeHead(e.status, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ __type: e.type, message: e.message }));
      }
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Environment for a process (or the SDK default chain) to use this endpoint. */
  get env(): Record<string, string> {
    return { AWS_ENDPOINT_URL_SECRETS_MANAGER: this.url, AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "AKIDTEST", AWS_SECRET_ACCESS_KEY: "test-secret" };
  }

  get clientConfig() {
    return { endpoint: this.url, region: "us-east-1", credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "test-secret" } };
  }

  create(name: string, text: string): Secret {
    const secret: Secret = { name, arn: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`, versions: new Map(), rotationEnabled: false, tags: new Map() };
    const id = randomUUID();
    secret.versions.set(id, { id, text, stages: new Set(["AWSCURRENT"]), created: Date.now() });
    this.secrets.set(name, secret);
    return secret;
  }

  /** Stores a new AWSCURRENT version, as `put-secret-value` does. */
  putCurrent(name: string, text: string): void {
    this.put({ SecretId: name, SecretString: text });
  }

  /** The next call of `op` ("*" for any) fails with this error. */
  failNext(op: Operation | "*", type: string, status = 400, message = `${type} (injected)`): this {
    this.failures.push({ op, error: new AwsError(type, message, status) });
    return this;
  }

  count(op: Operation): number {
    return this.calls.filter((c) => c.op === op).length;
  }

  current(name: string): string | undefined {
    return this.byStage(this.find(name), "AWSCURRENT")?.text;
  }

  find(id: unknown): Secret {
    const secret = [...this.secrets.values()].find((s) => s.name === id || s.arn === id);
    if (!secret) throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.");
    return secret;
  }

  byStage(secret: Secret, stage: string): Version | undefined {
    return [...secret.versions.values()].find((v) => v.stages.has(stage));
  }

  private async dispatch(op: string, body: Body): Promise<unknown> {
    switch (op) {
      case "GetSecretValue":
        return this.get(body);
      case "PutSecretValue":
        return this.put(body);
      case "DescribeSecret": {
        const s = this.find(body.SecretId);
        return {
          ARN: s.arn,
          Name: s.name,
          RotationEnabled: s.rotationEnabled,
          RotationLambdaARN: s.rotationLambdaArn,
          RotationRules: s.rotationRules,
          ...(s.nextRotationDate === undefined ? {} : { NextRotationDate: s.nextRotationDate }),
          ...(s.lastRotatedDate === undefined ? {} : { LastRotatedDate: s.lastRotatedDate }),
          VersionIdsToStages: Object.fromEntries([...s.versions.values()].filter((v) => v.stages.size > 0).map((v) => [v.id, [...v.stages]])),
          ...(s.tags.size ? { Tags: [...s.tags].map(([Key, Value]) => ({ Key, Value })) } : {}),
        };
      }
      case "TagResource": {
        const s = this.find(body.SecretId);
        for (const tag of (body.Tags as { Key: string; Value: string }[]) ?? []) s.tags.set(tag.Key, tag.Value);
        return {};
      }
      case "UpdateSecretVersionStage":
        return this.updateStage(body);
      case "RotateSecret":
        return this.rotate(body);
      default:
        throw new AwsError("InvalidRequestException", `operation ${op} is not supported by the fake`);
    }
  }

  private get(body: Body) {
    const s = this.find(body.SecretId);
    const v = typeof body.VersionId === "string" ? s.versions.get(body.VersionId) : this.byStage(s, String(body.VersionStage ?? "AWSCURRENT"));
    if (!v || v.text === undefined || (typeof body.VersionStage === "string" && !v.stages.has(body.VersionStage))) {
      throw new AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label or version id.");
    }
    return { ARN: s.arn, Name: s.name, VersionId: v.id, SecretString: v.text, VersionStages: [...v.stages], CreatedDate: v.created / 1000 };
  }

  private put(body: Body) {
    const s = this.find(body.SecretId);
    const token = String(body.ClientRequestToken ?? randomUUID());
    const text = String(body.SecretString ?? "");
    const existing = s.versions.get(token);
    if (existing?.text === undefined && existing) {
      existing.text = text; // the value of the version a rotation started
      for (const stage of Array.isArray(body.VersionStages) ? (body.VersionStages as string[]) : []) existing.stages.add(stage);
      return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: [...existing.stages] };
    }
    if (existing) {
      if (existing.text !== text) throw new AwsError("ResourceExistsException", "A resource with the ID you requested already exists.");
      return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: [...existing.stages] };
    }
    const stages = Array.isArray(body.VersionStages) ? (body.VersionStages as string[]) : ["AWSCURRENT"];
    for (const stage of stages) this.moveStage(s, stage, token);
    s.versions.set(token, { id: token, text, stages: new Set(stages), created: Date.now() });
    return { ARN: s.arn, Name: s.name, VersionId: token, VersionStages: stages };
  }

  private updateStage(body: Body) {
    const s = this.find(body.SecretId);
    const stage = String(body.VersionStage);
    const remove = body.RemoveFromVersionId as string | undefined;
    const move = body.MoveToVersionId as string | undefined;
    const holder = this.byStage(s, stage);
    if (move && holder && holder.id !== move && holder.id !== remove) {
      throw new AwsError("InvalidParameterException", `The staging label ${stage} is currently attached to version ${holder.id}, RemoveFromVersionId must be specified.`);
    }
    if (remove) {
      const from = s.versions.get(remove);
      from?.stages.delete(stage);
      if (stage === "AWSCURRENT" && move && from) {
        for (const v of s.versions.values()) v.stages.delete("AWSPREVIOUS");
        from.stages.add("AWSPREVIOUS"); // as the service does when AWSCURRENT moves
      }
    }
    if (move) {
      const target = s.versions.get(move);
      if (!target) throw new AwsError("ResourceNotFoundException", "version not found");
      this.moveStage(s, stage, move);
      target.stages.add(stage);
    }
    return { ARN: s.arn, Name: s.name };
  }

  private moveStage(s: Secret, stage: string, to: string): void {
    for (const v of s.versions.values()) {
      if (v.id !== to && v.stages.has(stage)) {
        v.stages.delete(stage);
        if (stage === "AWSCURRENT") {
          for (const other of s.versions.values()) other.stages.delete("AWSPREVIOUS");
          v.stages.add("AWSPREVIOUS");
        }
      }
    }
  }

  private async rotate(body: Body) {
    const s = this.find(body.SecretId);
    if (typeof body.RotationLambdaARN === "string") s.rotationLambdaArn = body.RotationLambdaARN;
    if (body.RotationRules) s.rotationRules = body.RotationRules;
    if (!s.rotationLambdaArn && !this.onRotate) throw new AwsError("InvalidRequestException", "No Lambda rotation function ARN is associated with this secret.");
    const pending = this.byStage(s, "AWSPENDING");
    const current = this.byStage(s, "AWSCURRENT");
    if (pending && pending.id !== current?.id) {
      this.runRotation(s.name, pending.id); // the service retries it with its token
      throw new AwsError("InvalidRequestException", "A previous rotation isn't complete. That rotation will be reattempted.");
    }
    s.rotationEnabled = true;
    const token = String(body.ClientRequestToken ?? randomUUID());
    // As the service does: the new version exists, labelled AWSPENDING, before createSecret runs.
    this.moveStage(s, "AWSPENDING", token);
    s.versions.set(token, { id: token, text: undefined, stages: new Set(["AWSPENDING"]), created: Date.now() });
    // The service answers at once and runs the steps asynchronously.
    this.runRotation(s.name, token);
    return { ARN: s.arn, Name: s.name, VersionId: token };
  }

  private runRotation(name: string, token: string): void {
    const rotate = this.onRotate;
    if (!rotate) return;
    this.rotating = this.rotating.then(() => rotate(name, token)).catch(() => {});
  }
}
