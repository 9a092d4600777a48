/**
 * What 1,000 streamed 30-second answers cost on the deployed stack (ARM64, the memory the stack
 * sets), from the measured figures and AWS list prices for us-east-1 as stated here. A Lambda bills
 * wall time, so a stream costs its duration whatever the proxy does; the proxy's CPU matters in
 * that it must fit in the slice of a vCPU the memory size buys, or it stretches the stream.
 */
import type { LambdaFigures } from "./lambda.js";
import type { Cell } from "./run.js";

export const PRICES = {
  source: "aws.amazon.com/lambda/pricing and /cloudwatch/pricing, us-east-1, list prices as of 2026-11",
  arm64_usd_per_gb_second: 0.0000133334,
  usd_per_million_requests: 0.2,
  /** Function URLs cost nothing extra; streamed bytes past 6 MB per response would be $0.008/GB */
  cloudwatch_logs_usd_per_gb: 0.5,
};
const MEMORY_MB = 256;
/** Lambda gives a function one full vCPU at 1,769 MB and a proportional share below. */
const VCPU_AT_MB = 1769;
const ANSWER_S = 30;
/** one JSON log line and three EMF records per request */
const LOG_BYTES_PER_REQUEST = 2500;

export function measureCost(longC1: Record<string, Cell>, lambda: LambdaFigures): Record<string, unknown> {
  const direct = longC1.direct!;
  const proxied = ["chat", "responses", "messages"].map((n) => longC1[n]!);
  // What the proxy adds to a stream's duration does not grow with the answer's length: the pacing is the backend's.
  const addedS = Math.max(0, ...proxied.map((c) => c.total_p50_ms - direct.total_p50_ms)) / 1000;
  const cpuShare = MEMORY_MB / VCPU_AT_MB;
  const cpuMs = Math.max(...proxied.map((c) => c.cpu_ms_per_answer));
  const cpuAtMemoryS = cpuMs / 1000 / cpuShare;
  const billedS = Math.max(ANSWER_S + addedS, cpuAtMemoryS);
  const compute = 1000 * billedS * (MEMORY_MB / 1024) * PRICES.arm64_usd_per_gb_second;
  const requests = (1000 / 1e6) * PRICES.usd_per_million_requests;
  const logs = ((1000 * LOG_BYTES_PER_REQUEST) / 1e9) * PRICES.cloudwatch_logs_usd_per_gb;
  return {
    prices: PRICES,
    assumptions: {
      memory_mb: MEMORY_MB,
      answer_seconds: ANSWER_S,
      deltas_per_answer: "as the long answer (1,815, about 60 per second over 30 s)",
      vcpu_share: Math.round(cpuShare * 1000) / 1000,
      cold_starts: "billed separately below: Lambda bills the init phase (since August 2025)",
    },
    proxy_cpu_ms_per_answer_here: cpuMs,
    proxy_cpu_s_per_answer_at_memory_size: Math.round(cpuAtMemoryS * 100) / 100,
    billed_seconds_per_answer: Math.round(billedS * 100) / 100,
    usd_per_1000_answers: {
      compute: round(compute),
      requests: round(requests),
      logs: round(logs),
      total: round(compute + requests + logs),
    },
    /** at the init measured here under the runtime client, on a full core; slower at 256 MB */
    usd_per_1000_cold_starts: round(1000 * ((lambda.ric_init_ms ?? 0) / 1000) * (MEMORY_MB / 1024) * PRICES.arm64_usd_per_gb_second),
    bundle_kb: lambda.bundle_kb,
  };
}

const round = (n: number) => Math.round(n * 10000) / 10000;
