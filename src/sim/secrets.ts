// The secret the demo plants (the carp pass in both hosts' hostname.carp203): the checks read those
// files, and it must never appear in anything the demo prints. Its own module, so the demo's test
// can hold the output against it without loading the rest of the demo.
export const DEMO_CARP_PASS = "d3mo-Carp-s3cret";
