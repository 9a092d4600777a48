/**
 * What the Lambda bundles get for `@aws-sdk/credential-provider-node`, through an esbuild alias
 * (lib/proxy-stack.ts). Inside Lambda the execution role's credentials are always in the environment,
 * the first place the SDK's default chain looks. The chain's other sources (shared config files, SSO,
 * web identity, container and instance metadata) each bring their own nested STS or SSO client: a
 * third of the proxy bundle, compiled on every cold start and never used there.
 */
import { fromEnv } from "@aws-sdk/credential-provider-env";

export const defaultProvider = fromEnv;
