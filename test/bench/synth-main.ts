/**
 * `cdk synth` as a program of its own, for the bench: synthesizing in the bench's process left V8
 * optimizing the CDK's code on its helper threads for seconds afterwards (perf), on the same two
 * cores as the cold starts the bench then times. Prints the folders synthBundle returns, as JSON.
 */
import { synthBundle } from "../support/lambda.js";

process.stdout.write(`${JSON.stringify(synthBundle())}\n`);
