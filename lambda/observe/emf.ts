/**
 * Lambda's per-request metrics: CloudWatch Embedded Metric Format records written to the function's
 * log, through Powertools. A record per dimension set: the service alone (what the stack's alarms
 * watch), the service by dialect and model (latency and tokens), the service by login (only with
 * several logins: its requests and usage windows), and the service by error code (only when the
 * request failed). Locally the same facts stay in the request log line.
 */
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { LogFields } from "../log.js";
import { METRICS_NAMESPACE } from "./namespace.js";

export function requestMetrics(metrics = new Metrics({ namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? METRICS_NAMESPACE })): (fields: LogFields) => void {
  return (fields) => {
    const status = num(fields.error_status) ?? num(fields.status) ?? 0;

    metrics.addMetric("Requests", MetricUnit.Count, 1);
    metrics.addMetric("ServerErrors", MetricUnit.Count, status >= 500 ? 1 : 0);
    metrics.addMetric("ClientErrors", MetricUnit.Count, status >= 400 && status < 500 ? 1 : 0);
    addIf(metrics, "PrimaryUsedPercent", MetricUnit.Percent, fields.primary_used_percent);
    addIf(metrics, "SecondaryUsedPercent", MetricUnit.Percent, fields.secondary_used_percent);
    metrics.publishStoredMetrics();

    if (typeof fields.dialect === "string" && typeof fields.model === "string") {
      metrics.addDimensions({ dialect: fields.dialect, model: fields.model });
      metrics.addMetric("Requests", MetricUnit.Count, 1);
      addIf(metrics, "TimeToFirstByte", MetricUnit.Milliseconds, fields.ttfb_ms);
      addIf(metrics, "Duration", MetricUnit.Milliseconds, fields.ms);
      addIf(metrics, "InputTokens", MetricUnit.Count, fields.input_tokens);
      addIf(metrics, "OutputTokens", MetricUnit.Count, fields.output_tokens);
      addIf(metrics, "CachedTokens", MetricUnit.Count, fields.cached_tokens);
      addIf(metrics, "ReasoningTokens", MetricUnit.Count, fields.reasoning_tokens);
      addIf(metrics, "WebSearches", MetricUnit.Count, fields.web_searches);
      metrics.publishStoredMetrics();
    }

    // With several logins: each login's requests and usage windows (the stack alarms on each one's).
    if (typeof fields.login === "string") {
      metrics.addDimension("login", fields.login);
      metrics.addMetric("Requests", MetricUnit.Count, 1);
      addIf(metrics, "PrimaryUsedPercent", MetricUnit.Percent, fields.primary_used_percent);
      addIf(metrics, "SecondaryUsedPercent", MetricUnit.Percent, fields.secondary_used_percent);
      metrics.publishStoredMetrics();
    }

    if (typeof fields.error_code === "string") {
      metrics.addDimension("code", fields.error_code);
      metrics.addMetric("Errors", MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    }
  };
}

function num(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function addIf(metrics: Metrics, name: string, unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: unknown): void {
  const n = num(value);
  if (n !== undefined) metrics.addMetric(name, unit, n);
}
