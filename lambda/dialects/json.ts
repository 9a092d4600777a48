/** Client JSON as the converters read it: an object is a plain JSON object, never an array or null. */
export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value);
