/** The CloudWatch namespace of the proxy's request metrics: the stack's alarms and the function agree on it. */
export const METRICS_NAMESPACE = "CodexOpenAIProxy";
