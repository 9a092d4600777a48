/** Types for answer.mjs (plain JavaScript, so the backend process needs no loader). */
export function recordedEvents(path: string): Record<string, unknown>[];
export function answerEvents(events: Record<string, unknown>[], count?: number): Record<string, unknown>[];
export function sseFrame(event: Record<string, unknown>): string;
