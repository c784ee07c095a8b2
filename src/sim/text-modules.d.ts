// Files bundled as strings by esbuild's text loader (build.mjs): the demo's shell scripts and the
// real OpenBSD captures (captures/) that its simulated gateways print.
declare module "*.sh" {
  const text: string;
  export default text;
}
declare module "*.txt" {
  const text: string;
  export default text;
}
