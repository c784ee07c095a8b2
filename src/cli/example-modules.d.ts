// The monitrc examples, bundled as strings by esbuild's text loader (build.mjs): carpentry init writes
// a gateway's monitrc from its role's example.
declare module "*.example" {
  const text: string;
  export default text;
}
