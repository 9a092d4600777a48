/** Kept equal to package.json's version by test/version.test.ts; a constant bundles without JSON imports. */
export const VERSION = "0.1.0";
