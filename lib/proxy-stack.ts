/**
 * The deployed proxy: one streaming Lambda behind a public Function URL (the proxy checks its own
 * API keys), the Codex login and the client keys in Secrets Manager, least-privilege IAM.
 */
import { CfnOutput, Duration, RemovalPolicy, SecretValue, Stack, Validations, type StackProps } from "aws-cdk-lib";
import { Effect, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, FunctionUrlAuthType, InvokeMode, Runtime } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { fileURLToPath } from "node:url";

export interface ProxyStackProps extends StackProps {
  /** ALLOWED_MODELS for the function; default: the account's live catalog */
  allowedModels?: string[];
  /** MB; default 256 (the function mostly waits on the network) */
  memorySize?: number;
  /** caps concurrent executions (and so cost); default: no cap */
  reservedConcurrency?: number;
  /** CODEX_CLIENT_VERSION for the function */
  codexClientVersion?: string;
  /** UPSTREAM_PROXY_URL: an HTTP(S) egress proxy for networks the backend's firewall challenges */
  upstreamProxyUrl?: string;
  logRetention?: RetentionDays;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export class ProxyStack extends Stack {
  readonly fn: NodejsFunction;
  readonly tokensSecret: Secret;
  readonly apiKeysSecret: Secret;

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

    const logGroup = new LogGroup(this, "ProxyLogs", { retention: props.logRetention ?? RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const role = new Role(this, "ProxyRole", { assumedBy: new ServicePrincipal("lambda.amazonaws.com"), description: "codex-openai-proxy function" });
    role.addToPolicy(new PolicyStatement({ effect: Effect.ALLOW, actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [logGroup.logGroupArn] }));

    const environment: Record<string, string> = {
      CODEX_SECRET_ID: this.tokensSecret.secretArn,
      API_KEYS_SECRET_ID: this.apiKeysSecret.secretArn,
      NODE_OPTIONS: "--enable-source-maps",
      LOG_LEVEL: "info",
    };
    if (props.allowedModels?.length) environment.ALLOWED_MODELS = props.allowedModels.join(",");
    if (props.codexClientVersion) environment.CODEX_CLIENT_VERSION = props.codexClientVersion;
    if (props.upstreamProxyUrl) environment.UPSTREAM_PROXY_URL = props.upstreamProxyUrl;

    this.fn = new NodejsFunction(this, "Proxy", {
      entry: `${ROOT}lambda/handler.ts`,
      handler: "handler",
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: Duration.minutes(15),
      role,
      logGroup,
      environment,
      description: "OpenAI Chat Completions proxy to the ChatGPT Codex backend",
      ...(props.reservedConcurrency === undefined ? {} : { reservedConcurrentExecutions: props.reservedConcurrency }),
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
      },
    });
    this.tokensSecret.grantRead(this.fn);
    this.apiKeysSecret.grantRead(this.fn);

    const url = this.fn.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.RESPONSE_STREAM });

    Validations.of(this.apiKeysSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason: "Client API keys are rotated by the owner, without downtime, by adding a key to the {\"keys\": [...]} list and removing the old one later.",
    });
    Validations.of(this.tokensSecret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason: "The Codex login is refreshed by the proxy from its refresh token; Secrets Manager rotation is not used for this secret yet.",
    });

    const region = Stack.of(this).region;
    new CfnOutput(this, "BaseUrl", { value: `${url.url}v1`, description: "Base URL for clients (CLINE: OpenAI Compatible, Base URL)" });
    new CfnOutput(this, "TokensSecretName", { value: this.tokensSecret.secretName });
    new CfnOutput(this, "ApiKeysSecretName", { value: this.apiKeysSecret.secretName });
    new CfnOutput(this, "UploadTokensCommand", {
      value: `npm run tokens:upload -- --secret-id ${this.tokensSecret.secretName} --region ${region}`,
      description: "Uploads ~/.codex-proxy/auth.json (or --auth-path) as the proxy's Codex login",
    });
    new CfnOutput(this, "GetApiKeyCommand", {
      value: `aws secretsmanager get-secret-value --secret-id ${this.apiKeysSecret.secretName} --region ${region} --query SecretString --output text`,
      description: "Prints the proxy's client API key(s)",
    });
  }
}
